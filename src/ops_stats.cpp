// Reductions beyond sum and max along one axis: min (as -max(-x)); sum, mean,
// max and min over several axes or all entries (one axis at a time, from the
// last); logsumexp and the 2-norm (primitives); var, std and the 1-norm
// (composites); argmax and argmin (indices, outside the graph).
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.hpp"
#include "op_support.hpp"
#include "slope/ops.hpp"

namespace slope {

using detail::AxisSplit;
using detail::grad_target;
using detail::GraphGrad;
using detail::in;
using detail::make_result;
using detail::new_array;
using detail::Node;
using detail::normalize_axis;
using detail::split_axis;
using detail::write_share;

namespace {

// "(1,)", "(0, -1)": axes as a Python tuple.
std::string axes_text(const std::vector<int>& axes) {
  if (axes.size() == 1) return fmt::format("({},)", axes[0]);
  return fmt::format("({})", fmt::join(axes, ", "));
}

// The axes normalised and sorted from last to first, so that reducing one
// (with keepdims) leaves the numbers of the others unchanged; ShapeError if
// one is out of range or named twice.
std::vector<std::size_t> checked_axes(const std::vector<int>& axes, const Shape& shape, const char* op) {
  std::vector<std::size_t> r;
  for (int a : axes) r.push_back(normalize_axis(a, shape.size(), op, shape));
  std::sort(r.rbegin(), r.rend());
  if (std::adjacent_find(r.begin(), r.end()) != r.end())
    throw ShapeError(fmt::format("{}: axes {} name an axis twice: x is {}", op, axes_text(axes),
                                 to_string(shape)));
  return r;
}

// reduce(r, axis) (keeping the axis) applied over `axes`, last axis first;
// then the reduced axes are dropped unless keepdims. No axes: a copy of x.
template <class T, class F>
TensorT<T> over_axes(const TensorT<T>& x, const std::vector<std::size_t>& axes, bool keepdims, F reduce) {
  if (axes.empty()) return x.clone();
  TensorT<T> r = x;
  for (std::size_t a : axes) r = reduce(r, static_cast<int>(a));
  if (keepdims) return r;
  Shape kept;
  for (std::size_t d = 0; d < x.dim(); ++d)
    if (std::find(axes.begin(), axes.end(), d) == axes.end()) kept.push_back(x.shape()[d]);
  return reshape(r, kept);
}

void require_nonempty(const Shape& shape, const std::vector<std::size_t>& axes, const char* op) {
  for (std::size_t a : axes)
    if (shape[a] == 0) throw ShapeError(fmt::format("{}: reduced axis is empty: x is {}", op, to_string(shape)));
}

// n - correction > 0 entries of freedom, or ValueError.
void check_correction(const char* op, int correction, std::size_t n, const std::string& where,
                      const Shape& shape) {
  if (correction < 0) throw ValueError(fmt::format("{}: correction must be >= 0: got {}", op, correction));
  if (n <= static_cast<std::size_t>(correction))
    throw ValueError(fmt::format("{}: correction {} needs more than {} entries, got {}{}: x is {}", op,
                                 correction, correction, n, where, to_string(shape)));
}

void check_p(const char* op, double p) {
  if (p != 1.0 && p != 2.0) throw ValueError(fmt::format("{}: p must be 1 or 2: got {}", op, p));
}

// The first best entry along an axis, as indices of the reduced shape.
template <class T, class Better>
Array<std::int64_t> arg_best(const TensorT<T>& x, int axis, bool keepdims, const char* op, Better better) {
  const Shape shape = x.shape();
  Shape reduced;
  const AxisSplit s = split_axis(shape, normalize_axis(axis, shape.size(), op, shape), keepdims, reduced);
  if (s.n == 0) throw ShapeError(fmt::format("{}: reduced axis is empty: x is {}", op, to_string(shape)));
  Array<std::int64_t> index = new_array<std::int64_t>(reduced);
  detail::first_best(x.data(), s, index.data(), better);
  return index;
}

// ||x||_2 along an axis: m sqrt(sum (x / m)^2) with m = max |x| (no overflow
// of the squares), 0 for an all-zero or empty slice.
template <class T>
TensorT<T> norm2(const TensorT<T>& x, int axis, bool keepdims) {
  const Shape shape = x.shape();
  Shape reduced;
  const AxisSplit s = split_axis(shape, normalize_axis(axis, shape.size(), "norm", shape), keepdims, reduced);
  Array<T> r = new_array<T>(reduced);
  const T* src = x.data();
  for (std::size_t o = 0; o < s.outer; ++o)
    for (std::size_t i = 0; i < s.inner; ++i) {
      const T* slice = src + o * s.n * s.inner + i;
      double m = 0.0;
      for (std::size_t j = 0; j < s.n; ++j) m = std::max(m, std::abs(static_cast<double>(slice[j * s.inner])));
      double total = 0.0;
      if (m > 0.0 && std::isfinite(m))
        for (std::size_t j = 0; j < s.n; ++j) {
          const double v = static_cast<double>(slice[j * s.inner]) / m;
          total += v * v;
        }
      r.data()[o * s.inner + i] = static_cast<T>(m > 0.0 && std::isfinite(m) ? m * std::sqrt(total) : m);
    }
  return make_result<T>("norm", std::move(r), {&x}, {[s](Node<T>& out) {
    // d ||x|| = x / ||x|| g (detail::norm_grad), entry by entry.
    const T* g = out.grad.data();
    const T* nrm = out.value.data();
    const T* v = in(out, 0).value.data();
    write_share(grad_target(in(out, 0)), s.outer * s.n * s.inner, [g, nrm, v, s](std::size_t f) {
      const std::size_t k = (f / (s.n * s.inner)) * s.inner + f % s.inner;
      return detail::norm_grad(v[f], nrm[k], g[k]);
    });
  }, [s](GraphGrad<T>& c) {  // the same formula on (outer, n, inner) tensors, the norm broadcast
    const TensorT<T> x3 = reshape(c.input(0), Shape{s.outer, s.n, s.inner});
    const TensorT<T> share = detail::norm_grad(x3, detail::along_reduced_axis(c.output(), s),
                                               detail::along_reduced_axis(c.g, s));
    c.add(0, reshape(share, c.input_shape(0)));
  }});
}

}  // namespace

template <class T>
TensorT<T> min(const TensorT<T>& x, int axis, bool keepdims) {
  detail::OpName name_scope("min");  // report as the op the user called
  const Shape shape = x.shape();
  require_nonempty(shape, {normalize_axis(axis, shape.size(), "min", shape)}, "min");
  return neg(max(neg(x), axis, keepdims));  // the gradient goes to the first minimal entry
}

template <class T>
TensorT<T> sum(const TensorT<T>& x, const std::vector<int>& axes, bool keepdims) {
  return over_axes(x, checked_axes(axes, x.shape(), "sum"), keepdims,
                   [](const TensorT<T>& r, int a) { return sum(r, a, true); });
}

template <class T>
TensorT<T> mean(const TensorT<T>& x, const std::vector<int>& axes, bool keepdims) {
  detail::OpName name_scope("mean");  // report as the op the user called
  const std::vector<std::size_t> checked = checked_axes(axes, x.shape(), "mean");
  require_nonempty(x.shape(), checked, "mean");
  std::size_t count = 1;
  for (std::size_t a : checked) count *= x.shape()[a];
  return mul_scalar(sum(x, axes, keepdims), T(1) / static_cast<T>(count));
}

template <class T>
TensorT<T> max(const TensorT<T>& x, const std::vector<int>& axes, bool keepdims) {
  const std::vector<std::size_t> checked = checked_axes(axes, x.shape(), "max");
  require_nonempty(x.shape(), checked, "max");
  // Last axis first: ties go to the first maximal entry in row-major order.
  return over_axes(x, checked, keepdims, [](const TensorT<T>& r, int a) { return max(r, a, true); });
}

template <class T>
TensorT<T> min(const TensorT<T>& x, const std::vector<int>& axes, bool keepdims) {
  detail::OpName name_scope("min");  // report as the op the user called
  const std::vector<std::size_t> checked = checked_axes(axes, x.shape(), "min");
  require_nonempty(x.shape(), checked, "min");
  return neg(max(neg(x), axes, keepdims));
}

template <class T>
TensorT<T> max(const TensorT<T>& x) {
  if (x.size() == 0) throw ShapeError("max: tensor is empty: x is " + to_string(x.shape()));
  return max(reshape(x, Shape{x.size()}), 0);  // ties: the first in row-major order
}

template <class T>
TensorT<T> min(const TensorT<T>& x) {
  detail::OpName name_scope("min");  // report as the op the user called
  if (x.size() == 0) throw ShapeError("min: tensor is empty: x is " + to_string(x.shape()));
  return neg(max(neg(x)));
}

template <class T>
TensorT<T> logsumexp(const TensorT<T>& x, int axis, bool keepdims) {
  const Shape shape = x.shape();
  Shape reduced;
  const AxisSplit s =
      split_axis(shape, normalize_axis(axis, shape.size(), "logsumexp", shape), keepdims, reduced);
  // lse per slice, kept in double for backward (see detail::log_sum_exp).
  detail::Saved<T> saved;
  saved.wide = new_array<double>(Shape{s.outer * s.inner});
  double* lse = saved.wide.data();
  Array<T> r = new_array<T>(reduced);
  const T* src = x.data();
  detail::parallel_for(s.outer, std::max<std::size_t>(1, detail::kElementwiseGrain / std::max<std::size_t>(1, s.n * s.inner)),
                       [&](std::size_t lo, std::size_t hi) {
                         for (std::size_t o = lo; o < hi; ++o)
                           for (std::size_t i = 0; i < s.inner; ++i) {
                             const std::size_t k = o * s.inner + i;
                             lse[k] = detail::log_sum_exp(src + o * s.n * s.inner + i, s.n, s.inner);
                             r.data()[k] = static_cast<T>(lse[k]);
                           }
                       });
  return make_result<T>("logsumexp", std::move(r), {&x}, {[s](Node<T>& out) {
    // d lse = softmax(x) g (detail::logsumexp_grad), in double against the saved lse.
    const T* g = out.grad.data();
    const double* lse = out.saved.wide.data();
    const T* v = in(out, 0).value.data();
    write_share(grad_target(in(out, 0)), s.outer * s.n * s.inner, [g, lse, v, s](std::size_t f) {
      const std::size_t k = (f / (s.n * s.inner)) * s.inner + f % s.inner;
      return static_cast<T>(detail::logsumexp_grad(static_cast<double>(v[f]), lse[k], static_cast<double>(g[k])));
    });
  }, [s](GraphGrad<T>& c) {  // the same formula on tensors, against the output (differentiable)
    const TensorT<T> x3 = reshape(c.input(0), Shape{s.outer, s.n, s.inner});
    const TensorT<T> share = detail::logsumexp_grad(x3, detail::along_reduced_axis(c.output(), s),
                                                    detail::along_reduced_axis(c.g, s));
    c.add(0, reshape(share, c.input_shape(0)));
  }}, std::move(saved));
}

template <class T>
TensorT<T> logsumexp(const TensorT<T>& x) {
  return logsumexp(reshape(x, Shape{x.size()}), 0);
}

template <class T>
TensorT<T> var(const TensorT<T>& x, VarOptions o) {
  detail::OpName name_scope("var");  // report as the op the user called
  check_correction("var", o.correction, x.size(), "", x.shape());
  // sum((x - mean)^2) / (n - correction)
  return sum_squares(x - mean(x)) / static_cast<T>(x.size() - static_cast<std::size_t>(o.correction));
}

template <class T>
TensorT<T> var(const TensorT<T>& x, int axis, VarOptions o) {
  detail::OpName name_scope("var");  // report as the op the user called
  const Shape shape = x.shape();
  const std::size_t n = shape[normalize_axis(axis, shape.size(), "var", shape)];
  check_correction("var", o.correction, n, fmt::format(" along axis {}", axis), shape);
  const TensorT<T> d = x - mean(x, axis, true);
  return sum(square(d), axis, o.keepdims) / static_cast<T>(n - static_cast<std::size_t>(o.correction));
}

template <class T>
TensorT<T> std(const TensorT<T>& x, VarOptions o) {
  detail::OpName name_scope("std");  // report as the op the user called
  check_correction("std", o.correction, x.size(), "", x.shape());
  // ||x - mean|| / sqrt(n - correction): the norm's gradient is 0 at 0, so a
  // constant x has gradient 0, not 0 / 0.
  return norm(x - mean(x), 2.0) /
         static_cast<T>(std::sqrt(static_cast<double>(x.size() - static_cast<std::size_t>(o.correction))));
}

template <class T>
TensorT<T> std(const TensorT<T>& x, int axis, VarOptions o) {
  detail::OpName name_scope("std");  // report as the op the user called
  const Shape shape = x.shape();
  const std::size_t n = shape[normalize_axis(axis, shape.size(), "std", shape)];
  check_correction("std", o.correction, n, fmt::format(" along axis {}", axis), shape);
  return norm(x - mean(x, axis, true), 2.0, axis, o.keepdims) /
         static_cast<T>(std::sqrt(static_cast<double>(n - static_cast<std::size_t>(o.correction))));
}

template <class T>
TensorT<T> norm(const TensorT<T>& x, double p) {
  detail::OpName name_scope("norm");  // report as the op the user called
  check_p("norm", p);
  if (p == 1.0) return sum_abs(x);
  return norm2(reshape(x, Shape{x.size()}), 0, false);
}

template <class T>
TensorT<T> norm(const TensorT<T>& x, double p, int axis, bool keepdims) {
  detail::OpName name_scope("norm");  // report as the op the user called
  check_p("norm", p);
  if (p == 1.0) {
    normalize_axis(axis, x.dim(), "norm", x.shape());
    return sum(abs(x), axis, keepdims);
  }
  return norm2(x, axis, keepdims);
}

template <class T>
Array<std::int64_t> argmax(const TensorT<T>& x, int axis, bool keepdims) {
  return arg_best(x, axis, keepdims, "argmax", [](T a, T b) { return a > b; });
}

template <class T>
Array<std::int64_t> argmin(const TensorT<T>& x, int axis, bool keepdims) {
  return arg_best(x, axis, keepdims, "argmin", [](T a, T b) { return a < b; });
}

#define SLOPE_INSTANTIATE(T)                                                            \
  template TensorT<T> min<T>(const TensorT<T>&, int, bool);                             \
  template TensorT<T> sum<T>(const TensorT<T>&, const std::vector<int>&, bool);         \
  template TensorT<T> mean<T>(const TensorT<T>&, const std::vector<int>&, bool);        \
  template TensorT<T> max<T>(const TensorT<T>&, const std::vector<int>&, bool);         \
  template TensorT<T> min<T>(const TensorT<T>&, const std::vector<int>&, bool);         \
  template TensorT<T> max<T>(const TensorT<T>&);                                        \
  template TensorT<T> min<T>(const TensorT<T>&);                                        \
  template TensorT<T> logsumexp<T>(const TensorT<T>&, int, bool);                       \
  template TensorT<T> logsumexp<T>(const TensorT<T>&);                                  \
  template TensorT<T> var<T>(const TensorT<T>&, VarOptions);                            \
  template TensorT<T> var<T>(const TensorT<T>&, int, VarOptions);                       \
  template TensorT<T> std<T>(const TensorT<T>&, VarOptions);                            \
  template TensorT<T> std<T>(const TensorT<T>&, int, VarOptions);                       \
  template TensorT<T> norm<T>(const TensorT<T>&, double);                               \
  template TensorT<T> norm<T>(const TensorT<T>&, double, int, bool);                    \
  template Array<std::int64_t> argmax<T>(const TensorT<T>&, int, bool);                 \
  template Array<std::int64_t> argmin<T>(const TensorT<T>&, int, bool);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope
