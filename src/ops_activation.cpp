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

using detail::make_result;
using detail::map;
using detail::Node;
using detail::unary_rule;

template <class T>
TensorT<T> tanh(const TensorT<T>& x) {
  // d tanh(x) = (1 - y^2) g, from the output y
  return detail::reads_no_inputs(
      make_result<T>("tanh", map(x.value(), [](T v) { return std::tanh(v); }), {&x},
                     unary_rule<T>([](auto g, auto, auto y) { return detail::tanh_grad(y, g); })));
}

template <class T>
TensorT<T> sigmoid(const TensorT<T>& x) {
  // d sigmoid(x) = sigmoid'(x) g = y (1 - y) g
  return make_result<T>("sigmoid", map(x.value(), [](T v) { return detail::sigmoid_of(v); }), {&x},
                        unary_rule<T>([](auto g, auto x, auto) { return g * detail::sigmoid_slope(x); }));
}

template <class T>
TensorT<T> softplus(const TensorT<T>& x) {
  // d softplus(x) = sigmoid(x) g
  return make_result<T>("softplus", map(x.value(), [](T v) { return detail::softplus_of(v); }), {&x},
                        unary_rule<T>([](auto g, auto x, auto) { return detail::softplus_grad(x, g); }));
}

template <class T>
TensorT<T> log_sigmoid(const TensorT<T>& x) {
  detail::OpName name_scope("log_sigmoid");  // report as the op the user called
  // log sigmoid(x) = -log(1 + e^-x) = -softplus(-x)
  return neg(softplus(neg(x)));
}

template <class T>
TensorT<T> leaky_relu(const TensorT<T>& x, Scalar<T> slope) {
  // g for x > 0, slope g at and below 0
  return make_result<T>("leaky_relu", map(x.value(), [slope](T v) { return detail::leaky_relu_of(v, slope); }),
                        {&x}, unary_rule<T>([slope](auto g, auto x, auto) {
                          return detail::leaky_relu_grad(x, slope, g);
                        }));
}

template <class T>
TensorT<T> elu(const TensorT<T>& x, Scalar<T> alpha) {
  // g for x > 0, alpha e^x g at and below 0
  return make_result<T>("elu", map(x.value(), [alpha](T v) { return detail::elu_of(v, alpha); }), {&x},
                        unary_rule<T>([alpha](auto g, auto x, auto) { return detail::elu_grad(x, alpha, g); }));
}

template <class T>
TensorT<T> gelu(const TensorT<T>& x) {
  // A primitive rather than a composite of tanh, mul and pow: the composite's
  // backward would multiply a saturated tanh' = 0 by an overflowed x^2 (NaN).
  return make_result<T>("gelu", map(x.value(), [](T v) { return detail::gelu_of(v); }), {&x},
                        unary_rule<T>([](auto g, auto x, auto) { return detail::gelu_grad(x, g); }));
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
