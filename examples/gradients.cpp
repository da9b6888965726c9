// Lecture section 4, following the slope: derivatives, the numerical and the
// analytic gradient, the gradient check, and the steepest descent.
//
//   build/examples/example_gradients [--out DIR] [--quick]
//
// (a) the derivative of sin at x = 1 as the limit of (f(x+h) - f(x)) / h and by
//     the centred difference, for shrinking h, in float64 and float32: the
//     error first falls with h (truncation), then rises again (round-off)
//     (grad-fd-error.svg);
// (b) the gradient of softmax loss + lambda * L2 of a linear classifier on 100
//     Fashion-MNIST images, numerically (two loss evaluations per parameter)
//     and by backward(): relative error per entry, evaluations and wall time;
// (c) the gradient check in practice: gradcheck passes the autograd model and
//     catches one whose backward forgets the factor 2 of d(w^2)/dw; a gradient
//     derived by hand is compared with the numerical one the same way;
// (d) the slope along a unit direction u is grad . u; no random direction
//     beats -grad / |grad| (grad-directions.svg);
// (e) the graph backward() walks, for the two-layer net on a few images:
//     every op and parameter, as Graphviz DOT (two-layer-graph.dot), drawn as
//     two-layer-graph.svg when graphviz's `dot` is installed.
//
// Pictures go to DIR (default: the current directory). --quick uses 20 images
// and 200 directions (for the test suite); the full settings take a few
// seconds, nearly all of them in the numerical gradient.
// Fashion-MNIST is read from the Debian package dataset-fashion-mnist.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "slope/data.hpp"
#include "slope/gradcheck.hpp"
#include "slope/graph.hpp"
#include "slope/io.hpp"
#include "slope/loss.hpp"
#include "slope/nn.hpp"
#include "slope/ops.hpp"
#include "slope/plot.hpp"
#include "example_args.hpp"

using namespace slope;
namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// ---- (a) the 1-D derivative -----------------------------------------------------------

// Relative errors of the forward and the centred difference of sin at x = 1,
// computed entirely in T; the exact derivative is cos(1).
template <class T>
std::pair<double, double> difference_errors(double h_wanted) {
  const T x = 1, h = static_cast<T>(h_wanted);
  const T forward = (std::sin(x + h) - std::sin(x)) / h;              // error ~ h/2 |f''|
  const T centred = (std::sin(x + h) - std::sin(x - h)) / (T(2) * h);  // error ~ h^2/6 |f'''|
  const double exact = std::cos(1.0);
  return {std::abs(forward - exact) / exact, std::abs(centred - exact) / exact};
}

void derivative_limit(const fs::path& out) {
  fmt::print("(a) d/dx sin(x) at x = 1 (exact: cos 1 = {:.15f}); relative errors\n", std::cos(1.0));
  fmt::print("  {:>7}  {:>13}  {:>13}  {:>13}  {:>13}\n", "h", "forward f64", "centred f64",
             "forward f32", "centred f32");
  std::vector<double> hs;
  std::vector<std::vector<double>> err(4);
  for (int k = 4; k <= 64; ++k) {  // h = 10^(-k/4): 1e-1 down to 1e-16
    const double h = std::pow(10.0, -k / 4.0);
    const auto [f64, c64] = difference_errors<double>(h);
    const auto [f32, c32] = difference_errors<float>(h);
    hs.push_back(h);
    for (std::size_t s = 0; s < 4; ++s) err[s].push_back(std::array{f64, c64, f32, c32}[s]);
    if (k % 4 == 0)
      fmt::print("  {:>7.0e}  {:>13.2e}  {:>13.2e}  {:>13.2e}  {:>13.2e}\n", h, f64, c64, f32, c32);
  }
  const char* names[] = {"forward, float64", "centred, float64", "forward, float32", "centred, float32"};
  for (std::size_t s = 0; s < 4; ++s) {
    const auto best = std::min_element(err[s].begin(), err[s].end()) - err[s].begin();
    fmt::print("  best h for {}: {:.0e} (relative error {:.1e})\n", names[s], hs[best], err[s][best]);
  }
  plot::Figure fig("Finite differences of sin at x = 1: truncation against round-off");
  fig.xlabel("step h").ylabel("relative error").log_x().log_y().ylim(1e-13, 1e4);  // room for the legend
  const std::string colours[] = {plot::palette(0), plot::palette(0), plot::palette(1), plot::palette(1)};
  for (std::size_t s = 0; s < 4; ++s)
    fig.line(hs, err[s], names[s], {.color = colours[s], .dashed = s % 2 == 0, .markers = true});
  fig.vline(1e-5, "h = 1e-5", {.color = "grey", .dashed = true});
  fig.save(out / "grad-fd-error.svg");
  fmt::print("  wrote {}\n\n", (out / "grad-fd-error.svg").string());
}

// ---- the model of (b) to (d) ----------------------------------------------------------------

struct Problem {
  Tensor64 X;                   // (N, 784), centred pixels
  std::vector<std::int32_t> y;  // N labels
  double lambda = 0.1;
};

// L(W, b) = mean_i -log softmax(x_i W + b)[y_i] + lambda * sum W^2
Tensor64 loss_of(const Problem& p, const Tensor64& W, const Tensor64& b) {
  return softmax_cross_entropy(matmul(p.X, W) + b, p.y) + p.lambda * l2(W);
}

// The same loss with a bug in its backward only: sum(W * c) with c a detached
// copy of W has the value sum W^2 but the gradient c = W, not 2W.
Tensor64 buggy_loss_of(const Problem& p, const Tensor64& W, const Tensor64& b) {
  return softmax_cross_entropy(matmul(p.X, W) + b, p.y) + p.lambda * sum(W * W.detach());
}

// The gradient derived by hand: with P the softmax probabilities and Y the
// one-hot labels, dL/dW = X^T (P - Y) / N + 2 lambda W. `factor` replaces the 2.
xt::xarray<double> hand_gradient(const Problem& p, const Tensor64& W, const Tensor64& b,
                                 double factor) {
  NoGradGuard no_grad;
  xt::xarray<double> P = softmax(matmul(p.X, W) + b).value();
  for (std::size_t i = 0; i < p.y.size(); ++i) P(i, p.y[i]) -= 1.0;  // P - Y
  const double n = static_cast<double>(p.y.size());
  return (matmul(transpose(p.X), Tensor64(std::move(P))) * (1.0 / n) + factor * p.lambda * W).value();
}

struct ErrorStats {
  double max = 0, median = 0;  // of the relative errors
  double max_abs = 0;          // largest |a - n|
};

// Per entry |a - n| / max(|a|, |n|) (0 when both are 0), as gradcheck reports it.
ErrorStats relative_errors(const xt::xarray<double>& a, const xt::xarray<double>& n) {
  std::vector<double> r(a.size());
  double max_abs = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double diff = std::abs(a.data()[i] - n.data()[i]);
    const double scale = std::max(std::abs(a.data()[i]), std::abs(n.data()[i]));
    r[i] = scale == 0 ? 0 : diff / scale;
    max_abs = std::max(max_abs, diff);
  }
  std::sort(r.begin(), r.end());
  return {r.back(), r[r.size() / 2], max_abs};
}

// ---- (b) numerical against analytic ---------------------------------------------------------

struct Gradients {
  xt::xarray<double> W, b;
};

Gradients numerical_against_analytic(const Problem& p, Tensor64 W, Tensor64 b) {
  fmt::print("(b) softmax loss + {} * L2 of a linear classifier on {} images: {} + {} parameters\n",
             p.lambda, p.y.size(), W.size(), b.size());
  // Analytic: one forward and one backward pass (timed over 10 repeats).
  auto start = std::chrono::steady_clock::now();
  for (int repeat = 0; repeat < 10; ++repeat) {
    W.zero_grad();
    b.zero_grad();
    loss_of(p, W, b).backward();
  }
  const double analytic_seconds = seconds_since(start) / 10;

  // Numerical: centred differences with h = 1e-5, two loss evaluations per entry.
  std::size_t evaluations = 0;
  const auto loss_at = [&](const Tensor64& Wx, const Tensor64& bx) {
    NoGradGuard no_grad;
    ++evaluations;
    return loss_of(p, Wx, bx).item();
  };
  start = std::chrono::steady_clock::now();
  Gradients num;
  num.W = numerical_gradient([&](const xt::xarray<double>& w) { return loss_at(Tensor64(w), b); },
                             W.value(), 1e-5);
  num.b = numerical_gradient([&](const xt::xarray<double>& c) { return loss_at(W, Tensor64(c)); },
                             b.value(), 1e-5);
  const double numerical_seconds = seconds_since(start);

  const ErrorStats eW = relative_errors(W.grad(), num.W), eb = relative_errors(b.grad(), num.b);
  fmt::print("  relative error, W: max {:.1e}  median {:.1e};  b: max {:.1e}  median {:.1e}\n",
             eW.max, eW.median, eb.max, eb.median);
  fmt::print("  largest absolute difference {:.1e}, largest |dL/dW| {:.1e}\n",
             std::max(eW.max_abs, eb.max_abs), xt::amax(xt::abs(W.grad()))());
  fmt::print("  numerical: {} loss evaluations (2 per parameter) in {:.3f} s\n", evaluations,
             numerical_seconds);
  fmt::print("  analytic:  1 forward + 1 backward pass in {:.6f} s ({:.0f} times faster)\n\n",
             analytic_seconds, numerical_seconds / analytic_seconds);
  return num;
}

