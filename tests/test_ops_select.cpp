// log1p and expm1, clamp, maximum and minimum, the comparisons and where: the
// op table in float64 (inputs drawn away from kinks and ties), and the exact
// gradient at the kinks and ties themselves.
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

// No entry of a - b (broadcast) within kink_margin of 0.
bool no_ties(const Inputs& x) {
  slope::NoGradGuard no_grad;
  const Tensor64 diff = x[0] - x[1];  // named: a range over a temporary's value() dangles
  for (double v : diff.value())
    if (std::abs(v) < kink_margin) return false;
  return true;
}

std::vector<OpCase> unary_select_cases() {
  struct Unary {
    std::string name;
    Op op;
    Domain domain;
    std::vector<double> kinks;
  };
  const std::vector<Unary> ops = {
      {"log1p", [](const Inputs& x) { return slope::log1p(x[0]); }, Domain::above_minus_one, {}},
      {"expm1", [](const Inputs& x) { return slope::expm1(x[0]); }, Domain::normal, {}},
      {"clamp (-0.5, 0.7)", [](const Inputs& x) { return slope::clamp(x[0], -0.5, 0.7); }, Domain::normal,
       {-0.5, 0.7}},
      {"clamp (0, inf)", [](const Inputs& x) { return slope::clamp(x[0], 0.0, inf); }, Domain::normal, {0.0}},
      {"clamp (-inf, 0.3)", [](const Inputs& x) { return slope::clamp(x[0], -inf, 0.3); }, Domain::normal,
       {0.3}},
      {"clamp (1, 1)", [](const Inputs& x) { return slope::clamp(x[0], 1.0, 1.0); }, Domain::normal, {1.0}},
      {"maximum x, x", [](const Inputs& x) { return slope::maximum(x[0], x[0]); }, Domain::normal, {}},
      {"minimum x, x", [](const Inputs& x) { return slope::minimum(x[0], x[0]); }, Domain::normal, {}},
      {"where(gt(x, 0), x * 2, exp(x))",
       [](const Inputs& x) {
         return slope::where(slope::gt(x[0], slope::zeros<double>({})), x[0] * 2.0, slope::exp(x[0]));
       },
       Domain::normal, {0.0}},
  };
  std::vector<OpCase> cases;
  for (const auto& o : ops)
    for (const auto& [label, shape] : unary_shapes()) {
      OpCase c{o.name + " " + label, {shape}, o.op, {o.domain}};
      c.kinks = o.kinks;
      cases.push_back(c);
    }
  return cases;
}

std::vector<OpCase> binary_select_cases() {
  std::vector<OpCase> cases;
  for (const auto& [label, shapes] : binary_shapes()) {
    OpCase mx{"maximum " + label, shapes, [](const Inputs& x) { return slope::maximum(x[0], x[1]); }};
    mx.valid = no_ties;
    cases.push_back(mx);
    OpCase mn{"minimum " + label, shapes, [](const Inputs& x) { return slope::minimum(x[0], x[1]); }};
    mn.valid = no_ties;
    cases.push_back(mn);
    // where(a > b, a, b) is maximum again, built from a mask.
    OpCase w{"where(gt(a, b), a, b) " + label, shapes,
             [](const Inputs& x) { return slope::where(slope::gt(x[0], x[1]), x[0], x[1]); }};
    w.valid = no_ties;
    cases.push_back(w);
  }
  // Fixed masks broadcast against a and b.
  struct Masked {
    Shape mask, a, b;
  };
  const std::vector<Masked> masked = {
      {{3, 4}, {3, 4}, {3, 4}}, {{3, 1}, {1, 4}, {}}, {{4}, {3, 4}, {3, 1}},
      {{}, {2, 3}, {3}},        {{2, 3, 1}, {3, 4}, {2, 1, 4}}, {{1}, {5}, {5}},
  };
  for (const auto& [m, a, b] : masked) {
    slope::Rng rng{static_cast<std::uint64_t>(m.size() * 10 + a.size())};
    Tensor64 mask = slope::uniform<double>(m, 0.0, 1.0, rng);
    for (double& v : mask.mutable_value()) v = v < 0.5 ? 0.0 : (v < 0.75 ? 1.0 : -2.0);  // any nonzero selects a
    cases.push_back({"where mask " + slope::to_string(m) + ", a " + slope::to_string(a) + ", b " +
                         slope::to_string(b),
                     {a, b}, [mask](const Inputs& x) { return slope::where(mask, x[0], x[1]); }});
  }
  return cases;
}

Tensor64 leaf(std::vector<double> v) {
  slope::Array<double> a = slope::Array<double>::from_shape({v.size()});
  std::copy(v.begin(), v.end(), a.begin());
  return Tensor64(std::move(a), true);
}

}  // namespace

TEST_CASE("log1p, expm1, clamp and masked selections pass gradcheck in every shape", "[gradcheck][ops][select]") {
  const OpCase c = GENERATE(from_range(unary_select_cases()));
  check_case(c);
}

TEST_CASE("maximum, minimum and where pass gradcheck in every broadcast pairing", "[gradcheck][ops][select]") {
  const OpCase c = GENERATE(from_range(binary_select_cases()));
  check_case(c);
}

TEST_CASE("clamp's gradient is 0 at its bounds and outside, like relu's at its kink", "[ops][select]") {
  Tensor64 x = leaf({-2.0, -0.5, 0.0, 0.7, 3.0, 0.2});
  Tensor64 y = slope::clamp(x, -0.5, 0.7);
  CHECK(values(y.value()) == std::vector<double>{-0.5, -0.5, 0.0, 0.7, 0.7, 0.2});
  y.backward(xt::ones<double>({6}));
  CHECK(values(x.grad()) == std::vector<double>{0, 0, 1, 0, 0, 1});
  // relu and clamp(x, 0, inf) agree everywhere, the kink included.
  Tensor64 r = leaf({-1.0, 0.0, 2.0});
  Tensor64 c = leaf({-1.0, 0.0, 2.0});
  slope::sum(slope::relu(r)).backward();
  slope::sum(slope::clamp(c, 0.0, inf)).backward();
  CHECK(values(r.grad()) == values(c.grad()));
  CHECK(values(c.grad()) == std::vector<double>{0, 0, 1});
}

TEST_CASE("maximum and minimum split the gradient evenly at a tie", "[ops][select]") {
  Tensor64 a = leaf({1.0, 2.0, 3.0});
  Tensor64 b = leaf({1.0, 5.0, 0.0});
  slope::sum(slope::maximum(a, b)).backward();
  CHECK(values(a.grad()) == std::vector<double>{0.5, 0, 1});
  CHECK(values(b.grad()) == std::vector<double>{0.5, 1, 0});
  a.zero_grad();
  b.zero_grad();
  slope::sum(slope::minimum(a, b)).backward();
  CHECK(values(a.grad()) == std::vector<double>{0.5, 1, 0});
  CHECK(values(b.grad()) == std::vector<double>{0.5, 0, 1});
  // The same tensor twice: the halves add up to the derivative of x, 1.
  Tensor64 x = leaf({-1.0, 4.0});
  slope::sum(slope::maximum(x, x) + slope::minimum(x, x)).backward();
  CHECK(values(x.grad()) == std::vector<double>{2, 2});
  // A broadcast scalar collects the halves of every tie it is part of.
  Tensor64 s = slope::scalar(2.0, true);
  Tensor64 v = leaf({2.0, 2.0, 1.0});
  slope::sum(slope::maximum(v, s)).backward();
  CHECK(s.grad()() == 0.5 + 0.5 + 1.0);
  CHECK(values(v.grad()) == std::vector<double>{0.5, 0.5, 0});
}

TEST_CASE("comparisons give 0/1 masks that broadcast and never require a gradient", "[ops][select]") {
  const Tensor64 a = Tensor64({{1.0, 2.0, 3.0}}).detach();
  Tensor64 col = slope::reshape(leaf({2.0, 3.0}), {2, 1}).detach().set_requires_grad();
  const Tensor64 lt = slope::lt(a, col);
  CHECK(lt.shape() == Shape{2, 3});
  CHECK(values(lt.value()) == std::vector<double>{1, 0, 0, 1, 1, 0});
  CHECK(values(slope::le(a, col).value()) == std::vector<double>{1, 1, 0, 1, 1, 1});
  CHECK(values(slope::gt(a, col).value()) == std::vector<double>{0, 0, 1, 0, 0, 0});
  CHECK(values(slope::ge(a, col).value()) == std::vector<double>{0, 1, 1, 0, 0, 1});
  CHECK(values(slope::eq(a, col).value()) == std::vector<double>{0, 1, 0, 0, 0, 1});
  for (const Tensor64& m : {lt, slope::le(col, a), slope::gt(col, col), slope::ge(a, col), slope::eq(col, a)}) {
    CHECK_FALSE(m.requires_grad());
    CHECK(m.node()->inputs.empty());
  }
  CHECK(std::string(lt.op()) == "lt");
  // NaN compares false to everything, as in IEEE.
  const Tensor64 nan = slope::scalar(std::nan(""));
  CHECK(slope::eq(nan, nan).item() == 0.0);
  CHECK(slope::lt(nan, a).value()(0, 0) == 0.0);
}

TEST_CASE("where sends the gradient to the chosen operand and none to the mask", "[ops][select]") {
  Tensor64 mask = Tensor64(xt::xarray<double>{1.0, 0.0, -3.0}, true);  // nonzero selects a
  Tensor64 a = leaf({10.0, 20.0, 30.0});
  Tensor64 b = slope::scalar(7.0, true);
  Tensor64 y = slope::where(mask, a, b);
  CHECK(values(y.value()) == std::vector<double>{10, 7, 30});
  y.backward(xt::xarray<double>{1.0, 2.0, 4.0});
  CHECK(values(a.grad()) == std::vector<double>{1, 0, 4});
  CHECK(b.grad()() == 2.0);
  CHECK_FALSE(mask.has_grad());
}

TEST_CASE("log1p and expm1 keep their digits near 0", "[ops][select]") {
  const Tensor64 tiny = slope::scalar(1e-12);
  CHECK(slope::log1p(tiny).item() == Approx(1e-12 - 0.5e-24).epsilon(1e-15));
  CHECK(slope::expm1(tiny).item() == Approx(1e-12 + 0.5e-24).epsilon(1e-15));
  Tensor64 x = slope::scalar(-40.0, true);
  slope::expm1(x).backward();
  CHECK(std::isfinite(x.grad()()));
}

TEST_CASE("over the selection tables the worst error stays inside the criterion", "[gradcheck][ops][select]") {
  worst() = Worst{};
  for (const auto& table : {unary_select_cases(), binary_select_cases()})
    for (const OpCase& c : table) check_case(c);
  const Worst& w = worst();
  WARN("selection tables: " << w.cases << " gradchecks over " << w.entries << " entries; worst "
                            << "relative error " << w.rel_error << " (" << w.rel_where << "); closest "
                            << "to the criterion: " << w.criterion << " of the allowed error ("
                            << w.criterion_where << ")");
  CHECK(w.cases == 3 * (unary_select_cases().size() + binary_select_cases().size()));
  CHECK(w.criterion <= 1.0);
  WARN("select tables, " << second_order_summary(w));
  CHECK(w.second_cases == (unary_select_cases().size() + binary_select_cases().size()));
  CHECK(w.second_failures == 0);
  CHECK(w.second_criterion <= 1.0);
}
