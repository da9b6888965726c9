// The formulas that ops share, each written once.
//
// Forward kernels (relu_of, sigmoid_of, softplus_of, ..., log_sum_exp) work
// on numbers. Derivative formulas (relu_grad, tanh_grad, sigmoid_slope, ...)
// are templates generic over the value type V: instantiated for numbers they
// are the fast backward loops' bodies; instantiated for tensors they are the
// same derivative as differentiable ops, which a backward that creates a
// graph records (so a gradient can be differentiated again). The generic
// vocabulary: arithmetic operators, exp/abs/pow, comparisons (a bool for
// numbers, a 0/1 mask for tensors), select(c, a, b) (c ? a : b, or where),
// both(c1, c2) (&&, or a product of masks), and sigmoid_of (the kernel, or
// the sigmoid op).
//
// The relu op and linear's fused relu epilogue share relu's derivative;
// square and the regularizers' sum_squares share 2x; abs and sum_abs share
// sign(x); sigmoid, softplus and gelu share the sigmoid and its derivative.
// Every formula here is written so that no finite input gives NaN or Inf
// (exp only ever sees a non-positive argument, cubes are taken only where
// they cannot overflow); for tensors the same holds for the branch a select
// does not take, whose derivative would otherwise turn 0 * Inf into NaN.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>

#include "slope/ops.hpp"

