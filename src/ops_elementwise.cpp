// Elementwise ops. Binary ops broadcast like NumPy; their backward closures
// hand full-shape gradients to accumulate_grad, which sums them back down.
#include <algorithm>
#include <cmath>

#include <xtensor/xbroadcast.hpp>

#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

#include "op_support.hpp"
#include "slope/ops.hpp"

namespace slope {

using detail::accumulate_grad;
using detail::in;
using detail::make_result;
using detail::Node;

namespace {

// True when b's entries repeat along the leading dimensions of a: b's shape,
// after dropping leading 1s, is a suffix of a's (a bias row against a batch).
template <class T>
bool is_trailing_block(const xt::xarray<T>& a, const xt::xarray<T>& b) {
  std::size_t lead = 0;
  while (lead < b.dimension() && b.shape()[lead] == 1) ++lead;
  const std::size_t rank = b.dimension() - lead;
  if (rank > a.dimension() || b.dimension() > a.dimension()) return false;
  for (std::size_t i = 0; i < rank; ++i)
    if (b.shape()[lead + i] != a.shape()[a.dimension() - rank + i]) return false;
  return true;
}

// out = f(a, b) with NumPy broadcasting. Plain loops for the shapes training
// meets (equal shapes, a scalar, a bias row against a batch); materialised
// broadcasting for the rest.
template <class T, class F>
xt::xarray<T> zip(const xt::xarray<T>& a, const xt::xarray<T>& b, const Shape& shape, F f) {
  xt::xarray<T> r = xt::xarray<T>::from_shape(shape);
  T* o = r.data();
  const T* pa = a.data();
  const T* pb = b.data();
  const std::size_t n = r.size();
  if (a.size() == n && b.size() == n) {
    for (std::size_t i = 0; i < n; ++i) o[i] = f(pa[i], pb[i]);
  } else if (b.size() == 1 && a.size() == n) {
    for (std::size_t i = 0; i < n; ++i) o[i] = f(pa[i], pb[0]);
  } else if (a.size() == 1 && b.size() == n) {
    for (std::size_t i = 0; i < n; ++i) o[i] = f(pa[0], pb[i]);
  } else if (a.size() == n && b.size() > 0 && is_trailing_block(a, b)) {
    const std::size_t c = b.size();
    for (std::size_t i = 0; i < n; i += c)
      for (std::size_t j = 0; j < c; ++j) o[i + j] = f(pa[i + j], pb[j]);
  } else {
    const xt::xarray<T> ba = xt::broadcast(a, shape), bb = xt::broadcast(b, shape);
    for (std::size_t i = 0; i < n; ++i) o[i] = f(ba.data()[i], bb.data()[i]);
  }
  return r;
}

}  // namespace

template <class T>
TensorT<T> add(const TensorT<T>& a, const TensorT<T>& b) {
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), "add");
  xt::xarray<T> r = zip(a.value(), b.value(), shape, [](T x, T y) { return x + y; });
  return make_result<T>("add", std::move(r), {&a, &b}, [](Node<T>& out) {
    // d(a + b) = g for both operands.
    for (std::size_t i = 0; i < 2; ++i)
      if (in(out, i).requires_grad) accumulate_grad(in(out, i), out.grad);
  });
}

template <class T>
TensorT<T> mul(const TensorT<T>& a, const TensorT<T>& b) {
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), "mul");
  xt::xarray<T> r = zip(a.value(), b.value(), shape, [](T x, T y) { return x * y; });
  return make_result<T>("mul", std::move(r), {&a, &b}, [](Node<T>& out) {
    // d(a * b) = g * b for a, g * a for b.
    Node<T>& a = in(out, 0);
    Node<T>& b = in(out, 1);
    const Shape shape = detail::shape_of(out.grad);
    const auto times = [](T x, T y) { return x * y; };
    if (a.requires_grad) accumulate_grad(a, zip(out.grad, b.value, shape, times));
    if (b.requires_grad) accumulate_grad(b, zip(out.grad, a.value, shape, times));
  });
}

template <class T>
TensorT<T> sub(const TensorT<T>& a, const TensorT<T>& b) {
  broadcast_shapes(a.shape(), b.shape(), "sub");
  return add(a, neg(b));
}

template <class T>
TensorT<T> div(const TensorT<T>& a, const TensorT<T>& b) {
  broadcast_shapes(a.shape(), b.shape(), "div");
  return mul(a, pow(b, T(-1)));
}

template <class T>
TensorT<T> neg(const TensorT<T>& x) {
  xt::xarray<T> r = -x.value();
  return make_result<T>("neg", std::move(r), {&x}, [](Node<T>& out) {
    accumulate_grad(in(out, 0), xt::xarray<T>(-out.grad));
  });
}

template <class T>
TensorT<T> exp(const TensorT<T>& x) {
  xt::xarray<T> r = xt::exp(x.value());
  return make_result<T>("exp", std::move(r), {&x}, [](Node<T>& out) {
    // d exp(x) = exp(x) g: reuse the output.
    accumulate_grad(in(out, 0), xt::xarray<T>(out.grad * out.value));
  });
}

template <class T>
TensorT<T> log(const TensorT<T>& x) {
  xt::xarray<T> r = xt::log(x.value());
  return make_result<T>("log", std::move(r), {&x}, [](Node<T>& out) {
    accumulate_grad(in(out, 0), xt::xarray<T>(out.grad / in(out, 0).value));
  });
}

template <class T>
TensorT<T> relu(const TensorT<T>& x) {
  xt::xarray<T> r = xt::xarray<T>::from_shape(x.value().shape());
  for (std::size_t i = 0; i < r.size(); ++i) r.data()[i] = std::max(x.data()[i], T(0));
  return make_result<T>("relu", std::move(r), {&x}, [](Node<T>& out) {
    // Passes g where the output is positive (the input was); 0 at the kink.
    xt::xarray<T> g = xt::xarray<T>::from_shape(out.grad.shape());
    for (std::size_t i = 0; i < g.size(); ++i)
      g.data()[i] = out.value.data()[i] > T(0) ? out.grad.data()[i] : T(0);
    accumulate_grad(in(out, 0), std::move(g));
  });
}

template <class T>
TensorT<T> abs(const TensorT<T>& x) {
  xt::xarray<T> r = xt::xarray<T>::from_shape(x.value().shape());
  for (std::size_t i = 0; i < r.size(); ++i) r.data()[i] = std::abs(x.data()[i]);
  return make_result<T>("abs", std::move(r), {&x}, [](Node<T>& out) {
    // d|x| = sign(x) g, with sign(0) = 0.
    accumulate_grad(in(out, 0), zip(out.grad, in(out, 0).value, detail::shape_of(out.grad),
                                    [](T g, T v) { return v > T(0) ? g : (v < T(0) ? -g : T(0)); }));
  });
}

template <class T>
TensorT<T> pow(const TensorT<T>& x, Scalar<T> p) {
  xt::xarray<T> r = xt::pow(x.value(), p);
  return make_result<T>("pow", std::move(r), {&x}, [p](Node<T>& out) {
    // d x^p = p x^(p-1) g
    accumulate_grad(in(out, 0),
                    xt::xarray<T>(out.grad * (p * xt::pow(in(out, 0).value, p - T(1)))));
  });
}

template <class T>
TensorT<T> square(const TensorT<T>& x) {
  // A primitive rather than pow(x, 2): regularizers call it on every weight
  // every step, and x * x is far cheaper than std::pow.
  xt::xarray<T> r = zip(x.value(), x.value(), x.shape(), [](T a, T b) { return a * b; });
  return make_result<T>("square", std::move(r), {&x}, [](Node<T>& out) {
    // d x^2 = 2 x g
    accumulate_grad(in(out, 0), zip(out.grad, in(out, 0).value, detail::shape_of(out.grad),
                                    [](T g, T v) { return T(2) * v * g; }));
  });
}

template <class T>
TensorT<T> sqrt(const TensorT<T>& x) {
  return pow(x, T(0.5));
}

template <class T>
TensorT<T> add_scalar(const TensorT<T>& x, Scalar<T> s) {
  xt::xarray<T> r = x.value() + s;
  return make_result<T>("add_scalar", std::move(r), {&x}, [](Node<T>& out) {
    accumulate_grad(in(out, 0), out.grad);
  });
}

template <class T>
TensorT<T> mul_scalar(const TensorT<T>& x, Scalar<T> s) {
  xt::xarray<T> r = x.value() * s;
  return make_result<T>("mul_scalar", std::move(r), {&x}, [s](Node<T>& out) {
    accumulate_grad(in(out, 0), xt::xarray<T>(out.grad * s));
  });
}

template <class T>
TensorT<T> dropout(const TensorT<T>& x, double p, Rng& rng) {
  if (!(p >= 0.0 && p < 1.0))
    throw ValueError(fmt::format("dropout: p must be in [0, 1): got {}", p));
  // mask = keep / (1 - p), kept for backward: d(x * mask) = g * mask.
  xt::xarray<T> mask = xt::xarray<T>::from_shape(x.value().shape());
  const T keep = static_cast<T>(1.0 / (1.0 - p));
  for (auto& m : mask) m = rng.uniform() < p ? T(0) : keep;
  xt::xarray<T> r = zip(x.value(), mask, x.shape(), [](T a, T b) { return a * b; });
  return make_result<T>("dropout", std::move(r), {&x}, [mask = std::move(mask)](Node<T>& out) {
    accumulate_grad(in(out, 0), zip(out.grad, mask, detail::shape_of(out.grad),
                                    [](T a, T b) { return a * b; }));
  });
}

#define SLOPE_INSTANTIATE(T)                                                           \
  template TensorT<T> add<T>(const TensorT<T>&, const TensorT<T>&);                    \
  template TensorT<T> mul<T>(const TensorT<T>&, const TensorT<T>&);                    \
  template TensorT<T> sub<T>(const TensorT<T>&, const TensorT<T>&);                    \
  template TensorT<T> div<T>(const TensorT<T>&, const TensorT<T>&);                    \
  template TensorT<T> neg<T>(const TensorT<T>&);                                       \
  template TensorT<T> exp<T>(const TensorT<T>&);                                       \
  template TensorT<T> log<T>(const TensorT<T>&);                                       \
  template TensorT<T> relu<T>(const TensorT<T>&);                                      \
  template TensorT<T> abs<T>(const TensorT<T>&);                                       \
  template TensorT<T> pow<T>(const TensorT<T>&, Scalar<T>);                            \
  template TensorT<T> square<T>(const TensorT<T>&);                                    \
  template TensorT<T> sqrt<T>(const TensorT<T>&);                                      \
  template TensorT<T> add_scalar<T>(const TensorT<T>&, Scalar<T>);                     \
  template TensorT<T> mul_scalar<T>(const TensorT<T>&, Scalar<T>);                     \
  template TensorT<T> dropout<T>(const TensorT<T>&, double, Rng&);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope
