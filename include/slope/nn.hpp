// Models in the DSL: a fully connected layer, the linear classifier, the
// two-layer ReLU network, and a general MLP. A model is a callable from a batch
// of rows X (N, D) to class scores (N, C) plus parameters(): that is the whole
// module contract.
//
// Orientation: rows are examples, so a layer computes X W + b with W of shape
// (in, out). The lecture's W (out x in, one row per class) is our W transposed:
// its class templates are the columns of W here.
#pragma once

#include <cstddef>
#include <vector>

#include "slope/ops.hpp"
#include "slope/tensor.hpp"

namespace slope::nn {

/// How a layer's weights are drawn (biases start at 0).
struct Init {
  enum class Kind { he, xavier, normal };
  Kind kind = Kind::he;
  double stddev = 0.0;  // used by Kind::normal only

  static Init he() { return {Kind::he, 0.0}; }          // N(0, 2 / fan_in): for ReLU layers
  static Init xavier() { return {Kind::xavier, 0.0}; }  // N(0, 2 / (fan_in + fan_out))
  static Init normal(double stddev) { return {Kind::normal, stddev}; }
  /// The standard deviation this rule gives a layer of the given fan-in and fan-out.
  double std_for(std::size_t fan_in, std::size_t fan_out) const;
};

/// y = x W + b, W of shape (in, out), b of shape (out,).
template <class T>
class Linear {
 public:
  Linear(std::size_t in, std::size_t out, Rng& rng, Init init = Init::he());
  TensorT<T> operator()(const TensorT<T>& x) const;
  std::size_t in_features() const { return W.shape()[0]; }
  std::size_t out_features() const { return W.shape()[1]; }

  TensorT<T> W;
  TensorT<T> b;
};

/// Linear layers with ReLU between them: sizes {D, H1, ..., C}. Two sizes give
/// the linear classifier, three the two-layer net.
template <class T = float>
class MLP {
 public:
  MLP(const std::vector<std::size_t>& sizes, Rng& rng, Init init = Init::he());
  /// Scores for a batch (evaluation, or training without dropout).
  TensorT<T> operator()(const TensorT<T>& x) const;
  /// Training forward pass with inverted dropout of probability p after every
  /// hidden ReLU, masks drawn from `rng`. p = 0 is the plain forward pass.
  TensorT<T> operator()(const TensorT<T>& x, double p, Rng& rng) const;

  /// Every trainable tensor: W1, b1, W2, b2, ...
  std::vector<TensorT<T>> parameters() const;
  /// The weight matrices only: what regularizers usually penalize (not biases).
  std::vector<TensorT<T>> weights() const;
  const std::vector<Linear<T>>& layers() const { return layers_; }
  std::vector<std::size_t> sizes() const;

 private:
  std::vector<Linear<T>> layers_;
};

/// f(x) = x W + b: one score per class, one template per column of W.
template <class T = float>
class LinearClassifier : public MLP<T> {
 public:
  LinearClassifier(std::size_t in, std::size_t classes, Rng& rng, Init init = Init::xavier())
      : MLP<T>({in, classes}, rng, init) {}
};

/// f(x) = max(0, x W1 + b1) W2 + b2.
template <class T = float>
class TwoLayerNet : public MLP<T> {
 public:
  TwoLayerNet(std::size_t in, std::size_t hidden, std::size_t classes, Rng& rng,
              Init init = Init::he())
      : MLP<T>({in, hidden, classes}, rng, init) {}
};

/// Index of the largest score in each row of a (N, C) array.
template <class T>
std::vector<std::int32_t> argmax_rows(const Array<T>& scores);

/// Fraction of rows whose largest score is at the label.
template <class T>
double accuracy(const Array<T>& scores, std::span<const std::int32_t> labels);

extern template class Linear<float>;
extern template class Linear<double>;
extern template class MLP<float>;
extern template class MLP<double>;

}  // namespace slope::nn
