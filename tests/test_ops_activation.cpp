// Activations: the op table in float64, the gradient at each kink, golden
// values from PyTorch at awkward points, and the extremes table: no NaN or
// Inf forward or backward for any finite input, in float and double.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "golden/activation_golden.hpp"
#include "op_table.hpp"
#include "slope/ops.hpp"
#include "slope/tensor.hpp"

using slope::Tensor;
using slope::Tensor64;
using slope::TensorT;

using namespace op_table;

namespace {

// Every activation, by name, for either element type (parameters fixed).
template <class T>
using Activation = std::function<TensorT<T>(const TensorT<T>&)>;

template <class T>
std::vector<std::pair<std::string, Activation<T>>> activations() {
  return {
      {"tanh", [](const TensorT<T>& x) { return slope::tanh(x); }},
      {"sigmoid", [](const TensorT<T>& x) { return slope::sigmoid(x); }},
      {"softplus", [](const TensorT<T>& x) { return slope::softplus(x); }},
      {"log_sigmoid", [](const TensorT<T>& x) { return slope::log_sigmoid(x); }},
      {"leaky_relu_0.1", [](const TensorT<T>& x) { return slope::leaky_relu(x, T(0.1)); }},
      {"leaky_relu default", [](const TensorT<T>& x) { return slope::leaky_relu(x); }},
      {"elu_1", [](const TensorT<T>& x) { return slope::elu(x); }},
      {"elu_0.5", [](const TensorT<T>& x) { return slope::elu(x, T(0.5)); }},
      {"gelu", [](const TensorT<T>& x) { return slope::gelu(x); }},
      {"silu", [](const TensorT<T>& x) { return slope::silu(x); }},
  };
}

std::vector<OpCase> activation_cases() {
  struct Unary {
    std::string name;
    Op op;
    Domain domain;
  };
  std::vector<Unary> ops;
  for (const auto& [name, f] : activations<double>()) {
    const bool kink = name.rfind("leaky", 0) == 0 || name.rfind("elu", 0) == 0;
    ops.push_back({name, [f = f](const Inputs& x) { return f(x[0]); },
                   kink ? Domain::kink : Domain::normal});
  }
  // Wider inputs reach further into the tails (finite differences stay exact
  // enough there: h = 1e-6 against curvatures of order 1).
  ops.push_back({"tanh of 3x", [](const Inputs& x) { return slope::tanh(x[0] * 3.0); }, Domain::normal});
  ops.push_back({"sigmoid of 4x", [](const Inputs& x) { return slope::sigmoid(x[0] * 4.0); }, Domain::normal});
  ops.push_back({"softplus of 6x", [](const Inputs& x) { return slope::softplus(x[0] * 6.0); }, Domain::normal});
  ops.push_back({"log_sigmoid of 6x", [](const Inputs& x) { return slope::log_sigmoid(x[0] * 6.0); }, Domain::normal});
  ops.push_back({"gelu of 3x", [](const Inputs& x) { return slope::gelu(x[0] * 3.0); }, Domain::normal});
  ops.push_back({"silu of 4x", [](const Inputs& x) { return slope::silu(x[0] * 4.0); }, Domain::normal});
  ops.push_back({"elu_2 of 3x", [](const Inputs& x) { return slope::elu(x[0] * 3.0, 2.0); }, Domain::kink});
  ops.push_back({"leaky_relu -0.5", [](const Inputs& x) { return slope::leaky_relu(x[0], -0.5); }, Domain::kink});
  std::vector<OpCase> cases;
  for (const auto& o : ops)
    for (const auto& [label, shape] : unary_shapes())
      cases.push_back({o.name + " " + label, {shape}, o.op, {o.domain}});
  return cases;
}

// The value and gradient (seed 1) of f at a single point.
template <class T>
std::pair<T, T> value_and_grad(const Activation<T>& f, T x) {
  TensorT<T> t = slope::scalar<T>(x, true);
  const TensorT<T> y = f(t);
  y.backward();
  return {y.item(), t.grad()()};
}

template <class T>
std::vector<T> extreme_points() {
  const T big = std::numeric_limits<float>::max();
  std::vector<T> p = {T(0),     T(1),      T(-1),   T(88),   T(-88), T(710), T(-710),
                      T(1e30),  T(-1e30),  big,     -big,    T(1e-30), T(-1e-30),
                      std::numeric_limits<T>::denorm_min(), -std::numeric_limits<T>::denorm_min()};
  if constexpr (sizeof(T) == 8) {
    p.push_back(T(1e300));
    p.push_back(T(-1e300));
    p.push_back(std::numeric_limits<T>::max());
    p.push_back(-std::numeric_limits<T>::max());
  }
  return p;
}

template <class T>
void check_extremes() {
  const std::vector<T> points = extreme_points<T>();
  for (const auto& [name, f] : activations<T>()) {
    // All points in one tensor, and each alone; with anomaly mode on, any
    // NaN or Inf in an intermediate (of a composite) throws.
    slope::AnomalyGuard anomaly;
    TensorT<T> x(slope::Array<T>::from_shape({points.size()}), true);
    std::copy(points.begin(), points.end(), x.mutable_value().begin());
    const TensorT<T> y = f(x);
    y.backward(xt::ones<T>({points.size()}));  // a sum would overflow: the points reach float max
    for (std::size_t i = 0; i < points.size(); ++i) {
      INFO(name << " at " << points[i] << " (" << sizeof(T) * 8 << "-bit): value " << y.value()(i)
                << ", gradient " << x.grad()(i));
      CHECK(std::isfinite(y.value()(i)));
      CHECK(std::isfinite(x.grad()(i)));
      const auto [v, g] = value_and_grad<T>(f, points[i]);
      CHECK(std::isfinite(v));
      CHECK(std::isfinite(g));
    }
  }
}

// |a - b| <= rel |b| + abs
bool close(double a, double b, double rel, double abs) { return std::abs(a - b) <= rel * std::abs(b) + abs; }

}  // namespace

TEST_CASE("activations pass gradcheck in every shape", "[gradcheck][ops][activation]") {
  worst() = Worst{};
  const OpCase c = GENERATE(from_range(activation_cases()));
  check_case(c);
}

TEST_CASE("no activation returns NaN or Inf at the extremes, forward or backward", "[ops][activation]") {
  SECTION("float32") { check_extremes<float>(); }
  SECTION("float64") { check_extremes<double>(); }
}

TEST_CASE("activations reach their limits exactly in the tails", "[ops][activation]") {
  const double big = 1e30;
  const auto at = [](const Activation<double>& f, double x) { return value_and_grad<double>(f, x); };
  CHECK(at(activations<double>()[0].second, big) == std::pair{1.0, 0.0});  // tanh
  CHECK(at(activations<double>()[0].second, -big) == std::pair{-1.0, 0.0});
  CHECK(at([](const Tensor64& x) { return slope::sigmoid(x); }, big) == std::pair{1.0, 0.0});
  CHECK(at([](const Tensor64& x) { return slope::sigmoid(x); }, -big) == std::pair{0.0, 0.0});
  CHECK(at([](const Tensor64& x) { return slope::softplus(x); }, big) == std::pair{big, 1.0});
  CHECK(at([](const Tensor64& x) { return slope::softplus(x); }, -big) == std::pair{0.0, 0.0});
  CHECK(at([](const Tensor64& x) { return slope::log_sigmoid(x); }, -big) == std::pair{-big, 1.0});
  CHECK(at([](const Tensor64& x) { return slope::log_sigmoid(x); }, big).second == 0.0);
  CHECK(at([](const Tensor64& x) { return slope::gelu(x); }, big) == std::pair{big, 1.0});
  CHECK(at([](const Tensor64& x) { return slope::gelu(x); }, -big) == std::pair{0.0, 0.0});
  CHECK(at([](const Tensor64& x) { return slope::silu(x); }, big) == std::pair{big, 1.0});
  CHECK(at([](const Tensor64& x) { return slope::elu(x, 0.5); }, -big) == std::pair{-0.5, 0.0});
  CHECK(at([](const Tensor64& x) { return slope::leaky_relu(x, 0.1); }, -big) == std::pair{-0.1 * big, 0.1});
  // gelu's cut-off at |x| = 1e4 joins the formula without a visible step.
  const auto gelu = [](const Tensor64& x) { return slope::gelu(x); };
  CHECK(at(gelu, 9999.0) == std::pair{9999.0, 1.0});
  CHECK(at(gelu, -9999.0).first == 0.0);
  CHECK(at(gelu, -9999.0).second == 0.0);
  const float fbig = std::numeric_limits<float>::max();
  CHECK(value_and_grad<float>([](const Tensor& x) { return slope::gelu(x); }, 1e13f) ==
        std::pair{1e13f, 1.0f});
  CHECK(value_and_grad<float>([](const Tensor& x) { return slope::softplus(x); }, fbig) ==
        std::pair{fbig, 1.0f});
}

TEST_CASE("the activations' gradients at 0 are the exact derivatives (kinks: the left slope)",
          "[ops][activation]") {
  const auto grad0 = [](const Activation<double>& f) { return value_and_grad<double>(f, 0.0).second; };
  CHECK(grad0([](const Tensor64& x) { return slope::tanh(x); }) == 1.0);
  CHECK(grad0([](const Tensor64& x) { return slope::sigmoid(x); }) == 0.25);
  CHECK(grad0([](const Tensor64& x) { return slope::softplus(x); }) == 0.5);
  CHECK(grad0([](const Tensor64& x) { return slope::log_sigmoid(x); }) == 0.5);
  CHECK(grad0([](const Tensor64& x) { return slope::gelu(x); }) == 0.5);
  CHECK(grad0([](const Tensor64& x) { return slope::silu(x); }) == 0.5);
  // At the kink, relu's convention: the slope of the branch at and below 0.
  CHECK(grad0([](const Tensor64& x) { return slope::leaky_relu(x, 0.1); }) == 0.1);
  CHECK(grad0([](const Tensor64& x) { return slope::leaky_relu(x, -0.5); }) == -0.5);
  CHECK(grad0([](const Tensor64& x) { return slope::elu(x, 0.5); }) == 0.5);
  CHECK(grad0([](const Tensor64& x) { return slope::elu(x, 2.0); }) == 2.0);
  CHECK(grad0([](const Tensor64& x) { return slope::relu(x); }) == 0.0);
  // Just above the kink, the right branch.
  CHECK(value_and_grad<double>([](const Tensor64& x) { return slope::leaky_relu(x, 0.1); }, 1e-300).second == 1.0);
  CHECK(value_and_grad<double>([](const Tensor64& x) { return slope::elu(x, 0.5); }, 1e-300).second == 1.0);
}

TEST_CASE("activations match PyTorch at awkward points", "[ops][activation][golden]") {
  const auto ours = activations<double>();
  const auto ours32 = activations<float>();
  std::size_t compared = 0;
  for (const golden::ActivationTable& table : golden::activations) {
    const auto it = std::find_if(ours.begin(), ours.end(), [&](const auto& a) { return a.first == table.name; });
    REQUIRE(it != ours.end());
    const Activation<float>& f32 = ours32[static_cast<std::size_t>(it - ours.begin())].second;
    for (const golden::ActivationPoint& p : table.points) {
      const auto [y, dy] = value_and_grad<double>(it->second, p.x);
      INFO(table.name << " at x = " << p.x << ": ours " << y << ", " << dy << "; PyTorch " << p.y << ", "
                      << p.dy);
      CHECK(close(y, p.y, 1e-14, 1e-300));
      CHECK(close(dy, p.dy, 1e-12, 1e-15));  // PyTorch's sigmoid' = y (1 - y) loses digits near 1
      // float32 computes the same numbers to float precision.
      const auto [y32, dy32] = value_and_grad<float>(f32, static_cast<float>(p.x));
      CHECK(close(y32, p.y, 1e-6, 1e-37));
      CHECK(close(dy32, p.dy, 1e-6, 1e-7));
      ++compared;
    }
  }
  CHECK(compared > 150);
}

TEST_CASE("over the activation table the worst error stays inside the criterion", "[gradcheck][ops][activation]") {
  worst() = Worst{};
  for (const OpCase& c : activation_cases()) check_case(c);
  const Worst& w = worst();
  WARN("activation table: " << w.cases << " gradchecks over " << w.entries << " entries; worst "
                            << "relative error " << w.rel_error << " (" << w.rel_where << "); closest "
                            << "to the criterion: " << w.criterion << " of the allowed error ("
                            << w.criterion_where << ")");
  CHECK(w.cases == 3 * activation_cases().size());
  CHECK(w.criterion <= 1.0);
  WARN("activation tables, " << second_order_summary(w));
  CHECK(w.second_cases == activation_cases().size());
  CHECK(w.second_failures == 0);
  CHECK(w.second_criterion <= 1.0);
}
