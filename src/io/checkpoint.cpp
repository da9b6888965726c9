// The checkpoint container.
//
// File layout, all integers little-endian:
//   header (24 bytes)
//     0  8  magic "SLOPECKP"
//     8  4  u32 format version (Checkpoint::kVersion)
//    12  4  u32 CRC-32 of the payload
//    16  8  u64 payload length; the file is exactly 24 + this many bytes
//   payload
//     u32 metadata count, then per entry: u32 key length, key, u32 value length, value
//     u32 array count, then per entry: u32 name length, name, u8 dtype code,
//         u8 rank, rank x u64 dimensions, numel * dtype size element bytes
// Entries appear sorted by name, so equal contents give byte-identical files.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "slope/io.hpp"

namespace slope::io {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'S', 'L', 'O', 'P', 'E', 'C', 'K', 'P'};
constexpr std::size_t kHeaderBytes = 24;

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put_u64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put_str(std::vector<std::uint8_t>& out, const std::string& s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}
std::uint64_t get_le(const std::uint8_t* p, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  return v;
}

// Bounds-checked cursor over the payload. Every failure names the file and
// the payload offset, since the CRC has already passed and the defect must be
// a writer bug or a deliberately crafted file.
class Cursor {
 public:
  Cursor(std::span<const std::uint8_t> p, const std::string& origin) : p_(p), origin_(origin) {}
  [[noreturn]] void fail(const std::string& what) const {
    throw IoError(fmt::format("{}: malformed checkpoint: {} (payload byte {})", origin_, what, pos_));
  }
  std::uint64_t uint(int n, const char* what) {
    if (p_.size() - pos_ < static_cast<std::size_t>(n)) fail(fmt::format("{} runs past the end", what));
    std::uint64_t v = get_le(p_.data() + pos_, n);
    pos_ += static_cast<std::size_t>(n);
    return v;
  }
  std::span<const std::uint8_t> take(std::uint64_t n, const char* what) {
    if (p_.size() - pos_ < n) fail(fmt::format("{} of {} bytes runs past the end", what, n));
    auto s = p_.subspan(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }
  std::string string(std::uint64_t cap, const char* what) {
    std::uint64_t n = uint(4, what);
    if (n > cap) fail(fmt::format("{} of {} bytes is over the cap of {}", what, n, cap));
    auto s = take(n, what);
    return std::string(s.begin(), s.end());
  }
  bool done() const { return pos_ == p_.size(); }

 private:
  std::span<const std::uint8_t> p_;
  const std::string& origin_;
  std::size_t pos_ = 0;
};

// The header checks shared by load() (before the payload is read) and deserialize().
std::uint64_t check_header(const std::uint8_t* h, std::uint64_t file_size, const std::string& origin) {
  if (std::memcmp(h, kMagic, 8) != 0)
    throw IoError(fmt::format("{}: not a slope checkpoint (bad magic)", origin));
  auto version = static_cast<std::uint32_t>(get_le(h + 8, 4));
  if (version != Checkpoint::kVersion)
    throw IoError(fmt::format("{}: checkpoint format version {}, this build reads version {}",
                              origin, version, Checkpoint::kVersion));
  std::uint64_t len = get_le(h + 16, 8);
  if (len > kMaxCheckpointBytes)
    throw IoError(fmt::format("{}: payload length {} is over the cap of {}", origin, len,
                              kMaxCheckpointBytes));
  std::uint64_t have = file_size - kHeaderBytes;
  if (have < len)
    throw IoError(fmt::format("{}: truncated: header promises {} payload bytes, file holds {}",
                              origin, len, have));
  if (have > len)
    throw IoError(fmt::format("{}: {} trailing bytes after the {} payload bytes", origin,
                              have - len, len));
  return len;
}

void check_name(const std::string& name, const char* what) {
  if (name.empty() || name.size() > kMaxNameBytes)
    throw ValueError(fmt::format("Checkpoint: {} must have 1 to {} bytes, got {}", what,
                                 kMaxNameBytes, name.size()));
}

}  // namespace

void Checkpoint::put(const std::string& name, Array array) {
  check_name(name, "array name");
  if (array.shape.size() > kMaxRank)
    throw ValueError(fmt::format("Checkpoint::put: '{}' has rank {}, over the cap of {}", name,
                                 array.shape.size(), kMaxRank));
  if (array.bytes.size() != numel(array.shape) * dtype_size(array.dtype))
    throw ValueError(fmt::format("Checkpoint::put: '{}' has {} bytes for shape {} of {}", name,
                                 array.bytes.size(), to_string(array.shape),
                                 dtype_name(array.dtype)));
  if (array.bytes.size() > kMaxArrayBytes)
    throw ValueError(fmt::format("Checkpoint::put: '{}' is over the cap of {} bytes", name,
                                 kMaxArrayBytes));
  arrays_[name] = std::move(array);
}

void Checkpoint::set_meta(const std::string& key, std::string value) {
  check_name(key, "metadata key");
  if (value.size() > kMaxMetaBytes)
    throw ValueError(fmt::format("Checkpoint::set_meta: '{}' is over the cap of {} bytes", key,
                                 kMaxMetaBytes));
  meta_[key] = std::move(value);
}

const Array& Checkpoint::array(const std::string& name) const {
  auto it = arrays_.find(name);
  if (it == arrays_.end()) throw ValueError(fmt::format("checkpoint: no array '{}'", name));
  return it->second;
}

template <class T>
std::vector<T> Checkpoint::get(const std::string& name, const Shape* shape) const {
  const Array& a = array(name);
  if (a.dtype != dtype_of<T>())
    throw ValueError(fmt::format("checkpoint: array '{}' holds {}, expected {}", name,
                                 dtype_name(a.dtype), dtype_name(dtype_of<T>())));
  if (shape && *shape != a.shape)
    throw ValueError(fmt::format("checkpoint: array '{}' has shape {}, expected {}", name,
                                 to_string(a.shape), to_string(*shape)));
  return a.to_vector<T>();
}

template std::vector<std::uint8_t> Checkpoint::get(const std::string&, const Shape*) const;
template std::vector<std::int32_t> Checkpoint::get(const std::string&, const Shape*) const;
template std::vector<std::int64_t> Checkpoint::get(const std::string&, const Shape*) const;
template std::vector<float> Checkpoint::get(const std::string&, const Shape*) const;
template std::vector<double> Checkpoint::get(const std::string&, const Shape*) const;

const std::string& Checkpoint::meta(const std::string& key) const {
  auto it = meta_.find(key);
  if (it == meta_.end()) throw ValueError(fmt::format("checkpoint: no metadata '{}'", key));
  return it->second;
}

std::vector<std::uint8_t> Checkpoint::serialize() const {
  std::vector<std::uint8_t> out(kHeaderBytes, 0);
  put_u32(out, static_cast<std::uint32_t>(meta_.size()));
  for (const auto& [key, value] : meta_) {
    put_str(out, key);
    put_str(out, value);
  }
  put_u32(out, static_cast<std::uint32_t>(arrays_.size()));
  for (const auto& [name, a] : arrays_) {
    put_str(out, name);
    out.push_back(static_cast<std::uint8_t>(a.dtype));
    out.push_back(static_cast<std::uint8_t>(a.shape.size()));
    for (std::size_t d : a.shape) put_u64(out, d);
    out.insert(out.end(), a.bytes.begin(), a.bytes.end());
  }
  std::uint64_t len = out.size() - kHeaderBytes;
  if (len > kMaxCheckpointBytes || meta_.size() + arrays_.size() > kMaxCheckpointEntries)
    throw ValueError("Checkpoint::serialize: contents are over the checkpoint caps");
  std::vector<std::uint8_t> header;
  header.insert(header.end(), kMagic, kMagic + 8);
  put_u32(header, kVersion);
  put_u32(header, crc32(std::span(out).subspan(kHeaderBytes)));
  put_u64(header, len);
  std::copy(header.begin(), header.end(), out.begin());
  return out;
}

