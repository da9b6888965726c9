// Atomic writes, capped whole-file reads, gzip, CRC-32 and typed arrays.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "slope/io.hpp"

namespace slope::io {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail_errno(const fs::path& path, std::string_view what) {
  throw IoError(fmt::format("{}: {}: {}", path.string(), what, std::strerror(errno)));
}

// Writes all of `bytes`, retrying short writes and EINTR.
bool write_all(int fd, const std::uint8_t* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

void write_file_atomic(const fs::path& path, std::span<const std::uint8_t> bytes) {
  // The temp file must live in the target's directory: rename(2) is atomic
  // only within one file system. Its name is unique per process and call, so
  // concurrent writers never share one.
  static std::atomic<unsigned> counter{0};
  fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  fs::path tmp = path;
  tmp += fmt::format(".tmp-{}-{}", ::getpid(), counter++);

  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) fail_errno(path, "cannot create a temporary file beside it");
  bool ok = write_all(fd, bytes.data(), bytes.size());
  // fsync before rename: otherwise the rename may reach the disk before the
  // data and a crash leaves an empty or partial file under the final name.
  ok = ok && ::fsync(fd) == 0;
  int saved = errno;
  ok = (::close(fd) == 0) && ok;
  if (!ok) {
    ::unlink(tmp.c_str());
    errno = saved;
    fail_errno(path, "cannot write");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    fail_errno(path, "cannot rename the temporary file into place");
  }
  // fsync the directory so the rename itself is durable.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

std::vector<std::uint8_t> read_file(const fs::path& path, std::uint64_t max_bytes) {
  // O_NONBLOCK: opening a FIFO without a writer would otherwise block forever
  // before fstat could refuse it; on a regular file the flag changes nothing.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail_errno(path, "cannot open");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError(fmt::format("{}: not a regular file", path.string()));
  }
  auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > max_bytes) {
    ::close(fd);
    throw IoError(fmt::format("{}: file is {} bytes, over the cap of {}", path.string(), size,
                              max_bytes));
  }
  std::vector<std::uint8_t> out(static_cast<std::size_t>(size));
  std::size_t got = 0;
  while (got < out.size()) {
    ssize_t r = ::read(fd, out.data() + got, out.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int saved = errno;
      ::close(fd);
      errno = saved;
      fail_errno(path, "cannot read");
    }
    if (r == 0) break;  // the file shrank under us; the caller's checks see it
    got += static_cast<std::size_t>(r);
  }
  ::close(fd);
  out.resize(got);
  return out;
}

std::vector<std::uint8_t> gzip(std::span<const std::uint8_t> bytes, int level) {
  z_stream zs{};
  // windowBits 15 + 16 selects the gzip wrapper instead of zlib's.
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw IoError("gzip: deflateInit2 failed");
  std::vector<std::uint8_t> out(deflateBound(&zs, static_cast<uLong>(bytes.size())) + 32);
  zs.next_in = const_cast<Bytef*>(bytes.data());
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  std::size_t n = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw IoError("gzip: deflate did not finish");
  out.resize(n);
  return out;
}

std::uint32_t crc32(std::span<const std::uint8_t> bytes) {
  uLong c = ::crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths; feed large buffers in 1 GiB pieces.
  const std::uint8_t* p = bytes.data();
  std::size_t n = bytes.size();
  while (n > 0) {
    auto k = static_cast<uInt>(std::min<std::size_t>(n, std::size_t{1} << 30));
    c = ::crc32(c, p, k);
    p += k;
    n -= k;
  }
  return static_cast<std::uint32_t>(c);
}

// ---- typed arrays -------------------------------------------------------------

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::u8: return 1;
    case DType::i32: return 4;
    case DType::i64: return 8;
    case DType::f32: return 4;
    case DType::f64: return 8;
  }
  throw ValueError("dtype_size: unknown dtype");
}

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::u8: return "u8";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
    case DType::f32: return "f32";
    case DType::f64: return "f64";
  }
  return "unknown";
}

// slope stores little-endian bytes and runs on little-endian hosts (x86-64,
// aarch64), so element bytes are copied as they are.
static_assert(std::endian::native == std::endian::little, "slope assumes a little-endian host");

template <class T>
Array Array::from(std::span<const T> values, Shape shape) {
  if (values.size() != numel(shape))
    throw ValueError(fmt::format("Array::from: {} values for shape {}", values.size(),
                                 to_string(shape)));
  Array a;
  a.dtype = dtype_of<T>();
  a.shape = std::move(shape);
  a.bytes.resize(values.size_bytes());
  if (!values.empty()) std::memcpy(a.bytes.data(), values.data(), values.size_bytes());
  return a;
}

template <class T>
std::vector<T> Array::to_vector() const {
  if (dtype != dtype_of<T>())
    throw ValueError(fmt::format("Array::to_vector: array holds {}, asked for {}",
                                 dtype_name(dtype), dtype_name(dtype_of<T>())));
  std::vector<T> out(bytes.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}

#define SLOPE_IO_ARRAY(T)                                               \
  template Array Array::from<T>(std::span<const T>, Shape);             \
  template std::vector<T> Array::to_vector<T>() const;
SLOPE_IO_ARRAY(std::uint8_t)
SLOPE_IO_ARRAY(std::int32_t)
SLOPE_IO_ARRAY(std::int64_t)
SLOPE_IO_ARRAY(float)
SLOPE_IO_ARRAY(double)
#undef SLOPE_IO_ARRAY

}  // namespace slope::io
