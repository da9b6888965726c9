// Elementwise ops. Binary ops broadcast like NumPy; their backward closures
// hand full-shape gradients to accumulate_grad, which sums them back down.
#include <cmath>

#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

#include "op_support.hpp"
#include "slope/ops.hpp"

namespace slope {

using detail::accumulate_grad;
using detail::in;
using detail::make_result;
using detail::Node;

template <class T>
TensorT<T> add(const TensorT<T>& a, const TensorT<T>& b) {
  broadcast_shapes(a.shape(), b.shape(), "add");
  xt::xarray<T> r = a.value() + b.value();
  return make_result<T>("add", std::move(r), {&a, &b}, [](Node<T>& out) {
    // d(a + b) = g for both operands.
    for (std::size_t i = 0; i < 2; ++i)
      if (in(out, i).requires_grad) accumulate_grad(in(out, i), xt::xarray<T>(out.grad));
  });
}

template <class T>
TensorT<T> mul(const TensorT<T>& a, const TensorT<T>& b) {
  broadcast_shapes(a.shape(), b.shape(), "mul");
  xt::xarray<T> r = a.value() * b.value();
  return make_result<T>("mul", std::move(r), {&a, &b}, [](Node<T>& out) {
    // d(a * b) = g * b for a, g * a for b.
    Node<T>& a = in(out, 0);
    Node<T>& b = in(out, 1);
    if (a.requires_grad) accumulate_grad(a, xt::xarray<T>(out.grad * b.value));
    if (b.requires_grad) accumulate_grad(b, xt::xarray<T>(out.grad * a.value));
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
  xt::xarray<T> r = xt::maximum(x.value(), T(0));
  return make_result<T>("relu", std::move(r), {&x}, [](Node<T>& out) {
    // Passes g where the input was positive; 0 at the kink.
    accumulate_grad(in(out, 0),
                    xt::xarray<T>(xt::where(in(out, 0).value > T(0), out.grad, T(0))));
  });
}

template <class T>
TensorT<T> abs(const TensorT<T>& x) {
  xt::xarray<T> r = xt::abs(x.value());
  return make_result<T>("abs", std::move(r), {&x}, [](Node<T>& out) {
    accumulate_grad(in(out, 0), xt::xarray<T>(out.grad * xt::sign(in(out, 0).value)));
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
  return pow(x, T(2));
}

template <class T>
TensorT<T> sqrt(const TensorT<T>& x) {
  return pow(x, T(0.5));
}

template <class T>
TensorT<T> add_scalar(const TensorT<T>& x, Scalar<T> s) {
  xt::xarray<T> r = x.value() + s;
  return make_result<T>("add_scalar", std::move(r), {&x}, [](Node<T>& out) {
    accumulate_grad(in(out, 0), xt::xarray<T>(out.grad));
  });
}

template <class T>
TensorT<T> mul_scalar(const TensorT<T>& x, Scalar<T> s) {
  xt::xarray<T> r = x.value() * s;
  return make_result<T>("mul_scalar", std::move(r), {&x}, [s](Node<T>& out) {
    accumulate_grad(in(out, 0), xt::xarray<T>(out.grad * s));
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
  template TensorT<T> mul_scalar<T>(const TensorT<T>&, Scalar<T>);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope
