// Reductions: sum and mean over everything or along an axis, max along an
// axis, and the regularizers' fused sums of squares and absolute values.
// An axis splits the array into (outer, n, inner) blocks; loops run over those.
// Sums over everything accumulate in double, in blocks of fixed size per
// thread, combined in a fixed order: the same input gives the same bits.
#include <algorithm>
#include <climits>

#include "kernels.hpp"
#include "op_support.hpp"
#include "simd.hpp"
#include "slope/ops.hpp"
#include "slope/runtime.hpp"

namespace slope {

using detail::accumulate_grad;
using detail::AxisSplit;
using detail::split_axis;
using detail::grad_target;
using detail::GraphGrad;
using detail::in;
using detail::make_result;
using detail::new_array;
using detail::Node;
using detail::write_share;

namespace {

// sum over i of f(x, i0, i1) for the n entries of x, in parallel parts whose
// partial sums (double) are added in part order.
template <class T, class F>
double parallel_sum(const T* x, std::size_t n, F&& part_sum) {
  const std::size_t grain = detail::kElementwiseGrain;
  const std::size_t parts = detail::parallel_part_count(n, grain);
  if (parts <= 1) return part_sum(x, n);
  double partial[kMaxThreads] = {};
  detail::parallel_for_parts(n, grain, [&](std::size_t t, std::size_t lo, std::size_t hi) {
    partial[t] = part_sum(x + lo, hi - lo);
  });
  double total = 0.0;
  for (std::size_t p = 0; p < parts; ++p) total += partial[p];
  return total;
}

// Entry f of an array split by s, and the entry of the reduction it feeds.
inline std::size_t reduced_index(const AxisSplit& s, std::size_t f) {
  return (f / (s.n * s.inner)) * s.inner + f % s.inner;
}
// Whether entry f is the maximum that max along the axis picked (arg: per reduced entry).
inline bool is_argmax(const std::int32_t* arg, const AxisSplit& s, std::size_t f) {
  return static_cast<std::size_t>(arg[reduced_index(s, f)]) == (f / s.inner) % s.n;
}

}  // namespace

template <class T>
TensorT<T> sum(const TensorT<T>& x) {
  const double total = parallel_sum(x.data(), x.size(), [](const T* p, std::size_t n) {
    return detail::simd_sum(p, n, [](auto v) { return v; }, [](T v) { return v; });
  });
  return detail::reads_no_inputs(make_result<T>("sum", Array<T>(static_cast<T>(total)), {&x}, {[](Node<T>& out) {
    const T g = out.grad();
    write_share(grad_target(in(out, 0)), in(out, 0).value.size(), [g](std::size_t) { return g; });
  }, [](GraphGrad<T>& c) { c.add(0, expand(c.g, c.input_shape(0))); }}));  // sum's adjoint: broadcast
}

template <class T>
TensorT<T> sum_squares(const TensorT<T>& x) {
  const double total = parallel_sum(x.data(), x.size(), [](const T* p, std::size_t n) {
    return detail::sum_squares(p, n);
  });
  return make_result<T>("sum_squares", Array<T>(static_cast<T>(total)), {&x}, {[](Node<T>& out) {
    // d sum x^2 = 2 x g, straight into x's gradient.
    const T g = out.grad();
    const T* v = in(out, 0).value.data();
    write_share(grad_target(in(out, 0)), in(out, 0).value.size(),
                [g, v](std::size_t i) { return detail::square_grad(v[i], g); });
  }, [](GraphGrad<T>& c) { c.add(0, detail::square_grad(c.input(0), c.g)); }});  // g broadcasts
}

template <class T>
TensorT<T> sum_abs(const TensorT<T>& x) {
  const double total = parallel_sum(x.data(), x.size(), [](const T* p, std::size_t n) {
    return detail::sum_abs(p, n);
  });
  return make_result<T>("sum_abs", Array<T>(static_cast<T>(total)), {&x}, {[](Node<T>& out) {
    // d sum |x| = sign(x) g.
    const T g = out.grad();
    const T* v = in(out, 0).value.data();
    write_share(grad_target(in(out, 0)), in(out, 0).value.size(),
                [g, v](std::size_t i) { return detail::abs_grad(v[i], g); });
  }, [](GraphGrad<T>& c) { c.add(0, detail::abs_grad(c.input(0), c.g)); }});
}

template <class T>
TensorT<T> sum(const TensorT<T>& x, int axis, bool keepdims) {
  const Shape shape = x.shape();
  Shape reduced;
  const AxisSplit s =
      split_axis(shape, detail::normalize_axis(axis, shape.size(), "sum", shape), keepdims, reduced);
  Array<T> r = new_array<T>(reduced);
  r.fill(T(0));
  const T* src = x.data();
  T* dst = r.data();
  // Parallel over the outer blocks: each output entry is summed by one thread,
  // in the order of the axis.
  detail::parallel_for(s.outer, std::max<std::size_t>(1, detail::kElementwiseGrain / std::max<std::size_t>(1, s.n * s.inner)),
                       [&](std::size_t lo, std::size_t hi) {
                         for (std::size_t o = lo; o < hi; ++o)
                           for (std::size_t j = 0; j < s.n; ++j)
                             for (std::size_t i = 0; i < s.inner; ++i)
                               dst[o * s.inner + i] += src[(o * s.n + j) * s.inner + i];
                       });
  return detail::reads_no_inputs(make_result<T>("sum", std::move(r), {&x}, {[s](Node<T>& out) {
    // The gradient of each output entry is copied back along the reduced axis.
    const T* g = out.grad.data();
    write_share(grad_target(in(out, 0)), s.outer * s.n * s.inner, [g, s](std::size_t f) {
      return g[(f / (s.n * s.inner)) * s.inner + f % s.inner];
    });
  }, [s](GraphGrad<T>& c) {  // the same copy as an op: expand along the axis
    c.add(0, reshape(expand(detail::along_reduced_axis(c.g, s), Shape{s.outer, s.n, s.inner}), c.input_shape(0)));
  }}));
}

template <class T>
TensorT<T> mean(const TensorT<T>& x) {
  detail::OpName name_scope("mean");  // report as the op the user called
  if (x.size() == 0) throw ShapeError("mean: tensor is empty: x is " + to_string(x.shape()));
  return mul_scalar(sum(x), T(1) / static_cast<T>(x.size()));
}

template <class T>
TensorT<T> mean(const TensorT<T>& x, int axis, bool keepdims) {
  detail::OpName name_scope("mean");  // report as the op the user called
  const Shape shape = x.shape();
  const std::size_t n = shape[detail::normalize_axis(axis, shape.size(), "mean", shape)];
  if (n == 0) throw ShapeError("mean: reduced axis is empty: x is " + to_string(shape));
  return mul_scalar(sum(x, axis, keepdims), T(1) / static_cast<T>(n));
}

template <class T>
TensorT<T> max(const TensorT<T>& x, int axis, bool keepdims) {
  const Shape shape = x.shape();
  Shape reduced;
  const AxisSplit s =
      split_axis(shape, detail::normalize_axis(axis, shape.size(), "max", shape), keepdims, reduced);
  if (s.n == 0) throw ShapeError("max: reduced axis is empty: x is " + to_string(shape));
  if (s.n > static_cast<std::size_t>(INT32_MAX))
    throw ShapeError("max: reduced axis is too long: x is " + to_string(shape));
  Array<T> r = new_array<T>(reduced);
  Array<std::int32_t> arg = new_array<std::int32_t>(reduced);  // position j of the first maximum
  detail::first_best(x.data(), s, arg.data(), [](T a, T b) { return a > b; });
  for (std::size_t o = 0; o < s.outer; ++o)
    for (std::size_t i = 0; i < s.inner; ++i)
      r.data()[o * s.inner + i] = x.data()[(o * s.n + arg.data()[o * s.inner + i]) * s.inner + i];
  detail::Saved<T> saved;
  saved.index = std::move(arg);
  return make_result<T>("max", std::move(r), {&x}, {[s](Node<T>& out) {
    // The gradient flows to the maximal entry only.
    const T* g = out.grad.data();
    const std::int32_t* arg = out.saved.index.data();
    write_share(grad_target(in(out, 0)), s.outer * s.n * s.inner, [g, arg, s](std::size_t f) {
      return is_argmax(arg, s, f) ? g[reduced_index(s, f)] : T(0);
    });
  }, [s](GraphGrad<T>& c) {
    // The same routing as an op: a constant 0/1 mask of the maximal entries times g.
    Array<T> mask = new_array<T>(Shape{s.outer, s.n, s.inner});
    const std::int32_t* arg = c.out.saved.index.data();
    for (std::size_t f = 0; f < mask.size(); ++f) mask.data()[f] = is_argmax(arg, s, f) ? T(1) : T(0);
    c.add(0, reshape(TensorT<T>(std::move(mask)) * detail::along_reduced_axis(c.g, s), c.input_shape(0)));
  }}, std::move(saved));
}

#define SLOPE_INSTANTIATE(T)                                        \
  template TensorT<T> sum<T>(const TensorT<T>&);                    \
  template TensorT<T> sum<T>(const TensorT<T>&, int, bool);         \
  template TensorT<T> sum_squares<T>(const TensorT<T>&);            \
  template TensorT<T> sum_abs<T>(const TensorT<T>&);                \
  template TensorT<T> mean<T>(const TensorT<T>&);                   \
  template TensorT<T> mean<T>(const TensorT<T>&, int, bool);        \
  template TensorT<T> max<T>(const TensorT<T>&, int, bool);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope
