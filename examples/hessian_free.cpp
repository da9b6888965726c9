// Lecture section 7 again: the Hessian is "impossible" for networks, but a
// Hessian-vector product is not. One program:
//   (a) what an H v costs against a gradient, and what the full H would cost
//       (N products and N^2 numbers), on the linear classifier (N = 7,850)
//   (b) Hessian-free Newton-CG against L-BFGS, gradient descent and Adam, full
//       batch, on the linear softmax classifier      -> hessian-free-linear.svg
//   (c) the same on a two-layer net (non-convex)     -> hessian-free-net.svg
//
//   build/examples/example_hessian_free [--out DIR] [--quick] [--data-dir DIR]
//
// Pictures go to DIR (default: the current directory); the ones in docs/img
// were made with `--out docs/img` and the default settings. --quick is the
// test suite's short run (1000 images, shorter budgets). Without the
// Fashion-MNIST files (Debian package dataset-fashion-mnist) it says so and stops.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "slope/autograd.hpp"
#include "slope/data.hpp"
#include "slope/loss.hpp"
#include "slope/nn.hpp"
#include "slope/optim.hpp"
#include "slope/plot.hpp"
#include "example_args.hpp"

using namespace slope;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// A full-batch problem: the images, the labels, a model and its loss
// (softmax cross-entropy + lambda * sum W^2 over the weight matrices).
struct Problem {
  std::string name;
  Tensor x;
  std::vector<std::int32_t> y;
  std::function<std::unique_ptr<nn::MLP<float>>()> make;  // the same start for every method
  float lambda = 1e-3f;
  Tensor loss(const nn::MLP<float>& m) const { return softmax_cross_entropy(m(x), y) + lambda * l2(m.weights()); }
};

// Per iteration of a method: the loss after it, and the cost so far.
struct Trace {
  std::string label, short_label;
  std::vector<double> loss, seconds, backward;  // backward: gradients + Hessian-vector products so far
  std::vector<double> hvps;
  double accuracy = 0.0;
  std::string note;  // what the method says about its run
  void add(double l, double s, double b, double h = 0.0) {
    loss.push_back(l);
    seconds.push_back(s);
    backward.push_back(b);
    hvps.push_back(h);
  }
};

Trace run_newton_cg(const Problem& pb, int iterations, int max_cg) {
  auto model = pb.make();
  optim::NewtonCG<float> opt(model->parameters(), {.max_iter = 1, .max_cg = max_cg, .damping = 1e-2,
                                                   .tolerance_grad = 1e-6, .tolerance_change = 0.0});
  Trace t{fmt::format("Newton-CG (<= {} CG steps)", max_cg), "Newton-CG"};
  const Clock::time_point t0 = Clock::now();
  double hvps = 0.0, grads = 0.0;
  int negative = 0, capped = 0;
  for (int k = 0; k < iterations; ++k) {
    const optim::NewtonCGResult r = opt.step([&] { return pb.loss(*model); });
    hvps += r.hvps;
    grads += r.gradients;
    negative += r.negative_curvature;
    capped += r.cg_stop == optim::CGStop::max_iterations;
    if (r.iterations == 0) break;  // converged, or no decrease left in float32
    t.add(r.loss, seconds_since(t0), grads + hvps, hvps);
  }
  t.note = fmt::format("Newton-CG: CG stopped on negative curvature in {} and at its cap in {} of {} iterations; "
                       "lambda went from 0.01 to {:.2g}", negative, capped, t.loss.size(), opt.damping());
  NoGradGuard no_grad;
  t.accuracy = nn::accuracy(model->operator()(pb.x).value(), pb.y);
  return t;
}

// The closure of the first-order methods: zero the gradients, evaluate, backward.
std::function<double()> closure_of(const Problem& pb, nn::MLP<float>& model) {
  return [&pb, &model] {
    for (Tensor& p : model.parameters()) p.zero_grad();
    const Tensor l = pb.loss(model);
    l.backward();
    return static_cast<double>(l.item());
  };
}

Trace run_lbfgs(const Problem& pb, int iterations) {
  auto model = pb.make();
  optim::LBFGS<float> opt(model->parameters(), {.max_iter = 1, .tolerance_grad = 1e-6, .tolerance_change = 0.0});
  const auto closure = closure_of(pb, *model);
  Trace t{"L-BFGS (strong Wolfe)", "L-BFGS"};
  const Clock::time_point t0 = Clock::now();
  double evals = 0.0;
  for (int k = 0; k < iterations; ++k) {
    const optim::LBFGSResult r = opt.step(closure);
    evals += r.evaluations;
    if (!(r.loss < r.initial_loss)) break;
    t.add(r.loss, seconds_since(t0), evals);
  }
  NoGradGuard no_grad;
  t.accuracy = nn::accuracy(model->operator()(pb.x).value(), pb.y);
  return t;
}

// Gradient descent (optim::SGD without momentum) or Adam: one full-batch step per iteration.
template <class Opt, class Options>
Trace run_first_order(const Problem& pb, int iterations, std::string label, std::string short_label,
                      Options options) {
  auto model = pb.make();
  Opt opt(model->parameters(), options);
  const auto closure = closure_of(pb, *model);
  Trace t{std::move(label), std::move(short_label)};
  const Clock::time_point t0 = Clock::now();
  closure();
  for (int k = 0; k < iterations; ++k) {
    opt.step();
    const double l = closure();  // the loss after the step (and the next step's gradient)
    t.add(l, seconds_since(t0), k + 2.0);
  }
  NoGradGuard no_grad;
  t.accuracy = nn::accuracy(model->operator()(pb.x).value(), pb.y);
  return t;
}

// (a) One gradient, one gradient with its graph, one H v, on the problem's start.
void hvp_cost(const Problem& pb, bool quick) {
  auto model = pb.make();
  const std::vector<Tensor> params = model->parameters();
  std::size_t n = 0;
  for (const Tensor& p : params) n += p.size();
  const int reps = quick ? 3 : 10;
  const auto best_of = [&](const std::function<void()>& f) {
    double best = 1e9;
    for (int r = 0; r < reps; ++r) {
      const Clock::time_point t0 = Clock::now();
      f();
      best = std::min(best, seconds_since(t0));
    }
    return best;
  };
  const double t_grad = best_of([&] { grad(pb.loss(*model), params); });
  const double t_graph = best_of([&] { grad(pb.loss(*model), params, {.create_graph = true}); });
  const std::vector<Tensor> g = grad(pb.loss(*model), params, {.create_graph = true});
  std::vector<Tensor> v;
  for (const Tensor& p : params) v.push_back(ones_like(p));
  const double t_hvp = best_of([&] { grad(g, params, v, {.retain_graph = true}); });
  fmt::print("(a) {}: N = {} parameters\n", pb.name, n);
  fmt::print("  gradient                          {:8.2f} ms\n", 1e3 * t_grad);
  fmt::print("  gradient with its graph           {:8.2f} ms  (create_graph)\n", 1e3 * t_graph);
  fmt::print("  Hessian-vector product H v        {:8.2f} ms  = {:.1f} gradients (a backward through the gradient's graph)\n",
             1e3 * t_hvp, t_hvp / t_grad);
  fmt::print("  the full Hessian: N = {} products, {:.3g} s, and N^2 = {:.3g} numbers ({:.3g} GB in float32)\n", n,
             n * t_hvp, static_cast<double>(n) * static_cast<double>(n), 4e-9 * static_cast<double>(n) * n);
}

// The loss a trace reached by iteration k (its last, if it stopped earlier).
double at(const Trace& t, std::size_t k) { return t.loss.empty() ? NAN : t.loss[std::min(k, t.loss.size()) - 1]; }

// The first time a trace's loss is within `gap` of `best`, or NaN.
double time_to(const Trace& t, double best, double gap) {
  for (std::size_t k = 0; k < t.loss.size(); ++k)
    if (t.loss[k] - best <= gap) return t.seconds[k];
  return NAN;
}

void compare(const Problem& pb, const std::vector<Trace>& traces, double gap, const std::filesystem::path& file) {
  double best = INFINITY;
  for (const Trace& t : traces)
    for (double l : t.loss) best = std::fmin(best, l);
  fmt::print("  {:<36} {:>10} {:>6} {:>9} {:>8} {:>11} {:>9} {:>14}\n", "method", "iterations", "H v", "backward",
             "seconds", "final loss", "train acc", fmt::format("s to best+{:g}", gap));
  for (const Trace& t : traces)
    fmt::print("  {:<36} {:>10} {:>6} {:>9} {:>8.2f} {:>11.5f} {:>8.1f}% {:>14}\n", t.label, t.loss.size(),
               t.hvps.empty() ? 0 : static_cast<long>(t.hvps.back()), t.backward.empty() ? 0 : static_cast<long>(t.backward.back()),
               t.seconds.empty() ? 0.0 : t.seconds.back(), t.loss.empty() ? NAN : t.loss.back(), 100 * t.accuracy,
               std::isnan(time_to(t, best, gap)) ? std::string("never") : fmt::format("{:.2f}", time_to(t, best, gap)));
  for (const Trace& t : traces)
    if (!t.note.empty()) fmt::print("  {}\n", t.note);
  fmt::print("  loss after k iterations:\n  {:>8}", "k");
  for (const Trace& t : traces) fmt::print(" {:>12}", t.short_label);
  fmt::print("\n");
  std::size_t longest = 0;
  for (const Trace& t : traces) longest = std::max(longest, t.loss.size());
  for (std::size_t k : {1, 2, 5, 10, 20, 50, 100, 200, 300})
    if (k <= longest) {
      fmt::print("  {:>8}", k);
      for (const Trace& t : traces)
        fmt::print(" {:>12}", k <= t.loss.size() ? fmt::format("{:.5f}", at(t, k)) : std::string("-"));
      fmt::print("\n");
    }
  // Loss against iterations and against seconds, side by side.
  plot::Figure by_iter(pb.name + ": loss against iterations");
  by_iter.xlabel("iteration").ylabel("training loss - best + 1e-4").log_x().log_y();
  plot::Figure by_time(pb.name + ": loss against wall time");
  by_time.xlabel("seconds").ylabel("training loss - best + 1e-4").log_y();
  for (const Trace& t : traces) {
    std::vector<double> k(t.loss.size()), gap_to(t.loss.size());
    for (std::size_t i = 0; i < k.size(); ++i) {
      k[i] = static_cast<double>(i + 1);
      gap_to[i] = t.loss[i] - best + 1e-4;  // + 1e-4: the best point stays on the log axis
    }
    const plot::Style style = t.label.rfind("Newton", 0) == 0 ? plot::Style{.width = 2.5, .markers = true}
                                                              : plot::Style{};
    by_iter.line(k, gap_to, t.label, style);
    by_time.line(t.seconds, gap_to, t.label, style);
  }
  const std::vector<plot::Figure> figures = {by_iter, by_time};
  plot::save_grid(file, figures, 2);
}

Problem fashion_subset(const std::filesystem::path& dir, std::size_t n) {
  const data::Dataset train = data::fashion_mnist("train", dir);
  Rng rng(1);
  const std::vector<std::size_t> subset = data::train_val_split(train.size(), n, rng).val;
  const data::Preprocess prep = data::fit_preprocess(train, subset);
  data::Batch<float> b = data::batch<float>(train, subset, prep);
  Problem pb;
  pb.x = b.x;
  pb.y = std::move(b.y);
  return pb;
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = examples::figure_args(argc, argv);
  if (!args) return 2;
  const bool quick = args->quick;
  const std::filesystem::path out = args->out;
  const std::filesystem::path dir = args->data_dir;
  if (!examples::have_fashion_mnist(dir, argv[0])) return 1;
  std::filesystem::create_directories(out);
  const std::size_t images = quick ? 1000 : 5000;

  Problem linear = fashion_subset(dir, images);
  linear.name = fmt::format("linear softmax classifier, {} images", images);
  linear.make = [] {
    Rng init(7);
    return std::make_unique<nn::LinearClassifier<float>>(784, 10, init);
  };
  hvp_cost(linear, quick);

  const int ncg = quick ? 10 : 25, lb = quick ? 40 : 150, first = quick ? 150 : 300;
  fmt::print("\n(b) {}, 7,850 parameters, lambda 1e-3, full batch, float32\n", linear.name);
  compare(linear, {run_newton_cg(linear, ncg, 20), run_lbfgs(linear, lb),
                   run_first_order<optim::SGD<float>>(linear, first, "gradient descent, lr 0.5", "GD", optim::SGDOptions{.lr = 0.5}),
                   run_first_order<optim::Adam<float>>(linear, first, "Adam, lr 0.01", "Adam", optim::AdamOptions{.lr = 1e-2})},
          1e-3, out / "hessian-free-linear.svg");

  Problem net = fashion_subset(dir, images);
  const std::size_t hidden = quick ? 32 : 64;
  net.name = fmt::format("two-layer net (784-{}-10, relu), {} images", hidden, images);
  net.make = [hidden] {
    Rng init(7);
    return std::make_unique<nn::TwoLayerNet<float>>(784, hidden, 10, init);
  };
  fmt::print("\n(c) {}, {} parameters, lambda 1e-3, full batch, float32 (not convex)\n", net.name,
             784 * hidden + hidden + hidden * 10 + 10);
  compare(net, {run_newton_cg(net, quick ? ncg : 40, 50), run_lbfgs(net, lb),
                run_first_order<optim::SGD<float>>(net, first, "gradient descent, lr 0.2", "GD", optim::SGDOptions{.lr = 0.2}),
                run_first_order<optim::Adam<float>>(net, first, "Adam, lr 0.003", "Adam", optim::AdamOptions{.lr = 3e-3})},
          1e-2, out / "hessian-free-net.svg");
  return 0;
}
