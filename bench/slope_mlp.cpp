// slope on the reference task of ../shared/bench: Fashion-MNIST, 784 -> H -> 10
// ReLU, softmax cross-entropy + reg * sum(W^2) over both weight matrices,
// Adam lr 1e-3 (or SGD + momentum 0.9, lr 1e-2), batch 256, float32, a fresh
// shuffle every epoch, the last partial batch kept, inputs / 255, weights and
// biases drawn like torch.nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
// Prints one JSON line with the fields the reference programs print, plus the
// time from process start to the first training step.
//
//   slope_mlp [--hidden 100] [--epochs 3] [--batch 256] [--threads 1]
//             [--optimizer adam|sgd] [--lr X] [--reg 1e-4] [--center]
//             [--seed 0] [--train-size N] [--model mlp|residual] [--data DIR]
// --model residual is 784 -> H -> H -> 10 with a skip connection around the
// middle layer (h2 = relu(h1 W2 + b2) + h1), the user-style model of
// bench/libtorch/libtorch_residual.cpp.
//   slope_mlp --peak [--threads 2]      (OpenBLAS sgemm GFLOP/s on squares)
#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <future>
#include <string>
#include <unistd.h>
#include <vector>

#include <cblas.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "slope/runtime.hpp"
#include "slope/train.hpp"

using namespace slope;
using clock_type = std::chrono::steady_clock;

namespace {

// Seconds since this process started (the kernel's start time, so dynamic
// loading and static initialisation count too); 10 ms resolution.
double seconds_since_process_start() {
  std::ifstream stat("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');  // the command name may hold spaces
  std::vector<std::string> fields;
  std::string field;
  for (std::size_t i = close + 2; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == ' ') {
      fields.push_back(field);
      field.clear();
    } else {
      field += text[i];
    }
  }
  const double start = std::stod(fields.at(19)) / static_cast<double>(sysconf(_SC_CLK_TCK));  // field 22
  timespec now{};
  clock_gettime(CLOCK_BOOTTIME, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec) - start;
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

struct Args {
  std::size_t hidden = 100, epochs = 3, batch = 256, train_size = 0;
  int threads = 1;
  std::string optimizer = "adam", model = "mlp", data = data::kFashionMnistDir;
  double lr = 0.0, reg = 1e-4;
  bool center = false, peak = false;
  std::uint64_t seed = 0;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw ValueError(fmt::format("{} needs a value", k));
      return argv[++i];
    };
    const auto count = [&]() -> std::size_t {
      const std::string v = value();
      std::size_t n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || p != v.data() + v.size()) throw ValueError(fmt::format("{}: expected a count, got '{}'", k, v));
      return n;
    };
    const auto number = [&]() -> double {
      const std::string v = value();
      double x = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
      if (ec != std::errc() || p != v.data() + v.size()) throw ValueError(fmt::format("{}: expected a number, got '{}'", k, v));
      return x;
    };
    if (k == "--hidden") a.hidden = count();
    else if (k == "--epochs") a.epochs = count();
    else if (k == "--batch") a.batch = count();
    else if (k == "--train-size") a.train_size = count();
    else if (k == "--threads") a.threads = static_cast<int>(std::min<std::size_t>(count(), kMaxThreads));
    else if (k == "--optimizer") a.optimizer = value();
    else if (k == "--model") a.model = value();
    else if (k == "--data") a.data = value();
    else if (k == "--lr") a.lr = number();
    else if (k == "--reg") a.reg = number();
    else if (k == "--seed") a.seed = count();
    else if (k == "--center") a.center = true;
    else if (k == "--peak") a.peak = true;
    else throw ValueError(fmt::format("unknown option '{}' (see the comment at the top of slope_mlp.cpp)", k));
  }
  if (a.optimizer != "adam" && a.optimizer != "sgd")
    throw ValueError(fmt::format("--optimizer must be adam or sgd: got '{}'", a.optimizer));
  if (a.model != "mlp" && a.model != "residual")
    throw ValueError(fmt::format("--model must be mlp or residual: got '{}'", a.model));
  return a;
}