namespace slope::detail {

// ---- numbers and tensors alike ------------------------------------------------------

template <class V>
struct scalar_of {
  using type = V;
};
template <class T>
struct scalar_of<TensorT<T>> {
  using type = T;
};
/// The element type: V itself for a number, T for a TensorT<T>.
template <class V>
using scalar_t = typename scalar_of<V>::type;

template <class T>
inline TensorT<T> as_tensor(const TensorT<T>& x) {
  return x;
}
template <class T>
inline TensorT<T> as_tensor(std::type_identity_t<T> x) {
  return TensorT<T>(x);
}

/// c ? a : b for numbers (both arms evaluated: keep them cheap).
template <class T>
  requires std::is_arithmetic_v<T>
inline T select(bool c, T a, T b) {
  return c ? a : b;
}
/// where(mask, a, b) for tensors; an arm may be a number (broadcast).
template <class T, class A, class B>
inline TensorT<T> select(const TensorT<T>& mask, const A& a, const B& b) {
  return where(mask, as_tensor<T>(a), as_tensor<T>(b));
}
inline bool both(bool a, bool b) { return a && b; }
template <class T>
inline TensorT<T> both(const TensorT<T>& a, const TensorT<T>& b) {
  return mul(a, b);
}
// Comparisons of tensors give 0/1 masks (constants, outside the graph).
template <class T>
inline TensorT<T> operator>(const TensorT<T>& a, Scalar<T> b) {
  return gt(a, TensorT<T>(b));
}
template <class T>
inline TensorT<T> operator<(const TensorT<T>& a, Scalar<T> b) {
  return lt(a, TensorT<T>(b));
}
template <class T>
inline TensorT<T> operator>(const TensorT<T>& a, const TensorT<T>& b) {
  return gt(a, b);
}
template <class T>
inline TensorT<T> operator==(const TensorT<T>& a, const TensorT<T>& b) {
  return eq(a, b);
}

// ---- forward kernels (numbers) ----------------------------------------------------

/// max(0, x)
template <class T>
inline T relu_of(T x) {
  return std::max(x, T(0));
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

/// sigmoid(x) = 1 / (1 + e^-x), split by sign so that exp never overflows:
/// 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) for x < 0.
template <class T>
  requires std::is_arithmetic_v<T>
inline T sigmoid_of(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}
/// For tensors: the sigmoid op itself (its forward is the kernel above).
template <class T>
inline TensorT<T> sigmoid_of(const TensorT<T>& x) {
  return sigmoid(x);
}
/// softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|): never exp of a positive number.
template <class T>
inline T softplus_of(T x) {
  return std::max(x, T(0)) + std::log1p(std::exp(-std::abs(x)));
}
/// leaky_relu(x) = x for x > 0, slope x otherwise.
template <class T>
inline T leaky_relu_of(T x, T slope) {
  return x > T(0) ? x : slope * x;
}
/// elu(x) = x for x > 0, alpha (e^x - 1) otherwise.
template <class T>
inline T elu_of(T x, T alpha) {
  return x > T(0) ? x : alpha * std::expm1(x);
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

// ---- derivatives (numbers or tensors) ---------------------------------------------

/// d relu: g where the output y = relu(x) is positive; 0 at and below the kink.
template <class V>
inline V relu_grad(const V& y, const V& g) {
  using S = scalar_t<V>;
  return select(y > S(0), g, S(0));
}
/// d x^2 = 2 x g
template <class V>
inline V square_grad(const V& x, const V& g) {
  using S = scalar_t<V>;
  return S(2) * x * g;
}
/// d |x| = sign(x) g, with sign(0) = 0 (the subgradient slope uses at the kink).
template <class V>
inline V abs_grad(const V& x, const V& g) {
  using S = scalar_t<V>;
  return select(x > S(0), g, select(x < S(0), -g, S(0)));
}
/// sigmoid'(x) = sigmoid(x) sigmoid(-x) = e / (1 + e)^2 with e = e^-|x|: the
/// same number as y (1 - y), without the cancellation of 1 - y where y ~ 1.
template <class V>
inline V sigmoid_slope(const V& x) {
  using S = scalar_t<V>;
  using std::abs;
  using std::exp;
  const V e = exp(-abs(x));
  return e / ((S(1) + e) * (S(1) + e));
}
/// d tanh = (1 - y^2) g, from the output y = tanh(x).
template <class V>
inline V tanh_grad(const V& y, const V& g) {
  using S = scalar_t<V>;
  return g * (S(1) - y * y);
}
/// d softplus = sigmoid(x) g (so 1/2 g at x = 0, exactly).
template <class V>
inline V softplus_grad(const V& x, const V& g) {
  return g * sigmoid_of(x);
}
/// d leaky_relu: g for x > 0, slope g at and below the kink (relu's convention:
/// at 0 the left branch's slope).
template <class V>
inline V leaky_relu_grad(const V& x, scalar_t<V> slope, const V& g) {
  using S = scalar_t<V>;
  return select(x > S(0), g, slope * g);
}
/// d elu: g for x > 0, alpha e^x g at and below 0 (the left branch's slope).
/// The exponent is min(x, 0), the same number where that branch is taken and
/// never an overflow where it is not.
template <class V>
inline V elu_grad(const V& x, scalar_t<V> alpha, const V& g) {
  using S = scalar_t<V>;
  using std::exp;
  return select(x > S(0), g, g * (alpha * exp(select(x > S(0), S(0), x))));
}
/// d gelu = sigmoid(2u) + 2 u'(x) x sigmoid'(2u), u'(x) = sqrt(2/pi) (1 + 3 0.044715 x^2);
/// beyond the saturation point the limits' slopes 1 and 0. The formula is
/// evaluated at x clipped to 0 there, where its value is not used.
template <class V>
inline V gelu_grad(const V& x, const V& g) {
  using S = scalar_t<V>;
  using std::abs;
  const auto saturated = abs(x) > S(kGeluSaturation);
  const V xs = select(saturated, S(0), x);
  const V u = S(kGeluSqrt2OverPi) * (xs + S(kGeluCubic) * xs * xs * xs);
  const V du = S(kGeluSqrt2OverPi) * (S(1) + S(3 * kGeluCubic) * xs * xs);
  const V inside = g * (sigmoid_of(S(2) * u) + S(2) * du * xs * sigmoid_slope(S(2) * u));
  return select(saturated, select(x > S(0), g, S(0)), inside);
}
/// d clamp(x, lo, hi): g strictly inside (lo, hi); 0 outside and at the bounds,
/// as relu (= clamp(x, 0, inf)) takes 0 at its kink.
template <class V>
inline V clamp_grad(const V& x, scalar_t<V> lo, scalar_t<V> hi, const V& g) {
  using S = scalar_t<V>;
  return select(both(x > lo, x < hi), g, S(0));
}
/// d maximum(self, other) for self: g where it is the larger, g / 2 at a tie
/// (so maximum(a, b) and maximum(b, a) agree and maximum(x, x) has gradient g).
template <class V>
inline V maximum_grad(const V& self, const V& other, const V& g) {
  using S = scalar_t<V>;
  return select(self > other, g, select(self == other, g / S(2), S(0)));
}

/// d ||x|| = x / ||x|| g; 0 where the norm is 0 (the subgradient at the
/// kink). Divided by 1 where the norm is 0, so the arm not taken is finite.
template <class V>
inline V norm_grad(const V& x, const V& norm, const V& g) {
  using S = scalar_t<V>;
  const auto positive = norm > S(0);
  return select(positive, g * (x / select(positive, norm, S(1))), S(0));
}
/// d logsumexp(x) = softmax(x) g = exp(x - lse) g; a slice of -inf only
/// (lse = -inf) passes none (and its arm is computed against 0, not -inf).
template <class V>
inline V logsumexp_grad(const V& x, const V& lse, const V& g) {
  using S = scalar_t<V>;
  using std::exp;
  const auto finite = lse > S(-INFINITY);
  return select(finite, g * exp(x - select(finite, lse, S(0))), S(0));
}

}  // namespace slope::detail
