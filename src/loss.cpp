#include "slope/loss.hpp"

#include <fmt/format.h>

#include "op_support.hpp"
#include "slope/error.hpp"
#include "slope/ops.hpp"

namespace slope {

namespace {

// Predictions and targets of one shape and at least one entry: a (N, 1)
// against a (N,) would otherwise broadcast to (N, N) without a word.
template <class T>
void check_pair(const char* op, const char* a_name, const TensorT<T>& a, const char* b_name, const TensorT<T>& b) {
  if (a.shape() != b.shape())
    throw ShapeError(fmt::format("{}: {} and {} must have the same shape: {} is {}, {} is {}", op, a_name, b_name,
                                 a_name, to_string(a.shape()), b_name, to_string(b.shape())));
  if (a.size() == 0)
    throw ValueError(fmt::format("{}: the batch is empty: {} is {}", op, a_name, to_string(a.shape())));
}

// Scores (N, C) with N > 0 rows and one label in [0, C) per row.
template <class T>
void check_scores(const char* op, const char* name, const TensorT<T>& s, std::span<const std::int32_t> labels) {
  if (s.dim() != 2)
    throw ShapeError(fmt::format("{}: {} must be 2-D (N, C): {} is {}", op, name, name, to_string(s.shape())));
  if (s.shape()[0] == 0) throw ValueError(fmt::format("{}: the batch is empty", op));
  detail::check_labels(labels, s.shape()[0], s.shape()[1], op, name, s.shape());
}

}  // namespace

template <class T>
TensorT<T> svm_loss(const TensorT<T>& scores, std::span<const std::int32_t> labels) {
  detail::OpName name_scope("svm_loss");  // report as the op the user called
  check_scores("svm_loss", "scores", scores, labels);  // so errors name svm_loss, not gather
  const std::size_t n = scores.shape()[0];
  // s_y: the correct-class score of each row, as an (N, 1) column
  TensorT<T> correct = reshape(gather(scores, labels), Shape{n, 1});
  // margins_ij = max(0, s_ij - s_iy_i + 1); the j = y_i entries are exactly 1
  TensorT<T> margins = relu(scores - correct + T(1));
  // L = (sum_ij margins_ij - N) / N: subtracting N removes the j = y_i terms
  return (sum(margins) - static_cast<T>(n)) / static_cast<T>(n);
}

template <class T>
TensorT<T> mse(const TensorT<T>& pred, const TensorT<T>& target) {
  detail::OpName name_scope("mse");  // report as the op the user called
  check_pair("mse", "pred", pred, "target", target);
  return mean(square(pred - target));  // 1/N sum (pred - target)^2
}

template <class T>
TensorT<T> huber(const TensorT<T>& pred, const TensorT<T>& target, double delta) {
  detail::OpName name_scope("huber");  // report as the op the user called
  check_pair("huber", "pred", pred, "target", target);
  if (!(delta > 0.0)) throw ValueError(fmt::format("huber: delta must be > 0: got {}", delta));
  const T dl = static_cast<T>(delta);
  // 1/2 d^2 where |d| <= delta, delta (|d| - delta / 2) beyond: the two pieces
  // and their slopes (d and delta sign(d)) meet at |d| = delta.
  const TensorT<T> d = pred - target;
  const TensorT<T> a = abs(d);
  return mean(where(le(a, scalar<T>(dl)), T(0.5) * square(d), dl * (a - T(0.5) * dl)));
}

template <class T>
TensorT<T> bce_with_logits(const TensorT<T>& z, const TensorT<T>& y) {
  detail::OpName name_scope("bce_with_logits");  // report as the op the user called
  check_pair("bce_with_logits", "z", z, "y", y);
  // -[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))] = softplus(z) - z y, with
  // the stable softplus; its derivative sigmoid(z) makes dL/dz = sigmoid(z) - y,
  // exactly 1/2 - y at z = 0.
  return mean(softplus(z) - z * y);
}

template <class T>
TensorT<T> nll(const TensorT<T>& log_probs, std::span<const std::int32_t> labels) {
  detail::OpName name_scope("nll");  // report as the op the user called
  check_scores("nll", "log_probs", log_probs, labels);
  return -mean(gather(log_probs, labels));  // -1/N sum_i log p_i[y_i]
}

template <class T>
TensorT<T> l2(const std::vector<TensorT<T>>& params) {
  detail::OpName name_scope("l2");  // report as the op the user called
  if (params.empty()) return scalar<T>(T(0));
  TensorT<T> r = sum_squares(params[0]);  // R(W) = sum W^2, one SIMD pass per tensor
  for (std::size_t i = 1; i < params.size(); ++i) r = r + sum_squares(params[i]);
  return r;
}

template <class T>
TensorT<T> l1(const std::vector<TensorT<T>>& params) {
  detail::OpName name_scope("l1");  // report as the op the user called
  if (params.empty()) return scalar<T>(T(0));
  TensorT<T> r = sum_abs(params[0]);  // R(W) = sum |W|
  for (std::size_t i = 1; i < params.size(); ++i) r = r + sum_abs(params[i]);
  return r;
}

template <class T>
TensorT<T> elastic_net(const std::vector<TensorT<T>>& params, double beta) {
  detail::OpName name_scope("elastic_net");  // report as the op the user called
  if (!(beta >= 0.0)) throw ValueError(fmt::format("elastic_net: beta must be >= 0: got {}", beta));
  return static_cast<T>(beta) * l2(params) + l1(params);  // R(W) = beta * sum W^2 + sum |W|
}

#define SLOPE_LOSSES(T)                                                                \
  template TensorT<T> svm_loss(const TensorT<T>&, std::span<const std::int32_t>);     \
  template TensorT<T> mse(const TensorT<T>&, const TensorT<T>&);                       \
  template TensorT<T> huber(const TensorT<T>&, const TensorT<T>&, double);             \
  template TensorT<T> bce_with_logits(const TensorT<T>&, const TensorT<T>&);           \
  template TensorT<T> nll(const TensorT<T>&, std::span<const std::int32_t>);           \
  template TensorT<T> l2(const std::vector<TensorT<T>>&);                              \
  template TensorT<T> l1(const std::vector<TensorT<T>>&);                              \
  template TensorT<T> elastic_net(const std::vector<TensorT<T>>&, double);
SLOPE_LOSSES(float)
SLOPE_LOSSES(double)
#undef SLOPE_LOSSES

}  // namespace slope
