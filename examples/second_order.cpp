// Lecture section 7, second-order optimization, in one program:
//   (a) Newton's method against gradient descent and L-BFGS on two small smooth
//       problems in float64 (softmax regression on the spiral; Rosenbrock's
//       valley): no learning rate, a handful of iterations, quadratic
//       convergence                                     -> second-convergence.svg
//   (b) the cost argument: N^2 Hessian entries and an O(N^3) solve for the
//       parameter counts of real models
//   (c) L-BFGS against Adam, full batch, on a Fashion-MNIST subset
//                                                       -> second-fullbatch.svg
//   (d) the same L-BFGS fed a fresh minibatch at every closure call
//                                                       -> second-minibatch.svg
//
//   build/examples/example_second_order [--out DIR] [--quick] [--data-dir DIR]
//
// Pictures go to DIR (default: the current directory); the ones in docs/img were
// made with `--out docs/img` and the default settings (about 30 s of CPU time).
// --quick is the test suite's short run (gradient descent tries only its three
// largest learning rates; smaller Fashion-MNIST problems). Without the Fashion-MNIST files
// (Debian package dataset-fashion-mnist, or --data-dir) (c) and (d) are skipped.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "slope/data.hpp"
#include "slope/loss.hpp"
#include "slope/nn.hpp"
#include "slope/optim.hpp"
#include "slope/plot.hpp"
#include "example_args.hpp"

using namespace slope;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---- (a) Newton against first-order methods on two small problems ------------------------

// A small smooth problem in float64: its parameters, its loss (a tensor with
// its graph, which Newton differentiates twice), and its starting point.
struct Problem {
  std::string name;
  std::vector<Tensor64> params;
  optim::LossClosure<double> loss;
  std::vector<double> lrs;  // the learning rates tried for gradient descent
  int max_iter;             // gradient descent's budget
  bool convex;              // strictly convex: Newton's asymptotic order is measured
  std::vector<xt::xarray<double>> start;

  // What L-BFGS and gradient descent call: zero the gradients, evaluate, backward.
  optim::Closure closure() const {
    return [this] {
      for (Tensor64 p : params) p.zero_grad();
      const Tensor64 l = loss();
      l.backward();
      return l.item();
    };
  }
  void reset() {
    if (start.empty())
      for (const Tensor64& p : params) start.push_back(p.value());
    for (std::size_t i = 0; i < params.size(); ++i) params[i].mutable_value() = start[i];
  }
};

// L(W, b) = mean_i -log softmax(x_i W + b)[y_i] + 1e-3 * (sum W^2 + sum b^2) on the spiral:
// 9 parameters, strictly convex (the L2 term on W and b: with W alone, one
// constant added to every bias would change nothing, a flat direction), well
// conditioned.
Problem spiral_softmax() {
  Rng rng(0);
  const data::Dataset d = data::spiral(3, 100, rng);
  Tensor64 x(xt::xarray<double>::from_shape({d.size(), d.dim()}));
  std::copy(d.features.begin(), d.features.end(), x.mutable_value().begin());
  Tensor64 W = zeros<double>({2, 3}, true), b = zeros<double>({3}, true);
  auto loss = [=, y = d.labels] { return softmax_cross_entropy(matmul(x, W) + b, y) + 1e-3 * (l2(W) + l2(b)); };
  return {"softmax regression on the spiral (300 points, 9 parameters, lambda 1e-3)", {W, b}, loss,
          {0.25, 0.5, 1, 2, 4, 8, 16}, 2000, true};
}

// Rosenbrock's valley f(a, b) = (1 - a)^2 + 100 (b - a^2)^2 from (-1.2, 1): minimum
// 0 at (1, 1), where the Hessian [[802, -400], [-400, 200]] has eigenvalues 1001.6
// and 0.4: a condition number of 2500.
Problem rosenbrock() {
  Tensor64 a(xt::xarray<double>{-1.2}, true), b(xt::xarray<double>{1.0}, true);
  auto loss = [=] { return sum(square(1.0 - a) + 100.0 * square(b - square(a))); };
  std::vector<double> lrs;
  for (int k = 14; k >= 8; --k) lrs.push_back(std::ldexp(1.0, -k));  // 2^-14 .. 2^-8
  return {"Rosenbrock's valley (2 parameters, condition number 2500 at the minimum)", {a, b}, loss, lrs, 30000, false};
}

// First k with losses[k] - best <= tol, or -1.
int reaches(const std::vector<double>& losses, double best, double tol) {
  for (std::size_t k = 0; k < losses.size(); ++k)
    if (losses[k] - best <= tol) return static_cast<int>(k);
  return -1;
}

constexpr double kTol = 1e-10;  // "converged": loss - min <= kTol
// Gradient norms below these carry no more information: the gradient's own
// round-off (exact Hessian), or the finite-difference Hessian's error.
constexpr double kFloorExact = 1e-13, kFloorDiff = 1e-7;

// p = log(e_k+1 / e_k) / log(e_k / e_k-1) on the last three norms above the floor.
double order_of(const std::vector<double>& e, double floor) {
  std::size_t k = e.size();
  while (k > 0 && e[k - 1] < floor) --k;
  return k < 3 ? NAN : std::log(e[k - 1] / e[k - 2]) / std::log(e[k - 2] / e[k - 3]);
}

// max |H_diff - H_exact| / max |H_exact| at the problem's current point, both
// as Newton builds them: row by row through the gradient's graph, and from
// centred differences of the gradient with Newton's step h = 1e-5.
double hessian_difference(const Problem& pb) {
  const std::vector<double> exact = optim::dense_hessian(pb.params, pb.loss);
  const std::vector<double> diff =
      optim::dense_hessian(pb.params, pb.loss, {.hessian = optim::NewtonHessian::finite_difference});
  double worst = 0.0, scale = 0.0;
  for (std::size_t i = 0; i < exact.size(); ++i) {
    worst = std::max(worst, std::abs(diff[i] - exact[i]));
    scale = std::max(scale, std::abs(exact[i]));
  }
  return worst / scale;
}

plot::Figure newton_vs_first_order(Problem pb, bool quick) {
  fmt::print("{}\n", pb.name);
  if (quick) pb.lrs.erase(pb.lrs.begin(), pb.lrs.end() - 3);  // the largest three rates only
  pb.reset();
  const double h_error = hessian_difference(pb);
  const optim::NewtonResult newton = optim::newton(pb.params, pb.loss, {.max_iter = 20, .tolerance_grad = 1e-13});
  fmt::print("  Newton, no learning rate: fit f(w+s) ~ f + g.s + s.H s/2 and jump to s = -H^-1 g;\n"
             "  H exact, from autograd (the gradient's Jacobian, one backward through its graph per row)\n");
  fmt::print("    iter  loss                   ||g_k||   ||g_k|| / ||g_k-1||^2\n");
  const std::vector<double>& e = newton.gradient_norms;
  for (std::size_t k = 0; k < e.size(); ++k)  // quadratic convergence: the last column stays bounded
    fmt::print("    {:>4}  {:<21.15g}  {:.2e}  {}\n", k, newton.losses[k], e[k],
               k == 0 || e[k] < kFloorExact ? std::string("-") : fmt::format("{:.3g}", e[k] / (e[k - 1] * e[k - 1])));
  fmt::print("  stopped by {} after {} iterations, {} backward passes\n", optim::to_string(newton.stop),
             newton.iterations, newton.backward_passes);
  pb.reset();
  const optim::NewtonResult diff = optim::newton(pb.params, pb.loss, {.max_iter = 20, .tolerance_grad = 1e-9,
                                                  .hessian = optim::NewtonHessian::finite_difference});
  fmt::print("  the same with H by differences of the gradient (h = 1e-5; max |H_diff - H| / max |H| = {:.1e} "
             "at the start): {} iterations, {} backward passes, ||g|| {:.2e} at the end\n",
             h_error, diff.iterations, diff.backward_passes, diff.gradient_norms.back());
  if (pb.convex)  // near the one minimum of a strictly convex loss, where the order is defined
    fmt::print("  measured order (last three ||g_k|| above the floor): exact H {:.3f} (floor {:.0e}), H by "
               "differences {:.3f} (floor {:.0e})\n", order_of(e, kFloorExact), kFloorExact,
               order_of(diff.gradient_norms, kFloorDiff), kFloorDiff);

  pb.reset();
  optim::LBFGS<double> lbfgs(pb.params, {.max_iter = 1, .tolerance_grad = 1e-9, .tolerance_change = 0.0});
  std::vector<double> lb = {pb.closure()()};
  std::vector<int> lb_evals = {1};  // gradient evaluations up to each iterate
  for (int k = 0; k < 200; ++k) {  // one iteration per call, so every iterate's loss is seen
    const optim::LBFGSResult r = lbfgs.step(pb.closure());
    if (!(r.loss < r.initial_loss)) break;  // converged: max |g_i| <= 1e-9, or no decrease left in float64
    lb.push_back(r.loss);
    lb_evals.push_back(lb_evals.back() + r.evaluations - 1);  // not the call's repeat of the last point
  }

  std::vector<optim::DescentResult> gd;  // gradient descent at every learning rate of the grid
  for (double lr : pb.lrs) {
    pb.reset();
    gd.push_back(optim::gradient_descent(pb.params, pb.closure(), {.lr = lr, .max_iter = pb.max_iter, .tolerance = 0.0}));
  }
  double best = std::min(newton.losses.back(), *std::min_element(lb.begin(), lb.end()));
  for (const optim::DescentResult& r : gd)
    for (double l : r.losses) best = std::min(best, l);  // NaN (a diverged run) is never smaller
  std::size_t pick = 0;  // the learning rate that gets there first (or ends lowest)
  for (std::size_t i = 0; i < gd.size(); ++i) {
    const int k = reaches(gd[i].losses, best, kTol), kp = reaches(gd[pick].losses, best, kTol);
    if ((k >= 0 && (kp < 0 || k < kp)) || (k < 0 && kp < 0 && gd[i].loss() < gd[pick].loss())) pick = i;
  }
  const std::vector<double>& g = gd[pick].losses;
  const int gd_k = reaches(g, best, kTol);
  // Gradient descent converges linearly: the gap shrinks by a constant factor per
  // iteration. Measured between the iterations where it passes 1e-3 and 1e-9.
  const int from = std::max(reaches(g, best, 1e-3), 0);
  int to = reaches(g, best, 1e-9);
  if (to <= from) to = static_cast<int>(g.size()) - 1;
  const double rate = std::pow((g[to] - best) / (g[from] - best), 1.0 / (to - from));
  std::size_t n = 0;
  for (const Tensor64& p : pb.params) n += p.size();
  const int newton_k = reaches(newton.losses, best, kTol), diff_k = reaches(diff.losses, best, kTol);
  const int lb_k = reaches(lb, best, kTol);
  fmt::print("  iterations and backward passes until loss - min <= {:.0e}:\n", kTol);
  fmt::print("    Newton, exact H         {:>6} {:>7}  (n + 1 = {} per iteration: the gradient, then n Hessian rows)\n",
             newton_k, newton_k * (n + 1) + 1, n + 1);
  fmt::print("    Newton, H by differences {:>5} {:>7}  (2n + 1 = {} per iteration)\n", diff_k,
             diff_k * (2 * n + 1) + 1, 2 * n + 1);
  fmt::print("    L-BFGS                  {:>6} {:>7}\n", lb_k, lb_k < 0 ? -1 : lb_evals[lb_k]);
  fmt::print("    gradient descent        {:>6} {:>7}  (lr {:.3g}, the fastest of {:.3g} .. {:.3g} in factors of 2; "
             "the gap shrinks by x{:.4f} per iteration)\n", gd_k < 0 ? "> " + std::to_string(pb.max_iter)
             : std::to_string(gd_k), gd_k < 0 ? "-" : std::to_string(gd_k + 1), pb.lrs[pick], pb.lrs.front(),
             pb.lrs.back(), rate);

  // Loss gap against iteration + 1, both on log axes: Newton's handful of
  // iterations and gradient descent's thousands fit in one picture.
  plot::Figure fig(pb.name.substr(0, pb.name.find(" (")));
  fig.xlabel("iteration + 1").ylabel("loss - min").log_x().log_y().ylim(1e-16, 1e4);
  const auto curve = [&](const std::vector<double>& losses, std::string label, plot::Style style) {
    std::vector<double> x, y;
    for (std::size_t k = 0; k < losses.size(); ++k)
      if (k < 100 || k % (k / 100) == 0) {  // about 100 points per decade are plenty
        x.push_back(static_cast<double>(k + 1));
        y.push_back(std::max(losses[k] - best, 1e-16));  // 1e-16: equal to the best, in float64
      }
    fig.line(x, y, std::move(label), style);
  };
  curve(g, fmt::format("gradient descent, lr {:.3g}", pb.lrs[pick]), {});
  curve(lb, "L-BFGS (strong Wolfe)", {.markers = true});
  curve(diff.losses, "Newton (Hessian by differences)", {.dashed = true});
  curve(newton.losses, "Newton (exact Hessian)", {.width = 2.5, .markers = true, .marker_size = 4});
  fig.hline(kTol, fmt::format("{:.0e}", kTol), {.color = "#888", .width = 1, .dashed = true});
  return fig;
}

// ---- (b) the cost argument -----------------------------------------------------------------

// 944332900 -> "944,332,900"
std::string grouped(double value) {
  std::string digits = fmt::format("{:.0f}", value), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string human_seconds(double s) {
  if (s < 120) return fmt::format("{:.3g} s", s);
  if (s < 7200) return fmt::format("{:.3g} min", s / 60);
  return s < 3 * 86400 ? fmt::format("{:.3g} h", s / 3600) : fmt::format("{:.3g} days", s / 86400);
}

void cost_argument() {
  fmt::print("\n(b) what Newton's method would cost: the Hessian has N^2 entries, solving with it ~N^3 flops\n");
  // The best rate this machine reaches: a 1024 x 1024 float32 matrix product through OpenBLAS.
  Rng rng(0);
  const Tensor a = randn<float>({1024, 1024}, rng), c = randn<float>({1024, 1024}, rng);
  double best = 1e9;
  for (int rep = 0; rep < 3; ++rep) {
    const Clock::time_point t0 = Clock::now();
    const Tensor p = matmul(a, c);
    best = std::min(best, seconds_since(t0));
  }
  const double flops = 2.0 * 1024 * 1024 * 1024 / best;
  fmt::print("  peak measured here: {:.1f} GFLOP/s (sgemm 1024^3); times below assume it for the solve\n",
             flops / 1e9);
  struct Row { const char* what; std::vector<std::size_t> sizes; };
  const Row rows[] = {{"linear classifier, Fashion-MNIST, (c)", {784, 10}},
                      {"linear classifier, CIFAR-10", {3072, 10}},
                      {"two-layer net, CIFAR-10, H = 100", {3072, 100, 10}},
                      {"two-layer net, `slope train` default", {784, 384, 10}}};
  fmt::print("  {:<38} {:>9} {:>22} {:>16} {:>12}\n", "model", "N", "Hessian entries N^2",
             "float32 Hessian", "N^3 flops");
  for (const Row& row : rows) {
    const nn::MLP<float> model(row.sizes, rng);
    double n = 0;
    for (const Tensor& p : model.parameters()) n += static_cast<double>(p.size());
    fmt::print("  {:<38} {:>9} {:>22} {:>13.3g} GB {:>12}\n", row.what, grouped(n), grouped(n * n), 4e-9 * n * n,
               human_seconds(n * n * n / flops));
  }
  fmt::print("  and building the Hessian takes N gradient evaluations (2N with central differences)\n");
}

// ---- (c) and (d) L-BFGS on Fashion-MNIST -------------------------------------------------------

// A loss for the tables: "nan" once a run has diverged (whatever NaN's sign bit).
std::string cell(double loss) { return std::isnan(loss) ? "nan" : fmt::format("{:.4f}", loss); }

// The full-batch training loss at every point where a method evaluated a
// gradient, and the wall time the method took.
struct Trace {
  std::string label;
  std::vector<double> loss;  // loss[k] after k + 1 evaluations
  double seconds = 0.0;
  double end_loss = 0.0;  // at the parameters the method ended with: NaN if it diverged
  /// The lowest loss among the first k evaluations (NaN skipped).
  double best(std::size_t k) const {
    double low = INFINITY;
    for (std::size_t i = 0; i < std::min(k, loss.size()); ++i) low = std::fmin(low, loss[i]);
    return low;
  }
};

// The linear softmax classifier f = x W + b with lambda * sum W^2 on n images.
struct FashionProblem {
  Tensor x;  // (n, 784), scaled to [0, 1] minus the subset's mean image
  std::vector<std::int32_t> y;
  float lambda = 1e-3f;

  Tensor loss(const nn::LinearClassifier<float>& model, const Tensor& xb, std::span<const std::int32_t> yb) const {
    return softmax_cross_entropy(model(xb), yb) + lambda * l2(model.weights());
  }
  double full_loss(const nn::LinearClassifier<float>& model) const {
    NoGradGuard no_grad;
    return loss(model, x, y).item();
  }
  static nn::LinearClassifier<float> fresh_model() {  // the same start for every method
    Rng init(7);
    return nn::LinearClassifier<float>(784, 10, init);
  }
};

// The next minibatch of the problem's rows (the iterator reshuffles every epoch).
void next_batch(const FashionProblem& pb, data::Minibatches& batches, Tensor& xb, std::vector<std::int32_t>& yb) {
  if (!batches.has_next()) batches.next_epoch();
  const std::span<const std::size_t> idx = batches.next();
  xt::xarray<float> rows = xt::xarray<float>::from_shape({idx.size(), 784});
  yb.clear();
  for (std::size_t i = 0; i < idx.size(); ++i) {
    std::copy_n(pb.x.data() + idx[i] * 784, 784, rows.data() + i * 784);
    yb.push_back(pb.y[idx[i]]);
  }
  xb = Tensor(std::move(rows));
}

// Runs `method` for `budget` gradient evaluations, each on the full batch
// (batch == 0) or on a fresh minibatch. method(evaluate) calls evaluate() once per
// evaluation: it zeroes the gradients, runs forward and backward, records the
// full-batch loss at that point in the trace, and returns the loss it computed.
template <class Method>
Trace run(const FashionProblem& pb, nn::LinearClassifier<float>& model, std::size_t batch, int budget,
          std::string label, Method method) {
  data::Minibatches batches(data::all_indices(pb.y.size()), batch == 0 ? pb.y.size() : batch, Rng(11));
  Trace trace{std::move(label)};
  double measuring = 0.0;  // seconds spent on the full-batch loss of minibatch runs: not charged
  const Clock::time_point t0 = Clock::now();
  Tensor xb;
  std::vector<std::int32_t> yb;
  auto evaluate = [&] {
    for (Tensor& p : model.parameters()) p.zero_grad();
    if (batch != 0) next_batch(pb, batches, xb, yb);
    const Tensor loss = batch == 0 ? pb.loss(model, pb.x, pb.y) : pb.loss(model, xb, yb);
    loss.backward();
    const double value = loss.item();
    const double elapsed = seconds_since(t0) - measuring;
    const Clock::time_point m0 = Clock::now();
    trace.loss.push_back(batch == 0 ? value : pb.full_loss(model));
    trace.seconds = elapsed;
    measuring += seconds_since(m0);
    return value;
  };
  method(evaluate, trace);
  trace.loss.resize(std::min(trace.loss.size(), static_cast<std::size_t>(budget)));  // a line search may overrun
  trace.end_loss = pb.full_loss(model);
  double highest = 0.0;  // after the first tenth of the run: the spikes
  for (std::size_t k = trace.loss.size() / 10; k < trace.loss.size(); ++k) highest = std::fmax(highest, trace.loss[k]);
  NoGradGuard no_grad;
  fmt::print("  {:<38} end {:>7}  lowest {:.4f}  highest {:>9.4g}  train acc {:5.1f}%  {:>4} evaluations  {:5.2f} s\n",
             trace.label, cell(trace.end_loss), trace.best(trace.loss.size()), highest,
             100 * nn::accuracy(model(pb.x).value(), pb.y), trace.loss.size(), trace.seconds);
  return trace;
}

Trace run_lbfgs(const FashionProblem& pb, std::size_t batch, int budget, std::string label,
                optim::LineSearch search = optim::LineSearch::strong_wolfe, double lr = 1.0) {
  nn::LinearClassifier<float> model = FashionProblem::fresh_model();
  optim::LBFGS<float> opt(model.parameters(), {.lr = lr, .max_iter = budget, .max_eval = budget,
                                               .tolerance_grad = 1e-6, .tolerance_change = 0.0,
                                               .line_search = search});
  return run(pb, model, batch, budget, std::move(label), [&](auto& evaluate, const Trace& trace) {
    // step() stops early when its line search finds no decrease (minibatch noise);
    // calling it again keeps the history and spends the rest of the budget.
    while (static_cast<int>(trace.loss.size()) < budget) {
      const optim::LBFGSResult r = opt.step(evaluate);
      if (r.stop == optim::LBFGSStop::gradient_tolerance || !std::isfinite(r.loss)) break;
    }
  });
}

Trace run_adam(const FashionProblem& pb, std::size_t batch, int budget, double lr, std::string label) {
  nn::LinearClassifier<float> model = FashionProblem::fresh_model();
  optim::Adam<float> opt(model.parameters(), {.lr = lr});
  return run(pb, model, batch, budget, std::move(label), [&](auto& evaluate, const Trace&) {
    for (int e = 0; e < budget; ++e) {
      evaluate();
      opt.step();
    }
  });
}

void lbfgs_on_fashion(bool quick, const std::filesystem::path& dir, const std::filesystem::path& out) {
  const std::size_t n = quick ? 1000 : 5000;
  const int budget = quick ? 60 : 200;
  const std::size_t batch = 100;
  const data::Dataset train = data::fashion_mnist("train", dir);
  Rng rng(1);
  const std::vector<std::size_t> subset = data::train_val_split(train.size(), n, rng).val;
  const data::Preprocess prep = data::fit_preprocess(train, subset);
  data::Batch<float> b = data::batch<float>(train, subset, prep);
  FashionProblem pb;
  pb.x = b.x;
  pb.y = std::move(b.y);

  fmt::print("\n(c) linear softmax classifier, {} Fashion-MNIST training images, lambda 1e-3, "
             "full batch, {} gradient evaluations\n", n, budget);
  const Trace lbfgs = run_lbfgs(pb, 0, budget, "L-BFGS, full batch");
  std::vector<Trace> adams;
  for (double lr : quick ? std::vector<double>{1e-2} : std::vector<double>{3e-3, 1e-2, 3e-2})
    adams.push_back(run_adam(pb, 0, budget, lr, fmt::format("Adam lr {:g}, full batch", lr)));
  const Trace& adam = *std::min_element(adams.begin(), adams.end(),
      [](const Trace& a, const Trace& b) { return a.end_loss < b.end_loss; });
  fmt::print("  loss after k evaluations:\n         k    L-BFGS      Adam   (Adam: the best lr above)\n");
  for (int k : {10, 25, 50, 100, 200})
    if (k <= budget) fmt::print("    {:>6}  {:8.4f}  {:8.4f}\n", k, lbfgs.best(k), adam.best(k));

  const int long_budget = quick ? 150 : 1000;  // minibatch evaluations are n / batch times cheaper
  fmt::print("\n(d) the same L-BFGS, but every closure call sees a fresh minibatch of {}; {} evaluations\n",
             batch, long_budget);
  const Trace wolfe = run_lbfgs(pb, batch, long_budget, fmt::format("L-BFGS strong Wolfe, minibatch {}", batch));
  const Trace plain = run_lbfgs(pb, batch, long_budget, fmt::format("L-BFGS no line search, minibatch {}", batch),
                                optim::LineSearch::none);  // torch's defaults: lr 1, no line search
  const Trace adam_mb = run_adam(pb, batch, long_budget, 3e-3, fmt::format("Adam lr 0.003, minibatch {}", batch));
  const auto verdict = [](const Trace& t) {  // NaN: diverged
    return std::isfinite(t.end_loss) ? fmt::format("{:.4f}", t.end_loss) : std::string("diverged");
  };
  fmt::print("  full-batch loss at the end: L-BFGS full batch {:.4f}, minibatch {}, minibatch without "
             "line search {}\n", lbfgs.end_loss, verdict(wolfe), verdict(plain));

  const auto curve = [](plot::Figure& fig, const Trace& t, plot::Style style = {}) {
    std::vector<double> evals(t.loss.size());
    for (std::size_t k = 0; k < evals.size(); ++k) evals[k] = static_cast<double>(k + 1);
    fig.line(evals, t.loss, t.label, style);
  };
  plot::Figure full(fmt::format("(c) Full batch, {} images: L-BFGS against Adam", n));
  full.xlabel("gradient evaluations").ylabel("training loss").log_y();
  curve(full, lbfgs, {.width = 2.5});
  for (const Trace& t : adams) curve(full, t, {.dashed = true});
  full.save(out / "second-fullbatch.svg");
  plot::Figure mb(fmt::format("(d) A fresh minibatch of {} at every closure call", batch));
  mb.xlabel("gradient evaluations").ylabel("full-batch training loss").log_y();
  curve(mb, lbfgs, {.width = 2.5});
  curve(mb, wolfe);
  for (std::size_t i = 0; i + 1 < wolfe.loss.size(); ++i)  // mark where it diverged
    if (!std::isfinite(wolfe.loss[i + 1]) && std::isfinite(wolfe.loss[i])) mb.text(i + 1.0, 4 * wolfe.loss[i], "diverged (NaN)");
  curve(mb, plain);
  curve(mb, adam_mb, {.dashed = true});
  mb.save(out / "second-minibatch.svg");
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = examples::figure_args(argc, argv);
  if (!args) return 2;
  const bool quick = args->quick;
  const std::filesystem::path out = args->out;
  const std::filesystem::path dir = args->data_dir;
  std::filesystem::create_directories(out);
  fmt::print("(a) Newton's method against L-BFGS and gradient descent, float64\n");
  const std::vector<plot::Figure> figs = {newton_vs_first_order(spiral_softmax(), quick),
                                          newton_vs_first_order(rosenbrock(), quick)};
  plot::save_grid(out / "second-convergence.svg", figs, 2);
  cost_argument();
  if (!examples::have_fashion_mnist(dir, argv[0])) return 1;  // (c) and (d) train on it
  lbfgs_on_fashion(quick, dir, out);
  return 0;
}
