// Tensors as handles: creation, access, naming, printing, the seeded Rng,
// the no-grad guard, anomaly mode and IEEE behaviour of log.
#include <catch2/catch.hpp>

#include <memory>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include <fmt/format.h>

#include "slope/ops.hpp"
#include "slope/tensor.hpp"

using slope::Shape;
using slope::Tensor;
using slope::Tensor64;

namespace {

// The entries of an array in row-major order, for readable comparisons.
template <class A>
std::vector<double> vals(const A& a) {
  return std::vector<double>(a.begin(), a.end());
}

using V = std::vector<double>;

}  // namespace

// ---- creation ------------------------------------------------------------------------

TEST_CASE("zeros, ones and full give the requested shape and fill value", "[tensor]") {
  const Tensor64 z = slope::zeros<double>({2, 3});
  const Tensor64 o = slope::ones<double>({4});
  const Tensor f = slope::full<float>({3, 1, 2}, 2.5f, true);
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.size() == 6);
  CHECK(z.dim() == 2);
  CHECK(std::all_of(z.value().begin(), z.value().end(), [](double x) { return x == 0.0; }));
  CHECK(o.shape() == Shape{4});
  CHECK(std::all_of(o.value().begin(), o.value().end(), [](double x) { return x == 1.0; }));
  CHECK(f.shape() == Shape{3, 1, 2});
  CHECK(std::all_of(f.value().begin(), f.value().end(), [](float x) { return x == 2.5f; }));
  CHECK(f.requires_grad());
  CHECK_FALSE(z.requires_grad());
}

TEST_CASE("scalar and the default tensor are 0-d with one entry", "[tensor]") {
  const Tensor64 s = slope::scalar<double>(3.5, true);
  CHECK(s.shape() == Shape{});
  CHECK(s.dim() == 0);
  CHECK(s.size() == 1);
  CHECK(s.item() == 3.5);
  CHECK(s.requires_grad());
  const Tensor64 d;
  CHECK(d.shape() == Shape{});
  CHECK(d.item() == 0.0);
}

TEST_CASE("tensors are made from initializer lists and xtensor arrays", "[tensor]") {
  const Tensor64 v = {1.0, 2.0, 3.0};
  const Tensor64 m = {{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}};
  CHECK(v.shape() == Shape{3});
  CHECK(m.shape() == Shape{3, 2});
  CHECK(m.value()(2, 1) == 6.0);
  CHECK(m.data()[3] == 4.0);  // row-major storage

  xt::xarray<float> a = {{1.f, 2.f, 3.f}};
  const Tensor t(a, true);
  CHECK(t.shape() == Shape{1, 3});
  CHECK(t.requires_grad());
  a(0, 0) = 99.f;  // the tensor holds its own copy
  CHECK(t.value()(0, 0) == 1.f);
}

TEST_CASE("literals of any depth resolve to their depth, columns included", "[tensor][creation]") {
  const Tensor64 s = 2.5;  // 0-d
  CHECK(s.shape() == Shape{});
  CHECK(s.item() == 2.5);
  const Tensor64 c = {{1.0}, {2.0}};  // a column, not a vector
  CHECK(c.shape() == Shape{2, 1});
  CHECK(c.value()(1, 0) == 2.0);
  const Tensor64 one = {{7.0}};
  CHECK(one.shape() == Shape{1, 1});
  const Tensor64 cube = {{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}};
  CHECK(cube.shape() == Shape{2, 2, 2});
  CHECK(cube.value()(1, 0, 1) == 6.0);
  const Tensor64 deep = {{{{1.0}}, {{2.0}}}};
  CHECK(deep.shape() == Shape{1, 2, 1, 1});
  const Tensor64 col3 = {{{1.0}}, {{2.0}}};
  CHECK(col3.shape() == Shape{2, 1, 1});
  // Numbers of mixed types, and float tensors from double literals.
  const Tensor64 mixed = {{1.0, 2}, {3, 4.5f}};
  CHECK(mixed.shape() == Shape{2, 2});
  CHECK(mixed.value()(1, 1) == 4.5);
  const Tensor64 mixed1 = {1, 2.5, 3};
  CHECK(mixed1.shape() == Shape{3});
  const Tensor f = {{0.5, 1.0}, {2.0, 3.0}};
  CHECK(f.value()(0, 0) == 0.5f);
  const Tensor fc = {{0.5f}, {2.0f}};
  CHECK(fc.shape() == Shape{2, 1});
  // Parenthesised, as tests write them.
  CHECK(Tensor64({{1.0}, {2.0}, {3.0}}).shape() == Shape{3, 1});
  CHECK(Tensor64({1.0, 2.0}).shape() == Shape{2});
  CHECK(Tensor64(3.0).shape() == Shape{});
  CHECK_THROWS_AS((Tensor64{{1.0, 2.0}, {3.0}}), slope::ValueError);
  CHECK_THROWS_WITH((Tensor64{{1.0, 2.0}, {3.0}}), "Tensor: ragged literal: a list at depth 1 has 1 entries, the first has 2");
  CHECK_THROWS_WITH((Tensor64{{{1.0}, {2.0}}, {{3.0}}}),
                    "Tensor: ragged literal: a list at depth 1 has 1 entries, the first has 2");
}

TEST_CASE("from_vector, arange, eye and the _like functions make leaves", "[tensor][creation]") {
  const Tensor64 t = slope::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2});
  CHECK(t.shape() == Shape{2, 2, 2});
  CHECK(t.value()(1, 1, 0) == 7.0);
  CHECK_FALSE(t.requires_grad());
  CHECK(slope::from_vector(std::vector<double>{4.0}, {}).item() == 4.0);
  CHECK(slope::from_vector(std::vector<float>{1, 2}, {2, 1}, true).requires_grad());
  CHECK_THROWS_AS(slope::from_vector(std::vector<double>{1, 2, 3, 4, 5}, {2, 3}), slope::ValueError);
  CHECK_THROWS_WITH(slope::from_vector(std::vector<double>{1, 2, 3, 4, 5}, {2, 3}),
                    "from_vector: 5 values for shape (2, 3) (6 entries)");
  CHECK_THROWS_WITH(slope::from_vector(std::vector<double>{}, {}), "from_vector: 0 values for shape () (1 entries)");

  const auto entries = [](const Tensor64& x) { return std::vector<double>(x.value().begin(), x.value().end()); };
  CHECK(entries(slope::arange<double>(0, 5)) == std::vector<double>{0, 1, 2, 3, 4});
  CHECK(entries(slope::arange<double>(1, 2, 0.25)) == std::vector<double>{1, 1.25, 1.5, 1.75});
  CHECK(entries(slope::arange<double>(5, 0, -2)) == std::vector<double>{5, 3, 1});
  CHECK(slope::arange<double>(3, 1).size() == 0);
  CHECK(slope::arange<float>(0, 1, 0.1f).size() == 10);
  CHECK(slope::arange<double>(0, 1, 0.1).value()(9) == Approx(0.9).epsilon(1e-15));
  CHECK_THROWS_AS(slope::arange<double>(0, 1, 0), slope::ValueError);
  CHECK_THROWS_WITH(slope::arange<double>(0, 1, 0), "arange: step must be nonzero");
  CHECK_THROWS_WITH(slope::arange<double>(0, INFINITY, 1), "arange: start, stop and step must be finite: got 0, inf, 1");

  const Tensor64 i3 = slope::eye<double>(3);
  CHECK(i3.shape() == Shape{3, 3});
  CHECK(entries(i3) == std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 1});
  CHECK(slope::eye<double>(0).shape() == Shape{0, 0});

  const Tensor64 x = slope::randn<double>({2, 3}, *std::make_unique<slope::Rng>(1), 1.0, 0.0, true);
  const Tensor64 f = slope::full_like(x, 7.0);
  CHECK(f.shape() == Shape{2, 3});
  CHECK(f.value()(1, 2) == 7.0);
  CHECK_FALSE(f.requires_grad());
  CHECK(entries(slope::zeros_like(x)) == std::vector<double>(6, 0.0));
  CHECK(entries(slope::ones_like(x, true)) == std::vector<double>(6, 1.0));
  CHECK(slope::ones_like(x, true).requires_grad());
  CHECK(slope::zeros_like(slope::Tensor(1.5f)).shape() == Shape{});
}

TEST_CASE("copying a tensor copies the handle, not the data", "[tensor]") {
  Tensor64 a = {1.0, 2.0};
  Tensor64 b = a;
  CHECK(b.is_same(a));
  b.mutable_value()(0) = 7.0;
  CHECK(a.value()(0) == 7.0);
  CHECK_FALSE(a.is_same(Tensor64{1.0, 2.0}));
}

// ---- access --------------------------------------------------------------------------

TEST_CASE("item returns the single entry and rejects tensors with more", "[tensor]") {
  CHECK(Tensor64({4.25}).item() == 4.25);
  CHECK(slope::full<double>({1, 1}, -2.0).item() == -2.0);
  CHECK_THROWS_AS(Tensor64({1.0, 2.0}).item(), slope::ValueError);
  CHECK_THROWS_WITH(Tensor64({1.0, 2.0}).item(), "item: tensor of shape (2,) has 2 entries, not 1");
}

TEST_CASE("value can be updated in place outside the graph", "[tensor]") {
  Tensor64 w = slope::zeros<double>({2, 2}, true);
  w.mutable_value()(1, 0) = 3.0;
  CHECK(w.data()[2] == 3.0);
  const Tensor64 y = slope::sum(w * 2.0);
  CHECK(y.item() == 6.0);
}

TEST_CASE("grad is absent before backward and present after", "[tensor]") {
  Tensor64 w = Tensor64({1.0, 2.0, 3.0}).set_requires_grad();
  CHECK_FALSE(w.has_grad());
  CHECK_THROWS_AS(w.grad(), slope::Error);
  slope::sum(w * w).backward();
  REQUIRE(w.has_grad());
  CHECK(vals(w.grad()) == V{2.0, 4.0, 6.0});
}

TEST_CASE("zero_grad sets the gradient to zeros and keeps its buffer", "[tensor]") {
  Tensor64 w = Tensor64({1.0, -2.0}).set_requires_grad();
  w.zero_grad();  // no gradient yet: nothing happens
  CHECK_FALSE(w.has_grad());
  slope::sum(w * 3.0).backward();
  const double* buffer = w.grad().data();
  w.zero_grad();
  REQUIRE(w.has_grad());
  CHECK(vals(w.grad()) == V{0.0, 0.0});
  CHECK(w.grad().data() == buffer);
  slope::sum(w * 5.0).backward();
  CHECK(vals(w.grad()) == V{5.0, 5.0});
}

TEST_CASE("requires_grad is set on leaves and refused on op results", "[tensor]") {
  Tensor64 x = {1.0, 2.0};
  CHECK_FALSE(x.requires_grad());
  x.set_requires_grad();
  CHECK(x.requires_grad());
  Tensor64 y = slope::exp(x);
  CHECK(y.requires_grad());
  CHECK_THROWS_AS(y.set_requires_grad(false), slope::Error);
  x.set_requires_grad(false);
  CHECK_FALSE(x.requires_grad());
  CHECK_FALSE(slope::exp(x).requires_grad());
}

TEST_CASE("detach copies the value into a new leaf outside the graph", "[tensor]") {
  Tensor64 x = Tensor64({1.0, 2.0}).set_requires_grad();
  Tensor64 y = x * 3.0;
  Tensor64 d = y.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(std::string(d.op()).empty());
  CHECK(vals(d.value()) == vals(y.value()));
  CHECK(d.data() != y.data());
  d.mutable_value()(0) = -1.0;
  CHECK(y.value()(0) == 3.0);
  // Nothing flows back through a detached value.
  Tensor64 loss = slope::sum(x * d);
  loss.backward();
  CHECK(vals(x.grad()) == V{-1.0, 6.0});
}

TEST_CASE("clone is a differentiable copy with its own storage", "[tensor]") {
  Tensor64 x = Tensor64({{1.0, 2.0}, {3.0, 4.0}}).set_requires_grad();
  Tensor64 c = x.clone();
  CHECK(c.requires_grad());
  CHECK(std::string(c.op()) == "clone");
  CHECK(vals(c.value()) == vals(x.value()));
  CHECK(c.data() != x.data());
  slope::sum(c * c).backward();
  CHECK(vals(x.grad()) == V{2.0, 4.0, 6.0, 8.0});
}

TEST_CASE("tensors carry a user name and the name of the op that made them", "[tensor]") {
  Tensor64 w = Tensor64({1.0}).set_name("W1");
  CHECK(w.name() == "W1");
  CHECK(std::string(w.op()).empty());
  CHECK(std::string(slope::matmul(slope::ones<double>({1, 1}), slope::ones<double>({1, 1})).op()) == "matmul");
  CHECK(std::string(slope::relu(w).op()) == "relu");
  CHECK(std::string(slope::sum(w).op()) == "sum");
}

// ---- printing ------------------------------------------------------------------------

TEST_CASE("fmt prints the values, the shape and whether a gradient is required", "[tensor]") {
  CHECK(fmt::format("{}", Tensor64({{1.0, 2.0}, {3.0, 4.0}})) ==
        "tensor([[1, 2], [3, 4]], shape=(2, 2))");
  CHECK(fmt::format("{}", slope::scalar<double>(3.5)) == "tensor(3.5, shape=())");
  CHECK(fmt::format("{}", Tensor({0.5f, -1.25f}).set_requires_grad()) ==
        "tensor([0.5, -1.25], shape=(2,), requires_grad)");
  CHECK(slope::to_string(Tensor64({1.0 / 3.0})) == "tensor([0.333333], shape=(1,))");
}

TEST_CASE("printing elides the middle of long dimensions", "[tensor]") {
  xt::xarray<double> a = xt::xarray<double>::from_shape({10});
  std::iota(a.begin(), a.end(), 0.0);
  CHECK(fmt::format("{}", Tensor64(a)) == "tensor([0, 1, 2, ..., 7, 8, 9], shape=(10,))");
  CHECK(fmt::format("{}", slope::zeros<double>({2, 0})) == "tensor([[], []], shape=(2, 0))");
}

TEST_CASE("shapes print like Python tuples and broadcast like NumPy", "[tensor][shape]") {
  CHECK(slope::to_string(Shape{}) == "()");
  CHECK(slope::to_string(Shape{4}) == "(4,)");
  CHECK(slope::to_string(Shape{2, 3}) == "(2, 3)");
  CHECK(slope::numel(Shape{}) == 1);
  CHECK(slope::numel(Shape{2, 3, 4}) == 24);
  CHECK(slope::broadcast_shapes({3, 1}, {4}, "add") == Shape{3, 4});
  CHECK(slope::broadcast_shapes({}, {2, 5}, "add") == Shape{2, 5});
  CHECK(slope::broadcast_shapes({2, 1, 5}, {3, 1}, "add") == Shape{2, 3, 5});
  CHECK_THROWS_AS(slope::broadcast_shapes({3}, {4}, "add"), slope::ShapeError);
}

// ---- Rng ---------------------------------------------------------------------------

TEST_CASE("randn and uniform are deterministic functions of the seed", "[tensor][rng]") {
  slope::Rng a{42}, b{42}, c{43};
  const Tensor64 x = slope::randn<double>({3, 4}, a);
  const Tensor64 y = slope::randn<double>({3, 4}, b);
  const Tensor64 z = slope::randn<double>({3, 4}, c);
  CHECK(vals(x.value()) == vals(y.value()));
  CHECK(vals(x.value()) != vals(z.value()));
  const Tensor u1 = slope::uniform<float>({50}, -2.0, 3.0, a);
  const Tensor u2 = slope::uniform<float>({50}, -2.0, 3.0, b);
  CHECK(vals(u1.value()) == vals(u2.value()));
  CHECK(a == b);
}

TEST_CASE("randn and uniform have the requested distribution", "[tensor][rng]") {
  slope::Rng rng{7};
  const Tensor64 n = slope::randn<double>({20000}, rng, 2.0, 1.0);
  const double mean = std::accumulate(n.value().begin(), n.value().end(), 0.0) / n.size();
  double var = 0.0;
  for (double x : n.value()) var += (x - mean) * (x - mean);
  var /= n.size();
  CHECK(mean == Approx(1.0).margin(0.05));
  CHECK(std::sqrt(var) == Approx(2.0).epsilon(0.03));

  const Tensor64 u = slope::uniform<double>({20000}, -1.0, 3.0, rng, true);
  CHECK(u.requires_grad());
  CHECK(*std::min_element(u.value().begin(), u.value().end()) >= -1.0);
  CHECK(*std::max_element(u.value().begin(), u.value().end()) < 3.0);
  const double umean = std::accumulate(u.value().begin(), u.value().end(), 0.0) / u.size();
  CHECK(umean == Approx(1.0).margin(0.05));
}

TEST_CASE("the Rng state round-trips through text, including a cached normal", "[tensor][rng]") {
  slope::Rng rng{2024};
  rng.normal();  // an odd number of normals leaves the Box-Muller spare cached
  const std::string saved = rng.state();
  std::vector<double> first;
  for (int i = 0; i < 5; ++i) first.push_back(rng.normal());
  first.push_back(rng.uniform());
  first.push_back(static_cast<double>(rng.below(1000)));

  slope::Rng restored{0};
  CHECK_FALSE(restored == rng);
  restored.set_state(saved);
  std::vector<double> second;
  for (int i = 0; i < 5; ++i) second.push_back(restored.normal());
  second.push_back(restored.uniform());
  second.push_back(static_cast<double>(restored.below(1000)));
  CHECK(first == second);
  CHECK(restored == rng);

  CHECK_THROWS_AS(restored.set_state("not a state"), slope::ValueError);
}

TEST_CASE("Rng::below stays in range and shuffle permutes", "[tensor][rng]") {
  slope::Rng rng{5};
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 7000; ++i) ++counts.at(rng.below(7));
  for (int c : counts) CHECK(c > 800);
  std::vector<int> v(50);
  std::iota(v.begin(), v.end(), 0);
  std::vector<int> w = v;
  rng.shuffle(w.begin(), w.end());
  CHECK(w != v);
  std::sort(w.begin(), w.end());
  CHECK(w == v);
  CHECK_THROWS_AS(rng.below(0), slope::ValueError);
}

// ---- grad mode -----------------------------------------------------------------------

TEST_CASE("a no-grad guard records no graph and restores the previous mode", "[tensor]") {
  Tensor64 w = Tensor64({1.0, 2.0}).set_requires_grad();
  CHECK(slope::grad_enabled());
  {
    slope::NoGradGuard outer;
    CHECK_FALSE(slope::grad_enabled());
    {
      slope::NoGradGuard inner;
      CHECK_FALSE(slope::grad_enabled());
    }
    CHECK_FALSE(slope::grad_enabled());  // the inner guard restores "off"
    Tensor64 y = slope::exp(w * w);
    CHECK_FALSE(y.requires_grad());
    CHECK(y.node()->inputs.empty());
    CHECK_FALSE(static_cast<bool>(y.node()->backward));
    CHECK(y.value()(1) == Approx(std::exp(4.0)));
    CHECK_THROWS_AS(slope::sum(y).backward(), slope::Error);
  }
  CHECK(slope::grad_enabled());
  Tensor64 y = slope::exp(w * w);
  CHECK(y.requires_grad());
  CHECK(y.node()->inputs.size() == 1);
}

// ---- anomaly mode and IEEE -------------------------------------------------------------

TEST_CASE("log follows IEEE without anomaly mode: log(0) is -inf, log(-1) is NaN", "[tensor]") {
  REQUIRE_FALSE(slope::anomaly_enabled());
  const Tensor64 y = slope::log(Tensor64({0.0, -1.0, 1.0}));
  CHECK(std::isinf(y.value()(0)));
  CHECK(y.value()(0) < 0.0);
  CHECK(std::isnan(y.value()(1)));
  CHECK(y.value()(2) == 0.0);
  const Tensor yf = slope::log(Tensor({0.0f, -1.0f}));
  CHECK(yf.value()(0) == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(yf.value()(1)));
}

TEST_CASE("anomaly mode names the first op whose forward produced NaN or Inf", "[tensor]") {
  const Tensor64 x = {1.0, 0.0};
  {
    slope::AnomalyGuard anomaly;
    CHECK(slope::anomaly_enabled());
    const Tensor64 a = x * 2.0;  // finite: no complaint
    CHECK_THROWS_AS(slope::log(a), slope::NumericError);
    CHECK_THROWS_WITH(slope::sqrt(slope::log(a + 1.0) - 1.0),
                      "anomaly: forward of sqrt produced NaN (entry 1 of shape (2,))");
    CHECK_THROWS_WITH(slope::exp(slope::log(a)) * 2.0,
                      "anomaly: forward of log produced Inf (entry 1 of shape (2,))");
  }
  CHECK_FALSE(slope::anomaly_enabled());
  CHECK_NOTHROW(slope::log(x));
}

TEST_CASE("anomaly mode names the first op whose backward produced NaN or Inf", "[tensor]") {
  // sqrt(0) is finite, but its gradient 0.5 / sqrt(0) is not.
  Tensor64 x = slope::zeros<double>({3}, true);
  {
    slope::AnomalyGuard anomaly;
    Tensor64 loss = slope::sum(slope::sqrt(x) * 2.0);
    CHECK_THROWS_WITH(loss.backward(), "anomaly: backward of sqrt produced Inf (entry 0 of shape (3,))");
  }
  {
    // A NaN from the backward of sqrt (reported as sqrt, the op the user
    // called, not the pow it is built from): an incoming 0 times 0.5 / sqrt(0) = inf.
    slope::AnomalyGuard anomaly;
    Tensor64 w = Tensor64({0.0, 1.0}).set_requires_grad();
    Tensor64 loss = slope::sum(slope::sqrt(w) * 0.0);
    CHECK_THROWS_WITH(loss.backward(), "anomaly: backward of sqrt produced NaN (entry 0 of shape (2,))");
  }
  // Without anomaly mode the same graph quietly gives Inf.
  Tensor64 loss = slope::sum(slope::sqrt(x) * 2.0);
  loss.backward();
  CHECK(std::isinf(x.grad()(0)));
}
