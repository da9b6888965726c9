// Gathering rows (or slices along any axis) by index: index_select, a
// primitive whose backward scatter-adds (an index used twice gets both
// shares), its adjoint index_add (a primitive whose backward is
// index_select), and embedding, a composite of index_select. The gather and
// the scatter-add loops are each written once and serve both primitives.
#include <algorithm>
#include <climits>

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
using detail::split_at;

namespace {

// Every index in [0, n), or ValueError "<op>: index i at position p is outside [0, n)<where>".
void check_indices(std::span<const std::int64_t> indices, std::size_t n, const char* op, const std::string& where) {
  for (std::size_t p = 0; p < indices.size(); ++p)
    if (indices[p] < 0 || static_cast<std::uint64_t>(indices[p]) >= n)
      throw ValueError(fmt::format("{}: index {} at position {} is outside [0, {}){}", op, indices[p], p, n, where));
}

// The indices as int32 (saved with the result); the caller checked the range.
Array<std::int32_t> saved_indices(std::span<const std::int64_t> indices) {
  Array<std::int32_t> idx = new_array<std::int32_t>(Shape{indices.size()});
  for (std::size_t j = 0; j < indices.size(); ++j) idx.data()[j] = static_cast<std::int32_t>(indices[j]);
  return idx;
}

// dst (outer, m, inner) = src (outer, n, inner) at slices idx[0..m), or += when accumulating.
template <class T>
void gather_slices(const T* src, const AxisSplit& s, const std::int32_t* idx, std::size_t m, T* dst, bool accumulate) {
  for (std::size_t o = 0; o < s.outer; ++o)
    for (std::size_t j = 0; j < m; ++j) {
      const T* from = src + (o * s.n + static_cast<std::size_t>(idx[j])) * s.inner;
      T* to = dst + (o * m + j) * s.inner;
      if (accumulate) for (std::size_t i = 0; i < s.inner; ++i) to[i] += from[i];
      else std::copy_n(from, s.inner, to);
    }
}

// dst (outer, n, inner) += g (outer, m, inner) slice j into slice idx[j]
// (repeats add up). Parallel over the outer blocks: each writes its own part.
template <class T>
void scatter_add_slices(const T* g, const AxisSplit& s, const std::int32_t* idx, std::size_t m, T* dst) {
  detail::parallel_for(s.outer, std::max<std::size_t>(1, detail::kElementwiseGrain / std::max<std::size_t>(1, m * s.inner)),
                       [&](std::size_t lo, std::size_t hi) {
                         for (std::size_t o = lo; o < hi; ++o)
                           for (std::size_t j = 0; j < m; ++j) {
                             T* __restrict d = dst + (o * s.n + static_cast<std::size_t>(idx[j])) * s.inner;
                             const T* __restrict src = g + (o * m + j) * s.inner;
                             for (std::size_t i = 0; i < s.inner; ++i) d[i] += src[i];
                           }
                       });
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
  Shape out_shape = shape;
  out_shape[a] = indices.size();
  detail::Saved<T> saved;
  saved.index = saved_indices(indices);
  Array<T> r = new_array<T>(out_shape);
  gather_slices(x.data(), split_at(shape, a), saved.index.data(), indices.size(), r.data(), false);
  return detail::reads_no_inputs(make_result<T>("index_select", std::move(r), {&x}, {[a](Node<T>& out) {
    // Scatter-add: x's slice idx[j] gets g's slice j, for every j (repeats add up).
    Node<T>& x = in(out, 0);
    const detail::GradTarget<T> t = grad_target(x);
    if (t.fresh) std::fill(t.data, t.data + x.value.size(), T(0));
    scatter_add_slices(out.grad.data(), split_at(x.value.shape(), a), out.saved.index.data(),
                       out.saved.index.size(), t.data);
  }, [a](GraphGrad<T>& c) {
    const std::span<const std::int32_t> idx(c.out.saved.index.data(), c.out.saved.index.size());
    const std::vector<std::int64_t> wide(idx.begin(), idx.end());
    c.add(0, detail::index_add(c.g, static_cast<int>(a), wide, c.input_shape(0)[a]));
  }}, std::move(saved)));
}

namespace detail {

template <class T>
TensorT<T> index_add(const TensorT<T>& g, int axis, std::span<const std::int64_t> indices, std::size_t n) {
  const Shape gs = g.shape();
  const std::size_t a = normalize_axis(axis, gs.size(), "index_add", gs);
  if (gs[a] != indices.size())
    throw ShapeError(fmt::format("index_add: {} indices for {} slices: g is {}", indices.size(), gs[a], to_string(gs)));
  check_indices(indices, n, "index_add", "");
  Shape shape = gs;
  shape[a] = n;
  Saved<T> saved;
  saved.index = saved_indices(indices);
  Array<T> r = new_array<T>(shape);
  r.fill(T(0));
  scatter_add_slices(g.data(), split_at(shape, a), saved.index.data(), indices.size(), r.data());
  return reads_no_inputs(make_result<T>("index_add", std::move(r), {&g}, {[a](Node<T>& out) {
    // The adjoint of a scatter-add is the gather: g's slice j gets slice idx[j].
    const GradTarget<T> t = grad_target(in(out, 0));
    gather_slices(out.grad.data(), split_at(out.value.shape(), a), out.saved.index.data(), out.saved.index.size(),
                  t.data, !t.fresh);
  }, [a](GraphGrad<T>& c) {
    const std::vector<std::int64_t> wide(c.out.saved.index.begin(), c.out.saved.index.end());
    c.add(0, index_select(c.g, static_cast<int>(a), wide));
  }}, std::move(saved)));
}

}  // namespace detail

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
  template TensorT<T> detail::index_add<T>(const TensorT<T>&, int, std::span<const std::int64_t>, std::size_t); \
  template TensorT<T> embedding<T>(const TensorT<T>&, const Array<std::int64_t>&);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope
