// The derivative rules that more than one op applies, each written once: the
// relu op and linear's fused relu epilogue share relu's; square and the
// regularizers' sum_squares share 2x; abs and sum_abs share sign(x); sigmoid,
// softplus and gelu share the sigmoid and its derivative.
//
// Every formula here is written so that no finite input gives NaN or Inf
// (exp only ever sees a non-positive argument, cubes are taken only where
// they cannot overflow).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace slope::detail {

/// max(0, x)
template <class T>
inline T relu_of(T x) {
  return std::max(x, T(0));
}
/// d relu: g where the output y = relu(x) is positive; 0 at and below the kink.
template <class T>
inline T relu_grad(T y, T g) {
  return y > T(0) ? g : T(0);
}
/// d x^2 = 2 x g
template <class T>
inline T square_grad(T x, T g) {
  return T(2) * x * g;
}
/// d |x| = sign(x) g, with sign(0) = 0 (the subgradient slope uses at the kink).
template <class T>
inline T abs_grad(T x, T g) {
  return x > T(0) ? g : (x < T(0) ? -g : T(0));
}

/// log sum_j exp(x[j stride]) over n entries, stably: m + log(sum exp(x - m))
/// with m the maximum (softmax, log_softmax, softmax_cross_entropy, logsumexp).
/// Returned in double: rounded to float, an lse near 200 would carry an error
/// of ~1e-5, which x - lse would pass on to every softmax output. A slice whose
/// maximum is +-Inf or NaN returns that maximum (no Inf - Inf): all -inf gives
/// -inf, as does an empty slice.
template <class T>
inline double log_sum_exp(const T* x, std::size_t n, std::size_t stride = 1) {
  if (n == 0) return -INFINITY;
  double m = x[0];
  for (std::size_t j = 1; j < n; ++j) m = std::max(m, static_cast<double>(x[j * stride]));
  if (!std::isfinite(m)) return m;
  double s = 0.0;
  for (std::size_t j = 0; j < n; ++j) s += std::exp(static_cast<double>(x[j * stride]) - m);
  return m + std::log(s);
}

// ---- activations ------------------------------------------------------------------

/// sigmoid(x) = 1 / (1 + e^-x), split by sign so that exp never overflows:
/// 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) for x < 0.
template <class T>
inline T sigmoid_of(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}
/// sigmoid'(x) = sigmoid(x) sigmoid(-x) = e / (1 + e)^2 with e = e^-|x|: the
/// same number as y (1 - y), without the cancellation of 1 - y where y ~ 1.
template <class T>
inline T sigmoid_slope(T x) {
  const T e = std::exp(-std::abs(x));
  return e / ((T(1) + e) * (T(1) + e));
}
/// d tanh = (1 - y^2) g, from the output y = tanh(x).
template <class T>
inline T tanh_grad(T y, T g) {
  return g * (T(1) - y * y);
}
/// softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|): never exp of a positive number.
template <class T>
inline T softplus_of(T x) {
  return std::max(x, T(0)) + std::log1p(std::exp(-std::abs(x)));
}
/// d softplus = sigmoid(x) g (so 1/2 g at x = 0, exactly).
template <class T>
inline T softplus_grad(T x, T g) {
  return g * sigmoid_of(x);
}
/// leaky_relu(x) = x for x > 0, slope x otherwise.
template <class T>
inline T leaky_relu_of(T x, T slope) {
  return x > T(0) ? x : slope * x;
}
/// d leaky_relu: g for x > 0, slope g at and below the kink (relu's convention:
/// at 0 the left branch's slope).
template <class T>
inline T leaky_relu_grad(T x, T slope, T g) {
  return x > T(0) ? g : slope * g;
}
/// elu(x) = x for x > 0, alpha (e^x - 1) otherwise.
template <class T>
inline T elu_of(T x, T alpha) {
  return x > T(0) ? x : alpha * std::expm1(x);
}
/// d elu: g for x > 0, alpha e^x g at and below 0 (the left branch's slope).
template <class T>
inline T elu_grad(T x, T alpha, T g) {
  return x > T(0) ? g : g * (alpha * std::exp(x));
}

/// gelu, tanh form: 0.5 x (1 + tanh(u)) with u = sqrt(2/pi) (x + 0.044715 x^3),
/// evaluated as x sigmoid(2u) (the same number, since 1 + tanh(u) = 2 sigmoid(2u),
/// without the cancellation in 1 + tanh(u) for negative x). Beyond |x| = 1e4,
/// sigmoid(2u) is exactly 0 or 1 in float and double (|2u| > 7e10), so the
/// limits x and 0 are returned directly: the cube would overflow float at
/// |x| ~ 7e12 and its derivative's x^2 at ~1e19.
inline constexpr double kGeluSqrt2OverPi = 0.7978845608028654;
inline constexpr double kGeluCubic = 0.044715;
inline constexpr double kGeluSaturation = 1e4;

template <class T>
inline T gelu_of(T x) {
  if (std::abs(x) > T(kGeluSaturation)) return x > T(0) ? x : T(0);
  const T u = T(kGeluSqrt2OverPi) * (x + T(kGeluCubic) * x * x * x);
  return x * sigmoid_of(T(2) * u);
}
/// d gelu = sigmoid(2u) + 2 u'(x) x sigmoid'(2u), u'(x) = sqrt(2/pi) (1 + 3 0.044715 x^2).
template <class T>
inline T gelu_grad(T x, T g) {
  if (std::abs(x) > T(kGeluSaturation)) return x > T(0) ? g : T(0);
  const T u = T(kGeluSqrt2OverPi) * (x + T(kGeluCubic) * x * x * x);
  const T du = T(kGeluSqrt2OverPi) * (T(1) + T(3 * kGeluCubic) * x * x);
  return g * (sigmoid_of(T(2) * u) + T(2) * du * x * sigmoid_slope(T(2) * u));
}

}  // namespace slope::detail
