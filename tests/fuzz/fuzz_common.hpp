// Shared by the libFuzzer targets: the readers take paths, so each input is
// written to one per-process temp file (on tmpfs when /dev/shm exists) and the
// reader is called on it. slope::Error is the expected outcome for bad input;
// a crash, a sanitizer report, a leak, another exception (uncaught, so
// libFuzzer reports it) or a broken invariant (fuzz_check) is a finding.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace slope_fuzz {

/// Aborts with a message when an invariant of a successful read fails.
#define fuzz_check(cond)                                                               \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

/// A file that holds the current input; removed when the process exits normally.
class TempFile {
 public:
  explicit TempFile(const std::string& stem) {
    namespace fs = std::filesystem;
    fs::path dir;
    if (const char* d = std::getenv("SLOPE_FUZZ_TMPDIR"); d && *d) dir = d;
    else if (::access("/dev/shm", W_OK) == 0) dir = "/dev/shm";
    else dir = fs::temp_directory_path();
    path_ = dir / (stem + "-" + std::to_string(::getpid()));
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  /// Replaces the file's contents with `data`; aborts if that fails (not a finding).
  const std::filesystem::path& write(const std::uint8_t* data, std::size_t size) {
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) die("open");
    while (size > 0) {
      ssize_t w = ::write(fd, data, size);
      if (w <= 0) die("write");
      data += w;
      size -= static_cast<std::size_t>(w);
    }
    if (::close(fd) != 0) die("close");
    return path_;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  [[noreturn]] void die(const char* what) const {
    std::perror(("fuzz harness: cannot " + std::string(what) + " " + path_.string()).c_str());
    std::_Exit(99);
  }
  std::filesystem::path path_;
};

}  // namespace slope_fuzz
