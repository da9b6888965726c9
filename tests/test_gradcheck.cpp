// Gradient checking itself: it passes correct gradients, catches wrong ones and
// says where, samples sparsely when asked; and the lecture's checks with it:
// float32 against float64, and a linear softmax classifier with L2.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "slope/gradcheck.hpp"
#include "slope/ops.hpp"
#include "slope/tensor.hpp"

using Catch::Matchers::Matches;
using slope::Shape;
using slope::Tensor64;

namespace {

using Inputs = std::vector<Tensor64>;

// The documented failure line, as a regular expression.
const std::string mismatch_line =
    R"(gradient mismatch for input \d+( \(\w+\))? at \((\d+(, \d+)*,?)?\): )"
    R"(numerical -?\d[\d.]*(e[+-]\d+)?, analytic -?\d[\d.]*(e[+-]\d+)?, )"
    R"(relative error \d\.\de[+-]\d\d)";

// sum(w * detach(w)): backward sees only the first factor, so the analytic
// gradient is w while the true one is 2w.
Tensor64 half_cut_square(const Tensor64& w) { return slope::sum(w * w.detach()); }

}  // namespace

// ---- numerical_gradient ------------------------------------------------------------

TEST_CASE("numerical_gradient matches known derivatives", "[gradcheck]") {
  const xt::xarray<double> x = {0.5, -1.25, 2.0};
  SECTION("sum of cubes: 3 x^2") {
    const auto f = [](const xt::xarray<double>& v) {
      double s = 0.0;
      for (double e : v) s += e * e * e;
      return s;
    };
    const xt::xarray<double> g = slope::numerical_gradient(f, x);
    for (std::size_t i = 0; i < 3; ++i) CHECK(g(i) == Approx(3 * x(i) * x(i)).epsilon(1e-8));
  }
  SECTION("a product with a sine: x0 sin(x1) x2") {
    const auto f = [](const xt::xarray<double>& v) { return v(0) * std::sin(v(1)) * v(2); };
    const xt::xarray<double> g = slope::numerical_gradient(f, x);
    CHECK(g(0) == Approx(std::sin(x(1)) * x(2)).epsilon(1e-8));
    CHECK(g(1) == Approx(x(0) * std::cos(x(1)) * x(2)).epsilon(1e-8));
    CHECK(g(2) == Approx(x(0) * std::sin(x(1))).epsilon(1e-8));
  }
  SECTION("differences are centred: the error on x^3 is exactly h^2") {
    // (f(x + h) - f(x - h)) / 2h = 3x^2 + h^2; a one-sided difference would add 3xh.
    const auto f = [](const xt::xarray<double>& v) { return v(0) * v(0) * v(0); };
    const xt::xarray<double> g = slope::numerical_gradient(f, xt::xarray<double>({2.0}), 0.1);
    CHECK(g(0) == Approx(12.0 + 0.01).epsilon(1e-12));
  }
  SECTION("entries of a matrix keep their shape") {
    const auto f = [](const xt::xarray<double>& v) { return v(0, 1) * 4.0 + v(1, 0); };
    const xt::xarray<double> g = slope::numerical_gradient(f, xt::zeros<double>({2, 2}));
    REQUIRE(g.dimension() == 2);
    CHECK(g(0, 0) == Approx(0.0).margin(1e-9));
    CHECK(g(0, 1) == Approx(4.0).epsilon(1e-9));
    CHECK(g(1, 0) == Approx(1.0).epsilon(1e-9));
    CHECK(g(1, 1) == Approx(0.0).margin(1e-9));
  }
}

// ---- gradcheck: pass, fail, and the report -----------------------------------------

TEST_CASE("gradcheck passes correct gradients and counts every entry", "[gradcheck]") {
  slope::Rng rng{11};
  const Inputs in = {slope::randn<double>({3, 4}, rng, 1.0, 0.0, true).set_name("a"),
                     slope::randn<double>({4, 2}, rng, 1.0, 0.0, true).set_name("b")};
  const auto f = [](const Inputs& x) {
    return slope::mean(slope::exp(slope::matmul(x[0], x[1]) * 0.5));
  };
  const slope::GradcheckReport r = slope::gradcheck(f, in);
  INFO(r.message());
  CHECK(r.ok);
  CHECK(r.checked == 12 + 8);
  CHECK(r.failures.empty());
  REQUIRE(r.worst.size() == 2);
  CHECK(r.worst[0].name == "a");
  CHECK(r.worst[1].input == 1);
  CHECK(r.max_rel_error() < 1e-6);
  CHECK_THAT(r.message(), Matches(R"(gradcheck ok: 20 entries, worst relative error \d\.\de[+-]\d\d)"));
}

