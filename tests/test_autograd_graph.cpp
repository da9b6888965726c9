// Gradients as tensors: grad(), backward({.create_graph = true}), derivatives
// of every order, and the engine's rules kept under create_graph (version
// checks, retain_grad, released graphs, leaves' .grad untouched by grad()).
#include <catch2/catch.hpp>

#include <cmath>

#include "slope/autograd.hpp"
#include "slope/ops.hpp"
#include "slope/tensor.hpp"

using namespace slope;

TEST_CASE("grad returns the gradient as a tensor and leaves .grad alone", "[autograd][grad]") {
  Tensor64 x = Tensor64({1.0, 2.0, 3.0}).set_requires_grad();
  const Tensor64 y = sum(x * x * x);  // dy/dx = 3 x^2
  const std::vector<Tensor64> g = grad(y, {x});
  REQUIRE(g.size() == 1);
  CHECK(g[0].value()(0) == 3.0);
  CHECK(g[0].value()(1) == 12.0);
  CHECK(g[0].value()(2) == 27.0);
  CHECK_FALSE(x.has_grad());
  CHECK_FALSE(g[0].requires_grad());  // no create_graph: a constant
}

TEST_CASE("with create_graph the gradient is differentiable to any order", "[autograd][grad]") {
  Tensor64 x = Tensor64(2.0).set_requires_grad();
  const Tensor64 y = x * x * x * x;  // x^4
  const Tensor64 d1 = grad(y, {x}, {.create_graph = true})[0];   // 4 x^3 = 32
  const Tensor64 d2 = grad(d1, {x}, {.create_graph = true})[0];  // 12 x^2 = 48
  const Tensor64 d3 = grad(d2, {x}, {.create_graph = true})[0];  // 24 x = 48
  const Tensor64 d4 = grad(d3, {x}, {.create_graph = true})[0];  // 24
  CHECK(d1.item() == 32.0);
  CHECK(d2.item() == 48.0);
  CHECK(d3.item() == 48.0);
  CHECK(d4.item() == 24.0);
}

TEST_CASE("backward with create_graph leaves a differentiable grad_tensor", "[autograd][grad]") {
  Tensor64 x = Tensor64({0.5, -1.0}).set_requires_grad();
  const Tensor64 y = sum(tanh(x) * x);
  y.backward({.create_graph = true});
  const Tensor64 gx = x.grad_tensor();
  CHECK(gx.requires_grad());
  // d/dx (tanh x * x) = tanh' x + tanh; the same values as a plain backward.
  for (std::size_t i = 0; i < 2; ++i) {
    const double v = x.value()(i), t = std::tanh(v);
    CHECK(x.grad()(i) == Approx((1 - t * t) * v + t).epsilon(1e-14));
  }
  // Differentiate the gradient's sum: d/dx sum(g) = second derivative.
  x.zero_grad();  // a constant zero again (and the cycle broken)
  sum(gx).backward();
  for (std::size_t i = 0; i < 2; ++i) {
    const double v = x.value()(i), t = std::tanh(v), s = 1 - t * t;
    CHECK(x.grad()(i) == Approx(-2 * t * s * v + 2 * s).epsilon(1e-13));
  }
}
