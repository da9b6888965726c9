// Raw or gzip byte streams. Inflating runs only as far as the caller asks, so
// a gzip bomb can never make the reader produce more than the header promised
// plus the one byte that detects trailing data.
#include "byte_source.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "slope/error.hpp"

namespace slope::data::detail {

std::vector<std::uint8_t> big_buffer(std::size_t n) {
  std::vector<std::uint8_t> out;
  out.reserve(n);
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  const auto begin = reinterpret_cast<std::uintptr_t>(out.data());
  const std::uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1), last = (begin + n) & ~(kHuge - 1);
  if (last > first)  // advice only: where THP is off this changes nothing
    madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
  out.resize(n);
  return out;
}

ByteSource::ByteSource(const std::filesystem::path& path) : name_(path.string()) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    fail(std::filesystem::exists(path, ec) ? "not a regular file" : "no such file");
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) fail(fmt::format("cannot open: {}", std::strerror(errno)));
  file_size_ = std::filesystem::file_size(path, ec);
  unsigned char magic[2] = {0, 0};
  std::size_t got = std::fread(magic, 1, 2, file_);
  // RFC 1952: every gzip member starts with ID1 = 0x1f, ID2 = 0x8b.
  gzip_ = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  std::rewind(file_);
  if (gzip_ && inflateInit2(&zs_, 15 + 16) != Z_OK) {  // 15 + 16: gzip wrapper only
    std::fclose(file_);
    file_ = nullptr;
    fail("cannot start the gzip decoder");
  }
}

ByteSource::~ByteSource() {
  if (gzip_) inflateEnd(&zs_);
  if (file_) std::fclose(file_);
}

void ByteSource::fail(const std::string& what) const {
  throw IoError(fmt::format("{}: {}", name_, what));
}

std::size_t ByteSource::read(std::uint8_t* dst, std::size_t n) {
  if (!gzip_) {
    std::size_t got = std::fread(dst, 1, n, file_);
    if (got < n && std::ferror(file_)) fail("read error");
    return got;
  }
  std::size_t done = 0;
  while (done < n && !ended_) {
    if (zs_.avail_in == 0 && !eof_) {
      std::size_t got = std::fread(in_, 1, sizeof in_, file_);
      if (got < sizeof in_) {
        if (std::ferror(file_)) fail("read error");
        eof_ = true;
      }
      zs_.next_in = in_;
      zs_.avail_in = static_cast<uInt>(got);
    }
    if (zs_.avail_in == 0 && eof_) {
      cut_ = true;
      break;
    }
    // zlib counts in uInt; hand it at most 1 GiB of output at a time.
    auto chunk = static_cast<uInt>(std::min<std::size_t>(n - done, std::size_t{1} << 30));
    zs_.next_out = dst + done;
    zs_.avail_out = chunk;
    int rc = inflate(&zs_, Z_NO_FLUSH);
    done += chunk - zs_.avail_out;
    if (rc == Z_STREAM_END) {
      ended_ = true;
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      fail(fmt::format("corrupt gzip data: {}", zs_.msg ? zs_.msg : zError(rc)));
    }
  }
  return done;
}

void ByteSource::expect_end(const std::string& promise) {
  std::uint8_t extra = 0;
  if (read(&extra, 1) != 0) fail(fmt::format("trailing data: {}, but the file holds more", promise));
  if (!gzip_) return;
  if (cut_) fail("truncated: the gzip stream ends before its end marker");
  // Bytes after the gzip member: what inflate has not consumed plus the rest of the file.
  long pos = std::ftell(file_);
  std::uint64_t rest = zs_.avail_in + (pos >= 0 && file_size_ > static_cast<std::uint64_t>(pos)
                                           ? file_size_ - static_cast<std::uint64_t>(pos)
                                           : 0);
  if (rest != 0) fail(fmt::format("{} trailing bytes after the gzip stream", rest));
}

}  // namespace slope::data::detail
