// Reductions beyond one-axis sum/mean/max: min, several axes and all entries,
// logsumexp, var and std, norm, argmax and argmin. The op table in float64
// (near-ties redrawn for max and min), and exact values at the edges: -inf
// entries, a zero norm, a constant input to std, ties.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "op_table.hpp"
#include "slope/ops.hpp"
#include "slope/tensor.hpp"

using slope::Shape;
using slope::Tensor64;

using namespace op_table;

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

std::vector<double> values(const slope::Array<double>& a) { return {a.begin(), a.end()}; }

Tensor64 leaf(std::vector<double> v, Shape shape = {}) {
  if (shape.empty()) shape = {v.size()};
  slope::Array<double> a = slope::Array<double>::from_shape(shape);
  std::copy(v.begin(), v.end(), a.begin());
  return Tensor64(std::move(a), true);
}

// Every pair of entries of input 0 at least kink_margin apart (no ties anywhere).
bool distinct(const Inputs& x) {
  std::vector<double> v(x[0].value().begin(), x[0].value().end());
  std::sort(v.begin(), v.end());
  for (std::size_t i = 1; i < v.size(); ++i)
    if (v[i] - v[i - 1] < kink_margin) return false;
  return true;
}

std::string axes_label(const std::vector<int>& axes) {
  std::string s = "{";
  for (std::size_t i = 0; i < axes.size(); ++i) s += (i ? ", " : "") + std::to_string(axes[i]);
  return s + "}";
}

std::vector<OpCase> axis_cases() {
  std::vector<OpCase> cases;
  struct Axis {
    Shape shape;
    int axis;
  };
  const std::vector<Axis> axes = {
      {{3, 4}, 0}, {{3, 4}, 1}, {{3, 4}, -1}, {{2, 3, 4}, 1}, {{2, 3, 4}, -3}, {{5}, 0}, {{1, 4}, 0}, {{4, 1}, 1},
  };
  for (const auto& [shape, axis] : axes)
    for (bool keep : {false, true}) {
      const std::string where = slope::to_string(shape) + " axis " + std::to_string(axis) + (keep ? " keepdims" : "");
      const int a = axis;
      OpCase mn{"min " + where, {shape}, [a, keep](const Inputs& x) { return slope::min(x[0], a, keep); }};
      mn.valid = distinct;
      cases.push_back(mn);
      cases.push_back({"logsumexp " + where, {shape},
                       [a, keep](const Inputs& x) { return slope::logsumexp(x[0], a, keep); }});
      // Shifted by 50 and back: the shift goes through the max, and the output
      // stays of order 1 (a loss near 50 would cost finite differences digits).
      cases.push_back({"logsumexp of shifted scores " + where, {shape}, [a, keep](const Inputs& x) {
                         return slope::logsumexp(x[0] * 3.0 + 50.0, a, keep) - 50.0;
                       }});
      cases.push_back({"norm 2 " + where, {shape},
                       [a, keep](const Inputs& x) { return slope::norm(x[0], 2.0, a, keep); }});
      cases.push_back({"norm 1 " + where, {shape},
                       [a, keep](const Inputs& x) { return slope::norm(x[0], 1.0, a, keep); }, {Domain::kink}});
      if (shape[static_cast<std::size_t>(a < 0 ? a + static_cast<int>(shape.size()) : a)] < 2) continue;
      for (int c : {0, 1}) {
        const std::string with = where + " correction " + std::to_string(c);
        const slope::VarOptions o{.correction = c, .keepdims = keep};
        cases.push_back({"var " + with, {shape}, [a, o](const Inputs& x) { return slope::var(x[0], a, o); }});
        cases.push_back({"std " + with, {shape}, [a, o](const Inputs& x) { return slope::std(x[0], a, o); }});
      }
    }
  return cases;
}

std::vector<OpCase> several_axes_cases() {
  std::vector<OpCase> cases;
  struct Axes {
    Shape shape;
    std::vector<int> axes;
  };
  const std::vector<Axes> list = {
      {{2, 3, 4}, {0, 2}}, {{2, 3, 4}, {1, 2}}, {{2, 3, 4}, {0, 1, 2}}, {{2, 3, 4}, {-1, 0}},
      {{3, 4}, {0, 1}},    {{3, 4}, {1}},       {{5}, {0}},             {{2, 1, 3}, {1}},
      {{3, 2}, {}},        {{}, {}},
  };
  for (const auto& [shape, axes] : list)
    for (bool keep : {false, true}) {
      const std::string where = slope::to_string(shape) + " axes " + axes_label(axes) + (keep ? " keepdims" : "");
      const std::vector<int> ax = axes;
      cases.push_back({"sum " + where, {shape}, [ax, keep](const Inputs& x) { return slope::sum(x[0], ax, keep); }});
      cases.push_back({"mean " + where, {shape}, [ax, keep](const Inputs& x) { return slope::mean(x[0], ax, keep); }});
      OpCase mx{"max " + where, {shape}, [ax, keep](const Inputs& x) { return slope::max(x[0], ax, keep); }};
      mx.valid = distinct;
      cases.push_back(mx);
      OpCase mn{"min " + where, {shape}, [ax, keep](const Inputs& x) { return slope::min(x[0], ax, keep); }};
      mn.valid = distinct;
      cases.push_back(mn);
    }
  return cases;
}

std::vector<OpCase> all_entries_cases() {
  std::vector<OpCase> cases;
  for (const auto& [label, shape] : unary_shapes()) {
    OpCase mx{"max (all) " + label, {shape}, [](const Inputs& x) { return slope::max(x[0]); }};
    mx.valid = distinct;
    cases.push_back(mx);
    OpCase mn{"min (all) " + label, {shape}, [](const Inputs& x) { return slope::min(x[0]); }};
    mn.valid = distinct;
    cases.push_back(mn);
    cases.push_back({"logsumexp (all) " + label, {shape}, [](const Inputs& x) { return slope::logsumexp(x[0]); }});
    cases.push_back({"norm 2 (all) " + label, {shape}, [](const Inputs& x) { return slope::norm(x[0]); }});
    cases.push_back({"norm 1 (all) " + label, {shape}, [](const Inputs& x) { return slope::norm(x[0], 1.0); },
                     {Domain::kink}});
    if (slope::numel(shape) < 3) continue;
    for (int c : {0, 1, 2}) {
      const slope::VarOptions o{.correction = c};
      const std::string with = label + " correction " + std::to_string(c);
      cases.push_back({"var (all) " + with, {shape}, [o](const Inputs& x) { return slope::var(x[0], o); }});
      cases.push_back({"std (all) " + with, {shape}, [o](const Inputs& x) { return slope::std(x[0], o); }});
    }
  }
  return cases;
}

}  // namespace

TEST_CASE("min, logsumexp, norm, var and std along an axis pass gradcheck", "[gradcheck][ops][reduce]") {
  const OpCase c = GENERATE(from_range(axis_cases()));
  check_case(c);
}

TEST_CASE("sum, mean, max and min over several axes pass gradcheck", "[gradcheck][ops][reduce]") {
  const OpCase c = GENERATE(from_range(several_axes_cases()));
  check_case(c);
}

TEST_CASE("reductions over all entries pass gradcheck", "[gradcheck][ops][reduce]") {
  const OpCase c = GENERATE(from_range(all_entries_cases()));
  check_case(c);
}

TEST_CASE("reductions over several axes have the reduced shapes", "[ops][reduce]") {
  const Tensor64 x = slope::zeros<double>({2, 3, 4});
  CHECK(slope::sum(x, {0, 2}).shape() == Shape{3});
  CHECK(slope::sum(x, {0, 2}, true).shape() == Shape{1, 3, 1});
  CHECK(slope::mean(x, {-1, 0}).shape() == Shape{3});
  CHECK(slope::max(x, {0, 1, 2}).shape() == Shape{});
  CHECK(slope::min(x, {1}, true).shape() == Shape{2, 1, 4});
  CHECK(slope::sum(x, std::vector<int>{}).shape() == Shape{2, 3, 4});
  CHECK(slope::max(x).shape() == Shape{});
  CHECK(slope::logsumexp(x).shape() == Shape{});
  CHECK(slope::norm(x, 2.0, 1, true).shape() == Shape{2, 1, 4});
  const Tensor64 y = Tensor64({{1.0, 2.0}, {3.0, 4.0}});
  CHECK(slope::sum(y, {0, 1}).item() == 10.0);
  CHECK(slope::mean(y, {0, 1}).item() == 2.5);
  CHECK(values(slope::mean(y, {0}).value()) == std::vector<double>{2.0, 3.0});
}

TEST_CASE("max and min over several axes send the gradient to the first extreme in row-major order",
          "[ops][reduce]") {
  Tensor64 x = leaf({1.0, 5.0, 5.0, -2.0, 5.0, -2.0}, {2, 3});
  slope::max(x, {0, 1}).backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 1, 0, 0, 0, 0});
  x.zero_grad();
  slope::min(x).backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 0, 0, 1, 0, 0});
  x.zero_grad();
  slope::sum(slope::min(x, 1)).backward();
  CHECK(values(x.grad()) == std::vector<double>{1, 0, 0, 1, 0, 0});
}

TEST_CASE("logsumexp is stable, takes -inf entries and passes no gradient through a slice of -inf",
          "[ops][reduce]") {
  Tensor64 x = leaf({-inf, 0.0, 0.0, -inf, -inf, -inf}, {2, 3});
  const Tensor64 l = slope::logsumexp(x, 1);
  CHECK(l.value()(0) == Approx(std::log(2.0)).epsilon(1e-15));
  CHECK(l.value()(1) == -inf);
  l.backward(xt::ones<double>({2}));
  CHECK(values(x.grad()) == std::vector<double>{0, 0.5, 0.5, 0, 0, 0});
  Tensor64 big = leaf({1000.0, 1000.0, -1000.0});
  const Tensor64 lb = slope::logsumexp(big, 0);
  CHECK(lb.item() == Approx(1000.0 + std::log(2.0)).epsilon(1e-15));
  lb.backward();
  CHECK(big.grad()(0) == Approx(0.5).epsilon(1e-12));  // lse ~ 1000 carries 1e-13
  CHECK(big.grad()(1) == Approx(0.5).epsilon(1e-12));
  CHECK(big.grad()(2) == 0.0);
  slope::Tensor f = slope::Tensor(slope::Array<float>({100.f, 100.f}), true);
  const slope::Tensor lf = slope::logsumexp(f, 0);
  CHECK(lf.item() == Approx(100.0 + std::log(2.0)).epsilon(1e-7));
  lf.backward();
  CHECK(f.grad()(0) == Approx(0.5f));
}

TEST_CASE("the 2-norm is exact, never overflows its squares and has gradient 0 at 0", "[ops][reduce]") {
  Tensor64 x = leaf({3.0, -4.0});
  const Tensor64 n = slope::norm(x);
  CHECK(n.item() == 5.0);
  n.backward();
  CHECK(values(x.grad()) == std::vector<double>{0.6, -0.8});
  Tensor64 zero = leaf({0.0, 0.0, 0.0});
  slope::norm(zero).backward();
  CHECK(values(zero.grad()) == std::vector<double>{0, 0, 0});
  Tensor64 zero1 = leaf({0.0, 0.0});
  slope::norm(zero1, 1.0).backward();
  CHECK(values(zero1.grad()) == std::vector<double>{0, 0});
  CHECK(slope::norm(leaf({1e200, 1e200})).item() == Approx(std::sqrt(2.0) * 1e200).epsilon(1e-15));
  CHECK(slope::norm(slope::Tensor(slope::Array<float>({3e30f, 4e30f}))).item() == Approx(5e30f).epsilon(1e-6));
  CHECK(slope::norm(leaf({1.0, -2.0}), 1.0).item() == 3.0);
  CHECK(slope::norm(slope::zeros<double>({0})).item() == 0.0);
}

TEST_CASE("var and std follow the correction and stay finite on a constant input", "[ops][reduce]") {
  const Tensor64 x = Tensor64({1.0, 2.0, 3.0, 4.0});
  CHECK(slope::var(x).item() == Approx(5.0 / 3.0).epsilon(1e-15));  // correction 1, as in PyTorch
  CHECK(slope::var(x, {.correction = 0}).item() == Approx(1.25).epsilon(1e-15));
  CHECK(slope::std(x, {.correction = 2}).item() == Approx(std::sqrt(2.5)).epsilon(1e-15));
  const Tensor64 m = Tensor64({{1.0, 3.0}, {2.0, 6.0}});
  CHECK(values(slope::var(m, 1).value()) == std::vector<double>{2.0, 8.0});
  CHECK(slope::var(m, 0, {.keepdims = true}).shape() == Shape{1, 2});
  CHECK(values(slope::std(m, 0, {.correction = 0}).value()) == std::vector<double>{0.5, 1.5});
  Tensor64 c = leaf({2.0, 2.0, 2.0});
  slope::std(c).backward();
  CHECK(values(c.grad()) == std::vector<double>{0, 0, 0});
  Tensor64 c2 = leaf({2.0, 2.0, 2.0, 2.0}, {2, 2});
  slope::sum(slope::std(c2, 1) + slope::var(c2, 0)).backward();
  CHECK(values(c2.grad()) == std::vector<double>{0, 0, 0, 0});
}

TEST_CASE("argmax and argmin give the first extreme's position as int64 indices", "[ops][reduce]") {
  const Tensor64 x = Tensor64({{1.0, 7.0, 7.0}, {-3.0, 0.0, -3.0}});
  const slope::Array<std::int64_t> am = slope::argmax(x, 1);
  CHECK(am.shape().size() == 1);
  CHECK(std::vector<std::int64_t>(am.begin(), am.end()) == std::vector<std::int64_t>{1, 1});
  const slope::Array<std::int64_t> an = slope::argmin(x, -1, true);
  CHECK(std::vector<std::size_t>(an.shape().begin(), an.shape().end()) == Shape{2, 1});
  CHECK(std::vector<std::int64_t>(an.begin(), an.end()) == std::vector<std::int64_t>{0, 0});
  const slope::Array<std::int64_t> a0 = slope::argmax(x, 0);
  CHECK(std::vector<std::int64_t>(a0.begin(), a0.end()) == std::vector<std::int64_t>{0, 0, 0});
  CHECK(slope::argmin(Tensor64({5.0}), 0)() == 0);
}

TEST_CASE("over the reduction tables the worst error stays inside the criterion", "[gradcheck][ops][reduce]") {
  worst() = Worst{};
  for (const auto& table : {axis_cases(), several_axes_cases(), all_entries_cases()})
    for (const OpCase& c : table) check_case(c);
  const Worst& w = worst();
  WARN("reduction tables: " << w.cases << " gradchecks over " << w.entries << " entries; worst "
                            << "relative error " << w.rel_error << " (" << w.rel_where << "); closest "
                            << "to the criterion: " << w.criterion << " of the allowed error ("
                            << w.criterion_where << ")");
  CHECK(w.cases == 3 * (axis_cases().size() + several_axes_cases().size() + all_entries_cases().size()));
  CHECK(w.criterion <= 1.0);
  WARN("reduce tables, " << second_order_summary(w));
  CHECK(w.second_cases == (axis_cases().size() + several_axes_cases().size() + all_entries_cases().size()));
  CHECK(w.second_failures == 0);
  CHECK(w.second_criterion <= 1.0);
}
