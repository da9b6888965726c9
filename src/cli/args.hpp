// Command-line parsing for the slope program: "--name value" or "--name=value",
// flags without a value, and errors that name the bad option (exit status 2).
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace slope::cli {

/// A mistake on the command line; main() prints it and exits with status 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One option a command accepts.
struct OptionSpec {
  std::string name;   // without dashes: "lr", "data-dir"
  std::string value;  // placeholder in the help ("X", "DIR"); empty for a flag
  std::string help;
  std::string fallback;  // shown as the default in the help, "" for none
};

class Args {
 public:
  /// Parses argv[first..]; UsageError on an unknown option or a missing value.
  Args(int argc, char** argv, int first, const std::vector<OptionSpec>& specs,
       const std::string& command);
  bool help() const { return help_; }
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  std::string get(const std::string& name, const std::string& fallback = "") const;
  /// A number; UsageError "--name: expected a number, got 'x'".
  double number(const std::string& name, double fallback) const;
  /// An integer in [min, max]; UsageError naming the option otherwise.
  long integer(const std::string& name, long fallback, long min, long max = 1L << 40) const;
  /// Options given, in order, as (name, value).
  const std::vector<std::pair<std::string, std::string>>& given() const { return order_; }

 private:
  std::string command_;
  bool help_ = false;
  std::map<std::string, std::string> values_;
  std::vector<std::pair<std::string, std::string>> order_;
};

/// The help text of a command from its specs.
std::string usage(const std::string& command, const std::string& summary,
                  const std::vector<OptionSpec>& specs);

}  // namespace slope::cli