// Best and median GFLOP/s of row-major sgemm on n x n squares.
int run_peak(const Args& a) {
  std::vector<std::string> rows;
  double best_all = 0.0;
  for (const int n : {256, 512, 1024, 2048}) {
    std::vector<float> A(static_cast<std::size_t>(n) * n, 0.5f), B(A), C(A.size());
    std::vector<double> rates;
    for (int trial = 0; trial < 7; ++trial) {
      // About 2 GFLOP per trial, at least one product.
      const int reps = std::max(1, static_cast<int>(1e9 / (static_cast<double>(n) * n * n)));
      const auto t0 = clock_type::now();
      for (int r = 0; r < reps; ++r)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A.data(), n, B.data(),
                    n, 0.0f, C.data(), n);
      const double s = std::chrono::duration<double>(clock_type::now() - t0).count();
      rates.push_back(2.0 * n * n * n * reps / s / 1e9);
    }
    std::sort(rates.begin(), rates.end());
    best_all = std::max(best_all, rates.back());
    rows.push_back(fmt::format(R"({{"n": {}, "gflops_median": {:.2f}, "gflops_best": {:.2f}}})", n,
                               rates[rates.size() / 2], rates.back()));
  }
  fmt::print(R"({{"impl": "sgemm_peak", "threads": {}, "peak_gflops": {:.2f}, "results": [{}]}})" "\n",
             a.threads, best_all, fmt::join(rows, ", "));
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  const Args a = parse(argc, argv);
  set_num_threads(a.threads);
  if (a.peak) return run_peak(a);

  const auto t_load = clock_type::now();
  // The test split is read on a second thread while the training split is read here.
  auto test_future = std::async(std::launch::async,
                                [&] { return train::load_dataset("fashion-mnist", a.data, "test"); });
  data::Dataset train_set = train::load_dataset("fashion-mnist", a.data, "train");
  if (a.train_size && a.train_size < train_set.size()) {
    train_set = data::subset(train_set, data::all_indices(a.train_size));
  }
  const data::Dataset test_set = test_future.get();
  const double load_s = std::chrono::duration<double>(clock_type::now() - t_load).count();

  train::Config c;
  c.model = a.model == "mlp" ? "two-layer" : "residual";
  c.hidden = {a.hidden};
  c.loss = "softmax";
  c.reg = "l2";
  c.lambda = a.reg;
  c.dropout = {0.0};
  c.optimizer = a.optimizer == "adam" ? "adam" : "momentum";
  c.lr = a.lr > 0 ? a.lr : (a.optimizer == "adam" ? 1e-3 : 1e-2);
  c.momentum = 0.9;
  c.weight_decay = 0.0;
  c.schedule = "constant";
  c.warmup_epochs = 0.0;
  c.epochs = a.epochs;
  c.batch = a.batch;
  c.seed = a.seed;
  c.val_size = 0;
  c.center = a.center;
  train::Trainer trainer(c, train_set);
  // torch.nn.Linear's initialisation, so that the runs start alike: every W
  // (in, out) and the b after it from U(-1/sqrt(in), 1/sqrt(in)).
  Rng init(a.seed + 17);
  double bound = 0.0;
  for (auto [name, p] : trainer.model().named_parameters()) {
    if (p.dim() == 2) bound = 1.0 / std::sqrt(static_cast<double>(p.shape()[0]));
    float* v = p.mutable_value().data();
    for (std::size_t i = 0; i < p.size(); ++i) v[i] = static_cast<float>(init.uniform(-bound, bound));
  }

  const double first_step_s = seconds_since_process_start();
  std::vector<double> epoch_s;
  double last_loss = 0.0;
  while (!trainer.done()) {
    const train::EpochStats s = trainer.run_epoch();
    epoch_s.push_back(s.seconds);
    last_loss = s.data_loss + s.reg_loss;
  }
  const train::Evaluation test = trainer.evaluate(test_set);

  std::vector<double> later(epoch_s.size() > 1 ? epoch_s.begin() + 1 : epoch_s.begin(), epoch_s.end());
  std::sort(later.begin(), later.end());
  const double per_epoch = later[later.size() / 2];
  const double train_s = [&] { double t = 0; for (double e : epoch_s) t += e; return t; }();
  fmt::print(
      R"({{"impl": "slope{}", "model": "{}", "hidden": {}, "epochs": {}, "batch": {}, "optimizer": "{}", "seed": {}, )"
      R"("threads": {}, "blas_threads": {}, "train_size": {}, "sec_per_epoch": {:.4f}, "epoch_s": [{:.4f}], )"
      R"("train_s": {:.4f}, "load_s": {:.4f}, "first_step_s": {:.3f}, "train_loss": {:.6f}, )"
      R"("test_acc": {:.4f}, "peak_rss_mb": {:.1f}}})" "\n",
      a.model == "mlp" ? "" : "_residual", a.model, a.hidden, a.epochs, a.batch, a.optimizer, a.seed, a.threads, a.threads,
      train_set.size(), per_epoch, fmt::join(epoch_s, ", "), train_s, load_s, first_step_s,
      last_loss, test.accuracy, peak_rss_mb());
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "slope_mlp: {}\n", e.what());
  return 1;
}
