// Lecture section 4 (finding the best W) and the first half of section 6 (the
// learning rate), on Fashion-MNIST with the linear softmax classifier
// f(x) = x W + b (784 pixels in, 10 scores out).
//
//   build/examples/example_descent [--subset N] [--trials N] [--gd-iters N]
//                                  [--train N] [--epochs N] [--seed S] [--out DIR]
//
// (a) strategy 1, random search: the best of --trials random W (entries
//     N(0, 1e-3^2)) by training loss on the first --subset training images;
//     accuracy on the 10000 test images against chance (10%).
// (b) strategy 2, full-batch gradient descent on the same --subset images,
//     w <- w - 0.3 * grad, stopped by an iteration budget or by a loss
//     tolerance (at most --gd-iters updates); prints why each run stopped.
// (c) minibatch SGD (lr 0.1) with batches of 32, 64, 128 and 256 for one epoch
//     over the first --train training images: loss against examples seen and
//     the noise of the minibatch loss.                       -> sgd-batch.svg
// (d) four learning rates (too high, high-ish, good, too low) for --epochs
//     epochs at batch 128: a table of first and final loss,   -> lr-curves.svg
//     and a two-layer net whose loss overflows to Inf.
//
// Defaults are the full settings of docs/tutorials/05-gradient-descent.md
// (about 11 s on 2 cores); pictures go to --out (default docs/img, created if
// missing). The test passes small settings.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "example_args.hpp"
#include "slope/data.hpp"
#include "slope/error.hpp"
#include "slope/nn.hpp"
#include "slope/optim.hpp"
#include "slope/plot.hpp"

using namespace slope;
namespace fs = std::filesystem;

namespace {

struct Options {
  std::size_t subset = 5000;   // training images for random search and full-batch descent
  int trials = 1000;           // random W drawn in (a)
  int gd_iters = 500;          // most updates of the tolerance-stopped descent in (b)
  std::size_t train = 60000;   // training images for minibatch SGD in (c) and (d)
  std::size_t epochs = 5;      // epochs per learning rate in (d)
  std::uint64_t seed = 0;
  fs::path out = "docs/img";
};

// "--key value" pairs; ValueError naming the bad argument.
Options parse(int argc, char** argv) {
  examples::KeyValueArgs args(argc, argv);
  Options o;
  args.integer("subset", o.subset, 10, 60000);
  args.integer("trials", o.trials, 1, 100000);
  args.integer("gd-iters", o.gd_iters, 1, 100000);
  args.integer("train", o.train, 256, 60000);
  args.integer("epochs", o.epochs, 1, 100);
  args.integer("seed", o.seed, 0, 1LL << 62);
  args.path("out", o.out);
  args.finish();
  return o;
}

// Preprocessed rows of a data set, as one tensor, with their labels.
struct Rows {
  Tensor x;
  std::vector<std::int32_t> y;
};

Rows rows_of(const data::Dataset& d, std::span<const std::size_t> idx, const data::Preprocess& prep) {
  xt::xarray<float> x = xt::xarray<float>::from_shape({idx.size(), d.dim()});
  std::vector<std::int32_t> y(idx.size());
  data::gather(d, idx, prep, std::span(x.data(), x.size()), std::span(y));
  return {Tensor(std::move(x)), std::move(y)};
}

double loss_on(const nn::MLP<float>& model, const Rows& rows) {
  NoGradGuard no_grad;
  return softmax_cross_entropy(model(rows.x), rows.y).item();
}

double accuracy_on(const nn::MLP<float>& model, const Rows& rows) {
  NoGradGuard no_grad;
  return nn::accuracy(model(rows.x).value(), rows.y);
}

// One minibatch SGD run: the loss of every minibatch, before its update.
struct Curve {
  std::vector<double> seen;  // examples seen before the step
  std::vector<double> loss;  // minibatch loss at that point
  std::size_t blew_up = 0;   // 1-based step whose loss was NaN or Inf (0: never)
};

// `epochs` passes over `indices` in minibatches of `batch`, each epoch in a
// fresh shuffled order, w <- w - lr * grad of the minibatch loss.
Curve sgd(nn::MLP<float>& model, const data::Dataset& train, const std::vector<std::size_t>& indices,
          const data::Preprocess& prep, std::size_t batch, double lr, std::size_t epochs,
          std::uint64_t seed) {
  optim::SGD<float> opt(model.parameters(), {.lr = lr});
  data::Minibatches batches(indices, batch, Rng(seed));
  Curve c;
  for (std::size_t seen = 0; batches.epoch() < epochs; batches.next_epoch()) {
    while (batches.has_next()) {
      const Rows b = rows_of(train, batches.next(), prep);
      const Tensor loss = softmax_cross_entropy(model(b.x), b.y);
      c.seen.push_back(static_cast<double>(seen));
      c.loss.push_back(loss.item());
      if (!std::isfinite(c.loss.back())) {
        c.blew_up = c.loss.size();
        return c;
      }
      opt.zero_grad();
      loss.backward();
      opt.step();
      seen += b.y.size();
    }
  }
  return c;
}

// The x axis of a curve in epochs: examples seen / examples per epoch.
std::vector<double> in_epochs(const Curve& c, std::size_t per_epoch) {
  std::vector<double> epoch(c.seen.size());
  for (std::size_t i = 0; i < epoch.size(); ++i) epoch[i] = c.seen[i] / static_cast<double>(per_epoch);
  return epoch;
}

// Noise of a minibatch-loss curve over its second half: successive losses
// differ by two independent noises (the drift of one step is far smaller), so
// sigma = std(l[t+1] - l[t]) / sqrt(2).
double noise(const std::vector<double>& loss) {
  const std::size_t from = loss.size() / 2;
  std::vector<double> d;
  for (std::size_t t = from; t + 1 < loss.size(); ++t) d.push_back(loss[t + 1] - loss[t]);
  if (d.size() < 2) return 0.0;
  double mean = 0.0, var = 0.0;
  for (double v : d) mean += v / static_cast<double>(d.size());
  for (double v : d) var += (v - mean) * (v - mean) / static_cast<double>(d.size() - 1);
  return std::sqrt(var / 2.0);
}

// Mean of the last `fraction` of a curve (at least one point).
double tail_mean(const std::vector<double>& v, double fraction) {
  const auto n = std::max<std::size_t>(1, static_cast<std::size_t>(fraction * static_cast<double>(v.size())));
  double s = 0.0;
  for (std::size_t i = v.size() - n; i < v.size(); ++i) s += v[i];
  return s / static_cast<double>(n);
}

// Trailing mean over `window` points, so that the level of a noisy curve shows.
std::vector<double> smooth(const std::vector<double>& v, std::size_t window) {
  std::vector<double> out(v.size());
  double s = 0.0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    s += v[i];
    if (i >= window) s -= v[i - window];
    out[i] = s / static_cast<double>(std::min(i + 1, window));
  }
  return out;
}

void random_search(const Rows& sub, const Rows& test, Rng& rng, int trials) {
  fmt::print("\n(a) strategy 1, random search: {} random W on {} training images\n", trials,
             sub.y.size());
  nn::LinearClassifier<float> model(sub.x.shape()[1], 10, rng);
  const auto loss = [&] { return loss_on(model, sub); };
  const optim::RandomSearchResult r = optim::random_search(model.parameters(), loss, rng, {.trials = trials});
  std::vector<double> sorted = r.losses;
  std::sort(sorted.begin(), sorted.end());
  fmt::print("  training loss of the draws: best {:.5f}, median {:.5f}, worst {:.5f} (ln 10 = {:.5f})\n",
             sorted.front(), sorted[sorted.size() / 2], sorted.back(), std::log(10.0));
  fmt::print("  best draw: trial {}, training accuracy {:.1f}%\n", r.best_trial, 100 * accuracy_on(model, sub));
  fmt::print("  random search test accuracy: {:.1f}% (chance: 10.0%)\n", 100 * accuracy_on(model, test));
}

void gradient_descent(const Rows& sub, const Rows& test, std::uint64_t seed, int max_iter) {
  fmt::print("\n(b) strategy 2, full-batch gradient descent on {} training images, lr 0.3\n", sub.y.size());
  struct Setting {
    int max_iter;
    double tolerance;
  };
  for (const Setting s : {Setting{25, 1e-3}, Setting{max_iter, 1e-3}}) {
    Rng rng(seed);
    nn::LinearClassifier<float> model(sub.x.shape()[1], 10, rng);
    const std::vector<Tensor> params = model.parameters();
    const auto closure = [&] {  // zero the gradients, evaluate, backward: one full-batch gradient
      for (auto p : params) p.zero_grad();
      const Tensor loss = softmax_cross_entropy(model(sub.x), sub.y);
      loss.backward();
      return static_cast<double>(loss.item());
    };
    const optim::DescentResult r = optim::gradient_descent(
        params, closure, {.lr = 0.3, .max_iter = s.max_iter, .tolerance = s.tolerance});
    const auto& l = r.losses;
    fmt::print("  max_iter {:>4}, tolerance {:g}: loss", s.max_iter, s.tolerance);
    for (std::size_t k : {0, 1, 2, 5, 10, 25, 50, 100, 200, 400})
      if (k + 1 < l.size()) fmt::print("  [{}] {:.3f}", k, l[k]);
    fmt::print("\n    stopped after {} updates: {} (last improvement {:.2e}); loss {:.4f}, "
               "test accuracy {:.1f}%\n",
               r.iterations, optim::to_string(r.stop), l.size() > 1 ? l[l.size() - 2] - l.back() : 0.0,
               r.loss(), 100 * accuracy_on(model, test));
  }
}

void epoch_order(const std::vector<std::size_t>& indices, std::uint64_t seed) {
  data::Minibatches batches(indices, 128, Rng(seed));
  std::map<std::size_t, int> visits;
  std::size_t count = 0;
  while (batches.has_next()) {
    for (std::size_t i : batches.next()) ++visits[i];
    ++count;
  }
  const bool once = visits.size() == indices.size() &&
                    std::all_of(visits.begin(), visits.end(), [](const auto& kv) { return kv.second == 1; });
  const std::vector<std::size_t> first(batches.order().begin(), batches.order().begin() + 4);
  batches.next_epoch();
  const std::vector<std::size_t> second(batches.order().begin(), batches.order().begin() + 4);
  fmt::print("  one epoch at batch 128: {} batches, {} examples, each visited exactly once: {}\n", count,
             indices.size(), once ? "yes" : "NO");
  fmt::print("  epoch 1 starts with images {}; epoch 2 (reshuffled) with {}\n", fmt::join(first, ", "),
             fmt::join(second, ", "));
}

void batch_sizes(const data::Dataset& train, const std::vector<std::size_t>& idx,
                 const data::Preprocess& prep, std::uint64_t seed, const fs::path& out) {
  fmt::print("\n(c) minibatch SGD, lr 0.1, one epoch over {} training images\n", idx.size());
  epoch_order(idx, seed + 1);
  const Rows all = rows_of(train, idx, prep);
  std::vector<plot::Figure> panels;  // one per batch size, on the same axes
  fmt::print("  batch  steps  noise of minibatch loss  noise x sqrt(batch)  training loss after the epoch\n");
  for (std::size_t batch : {32, 64, 128, 256}) {
    Rng rng(seed);
    nn::LinearClassifier<float> model(train.dim(), 10, rng);  // the same start for every batch size
    const Curve c = sgd(model, train, idx, prep, batch, 0.1, 1, seed + 1);
    const double sigma = noise(c.loss), after = loss_on(model, all);
    fmt::print("  {:>5}  {:>5}  {:>23.4f}  {:>19.3f}  {:>29.4f}\n", batch, c.loss.size(), sigma,
               sigma * std::sqrt(static_cast<double>(batch)), after);
    plot::Figure& fig = panels.emplace_back(
        fmt::format("batch {}: {} steps, noise {:.3f}, loss after {:.3f}", batch, c.loss.size(), sigma, after),
        460, 300);
    fig.xlabel("examples seen").ylabel("minibatch loss").xlim(0, static_cast<double>(idx.size())).ylim(0, 2.6);
    fig.line(c.seen, c.loss, "", {.color = plot::palette(panels.size() - 1), .width = 1.0});
  }
  plot::save_grid(out / "sgd-batch.svg", panels, 2);
}

void learning_rates(const data::Dataset& train, const std::vector<std::size_t>& idx,
                    const data::Preprocess& prep, std::uint64_t seed, std::size_t epochs,
                    const fs::path& out) {
  fmt::print("\n(d) learning rates: SGD at batch 128 for {} epoch{} over {} training images\n", epochs,
             epochs == 1 ? "" : "s", idx.size());
  struct Rate {
    double lr;
    const char* role;
  };
  plot::Figure fig("Linear classifier: training loss (mean of 20 minibatches)", 560, 420);
  fig.xlabel("epoch").ylabel("training loss (log scale)").log_y();
  fmt::print("  {:>8}  {:<9}  {:>10}  {:>22}  {:>13}\n", "lr", "role", "first loss", "final (last 10% mean)",
             "final / first");
  for (const Rate r : {Rate{100.0, "too high"}, Rate{3.0, "high-ish"}, Rate{0.3, "good"}, Rate{1e-3, "too low"}}) {
    Rng rng(seed);
    nn::LinearClassifier<float> model(train.dim(), 10, rng);
    const Curve c = sgd(model, train, idx, prep, 128, r.lr, epochs, seed + 1);
    const double first = c.loss.front(), last = tail_mean(c.loss, 0.1);
    fmt::print("  {:>8g}  {:<9}  {:>10.4f}  {:>22.4f}  {:>13.3f}\n", r.lr, r.role, first, last, last / first);
    fig.line(in_epochs(c, idx.size()), smooth(c.loss, 20), fmt::format("lr {:g} ({})", r.lr, r.role));
  }

  // The softmax gradient (p - onehot(y)) x / N is bounded, so the linear
  // classifier's loss only grows; a hidden ReLU layer multiplies two growing
  // weight matrices, and its scores overflow float.
  Rng rng(seed);
  nn::TwoLayerNet<float> net(train.dim(), 100, 10, rng);
  const Curve c = sgd(net, train, idx, prep, 128, 3.0, 1, seed + 1);
  plot::Figure blow("Two-layer net 784-100-10, lr 3: loss per step", 560, 420);
  blow.xlabel("step").ylabel("minibatch loss (log scale)").log_y();
  std::vector<double> steps(c.loss.size());
  for (std::size_t i = 0; i < steps.size(); ++i) steps[i] = static_cast<double>(i + 1);
  blow.line(steps, c.loss, "", {.color = plot::palette(4), .markers = true, .marker_size = 2.0});
  if (c.blew_up) {
    fmt::print("  two-layer net 784-100-10 at lr 3: loss {:.3f} -> {:.3g} -> {} at step {}; run stopped\n",
               c.loss.front(), c.loss[c.blew_up >= 2 ? c.blew_up - 2 : 0], c.loss.back(), c.blew_up);
    blow.xlim(0, static_cast<double>(c.blew_up) + 3);
    blow.vline(static_cast<double>(c.blew_up), fmt::format("step {}: loss {}", c.blew_up, c.loss.back()),
               {.color = "#555555", .dashed = true});
  } else {
    fmt::print("  two-layer net 784-100-10 at lr 3: the loss stayed finite ({:.3f} at the end)\n",
               c.loss.back());
  }
  const std::vector<plot::Figure> panels{fig, blow};
  plot::save_grid(out / "lr-curves.svg", panels, 2);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    o = parse(argc, argv);
  } catch (const ValueError& e) {
    fmt::print(stderr, "example_descent: {}\n", e.what());
    return 2;
  }
  try {
    fs::create_directories(o.out);
    const data::Dataset train = data::fashion_mnist("train");
    const data::Dataset test = data::fashion_mnist("test");
    std::vector<std::size_t> idx = data::all_indices(o.train);
    const data::Preprocess prep = data::fit_preprocess(train, idx);  // scale to [0, 1], centre
    fmt::print("Fashion-MNIST: {} training and {} test images of {} pixels, 10 classes\n",
               train.size(), test.size(), train.dim());
    const std::vector<std::size_t> sub_idx = data::all_indices(o.subset);
    const Rows sub = rows_of(train, sub_idx, prep);
    const Rows tst = rows_of(test, data::all_indices(test.size()), prep);

    Rng rng(o.seed);
    random_search(sub, tst, rng, o.trials);
    gradient_descent(sub, tst, o.seed, o.gd_iters);
    batch_sizes(train, idx, prep, o.seed, o.out);
    learning_rates(train, idx, prep, o.seed, o.epochs, o.out);
    fmt::print("\nwrote {} and {}\n", (o.out / "sgd-batch.svg").string(), (o.out / "lr-curves.svg").string());
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "example_descent: {}\n", e.what());
    return 1;
  }
}
