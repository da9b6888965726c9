// Hessian-free Newton-CG: exact on a quadratic (CG in at most n products),
// convergence on a strictly convex problem to the exact Newton solution, its
// stop reasons, negative curvature, and option checks.
#include <catch2/catch.hpp>

#include <cmath>

#include <fmt/format.h>

#include "slope/autograd.hpp"
#include "slope/loss.hpp"
#include "slope/ops.hpp"
#include "slope/optim.hpp"

using namespace slope;
using namespace slope::optim;

namespace {

// f(w) = 1/2 w^T A w - b^T w with A = Q diag(1 .. 100) Q^T (n = 10): minimum A^-1 b.
struct Quadratic {
  Tensor64 A, b, w;
  explicit Quadratic(Rng& rng) {
    const std::size_t n = 10;
    xt::xarray<double> a = xt::zeros<double>({n, n});
    // Q from Gram-Schmidt on a random matrix; A = Q D Q^T.
    xt::xarray<double> q = randn<double>({n, n}, rng).value();
    for (std::size_t j = 0; j < n; ++j) {
      for (std::size_t k = 0; k < j; ++k) {
        double d = 0.0;
        for (std::size_t i = 0; i < n; ++i) d += q(i, j) * q(i, k);
        for (std::size_t i = 0; i < n; ++i) q(i, j) -= d * q(i, k);
      }
      double norm = 0.0;
      for (std::size_t i = 0; i < n; ++i) norm += q(i, j) * q(i, j);
      for (std::size_t i = 0; i < n; ++i) q(i, j) /= std::sqrt(norm);
    }
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j)
        for (std::size_t k = 0; k < n; ++k) a(i, j) += q(i, k) * (1.0 + 11.0 * static_cast<double>(k)) * q(j, k);
    A = Tensor64(a);
    b = randn<double>({n, 1}, rng);
    w = zeros<double>({n, 1}, true);
  }
  Tensor64 loss() const { return 0.5 * sum(w * matmul(A, w)) - sum(b * w); }
};

// Softmax regression with an L2 term on three blobs: strictly convex.
struct Blobs {
  Tensor64 x, W, bias;
  std::vector<std::int32_t> y;
  explicit Blobs(Rng& rng) {
    xt::xarray<double> xs = xt::xarray<double>::from_shape({90, 2});
    const double centres[3][2] = {{2, 0}, {-1, 1.7}, {-1, -1.7}};
    for (std::size_t i = 0; i < 90; ++i) {
      xs(i, 0) = centres[i % 3][0] + rng.normal();
      xs(i, 1) = centres[i % 3][1] + rng.normal();
      y.push_back(static_cast<std::int32_t>(i % 3));
    }
    x = Tensor64(xs);
    W = zeros<double>({2, 3}, true);
    bias = zeros<double>({3}, true);
  }
  Tensor64 loss() const { return softmax_cross_entropy(matmul(x, W) + bias, y) + 1e-2 * l2(W); }
};

double grad_max(const Tensor64& loss, const std::vector<Tensor64>& params) {
  double m = 0.0;
  for (const Tensor64& g : grad(loss, params))
    for (double v : g.value()) m = std::max(m, std::abs(v));
  return m;
}

}  // namespace

TEST_CASE("Newton-CG solves a quadratic in one iteration of at most n products", "[newton_cg]") {
  Rng rng{1};
  Quadratic q(rng);
  NewtonCG opt({q.w}, {.max_iter = 1, .max_cg = 10, .cg_tolerance = 1e-12, .damping = 0.0, .damping_min = 0.0});
  const NewtonCGResult r = opt.step([&] { return q.loss(); });
  CHECK(r.iterations == 1);
  CHECK(r.hvps <= 10);
  CHECK(r.step_length == 1.0);  // the full Newton step is accepted
  CHECK(r.cg_stop == CGStop::converged);
  CHECK(grad_max(q.loss(), {q.w}) <= 1e-9);  // A w = b to CG's precision
  // Its next step finds the minimum already reached.
  NewtonCG again({q.w}, {.tolerance_grad = 1e-8});
  CHECK(again.step([&] { return q.loss(); }).stop == NewtonCGStop::gradient_tolerance);
}

TEST_CASE("Newton-CG converges on a strictly convex problem to Newton's solution", "[newton_cg]") {
  Rng rng{2};
  Blobs a(rng);
  Rng rng2{2};
  Blobs b(rng2);
  NewtonCG opt({a.W, a.bias}, {.max_iter = 1, .damping = 1e-2, .tolerance_grad = 1e-10, .tolerance_change = 0.0});
  std::vector<double> norms;
  NewtonCGResult total;
  for (int k = 0; k < 50; ++k) {  // one iteration per call: every iterate's gradient is seen
    norms.push_back(grad_max(a.loss(), {a.W, a.bias}));
    const NewtonCGResult r = opt.step([&] { return a.loss(); });
    total.hvps += r.hvps;
    total.iterations += r.iterations;
    if (r.stop == NewtonCGStop::gradient_tolerance) break;
  }
  std::string text;
  for (double n : norms) text += fmt::format("{:.1e} ", n);
  INFO("max |g| per call: " << text);
  CHECK(grad_max(a.loss(), {a.W, a.bias}) <= 1e-10);
  // Exact Newton from the same start reaches the same minimum.
  newton<double>({b.W, b.bias}, [&] { return b.loss(); }, {.tolerance_grad = 1e-12});
  for (std::size_t i = 0; i < 6; ++i) CHECK(a.W.value().data()[i] == Approx(b.W.value().data()[i]).margin(1e-9));
  // Softmax ignores a shift of every bias alike (H is singular along (1, 1, 1)):
  // Newton-CG, whose steps stay in the span of the gradients, never moves
  // along it; the dense solve may. The biases agree up to that shift.
  const auto centred = [](const Tensor64& t, std::size_t i) {
    return t.value()(i) - (t.value()(0) + t.value()(1) + t.value()(2)) / 3.0;
  };
  for (std::size_t i = 0; i < 3; ++i) CHECK(centred(a.bias, i) == Approx(centred(b.bias, i)).margin(1e-9));
  CHECK(std::abs(a.bias.value()(0) + a.bias.value()(1) + a.bias.value()(2)) <= 1e-12);
  WARN("Newton-CG on softmax regression (9 parameters): " << total.iterations << " iterations, " << total.hvps
                                                          << " Hessian-vector products; max |g| " << text);
  CHECK(total.iterations <= 30);
}

TEST_CASE("Newton-CG follows negative curvature downhill and keeps its damping between calls", "[newton_cg]") {
  // f(w) = sum(w^4 - w^2): at w = 0.1 the curvature 12 w^2 - 2 is negative.
  Tensor64 w = Tensor64({0.1, -0.2}).set_requires_grad();
  const auto f = [&] { return sum(pow(w, 4.0) - square(w)); };
  NewtonCG opt({w}, {.max_iter = 1, .damping = 0.0, .damping_min = 0.0});
  const double before = f().item();
  const NewtonCGResult r = opt.step(f);
  CHECK(r.cg_stop == CGStop::negative_curvature);
  CHECK(r.negative_curvature == 1);
  CHECK(r.loss < before);
  // Carried on, it reaches a minimum at |w| = 1/sqrt(2).
  NewtonCG more({w}, {.max_iter = 100, .tolerance_grad = 1e-12, .tolerance_change = 0.0});
  const NewtonCGResult m = more.step(f);
  CHECK(m.stop == NewtonCGStop::gradient_tolerance);
  CHECK(std::abs(w.value()(0)) == Approx(1 / std::sqrt(2.0)).epsilon(1e-10));
  CHECK(more.damping() == m.damping);
}

TEST_CASE("Newton-CG says why it stopped and leaves the parameters when no step decreases the loss",
          "[newton_cg]") {
  Tensor64 w = Tensor64({1.0, 2.0}).set_requires_grad();
  // The line search evaluates without a graph: here that loss is always 10 higher, so no step is accepted.
  const auto liar = [&] { return grad_enabled() ? sum(square(w)) : sum(square(w)) + 10.0; };
  NewtonCG opt({w}, {.max_line_search = 5});
  const NewtonCGResult r = opt.step(liar);
  CHECK(r.stop == NewtonCGStop::line_search_failed);
  CHECK(r.evaluations == 6);
  CHECK(w.value()(1) == 2.0);
  CHECK(r.damping > 1.0);  // the model predicted badly: more damping
  NewtonCG capped({w}, {.max_iter = 2, .damping = 10.0});
  const NewtonCGResult c = capped.step([&] { return sum(square(w)); });
  CHECK(c.stop == NewtonCGStop::max_iterations);
  CHECK(c.iterations == 2);
  CHECK(c.gradients == 2);
  CHECK(to_string(NewtonCGStop::line_search_failed) == "line_search_failed");
  CHECK(to_string(CGStop::negative_curvature) == "negative_curvature");
  CHECK_THROWS_WITH(NewtonCG<double>({w}, {.max_cg = 0}), "NewtonCG: max_cg must be >= 1: got 0");
  CHECK_THROWS_WITH(NewtonCG<double>({w}, {.damping = -1.0}), "NewtonCG: damping must be >= 0: got -1");
  CHECK_THROWS_AS(NewtonCG<double>({Tensor64({1.0})}), ValueError);
}
