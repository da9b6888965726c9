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

}  // namespace examples