TEST_CASE("gradcheck catches a gradient cut by detach and says where, in the documented format",
          "[gradcheck]") {
  // f = sum(w0 * c0) + sum(w1 * c1) + sum(mask * w1 * detach(w1)), with the mask
  // 1 only at (3, 7): there the analytic gradient is c + w, the true one c + 2w.
  // With w = -0.0065 and c = 0.1364 this is the example of the spec.
  slope::Rng rng{5};
  Tensor64 w0 = slope::randn<double>({2, 3}, rng, 1.0, 0.0, true).set_name("w0");
  Tensor64 w1 = slope::randn<double>({4, 8}, rng, 1.0, 0.0, true).set_name("w1");
  const Tensor64 c0 = slope::randn<double>({2, 3}, rng);
  Tensor64 c1 = slope::randn<double>({4, 8}, rng);
  Tensor64 mask = slope::zeros<double>({4, 8});
  mask.mutable_value()(3, 7) = 1.0;
  w1.mutable_value()(3, 7) = -0.0065;
  c1.mutable_value()(3, 7) = 0.1364;
  const auto f = [&](const Inputs& x) {
    return slope::sum(x[0] * c0) + slope::sum(x[1] * c1) + slope::sum(mask * x[1] * x[1].detach());
  };
  const slope::GradcheckReport r = slope::gradcheck(f, {w0, w1});
  CHECK_FALSE(r.ok);
  CHECK(r.message() ==
        "gradient mismatch for input 1 (w1) at (3, 7): numerical 0.1234, analytic 0.1299, "
        "relative error 5.0e-02");
  CHECK_THAT(r.message(), Matches(mismatch_line));
  REQUIRE(r.failures.size() == 1);
  const slope::GradEntry& e = r.failures[0];
  CHECK(e.input == 1);
  CHECK(e.name == "w1");
  CHECK(e.index == Shape{3, 7});
  CHECK(e.numerical == Approx(0.1234).epsilon(1e-8));
  CHECK(e.analytic == Approx(0.1299).epsilon(1e-12));
  CHECK(e.rel_error == Approx(0.0065 / 0.1299).epsilon(1e-6));
  REQUIRE(r.worst.size() == 2);
  CHECK(r.worst[0].ok);   // w0's gradient is right
  CHECK_FALSE(r.worst[1].ok);
  CHECK(r.worst[1].index == Shape{3, 7});
}

TEST_CASE("gradcheck reports each failing input on its own line", "[gradcheck]") {
  const Inputs in = {Tensor64({1.0, 2.0}).set_requires_grad(),  // unnamed
                     Tensor64({0.5}).set_requires_grad(),
                     Tensor64({{1.0, 3.0}}).set_requires_grad().set_name("v")};
  const auto f = [](const Inputs& x) {
    return half_cut_square(x[0]) + slope::sum(x[1] * 2.0) + half_cut_square(x[2]);
  };
  const slope::GradcheckReport r = slope::gradcheck(f, in);
  CHECK_FALSE(r.ok);
  CHECK(r.failures.size() == 4);
  CHECK(r.message() ==
        "gradient mismatch for input 0 at (1,): numerical 4, analytic 2, relative error 5.0e-01\n"
        "gradient mismatch for input 2 (v) at (0, 1): numerical 6, analytic 3, relative error "
        "5.0e-01");
  std::size_t start = 0;
  for (int line = 0; line < 2; ++line) {
    const std::size_t end = r.message().find('\n', start);
    CHECK_THAT(r.message().substr(start, end - start), Matches(mismatch_line));
    start = end + 1;
  }
}

TEST_CASE("gradcheck applies |a - n| <= atol + rtol |n| with the documented defaults", "[gradcheck]") {
  const slope::GradcheckOptions defaults;
  CHECK(defaults.atol == 1e-8);
  CHECK(defaults.rtol == 1e-6);
  CHECK(defaults.h == 1e-6);
  CHECK(defaults.max_entries_per_input == 0);
  // f = sum(w) + eps * sum(w * detach(w)) at w = 1: analytic 1 + eps, true 1 + 2 eps.
  const auto with_error = [](double eps) {
    return [eps](const Inputs& x) { return slope::sum(x[0]) + half_cut_square(x[0]) * eps; };
  };
  const Inputs in = {slope::ones<double>({3}, true)};
  CHECK(slope::gradcheck(with_error(5e-7), in).ok);   // off by 5e-7 of 1: inside 1e-6
  CHECK_FALSE(slope::gradcheck(with_error(2e-6), in).ok);  // off by 2e-6: outside
  slope::GradcheckOptions loose;
  loose.rtol = 1e-5;
  CHECK(slope::gradcheck(with_error(2e-6), in, loose).ok);
  // Near zero the absolute tolerance decides.
  const auto tiny = [](double eps) {
    return [eps](const Inputs& x) { return half_cut_square(x[0]) * eps; };
  };
  CHECK(slope::gradcheck(tiny(5e-9), in).ok);
  CHECK_FALSE(slope::gradcheck(tiny(5e-8), in).ok);
}

TEST_CASE("gradcheck restores the inputs, clears their gradients and skips constants", "[gradcheck]") {
  slope::Rng rng{8};
  Tensor64 w = slope::randn<double>({3, 3}, rng, 1.0, 0.0, true);
  Tensor64 x = slope::randn<double>({2, 3}, rng);  // a constant: not checked
  const xt::xarray<double> before = w.value();
  slope::sum(w).backward();  // a stale gradient must not leak into the check
  const auto f = [](const Inputs& in) { return slope::sum(slope::square(slope::matmul(in[1], in[0]))); };
  const slope::GradcheckReport r = slope::gradcheck(f, {w, x});
  CHECK(r.ok);
  CHECK(r.checked == 9);
  CHECK(r.worst.size() == 1);
  CHECK(std::equal(before.begin(), before.end(), w.value().begin()));
  CHECK_FALSE(w.has_grad());
  CHECK_FALSE(x.has_grad());
}

// ---- the sparse check ----------------------------------------------------------------

TEST_CASE("the sparse option checks exactly N random entries of each input", "[gradcheck]") {
  slope::Rng rng{9};
  const Tensor64 big = slope::uniform<double>({20, 30}, 0.5, 1.5, rng, true);
  const Tensor64 small = slope::uniform<double>({2, 3}, 0.5, 1.5, rng, true);
  // Every entry of both inputs fails, so the failures list the checked entries.
  const auto f = [](const Inputs& x) { return half_cut_square(x[0]) + half_cut_square(x[1]); };
  const auto sampled = [&](std::uint64_t seed) {
    slope::GradcheckOptions o;
    o.max_entries_per_input = 25;
    o.seed = seed;
    return slope::gradcheck(f, {big, small}, o);
  };
  const slope::GradcheckReport r = sampled(1);
  CHECK(r.checked == 25 + 6);  // the small input has fewer entries than N: all of them
  REQUIRE(r.failures.size() == 31);
  std::set<Shape> from_big;
  for (const auto& e : r.failures)
    if (e.input == 0) from_big.insert(e.index);
  CHECK(from_big.size() == 25);  // 25 distinct entries
  // The sample is a function of the seed.
  std::set<Shape> again, other;
  for (const auto& e : sampled(1).failures)
    if (e.input == 0) again.insert(e.index);
  for (const auto& e : sampled(2).failures)
    if (e.input == 0) other.insert(e.index);
  CHECK(again == from_big);
  CHECK(other != from_big);
  CHECK(other.size() == 25);
}

TEST_CASE("a sparse check of a large weight matrix passes (the lecture's practice)", "[gradcheck]") {
  slope::Rng rng{10};
  const Tensor64 x = slope::randn<double>({16, 784}, rng, 0.1);
  std::vector<std::int32_t> y(16);
  for (auto& label : y) label = static_cast<std::int32_t>(rng.below(10));
  const Tensor64 w = slope::randn<double>({784, 10}, rng, 0.01, 0.0, true).set_name("W");
  const Tensor64 b = slope::zeros<double>({10}, true).set_name("b");
  const auto loss = [&](const Inputs& p) {
    return slope::softmax_cross_entropy(slope::matmul(x, p[0]) + p[1], y);
  };
  slope::GradcheckOptions o;
  o.max_entries_per_input = 40;
  o.seed = 3;
  const slope::GradcheckReport r = slope::gradcheck(loss, {w, b}, o);
  INFO(r.message());
  CHECK(r.ok);
  CHECK(r.checked == 40 + 10);
}

// ---- float32 against float64 ----------------------------------------------------------

namespace {

// A small MLP with L2: loss, dW1, db1, dW2, db2 for parameters given in float64.
template <class T>
std::vector<xt::xarray<double>> mlp_loss_and_grads(const std::vector<xt::xarray<double>>& p,
                                                   const std::vector<std::int32_t>& y) {
  using Tn = slope::TensorT<T>;
  const Tn x{xt::xarray<T>(p[0])};
  std::vector<Tn> w;
  for (std::size_t i = 1; i < p.size(); ++i) w.emplace_back(xt::xarray<T>(p[i]), true);
  const Tn h = slope::relu(slope::matmul(x, w[0]) + w[1]);
  const Tn scores = slope::matmul(h, w[2]) + w[3];
  const Tn loss = slope::softmax_cross_entropy(scores, y) +
                  T(1e-2) * (slope::sum(slope::square(w[0])) + slope::sum(slope::square(w[2])));
  loss.backward();
  std::vector<xt::xarray<double>> out{xt::xarray<double>(loss.value())};
  for (const Tn& t : w) out.emplace_back(xt::xarray<double>(t.grad()));
  return out;
}

}  // namespace

TEST_CASE("float32 forward and backward agree with float64 within rtol 1e-5", "[gradcheck][float32]") {
  // Inputs are drawn in float32 so both precisions start from the same numbers;
  // draws whose pre-activations sit near relu's kink are redrawn.
  const Shape shapes[] = {{8, 5}, {5, 6}, {6}, {6, 3}, {3}};
  std::vector<xt::xarray<double>> p;
  std::vector<std::int32_t> y(8);
  for (std::uint64_t seed = 1;; ++seed) {
    slope::Rng rng{seed};
    p.clear();
    for (const Shape& s : shapes)
      p.emplace_back(slope::randn<float>(s, rng, 0.7).value());
    for (auto& label : y) label = static_cast<std::int32_t>(rng.below(3));
    const xt::xarray<double> pre = slope::matmul(Tensor64(p[0]), Tensor64(p[1])).value() + p[2];
    if (std::all_of(pre.begin(), pre.end(), [](double v) { return std::abs(v) > 1e-3; })) break;
  }
  const auto f64 = mlp_loss_and_grads<double>(p, y);
  const auto f32 = mlp_loss_and_grads<float>(p, y);
  REQUIRE(f64.size() == f32.size());
  double worst = 0.0;
  const char* names[] = {"loss", "dW1", "db1", "dW2", "db2"};
  for (std::size_t k = 0; k < f64.size(); ++k) {
    INFO(names[k]);
    REQUIRE(f64[k].size() == f32[k].size());
    for (std::size_t i = 0; i < f64[k].size(); ++i) {
      const double a = f32[k].data()[i], b = f64[k].data()[i];
      worst = std::max(worst, std::abs(a - b) / std::abs(b));
      CHECK(std::abs(a - b) <= 1e-5 * std::abs(b));
    }
  }
  WARN("float32 against float64: worst relative difference " << worst);
}

// ---- the lecture's example -------------------------------------------------------------

TEST_CASE("a linear softmax classifier with lambda L2 has correct gradients for W and b",
          "[gradcheck][lecture]") {
  // 20 points, 5 features, 3 classes; loss = softmax cross-entropy + lambda * sum(W^2).
  constexpr std::size_t n = 20, d = 5, k = 3;
  constexpr double lambda = 0.1;
  slope::Rng rng{2023};
  const Tensor64 x = slope::randn<double>({n, d}, rng);
  std::vector<std::int32_t> y(n);
  for (auto& label : y) label = static_cast<std::int32_t>(rng.below(k));
  Tensor64 w = slope::randn<double>({d, k}, rng, 0.5, 0.0, true).set_name("W");
  Tensor64 b = slope::randn<double>({k}, rng, 0.1, 0.0, true).set_name("b");
  const auto loss = [&](const Inputs& p) {
    return slope::softmax_cross_entropy(slope::matmul(x, p[0]) + p[1], y) +
           lambda * slope::sum(slope::square(p[0]));
  };

  const slope::GradcheckReport r = slope::gradcheck(loss, {w, b});
  INFO(r.message());
  CHECK(r.ok);
  CHECK(r.checked == d * k + k);
  WARN("linear classifier: worst relative error " << r.max_rel_error());

  // And against the closed form: dW = X^T (P - Y) / N + 2 lambda W, db = sum_i (P - Y)_i / N.
  loss({w, b}).backward();
  const xt::xarray<double>& X = x.value();
  const xt::xarray<double>& W = w.value();
  xt::xarray<double> dW = 2.0 * lambda * W;
  xt::xarray<double> db = xt::zeros<double>({k});
  for (std::size_t i = 0; i < n; ++i) {
    double s[k], m = -INFINITY, z = 0.0;
    for (std::size_t c = 0; c < k; ++c) {
      s[c] = b.value()(c);
      for (std::size_t j = 0; j < d; ++j) s[c] += X(i, j) * W(j, c);
      m = std::max(m, s[c]);
    }
    for (std::size_t c = 0; c < k; ++c) z += std::exp(s[c] - m);
    for (std::size_t c = 0; c < k; ++c) {
      const double delta = (std::exp(s[c] - m) / z - (static_cast<int>(c) == y[i] ? 1.0 : 0.0)) / n;
      db(c) += delta;
      for (std::size_t j = 0; j < d; ++j) dW(j, c) += X(i, j) * delta;
    }
  }
  for (std::size_t i = 0; i < dW.size(); ++i)
    CHECK(w.grad().data()[i] == Approx(dW.data()[i]).epsilon(1e-12).margin(1e-14));
  for (std::size_t c = 0; c < k; ++c) CHECK(b.grad()(c) == Approx(db(c)).epsilon(1e-12).margin(1e-14));
}
