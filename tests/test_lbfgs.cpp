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
  // Strictly convex: with the penalty on w alone, adding one constant to every
  // bias changes nothing, so the Hessian is singular along (1, 1, 1) (exactly
  // so in some builds' rounding); penalising the biases too removes that.
  Tensor64 strict_loss() const { return loss() + lambda * sum(square(bias)); }
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

// The order of convergence from the last three gradient norms above `floor`:
// p = log(e_{k+1} / e_k) / log(e_k / e_{k-1}); 1 for linear, 2 for quadratic.
double measured_order(const std::vector<double>& e, double floor) {
  std::size_t k = e.size();
  while (k > 0 && e[k - 1] < floor) --k;  // e[k - 1] is the last norm above the floor
  REQUIRE(k >= 3);
  return std::log(e[k - 1] / e[k - 2]) / std::log(e[k - 2] / e[k - 3]);
}

TEST_CASE("Newton's method with the autograd Hessian converges quadratically: order >= 1.95", "[newton]") {
  // A smooth strictly convex problem: softmax regression with an L2 term.
  Rng rng{3};
  Blobs data(rng, 1e-2);
  const NewtonResult r = newton<double>({data.w, data.bias}, [&] { return data.strict_loss(); },
                                        {.max_iter = 15, .tolerance_grad = 1e-13});
  std::string norms;
  for (double n : r.gradient_norms) norms += fmt::format("{:.2e} ", n);
  INFO("gradient norms: " << norms);
  CHECK(r.stop == NewtonStop::gradient_tolerance);
  CHECK(r.iterations <= 10);
  CHECK(r.backward_passes == 1 + r.iterations * (1 + 9));  // a gradient, then 9 Hessian rows per step
  // Quadratic convergence: e_{k+1} ~ C e_k^2 once close (the correct digits
  // double), judged above 1e-13, where the gradient still has digits to lose.
  const auto& e = r.gradient_norms;
  int squared = 0;
  for (std::size_t k = 0; k + 1 < e.size(); ++k) {
    if (e[k] > 1e-1 || e[k + 1] < 1e-13) continue;
    INFO("step " << k << ": " << e[k] << " -> " << e[k + 1]);
    CHECK(e[k + 1] <= 10.0 * e[k] * e[k]);  // the error is squared, up to a constant
    ++squared;
  }
  CHECK(squared >= 2);
  const double p = measured_order(e, 1e-13);
  WARN(fmt::format("Newton, exact Hessian: gradient norms {}-> measured order {:.3f}", norms, p));
  CHECK(p >= 1.95);
  CHECK(p <= 2.5);
}

TEST_CASE("Newton's method with a finite-difference Hessian converges too, judged above its noise floor", "[newton]") {
  Rng rng{3};
  Blobs data(rng, 1e-2);
  const NewtonResult fd = newton<double>({data.w, data.bias}, [&] { return data.strict_loss(); },
                                         {.max_iter = 15, .tolerance_grad = 1e-9,
                                          .hessian = NewtonHessian::finite_difference});
  CHECK(fd.stop == NewtonStop::gradient_tolerance);
  CHECK(fd.backward_passes == 1 + fd.iterations * (1 + 2 * 9));
  std::string norms;
  for (double n : fd.gradient_norms) norms += fmt::format("{:.2e} ", n);
  // The differences' Hessian is off by ~1e-10 (h^2 and round-off / h), so
  // norms below ~1e-7 are not trusted: the order is judged on the last three
  // above that, further from the minimum than the exact Hessian allows.
  const double p = measured_order(fd.gradient_norms, 1e-7);
  WARN(fmt::format("Newton, finite-difference Hessian: gradient norms {}-> measured order {:.3f}", norms, p));
  CHECK(p > 1.5);
}

TEST_CASE("Newton's method solves a quadratic in one step, exactly", "[newton]") {
  // f(w) = (w - c)^T A (w - c) with A = [[3, 1], [1, 2]]: H = 2A, one Newton step lands on c
  Tensor64 w(xt::xarray<double>{5.0, -4.0}, true);
  Tensor64 a = Tensor64(xt::xarray<double>{{3.0, 1.0}, {1.0, 2.0}});
  Tensor64 c = reshape(Tensor64{1.0, 2.0}, {2, 1});
  auto loss = [&] {
    Tensor64 d = reshape(w, {2, 1}) - c;
    return sum(matmul(transpose(d), matmul(a, d)));
  };
  const NewtonResult r = newton<double>({w}, loss, {.tolerance_grad = 1e-12});
  CHECK(r.iterations == 1);
  CHECK(std::abs(w.value()(0) - 1.0) <= 1e-14);
  CHECK(std::abs(w.value()(1) - 2.0) <= 1e-14);
  CHECK(r.gradient_norms.back() <= 1e-13);
  // By differences the step is as exact as the differences: a quadratic's are exact up to rounding.
  w.mutable_value() = xt::xarray<double>{5.0, -4.0};
  const NewtonResult fd = newton<double>({w}, loss, {.tolerance_grad = 1e-8, .hessian = NewtonHessian::finite_difference});
  CHECK(fd.iterations == 1);
  CHECK(w.value()(0) == Approx(1.0).epsilon(1e-9));
  CHECK_THROWS_AS(solve_dense({1.0, 2.0, 2.0, 4.0}, {1.0, 1.0}), NumericError);
}
