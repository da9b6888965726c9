// The lecture's models, built from the layers: an MLP of any depth (with a
// choice of activation, per-layer dropout and residual hidden blocks), the
// linear classifier and the two-layer ReLU network.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "slope/nn/layers.hpp"

namespace slope::nn {

struct MLPOptions {
  std::string activation = "relu";  // after every hidden layer: a name of activations()
  // Dropout after each hidden layer: empty for none, one value for every
  // hidden layer, or one value per hidden layer.
  std::vector<double> dropout;
  Init init = Init::he();
  // Hidden layers whose input and output widths agree become residual blocks:
  // h <- act(h W + b) + h.
  bool residual = false;
};

/// Linear layers with an activation between them: sizes {D, H1, ..., C}. Two
/// sizes give the linear classifier, three the two-layer net. Submodule
/// "layers" is a Sequential; with relu the activation is fused into the
/// layer's product (Linear's epilogue), so the parameters are layers.0.W,
/// layers.0.b, ... (Dropout modules take their own indices in between).
template <class T = float>
class MLP : public Module<T> {
 public:
  MLP(const std::vector<std::size_t>& sizes, Rng& rng, MLPOptions options = {});
  MLP(const std::vector<std::size_t>& sizes, Rng& rng, Init init);
  TensorT<T> forward(const TensorT<T>& x) const override;

  /// The weight matrices only: what regularizers usually penalize (not biases).
  std::vector<TensorT<T>> weights() const { return nn::weights(*this); }
  /// The fully connected layers, first to last.
  const std::vector<Linear<T>>& layers() const { return linears_; }
  std::vector<std::size_t> sizes() const;
  const MLPOptions& options() const { return options_; }

 private:
  MLPOptions options_;
  Sequential<T> net_;
  std::vector<Linear<T>> linears_;
};

/// f(x) = x W + b: one score per class, one template per column of W.
template <class T = float>
class LinearClassifier : public MLP<T> {
 public:
  LinearClassifier(std::size_t in, std::size_t classes, Rng& rng, Init init = Init::xavier())
      : MLP<T>({in, classes}, rng, init) {}
  std::string type_name() const override { return "LinearClassifier"; }
};

/// f(x) = max(0, x W1 + b1) W2 + b2.
template <class T = float>
class TwoLayerNet : public MLP<T> {
 public:
  TwoLayerNet(std::size_t in, std::size_t hidden, std::size_t classes, Rng& rng,
              Init init = Init::he())
      : MLP<T>({in, hidden, classes}, rng, init) {}
  std::string type_name() const override { return "TwoLayerNet"; }
};

/// Index of the largest score in each row of a (N, C) array (the first on ties).
template <class T>
std::vector<std::int32_t> argmax_rows(const Array<T>& scores);

/// Fraction of rows whose largest score is at the label.
template <class T>
double accuracy(const Array<T>& scores, std::span<const std::int32_t> labels);

extern template class MLP<float>;
extern template class MLP<double>;

}  // namespace slope::nn
