// Pieces the slope commands share: option specs for every training setting,
// data loading with clear errors, JSON text, and the progress bar.
#pragma once

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "args.hpp"
#include "slope/train.hpp"

namespace slope::cli {

/// One option per train::Config field ("--weight-decay" for weight_decay),
/// with the field's default, plus --data, --data-dir and --threads.
std::vector<OptionSpec> config_options();
/// The Config with every option given on the command line applied;
/// UsageError naming the option for a bad value.
train::Config config_from(const Args& args);
/// Applies --threads (default 1).
void apply_threads(const Args& args);
/// The data set named by --data (default fashion-mnist) from --data-dir;
/// UsageError if the directory does not exist.
data::Dataset load_data(const Args& args, std::string_view split);
/// The training and test splits, the test split read on a second thread while
/// the training split is read here: both are checked before any work starts,
/// and the wait is the longer of the two, not their sum.
std::pair<data::Dataset, data::Dataset> load_train_test(const Args& args);
/// UsageError naming --val-size unless it leaves training examples in `train`.
void check_val_size(const train::Config& config, const data::Dataset& train);
/// Checks that `path`'s directory exists and is writable: UsageError otherwise.
void check_writable(const std::string& option, const std::string& path);

/// JSON: a quoted, escaped string; numbers with 17 significant digits.
std::string json_string(const std::string& s);
std::string json_number(double v);
/// {"key": value, ...} of the config (strings quoted, numbers bare).
std::string json_config(const train::Config& c);

/// A one-line progress bar with ETA on a terminal; silent otherwise.
class Progress {
 public:
  explicit Progress(std::FILE* out);
  void update(std::size_t done, std::size_t total, double loss);
  void clear();

 private:
  std::FILE* out_;
  bool tty_;
  double start_;
  double last_draw_ = -1.0;
};

double now_seconds();

}  // namespace slope::cli
