// jacobian, hessian, hvp and vhp: against PyTorch's golden Hessians and
// Hessian-vector products of ten graphs (tests/golden/hessian_golden.hpp,
// no PyTorch needed), and against each other: H symmetric, H v = the product
// of the full Hessian with v = a central difference of the gradient along v,
// v^T H = H v, the Jacobian of the gradient = the Hessian, and third
// derivatives against their closed forms.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>

#include "golden/hessian_golden.hpp"
#include "slope/autograd.hpp"
#include "slope/functional.hpp"
#include "slope/loss.hpp"
#include "slope/ops.hpp"

using namespace slope;

namespace {

// ((37 i + 11 j + 5 salt) mod 17 - 8) / 8: the generator's constants, exact.
Tensor64 konst(std::size_t rows, std::size_t cols, std::size_t salt) {
  xt::xarray<double> a = xt::xarray<double>::from_shape({rows, cols});
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) a(i, j) = static_cast<double>((37 * i + 11 * j + 5 * salt) % 17) / 8.0 - 1.0;
  return Tensor64(a);
}
std::vector<std::int32_t> labels(std::size_t n, std::size_t c, std::size_t salt) {
  std::vector<std::int32_t> y(n);
  for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<std::int32_t>((3 * i + salt) % c);
  return y;
}
Tensor64 part(const Tensor64& x, std::int64_t from, std::int64_t to, Shape shape) {
  return reshape(slice(x, 0, from, to), shape);
}

// The generator's graphs, op for op (make_hessian_golden.py).
const std::map<std::string, std::function<Tensor64(const Tensor64&)>>& graphs() {
  static const std::map<std::string, std::function<Tensor64(const Tensor64&)>> g = {
      {"softmax_regression",
       [](const Tensor64& x) {
         const Tensor64 W = part(x, 0, 9, {3, 3}), b = slice(x, 0, 9, 12);
         return softmax_cross_entropy(matmul(konst(5, 3, 1), W) + b, labels(5, 3, 1)) + 0.01 * sum(square(W));
       }},
      {"tanh_mlp",
       [](const Tensor64& x) {
         const Tensor64 W1 = part(x, 0, 6, {2, 3}), W2 = part(x, 6, 9, {3, 1}), b2 = slice(x, 0, 9, 10);
         return mean(square(matmul(tanh(matmul(konst(4, 2, 2), W1)), W2) + b2 - konst(4, 1, 3)));
       }},
      {"relu_mlp",  // the fused linear with its relu epilogue
       [](const Tensor64& x) {
         const Tensor64 W1 = part(x, 0, 8, {2, 4}), b1 = slice(x, 0, 8, 12), W2 = part(x, 12, 16, {4, 1});
         const Tensor64 h = linear(konst(5, 2, 4), W1, b1, Activation::relu);
         return mean(square(matmul(h, W2) - konst(5, 1, 5))) + 0.1 * sum(square(W1));
       }},
      {"activations",
       [](const Tensor64& x) {
         return sum(exp(0.3 * x) * sigmoid(x)) + sum(softplus(x) * log1p(x * x)) + sum(square(gelu(x))) +
                sum(elu(x, 0.7) * x) + sum(leaky_relu(x, 0.1) * tanh(x)) + sum(silu(x) * x);
       }},
      {"reductions",
       [](const Tensor64& x) {
         const Tensor64 A = reshape(x, {3, 3});
         return sum(logsumexp(A, 1)) + norm(A) + sum(var(A, 0, {.correction = 1})) +
                sum(slope::std(A, 1, {.correction = 0})) + sum(softmax(A, 0) * konst(3, 3, 6)) +
                sum(square(mean(A, 1)));
       }},
      {"log_softmax_nll",
       [](const Tensor64& x) {
         const Tensor64 A = reshape(x, {4, 3});
         return nll(log_softmax(A, 1), labels(4, 3, 2)) + sum(log_softmax(A, 0) * konst(4, 3, 7));
       }},
      {"powers",
       [](const Tensor64& x) {
         return sum(sqrt(x) / (1.0 + x * x)) + sum(pow(x, 1.5)) + sum(1.0 / x) + sum(square(log(x)));
       }},
      {"losses",
       [](const Tensor64& x) {
         const Tensor64 t = reshape(konst(1, 6, 8), {6}), t01 = (reshape(konst(1, 6, 9), {6}) + 1.0) / 2.0;
         return bce_with_logits(x, t01) + huber(x, t, 0.5) + mse(x * x, t) + sum(maximum(x, 0.3 * x * x) * x) +
                sum(pow(clamp(x, -1.5, 1.5), 3.0));
       }},
      {"matmuls",
       [](const Tensor64& x) {
         const Tensor64 A = part(x, 0, 6, {2, 3}), B = part(x, 6, 12, {3, 2}), C = konst(2, 2, 10);
         return sum(square(matmul(A, B) - C)) + sum(square(matmul(A, transpose(A)))) * 0.1 +
                sum(matmul(transpose(B), B) * C);
       }},
      {"shapes",
       [](const Tensor64& x) {
         const Tensor64 A = reshape(x, {2, 3, 2});
         const Tensor64 Q = sum(square(permute(A, {2, 0, 1})), 2);
         const Tensor64 S = concat({slice(A, 1, 0, 3, 2), slice(A, 1, 1, 2) * 2.0}, 1);
         const std::vector<std::int64_t> swap{1, 0}, picks{0, 3, 3, 5};
         const Tensor64 rows = index_select(reshape(A, {6, 2}), 0, picks);
         return sum(narrow(Q, 0, 0, 1) * narrow(Q, 0, 1, 1)) + sum(S * index_select(S, 0, swap)) +
                sum(square(tanh(rows))) + sum(square(stack({sum(A, 0), max(A, 0)})));
       }},
  };
  return g;
}

Tensor64 vec(const std::vector<double>& v) { return from_vector<double>(v, {v.size()}); }

double max_abs(const xt::xarray<double>& a) {
  double m = 0.0;
  for (double v : a) m = std::max(m, std::abs(v));
  return m;
}

// The worst relative difference of a against a reference b, entry by entry,
// relative to max(|b|, 1e-6 max|b|) (entries that are zero up to rounding
// are compared against the array's scale).
double worst_relative(const xt::xarray<double>& a, const std::vector<double>& b) {
  double scale = 0.0, worst = 0.0;
  for (double v : b) scale = std::max(scale, std::abs(v));
  for (std::size_t i = 0; i < b.size(); ++i)
    worst = std::max(worst, std::abs(a.data()[i] - b[i]) / std::max(std::abs(b[i]), 1e-6 * scale));
  return worst;
}

}  // namespace

TEST_CASE("Hessians and Hessian-vector products match PyTorch's to 1e-10", "[functional][golden]") {
  REQUIRE(golden::hessian_cases.size() == graphs().size());
  double worst_h = 0.0, worst_hv = 0.0;
  std::string where_h, where_hv;
  for (const golden::HessianCase& g : golden::hessian_cases) {
    INFO(g.name);
    const auto& f = graphs().at(std::string(g.name));
    const Tensor64 x = vec(g.x), v = vec(g.v);
    CHECK(f(x).item() == Approx(g.value).epsilon(1e-13));
    const Tensor64 H = hessian<double>(f, x);
    REQUIRE(H.shape() == Shape{g.n, g.n});
    const HessianProduct<double> hv = hvp<double>(f, x, v);
    CHECK(hv.value.item() == Approx(g.value).epsilon(1e-13));
    const double eh = worst_relative(H.value(), g.hessian), ehv = worst_relative(hv.product.value(), g.hvp);
    CHECK(eh <= 1e-10);
    CHECK(ehv <= 1e-10);
    if (eh > worst_h) worst_h = eh, where_h = g.name;
    if (ehv > worst_hv) worst_hv = ehv, where_hv = g.name;
  }
  WARN("golden Hessians: " << golden::hessian_cases.size() << " graphs; worst relative difference from PyTorch "
                           << worst_h << " (" << where_h << "); Hessian-vector products " << worst_hv << " ("
                           << where_hv << ")");
}

TEST_CASE("Hessians are symmetric and H v agrees with H times v, v^T H and a difference of gradients",
          "[functional]") {
  double asym = 0.0, product = 0.0, difference = 0.0;
  for (const golden::HessianCase& g : golden::hessian_cases) {
    INFO(g.name);
    const auto& f = graphs().at(std::string(g.name));
    const Tensor64 x = vec(g.x), v = vec(g.v);
    const xt::xarray<double> H = hessian<double>(f, x).value();
    const xt::xarray<double> hv = hvp<double>(f, x, v).product.value();
    const xt::xarray<double> vh = vhp<double>(f, x, v).product.value();
    const double scale = std::max(1.0, max_abs(H));
    for (std::size_t i = 0; i < g.n; ++i) {
      double row = 0.0;
      for (std::size_t j = 0; j < g.n; ++j) {
        asym = std::max(asym, std::abs(H(i, j) - H(j, i)));
        row += H(i, j) * g.v[j];
      }
      product = std::max(product, std::abs(hv(i) - row) / scale);
      CHECK(std::abs(vh(i) - hv(i)) <= 1e-12 * scale);
    }
    // (g(x + h v) - g(x - h v)) / 2h, with the analytic gradient g.
    const double h = 1e-5;
    const auto gradient = [&](double t) {
      const Tensor64 at = (x + t * v).detach().set_requires_grad();
      return grad(f(at), {at})[0].value();
    };
    const xt::xarray<double> fd = (gradient(h) - gradient(-h)) / (2 * h);
    for (std::size_t i = 0; i < g.n; ++i) difference = std::max(difference, std::abs(hv(i) - fd(i)) / scale);
  }
  WARN("over " << golden::hessian_cases.size() << " graphs: ||H - H^T||_max " << asym << "; |Hv - H * v| "
               << product << " and |Hv - central difference| " << difference << " (relative to max(1, |H|))");
  CHECK(asym <= 1e-10);
  CHECK(product <= 1e-12);
  CHECK(difference <= 1e-7);
}

TEST_CASE("the Jacobian of softmax is diag(p) - p p^T and the Jacobian of the gradient is the Hessian",
          "[functional]") {
  const Tensor64 x = Tensor64({0.3, -1.2, 2.0, 0.5});
  const Tensor64 J = jacobian<double>([](const Tensor64& z) { return softmax(z); }, x);
  const xt::xarray<double> p = softmax(x).value();
  REQUIRE(J.shape() == Shape{4, 4});
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < 4; ++j)
      CHECK(J.value()(i, j) == Approx((i == j ? p(i) : 0.0) - p(i) * p(j)).margin(1e-15));
  const auto f = graphs().at("tanh_mlp");
  const Tensor64 w = vec(golden::hessian_cases[1].x);
  const Tensor64 H = hessian<double>(f, w);
  const Tensor64 JG = jacobian<double>([&](const Tensor64& z) { return grad(f(z), {z}, {.create_graph = true})[0]; }, w);
  CHECK(max_abs(H.value() - JG.value()) <= 1e-14 * std::max(1.0, max_abs(H.value())));
  CHECK_FALSE(w.has_grad());  // x itself is never touched
}

TEST_CASE("third derivatives match their closed forms", "[functional][grad]") {
  const Tensor64 x = Tensor64({-1.3, -0.2, 0.4, 1.7}).set_requires_grad();
  const auto third = [&](const std::function<Tensor64(const Tensor64&)>& f) {
    Tensor64 d = f(x);  // elementwise f: the gradient of sum(f^(k)(x)) is f^(k+1) entry by entry
    for (int k = 0; k < 3; ++k) d = grad(sum(d), {x}, {.create_graph = true})[0];
    return d.value();
  };
  const xt::xarray<double> a = third([](const Tensor64& z) { return square(z) * exp(z); });
  const xt::xarray<double> t = third([](const Tensor64& z) { return tanh(z); });
  const xt::xarray<double> s = third([](const Tensor64& z) { return sigmoid(z); });
  const xt::xarray<double> p = third([](const Tensor64& z) { return softplus(z); });
  const xt::xarray<double> q = third([](const Tensor64& z) { return pow(z * z + 1.0, 1.5); });
  for (std::size_t i = 0; i < 4; ++i) {
    const double v = x.value()(i), th = std::tanh(v), sg = 1 / (1 + std::exp(-v)), ds = sg * (1 - sg);
    INFO("x = " << v);
    CHECK(a(i) == Approx((v * v + 6 * v + 6) * std::exp(v)).epsilon(1e-13));  // (x^2 e^x)'''
    CHECK(t(i) == Approx((1 - th * th) * (6 * th * th - 2)).epsilon(1e-13));  // tanh'''
    CHECK(s(i) == Approx(ds * (1 - 2 * sg) * (1 - 2 * sg) - 2 * ds * ds).epsilon(1e-12));  // sigmoid'''
    CHECK(p(i) == Approx(ds * (1 - 2 * sg)).epsilon(1e-12));  // softplus''' = sigmoid''
    // (1 + x^2)^1.5: f' = 3x u^0.5, f'' = 3 u^0.5 + 3x^2 u^-0.5, f''' = 9x u^-0.5 - 3x^3 u^-1.5 (u = 1 + x^2)
    const double u = 1 + v * v;
    CHECK(q(i) == Approx(9 * v / std::sqrt(u) - 3 * v * v * v / std::pow(u, 1.5)).epsilon(1e-12));
  }
}

TEST_CASE("a differentiable Hessian gives third derivatives", "[functional]") {
  // f(x) = sum x^4: H = diag(12 x^2), and d/dx sum(H) = 24 x.
  const Tensor64 x = Tensor64({0.5, -2.0, 1.5}).set_requires_grad();
  const Tensor64 H = hessian<double>([](const Tensor64& z) { return sum(pow(z, 4.0)); }, x, {.create_graph = true});
  CHECK(H.requires_grad());
  const Tensor64 d = grad(sum(H), {x})[0];
  for (std::size_t i = 0; i < 3; ++i) CHECK(d.value()(i) == Approx(24 * x.value()(i)).epsilon(1e-14));
  // and hvp, differentiable in v: d/dv sum(H v) = H^T 1 = 12 x^2
  const Tensor64 v = Tensor64({1.0, 1.0, 1.0}).set_requires_grad();
  const HessianProduct<double> hv = hvp<double>([](const Tensor64& z) { return sum(pow(z, 4.0)); }, x, v,
                                                {.create_graph = true});
  const Tensor64 dv = grad(sum(hv.product), {v})[0];
  for (std::size_t i = 0; i < 3; ++i) CHECK(dv.value()(i) == Approx(12 * std::pow(x.value()(i), 2)).epsilon(1e-14));
}

TEST_CASE("functionals give zeros for a function that does not depend on x and refuse wrong shapes",
          "[functional][errors]") {
  const Tensor64 x = Tensor64({1.0, 2.0});
  const auto linear_f = [](const Tensor64& z) { return sum(3.0 * z); };
  CHECK(max_abs(hessian<double>(linear_f, x).value()) == 0.0);
  CHECK(max_abs(hvp<double>(linear_f, x, Tensor64({1.0, 1.0})).product.value()) == 0.0);
  CHECK(max_abs(jacobian<double>([](const Tensor64&) { return Tensor64({1.0, 2.0}); }, x).value()) == 0.0);
  CHECK_THROWS_WITH(hessian<double>([](const Tensor64& z) { return z * 2.0; }, x),
                    "hessian: f must return one entry, got shape (2,)");
  CHECK_THROWS_WITH(hvp<double>(linear_f, x, Tensor64({1.0, 2.0, 3.0})),
                    "hvp: v must have x's shape: x is (2,), v is (3,)");
}
