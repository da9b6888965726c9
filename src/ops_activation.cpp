// Activations. tanh, sigmoid, softplus, leaky_relu, elu and gelu are
// primitives whose forward and derivative formulas live in kernels.hpp;
// log_sigmoid and silu are composites. For every finite input, float or
// double, none of them returns NaN or Inf forward or backward: the kernels
// never take exp of a positive number, and gelu's cubic is cut off where it
// would overflow.
#include <cmath>

#include "kernels.hpp"
#include "op_support.hpp"
#include "slope/ops.hpp"

namespace slope {

using detail::add_share;
using detail::in;
using detail::make_result;
using detail::map;
using detail::Node;

template <class T>
TensorT<T> tanh(const TensorT<T>& x) {
  return detail::reads_no_inputs(make_result<T>("tanh", map(x.value(), [](T v) { return std::tanh(v); }), {&x},
                        [](Node<T>& out) {
                          // d tanh(x) = (1 - y^2) g, from the output y
                          const T* g = out.grad.data();
                          const T* y = out.value.data();
                          add_share(out, 0, [g, y](std::size_t i) { return detail::tanh_grad(y[i], g[i]); });
                        }));
}

template <class T>
TensorT<T> sigmoid(const TensorT<T>& x) {
  return make_result<T>("sigmoid", map(x.value(), [](T v) { return detail::sigmoid_of(v); }), {&x},
                        [](Node<T>& out) {
                          // d sigmoid(x) = sigmoid'(x) g = y (1 - y) g
                          const T* g = out.grad.data();
                          const T* v = in(out, 0).value.data();
                          add_share(out, 0, [g, v](std::size_t i) { return g[i] * detail::sigmoid_slope(v[i]); });
                        });
}

template <class T>
TensorT<T> softplus(const TensorT<T>& x) {
  return make_result<T>("softplus", map(x.value(), [](T v) { return detail::softplus_of(v); }), {&x},
                        [](Node<T>& out) {
                          // d softplus(x) = sigmoid(x) g
                          const T* g = out.grad.data();
                          const T* v = in(out, 0).value.data();
                          add_share(out, 0, [g, v](std::size_t i) { return detail::softplus_grad(v[i], g[i]); });
                        });
}

template <class T>
TensorT<T> log_sigmoid(const TensorT<T>& x) {
  detail::OpName name_scope("log_sigmoid");  // report as the op the user called
  // log sigmoid(x) = -log(1 + e^-x) = -softplus(-x)
  return neg(softplus(neg(x)));
}

template <class T>
TensorT<T> leaky_relu(const TensorT<T>& x, Scalar<T> slope) {
  return make_result<T>("leaky_relu",
                        map(x.value(), [slope](T v) { return detail::leaky_relu_of(v, slope); }), {&x},
                        [slope](Node<T>& out) {
                          // g for x > 0, slope g at and below 0
                          const T* g = out.grad.data();
                          const T* v = in(out, 0).value.data();
                          add_share(out, 0, [g, v, slope](std::size_t i) {
                            return detail::leaky_relu_grad(v[i], slope, g[i]);
                          });
                        });
}

template <class T>
TensorT<T> elu(const TensorT<T>& x, Scalar<T> alpha) {
  return make_result<T>("elu", map(x.value(), [alpha](T v) { return detail::elu_of(v, alpha); }), {&x},
                        [alpha](Node<T>& out) {
                          // g for x > 0, alpha e^x g at and below 0
                          const T* g = out.grad.data();
                          const T* v = in(out, 0).value.data();
                          add_share(out, 0, [g, v, alpha](std::size_t i) {
                            return detail::elu_grad(v[i], alpha, g[i]);
                          });
                        });
}

template <class T>
TensorT<T> gelu(const TensorT<T>& x) {
  // A primitive rather than a composite of tanh, mul and pow: the composite's
  // backward would multiply a saturated tanh' = 0 by an overflowed x^2 (NaN).
  return make_result<T>("gelu", map(x.value(), [](T v) { return detail::gelu_of(v); }), {&x},
                        [](Node<T>& out) {
                          const T* g = out.grad.data();
                          const T* v = in(out, 0).value.data();
                          add_share(out, 0, [g, v](std::size_t i) { return detail::gelu_grad(v[i], g[i]); });
                        });
}

template <class T>
TensorT<T> silu(const TensorT<T>& x) {
  detail::OpName name_scope("silu");  // report as the op the user called
  return mul(x, sigmoid(x));  // x sigmoid(x)
}

#define SLOPE_INSTANTIATE(T)                                          \
  template TensorT<T> tanh<T>(const TensorT<T>&);                     \
  template TensorT<T> sigmoid<T>(const TensorT<T>&);                  \
  template TensorT<T> softplus<T>(const TensorT<T>&);                 \
  template TensorT<T> log_sigmoid<T>(const TensorT<T>&);              \
  template TensorT<T> leaky_relu<T>(const TensorT<T>&, Scalar<T>);    \
  template TensorT<T> elu<T>(const TensorT<T>&, Scalar<T>);           \
  template TensorT<T> gelu<T>(const TensorT<T>&);                     \
  template TensorT<T> silu<T>(const TensorT<T>&);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope
