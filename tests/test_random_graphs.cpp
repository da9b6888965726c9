// 1000 seeded random composed graphs (2 to 6 random ops, mixed, broadcasting),
// each gradchecked at the default criterion, and gradgradchecked (second
// derivatives through the recorded backward pass); none may fail. The ops are drawn
// from the whole op set: elementwise, activations, selections, reductions
// and statistics, matmul (2-D, vectors, batches), shape and indexing ops,
// softmax along any axis and the losses as intermediates.
//
// A graph is generated once, against concrete input values, as a program of
// steps; gradcheck then replays the program on perturbed inputs. Generation
// keeps the program inside each op's smooth domain: an op whose input sits near
// a kink (relu, abs, max near-ties), a pole or a non-positive log/sqrt argument
// is redrawn, and large intermediate values are rescaled by a constant.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "slope/gradcheck.hpp"
#include "slope/loss.hpp"
#include "slope/ops.hpp"
#include "slope/tensor.hpp"
#include "reference_gradient.hpp"

using slope::Shape;
using slope::Tensor64;

namespace {

using Pool = std::vector<Tensor64>;
using Step = std::function<Tensor64(const Pool&)>;

constexpr double kink_margin = 1e-3;  // h = 1e-6 moves an intermediate by far less
constexpr double max_magnitude = 4.0;

double max_abs(const Tensor64& t) {
  double m = 0.0;
  for (double v : t.value()) m = std::max(m, std::abs(v));
  return m;
}
double min_abs(const Tensor64& t) {
  double m = INFINITY;
  for (double v : t.value()) m = std::min(m, std::abs(v));
  return m;
}
double min_value(const Tensor64& t) {
  double m = INFINITY;
  for (double v : t.value()) m = std::min(m, v);
  return m;
}

// Smallest gap between the two largest entries along the last axis
// (max is only drawn along axis 0 or the last axis; both are checked this way
// after an optional transpose of the values).
double last_axis_gap(const xt::xarray<double>& a) {
  if (a.dimension() == 0) return INFINITY;
  const std::size_t c = a.shape().back();
  const std::size_t rows = c == 0 ? 0 : a.size() / c;
  double gap = INFINITY;
  for (std::size_t r = 0; r < rows; ++r) {
    std::vector<double> v(a.data() + r * c, a.data() + (r + 1) * c);
    std::sort(v.rbegin(), v.rend());
    if (v.size() > 1) gap = std::min(gap, v[0] - v[1]);
  }
  return gap;
}

// Smallest gap between the two largest entries along `axis`.
double axis_gap(const Tensor64& t, int axis) {
  if (t.dim() == 0) return INFINITY;
  const int a = axis < 0 ? axis + static_cast<int>(t.dim()) : axis;
  if (a + 1 == static_cast<int>(t.dim())) return last_axis_gap(t.value());
  return last_axis_gap(slope::transpose(t).value());  // 2-D, axis 0
}
// Smallest gap between any two entries.
double any_gap(const Tensor64& t) {
  std::vector<double> v(t.value().begin(), t.value().end());
  std::sort(v.begin(), v.end());
  double gap = INFINITY;
  for (std::size_t i = 1; i < v.size(); ++i) gap = std::min(gap, v[i] - v[i - 1]);
  return gap;
}
// Smallest distance of an entry from any of the points.
double distance_to(const Tensor64& t, std::initializer_list<double> points) {
  double d = INFINITY;
  for (double v : t.value())
    for (double p : points) d = std::min(d, std::abs(v - p));
  return d;
}

// How many op kinds try_more_op draws from (the ops beyond the first 24).
constexpr std::size_t kMoreOps = 28;

// How often each op kind made it into a graph (reset by the 1000-graph test).
std::array<std::size_t, 24 + kMoreOps>& kind_counts() {
  static std::array<std::size_t, 24 + kMoreOps> counts{};
  return counts;
}

// A random graph over inputs A (m, n), B and C (each one of the broadcast
// family (m, n), (1, n), (m, 1), (n,), ()) and W (n, n).
class Graph {
 public:
  Graph(std::uint64_t seed, std::size_t& redraws) : rng_(seed), redraws_(redraws) {
    m_ = 1 + rng_.below(4);
    n_ = 1 + rng_.below(4);
    const Shape family[] = {{m_, n_}, {1, n_}, {m_, 1}, {n_}, {}};
    inputs_.push_back(slope::randn<double>({m_, n_}, rng_, 1.0, 0.0, true).set_name("A"));
    inputs_.push_back(slope::randn<double>(family[rng_.below(5)], rng_, 1.0, 0.0, true).set_name("B"));
    inputs_.push_back(slope::randn<double>(family[rng_.below(5)], rng_, 1.0, 0.0, true).set_name("C"));
    inputs_.push_back(slope::randn<double>({n_, n_}, rng_, 0.7, 0.0, true).set_name("W"));
    pool_ = inputs_;
    text_ = fmt::format("m={} n={} A{} B{} C{} W{}", m_, n_, slope::to_string(pool_[0].shape()),
                        slope::to_string(pool_[1].shape()), slope::to_string(pool_[2].shape()),
                        slope::to_string(pool_[3].shape()));
    depth_ = 2 + rng_.below(5);
    for (std::size_t d = 0; d < depth_; ++d) add_random_op();
    add_loss();
  }

  const std::vector<Tensor64>& inputs() const { return inputs_; }
  const std::string& text() const { return text_; }
  std::size_t depth() const { return depth_; }

  // Replays the program on the current values of `inputs`.
  Tensor64 operator()(const std::vector<Tensor64>& inputs) const {
    Pool pool = inputs;
    for (const Step& s : steps_) pool.push_back(s(pool));
    return pool.back();
  }

 private:
  // Appends a step if `accept` likes its value on the generation inputs.
  bool push(const std::string& what, Step step,
            const std::function<bool(const Tensor64&)>& accept = nullptr) {
    Tensor64 v = step(pool_);
    if (accept && !accept(v)) return false;
    text_ += fmt::format("; t{} = {}", pool_.size(), what);
    steps_.push_back(std::move(step));
    pool_.push_back(v);
    return true;
  }
  std::size_t last() const { return pool_.size() - 1; }
  // The operand: usually the latest value, so the graph gets deep.
  std::size_t pick() { return rng_.uniform() < 0.6 ? last() : rng_.below(pool_.size() - 1); }
  std::size_t pick_not_w() {
    std::size_t i = pick();
    return i == 3 ? 0 : i;
  }
  std::string t(std::size_t i) const { return i < 4 ? pool_[i].name() : fmt::format("t{}", i); }
  bool is_full(std::size_t i) const { return pool_[i].shape() == Shape{m_, n_}; }

  // Makes operand i a full (m, n) tensor by broadcasting against zeros.
  std::size_t full(std::size_t i) {
    if (is_full(i)) return i;
    const Tensor64 zeros = slope::zeros<double>({m_, n_});
    push(fmt::format("{} + zeros{}", t(i), slope::to_string(zeros.shape())),
         [i, zeros](const Pool& p) { return p[i] + zeros; });
    return last();
  }

  void rescale_if_large() {
    const double big = max_abs(pool_.back());
    if (big <= max_magnitude) return;
    const double c = 1.0 / big;
    const std::size_t i = last();
    push(fmt::format("{} * {:.3g}", t(i), c), [i, c](const Pool& p) { return p[i] * c; });
  }

  void add_random_op() {
    for (int attempt = 0;; ++attempt) {
      REQUIRE(attempt < 100);
      const std::size_t kind = rng_.below(24 + kMoreOps);
      if (kind < 24 ? try_op(kind) : try_more_op(kind - 24)) {
        ++kind_counts()[kind];
        break;
      }
      ++redraws_;
    }
    rescale_if_large();
  }

  // One op drawn from the mix; false if it does not fit the current values.
  bool try_op(std::size_t kind) {
    const std::size_t i = pick_not_w();
    const std::string x = t(i);
    const double c = std::round(rng_.uniform(-2.0, 2.0) * 8.0) / 8.0 + 0.0625;  // never 0
    switch (kind) {
      case 0: case 1: {  // binary with broadcasting
        const std::size_t j = pick_not_w();
        const std::string y = t(j);
        switch (rng_.below(3)) {
          case 0: return push(x + " + " + y, [i, j](const Pool& p) { return p[i] + p[j]; });
          case 1: return push(x + " - " + y, [i, j](const Pool& p) { return p[i] - p[j]; });
          default: return push(x + " * " + y, [i, j](const Pool& p) { return p[i] * p[j]; });
        }
      }
      case 2: {  // division, away from the pole
        const std::size_t j = pick_not_w();
        if (min_abs(pool_[j]) < 0.3) return false;
        return push(x + " / " + t(j), [i, j](const Pool& p) { return p[i] / p[j]; });
      }
      case 3: return push("-" + x, [i](const Pool& p) { return -p[i]; });
      case 4: return push("exp(" + x + ")", [i](const Pool& p) { return slope::exp(p[i]); });
      case 5:
        if (min_value(pool_[i]) < 0.2) return false;
        return push("log(" + x + ")", [i](const Pool& p) { return slope::log(p[i]); });
      case 6:
        if (min_abs(pool_[i]) < kink_margin) return false;
        return push("relu(" + x + ")", [i](const Pool& p) { return slope::relu(p[i]); });
      case 7:
        if (min_abs(pool_[i]) < kink_margin) return false;
        return push("abs(" + x + ")", [i](const Pool& p) { return slope::abs(p[i]); });
      case 8: return push("square(" + x + ")", [i](const Pool& p) { return slope::square(p[i]); });
      case 9: {
        const double powers[] = {3.0, -1.0, 0.5, 1.5, -0.5};
        const double e = powers[rng_.below(5)];
        if (e != 3.0 && min_value(pool_[i]) < 0.2) return false;
        return push(fmt::format("pow({}, {})", x, e),
                    [i, e](const Pool& p) { return slope::pow(p[i], e); });
      }
      case 10:
        if (min_value(pool_[i]) < 0.2) return false;
        return push("sqrt(" + x + ")", [i](const Pool& p) { return slope::sqrt(p[i]); });
      case 11:
        switch (rng_.below(4)) {
          case 0: return push(fmt::format("{} + {}", x, c), [i, c](const Pool& p) { return p[i] + c; });
          case 1: return push(fmt::format("{} - {}", c, x), [i, c](const Pool& p) { return c - p[i]; });
          case 2: return push(fmt::format("{} * {}", c, x), [i, c](const Pool& p) { return c * p[i]; });
          default: return push(fmt::format("{} / {}", x, c), [i, c](const Pool& p) { return p[i] / c; });
        }
      case 12:
        if (min_abs(pool_[i]) < 0.3) return false;
        return push(fmt::format("{} / {}", c, x), [i, c](const Pool& p) { return c / p[i]; });
      case 13: return push(x + ".clone()", [i](const Pool& p) { return p[i].clone(); });
      case 14:
        if (pool_[i].dim() == 0) return false;
        return push("softmax(" + x + ")", [i](const Pool& p) { return slope::softmax(p[i]); });
      case 15:
        if (pool_[i].dim() == 0) return false;
        return push("log_softmax(" + x + ")", [i](const Pool& p) { return slope::log_softmax(p[i]); });
      case 16: {  // sum or mean along an axis, kept for broadcasting
        if (pool_[i].dim() == 0) return false;
        const int axis = static_cast<int>(rng_.below(pool_[i].dim()));
        if (rng_.uniform() < 0.5)
          return push(fmt::format("sum({}, axis={}, keepdims)", x, axis),
                      [i, axis](const Pool& p) { return slope::sum(p[i], axis, true); });
        return push(fmt::format("mean({}, axis={}, keepdims)", x, axis),
                    [i, axis](const Pool& p) { return slope::mean(p[i], axis, true); });
      }
      case 17: {  // reductions that drop a dimension but stay in the family
        if (is_full(i))
          return push(fmt::format("sum({}, axis=0)", x),
                      [i](const Pool& p) { return slope::sum(p[i], 0); });  // (n,)
        return push(fmt::format("mean({})", x), [i](const Pool& p) { return slope::mean(p[i]); });
      }
      case 18: {  // max along the last axis, or along axis 0 of a matrix
        if (pool_[i].dim() == 0) return false;
        const bool first = pool_[i].dim() == 2 && rng_.uniform() < 0.5;
        const xt::xarray<double> along =
            first ? slope::transpose(pool_[i]).value() : pool_[i].value();
        if (last_axis_gap(along) < kink_margin) return false;
        const int axis = first ? 0 : -1;
        return push(fmt::format("max({}, axis={}, keepdims)", x, axis),
                    [i, axis](const Pool& p) { return slope::max(p[i], axis, true); });
      }
      case 19: {  // matmul with W: (m, n) x (n, n)
        const std::size_t f = full(i);
        return push(fmt::format("matmul({}, W)", t(f)),
                    [f](const Pool& p) { return slope::matmul(p[f], p[3]); });
      }
      case 20: {  // a Gram-like product: x y^T z for full x, y, z -> (m, n)
        const std::size_t a = full(i);
        const std::size_t b = full(pick_not_w());
        const std::size_t g = full(pick_not_w());
        return push(fmt::format("matmul(matmul({}, transpose({})), {}) * {:.3g}", t(a), t(b), t(g),
                                1.0 / (m_ * n_)),
                    [a, b, g, s = 1.0 / (m_ * n_)](const Pool& p) {
                      return slope::matmul(slope::matmul(p[a], slope::transpose(p[b])), p[g]) * s;
                    });
      }
      case 21: {  // reshape to (n, m) and transpose back: entries move around
        const std::size_t f = full(i);
        const Shape nm{n_, m_};
        return push(fmt::format("transpose(reshape({}, (n, m)))", t(f)),
                    [f, nm](const Pool& p) { return slope::transpose(slope::reshape(p[f], nm)); });
      }
      case 22: {  // gather one entry per row, as a column
        const std::size_t f = full(i);
        std::vector<std::int32_t> y(m_);
        for (auto& label : y) label = static_cast<std::int32_t>(rng_.below(n_));
        const Shape col{m_, 1};
        return push(fmt::format("reshape(gather({}, labels), (m, 1))", t(f)),
                    [f, y, col](const Pool& p) {
                      return slope::reshape(slope::gather<double>(p[f], y), col);
                    });
      }
      default: {  // the fused loss as an intermediate: a scalar that broadcasts
        const std::size_t f = full(i);
        std::vector<std::int32_t> y(m_);
        for (auto& label : y) label = static_cast<std::int32_t>(rng_.below(n_));
        return push(fmt::format("softmax_cross_entropy({}, labels)", t(f)),
                    [f, y](const Pool& p) { return slope::softmax_cross_entropy<double>(p[f], y); });
      }
    }
  }

  // The activations, selections, statistics, shape and indexing ops and
  // losses, each drawn inside its smooth domain (kinks, ties and small norms
  // redrawn) and kept inside the (m, n) broadcast family.
  bool try_more_op(std::size_t kind) {
    const std::size_t i = pick_not_w();
    const std::string x = t(i);
    const Tensor64& v = pool_[i];
    const double c = std::round(rng_.uniform(-2.0, 2.0) * 8.0) / 8.0 + 0.0625;  // never 0
    const auto unary = [&](const char* name, Tensor64 (*f)(const Tensor64&)) {
      return push(fmt::format("{}({})", name, x), [i, f](const Pool& p) { return f(p[i]); });
    };
    const auto full_ids = [&](std::size_t count, std::size_t below) {
      std::vector<std::int64_t> ids(count);
      for (auto& id : ids) id = static_cast<std::int64_t>(rng_.below(below));
      return ids;
    };
    switch (kind) {
      case 0: return unary("tanh", slope::tanh<double>);
      case 1: return unary("sigmoid", slope::sigmoid<double>);
      case 2: return unary("softplus", slope::softplus<double>);
      case 3: return unary("log_sigmoid", slope::log_sigmoid<double>);
      case 4: return unary("gelu", slope::gelu<double>);
      case 5: return unary("silu", slope::silu<double>);
      case 6:
        if (min_abs(v) < kink_margin) return false;
        return push(fmt::format("leaky_relu({}, 0.1)", x), [i](const Pool& p) { return slope::leaky_relu(p[i], 0.1); });
      case 7:
        if (min_abs(v) < kink_margin) return false;
        return push(fmt::format("elu({}, 0.7)", x), [i](const Pool& p) { return slope::elu(p[i], 0.7); });
      case 8:
        if (min_value(v) < -0.8) return false;
        return unary("log1p", slope::log1p<double>);
      case 9: return unary("expm1", slope::expm1<double>);
      case 10: {
        const double lo = -std::abs(c), hi = std::abs(c) / 2;
        if (distance_to(v, {lo, hi}) < kink_margin) return false;
        return push(fmt::format("clamp({}, {}, {})", x, lo, hi),
                    [i, lo, hi](const Pool& p) { return slope::clamp(p[i], lo, hi); });
      }
      case 11: case 12: {  // maximum / minimum, or where(x > y, x * c, y), away from ties
        const std::size_t j = pick_not_w();
        if (min_abs(pool_[i] - pool_[j]) < kink_margin) return false;
        const std::string y = t(j);
        if (kind == 12)
          return push(fmt::format("where(gt({}, {}), {} * {}, {})", x, y, x, c, y), [i, j, c](const Pool& p) {
            return slope::where(slope::gt(p[i], p[j]), p[i] * c, p[j]);
          });
        if (rng_.uniform() < 0.5)
          return push(fmt::format("maximum({}, {})", x, y), [i, j](const Pool& p) { return slope::maximum(p[i], p[j]); });
        return push(fmt::format("minimum({}, {})", x, y), [i, j](const Pool& p) { return slope::minimum(p[i], p[j]); });
      }
      case 13: {  // logsumexp along an axis, kept
        if (v.dim() == 0) return false;
        const int axis = static_cast<int>(rng_.below(v.dim()));
        return push(fmt::format("logsumexp({}, axis={}, keepdims)", x, axis),
                    [i, axis](const Pool& p) { return slope::logsumexp(p[i], axis, true); });
      }
      case 14: {  // var or std along an axis with n >= 2, away from a zero spread
        if (v.dim() == 0) return false;
        const int axis = static_cast<int>(rng_.below(v.dim()));
        if (v.shape()[static_cast<std::size_t>(axis)] < 2) return false;
        const slope::VarOptions o{.correction = static_cast<int>(rng_.below(2)), .keepdims = true};
        if (min_value(slope::std(v, axis, o)) < 0.1) return false;
        if (rng_.uniform() < 0.5)
          return push(fmt::format("var({}, axis={}, correction={}, keepdims)", x, axis, o.correction),
                      [i, axis, o](const Pool& p) { return slope::var(p[i], axis, o); });
        return push(fmt::format("std({}, axis={}, correction={}, keepdims)", x, axis, o.correction),
                    [i, axis, o](const Pool& p) { return slope::std(p[i], axis, o); });
      }
      case 15: {  // a norm along an axis, kept, away from its kinks
        if (v.dim() == 0) return false;
        const int axis = static_cast<int>(rng_.below(v.dim()));
        if (rng_.uniform() < 0.5) {
          if (min_value(slope::norm(v, 2.0, axis, true)) < 0.1) return false;
          return push(fmt::format("norm({}, 2, axis={}, keepdims)", x, axis),
                      [i, axis](const Pool& p) { return slope::norm(p[i], 2.0, axis, true); });
        }
        if (min_abs(v) < kink_margin) return false;
        return push(fmt::format("norm({}, 1, axis={}, keepdims)", x, axis),
                    [i, axis](const Pool& p) { return slope::norm(p[i], 1.0, axis, true); });
      }
      case 16: {  // min along an axis, or max/min over every axis, kept
        if (v.dim() == 0) return false;
        if (rng_.uniform() < 0.5) {
          const bool first = v.dim() == 2 && rng_.uniform() < 0.5;
          const int axis = first ? 0 : -1;
          if (axis_gap(-v, axis) < kink_margin) return false;
          return push(fmt::format("min({}, axis={}, keepdims)", x, axis),
                      [i, axis](const Pool& p) { return slope::min(p[i], axis, true); });
        }
        if (any_gap(v) < kink_margin) return false;
        std::vector<int> axes(v.dim());
        for (std::size_t d = 0; d < v.dim(); ++d) axes[d] = static_cast<int>(d);
        if (rng_.uniform() < 0.5)
          return push(fmt::format("max({}, all axes, keepdims)", x),
                      [i, axes](const Pool& p) { return slope::max(p[i], axes, true); });
        return push(fmt::format("min({}, all axes, keepdims)", x),
                    [i, axes](const Pool& p) { return slope::min(p[i], axes, true); });
      }
      case 17: {  // sum or mean over every axis, kept (several-axes reductions)
        if (v.dim() == 0) return false;
        std::vector<int> axes(v.dim());
        for (std::size_t d = 0; d < v.dim(); ++d) axes[d] = static_cast<int>(d);
        return push(fmt::format("mean({}, all axes, keepdims)", x),
                    [i, axes](const Pool& p) { return slope::mean(p[i], axes, true); });
      }
      case 18: {  // entries moved through unsqueeze, a 3-D permute and squeeze, or transposes
        const std::size_t f = full(i);
        if (rng_.uniform() < 0.5)
          return push(fmt::format("squeeze(permute(unsqueeze({}, 2), (2, 0, 1)), 0)", t(f)), [f](const Pool& p) {
            return slope::squeeze(slope::permute(slope::unsqueeze(p[f], 2), {2, 0, 1}), 0);
          });
        const std::size_t g = full(pick_not_w());
        return push(fmt::format("transpose(permute({}, (1, 0)) * transpose({}))", t(f), t(g)), [f, g](const Pool& p) {
          return slope::transpose(slope::permute(p[f], {1, 0}) * slope::transpose(p[g]));
        });
      }
      case 19: {  // expand to (m, n) from any family shape
        const Shape mn{m_, n_};
        return push(fmt::format("expand({}, (m, n))", x), [i, mn](const Pool& p) { return slope::expand(p[i], mn); });
      }
      case 20: {  // split and concat the columns (or rows) in another order; strided slices
        const std::size_t f = full(i);
        if (rng_.uniform() < 0.5) {
          const int axis = n_ >= 2 ? 1 : 0;
          const std::size_t len = axis == 1 ? n_ : m_;
          if (len < 2) return false;
          const std::size_t k = 1 + rng_.below(len - 1);
          return push(fmt::format("concat(split({}, ({}, {}), axis={}) swapped, scaled)", t(f), k, len - k, axis),
                      [f, k, len, axis, c](const Pool& p) {
                        const auto parts = slope::split(p[f], {k, len - k}, axis);
                        return slope::concat({parts[1] * c, parts[0]}, axis);
                      });
        }
        const auto rows = static_cast<std::int64_t>(m_);
        return push(fmt::format("concat(rows 0::2 of {}, rows 1::2)", t(f)), [f, rows](const Pool& p) {
          return slope::concat({slope::slice(p[f], 0, 0, rows, 2), slope::slice(p[f], 0, 1, rows, 2)}, 0);
        });
      }
      case 21: {  // stack with a broadcast partner along a new axis, reduced again
        const std::size_t f = full(i);
        const std::size_t j = pick_not_w();
        const Shape mn{m_, n_};
        return push(fmt::format("sum(stack({}, expand({}), axis=1) * {}, axis=1)", t(f), t(j), c),
                    [f, j, mn, c](const Pool& p) {
                      return slope::sum(slope::stack({p[f], slope::expand(p[j], mn) * c}, 1), 1);
                    });
      }
      case 22: {  // rows picked with repeats, or embedding rows of W
        if (rng_.uniform() < 0.5) {
          const std::size_t f = full(i);
          const std::vector<std::int64_t> ids = full_ids(m_, m_);
          return push(fmt::format("index_select({}, 0, {} random rows)", t(f), m_),
                      [f, ids](const Pool& p) { return slope::index_select<double>(p[f], 0, ids); });
        }
        const std::vector<std::int64_t> flat = full_ids(m_, n_);
        slope::Array<std::int64_t> ids = slope::Array<std::int64_t>::from_shape({m_});
        std::copy(flat.begin(), flat.end(), ids.begin());
        return push(fmt::format("embedding(W, {} random rows)", m_), [ids](const Pool& p) { return slope::embedding(p[3], ids); });
      }
      case 23: {  // matmul of a matrix and a vector (a row of W), or a dot
        const std::size_t f = full(i);
        if (rng_.uniform() < 0.5)
          return push(fmt::format("unsqueeze(matmul({}, W[0]), -1)", t(f)), [f](const Pool& p) {
            return slope::unsqueeze(slope::matmul(p[f], slope::squeeze(slope::narrow(p[3], 0, 0, 1), 0)), -1);
          });
        const auto cols = static_cast<std::int64_t>(n_);
        return push(fmt::format("matmul({}[0], W[:, 0]) (a dot)", t(f)), [f, cols](const Pool& p) {
          const Tensor64 row = slope::reshape(slope::narrow(p[f], 0, 0, 1), {cols});
          return slope::matmul(row, slope::reshape(slope::narrow(p[3], 1, 0, 1), {cols}));
        });
      }
      case 24: {  // batched matmul: a stack of two against W, or against a stack of two Ws
        const std::size_t f = full(i);
        const std::size_t g = full(pick_not_w());
        if (rng_.uniform() < 0.5)
          return push(fmt::format("mean(matmul(stack({}, {}), W), axis=0)", t(f), t(g)), [f, g](const Pool& p) {
            return slope::mean(slope::matmul(slope::stack({p[f], p[g]}), p[3]), 0);
          });
        return push(fmt::format("sum(matmul(stack({}, {}), stack(W, W * {})), axis=0)", t(f), t(g), c),
                    [f, g, c](const Pool& p) {
                      return slope::sum(slope::matmul(slope::stack({p[f], p[g]}), slope::stack({p[3], p[3] * c})), 0);
                    });
      }
      case 25: {  // softmax or log_softmax along the first axis
        if (v.dim() == 0) return false;
        if (rng_.uniform() < 0.5)
          return push(fmt::format("softmax({}, axis=0)", x), [i](const Pool& p) { return slope::softmax(p[i], 0); });
        return push(fmt::format("log_softmax({}, axis=0)", x), [i](const Pool& p) { return slope::log_softmax(p[i], 0); });
      }
      case 26: {  // a reshape through a flat -1 and back
        const std::size_t f = full(i);
        const auto rows = static_cast<std::int64_t>(m_);
        return push(fmt::format("reshape(reshape({}, (-1,)) * {}, (m, -1))", t(f), c), [f, rows, c](const Pool& p) {
          return slope::reshape(slope::reshape(p[f], {-1}) * c, {rows, -1});
        });
      }
      default: {  // a loss as an intermediate (a scalar that broadcasts)
        const std::size_t j = pick_not_w();
        const Shape s = v.shape();
        slope::Array<double> target = slope::Array<double>::from_shape(s);
        for (double& e : target) e = rng_.uniform();  // in [0, 1), a valid binary target too
        const Tensor64 y(target);
        switch (rng_.below(4)) {
          case 0: return push(fmt::format("mse({}, target)", x), [i, y](const Pool& p) { return slope::mse(p[i], y); });
          case 1:
            if (distance_to(v - y, {-0.5, 0.5}) < kink_margin) return false;
            return push(fmt::format("huber({}, target, 0.5)", x), [i, y](const Pool& p) { return slope::huber(p[i], y, 0.5); });
          case 2:
            return push(fmt::format("bce_with_logits({}, target)", x),
                        [i, y](const Pool& p) { return slope::bce_with_logits(p[i], y); });
          default: {
            const std::size_t f = full(j);
            std::vector<std::int32_t> labels(m_);
            for (auto& label : labels) label = static_cast<std::int32_t>(rng_.below(n_));
            return push(fmt::format("nll(log_softmax({}), labels)", t(f)),
                        [f, labels](const Pool& p) { return slope::nll(slope::log_softmax(p[f]), labels); });
          }
        }
      }
    }
  }

  // The scalar at the root: a weighted sum of the last value, plus sometimes
  // a softmax cross-entropy of it, plus a touch of every input so each one
  // has a gradient to check.
  void add_loss() {
    const std::size_t i = last();
    const Tensor64 r = slope::randn<double>(pool_[i].shape(), rng_);
    const double touch = 0.25;
    const bool with_ce = rng_.uniform() < 0.3;
    std::vector<std::int32_t> y(m_);
    for (auto& label : y) label = static_cast<std::int32_t>(rng_.below(n_));
    const Tensor64 zeros = slope::zeros<double>({m_, n_});
    push(fmt::format("sum({} * R){} + {} * sum of mean squares of the inputs", t(i),
                     with_ce ? fmt::format(" + softmax_cross_entropy({}, labels)", t(i)) : "", touch),
         [i, r, with_ce, y, zeros, touch](const Pool& p) {
           Tensor64 loss = slope::sum(p[i] * r);
           if (with_ce) loss = loss + slope::softmax_cross_entropy<double>(p[i] + zeros, y);
           for (std::size_t k = 0; k < 4; ++k) loss = loss + touch * slope::mean(slope::square(p[k]));
           return loss;
         });
  }

  slope::Rng rng_;
  std::size_t& redraws_;
  std::size_t m_ = 1, n_ = 1, depth_ = 0;
  std::vector<Tensor64> inputs_;
  Pool pool_;
  std::vector<Step> steps_;
  std::string text_;
};

// Per-entry errors the report does not list, against an independent
// reference (reference_gradient.hpp: not gradcheck's own difference again):
// relative error where the gradient is not negligible, and the share of the
// allowed error used.
struct Errors {
  double rel = 0.0, criterion = 0.0;
};

Errors entry_errors(const Graph& g) {
  const slope::GradcheckOptions defaults;
  std::vector<Tensor64> inputs = g.inputs();
  for (Tensor64& x : inputs) x.zero_grad();
  g(inputs).backward();
  Errors e;
  for (Tensor64& x : inputs) {
    const xt::xarray<double> analytic = x.grad();
    const auto f = [&](const xt::xarray<double>& v) {
      xt::xarray<double> saved = x.value();
      x.mutable_value() = v;
      slope::NoGradGuard no_grad;
      const double r = g(inputs).item();
      x.mutable_value() = std::move(saved);
      return r;
    };
    const xt::xarray<double> numerical = slope::testing::reference_gradient(f, x.value());
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double a = analytic.data()[i], n = numerical.data()[i];
      const double diff = std::abs(a - n), scale = std::max(std::abs(a), std::abs(n));
      if (scale > 1e-6) e.rel = std::max(e.rel, diff / scale);
      e.criterion = std::max(e.criterion, diff / (defaults.atol + defaults.rtol * std::abs(n)));
    }
  }
  return e;
}

}  // namespace

TEST_CASE("1000 seeded random composed graphs pass gradcheck with no failure", "[gradcheck][random]") {
  constexpr std::uint64_t graphs = 1000;
  std::size_t failures = 0, entries = 0, redraws = 0;
  std::size_t depth_count[7] = {};
  Errors worst;
  std::string worst_graph;
  kind_counts().fill(0);
  for (std::uint64_t seed = 0; seed < graphs; ++seed) {
    const Graph g(seed, redraws);
    ++depth_count[g.depth()];
    const slope::GradcheckReport r = slope::gradcheck(std::cref(g), g.inputs());
    entries += r.checked;
    if (!r.ok) {
      ++failures;
      FAIL_CHECK("graph " << seed << " failed: " << r.message() << "\n  " << g.text());
    }
    const Errors e = entry_errors(g);
    if (e.rel > worst.rel) worst_graph = fmt::format("graph {}: {}", seed, g.text());
    worst.rel = std::max(worst.rel, e.rel);
    worst.criterion = std::max(worst.criterion, e.criterion);
  }
  CHECK(failures == 0);
  CHECK(entries > 10 * graphs);
  CHECK(worst.criterion <= 1.0);
  for (std::size_t d = 2; d <= 6; ++d) CHECK(depth_count[d] > 100);  // every depth is exercised
  for (std::size_t k = 0; k < kind_counts().size(); ++k) {  // and every op kind
    INFO("op kind " << k);
    CHECK(kind_counts()[k] >= 5);
  }
  WARN(fmt::format(
      "random graphs: {} graphs, {} entries checked, {} failures, {} ops redrawn near a kink "
      "or outside their domain; worst relative error {:.3g} (entries with |gradient| > 1e-6), "
      "closest to the criterion {:.3g} of the allowed error; worst graph: {}",
      graphs, entries, failures, redraws, worst.rel, worst.criterion, worst_graph));
}

TEST_CASE("1000 seeded random composed graphs pass gradgradcheck with no failure", "[gradcheck][random][second]") {
  // The same graphs, differentiated twice: a gradcheck of each graph's
  // gradient function (random grad_outputs), which goes through every op's
  // differentiable backward and then the fast backward of the ops it recorded.
  constexpr std::uint64_t graphs = 1000;
  std::size_t failures = 0, entries = 0, redraws = 0;
  double worst = 0.0, worst_rel = 0.0;
  std::string worst_graph;
  kind_counts().fill(0);
  for (std::uint64_t seed = 0; seed < graphs; ++seed) {
    const Graph g(seed, redraws);
    const slope::GradcheckReport r = slope::gradgradcheck(std::cref(g), g.inputs(), {.seed = seed});
    entries += r.checked;
    if (!r.ok) {
      ++failures;
      FAIL_CHECK("graph " << seed << " failed the second-order check: " << r.message() << "\n  " << g.text());
    }
    const slope::GradcheckOptions defaults;
    for (const slope::GradEntry& e : r.worst) {
      const double share = std::abs(e.analytic - e.numerical) / (defaults.atol + defaults.rtol * std::abs(e.numerical));
      if (share > worst) worst = share, worst_graph = fmt::format("graph {}: {}", seed, g.text());
      if (std::max(std::abs(e.analytic), std::abs(e.numerical)) > 1e-6) worst_rel = std::max(worst_rel, e.rel_error);
    }
  }
  CHECK(failures == 0);
  CHECK(entries > 10 * graphs);
  for (std::size_t k = 0; k < kind_counts().size(); ++k) {  // every op kind, differentiated twice
    INFO("op kind " << k);
    CHECK(kind_counts()[k] >= 5);
  }
  WARN(fmt::format("random graphs, second order: {} graphs, {} entries checked, {} failures; worst relative "
                   "error {:.3g} (entries above 1e-6), closest to the criterion {:.3g} of the allowed error; "
                   "that graph: {}",
                   graphs, entries, failures, worst_rel, worst, worst_graph));
}

TEST_CASE("random graphs are a deterministic function of the seed", "[gradcheck][random]") {
  std::size_t redraws = 0;
  const Graph a(123, redraws), b(123, redraws), c(124, redraws);
  CHECK(a.text() == b.text());
  CHECK(a.text() != c.text());
  const double va = a(a.inputs()).item(), vb = b(b.inputs()).item();
  CHECK(va == vb);
}
