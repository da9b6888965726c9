// Second-order methods: L-BFGS (golden against torch.optim.LBFGS, Rosenbrock,
// softmax regression, stop reasons, state) and Newton's method.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>

#include "golden/problem.hpp"
#include "slope/optim.hpp"

using namespace slope;
using namespace slope::optim;

namespace {

// f(a, b) = (1 - a)^2 + 100 (b - a^2)^2, minimum 0 at (1, 1)
struct Rosenbrock {
  Tensor64 a{xt::xarray<double>{-1.5}, true};
  Tensor64 b{xt::xarray<double>{2.0}, true};
  std::vector<Tensor64> params() const { return {a, b}; }
  std::function<double()> closure() {
    return [this] {
      a.zero_grad();
      b.zero_grad();
      Tensor64 f = sum(square(1.0 - a) + 100.0 * square(b - square(a)));
      f.backward();
      return f.item();
    };
  }
  std::vector<double> flat() const { return {a.value()(0), b.value()(0)}; }
};

// Three Gaussian blobs in 2-D, 20 points each, and a softmax classifier.
struct Blobs {
  Tensor64 x, w, bias;
  std::vector<std::int32_t> y;
  double lambda;
  Blobs(Rng& rng, double lambda) : lambda(lambda) {
    const double centres[3][2] = {{2, 0}, {-1, 1.7}, {-1, -1.7}};
    xt::xarray<double> xs = xt::xarray<double>::from_shape({60, 2});
    for (std::size_t i = 0; i < 60; ++i) {
      const std::size_t c = i % 3;
      xs(i, 0) = centres[c][0] + rng.normal();
      xs(i, 1) = centres[c][1] + rng.normal();
      y.push_back(static_cast<std::int32_t>(c));
    }
    x = Tensor64(xs);
    w = zeros<double>({2, 3}, true);
    bias = zeros<double>({3}, true);
  }
  Tensor64 loss() const { return softmax_cross_entropy(matmul(x, w) + bias, y) + lambda * sum(square(w)); }
  std::function<double()> closure() {
    return [this] {
      w.zero_grad();
      bias.zero_grad();
      Tensor64 l = loss();
      l.backward();
      return l.item();
    };
  }
};

double check_lbfgs_golden(const std::string& name, LBFGS<double>& opt, const std::function<double()>& closure,
                          const std::function<std::vector<double>()>& flat) {
  double worst = 0.0;
  for (const auto& row : golden::find(golden::lbfgs, name).rows) {
    const LBFGSResult r = opt.step(closure);
    CHECK(r.evaluations == static_cast<int>(row[1]));
    worst = std::max(worst, golden::max_rel_error({r.initial_loss}, {row[0]}));
    worst = std::max(worst, golden::max_rel_error(flat(), std::vector<double>(row.begin() + 2, row.end())));
  }
  std::printf("golden %-28s max relative error %.2e\n", name.c_str(), worst);
  return worst;
}

}  // namespace

TEST_CASE("L-BFGS with strong Wolfe follows torch.optim.LBFGS on softmax regression", "[lbfgs][golden]") {
  golden::Problem pb;
  LBFGS opt(pb.params(), {.lr = 1, .max_iter = 5, .history_size = 3});
  CHECK(check_lbfgs_golden("lbfgs_softmax", opt, pb.closure(), [&] { return pb.flat(); }) < 1e-10);
}

TEST_CASE("L-BFGS with strong Wolfe follows torch.optim.LBFGS on Rosenbrock", "[lbfgs][golden]") {
  Rosenbrock f;
  LBFGS opt(f.params(), {.lr = 1, .max_iter = 10, .history_size = 10});
  CHECK(check_lbfgs_golden("lbfgs_rosenbrock", opt, f.closure(), [&] { return f.flat(); }) < 1e-10);
}

TEST_CASE("L-BFGS without a line search follows torch.optim.LBFGS", "[lbfgs][golden]") {
  golden::Problem pb;
  LBFGS opt(pb.params(), {.lr = 0.5, .max_iter = 6, .history_size = 4, .line_search = LineSearch::none});
  CHECK(check_lbfgs_golden("lbfgs_no_line_search", opt, pb.closure(), [&] { return pb.flat(); }) < 1e-10);
}

TEST_CASE("L-BFGS converges on Rosenbrock and says why it stopped", "[lbfgs]") {
  Rosenbrock f;
  LBFGS opt(f.params(), {.max_iter = 200, .max_eval = 400, .tolerance_grad = 1e-9, .tolerance_change = 1e-14});
  const LBFGSResult r = opt.step(f.closure());
  INFO("stopped by " << to_string(r.stop) << " after " << r.iterations << " iterations");
  CHECK(f.a.value()(0) == Approx(1.0).epsilon(1e-6));
  CHECK(f.b.value()(0) == Approx(1.0).epsilon(1e-6));
  CHECK(r.loss < 1e-12);
  CHECK(r.iterations < 200);
  CHECK(r.stop != LBFGSStop::max_iterations);
  CHECK(r.stop != LBFGSStop::max_evaluations);
}

TEST_CASE("L-BFGS does not take a NaN gradient for a converged one", "[lbfgs]") {
  // A loss whose gradient is NaN everywhere: before the fix, max |g| skipped
  // the NaNs, read 0, and the run stopped at once as gradient_tolerance.
  Tensor64 w = Tensor64({1.0, 2.0}).set_requires_grad();
  LBFGS opt({w}, {.max_iter = 3});
  const LBFGSResult r = opt.step([&] {
    const Tensor64 loss = sum(sqrt(w - 5.0));  // sqrt of negatives: NaN, and NaN gradients
    opt.zero_grad();
    loss.backward();
    return loss.item();
  });
  CHECK(r.stop != LBFGSStop::gradient_tolerance);
}

TEST_CASE("L-BFGS converges on full-batch softmax regression", "[lbfgs]") {
  Rng rng{7};
  Blobs data(rng, 1e-2);
  LBFGS opt({data.w, data.bias}, {.max_iter = 100, .tolerance_grad = 1e-8, .tolerance_change = 1e-15});
  const double start = data.closure()();
  const LBFGSResult r = opt.step(data.closure());
  INFO("stopped by " << to_string(r.stop) << " after " << r.iterations << " iterations");
  CHECK(r.stop == LBFGSStop::gradient_tolerance);
  CHECK(r.loss < 0.5 * start);
  // at the optimum the gradient vanishes; a second call returns at once
  const LBFGSResult again = opt.step(data.closure());
  CHECK(again.stop == LBFGSStop::gradient_tolerance);
  CHECK(again.evaluations == 1);
  CHECK(xt::amax(xt::abs(data.w.grad()))() <= 1e-8);
}

TEST_CASE("L-BFGS stops at its iteration budget and reports it", "[lbfgs]") {
  Rosenbrock f;
  LBFGS opt(f.params(), {.max_iter = 3, .max_eval = 100});
  const LBFGSResult r = opt.step(f.closure());
  CHECK(r.stop == LBFGSStop::max_iterations);
  CHECK(r.iterations == 3);
  CHECK(to_string(r.stop) == "max_iterations");
}

TEST_CASE("An L-BFGS state restored into a fresh optimizer continues exactly", "[lbfgs][state]") {
  Rosenbrock f, g;
  LBFGS first(f.params(), {.max_iter = 4, .history_size = 3});
  first.step(f.closure());
  first.step(f.closure());
  const OptimizerState s = first.state();
  CHECK(s.kind == "LBFGS");
  CHECK(s.tensors.at("old_dirs").size() <= 3);
  g.a.mutable_value() = f.a.value();
  g.b.mutable_value() = f.b.value();
  LBFGS second(g.params(), {.max_iter = 4, .history_size = 3});
  second.load_state(s);
  CHECK(second.state() == s);
  first.step(f.closure());
  second.step(g.closure());
  CHECK(f.flat() == g.flat());
  CHECK_THROWS_AS(LBFGS<double>({f.a}, {.history_size = 0}), ValueError);
}

TEST_CASE("Newton's method converges quadratically with no learning rate", "[newton]") {
  // A smooth strictly convex problem: softmax regression with an L2 term.
  Rng rng{3};
  Blobs data(rng, 1e-2);
  const NewtonResult r = newton<double>({data.w, data.bias}, data.closure(), {.max_iter = 15, .tolerance_grad = 1e-9});
  std::string norms;
  for (double n : r.gradient_norms) norms += fmt::format("{:.1e} ", n);
  INFO("gradient norms: " << norms);
  CHECK(r.stop == NewtonStop::gradient_tolerance);
  CHECK(r.iterations <= 10);
  // Quadratic convergence: e_{k+1} ~ C e_k^2, so the order
  //   p = log(e_{k+2} / e_{k+1}) / log(e_{k+1} / e_k)
  // is about 2 once close (the correct digits double); gradient descent gives 1.
  // The Hessian comes from finite differences, so norms below ~1e-7 are noise
  // (they can even grow again); only steps above that floor are judged.
  constexpr double kNoise = 1e-7;
  const auto& e = r.gradient_norms;
  int close = 0, squared = 0;
  for (std::size_t k = 0; k + 1 < e.size(); ++k) {
    if (e[k] > 1e-1 || e[k + 1] < kNoise) continue;
    INFO("step " << k << ": " << e[k] << " -> " << e[k + 1]);
    CHECK(e[k + 1] <= 10.0 * e[k] * e[k]);  // the error is squared, up to a constant
    ++squared;
    if (k + 2 >= e.size() || e[k] > 5e-2 || e[k + 2] < kNoise) continue;
    const double p = std::log(e[k + 2] / e[k + 1]) / std::log(e[k + 1] / e[k]);
    INFO("order at iterate " << k << ": " << p);
    CHECK(p > 1.6);
    ++close;
  }
  CHECK(squared >= 2);
  CHECK(close >= 1);
}

TEST_CASE("Newton's method solves a quadratic in one step", "[newton]") {
  // f(w) = (w - c)^T A (w - c) with A = [[3, 1], [1, 2]]: H = 2A, one Newton step lands on c
  Tensor64 w(xt::xarray<double>{5.0, -4.0}, true);
  Tensor64 a = Tensor64(xt::xarray<double>{{3.0, 1.0}, {1.0, 2.0}});
  Tensor64 c = reshape(Tensor64{1.0, 2.0}, {2, 1});
  auto closure = [&] {
    w.zero_grad();
    Tensor64 d = reshape(w, {2, 1}) - c;
    Tensor64 f = sum(matmul(transpose(d), matmul(a, d)));
    f.backward();
    return f.item();
  };
  const NewtonResult r = newton<double>({w}, closure, {.tolerance_grad = 1e-8});
  CHECK(r.iterations == 1);
  CHECK(w.value()(0) == Approx(1.0).epsilon(1e-9));
  CHECK(w.value()(1) == Approx(2.0).epsilon(1e-9));
  CHECK_THROWS_AS(solve_dense({1.0, 2.0, 2.0, 4.0}, {1.0, 1.0}), NumericError);
}
