// A file read as a byte stream, raw or gzip, for the IDX reader. Internal.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace slope::data::detail {

/// A zeroed buffer of n bytes for a whole data set. Large ones ask the kernel
/// for transparent huge pages before the first touch: 47 MB of Fashion-MNIST
/// then faults in 2 MiB steps instead of 4 KiB ones, which on a virtual
/// machine is a good part of the load time.
std::vector<std::uint8_t> big_buffer(std::size_t n);

class ByteSource {
 public:
  /// Opens `path`; gzip if it starts with the gzip magic 1f 8b, raw otherwise.
  explicit ByteSource(const std::filesystem::path& path);
  ~ByteSource();
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  const std::string& name() const { return name_; }
  bool gzipped() const { return gzip_; }
  std::uint64_t file_size() const { return file_size_; }

  /// Reads up to n bytes; fewer only where the data ends or a gzip stream is
  /// cut short. Throws IoError on corrupt gzip data.
  std::size_t read(std::uint8_t* dst, std::size_t n);
  /// True after a short read caused by a gzip stream without its end marker.
  bool cut_short() const { return cut_; }
  /// Throws IoError unless the data ends exactly here: no further byte and,
  /// for gzip, a complete stream (CRC checked by zlib) with nothing after it.
  /// `promise` describes what the header promised, for the message.
  void expect_end(const std::string& promise);

 private:
  [[noreturn]] void fail(const std::string& what) const;

  std::string name_;
  std::FILE* file_ = nullptr;
  std::uint64_t file_size_ = 0;
  bool gzip_ = false;
  bool ended_ = false;  // gzip: Z_STREAM_END seen
  bool cut_ = false;    // gzip: the file ended before Z_STREAM_END
  bool eof_ = false;    // gzip: no more compressed input in the file
  z_stream zs_{};
  unsigned char in_[1 << 16];
};

}  // namespace slope::data::detail
