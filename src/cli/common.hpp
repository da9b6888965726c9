// Pieces the slope commands share: option specs for every training setting,
// data loading with clear errors, output paths checked before any work,
// checked writes, JSON text, and the progress bar.
#pragma once

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "args.hpp"
#include "slope/distributed.hpp"
#include "slope/train.hpp"

namespace slope::cli {

/// One option per train::Config field ("--weight-decay" for weight_decay),
/// with the field's help and default, plus --data, --data-dir and --threads.
std::vector<OptionSpec> config_options();
/// The Config with every option given on the command line applied;
/// UsageError naming the option for a bad value.
train::Config config_from(const Args& args);
/// Applies --threads (default: all cores), 1 to kMaxThreads.
void apply_threads(const Args& args);
/// The processes of the run: MPI's world when mpirun started this one (and
/// the build has MPI), else this process alone. UsageError if mpirun started
/// several copies of a build without MPI.
dist::Communicator& world();
/// The data set named by --data (default fashion-mnist) from --data-dir;
/// UsageError if the name is unknown or the directory does not exist.
data::Dataset load_data(const Args& args, std::string_view split);
/// The training and test splits, the test split read on a second thread while
/// the training split is read here: both are checked before any work starts,
/// and the wait is the longer of the two, not their sum. UsageError if the
/// two splits' examples differ in shape.
std::pair<data::Dataset, data::Dataset> load_train_test(const Args& args);
/// UsageError naming --val-size unless it leaves training examples in `train`.
void check_val_size(const train::Config& config, const data::Dataset& train);

/// What an option names: a file slope writes, a directory it writes files
/// into, or a file it reads.
enum class PathKind { output_file, output_dir, input_file };
struct PathOption {
  std::string option;  // "save"
  PathKind kind;
};
/// Checks every given path option before any work (UsageError, exit 2):
/// non-empty and not over-long (an output file's name leaves room for the
/// temporary file written beside it); an output file that exists must be a regular
/// file (never a directory, FIFO or device), in an existing writable
/// directory; an output directory must exist and be writable; an input file
/// must exist and be a regular file; and no two of them may name the same file
/// (after following symlinks, dangling ones included, and across hard links).
void check_paths(const Args& args, const std::vector<PathOption>& options);

/// UsageError if `out` names one of the input `files` (symlinks and hard links included).
void check_not_input(const std::string& out, const std::vector<std::string>& files);
/// For --export DIR: UsageError if one of the files it will write,
/// DIR/<name>.npy, exists and is not a regular file, or is the file one of
/// the `others` options names. Called once the model's names are known,
/// before any training.
void check_export_files(const Args& args, const std::string& option, const std::vector<std::string>& names,
                        const std::vector<std::string>& others);
/// UsageError naming --data-dir unless the test split's examples have the
/// training split's rows, columns, channels and classes.
void check_same_examples(const data::Dataset& train, const data::Dataset& test);
/// Flushes stdout; IoError "standard output: cannot write: ..." if that fails
/// (a full disk, a closed pipe), so a run stops when its report is lost.
void check_stdout();

/// A text file written line by line (the metrics); every write is checked and
/// a failed one throws IoError naming the file.
class LineFile {
 public:
  explicit LineFile(const std::string& path);
  ~LineFile();
  LineFile(const LineFile&) = delete;
  LineFile& operator=(const LineFile&) = delete;
  void write_line(const std::string& line);
  void close();  // IoError if the last bytes cannot be written

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

/// JSON: a quoted, escaped string; numbers with 17 significant digits (null
/// for NaN and Inf).
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
