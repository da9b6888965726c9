// Lecture section 6, learning-rate schedules: the same model, data and peak
// learning rate trained under six schedules, the schedules checked against
// the lecture's formulas, and the linear scaling rule.
//
//   build/examples/example_schedules [--epochs N] [--train N] [--scaling-epochs N]
//                                    [--seed S] [--out DIR]
//
// Model: the linear softmax classifier on Fashion-MNIST (the first --train
// training images, a twelfth of them held out for validation), SGD with
// momentum 0.9, batch 128, peak lr 0.3, --epochs epochs (T steps in all), under
//   constant, step decay (x 0.1 at 50% and 75% of the run), cosine, linear
//   decay, inverse square root, and one epoch of linear warm-up then cosine.
// Prints slope's learning rate at a few steps of each schedule next to the
// lecture's formula, then per schedule the mean training loss of every epoch,
// the final training loss and the validation accuracy; last, the linear
// scaling rule: batch 64 at lr 0.01 against batch 256 at lr 0.01 and at
// sched::scale_lr(0.01, 64, 256) = 0.04, for --scaling-epochs epochs. Writes
//   sched-loss.svg   training loss against epoch, one curve per schedule
//   sched-lr.svg     the learning rate itself against step
// Defaults are the full settings of docs/tutorials/07-schedules.md (about
// 7 s with OPENBLAS_NUM_THREADS=1); pictures go to --out (default docs/img,
// created if missing).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <numbers>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "example_args.hpp"
#include "slope/error.hpp"
#include "slope/plot.hpp"
#include "slope/schedule.hpp"
#include "slope/train.hpp"

using namespace slope;
namespace fs = std::filesystem;

namespace {

constexpr double kPeakLr = 0.3;

struct Options {
  std::size_t epochs = 10;
  std::size_t train = 60000;        // training images used (validation carved from them)
  std::size_t scaling_epochs = 2;   // epochs of each linear-scaling run
  std::uint64_t seed = 0;
  fs::path out = "docs/img";
};

// "--key value" pairs; ValueError naming the bad argument.
Options parse(int argc, char** argv) {
  examples::KeyValueArgs args(argc, argv);
  Options o;
  args.integer("epochs", o.epochs, 2, 200);
  args.integer("train", o.train, 1200, 60000);
  args.integer("scaling-epochs", o.scaling_epochs, 1, 100);
  args.integer("seed", o.seed, 0, 1LL << 62);
  args.path("out", o.out);
  args.finish();
  return o;
}

// One schedule of the comparison: how the Trainer is configured for it, and
// the lecture's formula for lr_t written out independently of slope::sched.
struct Schedule {
  const char* label;
  const char* name;       // Config::schedule
  double warmup_epochs;   // Config::warmup_epochs
  const char* formula;    // as the lecture writes it
  // lr at 0-based step t of a run of T steps with W warm-up steps.
  std::function<double(std::int64_t t, std::int64_t T, std::int64_t W)> lecture;
};

double cosine(double t, double T) { return 0.5 * kPeakLr * (1.0 + std::cos(std::numbers::pi * t / T)); }

const std::vector<Schedule>& schedules() {
  static const std::vector<Schedule> all = {
      {"constant", "constant", 0, "lr_t = lr0", [](auto, auto, auto) { return kPeakLr; }},
      {"step decay", "step", 0, "lr_t = lr0 * 0.1^(milestones passed), at T/2 and 3T/4",
       [](auto t, auto T, auto) { return kPeakLr * std::pow(0.1, (t >= T / 2) + (t >= T * 3 / 4)); }},
      {"cosine", "cosine", 0, "lr_t = 0.5 lr0 (1 + cos(pi t / T))",
       [](auto t, auto T, auto) { return cosine(double(t), double(T)); }},
      {"linear decay", "linear", 0, "lr_t = lr0 (1 - t / T)",
       [](auto t, auto T, auto) { return kPeakLr * (1.0 - double(t) / double(T)); }},
      {"inverse sqrt", "invsqrt", 0, "lr_t = lr0 / sqrt(t), t counted from 1",
       [](auto t, auto, auto) { return kPeakLr / std::sqrt(double(t + 1)); }},
      {"warm-up + cosine", "cosine", 1,
       "lr_t = lr0 t / W for t < W, then cosine over the remaining T - W steps",
       [](auto t, auto T, auto W) {
         return t < W ? kPeakLr * double(t) / double(W) : cosine(double(t - W), double(T - W));
       }},
  };
  return all;
}

train::Config config_for(const Schedule& s, const Options& o, std::size_t val_size) {
  train::Config c;
  c.model = "linear";
  c.loss = "softmax";
  c.reg = "none";
  c.dropout = {0.0};
  c.optimizer = "momentum";  // v = rho v + g; w -= lr v
  c.momentum = 0.9;
  c.weight_decay = 0.0;
  c.lr = kPeakLr;
  c.schedule = s.name;
  c.warmup_epochs = s.warmup_epochs;
  c.epochs = o.epochs;
  c.batch = 128;
  c.seed = o.seed;
  c.val_size = val_size;
  return c;
}

// The learning rate of slope's schedule next to the lecture's formula at a
// few steps; returns the largest difference over every step of the run.
double check_formula(const Schedule& s, const train::Trainer& t, std::int64_t per_epoch) {
  const std::int64_t T = t.total_steps();
  const auto W = static_cast<std::int64_t>(std::llround(s.warmup_epochs * double(per_epoch)));
  double worst = 0.0;
  for (std::int64_t step = 0; step < T; ++step)
    worst = std::max(worst, std::abs(t.lr_at(step) - s.lecture(step, T, W)));
  std::vector<std::int64_t> probes = {0, T / 4, T / 2, T * 3 / 4, T - 1};
  if (W > 0) probes.insert(probes.end(), {W / 2, W});
  std::sort(probes.begin(), probes.end());
  probes.erase(std::unique(probes.begin(), probes.end()), probes.end());
  fmt::print("  {:<17} {}\n", s.label, s.formula);
  std::string steps, ours, theirs;
  for (std::int64_t p : probes) {
    steps += fmt::format(" {:>9}", p);
    ours += fmt::format(" {:>9.6f}", t.lr_at(p));
    theirs += fmt::format(" {:>9.6f}", s.lecture(p, T, W));
  }
  fmt::print("    t      {}\n    slope  {}\n    formula{}\n    largest |slope - formula| over all {} steps: {:.1e}\n",
             steps, ours, theirs, T, worst);
  return worst;
}

// Mean of each run of `n` consecutive values (the last run may be shorter).
std::vector<double> block_means(const std::vector<double>& v, std::size_t n) {
  std::vector<double> out;
  for (std::size_t i = 0; i < v.size(); i += n) {
    const std::size_t end = std::min(v.size(), i + n);
    double s = 0.0;
    for (std::size_t j = i; j < end; ++j) s += v[j];
    out.push_back(s / double(end - i));
  }
  return out;
}

void compare_schedules(const data::Dataset& train, const Options& o, std::size_t val_size) {
  fmt::print("\nthe schedules (lr0 = {}, T = total steps, W = warm-up steps):\n", kPeakLr);
  plot::Figure loss_fig("Training loss under six schedules (same model, data, peak lr)");
  loss_fig.xlabel("epoch").ylabel("training loss (mean over a fifth of an epoch)").ylim(0.3, 0.75);
  plot::Figure lr_fig("The learning rate of each schedule");
  lr_fig.xlabel("epoch").ylabel("learning rate");

  struct Result {
    std::vector<double> epoch_loss;
    double train_loss, val_accuracy;
  };
  std::vector<Result> results;
  double worst = 0.0;
  for (const Schedule& s : schedules()) {
    train::Trainer t(config_for(s, o, val_size), train);
    const auto per_epoch = static_cast<std::int64_t>(t.total_steps() / static_cast<std::int64_t>(o.epochs));
    worst = std::max(worst, check_formula(s, t, per_epoch));

    std::vector<double> losses;
    Result r;
    train::EpochStats stats;
    while (!t.done()) {
      stats = t.run_epoch([&](std::size_t, std::size_t, double loss) { losses.push_back(loss); });
      r.epoch_loss.push_back(stats.data_loss);
    }
    r.train_loss = t.evaluate(train, t.split().train).data_loss;
    r.val_accuracy = stats.val_accuracy;
    results.push_back(r);

    const std::size_t block = std::max<std::size_t>(1, static_cast<std::size_t>(per_epoch) / 5);
    const std::vector<double> smooth = block_means(losses, block);
    std::vector<double> at(smooth.size());
    for (std::size_t i = 0; i < at.size(); ++i) at[i] = (double(i) + 0.5) * double(block) / double(per_epoch);
    loss_fig.line(at, smooth, s.label);
    std::vector<double> epoch, lr;  // about 500 samples, always the last step
    const std::int64_t every = std::max<std::int64_t>(1, t.total_steps() / 500);
    for (std::int64_t step = 0; step < t.total_steps(); step += every) {
      epoch.push_back(double(step) / double(per_epoch));
      lr.push_back(t.lr_at(step));
    }
    lr_fig.line(epoch, lr, s.label);
  }
  fmt::print("all six schedules agree with the lecture's formulas: {} (largest difference {:.1e})\n",
             worst < 1e-12 ? "yes" : "NO", worst);
  loss_fig.vline(double(o.epochs) / 2, "step decay: lr x 0.1", {.color = "#999999", .dashed = true});
  loss_fig.vline(double(o.epochs) * 3 / 4, "", {.color = "#999999", .dashed = true});
  loss_fig.save(o.out / "sched-loss.svg");
  lr_fig.save(o.out / "sched-lr.svg");

  fmt::print("\ntraining: linear classifier, SGD + momentum 0.9, batch 128, peak lr {}, {} epochs\n",
             kPeakLr, o.epochs);
  const std::string header = "mean training loss of each epoch";
  const std::size_t width = std::max(header.size(), 6 * o.epochs);
  fmt::print("  {:<17} {:<{}} {:>10} {:>8}\n", "schedule", header, width, "final loss", "val acc");
  for (std::size_t i = 0; i < results.size(); ++i) {
    std::string row;
    for (double l : results[i].epoch_loss) row += fmt::format("{:6.3f}", l);
    fmt::print("  {:<17} {:<{}} {:>10.4f} {:>7.2f}%\n", schedules()[i].label, row, width,
               results[i].train_loss, 100 * results[i].val_accuracy);
  }
}

// Multiply the batch by n, multiply the learning rate by n: the runs then
// follow nearly the same path per example seen (while lr stays small).
void linear_scaling(const data::Dataset& train, const Options& o, std::size_t val_size) {
  const double base_lr = 0.01;
  const std::int64_t base_batch = 64, batch = 256;
  fmt::print("\nlinear scaling rule: batch x {} -> lr x {} (sched::scale_lr), {} epoch{}, constant lr\n",
             batch / base_batch, batch / base_batch, o.scaling_epochs, o.scaling_epochs == 1 ? "" : "s");
  struct Run {
    std::int64_t batch;
    double lr;
    const char* what;
  };
  for (const Run r : {Run{base_batch, base_lr, "base"}, Run{batch, base_lr, "batch x 4, same lr"},
                      Run{batch, sched::scale_lr(base_lr, base_batch, batch), "batch x 4, lr x 4"}}) {
    train::Config c = config_for(schedules()[0], o, val_size);
    c.epochs = o.scaling_epochs;
    c.batch = static_cast<std::size_t>(r.batch);
    c.lr = r.lr;
    train::Trainer t(c, train);
    train::EpochStats stats;
    while (!t.done()) stats = t.run_epoch();
    fmt::print("  batch {:>3}, lr {:<5g} {:<19} training loss {:.4f}, val acc {:.2f}%\n", r.batch, r.lr, r.what,
               t.evaluate(train, t.split().train).data_loss, 100 * stats.val_accuracy);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    o = parse(argc, argv);
  } catch (const ValueError& e) {
    fmt::print(stderr, "example_schedules: {}\n", e.what());
    return 2;
  }
  try {
    fs::create_directories(o.out);
    const data::Dataset all = data::fashion_mnist("train");
    const data::Dataset train = o.train < all.size()
        ? data::subset(all, data::all_indices(o.train)) : all;
    const std::size_t val_size = o.train / 12;  // 5000 of 60000
    fmt::print("Fashion-MNIST: {} training images, {} of them held out for validation\n", train.size(),
               val_size);
    compare_schedules(train, o, val_size);
    linear_scaling(train, o, val_size);
    fmt::print("\nwrote {} and {}\n", (o.out / "sched-loss.svg").string(), (o.out / "sched-lr.svg").string());
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "example_schedules: {}\n", e.what());
    return 1;
  }
}