// ---- (c) the gradient check ------------------------------------------------------------------

void gradient_check(const Problem& p, const Tensor64& W, const Tensor64& b, const Gradients& num) {
  fmt::print("(c) gradient check (gradcheck on 100 random entries of each input)\n");
  const GradcheckOptions options{.h = 1e-5, .max_entries_per_input = 100, .seed = 1};
  const auto good = gradcheck([&](const std::vector<Tensor64>& in) { return loss_of(p, in[0], in[1]); },
                              {W, b}, options);
  fmt::print("  autograd loss:                  {}\n", good.message());
  const auto bad = gradcheck([&](const std::vector<Tensor64>& in) { return buggy_loss_of(p, in[0], in[1]); },
                             {W, b}, options);
  fmt::print("  backward missing the factor 2:  failing entries {} of {}, worst relative error {:.1e}\n",
             bad.failures.size(), bad.checked, bad.max_rel_error());
  fmt::print("    {}\n", bad.message());
  for (const double factor : {2.0, 1.0}) {
    const ErrorStats e = relative_errors(hand_gradient(p, W, b, factor), num.W);
    fmt::print("  by hand, X^T (P - Y) / N + {:g} lambda W, against (b)'s numerical dL/dW: "
               "max {:.1e}  median {:.1e}\n", factor, e.max, e.median);
  }
  fmt::print("\n");
}

// ---- (d) slopes along directions ---------------------------------------------------------------

void directions(const Problem& p, const Tensor64& W, const Tensor64& b, std::size_t count,
                const fs::path& out) {
  fmt::print("(d) slope along a unit direction u = grad . u, over all {} parameters\n",
             W.size() + b.size());
  // The gradient and the parameters as flat vectors over (W, b).
  std::vector<double> g(W.grad().begin(), W.grad().end());
  g.insert(g.end(), b.grad().begin(), b.grad().end());
  double norm = 0;
  for (double v : g) norm += v * v;
  norm = std::sqrt(norm);

  // The slope by finite differences along u: (L(w + h u) - L(w - h u)) / 2h.
  const auto slope_along = [&](const std::vector<double>& u) {
    const auto loss_at = [&](double t) {
      xt::xarray<double> Wt = W.value(), bt = b.value();
      for (std::size_t i = 0; i < Wt.size(); ++i) Wt.data()[i] += t * u[i];
      for (std::size_t j = 0; j < bt.size(); ++j) bt.data()[j] += t * u[Wt.size() + j];
      NoGradGuard no_grad;
      return loss_of(p, Tensor64(Wt), Tensor64(bt)).item();
    };
    return (loss_at(1e-5) - loss_at(-1e-5)) / 2e-5;
  };
  const auto dot = [](const std::vector<double>& a, const std::vector<double>& c) {
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * c[i];
    return s;
  };

  std::vector<double> steepest(g.size());
  for (std::size_t i = 0; i < g.size(); ++i) steepest[i] = -g[i] / norm;
  fmt::print("  u = -grad/|grad|: grad . u = {:.6f}, finite difference {:.6f}, -|grad| = {:.6f}\n",
             dot(g, steepest), slope_along(steepest), -norm);

  Rng rng(2);
  std::vector<double> slopes, u(g.size());
  for (std::size_t k = 0; k < count; ++k) {
    double un = 0;
    for (double& v : u) {
      v = rng.normal();
      un += v * v;
    }
    for (double& v : u) v /= std::sqrt(un);  // uniform on the unit sphere
    slopes.push_back(dot(g, u));
    if (k == 0)
      fmt::print("  a random u:       grad . u = {:.6f}, finite difference {:.6f}\n", slopes[0],
                 slope_along(u));
  }
  const double best = *std::min_element(slopes.begin(), slopes.end());
  double rms = 0;
  for (double s : slopes) rms += s * s;
  rms = std::sqrt(rms / slopes.size());
  fmt::print("  {} random unit directions: steepest slope {:.6f} ({:.3f} of -|grad|), "
             "rms slope {:.6f} (|grad|/sqrt(n) = {:.6f})\n", count, best, best / -norm, rms,
             norm / std::sqrt(static_cast<double>(g.size())));
  fmt::print("  none is steeper than -|grad|: {}\n", best >= -norm ? "yes" : "NO");

  plot::Figure fig("Slopes along random unit directions, and along -grad");
  fig.xlabel("directional derivative grad . u").ylabel("number of directions").xlim(-1.1 * norm, 1.1 * norm);
  fig.histogram(slopes, 40, fmt::format("{} random directions", count));
  fig.vline(-norm, "u = -grad/|grad|: -|grad|", {.color = "#d62728", .dashed = true});
  fig.vline(norm, "u = +grad/|grad|: +|grad|", {.color = "grey", .dashed = true});
  fig.save(out / "grad-directions.svg");
  fmt::print("  wrote {}\n", (out / "grad-directions.svg").string());
}

