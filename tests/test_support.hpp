// Helpers shared by the test programs: temporary directories, whole-file
// reads and writes, and matchers for error messages.
#pragma once

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "slope/error.hpp"
#include "slope/runtime.hpp"

namespace slope::testing {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

/// A fresh directory for one test case, removed afterwards.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag = "test") {
    static int n = 0;
    path = fs::temp_directory_path() /
           ("slope_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;  // never throw from a destructor
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  fs::path operator/(const std::string& name) const { return path / name; }
};

inline Bytes slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

inline void spit(const fs::path& p, const Bytes& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

/// Expects an IoError whose message names the file and contains `phrase`.
template <class F>
void require_io_error(F&& f, const fs::path& file, const std::string& phrase) {
  try {
    f();
    FAIL("no IoError; expected one mentioning '" << phrase << "'");
  } catch (const IoError& e) {
    const std::string m = e.what();
    INFO(m);
    CHECK(m.find(file.string()) != std::string::npos);
    CHECK(m.find(phrase) != std::string::npos);
  }
}

/// Matches an exception whose what() satisfies a string matcher (Catch2 2.x
/// matches the exception object itself).
template <class M>
class WhatMatcher : public Catch::MatcherBase<std::exception> {
 public:
  explicit WhatMatcher(M m) : m_(std::move(m)) {}
  bool match(const std::exception& e) const override { return m_.match(e.what()); }
  std::string describe() const override { return "what() " + m_.describe(); }

 private:
  M m_;
};
template <class M>
WhatMatcher<M> what(M m) {
  return WhatMatcher<M>(std::move(m));
}

/// One BLAS thread for tiny problems: extra threads only spin against each
/// other, and runs stay bitwise reproducible. Use as a namespace-scope initialiser.
inline bool use_one_blas_thread() {
  slope::set_num_threads(1);
  return true;
}

}  // namespace slope::testing
