// Gathering rows (or slices along any axis) by index: index_select, a
// primitive whose backward scatter-adds (an index used twice gets both
// shares), and embedding, a composite of it.
#include <algorithm>
#include <climits>

#include "op_support.hpp"
#include "slope/ops.hpp"

namespace slope {

using detail::AxisSplit;
using detail::grad_target;
using detail::in;
using detail::make_result;
using detail::new_array;
using detail::Node;
using detail::split_at;

namespace {

// Every index in [0, n), or ValueError "<op>: index i at position p is outside [0, n)<where>".
void check_indices(std::span<const std::int64_t> indices, std::size_t n, const char* op, const std::string& where) {
  for (std::size_t p = 0; p < indices.size(); ++p)
    if (indices[p] < 0 || static_cast<std::uint64_t>(indices[p]) >= n)
      throw ValueError(fmt::format("{}: index {} at position {} is outside [0, {}){}", op, indices[p], p, n, where));
}

}  // namespace

template <class T>
TensorT<T> index_select(const TensorT<T>& x, int axis, std::span<const std::int64_t> indices) {
  const Shape shape = x.shape();
  const std::size_t a = detail::normalize_axis(axis, shape.size(), "index_select", shape);
  check_indices(indices, shape[a], "index_select",
                fmt::format(" for axis {}: x is {}", axis, to_string(shape)));
  if (shape[a] > static_cast<std::size_t>(INT32_MAX))
    throw ShapeError("index_select: the indexed axis is too long: x is " + to_string(shape));
  const AxisSplit s = split_at(shape, a);
  const std::size_t m = indices.size();
  Shape out_shape = shape;
  out_shape[a] = m;
  detail::Saved<T> saved;
  saved.index = new_array<std::int32_t>(Shape{m});
  std::int32_t* idx = saved.index.data();
  for (std::size_t j = 0; j < m; ++j) idx[j] = static_cast<std::int32_t>(indices[j]);
  Array<T> r = new_array<T>(out_shape);
  const T* src = x.data();
  T* dst = r.data();
  for (std::size_t o = 0; o < s.outer; ++o)
    for (std::size_t j = 0; j < m; ++j)
      std::copy_n(src + (o * s.n + static_cast<std::size_t>(idx[j])) * s.inner, s.inner, dst + (o * m + j) * s.inner);
  return detail::reads_no_inputs(make_result<T>("index_select", std::move(r), {&x}, [a](Node<T>& out) {
    // Scatter-add: x's slice idx[j] gets g's slice j, for every j (repeats add up).
    Node<T>& x = in(out, 0);
    const AxisSplit s = split_at(x.value.shape(), a);
    const std::size_t m = out.saved.index.size();
    const std::int32_t* idx = out.saved.index.data();
    const T* g = out.grad.data();
    const detail::GradTarget<T> t = grad_target(x);
    if (t.fresh) std::fill(t.data, t.data + x.value.size(), T(0));
    // Parallel over the outer blocks: each writes its own part of x's gradient.
    detail::parallel_for(s.outer, std::max<std::size_t>(1, detail::kElementwiseGrain / std::max<std::size_t>(1, m * s.inner)),
                         [&](std::size_t lo, std::size_t hi) {
                           for (std::size_t o = lo; o < hi; ++o)
                             for (std::size_t j = 0; j < m; ++j) {
                               T* __restrict d = t.data + (o * s.n + static_cast<std::size_t>(idx[j])) * s.inner;
                               const T* __restrict src = g + (o * m + j) * s.inner;
                               for (std::size_t i = 0; i < s.inner; ++i) d[i] += src[i];
                             }
                         });
  }, std::move(saved)));
}

template <class T>
TensorT<T> embedding(const TensorT<T>& weight, const Array<std::int64_t>& indices) {
  detail::OpName name_scope("embedding");  // report as the op the user called
  if (weight.dim() != 2)
    throw ShapeError(fmt::format("embedding: weight must be 2-D (V, D): weight is {}", to_string(weight.shape())));
  const std::span<const std::int64_t> flat(indices.data(), indices.size());
  check_indices(flat, weight.shape()[0], "embedding", ": weight is " + to_string(weight.shape()));
  // Rows of weight, one per index, in the indices' shape: (..., D).
  Shape shape(indices.shape().begin(), indices.shape().end());
  shape.push_back(weight.shape()[1]);
  return reshape(index_select(weight, 0, flat), shape);
}

#define SLOPE_INSTANTIATE(T)                                                                  \
  template TensorT<T> index_select<T>(const TensorT<T>&, int, std::span<const std::int64_t>); \
  template TensorT<T> embedding<T>(const TensorT<T>&, const Array<std::int64_t>&);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope
