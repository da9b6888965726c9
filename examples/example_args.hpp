// The "--key value" command lines of the example programs. Each reader takes
// its key out of the line, so finish() can reject any key nobody asked for.
// Every mistake is a slope::ValueError that names the option.
#pragma once

#include <climits>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <type_traits>

#include <fmt/format.h>

#include "slope/data.hpp"
#include "slope/error.hpp"

namespace examples {

class KeyValueArgs {
 public:
  KeyValueArgs(int argc, char** argv) {
    for (int i = 1; i < argc; i += 2) {
      const std::string key = argv[i];
      if (key.rfind("--", 0) != 0 || i + 1 >= argc)
        throw slope::ValueError(fmt::format("expected --key value pairs, got '{}'", key));
      given_[key.substr(2)] = argv[i + 1];
    }
  }

  /// A whole number in [lo, hi] for --key, if given.
  template <class I>
  void integer(const std::string& key, I& field, long long lo, long long hi = LLONG_MAX) {
    const auto v = take(key);
    if (!v) return;
    std::size_t used = 0;
    long long n = lo - 1;
    try { n = std::stoll(*v, &used); } catch (const std::exception&) {}
    if (n < lo || n > hi || used != v->size())
      throw slope::ValueError(
          hi == LLONG_MAX ? fmt::format("--{}: expected an integer >= {}, got '{}'", key, lo, *v)
                          : fmt::format("--{}: expected an integer in [{}, {}], got '{}'", key, lo, hi, *v));
    field = static_cast<I>(n);
  }

  /// A number >= lo for --key, if given.
  void number(const std::string& key, double& field, double lo) {
    const auto v = take(key);
    if (!v) return;
    std::size_t used = 0;
    double x = lo - 1;
    try { x = std::stod(*v, &used); } catch (const std::exception&) {}
    if (!(x >= lo) || used != v->size())
      throw slope::ValueError(fmt::format("--{}: expected a number >= {}, got '{}'", key, lo, *v));
    field = x;
  }

  /// A path for --key, if given.
  void path(const std::string& key, std::filesystem::path& field) {
    if (const auto v = take(key)) field = *v;
  }

  /// ValueError if a key was given that no reader took.
  void finish() const {
    if (!given_.empty())
      throw slope::ValueError(fmt::format("unknown option --{}", given_.begin()->first));
  }

 private:
  std::optional<std::string> take(const std::string& key) {
    const auto it = given_.find(key);
    if (it == given_.end()) return std::nullopt;
    std::string v = it->second;
    given_.erase(it);
    return v;
  }

  std::map<std::string, std::string> given_;
};

/// The command line of the programs that draw a tutorial's figures:
/// [--out DIR] [--quick] [--data-dir DIR] (--data-dir only where `data_dir`).
struct FigureArgs {
  std::filesystem::path out = ".";
  std::filesystem::path data_dir = slope::data::kFashionMnistDir;
  bool quick = false;
};

/// The parsed line, or nullopt after a message on stderr that names the
/// option and gives the usage (the caller exits with status 2).
inline std::optional<FigureArgs> figure_args(int argc, char** argv, bool data_dir = true) {
  FigureArgs a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool path = arg == "--out" || (data_dir && arg == "--data-dir");
    if (arg == "--quick") {
      a.quick = true;
    } else if (path && i + 1 < argc) {
      (arg == "--out" ? a.out : a.data_dir) = argv[++i];
    } else {
      fmt::print(stderr, "{}: {} '{}'\nusage: {} [--out DIR] [--quick]{}\n", argv[0],
                 path ? "missing value after" : "unknown option", arg, argv[0], data_dir ? " [--data-dir DIR]" : "");
      return std::nullopt;
    }
  }
  return a;
}

/// Whether the Fashion-MNIST directory `dir` exists; if not, says so on stderr
/// (the program then exits with status 1: its results need them).
inline bool have_fashion_mnist(const std::filesystem::path& dir, const char* program) {
  if (std::filesystem::is_directory(dir)) return true;  // the loader names a missing or bad file
  fmt::print(stderr, "{}: needs Fashion-MNIST in {} (Debian package dataset-fashion-mnist, or --data-dir)\n",
             program, dir.string());
  return false;
}

}  // namespace examples
