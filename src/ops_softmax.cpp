// softmax and log_softmax (fast along the last axis, through permute along
// any other), the fused softmax cross-entropy loss, and gathering one entry
// per row. Rows are independent, so every loop splits over rows when there
// are enough of them.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.hpp"
#include "op_support.hpp"
#include "slope/ops.hpp"
#include "slope/runtime.hpp"

namespace slope {

using detail::grad_target;
using detail::GraphGrad;
using detail::in;
using detail::make_result;
using detail::new_array;
using detail::Node;

namespace {

// (rows, C) view of x along its last axis.
template <class T>
std::pair<std::size_t, std::size_t> rows_cols(const TensorT<T>& x, const char* op) {
  if (x.dim() == 0)
    throw ShapeError(fmt::format("{}: expects at least 1 dimension: x is ()", op));
  const std::size_t c = x.shape().back();
  return {c == 0 ? 0 : x.size() / c, c};
}

// Rows per part of a row loop: enough rows for about kElementwiseGrain entries.
std::size_t row_grain(std::size_t c) {
  return std::max<std::size_t>(1, detail::kElementwiseGrain / std::max<std::size_t>(1, 4 * c));
}

Array<std::int32_t> copy_labels(std::span<const std::int32_t> labels) {
  Array<std::int32_t> y = new_array<std::int32_t>(Shape{labels.size()});
  std::copy(labels.begin(), labels.end(), y.data());
  return y;
}

template <class T>
TensorT<T> softmax_last(const TensorT<T>& x) {
  const auto [rows, c] = rows_cols(x, "softmax");
  Array<T> p = new_array<T>(x.value().shape());
  detail::parallel_for(rows, row_grain(c), [&, c = c](std::size_t lo, std::size_t hi) {
    for (std::size_t r = lo; r < hi; ++r) {
      const T* xr = x.data() + r * c;
      const double lse = detail::log_sum_exp(xr, c);
      for (std::size_t j = 0; j < c; ++j)
        p.data()[r * c + j] = static_cast<T>(std::exp(static_cast<double>(xr[j]) - lse));
    }
  });
  return detail::reads_no_inputs(make_result<T>("softmax", std::move(p), {&x}, {[](Node<T>& out) {
    // dx = p * (g - sum(g * p)) row by row: the loop here, the same product
    // with ops in the differentiable form below.
    const std::size_t c = out.value.shape().back();
    const std::size_t rows = c == 0 ? 0 : out.value.size() / c;
    const detail::GradTarget<T> t = grad_target(in(out, 0));
    detail::parallel_for(rows, row_grain(c), [&](std::size_t lo, std::size_t hi) {
      for (std::size_t r = lo; r < hi; ++r) {
        const T* pr = out.value.data() + r * c;
        const T* gr = out.grad.data() + r * c;
        T* dst = t.data + r * c;
        T dot = T(0);
        for (std::size_t j = 0; j < c; ++j) dot += gr[j] * pr[j];
        for (std::size_t j = 0; j < c; ++j) {
          const T share = pr[j] * (gr[j] - dot);
          dst[j] = t.fresh ? share : dst[j] + share;
        }
      }
    });
  }, [](GraphGrad<T>& c) {
    const TensorT<T> p = c.output();
    c.add(0, p * (c.g - sum(c.g * p, -1, true)));
  }}));
}

template <class T>
TensorT<T> log_softmax_last(const TensorT<T>& x) {
  const auto [rows, c] = rows_cols(x, "log_softmax");
  Array<T> y = new_array<T>(x.value().shape());
  detail::parallel_for(rows, row_grain(c), [&, c = c](std::size_t lo, std::size_t hi) {
    for (std::size_t r = lo; r < hi; ++r) {
      const T* xr = x.data() + r * c;
      const double lse = detail::log_sum_exp(xr, c);
      for (std::size_t j = 0; j < c; ++j)
        y.data()[r * c + j] = static_cast<T>(static_cast<double>(xr[j]) - lse);
    }
  });
  return detail::reads_no_inputs(make_result<T>("log_softmax", std::move(y), {&x}, {[](Node<T>& out) {
    // dx = g - softmax(x) * sum(g), with softmax(x) = exp(output): the loop
    // here, the same expression with ops in the differentiable form below.
    const std::size_t c = out.value.shape().back();
    const std::size_t rows = c == 0 ? 0 : out.value.size() / c;
    const detail::GradTarget<T> t = grad_target(in(out, 0));
    detail::parallel_for(rows, row_grain(c), [&](std::size_t lo, std::size_t hi) {
      for (std::size_t r = lo; r < hi; ++r) {
        const T* yr = out.value.data() + r * c;
        const T* gr = out.grad.data() + r * c;
        T* dst = t.data + r * c;
        T total = T(0);
        for (std::size_t j = 0; j < c; ++j) total += gr[j];
        for (std::size_t j = 0; j < c; ++j) {
          const T share = gr[j] - std::exp(yr[j]) * total;
          dst[j] = t.fresh ? share : dst[j] + share;
        }
      }
    });
  }, [](GraphGrad<T>& c) { c.add(0, c.g - exp(c.output()) * sum(c.g, -1, true)); }}));
}

// The permutations that move `axis` of an ndim-array to the end, and back.
std::pair<std::vector<int>, std::vector<int>> axis_to_last(std::size_t ndim, std::size_t axis) {
  std::vector<int> to_last, back(ndim);
  for (std::size_t d = 0; d < ndim; ++d)
    if (d != axis) to_last.push_back(static_cast<int>(d));
  to_last.push_back(static_cast<int>(axis));
  for (std::size_t d = 0; d < ndim; ++d) back[static_cast<std::size_t>(to_last[d])] = static_cast<int>(d);
  return {to_last, back};
}

// f along the last axis (the fast path), or, for another axis, with that axis
// moved to the end and back: two permutes, and the formula stays in one place.
template <class T, class F>
TensorT<T> along_axis(const TensorT<T>& x, int axis, const char* op, F last) {
  if (x.dim() == 0) throw ShapeError(fmt::format("{}: expects at least 1 dimension: x is ()", op));
  const std::size_t a = detail::normalize_axis(axis, x.dim(), op, x.shape());
  if (a + 1 == x.dim()) return last(x);
  const auto [to_last, back] = axis_to_last(x.dim(), a);
  return permute(last(permute(x, to_last)), back);
}

}  // namespace

namespace detail {

void check_labels(std::span<const std::int32_t> labels, std::size_t n, std::size_t c,
                  const char* op, const char* operand, const Shape& shape) {
  if (labels.size() != n)
    throw ShapeError(fmt::format("{}: {} labels for {} rows: {} is {}", op, labels.size(), n,
                                 operand, to_string(shape)));
  for (std::size_t i = 0; i < n; ++i)
    if (labels[i] < 0 || static_cast<std::size_t>(labels[i]) >= c)
      throw ValueError(fmt::format("{}: label {} at row {} is outside [0, {})", op, labels[i], i, c));
}

}  // namespace detail

template <class T>
TensorT<T> softmax(const TensorT<T>& x, int axis) {
  return along_axis(x, axis, "softmax", [](const TensorT<T>& v) { return softmax_last(v); });
}

template <class T>
TensorT<T> log_softmax(const TensorT<T>& x, int axis) {
  return along_axis(x, axis, "log_softmax", [](const TensorT<T>& v) { return log_softmax_last(v); });
}

template <class T>
TensorT<T> softmax_cross_entropy(const TensorT<T>& scores, std::span<const std::int32_t> labels) {
  constexpr const char* op = "softmax_cross_entropy";
  if (scores.dim() != 2)
    throw ShapeError(fmt::format("{}: scores must be 2-D (N, C): scores is {}", op,
                                 to_string(scores.shape())));
  const std::size_t n = scores.shape()[0], c = scores.shape()[1];
  if (n == 0 || c == 0)
    throw ShapeError(fmt::format("{}: empty batch or no classes: scores is {}", op,
                                 to_string(scores.shape())));
  detail::check_labels(labels, n, c, op, "scores", scores.shape());
  // L = 1/N sum_i (log sum_j exp(s_ij) - s_iy). The row log-sum-exps are kept
  // (in double) for backward, where p = exp(s - lse) is rebuilt without a
  // second max pass; per-part loss sums are added in part order.
  detail::Saved<T> saved;
  saved.wide = new_array<double>(Shape{n});
  saved.index = copy_labels(labels);
  double* lse = saved.wide.data();
  const std::int32_t* y = saved.index.data();
  double partial[kMaxThreads] = {};
  detail::parallel_for_parts(n, row_grain(c), [&](std::size_t part, std::size_t lo, std::size_t hi) {
    double total = 0.0;
    for (std::size_t i = lo; i < hi; ++i) {
      const T* row = scores.data() + i * c;
      lse[i] = detail::log_sum_exp(row, c);
      total += lse[i] - static_cast<double>(row[y[i]]);
    }
    partial[part] = total;
  });
  double total = 0.0;
  for (double p : partial) total += p;
  return make_result<T>(
      op, Array<T>(static_cast<T>(total / static_cast<double>(n))), {&scores},
      {[](Node<T>& out) {
        // dL/ds = (p - onehot(y)) / N, scaled by the incoming gradient: the
        // loop (p from the saved lse) here, the same with the softmax op below.
        const Node<T>& s = in(out, 0);
        const std::size_t n = s.value.shape()[0], c = s.value.shape()[1];
        const T scale = out.grad() / static_cast<T>(n);
        const double* lse = out.saved.wide.data();
        const std::int32_t* y = out.saved.index.data();
        const detail::GradTarget<T> t = grad_target(in(out, 0));
        detail::parallel_for(n, row_grain(c), [&](std::size_t lo, std::size_t hi) {
          for (std::size_t i = lo; i < hi; ++i) {
            const T* row = s.value.data() + i * c;
            T* dst = t.data + i * c;
            for (std::size_t j = 0; j < c; ++j) {
              T share = static_cast<T>(std::exp(static_cast<double>(row[j]) - lse[i])) * scale;
              if (static_cast<std::int32_t>(j) == y[i]) share -= scale;
              dst[j] = t.fresh ? share : dst[j] + share;
            }
          }
        });
      }, [](GraphGrad<T>& c) {
        const Shape shape = c.input_shape(0);
        Array<T> onehot = new_array<T>(shape);
        onehot.fill(T(0));
        const std::int32_t* y = c.out.saved.index.data();
        for (std::size_t i = 0; i < shape[0]; ++i) onehot.data()[i * shape[1] + static_cast<std::size_t>(y[i])] = T(1);
        c.add(0, (softmax(c.input(0)) - TensorT<T>(std::move(onehot))) * (c.g / static_cast<T>(shape[0])));
      }},
      std::move(saved));
}

template <class T>
TensorT<T> gather(const TensorT<T>& x, std::span<const std::int32_t> labels) {
  if (x.dim() != 2)
    throw ShapeError(fmt::format("gather: x must be 2-D (N, C): x is {}", to_string(x.shape())));
  const std::size_t n = x.shape()[0], c = x.shape()[1];
  detail::check_labels(labels, n, c, "gather", "x", x.shape());
  Array<T> r = new_array<T>(Shape{n});
  for (std::size_t i = 0; i < n; ++i) r.data()[i] = x.data()[i * c + labels[i]];
  detail::Saved<T> saved;
  saved.index = copy_labels(labels);
  return detail::reads_no_inputs(make_result<T>("gather", std::move(r), {&x}, {[](Node<T>& out) {
    // Each row's gradient goes to the gathered column; the rest get 0.
    const std::size_t c = in(out, 0).value.shape()[1];
    const T* g = out.grad.data();
    const std::int32_t* y = out.saved.index.data();
    detail::write_share(grad_target(in(out, 0)), in(out, 0).value.size(), [g, y, c](std::size_t f) {
      return static_cast<std::size_t>(y[f / c]) == f % c ? g[f / c] : T(0);
    });
  }, [](GraphGrad<T>& c) {
    // gather is index_select of entries i C + y_i of the flat x; its adjoint
    // is the scatter-add of g into those entries (detail::index_add).
    const Shape shape = c.input_shape(0);
    const std::int32_t* y = c.out.saved.index.data();
    std::vector<std::int64_t> flat(shape[0]);
    for (std::size_t i = 0; i < shape[0]; ++i) flat[i] = static_cast<std::int64_t>(i * shape[1] + static_cast<std::size_t>(y[i]));
    c.add(0, reshape(detail::index_add(c.g, 0, flat, shape[0] * shape[1]), shape));
  }}, std::move(saved)));
}

#define SLOPE_INSTANTIATE(T)                                                                     \
  template TensorT<T> softmax<T>(const TensorT<T>&, int);                                        \
  template TensorT<T> log_softmax<T>(const TensorT<T>&, int);                                    \
  template TensorT<T> softmax_cross_entropy<T>(const TensorT<T>&, std::span<const std::int32_t>); \
  template TensorT<T> gather<T>(const TensorT<T>&, std::span<const std::int32_t>);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope
