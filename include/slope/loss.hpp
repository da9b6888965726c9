// Losses and regularizers built from the core ops (no hand-written gradients):
// the multiclass SVM (hinge) loss, mean squared error, Huber, binary
// cross-entropy on logits, negative log-likelihood, and the L2, L1 and
// elastic-net penalties over a chosen list of parameters (usually the weights,
// not the biases). Every loss is the mean over the batch.
//
// Predictions and targets must have the same shape: a (N, 1) column against a
// (N,) vector would broadcast to (N, N) and give a wrong loss without a word,
// so it is a ShapeError naming both shapes.
//
// The full loss is data loss + lambda * R(W):
//   Tensor data = softmax_cross_entropy(scores, y);   // or svm_loss(scores, y)
//   Tensor reg = lambda * l2(weights);
//   Tensor loss = data + reg;   // report data.item() and reg.item() separately
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include "slope/tensor.hpp"

namespace slope {

/// Multiclass SVM loss with margin 1, the mean over the batch:
///   L = 1/N sum_i sum_{j != y_i} max(0, s_ij - s_iy_i + 1)
/// scores is (N, C), labels has N entries in [0, C). Built as
///   (sum(relu(scores - s_y + 1)) - N) / N,
/// where s_y is the (N, 1) column of correct-class scores: the j = y_i terms are
/// exactly max(0, 1) = 1 each and their gradient cancels, so subtracting N
/// removes them. The labels are checked here (ShapeError / ValueError naming svm_loss).
template <class T>
TensorT<T> svm_loss(const TensorT<T>& scores, std::span<const std::int32_t> labels);

/// mean((pred - target)^2).
template <class T> TensorT<T> mse(const TensorT<T>& pred, const TensorT<T>& target);
/// Huber (smooth L1): mean of 1/2 d^2 where |d| <= delta and delta (|d| - delta/2)
/// beyond, d = pred - target, delta > 0 (ValueError otherwise). Quadratic near
/// 0, linear in the tails; value and slope are continuous at |d| = delta.
template <class T>
TensorT<T> huber(const TensorT<T>& pred, const TensorT<T>& target, double delta = 1.0);
/// Binary cross-entropy of logits z against targets y in [0, 1]:
/// mean(softplus(z) - z y), the stable form of -[y log s + (1 - y) log(1 - s)]
/// with s = sigmoid(z). Finite for any finite z; dL/dz = (sigmoid(z) - y) / N,
/// exactly (1/2 - y) / N at z = 0.
template <class T> TensorT<T> bce_with_logits(const TensorT<T>& z, const TensorT<T>& y);
/// Negative log-likelihood: -mean_i log_probs[i, labels[i]] for (N, C) log
/// probabilities (log_softmax's output) and N labels in [0, C).
template <class T> TensorT<T> nll(const TensorT<T>& log_probs, std::span<const std::int32_t> labels);

/// R(W) = sum over the listed tensors of sum W^2 (prefers spread-out weights).
/// An empty list gives 0.
template <class T> TensorT<T> l2(const std::vector<TensorT<T>>& params);
/// R(W) = sum |W| (prefers sparse weights; the gradient at 0 is taken as 0).
template <class T> TensorT<T> l1(const std::vector<TensorT<T>>& params);
/// R(W) = beta * sum W^2 + sum |W|.
template <class T> TensorT<T> elastic_net(const std::vector<TensorT<T>>& params, double beta);

// Single tensors and braced lists: l2(W), l1({W1, W2}).
template <class T> TensorT<T> l2(const TensorT<T>& w) { return l2(std::vector<TensorT<T>>{w}); }
template <class T> TensorT<T> l1(const TensorT<T>& w) { return l1(std::vector<TensorT<T>>{w}); }
template <class T> TensorT<T> elastic_net(const TensorT<T>& w, double beta) {
  return elastic_net(std::vector<TensorT<T>>{w}, beta);
}
template <class T> TensorT<T> l2(std::initializer_list<TensorT<T>> ws) { return l2(std::vector<TensorT<T>>(ws)); }
template <class T> TensorT<T> l1(std::initializer_list<TensorT<T>> ws) { return l1(std::vector<TensorT<T>>(ws)); }
template <class T> TensorT<T> elastic_net(std::initializer_list<TensorT<T>> ws, double beta) {
  return elastic_net(std::vector<TensorT<T>>(ws), beta);
}

}  // namespace slope
