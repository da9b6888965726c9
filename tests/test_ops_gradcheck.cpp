// The op table of the core ops (elementwise, matmul, reductions, softmax),
// each in several shapes, gradchecked in float64 by tests/op_table.hpp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "op_table.hpp"
#include "slope/gradcheck.hpp"
#include "slope/ops.hpp"
#include "slope/tensor.hpp"

using slope::Shape;
using slope::Tensor64;

using namespace op_table;

namespace {

std::vector<OpCase> binary_cases() {
  struct Binary {
    std::string name;
    Op op;
    Domain second;
  };
  const std::vector<Binary> ops = {
      {"add", [](const Inputs& x) { return slope::add(x[0], x[1]); }, Domain::normal},
      {"sub", [](const Inputs& x) { return slope::sub(x[0], x[1]); }, Domain::normal},
      {"mul", [](const Inputs& x) { return slope::mul(x[0], x[1]); }, Domain::normal},
      {"div", [](const Inputs& x) { return slope::div(x[0], x[1]); }, Domain::nonzero},
      {"operator+", [](const Inputs& x) { return x[0] + x[1]; }, Domain::normal},
      {"operator/", [](const Inputs& x) { return x[0] / x[1]; }, Domain::nonzero},
  };
  std::vector<OpCase> cases;
  for (const auto& o : ops)
    for (const auto& [label, shapes] : binary_shapes())
      cases.push_back({o.name + " " + label, shapes, o.op, {Domain::normal, o.second}});
  // The same tensor on both sides.
  cases.push_back({"mul x * x", {{3, 2}}, [](const Inputs& x) { return x[0] * x[0]; }});
  cases.push_back({"div x / x", {{3, 2}}, [](const Inputs& x) { return x[0] / x[0]; },
                   {Domain::nonzero}});
  return cases;
}

std::vector<OpCase> unary_cases() {
  struct Unary {
    std::string name;
    Op op;
    Domain domain;
  };
  const std::vector<Unary> ops = {
      {"neg", [](const Inputs& x) { return slope::neg(x[0]); }, Domain::normal},
      {"unary operator-", [](const Inputs& x) { return -x[0]; }, Domain::normal},
      {"exp", [](const Inputs& x) { return slope::exp(x[0]); }, Domain::normal},
      {"log", [](const Inputs& x) { return slope::log(x[0]); }, Domain::positive},
      {"relu", [](const Inputs& x) { return slope::relu(x[0]); }, Domain::kink},
      {"abs", [](const Inputs& x) { return slope::abs(x[0]); }, Domain::kink},
      {"square", [](const Inputs& x) { return slope::square(x[0]); }, Domain::normal},
      {"sqrt", [](const Inputs& x) { return slope::sqrt(x[0]); }, Domain::positive},
      {"pow 2", [](const Inputs& x) { return slope::pow(x[0], 2.0); }, Domain::normal},
      {"pow 3", [](const Inputs& x) { return slope::pow(x[0], 3.0); }, Domain::normal},
      {"pow -1", [](const Inputs& x) { return slope::pow(x[0], -1.0); }, Domain::positive},
      {"pow 0.5", [](const Inputs& x) { return slope::pow(x[0], 0.5); }, Domain::positive},
      {"pow -1.5", [](const Inputs& x) { return slope::pow(x[0], -1.5); }, Domain::positive},
      {"pow 2.7", [](const Inputs& x) { return slope::pow(x[0], 2.7); }, Domain::positive},
      {"x + s", [](const Inputs& x) { return x[0] + 1.5; }, Domain::normal},
      {"s + x", [](const Inputs& x) { return -2.5 + x[0]; }, Domain::normal},
      {"x - s", [](const Inputs& x) { return x[0] - 0.75; }, Domain::normal},
      {"s - x", [](const Inputs& x) { return 3.0 - x[0]; }, Domain::normal},
      {"x * s", [](const Inputs& x) { return x[0] * -1.25; }, Domain::normal},
      {"s * x", [](const Inputs& x) { return 0.3 * x[0]; }, Domain::normal},
      {"x / s", [](const Inputs& x) { return x[0] / 0.7; }, Domain::normal},
      {"s / x", [](const Inputs& x) { return 2.0 / x[0]; }, Domain::nonzero},
      {"add_scalar", [](const Inputs& x) { return slope::add_scalar(x[0], 4.0); }, Domain::normal},
      {"mul_scalar", [](const Inputs& x) { return slope::mul_scalar(x[0], -3.0); }, Domain::normal},
      {"clone", [](const Inputs& x) { return x[0].clone(); }, Domain::normal},
      {"sum (all)", [](const Inputs& x) { return slope::sum(x[0]); }, Domain::normal},
      {"mean (all)", [](const Inputs& x) { return slope::mean(x[0]); }, Domain::normal},
  };
  std::vector<OpCase> cases;
  for (const auto& o : ops)
    for (const auto& [label, shape] : unary_shapes())
      cases.push_back({o.name + " " + label, {shape}, o.op, {o.domain}});
  return cases;
}

std::vector<OpCase> linalg_cases() {
  const Op mm = [](const Inputs& x) { return slope::matmul(x[0], x[1]); };
  const Op tr = [](const Inputs& x) { return slope::transpose(x[0]); };
  const auto rs = [](Shape to) -> Op {
    return [to](const Inputs& x) { return slope::reshape(x[0], to); };
  };
  return {
      {"matmul (3, 4) x (4, 2)", {{3, 4}, {4, 2}}, mm},
      {"matmul (2, 2) x (2, 2)", {{2, 2}, {2, 2}}, mm},
      {"matmul (1, 5) x (5, 1)", {{1, 5}, {5, 1}}, mm},
      {"matmul (4, 1) x (1, 3) outer product", {{4, 1}, {1, 3}}, mm},
      {"matmul (1, 1) x (1, 1)", {{1, 1}, {1, 1}}, mm},
      {"matmul (6, 3) x (3, 5)", {{6, 3}, {3, 5}}, mm},
      {"matmul x x^T", {{3, 4}},
       [](const Inputs& x) { return slope::matmul(x[0], slope::transpose(x[0])); }},
      {"transpose (3, 4)", {{3, 4}}, tr},
      {"transpose (1, 5)", {{1, 5}}, tr},
      {"transpose (4, 4)", {{4, 4}}, tr},
      {"reshape (3, 4) -> (2, 6)", {{3, 4}}, rs({2, 6})},
      {"reshape (3, 4) -> (12,)", {{3, 4}}, rs({12})},
      {"reshape (12,) -> (2, 2, 3)", {{12}}, rs({2, 2, 3})},
      {"reshape () -> (1, 1)", {{}}, rs({1, 1})},
      {"reshape (2, 3, 4) -> (4, 6)", {{2, 3, 4}}, rs({4, 6})},
  };
}

std::vector<OpCase> reduction_cases() {
  std::vector<OpCase> cases;
  struct Axis {
    Shape shape;
    int axis;
  };
  const std::vector<Axis> axes = {
      {{3, 4}, 0}, {{3, 4}, 1}, {{3, 4}, -1}, {{2, 3, 4}, 1}, {{2, 3, 4}, -3}, {{5}, 0}, {{1, 4}, 0},
  };
  for (const auto& [shape, axis] : axes)
    for (bool keep : {false, true}) {
      const std::string where = slope::to_string(shape) + " axis " + std::to_string(axis) +
                                (keep ? " keepdims" : "");
      const int a = axis;
      cases.push_back({"sum " + where, {shape},
                       [a, keep](const Inputs& x) { return slope::sum(x[0], a, keep); }});
      cases.push_back({"mean " + where, {shape},
                       [a, keep](const Inputs& x) { return slope::mean(x[0], a, keep); }});
      OpCase m{"max " + where, {shape},
               [a, keep](const Inputs& x) { return slope::max(x[0], a, keep); }};
      m.max_axis = a;
      cases.push_back(m);
    }
  return cases;
}

std::vector<OpCase> last_axis_cases() {
  std::vector<OpCase> cases;
  const std::vector<Shape> shapes = {{5}, {3, 4}, {2, 3, 4}, {1, 1}, {4, 1}, {1, 6}};
  for (const Shape& s : shapes) {
    cases.push_back({"softmax " + slope::to_string(s), {s},
                     [](const Inputs& x) { return slope::softmax(x[0]); }});
    cases.push_back({"log_softmax " + slope::to_string(s), {s},
                     [](const Inputs& x) { return slope::log_softmax(x[0]); }});
  }
  // Shifted scores: the row max is subtracted (overflow itself is tested below,
  // away from finite differences, which lose digits at large offsets).
  cases.push_back({"softmax of shifted scores", {{2, 3}},
                   [](const Inputs& x) { return slope::softmax(x[0] * 3.0 + 30.0); }});
  cases.push_back({"log_softmax of shifted scores", {{2, 3}},
                   [](const Inputs& x) { return slope::log_softmax(x[0] * 3.0 - 30.0); }});
  struct Labelled {
    Shape shape;
    std::vector<std::int32_t> labels;
  };
  const std::vector<Labelled> labelled = {
      {{4, 3}, {0, 2, 1, 2}}, {{1, 5}, {4}}, {{6, 2}, {1, 0, 0, 1, 1, 1}}, {{3, 1}, {0, 0, 0}},
  };
  for (const auto& [shape, y] : labelled) {
    cases.push_back({"softmax_cross_entropy " + slope::to_string(shape), {shape},
                     [y](const Inputs& x) { return slope::softmax_cross_entropy<double>(x[0], y); }});
    cases.push_back({"gather " + slope::to_string(shape), {shape},
                     [y](const Inputs& x) { return slope::gather<double>(x[0], y); }});
  }
  cases.push_back({"softmax_cross_entropy of shifted scores", {{4, 3}},
                   [](const Inputs& x) {
                     const std::vector<std::int32_t> y{0, 1, 2, 0};
                     return slope::softmax_cross_entropy<double>(x[0] * 2.0 + 30.0, y);
                   }});
  return cases;
}

}  // namespace

TEST_CASE("broadcasting binary ops pass gradcheck in every shape pairing", "[gradcheck][ops]") {
  const OpCase c = GENERATE(from_range(binary_cases()));
  check_case(c);
}

TEST_CASE("unary ops and scalar operators pass gradcheck in every shape", "[gradcheck][ops]") {
  const OpCase c = GENERATE(from_range(unary_cases()));
  check_case(c);
}

TEST_CASE("matmul, transpose and reshape pass gradcheck", "[gradcheck][ops]") {
  const OpCase c = GENERATE(from_range(linalg_cases()));
  check_case(c);
}

TEST_CASE("sum, mean and max along an axis pass gradcheck", "[gradcheck][ops]") {
  const OpCase c = GENERATE(from_range(reduction_cases()));
  check_case(c);
}

TEST_CASE("softmax, log_softmax, softmax_cross_entropy and gather pass gradcheck", "[gradcheck][ops]") {
  const OpCase c = GENERATE(from_range(last_axis_cases()));
  check_case(c);
}

TEST_CASE("max sends the gradient to the first maximal entry only", "[gradcheck][ops]") {
  Tensor64 x = Tensor64({{1.0, 3.0, 3.0}, {2.0, -1.0, 0.0}}).set_requires_grad();
  slope::sum(slope::max(x, 1)).backward();
  CHECK(std::vector<double>(x.grad().begin(), x.grad().end()) ==
        std::vector<double>{0, 1, 0, 1, 0, 0});
}

