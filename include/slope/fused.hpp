// The fused training step: forward and backward of an MLP with ReLU, softmax
// (or SVM) loss, a weight regularizer and dropout, as hand-derived kernels over
// buffers sized once. It computes exactly the function the autograd graph of
// Trainer's graph engine computes (tests hold the two to each other in float64
// and gradcheck it), and is what `slope train` runs by default.
//
// Why it exists: the graph engine allocates every activation and gradient and
// runs one op at a time; for the standard network of the lecture that overhead
// and single-threaded glue cost more than the matrix products. Here:
//   - a minibatch is split into row blocks, one per thread; each thread gathers
//     its rows (uint8 pixels normalised on the way), runs the layers with
//     single-threaded sgemm, and back-propagates into its own gradient buffers;
//   - transposes are BLAS flags; bias + ReLU (+ dropout) and softmax +
//     cross-entropy are one pass each; no gradient for the input;
//   - the per-thread gradients are summed, with the regularizer's gradient, in
//     parallel over parameter entries, straight into each parameter's grad,
//     and update() runs the optimizer's rule over the same slices in parallel;
//   - nothing is allocated after the first step (a counting-allocator test
//     holds it to that).
// Results depend on the thread count (how rows are split changes how sums
// round), never on timing: the same seed and threads give identical bits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "slope/data.hpp"
#include "slope/nn.hpp"
#include "slope/optim/optimizer.hpp"
#include "slope/rng.hpp"

namespace slope::train {

struct FusedOptions {
  std::string loss = "softmax";  // "softmax" or "svm"
  std::string reg = "none";      // "none", "l2", "l1", "elastic" (on the weights, not biases)
  double lambda = 0.0;           // strength of the regularizer
  double beta = 1.0;             // elastic: beta * sum W^2 + sum |W|
  double dropout = 0.0;          // probability of zeroing a hidden unit (inverted dropout)
  std::size_t max_batch = 256;   // largest minibatch run() will see
  int threads = 1;               // row blocks computed in parallel
  // A step runs on one thread unless it has at least this many flops
  // (4 * batch * sum of in*out over the layers): below ~16 MFLOP (~0.25 ms)
  // handing work to a second thread costs more than it saves.
  double min_parallel_flops = 16e6;
};

/// What one step measured (before the update).
struct FusedResult {
  double data_loss = 0.0;  // mean over the batch
  double reg_loss = 0.0;   // lambda * R(W)
  std::size_t hits = 0;    // rows whose largest score is at the label
};

template <class T>
class FusedStep {
 public:
  /// Binds to `model`'s parameters (it must outlive this object) and sizes
  /// every buffer for `options.max_batch` rows. ValueError on a bad option.
  FusedStep(const nn::MLP<T>& model, FusedOptions options);
  ~FusedStep();
  FusedStep(const FusedStep&) = delete;
  FusedStep& operator=(const FusedStep&) = delete;

  /// Gathers the rows `indices` of `data` (preprocessed by `prep`), runs the
  /// forward and backward pass, and leaves dL/dtheta in every parameter's
  /// gradient (overwritten, not accumulated). Dropout masks are drawn from
  /// `dropout_rng` in the same order as nn::MLP's training forward pass.
  /// ValueError if the batch is empty, larger than max_batch, or the data's
  /// width differs from the model's input.
  FusedResult run(const data::Dataset& data, std::span<const std::size_t> indices,
                  const data::Preprocess& prep, Rng& dropout_rng);

  /// Applies `optimizer`'s update to the gradients run() left, over the same
  /// threads when the last step was split (begin_step, then each thread on a
  /// slice of every parameter). Every rule is entry by entry, so the result is
  /// bitwise that of optimizer.step().
  void update(optim::Optimizer<T>& optimizer);

  /// The labels of the last batch run (for accuracy bookkeeping).
  std::span<const std::int32_t> labels() const;
  const FusedOptions& options() const { return options_; }

 private:
  struct Impl;
  FusedResult collect(std::size_t n) const;  // sums the lanes' parts of the last run
  FusedOptions options_;
  std::unique_ptr<Impl> impl_;
};

extern template class FusedStep<float>;
extern template class FusedStep<double>;

}  // namespace slope::train
