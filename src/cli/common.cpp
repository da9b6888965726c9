#include "common.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstring>
#include <filesystem>
#include <future>
#include <thread>

#include <fmt/format.h>

#include "slope/runtime.hpp"

namespace slope::cli {

namespace fs = std::filesystem;

namespace {

std::string dashed(std::string key) {
  for (auto& ch : key)
    if (ch == '_') ch = '-';
  return key;
}

// "0.34999999999999998" (exact, as checkpoints store it) reads as "0.35" in help.
std::string shortest(const std::string& text) {
  std::string out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string part = text.substr(start, comma - start);
    double v = 0.0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    out += (out.empty() ? "" : ",") +
           (ec == std::errc() && end == part.data() + part.size() && !part.empty() ? fmt::format("{}", v) : part);
    start = comma + 1;
  }
  return out;
}

}  // namespace

std::vector<OptionSpec> config_options() {
  std::vector<OptionSpec> specs{
      {"data", "NAME", "the data set: " + entry_names(train::datasets()), "fashion-mnist"},
      {"data-dir", "DIR", "directory of the data files", data::kFashionMnistDir},
      {"threads", "N", fmt::format("threads for products and row shards, 1 to {}", kMaxThreads), "all cores"},
  };
  const train::Config defaults;
  for (const auto& key : train::Config::keys())
    specs.push_back({dashed(key), "X", train::Config::help(key), shortest(defaults.get(key))});
  return specs;
}

train::Config config_from(const Args& args) {
  train::Config c;
  for (const auto& key : train::Config::keys()) {
    if (!args.has(dashed(key))) continue;
    try {
      c.set(key, args.get(dashed(key)));
    } catch (const ValueError& e) {
      throw UsageError(fmt::format("--{}: {}", dashed(key), e.what()));
    }
  }
  try {
    c.validate();
  } catch (const ValueError& e) {
    throw UsageError(fmt::format("--{}", dashed(e.what())));
  }
  return c;
}

void apply_threads(const Args& args) {
  // Processes started on this machine by mpirun share its cores.
  const long cores = std::max(1L, static_cast<long>(std::max(1u, std::thread::hardware_concurrency())) /
                                      dist::local_processes());
  set_num_threads(static_cast<int>(args.integer("threads", std::min<long>(cores, kMaxThreads), 1, kMaxThreads)));
}

dist::Communicator& world() {
  if (!dist::launched_by_mpi()) return dist::single_process();
  if (dist::mpi_available()) return dist::mpi_world();
  // mpirun started copies of a build without MPI: each would train alone
  // and write the same files.
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (size && std::strcmp(size, "1") != 0)
    throw UsageError(fmt::format("started by mpirun with {} processes, but this slope has no MPI backend: "
                                 "rebuild with -DSLOPE_MPI=ON", size));
  return dist::single_process();
}

data::Dataset load_data(const Args& args, std::string_view split) {
  const std::string name = args.get("data", "fashion-mnist");
  const train::DatasetEntry* e = find_entry(train::datasets(), name);
  if (!e) throw UsageError(fmt::format("--data: unknown data set '{}' ({})", name, entry_names(train::datasets())));
  const std::string dir = args.get("data-dir", e->default_dir);
  if (e->needs_dir) {
    if (dir.empty()) throw UsageError(fmt::format("--data {} needs --data-dir", name));
    // stat(2), not fs::is_directory: that throws filesystem_error's raw text
    // for a name too long or a directory that cannot be searched.
    struct stat st {};
    const bool found = ::stat(dir.c_str(), &st) == 0;
    if (!found && errno != ENOENT && errno != ENOTDIR)
      throw UsageError(fmt::format("--data-dir: '{}': {}", dir, std::strerror(errno)));
    if (!found || !S_ISDIR(st.st_mode))
      throw UsageError(fmt::format("--data-dir: '{}' is not a directory{}", dir,
                                   name == "fashion-mnist" ? " (install the Debian package dataset-fashion-mnist)" : ""));
  }
  return train::load_dataset(name, dir, split);
}

std::pair<data::Dataset, data::Dataset> load_train_test(const Args& args) {
  auto test = std::async(std::launch::async, [&args] { return load_data(args, "test"); });
  data::Dataset train_set;
  try {
    train_set = load_data(args, "train");
  } catch (...) {
    test.wait();  // never leave the thread running past the arguments it reads
    throw;
  }
  data::Dataset test_set = test.get();
  check_same_examples(train_set, test_set);
  return {std::move(train_set), std::move(test_set)};
}

void check_same_examples(const data::Dataset& train, const data::Dataset& test) {
  // Rows and columns, not only their product: 14x56 images are not 28x28 ones.
  if (test.rows != train.rows || test.cols != train.cols || test.channels != train.channels ||
      test.num_classes() != train.num_classes())
    throw UsageError(fmt::format("--data-dir: the test split holds {}x{}x{} examples of {} classes, the training "
                                 "split {}x{}x{} of {}", test.channels, test.rows, test.cols, test.num_classes(),
                                 train.channels, train.rows, train.cols, train.num_classes()));
}

void check_val_size(const train::Config& config, const data::Dataset& train) {
  if (config.val_size >= train.size())
    throw UsageError(fmt::format("--val-size: must be below the {} training examples of {}, got {}",
                                 train.size(), train.name, config.val_size));
}

namespace {

// Room for the ".tmp-<pid>-<n>" an atomic write appends to the file's name.
constexpr std::size_t kTempSuffix = 24;

// Where `path` finally points: symlinks followed one by one (a dangling one
// to the file it would create), then the existing part made canonical. Two
// options naming the same file resolve to the same path.
fs::path resolved(const fs::path& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  if (ec) p = path;
  for (int hops = 0; hops < 40 && fs::is_symlink(p, ec); ++hops) {
    const fs::path target = fs::read_symlink(p, ec);
    if (ec) break;
    p = target.is_absolute() ? target : p.parent_path() / target;
  }
  fs::path normal = fs::weakly_canonical(p, ec);
  return ec ? p.lexically_normal() : normal;
}

}  // namespace

void check_paths(const Args& args, const std::vector<PathOption>& options) {
  std::vector<std::pair<std::string, fs::path>> seen;  // option, resolved path
  for (const auto& [option, kind] : options) {
    if (!args.has(option)) continue;
    const std::string text = args.get(option);
    const auto bad = [&](const std::string& what) {
      return UsageError(fmt::format("--{}: '{}' {}", option, text, what));
    };
    if (text.empty()) throw UsageError(fmt::format("--{}: the path is empty", option));
    const bool output_file = kind == PathKind::output_file;
    if (text.size() + (output_file ? kTempSuffix : 0) >= PATH_MAX) throw bad("is longer than the system's path limit");
    const fs::path path(text);
    for (const auto& part : path)
      if (part.native().size() > NAME_MAX) throw bad("has a name longer than the system's limit");
    // An output file is written beside itself first (atomically, or checked
    // here for all outputs alike): its name needs room for the suffix.
    if (output_file && path.filename().native().size() + kTempSuffix > NAME_MAX)
      throw bad(fmt::format("has a file name of {} bytes; at most {} leave room for the temporary file written "
                            "beside it", path.filename().native().size(), NAME_MAX - kTempSuffix));
    struct stat st {};
    const bool exists = ::stat(path.c_str(), &st) == 0;
    if (kind == PathKind::input_file) {
      if (!exists) throw bad("does not exist");
      if (!S_ISREG(st.st_mode)) throw bad("is not a regular file");
    } else if (kind == PathKind::output_dir) {
      if (!exists || !S_ISDIR(st.st_mode)) throw bad("is not a directory");
      if (::access(path.c_str(), W_OK) != 0) throw bad("is not writable");
    } else {
      if (exists && S_ISDIR(st.st_mode)) throw bad("is a directory");
      if (exists && !S_ISREG(st.st_mode)) throw bad("exists and is not a regular file (a device or a FIFO?)");
      fs::path dir = path.parent_path();
      if (dir.empty()) dir = ".";
      struct stat ds {};
      if (::stat(dir.c_str(), &ds) != 0) throw UsageError(fmt::format("--{}: directory '{}' does not exist", option, dir.string()));
      if (!S_ISDIR(ds.st_mode)) throw UsageError(fmt::format("--{}: '{}' is not a directory", option, dir.string()));
      if (::access(dir.c_str(), W_OK) != 0)
        throw UsageError(fmt::format("--{}: directory '{}' is not writable", option, dir.string()));
    }
    const fs::path normal = resolved(path);
    for (const auto& [other, other_path] : seen) {
      std::error_code eq;  // equivalent(): hard links, and bind mounts of one file
      if (normal == other_path || (exists && fs::equivalent(path, other_path, eq)))
        throw UsageError(fmt::format("--{} and --{} name the same file '{}'", other, option, text));
    }
    seen.emplace_back(option, normal);
  }
}

void check_export_files(const Args& args, const std::string& option, const std::vector<std::string>& names,
                        const std::vector<std::string>& others) {
  if (!args.has(option)) return;
  for (const auto& name : names) {
    const fs::path file = fs::path(args.get(option)) / (name + ".npy");
    struct stat st {};
    if (::stat(file.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      throw UsageError(fmt::format("--{}: '{}' exists and is not a regular file", option, file.string()));
    for (const auto& other : others) {
      std::error_code ec;
      if (args.has(other) && (resolved(file) == resolved(args.get(other)) || fs::equivalent(file, args.get(other), ec)))
        throw UsageError(fmt::format("--{} would write '{}', the file --{} names", option, file.string(), other));
    }
  }
}

void check_not_input(const std::string& out, const std::vector<std::string>& files) {
  for (const auto& f : files) {
    std::error_code ec;
    if (f == out || resolved(f) == resolved(out) || fs::equivalent(f, out, ec))
      throw UsageError(fmt::format("--out: '{}' is also an input file", out));
  }
}

void check_stdout() {
  errno = 0;
  if (std::fflush(stdout) != 0 || std::ferror(stdout))
    throw IoError(fmt::format("standard output: cannot write{}{}", errno ? ": " : "",
                              errno ? std::strerror(errno) : ""));
}

LineFile::LineFile(const std::string& path) : path_(path) {
  // O_NONBLOCK: a FIFO put at the path after check_paths must not block the
  // open; truncate only once it is known to be a regular file.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
  if (fd < 0) throw IoError(fmt::format("{}: cannot open for writing: {}", path, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError(fmt::format("{}: not a regular file", path));
  }
  if (::ftruncate(fd, 0) != 0 || ::fcntl(fd, F_SETFL, 0) != 0 || !(file_ = ::fdopen(fd, "w"))) {
    const int saved = errno;
    ::close(fd);
    throw IoError(fmt::format("{}: cannot open for writing: {}", path, std::strerror(saved)));
  }
}

LineFile::~LineFile() {
  if (file_) std::fclose(file_);
}

void LineFile::write_line(const std::string& line) {
  if (!file_) throw IoError(fmt::format("{}: already closed", path_));
  errno = 0;
  if (std::fputs(line.c_str(), file_) < 0 || std::fputc('\n', file_) == EOF || std::fflush(file_) != 0)
    throw IoError(fmt::format("{}: cannot write: {}", path_, errno ? std::strerror(errno) : "write failed"));
}

void LineFile::close() {
  if (!file_) return;
  std::FILE* f = std::exchange(file_, nullptr);
  errno = 0;
  if (std::fclose(f) != 0) throw IoError(fmt::format("{}: cannot write: {}", path_, std::strerror(errno)));
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\', out += ch;
    else if (ch == '\n') out += "\\n";
    else if (static_cast<unsigned char>(ch) < 0x20) out += fmt::format("\\u{:04x}", ch);
    else out += ch;
  }
  return out + "\"";
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  return fmt::format("{:.17g}", v);
}

std::string json_config(const train::Config& c) {
  std::string out = "{";
  for (const auto& key : train::Config::keys()) {
    const std::string v = c.get(key);
    double d = 0.0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
    const bool numeric = !v.empty() && ec == std::errc() && end == v.data() + v.size();
    const bool boolean = v == "true" || v == "false";
    if (out.size() > 1) out += ", ";
    out += json_string(key) + ": " + (numeric || boolean ? v : json_string(v));
  }
  return out + "}";
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Progress::Progress(std::FILE* out) : out_(out), tty_(::isatty(::fileno(out)) != 0), start_(now_seconds()) {}

void Progress::update(std::size_t done, std::size_t total, double loss) {
  if (!tty_ || total == 0) return;
  const double t = now_seconds();
  if (done + 1 < total && t - last_draw_ < 0.1) return;  // redraw at most 10 times a second
  if (done == 0) start_ = t;
  last_draw_ = t;
  const double frac = static_cast<double>(done + 1) / static_cast<double>(total);
  const int width = 30, filled = static_cast<int>(frac * width);
  const double eta = frac > 0 ? (t - start_) * (1.0 - frac) / frac : 0.0;
  // Best effort: a terminal that went away must not stop the run (fmt::print would throw).
  std::fputs(fmt::format("\r  [{:=<{}}{:<{}}] {}/{} batches  loss {:.4f}  ETA {:.0f}s ", "", filled, "",
                         width - filled, done + 1, total, loss, eta).c_str(), out_);
  std::fflush(out_);
}

void Progress::clear() {
  if (!tty_) return;
  std::fputs(fmt::format("\r{:<90}\r", "").c_str(), out_);
  std::fflush(out_);
}

}  // namespace slope::cli
