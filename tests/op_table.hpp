// The op-table machinery shared by the gradcheck tables (tests/test_ops_*.cpp):
// an OpCase names an op, its input shapes and where its inputs are drawn
// from; check_case gradchecks it in float64 at the default criterion
// (|a - n| <= 1e-8 + 1e-6 |n|, h = 1e-6) for three seeds, gradgradchecks it
// (second derivatives, random grad_outputs) for the first seed at the same
// criterion, checks that its two first-order paths agree (the fast backward
// loops against the differentiable forms that create_graph records), and
// records the worst errors seen.
//
// Each case reduces the op's output to a scalar with fixed random weights,
// loss = sum(op(inputs) * R), so every output entry's gradient is exercised
// with a different weight (a plain sum would hide, for example, softmax).
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "slope/autograd.hpp"
#include "slope/gradcheck.hpp"
#include "slope/ops.hpp"
#include "slope/tensor.hpp"
#include "reference_gradient.hpp"

namespace op_table {

using slope::Shape;
using slope::Tensor64;

using Inputs = std::vector<Tensor64>;
using Op = std::function<Tensor64(const Inputs&)>;

/// Where an input's entries are drawn from.
enum class Domain {
  normal,    // N(0, 1)
  positive,  // U(0.5, 2): for log, sqrt, fractional and negative powers
  nonzero,   // ±U(0.5, 2): divisors
  kink,      // N(0, 1) redrawn while |x| < 1e-3: relu and abs
  above_minus_one,  // U(-0.8, 2): log1p
  unit_interval,    // U(0, 1): probabilities, binary targets
};

struct OpCase {
  std::string name;
  std::vector<Shape> shapes;
  Op op;
  std::vector<Domain> domains = {};  // per input; normal when missing
  int max_axis = -99;                // for max: redraw near ties along this axis
  std::vector<double> kinks = {};    // redraw entries within kink_margin of these points
  // Redraw all inputs until this holds (e.g. no near-ties between two inputs).
  std::function<bool(const Inputs&)> valid = nullptr;
};

constexpr double kink_margin = 1e-3;

inline double draw(Domain d, slope::Rng& rng) {
  switch (d) {
    case Domain::positive: return rng.uniform(0.5, 2.0);
    case Domain::nonzero: return (rng.uniform() < 0.5 ? -1.0 : 1.0) * rng.uniform(0.5, 2.0);
    case Domain::kink: {
      double x = 0.0;
      do x = rng.normal();
      while (std::abs(x) < kink_margin);
      return x;
    }
    case Domain::above_minus_one: return rng.uniform(-0.8, 2.0);
    case Domain::unit_interval: return rng.uniform(0.0, 1.0);
    case Domain::normal: break;
  }
  return rng.normal();
}

// The smallest gap between the largest and the second largest entry along
// `axis` over all slices: below kink_margin, max's gradient is ambiguous.
inline double max_gap(const xt::xarray<double>& x, int axis) {
  const Shape shape(x.shape().begin(), x.shape().end());
  const std::size_t a = static_cast<std::size_t>(axis < 0 ? axis + static_cast<int>(shape.size()) : axis);
  std::size_t outer = 1, inner = 1;
  for (std::size_t d = 0; d < a; ++d) outer *= shape[d];
  for (std::size_t d = a + 1; d < shape.size(); ++d) inner *= shape[d];
  const std::size_t n = shape[a];
  double gap = INFINITY;
  for (std::size_t o = 0; o < outer; ++o)
    for (std::size_t i = 0; i < inner; ++i) {
      std::vector<double> v;
      for (std::size_t j = 0; j < n; ++j) v.push_back(x.data()[(o * n + j) * inner + i]);
      std::sort(v.rbegin(), v.rend());
      if (v.size() > 1) gap = std::min(gap, v[0] - v[1]);
    }
  return gap;
}

inline bool near_kink(double x, const std::vector<double>& kinks) {
  return std::any_of(kinks.begin(), kinks.end(),
                     [x](double k) { return std::abs(x - k) < kink_margin; });
}

inline Inputs draw_inputs(const OpCase& c, slope::Rng& rng) {
  for (int attempt = 0;; ++attempt) {
    REQUIRE(attempt < 1000);
    Inputs in;
    for (std::size_t k = 0; k < c.shapes.size(); ++k) {
      const Domain d = k < c.domains.size() ? c.domains[k] : Domain::normal;
      xt::xarray<double> a = xt::xarray<double>::from_shape(c.shapes[k]);
      for (;;) {
        for (double& x : a)
          do x = draw(d, rng);
          while (near_kink(x, c.kinks));
        if (c.max_axis == -99 || max_gap(a, c.max_axis) >= kink_margin) break;
      }
      in.emplace_back(std::move(a), true);
      in.back().set_name("x" + std::to_string(k));
    }
    if (!c.valid || c.valid(in)) return in;
  }
}

// FNV-1a, so every case draws its own numbers on every platform.
inline std::uint64_t hash(const std::string& s) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  return h;
}

// Error statistics over every entry, beyond gradcheck's pass/fail, against
// an independent reference n (reference_gradient.hpp: a five-point stencil at
// another step, not gradcheck's centred difference): the relative error
// |a - n| / max(|a|, |n|) where the gradient is not negligible (max(|a|, |n|)
// > 1e-6; below that, round-off dominates any ratio), and how close any entry
// came to the criterion, |a - n| / (atol + rtol |n|), which must stay <= 1.
struct Worst {
  double rel_error = 0.0, criterion = 0.0;
  std::string rel_where, criterion_where;
  std::size_t cases = 0, entries = 0;
  // gradgradcheck: checks, entries, failures, and the worst share of the criterion
  std::size_t second_cases = 0, second_entries = 0, second_failures = 0;
  double second_criterion = 0.0, second_rel_error = 0.0;
  std::string second_where;
  // the largest |fast - graph| / |fast| of the first-order gradient (entries above 1e-6)
  double paths = 0.0;
  std::string paths_where;
};
inline Worst& worst() {
  static Worst w;
  return w;
}

inline void record_errors(const std::function<Tensor64(const Inputs&)>& loss, Inputs& inputs,
                   const std::string& name) {
  const slope::GradcheckOptions defaults;
  loss(inputs).backward();
  Worst& w = worst();
  for (Tensor64& x : inputs) {
    const xt::xarray<double> analytic = x.has_grad()
                                            ? xt::xarray<double>(x.grad())
                                            : xt::xarray<double>(xt::zeros<double>(x.value().shape()));
    const auto f = [&](const xt::xarray<double>& v) {
      xt::xarray<double> saved = x.value();
      x.mutable_value() = v;
      slope::NoGradGuard no_grad;
      const double r = loss(inputs).item();
      x.mutable_value() = std::move(saved);
      return r;
    };
    const xt::xarray<double> numerical = slope::testing::reference_gradient(f, x.value());
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double a = analytic.data()[i], n = numerical.data()[i];
      const double diff = std::abs(a - n), scale = std::max(std::abs(a), std::abs(n));
      const double ratio = diff / (defaults.atol + defaults.rtol * std::abs(n));
      if (scale > 1e-6 && diff / scale > w.rel_error) {
        w.rel_error = diff / scale;
        w.rel_where = name;
      }
      if (ratio > w.criterion) {
        w.criterion = ratio;
        w.criterion_where = name;
      }
    }
    x.zero_grad();
  }
}

// The share of gradcheck's criterion an entry used, |a - n| / (atol + rtol |n|).
inline double criterion_share(const slope::GradEntry& e) {
  const slope::GradcheckOptions defaults;
  return std::abs(e.analytic - e.numerical) / (defaults.atol + defaults.rtol * std::abs(e.numerical));
}

// The op's first-order gradient by the fast backward and by the
// differentiable forms (grad with and without create_graph): the same
// derivative computed twice, which must agree to rounding.
inline void check_paths(const std::function<Tensor64(const Inputs&)>& loss, Inputs& inputs, const std::string& name) {
  for (Tensor64& x : inputs) x.zero_grad();
  loss(inputs).backward();
  const std::vector<Tensor64> plain = slope::grad(loss(inputs), inputs, {.allow_unused = true});
  const std::vector<Tensor64> graph = slope::grad(loss(inputs), inputs, {.create_graph = true, .allow_unused = true});
  Worst& w = worst();
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const xt::xarray<double> fast = inputs[k].has_grad()
                                        ? xt::xarray<double>(inputs[k].grad())
                                        : xt::xarray<double>(xt::zeros<double>(inputs[k].value().shape()));
    for (const Tensor64* other : {&plain[k], &graph[k]})
      for (std::size_t i = 0; i < fast.size(); ++i) {
        const double a = fast.data()[i], b = other->value().data()[i];
        const double d = std::abs(a) > 1e-6 ? std::abs(a - b) / std::abs(a) : 0.0;  // relative, where not ~0
        INFO(name << ": input " << k << " entry " << i << ": fast " << a << ", graph " << b);
        CHECK(std::abs(a - b) <= 1e-13 + 1e-11 * std::abs(a));
        if (d > w.paths) {
          w.paths = d;
          w.paths_where = name;
        }
      }
    inputs[k].zero_grad();
  }
}

// gradgradchecks one case at the default criterion and records its errors.
inline void check_second_order(const std::function<Tensor64(const Inputs&)>& loss, const Inputs& inputs,
                               const std::string& name) {
  const slope::GradcheckReport report = slope::gradgradcheck(loss, inputs);
  INFO(name << " (second order): " << report.message());
  CHECK(report.ok);
  Worst& w = worst();
  ++w.second_cases;
  w.second_entries += report.checked;
  w.second_failures += report.failures.size();
  for (const slope::GradEntry& e : report.worst) {
    if (criterion_share(e) > w.second_criterion) {
      w.second_criterion = criterion_share(e);
      w.second_where = name;
    }
    if (std::max(std::abs(e.analytic), std::abs(e.numerical)) > 1e-6)
      w.second_rel_error = std::max(w.second_rel_error, e.rel_error);
  }
}

// Gradchecks one case at the default criterion, for three seeds; the first
// seed's inputs are also gradgradchecked and their two paths compared.
inline void check_case(const OpCase& c) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    slope::Rng rng{hash(c.name) + seed};
    Inputs inputs = draw_inputs(c, rng);
    const Shape out_shape = c.op(inputs).shape();
    const Tensor64 weights = slope::randn<double>(out_shape, rng);
    const auto loss = [&](const Inputs& in) { return slope::sum(c.op(in) * weights); };
    const slope::GradcheckReport report = slope::gradcheck(loss, inputs);
    INFO(c.name << " (seed " << seed << "): " << report.message());
    CHECK(report.ok);
    std::size_t total = 0;
    for (const auto& t : inputs) total += t.size();
    CHECK(report.checked == total);
    ++worst().cases;
    worst().entries += report.checked;
    record_errors(loss, inputs, c.name);
    if (seed == 1) {
      check_paths(loss, inputs, c.name);
      check_second_order(loss, inputs, c.name);
    }
  }
}

inline std::string fmt_g(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

/// The second-order summary line of a table's worst-error case.
inline std::string second_order_summary(const Worst& w) {
  return "second order: " + std::to_string(w.second_cases) + " gradgradchecks over " +
         std::to_string(w.second_entries) + " entries, " + std::to_string(w.second_failures) +
         " failures; closest to the criterion: " + fmt_g(w.second_criterion) + " (" + w.second_where +
         "); worst relative error " + fmt_g(w.second_rel_error) + "; fast and graph first-order paths " +
         "differ by at most " + fmt_g(w.paths) + " relative (" + w.paths_where + ")";
}

// Shape pairs for the broadcasting binary ops.
inline const std::vector<std::pair<std::string, std::vector<Shape>>>& binary_shapes() {
  static const std::vector<std::pair<std::string, std::vector<Shape>>> s = {
      {"scalar, scalar", {{}, {}}},
      {"vector, vector", {{5}, {5}}},
      {"matrix, matrix", {{3, 4}, {3, 4}}},
      {"matrix, row (1, n)", {{3, 4}, {1, 4}}},
      {"matrix, column (m, 1)", {{3, 4}, {3, 1}}},
      {"column, row", {{3, 1}, {1, 4}}},
      {"matrix, lower-rank vector", {{3, 4}, {4}}},
      {"lower-rank vector, matrix", {{4}, {3, 4}}},
      {"matrix, scalar", {{3, 4}, {}}},
      {"scalar, matrix", {{}, {2, 5}}},
      {"3-D, lower-rank column", {{2, 3, 4}, {3, 1}}},
  };
  return s;
}

inline const std::vector<std::pair<std::string, Shape>>& unary_shapes() {
  static const std::vector<std::pair<std::string, Shape>> s = {
      {"scalar", {}}, {"vector", {6}}, {"matrix", {3, 4}}, {"column", {4, 1}}, {"3-D", {2, 3, 2}},
  };
  return s;
}

}  // namespace op_table