// (e) The two-layer net's graph for 8 images, before backward frees it.
void draw_graph(const data::Dataset& train, const data::Preprocess& prep, const fs::path& out) {
  fmt::print("(e) the graph backward() walks: the two-layer net on 8 images\n");
  Rng rng(3);
  nn::TwoLayerNet<float> net(train.dim(), 100, train.num_classes(), rng);
  const std::vector<std::size_t> idx{0, 1, 2, 3, 4, 5, 6, 7};
  data::Batch<float> b = data::batch<float>(train, idx, prep);
  b.x.set_name("x");
  const Tensor loss = softmax_cross_entropy(net(b.x), b.y) + 1e-3f * l2(net.weights());
  const std::string dot = to_dot(loss);
  const std::size_t boxes = [&] {
    std::size_t n = 0;
    for (std::size_t at = dot.find("[label="); at != std::string::npos; at = dot.find("[label=", at + 1)) ++n;
    return n;
  }();
  const fs::path file = out / "two-layer-graph.dot";
  io::write_file_atomic(file, std::span(reinterpret_cast<const std::uint8_t*>(dot.data()), dot.size()));
  fmt::print("  {} tensors and ops; wrote {}\n", boxes, file.string());
  // Drawn only where graphviz is installed (the docs' machine); the DOT text is the result.
  const fs::path svg = out / "two-layer-graph.svg";
  if (std::system("command -v dot >/dev/null 2>&1") == 0) {
    const std::string cmd = fmt::format("dot -Tsvg '{}' -o '{}'", file.string(), svg.string());
    if (std::system(cmd.c_str()) == 0) fmt::print("  drew {}\n", svg.string());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = examples::figure_args(argc, argv, false);
  if (!args) return 2;
  const bool quick = args->quick;
  const fs::path out = args->out;
  try {
    fs::create_directories(out);
    derivative_limit(out);

    const data::Dataset train = data::fashion_mnist("train");
    Rng rng(0);
    std::vector<std::size_t> idx = data::all_indices(train.size());
    rng.shuffle(idx.begin(), idx.end());
    idx.resize(quick ? 20 : 100);
    const data::Preprocess prep = data::fit_preprocess(train, idx);
    Problem p;
    xt::xarray<double> X = xt::xarray<double>::from_shape({idx.size(), train.dim()});
    p.y.resize(idx.size());
    data::gather(train, idx, prep, std::span(X.data(), X.size()), std::span(p.y));
    p.X = Tensor64(std::move(X));
    Tensor64 W = randn<double>({train.dim(), train.num_classes()}, rng, 0.01, 0.0, true).set_name("W");
    Tensor64 b = zeros<double>({train.num_classes()}, true).set_name("b");

    const Gradients num = numerical_against_analytic(p, W, b);
    gradient_check(p, W, b, num);
    W.zero_grad();
    b.zero_grad();
    loss_of(p, W, b).backward();
    directions(p, W, b, quick ? 200 : 1000, out);
    draw_graph(train, prep, out);
  } catch (const std::exception& e) {
    fmt::print(stderr, "example_gradients: {}\n", e.what());
    return 1;
  }
  return 0;
}
