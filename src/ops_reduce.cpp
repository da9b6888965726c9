// Reductions: sum and mean over everything or along an axis, max along an axis.
// An axis splits the array into (outer, n, inner) blocks; loops run over those.
#include <algorithm>

#include "op_support.hpp"
#include "slope/ops.hpp"

namespace slope {

using detail::accumulate_grad;
using detail::in;
using detail::make_result;
using detail::Node;

namespace {

struct AxisSplit {
  std::size_t outer = 1, n = 1, inner = 1;
  Shape reduced;  // shape of the result
};

AxisSplit split_axis(const Shape& shape, std::size_t axis, bool keepdims) {
  AxisSplit s;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (d < axis) s.outer *= shape[d];
    if (d > axis) s.inner *= shape[d];
    if (d != axis) s.reduced.push_back(shape[d]);
    else if (keepdims) s.reduced.push_back(1);
  }
  s.n = shape[axis];
  return s;
}

// The gradient of a reduced array, copied back along the reduced axis.
template <class T>
xt::xarray<T> expand_along(const xt::xarray<T>& g, const Shape& shape, const AxisSplit& s) {
  xt::xarray<T> r = xt::xarray<T>::from_shape(shape);
  T* dst = r.data();
  for (std::size_t o = 0; o < s.outer; ++o)
    for (std::size_t j = 0; j < s.n; ++j)
      std::copy_n(g.data() + o * s.inner, s.inner, dst + (o * s.n + j) * s.inner);
  return r;
}

}  // namespace

template <class T>
TensorT<T> sum(const TensorT<T>& x) {
  T total = T(0);
  for (T v : x.value()) total += v;
  return make_result<T>("sum", xt::xarray<T>(total), {&x}, [](Node<T>& out) {
    xt::xarray<T> g = xt::xarray<T>::from_shape(in(out, 0).value.shape());
    g.fill(out.grad());
    accumulate_grad(in(out, 0), std::move(g));
  });
}

template <class T>
TensorT<T> sum(const TensorT<T>& x, int axis, bool keepdims) {
  const Shape shape = x.shape();
  const AxisSplit s = split_axis(shape, detail::normalize_axis(axis, shape.size(), "sum", shape),
                                 keepdims);
  xt::xarray<T> r = xt::zeros<T>(s.reduced);
  const T* src = x.data();
  for (std::size_t o = 0; o < s.outer; ++o)
    for (std::size_t j = 0; j < s.n; ++j)
      for (std::size_t i = 0; i < s.inner; ++i)
        r.data()[o * s.inner + i] += src[(o * s.n + j) * s.inner + i];
  return make_result<T>("sum", std::move(r), {&x}, [s](Node<T>& out) {
    accumulate_grad(in(out, 0),
                    expand_along(out.grad, detail::shape_of(in(out, 0).value), s));
  });
}

template <class T>
TensorT<T> mean(const TensorT<T>& x) {
  if (x.size() == 0) throw ShapeError("mean: tensor is empty: x is " + to_string(x.shape()));
  return mul_scalar(sum(x), T(1) / static_cast<T>(x.size()));
}

template <class T>
TensorT<T> mean(const TensorT<T>& x, int axis, bool keepdims) {
  const Shape shape = x.shape();
  const std::size_t n = shape[detail::normalize_axis(axis, shape.size(), "mean", shape)];
  if (n == 0) throw ShapeError("mean: reduced axis is empty: x is " + to_string(shape));
  return mul_scalar(sum(x, axis, keepdims), T(1) / static_cast<T>(n));
}

template <class T>
TensorT<T> max(const TensorT<T>& x, int axis, bool keepdims) {
  const Shape shape = x.shape();
  const AxisSplit s = split_axis(shape, detail::normalize_axis(axis, shape.size(), "max", shape),
                                 keepdims);
  if (s.n == 0) throw ShapeError("max: reduced axis is empty: x is " + to_string(shape));
  xt::xarray<T> r = xt::xarray<T>::from_shape(s.reduced);
  std::vector<std::size_t> arg(s.outer * s.inner);  // position j of the first maximum
  const T* src = x.data();
  for (std::size_t o = 0; o < s.outer; ++o)
    for (std::size_t i = 0; i < s.inner; ++i) {
      std::size_t best = 0;
      for (std::size_t j = 1; j < s.n; ++j)
        if (src[(o * s.n + j) * s.inner + i] > src[(o * s.n + best) * s.inner + i]) best = j;
      arg[o * s.inner + i] = best;
      r.data()[o * s.inner + i] = src[(o * s.n + best) * s.inner + i];
    }
  return make_result<T>("max", std::move(r), {&x}, [s, arg = std::move(arg)](Node<T>& out) {
    // The gradient flows to the maximal entry only.
    xt::xarray<T> g = xt::zeros<T>(in(out, 0).value.shape());
    for (std::size_t o = 0; o < s.outer; ++o)
      for (std::size_t i = 0; i < s.inner; ++i)
        g.data()[(o * s.n + arg[o * s.inner + i]) * s.inner + i] = out.grad.data()[o * s.inner + i];
    accumulate_grad(in(out, 0), std::move(g));
  });
}

#define SLOPE_INSTANTIATE(T)                                        \
  template TensorT<T> sum<T>(const TensorT<T>&);                    \
  template TensorT<T> sum<T>(const TensorT<T>&, int, bool);         \
  template TensorT<T> mean<T>(const TensorT<T>&);                   \
  template TensorT<T> mean<T>(const TensorT<T>&, int, bool);        \
  template TensorT<T> max<T>(const TensorT<T>&, int, bool);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope
