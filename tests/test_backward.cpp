// The autograd engine: seeds, accumulation, determinism, which tensors get a
// gradient, releasing the graph, and very deep graphs.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "slope/ops.hpp"
#include "slope/tensor.hpp"

using slope::Shape;
using slope::Tensor64;

namespace {

using V = std::vector<double>;

template <class A>
V vals(const A& a) {
  return V(a.begin(), a.end());
}

// True when the two arrays have the same shape and the same bits.
bool bitwise_equal(const xt::xarray<double>& a, const xt::xarray<double>& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

// A small network with broadcasting, a shared weight and a non-scalar output:
// (relu(X W + b) W^T) * s, with X (4, 3), W (3, 3), b (3,), s (4, 1).
struct Net {
  Tensor64 x, w, b, s;
  explicit Net(std::uint64_t seed) {
    slope::Rng rng{seed};
    x = slope::randn<double>({4, 3}, rng);
    w = slope::randn<double>({3, 3}, rng, 1.0, 0.0, true).set_name("W");
    b = slope::randn<double>({3}, rng, 1.0, 0.0, true).set_name("b");
    s = slope::randn<double>({4, 1}, rng, 1.0, 0.0, true).set_name("s");
  }
  Tensor64 forward() const {
    Tensor64 h = slope::relu(slope::matmul(x, w) + b);
    return slope::softmax(slope::matmul(h, slope::transpose(w))) * s + slope::exp(b * 0.1);
  }
  std::vector<Tensor64> params() const { return {w, b, s}; }
};

}  // namespace

TEST_CASE("a zero seed gives zero gradients", "[backward]") {
  Net net(1);
  Tensor64 y = net.forward();
  y.backward(xt::zeros<double>(y.value().shape()));
  for (const Tensor64& p : net.params()) {
    INFO(p.name());
    REQUIRE(p.has_grad());
    for (double g : p.grad()) CHECK(g == 0.0);
  }
}

TEST_CASE("a seed scaled by k scales every gradient by k", "[backward]") {
  Net a(2), b(2);
  Tensor64 ya = a.forward();
  Tensor64 yb = b.forward();
  slope::Rng rng{3};
  const xt::xarray<double> seed = slope::randn<double>(ya.shape(), rng).value();

  SECTION("k = 4, a power of two, scales exactly") {
    ya.backward(seed);
    yb.backward(xt::xarray<double>(4.0 * seed));
    for (std::size_t i = 0; i < 3; ++i) {
      const auto& ga = a.params()[i].grad();
      const auto& gb = b.params()[i].grad();
      for (std::size_t j = 0; j < ga.size(); ++j) CHECK(gb.data()[j] == 4.0 * ga.data()[j]);
    }
  }
  SECTION("k = -0.3 scales to rounding error") {
    ya.backward(seed);
    yb.backward(xt::xarray<double>(-0.3 * seed));
    for (std::size_t i = 0; i < 3; ++i) {
      const auto& ga = a.params()[i].grad();
      const auto& gb = b.params()[i].grad();
      for (std::size_t j = 0; j < ga.size(); ++j)
        CHECK(gb.data()[j] == Approx(-0.3 * ga.data()[j]).epsilon(1e-12).margin(1e-15));
    }
  }
}

TEST_CASE("two backward passes on freshly built graphs give bitwise-equal gradients", "[backward]") {
  std::vector<xt::xarray<double>> first, second;
  for (auto* out : {&first, &second}) {
    Net net(4);
    Tensor64 loss = slope::sum(slope::square(net.forward()));
    loss.backward();
    for (const Tensor64& p : net.params()) out->push_back(p.grad());
  }
  REQUIRE(first.size() == 3);
  for (std::size_t i = 0; i < first.size(); ++i) CHECK(bitwise_equal(first[i], second[i]));
}

TEST_CASE("a tensor used twice gets both contributions: x*x gives 2x and x+x gives 2", "[backward]") {
  Tensor64 x = Tensor64({1.5, -2.0, 0.25}).set_requires_grad();
  slope::sum(x * x).backward();
  CHECK(vals(x.grad()) == V{3.0, -4.0, 0.5});
  x.zero_grad();
  slope::sum(x + x).backward();
  CHECK(vals(x.grad()) == V{2.0, 2.0, 2.0});
  x.zero_grad();
  // A diamond: two paths from x meet again.
  Tensor64 e = slope::exp(x);
  slope::sum(e * 2.0 + e * 3.0).backward();
  for (std::size_t i = 0; i < 3; ++i) CHECK(x.grad()(i) == Approx(5.0 * std::exp(x.value()(i))));
}

TEST_CASE("gradients accumulate across backward calls until zero_grad", "[backward]") {
  Tensor64 w = Tensor64({1.0, 2.0}).set_requires_grad();
  slope::sum(w * 3.0).backward();
  slope::sum(w * 3.0).backward();
  CHECK(vals(w.grad()) == V{6.0, 6.0});
  slope::sum(w * w).backward();
  CHECK(vals(w.grad()) == V{8.0, 10.0});
  w.zero_grad();
  slope::sum(w * 3.0).backward();
  CHECK(vals(w.grad()) == V{3.0, 3.0});
}

TEST_CASE("broadcast gradients are summed back to each input's shape", "[backward]") {
  Tensor64 m = slope::ones<double>({2, 3}, true);
  Tensor64 row = Tensor64({1.0, 2.0, 3.0}).set_requires_grad();  // (3,)
  Tensor64 col = slope::full<double>({2, 1}, 2.0, true);        // (2, 1)
  Tensor64 s = slope::scalar<double>(0.5, true);                 // ()
  Tensor64 y = (m * row + col) * s;
  y.backward(xt::xarray<double>({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}));
  CHECK(row.grad().shape().size() == 1);
  CHECK(vals(row.grad()) == V{2.5, 3.5, 4.5});  // 0.5 * column sums
  CHECK(Shape(col.grad().shape().begin(), col.grad().shape().end()) == Shape{2, 1});
  CHECK(vals(col.grad()) == V{3.0, 7.5});        // 0.5 * row sums
  CHECK(s.grad().dimension() == 0);
  CHECK(s.grad()() == Approx(1 * 3 + 2 * 4 + 3 * 5 + 4 * 3 + 5 * 4 + 6 * 5));
  CHECK(vals(m.grad()) == V{0.5, 2.0, 4.5, 2.0, 5.0, 9.0});
}

TEST_CASE("a non-scalar root needs an explicit seed of its shape", "[backward]") {
  Tensor64 x = slope::ones<double>({2, 3}, true);
  Tensor64 y = x * 2.0;
  CHECK_THROWS_AS(y.backward(), slope::Error);
  CHECK_THROWS_WITH(y.backward(), "backward: the root has shape (2, 3); a non-scalar root needs "
                                  "an explicit seed of that shape");
  CHECK_THROWS_AS(y.backward(xt::ones<double>({3})), slope::ShapeError);
  CHECK_FALSE(x.has_grad());
  y.backward(xt::ones<double>({2, 3}));
  CHECK(vals(x.grad()) == V(6, 2.0));
  // A one-entry root of any rank takes the implicit seed 1.
  Tensor64 z = slope::ones<double>({1, 1}, true);
  (z * 5.0).backward();
  CHECK(z.grad()(0, 0) == 5.0);
}

TEST_CASE("backward through a graph that needs no gradient throws", "[backward]") {
  Tensor64 x = {1.0, 2.0};
  CHECK_THROWS_AS(slope::sum(x).backward(), slope::Error);
}

TEST_CASE("backward twice without retain_graph throws; with retain_graph it works", "[backward]") {
  Tensor64 w = Tensor64({1.0, -1.0}).set_requires_grad();
  SECTION("without retain_graph") {
    Tensor64 loss = slope::sum(slope::exp(w) * w);
    loss.backward();
    CHECK_THROWS_AS(loss.backward(), slope::Error);
    CHECK_THROWS_WITH(loss.backward(), Catch::Contains("freed by an earlier backward()"));
  }
  SECTION("with retain_graph") {
    Tensor64 loss = slope::sum(slope::exp(w) * w);
    loss.backward(true);
    const V once = vals(w.grad());
    loss.backward();
    for (std::size_t i = 0; i < 2; ++i) CHECK(w.grad()(i) == 2.0 * once[i]);
    CHECK_THROWS_AS(loss.backward(), slope::Error);  // the second call released it
  }
}

TEST_CASE("inputs that do not require a gradient get none (no dX for the batch)", "[backward]") {
  Tensor64 x = {{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}};
  Tensor64 w = slope::ones<double>({2, 2}, true);
  Tensor64 loss = slope::sum(slope::matmul(x, w));
  loss.backward();
  CHECK_FALSE(x.has_grad());
  REQUIRE(w.has_grad());
  CHECK(vals(w.grad()) == V{9.0, 9.0, 12.0, 12.0});  // dW = X^T 1
  // Likewise for the other operand and for elementwise ops.
  Tensor64 c = {2.0, 3.0};
  Tensor64 v = Tensor64({1.0, 1.0}).set_requires_grad();
  slope::sum(c * v + c).backward();
  CHECK_FALSE(c.has_grad());
  CHECK(vals(v.grad()) == V{2.0, 3.0});
}

TEST_CASE("a tensor that does not require a gradient is not traversed", "[backward]") {
  // A hand-made node with a backward closure that counts its calls.
  int calls = 0;
  auto make_probe = [&calls](bool requires_grad) {
    auto node = std::make_shared<slope::detail::Node<double>>(slope::Array<double>({1.0, 2.0}));
    node->op = "probe";
    node->requires_grad = requires_grad;
    node->backward = [&calls](slope::detail::Node<double>&) { ++calls; };
    return Tensor64(node);
  };
  Tensor64 w = Tensor64({3.0, 4.0}).set_requires_grad();

  Tensor64 frozen = make_probe(false);
  slope::sum(frozen * w).backward();
  CHECK(calls == 0);
  CHECK_FALSE(frozen.has_grad());
  CHECK(vals(w.grad()) == V{1.0, 2.0});

  // The same probe requiring a gradient is reached, so the check above can fail.
  Tensor64 live = make_probe(true);
  slope::sum(live * w).backward();
  CHECK(calls == 1);
}

TEST_CASE("the graph is released after backward unless retained", "[backward]") {
  Tensor64 x = Tensor64({0.5, 1.5}).set_requires_grad();
  std::weak_ptr<slope::detail::Node<double>> hidden;
  SECTION("released by backward") {
    Tensor64 loss;
    {
      Tensor64 h = slope::exp(x);  // intermediate: only the graph keeps it alive
      hidden = h.node();
      loss = slope::sum(h * h);
    }
    CHECK_FALSE(hidden.expired());
    loss.backward();
    CHECK(hidden.expired());
    CHECK(loss.node()->inputs.empty());
  }
  SECTION("kept with retain_graph until the root goes") {
    Tensor64 loss;
    {
      Tensor64 h = slope::exp(x);
      hidden = h.node();
      loss = slope::sum(h * h);
    }
    loss.backward(true);
    CHECK_FALSE(hidden.expired());
    loss = Tensor64();
    CHECK(hidden.expired());
  }
}

TEST_CASE("interior gradients are not kept; leaves keep theirs", "[backward]") {
  Tensor64 x = Tensor64({1.0, 2.0}).set_requires_grad();
  Tensor64 h = x * 2.0;
  Tensor64 loss = slope::sum(h);
  loss.backward();
  CHECK(x.has_grad());
  CHECK_FALSE(h.has_grad());
  CHECK_FALSE(loss.has_grad());
}

TEST_CASE("a chain of 100000 ops backprops and is destroyed without stack overflow", "[backward]") {
  constexpr int depth = 100000;
  Tensor64 x = Tensor64({1.0, 2.0}).set_requires_grad();
  SECTION("backward, then destruction") {
    Tensor64 y = x;
    for (int i = 0; i < depth; ++i) y = (i % 2 == 0) ? y + 1.0 : y * 1.0;
    Tensor64 loss = slope::sum(y);
    loss.backward();
    CHECK(vals(x.grad()) == V{1.0, 1.0});
    CHECK(y.value()(0) == 1.0 + depth / 2);
  }
  SECTION("destruction of a graph that never ran backward") {
    std::weak_ptr<slope::detail::Node<double>> first;
    {
      Tensor64 y = x * 1.0;
      first = y.node();
      for (int i = 0; i < depth; ++i) y = slope::neg(y);
      CHECK_FALSE(first.expired());
    }
    CHECK(first.expired());
  }
}
