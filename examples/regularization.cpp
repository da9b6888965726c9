// Lecture section 3, regularization: full loss = data loss + lambda * R(W).
//
//   build/examples/example_regularization [--out DIR] [--quick]
//
// (a) the worked example: two weight vectors that score x = [1,1,1,1] the
//     same, ranked by L2, L1 and the elastic net;
// (b) the same linear softmax classifier trained with L1 and with L2 on
//     Fashion-MNIST: L1 makes most weights (nearly) zero, L2 spreads them
//     (reg-histograms.svg);
// (c) training and validation accuracy against lambda on 1000 examples, few
//     enough to overfit: validation peaks in between (reg-lambda.svg);
// (d) a degree-9 polynomial through 10 noisy points (f1) against the same
//     polynomial with an L2 penalty (f2), on held-out points (reg-polyfit.svg).
//
// Pictures go to DIR (default: the current directory). --quick uses smaller
// subsets and fewer steps (for the test suite, about 5 s); the full settings
// take about 15 s of CPU time. Fashion-MNIST is read from the Debian package
// dataset-fashion-mnist (/usr/share/datasets/fashion-mnist).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "slope/data.hpp"
#include "slope/loss.hpp"
#include "slope/nn.hpp"
#include "slope/optim.hpp"
#include "slope/plot.hpp"
#include "example_args.hpp"

using namespace slope;
namespace fs = std::filesystem;

namespace {

struct Settings {
  std::size_t val = 5000;          // validation examples, shared by (b) and (c)
  std::size_t hist_train = 5000;   // (b) training examples
  int hist_steps = 200;            // (b) full-batch steps of SGD with momentum
  std::size_t sweep_train = 1000;  // (c) few enough that a linear model overfits
  int sweep_iters = 200;           // (c) L-BFGS iterations per lambda
  std::vector<double> lambdas;     // (c) the log grid
};

Settings settings(bool quick) {
  Settings s;
  for (double e = -5; e <= 0.01; e += 0.5) s.lambdas.push_back(std::pow(10.0, e));
  if (!quick) return s;
  s.val = 1000;
  s.hist_train = 1000;
  s.hist_steps = 60;
  s.sweep_train = 300;
  s.sweep_iters = 60;
  s.lambdas = {1e-4, 1e-3, 1e-2, 1e-1, 1.0};
  return s;
}

// ---- (a) the worked example -------------------------------------------------------

void worked_example() {
  fmt::print("(a) worked example: x = [1, 1, 1, 1]\n");
  const Tensor64 x = {1.0, 1.0, 1.0, 1.0};
  const std::vector<std::pair<const char*, Tensor64>> ws = {
      {"w1 = [1, 0, 0, 0]      ", {1.0, 0.0, 0.0, 0.0}},
      {"w2 = [.25, .25, .25, .25]", {0.25, 0.25, 0.25, 0.25}},
      {"w3 = [0.9, 0, 0, 0]    ", {0.9, 0.0, 0.0, 0.0}}};
  std::vector<double> r2, r1;
  for (const auto& [label, w] : ws) {
    const double score = sum(x * w).item();  // w^T x
    r2.push_back(l2(w).item());              // sum w^2
    r1.push_back(l1(w).item());              // sum |w|
    fmt::print("  {}  score {:.2f}  L2 {:.4f}  L1 {:.4f}  elastic net (beta 1) {:.4f}\n", label,
               score, r2.back(), r1.back(), elastic_net(w, 1.0).item());
  }
  fmt::print("  L2: R(w1) / R(w2) = {:.2f}, so L2 prefers the spread-out w2\n", r2[0] / r2[1]);
  fmt::print("  L1: R(w1) = R(w2) = {:.2f}, a tie; L1 prefers the sparse w3 to w2 ({:.2f} < {:.2f})\n",
             r1[0], r1[2], r1[1]);
  // Why L1 makes zeros: its pull on a weight is lambda * sign(w) however small
  // w is, while L2's, 2 * lambda * w, fades as w shrinks.
  Tensor64 small = Tensor64({0.5, 0.1, 0.01, 0.001}).set_requires_grad();
  l2(small).backward();
  const auto g2 = small.grad();
  small.zero_grad();
  l1(small).backward();
  fmt::print("  at w = [0.5, 0.1, 0.01, 0.001]: dL2/dw = [{:.3g}], dL1/dw = [{:.3g}]\n\n",
             fmt::join(g2, ", "), fmt::join(small.grad(), ", "));
}

// ---- data ---------------------------------------------------------------------------

template <class T>
struct Batch {
  TensorT<T> x;
  std::vector<std::int32_t> y;
};

template <class T>
Batch<T> gather(const data::Dataset& d, std::span<const std::size_t> idx,
                const data::Preprocess& prep) {
  xt::xarray<T> x = xt::xarray<T>::from_shape({idx.size(), d.dim()});
  std::vector<std::int32_t> y(idx.size());
  data::gather(d, idx, prep, std::span(x.data(), x.size()), std::span(y));
  return {TensorT<T>(std::move(x)), std::move(y)};
}

template <class T>
double accuracy_of(const nn::MLP<T>& model, const Batch<T>& b) {
  NoGradGuard no_grad;
  return nn::accuracy(model(b.x).value(), b.y);
}

// ---- (b) L1 against L2 ------------------------------------------------------------------

struct WeightStats {
  double near_zero;  // fraction with |w| < 1e-3
  double median_abs, rms, max_abs;
};

WeightStats stats_of(const std::vector<double>& w) {
  std::vector<double> a(w.size());
  double sq = 0.0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    a[i] = std::abs(w[i]);
    sq += w[i] * w[i];
  }
  std::sort(a.begin(), a.end());
  const auto small = std::count_if(a.begin(), a.end(), [](double v) { return v < 1e-3; });
  return {static_cast<double>(small) / a.size(), a[a.size() / 2], std::sqrt(sq / a.size()),
          a.back()};
}

void l1_against_l2(const data::Dataset& full, std::span<const std::size_t> train_idx,
                   std::span<const std::size_t> val_idx, const Settings& s, const fs::path& out) {
  fmt::print("(b) L1 against L2: linear softmax classifier, {} training examples, "
             "{} full-batch steps\n", train_idx.size(), s.hist_steps);
  const data::Preprocess prep = data::fit_preprocess(full, train_idx);
  const Batch<float> train = gather<float>(full, train_idx, prep);
  const Batch<float> val = gather<float>(full, val_idx, prep);
  // Comparable strengths: at a typical weight |w| = 0.05 both pull equally
  // hard (2 * 1e-2 * 0.05 = 1e-3), and both end at about the same accuracy.
  struct Run {
    const char* name;
    double lambda;
    bool is_l1;
    std::vector<double> w;  // the trained weights
  };
  std::vector<Run> runs = {{"L1", 1e-3, true, {}}, {"L2", 1e-2, false, {}}};
  for (Run& run : runs) {
    Rng rng(1);
    // W starts at 0: a weight that ends away from 0 was pulled there by the data.
    nn::LinearClassifier<float> model(full.dim(), full.num_classes(), rng, nn::Init::normal(0.0));
    optim::SGD<float> opt(model.parameters(), {.lr = 0.1, .momentum = 0.9});
    const float lambda = static_cast<float>(run.lambda);
    for (int step = 0; step < s.hist_steps; ++step) {
      const Tensor reg = run.is_l1 ? l1(model.weights()) : l2(model.weights());
      const Tensor loss = softmax_cross_entropy(model(train.x), train.y) + lambda * reg;
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
    const auto& W = model.weights()[0].value();
    run.w.assign(W.begin(), W.end());
    const WeightStats st = stats_of(run.w);
    fmt::print("  {} (lambda {:g}): train {:.1f}%  val {:.1f}%  |w| < 1e-3: {:.1f}%  "
               "median |w| {:.1e}  rms {:.3f}  max |w| {:.3f}\n",
               run.name, run.lambda, 100 * accuracy_of<float>(model, train),
               100 * accuracy_of<float>(model, val), 100 * st.near_zero, st.median_abs, st.rms,
               st.max_abs);
  }
  const double edge = std::max(stats_of(runs[0].w).max_abs, stats_of(runs[1].w).max_abs);
  plot::Figure fig("Weights of a linear classifier: L1 against L2");
  fig.xlabel("weight value").ylabel("number of weights (log scale)").log_y();
  for (const Run& run : runs)
    fig.histogram(run.w, 81, fmt::format("{}, lambda = {:g}", run.name, run.lambda), {}, -edge, edge);
  fig.save(out / "reg-histograms.svg");
  fmt::print("  wrote {}\n\n", (out / "reg-histograms.svg").string());
}

// ---- (c) lambda on the validation set -----------------------------------------------------

void choose_lambda(const data::Dataset& full, std::span<const std::size_t> train_idx,
                   std::span<const std::size_t> val_idx, const Settings& s, const fs::path& out) {
  fmt::print("(c) lambda on a log grid: linear softmax + lambda * L2, {} training examples, "
             "{} validation, L-BFGS (full batch, float64)\n", train_idx.size(), val_idx.size());
  const data::Preprocess prep = data::fit_preprocess(full, train_idx);
  const Batch<double> train = gather<double>(full, train_idx, prep);
  const Batch<double> val = gather<double>(full, val_idx, prep);
  // Trains from the same start for each lambda. The loss is convex in W and b,
  // so L-BFGS has no local minima to get caught in.
  const auto fit = [&](double lambda) {
    Rng rng(1);
    nn::LinearClassifier<double> model(full.dim(), full.num_classes(), rng);
    optim::LBFGS<double> opt(model.parameters(), {.max_iter = s.sweep_iters,
                                                  .tolerance_grad = 1e-9,
                                                  .tolerance_change = 1e-12});
    opt.step([&] {
      opt.zero_grad();
      const Tensor64 loss = softmax_cross_entropy(model(train.x), train.y) + lambda * l2(model.weights());
      loss.backward();
      return loss.item();
    });
    return model;
  };
  const auto size_of = [](const nn::MLP<double>& model) { return l2(model.weights()).item(); };
  fmt::print("  {:>8}  {:>6}  {:>6}  {:>9}\n", "lambda", "train", "val", "sum W^2");
  const auto none = fit(0.0);
  const double val_none = accuracy_of<double>(none, val);
  fmt::print("  {:>8}  {:>5.1f}%  {:>5.1f}%  {:>9.3g}\n", "0", 100 * accuracy_of<double>(none, train),
             100 * val_none, size_of(none));
  std::vector<double> train_acc, val_acc;
  std::size_t best = 0;
  for (double lambda : s.lambdas) {
    const auto model = fit(lambda);
    train_acc.push_back(accuracy_of<double>(model, train));
    val_acc.push_back(accuracy_of<double>(model, val));
    if (val_acc.back() > val_acc[best]) best = val_acc.size() - 1;
    fmt::print("  {:>8.0e}  {:>5.1f}%  {:>5.1f}%  {:>9.3g}\n", lambda, 100 * train_acc.back(),
               100 * val_acc.back(), size_of(model));
  }
  const double chosen = s.lambdas[best];
  fmt::print("  chosen lambda {:.0e}: validation {:.1f}% (lambda 0: {:.1f}%), training {:.1f}% "
             "(smallest lambda: {:.1f}%)\n", chosen, 100 * val_acc[best], 100 * val_none,
             100 * train_acc[best], 100 * train_acc.front());

  // The test set, touched once, with the chosen lambda.
  const data::Dataset test_set = data::fashion_mnist("test");
  const Batch<double> test = gather<double>(test_set, data::all_indices(test_set.size()), prep);
  fmt::print("  test accuracy at the chosen lambda: {:.1f}% (lambda 0: {:.1f}%)\n",
             100 * accuracy_of<double>(fit(chosen), test), 100 * accuracy_of<double>(none, test));

  std::vector<double> tr_pct, va_pct;
  for (std::size_t i = 0; i < s.lambdas.size(); ++i) {
    tr_pct.push_back(100 * train_acc[i]);
    va_pct.push_back(100 * val_acc[i]);
  }
  plot::Figure fig(fmt::format("Accuracy against lambda ({} training examples)", train_idx.size()));
  fig.xlabel("lambda (log scale)").ylabel("accuracy (%)").log_x();
  fig.line(s.lambdas, tr_pct, "training", {.color = plot::palette(0), .markers = true});
  fig.line(s.lambdas, va_pct, "validation", {.color = plot::palette(1), .markers = true});
  fig.hline(100 * val_none, "validation, lambda = 0", {.color = "grey", .dashed = true});
  fig.vline(chosen, fmt::format("chosen lambda = {:.0e}", chosen), {.color = "black", .dashed = true});
  fig.save(out / "reg-lambda.svg");
  fmt::print("  wrote {}\n\n", (out / "reg-lambda.svg").string());
}

// ---- (d) the polynomial picture ---------------------------------------------------------

double truth(double x) { return 1.0 + 0.5 * x - x * x; }

// Rows [1, x, x^2, ..., x^degree].
Tensor64 powers(const std::vector<double>& xs, std::size_t degree) {
  xt::xarray<double> f = xt::xarray<double>::from_shape({xs.size(), degree + 1});
  for (std::size_t i = 0; i < xs.size(); ++i)
    for (std::size_t k = 0; k <= degree; ++k) f(i, k) = std::pow(xs[i], static_cast<double>(k));
  return Tensor64(std::move(f));
}

Tensor64 column(const std::vector<double>& v) {
  xt::xarray<double> c = xt::xarray<double>::from_shape({v.size(), 1});
  std::copy(v.begin(), v.end(), c.begin());
  return Tensor64(std::move(c));
}

// Minimises L(w) = mean((F w - y)^2) + lambda * sum w^2 in closed form: the
// gradient (2/N) F^T (F w - y) + 2 lambda w is 0 where
// (F^T F + N lambda I) w = F^T y. Autograd confirms the gradient vanishes.
Tensor64 least_squares(const Tensor64& F, const Tensor64& y, double lambda) {
  const std::size_t n = F.shape()[0], k = F.shape()[1];
  const Tensor64 A = matmul(transpose(F), F), b = matmul(transpose(F), y);
  std::vector<double> a(A.value().begin(), A.value().end());
  for (std::size_t i = 0; i < k; ++i) a[i * k + i] += static_cast<double>(n) * lambda;
  const std::vector<double> w = optim::solve_dense(a, {b.value().begin(), b.value().end()});
  Tensor64 wt = column(w).set_requires_grad();
  const Tensor64 loss = mean(square(matmul(F, wt) - y)) + lambda * l2(wt);
  loss.backward();
  fmt::print("    lambda {:g}: max |dL/dw| at the solution {:.1e}, max |w| {:.2f}\n", lambda,
             xt::amax(xt::abs(wt.grad()))(), xt::amax(xt::abs(wt.value()))());
  return wt;
}

double mse(const Tensor64& F, const Tensor64& w, const Tensor64& y) {
  NoGradGuard no_grad;
  return mean(square(matmul(F, w) - y)).item();
}

void polynomial_fit(const fs::path& out) {
  constexpr std::size_t kPoints = 10, kDegree = 9, kHeldOut = 200;
  constexpr double kNoise = 0.15, kLambda = 1e-3;
  fmt::print("(d) {} noisy points of y = 1 + 0.5x - x^2 (noise sd {}), polynomials of degree {}\n",
             kPoints, kNoise, kDegree);
  Rng rng(3);
  std::vector<double> xs, ys, xh, yh;
  for (std::size_t i = 0; i < kPoints; ++i) {
    xs.push_back(-1.0 + 2.0 * static_cast<double>(i) / (kPoints - 1));
    ys.push_back(truth(xs.back()) + kNoise * rng.normal());
  }
  for (std::size_t i = 0; i < kHeldOut; ++i) {
    xh.push_back(rng.uniform(-1.0, 1.0));
    yh.push_back(truth(xh.back()) + kNoise * rng.normal());
  }
  const Tensor64 F = powers(xs, kDegree), H = powers(xh, kDegree);
  const Tensor64 y = column(ys), y_held = column(yh);
  const Tensor64 f1 = least_squares(F, y, 0.0), f2 = least_squares(F, y, kLambda);
  for (const auto& [name, w] : {std::pair{"f1 (lambda 0)    ", f1}, std::pair{"f2 (lambda 1e-3) ", f2}})
    fmt::print("  {} train MSE {:.2e}  held-out MSE {:.2e}\n", name, mse(F, w, y), mse(H, w, y_held));
  fmt::print("  (noise variance {:.2e}: the best any curve can do on held-out points)\n", kNoise * kNoise);

  std::vector<double> grid, g_true;
  for (int i = 0; i <= 400; ++i) {
    grid.push_back(-1.0 + i / 200.0);
    g_true.push_back(truth(grid.back()));
  }
  NoGradGuard no_grad;
  const Tensor64 G = powers(grid, kDegree);
  const auto curve = [&](const Tensor64& w) {
    const Tensor64 v = matmul(G, w);
    return std::vector<double>(v.value().begin(), v.value().end());
  };
  plot::Figure fig("Degree-9 polynomials through 10 noisy points");
  fig.xlabel("x").ylabel("y").ylim(-1.0, 2.6);  // head room for the legend
  fig.scatter(xh, yh, "held-out points", {.color = "#bbbbbb", .marker_size = 2.0});
  fig.line(grid, g_true, "true curve", {.color = "grey", .dashed = true});
  fig.line(grid, curve(f1), "f1: no regularization", {.color = "#d62728"});
  fig.line(grid, curve(f2), "f2: lambda = 1e-3 (L2)", {.color = "#1f77b4"});
  fig.scatter(xs, ys, "training points", {.color = "black", .marker_size = 4.0});
  fig.save(out / "reg-polyfit.svg");
  fmt::print("  wrote {}\n", (out / "reg-polyfit.svg").string());
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = examples::figure_args(argc, argv, false);
  if (!args) return 2;
  const bool quick = args->quick;
  const fs::path out = args->out;
  try {
    fs::create_directories(out);
    const Settings s = settings(quick);
    worked_example();

    const data::Dataset full = data::fashion_mnist("train");
    Rng rng(0);
    std::vector<std::size_t> order = data::all_indices(full.size());
    rng.shuffle(order.begin(), order.end());
    const std::span<const std::size_t> all(order);
    const auto val = all.subspan(0, s.val);
    l1_against_l2(full, all.subspan(s.val, s.hist_train), val, s, out);
    choose_lambda(full, all.subspan(s.val, s.sweep_train), val, s, out);
    polynomial_fit(out);
  } catch (const std::exception& e) {
    fmt::print(stderr, "example_regularization: {}\n", e.what());
    return 1;
  }
  return 0;
}
