// Vector reductions with xsimd. A compiler may not reorder floating-point
// additions, so it never vectorizes a plain `for (...) s += x[i] * x[i]` on
// its own; here the order is fixed by hand: one partial sum per SIMD lane,
// blocks of 4096 entries added into a double. Same input, same bits.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>

#include <xsimd/xsimd.hpp>

namespace slope::detail {

/// sum of f(x[i]) over n entries, f applied per SIMD batch and per scalar.
template <class T, class Batch, class Scalar>
double simd_sum(const T* x, std::size_t n, Batch&& f, Scalar&& g) {
  using B = xsimd::batch<T>;
  constexpr std::size_t W = B::size, kBlock = 4096;
  double total = 0.0;
  for (std::size_t start = 0; start < n; start += kBlock) {
    const std::size_t end = std::min(n, start + kBlock);
    B acc(T(0));
    std::size_t i = start;
    for (; i + W <= end; i += W) acc += f(xsimd::load_unaligned(x + i));
    T tail = T(0);
    for (; i < end; ++i) tail += g(x[i]);
    total += static_cast<double>(xsimd::hadd(acc)) + static_cast<double>(tail);
  }
  return total;
}

/// sum of x[i]^2.
template <class T>
double sum_squares(const T* x, std::size_t n) {
  return simd_sum(x, n, [](auto v) { return v * v; }, [](T v) { return v * v; });
}

/// sum of |x[i]|.
template <class T>
double sum_abs(const T* x, std::size_t n) {
  return simd_sum(x, n, [](auto v) { return xsimd::abs(v); }, [](T v) { return std::abs(v); });
}

}  // namespace slope::detail
