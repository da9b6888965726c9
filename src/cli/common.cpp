#include "common.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <future>
#include <thread>
#include <filesystem>
#include <map>

#include <unistd.h>

#include <fmt/format.h>

#include "slope/runtime.hpp"

namespace slope::cli {

namespace {

std::string dashed(std::string key) {
  for (auto& ch : key)
    if (ch == '_') ch = '-';
  return key;
}

const std::map<std::string, std::string>& help_texts() {
  static const std::map<std::string, std::string> h{
      {"model", "linear, two-layer or mlp"},
      {"hidden", "hidden sizes, e.g. 512 or 512,256 for mlp"},
      {"loss", "softmax or svm"},
      {"reg", "regularizer on the weights: none, l2, l1, elastic"},
      {"lambda", "regularization strength"},
      {"beta", "elastic net: beta * L2 + L1"},
      {"dropout", "probability of dropping a hidden unit while training"},
      {"optimizer", "sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw"},
      {"lr", "peak learning rate"},
      {"momentum", "momentum rho (momentum, nesterov)"},
      {"beta1", "Adam's first-moment decay"},
      {"beta2", "Adam's second-moment decay"},
      {"eps", "added after the square root (adaptive methods)"},
      {"alpha", "RMSProp's decay of grad_sq"},
      {"weight-decay", "AdamW: decoupled; others: added to the gradient"},
      {"clip-norm", "clip the global gradient norm (0: off)"},
      {"schedule", "constant, step, cosine, linear, invsqrt"},
      {"warmup-epochs", "linear warm-up before the schedule (0: none)"},
      {"gamma", "step decay factor at 50% and 75% of the run"},
      {"min-lr", "cosine floor"},
      {"epochs", "passes over the training split"},
      {"batch", "minibatch size"},
      {"seed", "seed of initialisation, split and shuffling"},
      {"val-size", "validation examples carved from the training set (a fifth of a small set)"},
      {"center", "subtract the training mean image (true/false)"},
      {"engine", "fused (hand-derived kernels, parallel, no allocation) or graph (autograd op by op)"},
  };
  return h;
}

// "0.34999999999999998" (exact, as checkpoints store it) reads as "0.35" in help.
std::string shortest(const std::string& text) {
  double v = 0.0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return text;
  return fmt::format("{}", v);
}

}  // namespace

std::vector<OptionSpec> config_options() {
  std::vector<OptionSpec> specs{
      {"data", "NAME", "fashion-mnist, mnist, cifar10 or spiral", "fashion-mnist"},
      {"data-dir", "DIR", "directory of the data files", data::kFashionMnistDir},
      {"threads", "N", "BLAS threads", "all cores"},
  };
  const train::Config defaults;
  for (const auto& key : train::Config::keys()) {
    const auto it = help_texts().find(dashed(key));
    specs.push_back({dashed(key), "X", it == help_texts().end() ? "" : it->second, shortest(defaults.get(key))});
  }
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
  const long cores = std::max(1u, std::thread::hardware_concurrency());
  set_num_threads(static_cast<int>(args.integer("threads", cores, 1)));
}

data::Dataset load_data(const Args& args, std::string_view split) {
  const std::string name = args.get("data", "fashion-mnist");
  const std::string dir = args.get("data-dir", name == "fashion-mnist" ? data::kFashionMnistDir : "");
  if (name != "spiral") {
    if (dir.empty()) throw UsageError(fmt::format("--data {} needs --data-dir", name));
    if (!std::filesystem::is_directory(dir))
      throw UsageError(fmt::format("--data-dir: '{}' is not a directory{}", dir,
                                   name == "fashion-mnist"
                                       ? " (install the Debian package dataset-fashion-mnist)"
                                       : ""));
  }
  if (name != "fashion-mnist" && name != "mnist" && name != "cifar10" && name != "spiral")
    throw UsageError(fmt::format("--data: unknown data set '{}'", name));
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
  return {std::move(train_set), test.get()};
}

void check_val_size(const train::Config& config, const data::Dataset& train) {
  if (config.val_size >= train.size())
    throw UsageError(fmt::format("--val-size: must be below the {} training examples of {}, got {}",
                                 train.size(), train.name, config.val_size));
}

void check_writable(const std::string& option, const std::string& path) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  // Refused here, before any work: otherwise the write fails only after the
  // first epoch (exit 1) instead of as a usage error (exit 2).
  if (fs::is_directory(path))
    throw UsageError(fmt::format("--{}: '{}' is a directory", option, path));
  if (fs::exists(dir) && !fs::is_directory(dir))
    throw UsageError(fmt::format("--{}: '{}' is not a directory", option, dir.string()));
  if (!fs::is_directory(dir))
    throw UsageError(fmt::format("--{}: directory '{}' does not exist", option, dir.string()));
  if (::access(dir.c_str(), W_OK) != 0)
    throw UsageError(fmt::format("--{}: directory '{}' is not writable", option, dir.string()));
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
    const bool numeric = !v.empty() && v.find_first_not_of("0123456789.eE+-") == std::string::npos;
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
  fmt::print(out_, "\r  [{:=<{}}{:<{}}] {}/{} batches  loss {:.4f}  ETA {:.0f}s ", "", filled, "",
             width - filled, done + 1, total, loss, eta);
  std::fflush(out_);
}

void Progress::clear() {
  if (!tty_) return;
  fmt::print(out_, "\r{:<90}\r", "");
  std::fflush(out_);
}

}  // namespace slope::cli
