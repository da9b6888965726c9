// Finite-difference gradient checking.
#include "slope/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>
#include <xtensor/xbuilder.hpp>

#include "gradcheck_support.hpp"
#include "slope/ops.hpp"

namespace slope {

xt::xarray<double> numerical_gradient(const std::function<double(const xt::xarray<double>&)>& f,
                                      xt::xarray<double> x, double h) {
  if (!(h > 0.0)) throw ValueError(fmt::format("numerical_gradient: step h must be > 0, got {}", h));
  xt::xarray<double> g = xt::zeros<double>(x.shape());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double old = x.data()[i];
    x.data()[i] = old + h;
    const double up = f(x);
    x.data()[i] = old - h;
    const double down = f(x);
    x.data()[i] = old;
    g.data()[i] = (up - down) / (2.0 * h);  // centred: error O(h^2)
  }
  return g;
}

namespace {

Shape unravel(std::size_t flat, const Shape& shape) {
  Shape index(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return index;
}

void clear_grad(const Tensor64& t) {
  t.node()->grad = detail::empty_array<double>();
  t.node()->grad_graph.reset();
  t.node()->has_grad = false;
}

// f's value at the current inputs. A gradient check evaluates without a
// graph; a check of second derivatives needs one inside f (it differentiates).
double evaluate(const std::function<Tensor64(const std::vector<Tensor64>&)>& f,
                const std::vector<Tensor64>& inputs, bool with_graph) {
  if (with_graph) return f(inputs).item();
  NoGradGuard no_grad;
  return f(inputs).item();
}

// Entries of an input to check: all of them, or a seeded random sample.
std::vector<std::size_t> entries_to_check(std::size_t size, const GradcheckOptions& o, Rng& rng) {
  std::vector<std::size_t> all(size);
  std::iota(all.begin(), all.end(), std::size_t{0});
  if (o.max_entries_per_input == 0 || o.max_entries_per_input >= size) return all;
  rng.shuffle(all.begin(), all.end());
  all.resize(o.max_entries_per_input);
  std::sort(all.begin(), all.end());
  return all;
}

}  // namespace

double GradcheckReport::max_rel_error() const {
  double m = 0.0;
  for (const auto& e : worst) m = std::max(m, e.rel_error);
  return m;
}

std::string GradcheckReport::message() const {
  const auto label = [](const GradEntry& e) {
    return e.name.empty() ? fmt::format("input {}", e.input)
                          : fmt::format("input {} ({})", e.input, e.name);
  };
  if (ok)
    return fmt::format("gradcheck ok: {} entries, worst relative error {:.1e}", checked,
                       max_rel_error());
  std::string text;
  for (const auto& e : worst) {
    if (e.ok) continue;
    if (!text.empty()) text += '\n';
    text += fmt::format("gradient mismatch for {} at {}: numerical {:.4g}, analytic {:.4g}, "
                        "relative error {:.1e}",
                        label(e), to_string(e.index), e.numerical, e.analytic, e.rel_error);
  }
  return text;
}

namespace detail {

GradcheckReport compare_with_differences(const std::function<Tensor64(const std::vector<Tensor64>&)>& f,
                                         const std::vector<Tensor64>& inputs, const GradcheckOptions& o,
                                         bool graph_in_f) {
  if (!(o.h > 0.0) || o.atol < 0.0 || o.rtol < 0.0)
    throw ValueError(fmt::format("gradcheck: need h > 0, atol >= 0, rtol >= 0; got h {}, "
                                 "atol {}, rtol {}", o.h, o.atol, o.rtol));
  for (const auto& t : inputs) clear_grad(t);
  Tensor64 out = f(inputs);
  if (out.size() != 1)
    throw ShapeError(fmt::format("gradcheck: f must return one entry, got shape {}",
                                 to_string(out.shape())));
  if (!out.requires_grad())
    throw Error("gradcheck: no input requires a gradient, so there is nothing to check");
  out.backward();

  GradcheckReport report;
  Rng rng(o.seed);
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    Tensor64 x = inputs[k];
    if (!x.requires_grad()) continue;
    const xt::xarray<double> analytic = x.has_grad()
                                            ? xt::xarray<double>(x.grad())
                                            : xt::xarray<double>(xt::zeros<double>(x.value().shape()));
    GradEntry worst;
    double worst_excess = -1.0;
    for (std::size_t i : entries_to_check(x.size(), o, rng)) {
      double& v = x.mutable_value().data()[i];
      const double old = v;
      v = old + o.h;
      const double up = evaluate(f, inputs, graph_in_f);
      v = old - o.h;
      const double down = evaluate(f, inputs, graph_in_f);
      v = old;
      GradEntry e{k, x.name(), {}, analytic.data()[i], (up - down) / (2.0 * o.h), 0.0, true};
      const double diff = std::abs(e.analytic - e.numerical);
      const double scale = std::max(std::abs(e.analytic), std::abs(e.numerical));
      e.rel_error = scale > 0.0 ? diff / scale : 0.0;
      const double allowed = o.atol + o.rtol * std::abs(e.numerical);
      e.ok = diff <= allowed;  // NaN fails
      const double excess = allowed > 0.0 ? diff / allowed : (diff > 0.0 ? INFINITY : 0.0);
      ++report.checked;
      if (!e.ok || std::isnan(excess) || excess > worst_excess) {
        e.index = unravel(i, x.shape());
        if (!e.ok) report.failures.push_back(e);
        if (std::isnan(excess) || excess > worst_excess || (!e.ok && worst.ok)) {
          worst_excess = std::isnan(excess) ? INFINITY : excess;
          worst = e;
        }
      }
    }
    if (!worst.ok) report.ok = false;
    report.worst.push_back(worst);
  }
  for (const auto& t : inputs) clear_grad(t);
  return report;
}

}  // namespace detail

GradcheckReport gradcheck(const std::function<Tensor64(const std::vector<Tensor64>&)>& f,
                          const std::vector<Tensor64>& inputs, const GradcheckOptions& o) {
  return detail::compare_with_differences(f, inputs, o, false);
}

}  // namespace slope
