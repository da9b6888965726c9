// The derivative rules that more than one op applies, each written once: the
// relu op and linear's fused relu epilogue share relu's; square and the
// regularizers' sum_squares share 2x; abs and sum_abs share sign(x).
#pragma once

#include <algorithm>

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

}  // namespace slope::detail