TEST_CASE("relu and abs take the gradient at the kink as 0", "[gradcheck][ops]") {
  Tensor64 x = Tensor64({0.0, 0.0}).set_requires_grad();
  slope::sum(slope::relu(x) + slope::abs(x)).backward();
  CHECK(x.grad()(0) == 0.0);
  CHECK(x.grad()(1) == 0.0);
}

TEST_CASE("softmax and its relatives stay finite for scores beyond exp's range", "[ops]") {
  // exp(1000) overflows double and exp(100) overflows float; a stable softmax
  // never forms them. Expected: softmax([0, 1, 2]) for any common shift.
  const double e0 = 1.0, e1 = std::exp(1.0), e2 = std::exp(2.0), z = e0 + e1 + e2;
  const std::vector<std::int32_t> y{2};
  Tensor64 big = Tensor64(xt::xarray<double>({{1000.0, 1001.0, 1002.0}})).set_requires_grad();
  const Tensor64 p = slope::softmax(big);
  CHECK(p.value()(0, 0) == Approx(e0 / z).epsilon(1e-12));
  CHECK(p.value()(0, 2) == Approx(e2 / z).epsilon(1e-12));
  CHECK(slope::log_softmax(big).value()(0, 1) == Approx(std::log(e1 / z)).epsilon(1e-12));
  slope::softmax_cross_entropy(big, y).backward();
  CHECK(big.grad()(0, 2) == Approx(e2 / z - 1.0).epsilon(1e-12));

  slope::Tensor small = slope::Tensor(xt::xarray<float>({{-100.f, -99.f, -98.f}})).set_requires_grad();
  CHECK(slope::softmax_cross_entropy(small * 2.0f, y).item() ==
        Approx(-std::log(std::exp(4.0) / (1 + std::exp(2.0) + std::exp(4.0)))).epsilon(1e-5));
  slope::Tensor huge = slope::Tensor(xt::xarray<float>({{100.f, 101.f, 102.f}})).set_requires_grad();
  const slope::Tensor q = slope::softmax(huge);
  CHECK(q.value()(0, 1) == Approx(e1 / z).epsilon(1e-5));
  slope::sum(slope::log_softmax(huge)).backward();
  for (float g : huge.grad()) CHECK(std::isfinite(g));
}

TEST_CASE("over the whole op table the worst error stays inside the criterion", "[gradcheck][ops]") {
  // Runs every table again (it takes well under a second) so that this case
  // stands alone, as ctest runs it, and reports the worst errors seen.
  worst() = Worst{};
  for (const auto& table : {binary_cases(), unary_cases(), linalg_cases(), reduction_cases(),
                            last_axis_cases()})
    for (const OpCase& c : table) check_case(c);
  const Worst& w = worst();
  WARN("op table: " << w.cases << " gradchecks over " << w.entries << " entries; worst relative "
                    << "error " << w.rel_error << " (" << w.rel_where << "); closest to the "
                    << "criterion: " << w.criterion << " of the allowed error ("
                    << w.criterion_where << ")");
  CHECK(w.cases == 3 * (binary_cases().size() + unary_cases().size() + linalg_cases().size() +
                        reduction_cases().size() + last_axis_cases().size()));
  CHECK(w.criterion <= 1.0);
  WARN("op table, " << second_order_summary(w));
  CHECK(w.second_cases == w.cases / 3);
  CHECK(w.second_failures == 0);
  CHECK(w.second_criterion <= 1.0);
}
