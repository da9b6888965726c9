// Shape and indexing ops (permute, reshape with -1, squeeze/unsqueeze,
// expand, slice/narrow, concat/stack/split, index_select, embedding), matmul
// on vectors and batches, and softmax along any axis: the op table in float64
// and exact checks of values and gradients.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "op_table.hpp"
#include "slope/memory.hpp"
#include "slope/ops.hpp"
#include "slope/tensor.hpp"

using slope::Shape;
using slope::Tensor64;

using namespace op_table;

namespace {

using Indices = std::vector<std::int64_t>;

std::vector<double> values(const slope::Array<double>& a) { return {a.begin(), a.end()}; }

Tensor64 leaf(std::vector<double> v, Shape shape = {}) {
  if (shape.empty()) shape = {v.size()};
  slope::Array<double> a = slope::Array<double>::from_shape(shape);
  std::copy(v.begin(), v.end(), a.begin());
  return Tensor64(std::move(a), true);
}

Tensor64 iota(Shape shape) {
  slope::Array<double> a = slope::Array<double>::from_shape(shape);
  for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] = static_cast<double>(i);
  return Tensor64(std::move(a), true);
}

std::string ints(const std::vector<int>& v) {
  std::string s = "{";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "}";
}

std::vector<OpCase> shape_cases() {
  std::vector<OpCase> c;
  const auto add = [&](std::string name, std::vector<Shape> shapes, Op op) { c.push_back({std::move(name), std::move(shapes), std::move(op)}); };
  for (const auto& [shape, dims] : std::vector<std::pair<Shape, std::vector<int>>>{
           {{2, 3, 4}, {2, 0, 1}}, {{2, 3, 4}, {0, 2, 1}}, {{2, 3, 4}, {-1, -2, -3}}, {{3, 4}, {1, 0}},
           {{}, {}}, {{5}, {0}}, {{1, 3, 1}, {2, 1, 0}}, {{2, 1, 3, 2}, {3, 1, 0, 2}}})
    add("permute " + slope::to_string(shape) + " " + ints(dims), {shape},
        [dims = dims](const Inputs& x) { return slope::permute(x[0], dims); });
  add("reshape (3, 4) -> {-1, 6}", {{3, 4}}, [](const Inputs& x) { return slope::reshape(x[0], {-1, 6}); });
  add("reshape (3, 4) -> {2, -1, 2}", {{3, 4}}, [](const Inputs& x) { return slope::reshape(x[0], {2, -1, 2}); });
  add("reshape (2, 3, 2) -> {-1}", {{2, 3, 2}}, [](const Inputs& x) { return slope::reshape(x[0], {-1}); });
  add("reshape () -> {-1, 1}", {{}}, [](const Inputs& x) { return slope::reshape(x[0], {-1, 1}); });
  add("squeeze (1, 3, 1)", {{1, 3, 1}}, [](const Inputs& x) { return slope::squeeze(x[0]); });
  add("squeeze (1, 3, 1) axis 0", {{1, 3, 1}}, [](const Inputs& x) { return slope::squeeze(x[0], 0); });
  add("squeeze (1, 3, 1) axis -1", {{1, 3, 1}}, [](const Inputs& x) { return slope::squeeze(x[0], -1); });
  for (int axis : {0, 1, 2, -1, -3})
    add("unsqueeze (3, 4) axis " + std::to_string(axis), {{3, 4}},
        [axis](const Inputs& x) { return slope::unsqueeze(x[0], axis); });
  add("unsqueeze () axis 0", {{}}, [](const Inputs& x) { return slope::unsqueeze(x[0], 0); });
  for (const auto& [from, to] : std::vector<std::pair<Shape, Shape>>{
           {{1, 4}, {3, 4}}, {{3, 1}, {2, 3, 5}}, {{}, {2, 3}}, {{4}, {3, 4}}, {{3, 4}, {3, 4}}, {{2, 1, 1}, {2, 3, 2}}})
    add("expand " + slope::to_string(from) + " -> " + slope::to_string(to), {from},
        [to = to](const Inputs& x) { return slope::expand(x[0], to); });
  struct Slice {
    Shape shape;
    int axis;
    std::int64_t start, stop, step;
  };
  for (const auto& [shape, axis, start, stop, step] : std::vector<Slice>{
           {{5, 4}, 0, 1, 4, 1}, {{5, 4}, 1, 0, 4, 2}, {{5, 4}, -1, -3, -1, 1}, {{2, 7, 3}, 1, 1, 7, 3},
           {{6}, 0, 0, 6, 5}, {{6}, 0, 2, 2, 1}, {{3, 2}, 0, 0, 3, 1}})
    add(fmt::format("slice {} axis {} [{}:{}:{}]", slope::to_string(shape), axis, start, stop, step), {shape},
        [a = axis, lo = start, hi = stop, st = step](const Inputs& x) { return slope::slice(x[0], a, lo, hi, st); });
  add("narrow (5, 4) axis 0 from 1, 3 rows", {{5, 4}}, [](const Inputs& x) { return slope::narrow(x[0], 0, 1, 3); });
  add("narrow (5, 4) axis 1 from -2, 2 columns", {{5, 4}}, [](const Inputs& x) { return slope::narrow(x[0], 1, -2, 2); });
  add("concat (2, 3) and (4, 3) axis 0", {{2, 3}, {4, 3}}, [](const Inputs& x) { return slope::concat({x[0], x[1]}); });
  add("concat (2, 1), (2, 3), (2, 2) axis -1", {{2, 1}, {2, 3}, {2, 2}},
      [](const Inputs& x) { return slope::concat({x[0], x[1], x[2]}, -1); });
  add("concat (2, 3, 4) and (2, 1, 4) axis 1", {{2, 3, 4}, {2, 1, 4}},
      [](const Inputs& x) { return slope::concat({x[0], x[1]}, 1); });
  add("concat three vectors", {{2}, {1}, {3}}, [](const Inputs& x) { return slope::concat({x[0], x[1], x[2]}); });
  add("concat of one tensor", {{2, 3}}, [](const Inputs& x) { return slope::concat({x[0]}, 1); });
  add("concat x with itself", {{2, 3}}, [](const Inputs& x) { return slope::concat({x[0], x[0] * 2.0, x[0]}, 0); });
  add("stack three vectors axis 0", {{3}, {3}, {3}}, [](const Inputs& x) { return slope::stack({x[0], x[1], x[2]}); });
  add("stack two vectors axis -1", {{3}, {3}}, [](const Inputs& x) { return slope::stack({x[0], x[1]}, -1); });
  add("stack two matrices axis 1", {{2, 3}, {2, 3}}, [](const Inputs& x) { return slope::stack({x[0], x[1]}, 1); });
  add("stack scalars", {{}, {}, {}}, [](const Inputs& x) { return slope::stack({x[0], x[1], x[2], x[0]}); });
  add("split (3, 5) into 1, 2, 2 columns, rejoined in another order", {{3, 5}}, [](const Inputs& x) {
    const auto parts = slope::split(x[0], {1, 2, 2}, 1);
    return slope::concat({parts[2], parts[0] * 3.0, parts[1]}, 1);
  });
  add("split (4, 2) rows, pieces multiplied", {{4, 2}}, [](const Inputs& x) {
    const auto parts = slope::split(x[0], {2, 2});
    return parts[0] * parts[1];
  });
  for (const auto& [shape, axis, idx] : std::vector<std::tuple<Shape, int, Indices>>{
           {{5, 3}, 0, {4, 0, 0, 2}}, {{5, 3}, 1, {2, 2}}, {{2, 3, 4}, 1, {2, 0}}, {{2, 3, 4}, -1, {3}},
           {{5, 3}, 0, {}}, {{4}, 0, {1, 1, 1, 3}}})
    add(fmt::format("index_select {} axis {} ({} indices)", slope::to_string(shape), axis, idx.size()), {shape},
        [a = axis, i = idx](const Inputs& x) { return slope::index_select<double>(x[0], a, i); });
  const slope::Array<std::int64_t> ids = {{0, 4, 4}, {1, 0, 2}};
  add("embedding (5, 3) with (2, 3) indices", {{5, 3}}, [ids](const Inputs& x) { return slope::embedding(x[0], ids); });
  const slope::Array<std::int64_t> one = slope::Array<std::int64_t>(std::int64_t{2});
  add("embedding (5, 3) with a 0-d index", {{5, 3}}, [one](const Inputs& x) { return slope::embedding(x[0], one); });
  return c;
}

std::vector<OpCase> matmul_cases() {
  const Op mm = [](const Inputs& x) { return slope::matmul(x[0], x[1]); };
  std::vector<OpCase> c;
  for (const auto& shapes : std::vector<std::vector<Shape>>{
           {{4}, {4}}, {{3}, {3, 2}}, {{2, 3}, {3}}, {{1}, {1}}, {{2, 3, 4}, {2, 4, 5}}, {{1, 3, 4}, {2, 4, 2}},
           {{2, 3, 4}, {1, 4, 2}}, {{2, 3, 4}, {4, 2}}, {{3, 4}, {2, 4, 5}}, {{4}, {2, 4, 3}}, {{2, 3, 4}, {4}},
           {{1, 1, 1}, {1, 1, 1}}, {{3, 2, 2}, {3, 2, 2}}})
    c.push_back({"matmul " + slope::to_string(shapes[0]) + " x " + slope::to_string(shapes[1]), shapes, mm});
  c.push_back({"matmul batch x batch^T of itself", {{2, 3, 4}}, [](const Inputs& x) {
                 return slope::matmul(x[0], slope::permute(x[0], {0, 2, 1}));
               }});
  c.push_back({"dot of a vector with itself", {{5}}, [](const Inputs& x) { return slope::matmul(x[0], x[0]); }});
  return c;
}

std::vector<OpCase> softmax_axis_cases() {
  std::vector<OpCase> c;
  for (const auto& [shape, axis] : std::vector<std::pair<Shape, int>>{
           {{3, 4}, 0}, {{2, 3, 4}, 1}, {{2, 3, 4}, 0}, {{2, 3, 4}, -1}, {{5}, 0}, {{4, 1}, 0}, {{2, 3, 4}, -2}}) {
    const std::string where = slope::to_string(shape) + " axis " + std::to_string(axis);
    c.push_back({"softmax " + where, {shape}, [a = axis](const Inputs& x) { return slope::softmax(x[0], a); }});
    c.push_back({"log_softmax " + where, {shape}, [a = axis](const Inputs& x) { return slope::log_softmax(x[0], a); }});
  }
  return c;
}

}  // namespace

TEST_CASE("shape and indexing ops pass gradcheck", "[gradcheck][ops][shape]") {
  const OpCase c = GENERATE(from_range(shape_cases()));
  check_case(c);
}

TEST_CASE("matmul of vectors and batches passes gradcheck", "[gradcheck][ops][shape]") {
  const OpCase c = GENERATE(from_range(matmul_cases()));
  check_case(c);
}

TEST_CASE("softmax and log_softmax along any axis pass gradcheck", "[gradcheck][ops][shape]") {
  const OpCase c = GENERATE(from_range(softmax_axis_cases()));
  check_case(c);
}

TEST_CASE("permute, transpose, reshape, squeeze and unsqueeze move entries as NumPy does", "[ops][shape]") {
  const Tensor64 x = iota({2, 3, 4});
  const Tensor64 p = slope::permute(x, {2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.value()(3, 1, 2) == x.value()(1, 2, 3));
  CHECK(p.value()(1, 0, 2) == x.value()(0, 2, 1));
  CHECK(values(slope::transpose(Tensor64({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}})).value()) ==
        std::vector<double>{1, 4, 2, 5, 3, 6});
  CHECK(slope::reshape(x, {-1, 4}).shape() == Shape{6, 4});
  CHECK(slope::reshape(x, {2, -1}).shape() == Shape{2, 12});
  CHECK(slope::reshape(slope::zeros<double>({0, 3}), {-1, 3}).shape() == Shape{0, 3});
  CHECK(slope::squeeze(slope::zeros<double>({1, 3, 1, 2})).shape() == Shape{3, 2});
  CHECK(slope::squeeze(slope::zeros<double>({1, 1})).shape() == Shape{});
  CHECK(slope::unsqueeze(slope::zeros<double>({3}), -1).shape() == Shape{3, 1});
  CHECK(slope::unsqueeze(slope::zeros<double>({3}), 0).shape() == Shape{1, 3});
}

TEST_CASE("expand broadcasts and sums its gradient back", "[ops][shape]") {
  Tensor64 b = leaf({1.0, 2.0}, {2, 1});
  const Tensor64 e = slope::expand(b, {3, 2, 4});
  CHECK(e.shape() == Shape{3, 2, 4});
  CHECK(e.value()(2, 1, 3) == 2.0);
  slope::sum(e).backward();
  CHECK(values(b.grad()) == std::vector<double>{12, 12});
}

TEST_CASE("slice and narrow pick strided entries and route the gradient back", "[ops][shape]") {
  Tensor64 x = iota({7});
  const Tensor64 s = slope::slice(x, 0, 1, 7, 3);
  CHECK(values(s.value()) == std::vector<double>{1, 4});
  CHECK(values(slope::slice(x, 0, -3, 7).value()) == std::vector<double>{4, 5, 6});
  CHECK(slope::slice(x, 0, 3, 3).size() == 0);
  s.backward(xt::xarray<double>{10.0, 20.0});
  CHECK(values(x.grad()) == std::vector<double>{0, 10, 0, 0, 20, 0, 0});
  Tensor64 m = iota({3, 4});
  const Tensor64 n = slope::narrow(m, 1, -2, 2);
  CHECK(values(n.value()) == std::vector<double>{2, 3, 6, 7, 10, 11});
  slope::sum(n).backward();
  CHECK(values(m.grad()) == std::vector<double>{0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1});
}

TEST_CASE("concat, stack and split join and cut along an axis", "[ops][shape]") {
  Tensor64 a = leaf({1.0, 2.0, 3.0, 4.0}, {2, 2});
  Tensor64 b = leaf({5.0, 6.0}, {2, 1});
  const Tensor64 c = slope::concat({a, b}, 1);
  CHECK(values(c.value()) == std::vector<double>{1, 2, 5, 3, 4, 6});
  c.backward(xt::xarray<double>({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}));
  CHECK(values(a.grad()) == std::vector<double>{1, 2, 4, 5});
  CHECK(values(b.grad()) == std::vector<double>{3, 6});
  const Tensor64 s = slope::stack({Tensor64({1.0, 2.0}), Tensor64({3.0, 4.0})}, 1);
  CHECK(s.shape() == Shape{2, 2});
  CHECK(values(s.value()) == std::vector<double>{1, 3, 2, 4});
  const auto parts = slope::split(iota({5, 2}), {1, 4});
  REQUIRE(parts.size() == 2);
  CHECK(values(parts[0].value()) == std::vector<double>{0, 1});
  CHECK(parts[1].shape() == Shape{4, 2});
}

TEST_CASE("a graph with concat allocates no pool storage after its first step", "[ops][shape]") {
  Tensor64 a = slope::ones<double>({64, 8}, true), b = slope::ones<double>({64, 4}, true);
  const auto step = [&] {
    a.zero_grad();
    b.zero_grad();
    slope::sum(slope::square(slope::concat({a, b, a}, 1))).backward();
  };
  step();
  step();
  const std::uint64_t before = slope::memory::stats().system_allocations;
  for (int i = 0; i < 5; ++i) step();
  CHECK(slope::memory::stats().system_allocations == before);
  CHECK(a.grad()(0, 0) == 4.0);  // 2 x from each of its two places
}

TEST_CASE("index_select and embedding scatter-add into repeated rows", "[ops][shape]") {
  Tensor64 w = iota({4, 2});
  const Tensor64 r = slope::index_select<double>(w, 0, Indices{3, 1, 3});
  CHECK(values(r.value()) == std::vector<double>{6, 7, 2, 3, 6, 7});
  slope::sum(r).backward();
  CHECK(values(w.grad()) == std::vector<double>{0, 0, 1, 1, 0, 0, 2, 2});
  w.zero_grad();
  const slope::Array<std::int64_t> ids = {{1, 1}, {0, 3}, {3, 3}};
  const Tensor64 e = slope::embedding(w, ids);
  CHECK(e.shape() == Shape{3, 2, 2});
  CHECK(e.value()(1, 1, 0) == 6.0);
  slope::sum(e).backward();
  CHECK(values(w.grad()) == std::vector<double>{1, 1, 2, 2, 0, 0, 3, 3});
  // Indices from argmax feed embedding directly.
  const slope::Array<std::int64_t> best = slope::argmax(Tensor64({{0.0, 5.0, 1.0}, {9.0, 0.0, 0.0}}), 1);
  CHECK(values(slope::embedding(w, best).value()) == std::vector<double>{2, 3, 0, 1});
}

TEST_CASE("matmul promotes vectors and broadcasts batches as NumPy does", "[ops][shape]") {
  CHECK(slope::matmul(Tensor64({1.0, 2.0, 3.0}), Tensor64({4.0, 5.0, 6.0})).item() == 32.0);
  CHECK(slope::matmul(Tensor64({1.0, 2.0, 3.0}), Tensor64({4.0, 5.0, 6.0})).shape() == Shape{});
  const Tensor64 m = Tensor64({{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}});
  CHECK(values(slope::matmul(Tensor64({1.0, 1.0, 1.0}), m).value()) == std::vector<double>{9, 12});
  CHECK(values(slope::matmul(m, Tensor64({1.0, -1.0})).value()) == std::vector<double>{-1, -1, -1});
  // A batch of 1 against a batch of 3: the shared operand's gradient is the sum over the batch.
  slope::Rng rng{7};
  Tensor64 a = slope::randn<double>({1, 2, 3}, rng, 1.0, 0.0, true);
  Tensor64 b = slope::randn<double>({3, 3, 2}, rng, 1.0, 0.0, true);
  const Tensor64 c = slope::matmul(a, b);
  CHECK(c.shape() == Shape{3, 2, 2});
  slope::sum(c).backward();
  for (std::size_t t = 0; t < 3; ++t) {
    const Tensor64 at = slope::reshape(a.detach(), Shape{2, 3});
    const Tensor64 bt = slope::narrow(b.detach(), 0, static_cast<std::int64_t>(t), 1);
    const Tensor64 ct = slope::matmul(at, slope::reshape(bt, Shape{3, 2}));
    CHECK(values(slope::reshape(slope::narrow(c.detach(), 0, static_cast<std::int64_t>(t), 1), Shape{2, 2}).value()) ==
          values(ct.value()));
  }
  double expected = 0.0;  // d sum / d a[0, 0, 0] = sum over t and columns of b[t, 0, :]
  for (std::size_t t = 0; t < 3; ++t) expected += b.value()(t, 0, 0) + b.value()(t, 0, 1);
  CHECK(a.grad()(0, 0, 0) == Approx(expected).epsilon(1e-14));
  CHECK(slope::matmul(slope::zeros<double>({0, 2, 3}), slope::zeros<double>({3, 4})).shape() == Shape{0, 2, 4});
}

TEST_CASE("softmax along an axis equals softmax of the transposed rows", "[ops][shape]") {
  slope::Rng rng{3};
  const Tensor64 x = slope::randn<double>({3, 4}, rng);
  const Tensor64 p0 = slope::softmax(x, 0);
  const Tensor64 q = slope::transpose(slope::softmax(slope::transpose(x)));
  CHECK(values(p0.value()) == values(q.value()));
  for (std::size_t j = 0; j < 4; ++j)
    CHECK(p0.value()(0, j) + p0.value()(1, j) + p0.value()(2, j) == Approx(1.0).epsilon(1e-15));
  CHECK(values(slope::log_softmax(x, -1).value()) == values(slope::log_softmax(x).value()));
  CHECK(std::string(slope::softmax(x, 1).op()) == "softmax");
}

TEST_CASE("over the shape tables the worst error stays inside the criterion", "[gradcheck][ops][shape]") {
  worst() = Worst{};
  for (const auto& table : {shape_cases(), matmul_cases(), softmax_axis_cases()})
    for (const OpCase& c : table) check_case(c);
  const Worst& w = worst();
  WARN("shape tables: " << w.cases << " gradchecks over " << w.entries << " entries; worst "
                        << "relative error " << w.rel_error << " (" << w.rel_where << "); closest "
                        << "to the criterion: " << w.criterion << " of the allowed error ("
                        << w.criterion_where << ")");
  CHECK(w.cases == 3 * (shape_cases().size() + matmul_cases().size() + softmax_axis_cases().size()));
  CHECK(w.criterion <= 1.0);
  WARN("shape tables, " << second_order_summary(w));
  CHECK(w.second_cases == (shape_cases().size() + matmul_cases().size() + softmax_axis_cases().size()));
  CHECK(w.second_failures == 0);
  CHECK(w.second_criterion <= 1.0);
}
