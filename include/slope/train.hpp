// Training: one configuration, one Trainer that owns the model, the optimizer,
// the schedule and the data order, runs epochs, evaluates, and saves or resumes
// checkpoints that continue exactly (bitwise, at the same thread count).
//
// Layering: this sits above nn, optim, sched, data and io; the `slope` program
// is a thin command-line layer over it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "slope/data.hpp"
#include "slope/data_parallel.hpp"
#include "slope/fused.hpp"
#include "slope/nn.hpp"
#include "slope/optim.hpp"
#include "slope/schedule.hpp"

namespace slope::train {

/// Every setting of a run. Defaults: the two-layer net (784-384-10, dropout
/// 0.35) on Fashion-MNIST with AdamW (lr 2e-3, decoupled decay 0.1), batch 256,
/// one epoch of linear warm-up, then cosine decay to 0 over 40 epochs: about
/// 90% test accuracy in under a minute on 2 cores.
struct Config {
  // Model
  std::string model = "two-layer";       // "linear", "two-layer" or "mlp"
  std::vector<std::size_t> hidden{384};  // two-layer: hidden[0]; mlp: all of them
  // Loss: data loss + lambda * R(weights); biases are not regularized.
  std::string loss = "softmax";  // "softmax" or "svm"
  std::string reg = "l2";        // "none", "l2", "l1" or "elastic" (beta * L2 + L1)
  double lambda = 0.0;
  double beta = 1.0;
  double dropout = 0.35;  // probability of zeroing each hidden unit while training
  // Optimizer (each uses the fields that apply to it; see docs/optimizers.md)
  std::string optimizer = "adamw";  // sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw
  double lr = 2e-3;
  double momentum = 0.9;           // momentum, nesterov
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adam, adamw (eps also rmsprop, adagrad)
  double alpha = 0.99;             // rmsprop decay
  double weight_decay = 0.1;       // adamw: decoupled; others: added to the gradient
  double clip_norm = 0.0;          // clip the global gradient norm (0: off)
  // Schedule over optimizer steps (epochs * batches per epoch in all)
  std::string schedule = "cosine";  // constant, step, cosine, linear, invsqrt
  double warmup_epochs = 1.0;       // linear warm-up before the schedule (0: none)
  double gamma = 0.1;               // step decay: times gamma at 50% and 75% of the run
  double min_lr = 0.0;              // cosine floor
  // Loop and data
  std::size_t epochs = 40;
  std::size_t batch = 256;
  std::uint64_t seed = 0;
  std::size_t val_size = 5000;  // carved from the training set
  bool center = true;           // subtract the training split's mean image
  // How a step is computed: "fused" (FusedStep: hand-derived kernels, row
  // blocks in parallel, no allocation) or "graph" (the autograd engine, op by
  // op). Both compute the same loss and gradients; fused is several times faster.
  std::string engine = "fused";

  /// ValueError naming the first bad setting ("lr must be >= 0: got -1").
  void validate() const;
  /// Layer sizes for `in` inputs and `classes` outputs.
  std::vector<std::size_t> layer_sizes(std::size_t in, std::size_t classes) const;
  /// Sets one field from text by its name above ("lr", "hidden" as "512,256",
  /// "center" as true/false); ValueError naming the key or the bad value.
  void set(const std::string& key, const std::string& value);
  /// The field's value as text (numbers exactly: 17 significant digits).
  std::string get(const std::string& key) const;
  /// Every field name, in declaration order.
  static const std::vector<std::string>& keys();
  /// "key=value" lines, and back (ValueError on an unknown key or bad value).
  std::string to_text() const;
  static Config from_text(const std::string& text);
};

/// One pass over a data split.
struct Evaluation {
  double data_loss = 0.0;
  double accuracy = 0.0;
};

struct EpochStats {
  std::size_t epoch = 0;      // 1-based: epochs completed after this one
  double data_loss = 0.0;     // mean over the epoch's minibatches (weighted by size)
  double reg_loss = 0.0;      // lambda * R(W), mean over the epoch
  double train_accuracy = 0.0;  // of the minibatch predictions made while training
  double val_accuracy = 0.0;
  double val_loss = 0.0;
  double lr = 0.0;            // learning rate of the epoch's last step
  double seconds = 0.0;
  double examples_per_second = 0.0;
};

/// Called after every optimizer step: (batch index in epoch, batches in epoch, loss).
using BatchCallback = std::function<void(std::size_t, std::size_t, double)>;

class Trainer {
 public:
  /// Validates `config`, carves the validation split from `train` with the
  /// seed, fits preprocessing on the training part, builds the model and the
  /// optimizer. `train` must outlive the Trainer.
  Trainer(Config config, const data::Dataset& train);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  /// Continues a run saved by save(); the data must be the same training set.
  /// `epochs` (if nonzero) replaces the configured number of epochs.
  static std::unique_ptr<Trainer> resume(const std::filesystem::path& checkpoint,
                                         const data::Dataset& train, std::size_t epochs = 0);

  /// Trains one epoch and evaluates on the validation split.
  /// NumericError naming the step (and the first op at fault) if the loss
  /// becomes NaN or Inf.
  EpochStats run_epoch(const BatchCallback& on_batch = {});
  bool done() const { return epochs_done() >= config_.epochs; }
  std::size_t epochs_done() const;

  /// Loss (data part) and accuracy of the model on `data` at `indices` (all if empty).
  Evaluation evaluate(const data::Dataset& data, std::span<const std::size_t> indices = {}) const;

  /// Writes the run atomically: parameters, optimizer state, step, data order.
  void save(const std::filesystem::path& path) const;

  const Config& config() const { return config_; }
  const nn::MLP<float>& model() const { return *model_; }
  const optim::Optimizer<float>& optimizer() const { return *optimizer_; }
  const data::Split& split() const { return split_; }
  const data::Preprocess& preprocess() const { return prep_; }
  std::int64_t step() const { return step_; }
  std::int64_t total_steps() const;
  double lr_at(std::int64_t step) const { return schedule_(step); }

 private:
  Config config_;
  const data::Dataset& train_;
  data::Split split_;
  data::Preprocess prep_;
  std::unique_ptr<nn::MLP<float>> model_;
  std::vector<Tensor> params_;  // model_->parameters(), kept so an epoch allocates nothing
  std::unique_ptr<optim::Optimizer<float>> optimizer_;
  std::unique_ptr<data::Minibatches> batches_;
  sched::Schedule schedule_;
  std::unique_ptr<FusedStep<float>> fused_;  // when config_.engine == "fused"
  std::unique_ptr<DataParallel<float>> dp_;
  std::vector<std::int32_t> labels_;
  std::vector<std::size_t> hits_;
  std::int64_t step_ = 0;

  // One minibatch through the graph engine: (data loss, reg loss, hits);
  // leaves the gradients in the parameters.
  FusedResult graph_step(std::span<const std::size_t> idx, Rng& dropout_rng);
  // NumericError for a non-finite loss, naming the first op at fault.
  [[noreturn]] void diverged(std::span<const std::size_t> idx, double value) const;
};

/// The data loss of `scores` against `labels` for the configured loss name.
template <class T>
TensorT<T> data_loss(const std::string& loss, const TensorT<T>& scores,
                     std::span<const std::int32_t> labels);
/// lambda * R(weights) for the configured regularizer (a 0-d zero for "none").
template <class T>
TensorT<T> regularization(const Config& config, const std::vector<TensorT<T>>& weights);
/// A first-order optimizer by name over `params`, from the config's fields.
std::unique_ptr<optim::Optimizer<float>> make_optimizer(const Config& config,
                                                        std::vector<Tensor> params);
/// The learning-rate schedule of the config for a run of `steps_per_epoch`.
sched::Schedule make_schedule(const Config& config, std::int64_t steps_per_epoch);

/// Loads a data set by name: "fashion-mnist" or "mnist" (IDX directory),
/// "cifar10" (binary batches), or "spiral" (synthetic; `dir` unused).
data::Dataset load_dataset(const std::string& name, const std::filesystem::path& dir,
                           std::string_view split);

}  // namespace slope::train
