#include "slope/loss.hpp"

#include <fmt/format.h>

#include "slope/error.hpp"
#include "slope/ops.hpp"

namespace slope {

template <class T>
TensorT<T> svm_loss(const TensorT<T>& scores, std::span<const std::int32_t> labels) {
  if (scores.dim() != 2)
    throw ShapeError(fmt::format("svm_loss: scores must be (N, C): got {}", to_string(scores.shape())));
  const std::size_t n = scores.shape()[0];
  if (n == 0) throw ValueError("svm_loss: the batch is empty");
  // s_y: the correct-class score of each row, as an (N, 1) column
  TensorT<T> correct = reshape(gather(scores, labels), Shape{n, 1});
  // margins_ij = max(0, s_ij - s_iy_i + 1); the j = y_i entries are exactly 1
  TensorT<T> margins = relu(scores - correct + T(1));
  // L = (sum_ij margins_ij - N) / N: subtracting N removes the j = y_i terms
  return (sum(margins) - static_cast<T>(n)) / static_cast<T>(n);
}

template <class T>
TensorT<T> l2(const std::vector<TensorT<T>>& params) {
  if (params.empty()) return scalar<T>(T(0));
  TensorT<T> r = sum_squares(params[0]);  // R(W) = sum W^2, one SIMD pass per tensor
  for (std::size_t i = 1; i < params.size(); ++i) r = r + sum_squares(params[i]);
  return r;
}

template <class T>
TensorT<T> l1(const std::vector<TensorT<T>>& params) {
  if (params.empty()) return scalar<T>(T(0));
  TensorT<T> r = sum_abs(params[0]);  // R(W) = sum |W|
  for (std::size_t i = 1; i < params.size(); ++i) r = r + sum_abs(params[i]);
  return r;
}

template <class T>
TensorT<T> elastic_net(const std::vector<TensorT<T>>& params, double beta) {
  if (!(beta >= 0.0)) throw ValueError(fmt::format("elastic_net: beta must be >= 0: got {}", beta));
  return static_cast<T>(beta) * l2(params) + l1(params);  // R(W) = beta * sum W^2 + sum |W|
}

#define SLOPE_LOSSES(T)                                                                \
  template TensorT<T> svm_loss(const TensorT<T>&, std::span<const std::int32_t>);     \
  template TensorT<T> l2(const std::vector<TensorT<T>>&);                              \
  template TensorT<T> l1(const std::vector<TensorT<T>>&);                              \
  template TensorT<T> elastic_net(const std::vector<TensorT<T>>&, double);
SLOPE_LOSSES(float)
SLOPE_LOSSES(double)
#undef SLOPE_LOSSES

}  // namespace slope