Checkpoint Checkpoint::deserialize(std::span<const std::uint8_t> bytes, const std::string& origin) {
  if (bytes.size() < kHeaderBytes)
    throw IoError(fmt::format("{}: truncated: {} bytes, the checkpoint header needs {}", origin,
                              bytes.size(), kHeaderBytes));
  check_header(bytes.data(), bytes.size(), origin);
  auto payload = bytes.subspan(kHeaderBytes);
  std::uint32_t stored = static_cast<std::uint32_t>(get_le(bytes.data() + 12, 4));
  std::uint32_t actual = crc32(payload);
  if (stored != actual)
    throw IoError(fmt::format("{}: checksum mismatch: header says {:08x}, payload has {:08x}",
                              origin, stored, actual));

  Checkpoint ck;
  Cursor c(payload, origin);
  std::uint64_t n_meta = c.uint(4, "metadata count");
  if (n_meta > kMaxCheckpointEntries)
    c.fail(fmt::format("{} metadata entries, over the cap of {}", n_meta, kMaxCheckpointEntries));
  for (std::uint64_t i = 0; i < n_meta; ++i) {
    std::string key = c.string(kMaxNameBytes, "metadata key");
    if (key.empty()) c.fail("empty metadata key");
    std::string value = c.string(kMaxMetaBytes, "metadata value");
    if (!ck.meta_.emplace(std::move(key), std::move(value)).second) c.fail("repeated metadata key");
  }
  std::uint64_t n_arrays = c.uint(4, "array count");
  if (n_meta + n_arrays > kMaxCheckpointEntries)  // the cap covers both kinds together
    c.fail(fmt::format("{} metadata entries and {} arrays, over the cap of {} entries", n_meta,
                       n_arrays, kMaxCheckpointEntries));
  for (std::uint64_t i = 0; i < n_arrays; ++i) {
    std::string name = c.string(kMaxNameBytes, "array name");
    if (name.empty()) c.fail("empty array name");
    if (ck.arrays_.count(name)) c.fail(fmt::format("repeated array name '{}'", name));
    auto code = c.uint(1, "dtype");
    if (code < 1 || code > 5) c.fail(fmt::format("array '{}' has unknown dtype code {}", name, code));
    Array a;
    a.dtype = static_cast<DType>(code);
    auto rank = c.uint(1, "rank");
    if (rank > kMaxRank) c.fail(fmt::format("array '{}' has rank {}, over the cap of {}", name, rank, kMaxRank));
    std::uint64_t n = dtype_size(a.dtype);
    for (std::uint64_t k = 0; k < rank; ++k) {
      std::uint64_t d = c.uint(8, "dimension");
      if (__builtin_mul_overflow(n, d, &n) || n > kMaxArrayBytes)
        c.fail(fmt::format("array '{}' is over the cap of {} bytes", name, kMaxArrayBytes));
      a.shape.push_back(static_cast<std::size_t>(d));
    }
    auto data = c.take(n, "array data");
    a.bytes.assign(data.begin(), data.end());
    ck.arrays_.emplace(std::move(name), std::move(a));
  }
  if (!c.done()) c.fail("bytes left over after the last array");
  return ck;
}

void Checkpoint::save(const fs::path& path) const { write_file_atomic(path, serialize()); }

Checkpoint Checkpoint::load(const fs::path& path) {
  const std::string origin = path.string();
  // Check the header against the file size before reading (and allocating) the payload.
  // O_NONBLOCK: a FIFO without a writer must be refused, not waited on forever.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw IoError(fmt::format("{}: cannot open: {}", origin, std::strerror(errno)));
  struct stat st {};
  std::uint8_t header[kHeaderBytes];
  bool stat_ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ssize_t got = stat_ok ? ::pread(fd, header, kHeaderBytes, 0) : -1;
  ::close(fd);
  if (!stat_ok) throw IoError(fmt::format("{}: not a regular file", origin));
  if (got != static_cast<ssize_t>(kHeaderBytes))
    throw IoError(fmt::format("{}: truncated: {} bytes, the checkpoint header needs {}", origin,
                              st.st_size, kHeaderBytes));
  check_header(header, static_cast<std::uint64_t>(st.st_size), origin);
  std::vector<std::uint8_t> bytes = read_file(path, kHeaderBytes + kMaxCheckpointBytes);
  return deserialize(bytes, origin);
}

}  // namespace slope::io
