#include "args.hpp"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace slope::cli {

Args::Args(int argc, char** argv, int first, const std::vector<OptionSpec>& specs,
           const std::string& command)
    : command_(command) {
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_ = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg.size() == 2)
      throw UsageError(fmt::format("unexpected argument '{}'", arg));
    std::string name = arg.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const OptionSpec* spec = nullptr;
    for (const auto& s : specs)
      if (s.name == name) spec = &s;
    if (!spec) throw UsageError(fmt::format("unknown option '--{}'", name));
    if (spec->value.empty()) {
      if (inline_value) throw UsageError(fmt::format("--{} takes no value", name));
      value = "true";
    } else if (!inline_value) {
      if (i + 1 >= argc) throw UsageError(fmt::format("--{} needs a value ({})", name, spec->value));
      value = argv[++i];
    }
    values_[name] = value;
    order_.emplace_back(name, value);
  }
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

double Args::number(const std::string& name, double fallback) const {
  if (!has(name)) return fallback;
  const std::string& v = values_.at(name);
  double x = 0.0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || p != v.data() + v.size() || !std::isfinite(x))
    throw UsageError(fmt::format("--{}: expected a number, got '{}'", name, v));
  return x;
}

long Args::integer(const std::string& name, long fallback, long min, long max) const {
  if (!has(name)) return fallback;
  const std::string& v = values_.at(name);
  long x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || p != v.data() + v.size())
    throw UsageError(fmt::format("--{}: expected an integer in [{}, {}], got '{}'", name, min, max, v));
  if (x < min) throw UsageError(fmt::format("--{}: must be at least {}, got {}", name, min, x));
  if (x > max) throw UsageError(fmt::format("--{}: must be at most {}, got {}", name, max, x));
  return x;
}

std::string usage(const std::string& command, const std::string& summary,
                  const std::vector<OptionSpec>& specs) {
  std::string out = fmt::format("usage: slope {} [options]\n\n{}\n\noptions:\n", command, summary);
  for (const auto& s : specs) {
    std::string left = "  --" + s.name + (s.value.empty() ? "" : " " + s.value);
    std::string right = s.help + (s.fallback.empty() ? "" : fmt::format(" (default: {})", s.fallback));
    out += fmt::format("{:<28} {}\n", left, right);
  }
  out += fmt::format("  {:<26} {}\n", "-h, --help", "show this help");
  return out;
}

}  // namespace slope::cli
