// Training any model: one Trainer that owns the model, the optimizer, the
// schedule and the data order, runs epochs through the data-parallel step,
// evaluates, and saves or resumes checkpoints that continue exactly (bitwise,
// at the same thread count).
//
// The model is the configured one (train::models()) or the caller's own: a
// factory that builds a Module<float> from an Rng. The data loss is the
// configured one (train::losses()) or the caller's own callable, which must
// be a MEAN over the batch's rows (row shards are weighted by their size).
//
//   train::Trainer t(config, train_set,
//                    [](Rng& rng) { return std::make_unique<ResidualNet<float>>(rng); });
//   while (!t.done()) t.run_epoch();
//   t.export_model("model.safetensors");   // NumPy and PyTorch read it
//
// Layering: this sits above nn, optim, sched, data and io; the `slope` program
// is a thin command-line layer over it.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "slope/data.hpp"
#include "slope/data_parallel.hpp"
#include "slope/distributed.hpp"
#include "slope/io.hpp"
#include "slope/nn/module.hpp"
#include "slope/optim/optimizer.hpp"
#include "slope/schedule.hpp"
#include "slope/train/config.hpp"

namespace slope::train {

/// One pass over a data split.
struct Evaluation {
  double data_loss = 0.0;
  double accuracy = 0.0;
};

struct EpochStats {
  std::size_t epoch = 0;        // 1-based: epochs completed after this one
  double data_loss = 0.0;       // mean over the epoch's minibatches (weighted by size)
  double reg_loss = 0.0;        // lambda * R(W), mean over the epoch
  double train_accuracy = 0.0;  // of the minibatch predictions made while training
  double val_accuracy = 0.0;
  double val_loss = 0.0;
  double lr = 0.0;              // learning rate of the epoch's last step
  double seconds = 0.0;
  double examples_per_second = 0.0;
};

/// Called after every optimizer step: (batch index in epoch, batches in epoch, loss).
using BatchCallback = std::function<void(std::size_t, std::size_t, double)>;
/// Builds the model to train; its weights drawn from the Rng (seeded by the config).
using ModelFactory = std::function<std::unique_ptr<nn::Module<float>>(Rng& init)>;
/// The data loss of a batch's scores: a mean over its rows.
using LossFn = std::function<Tensor(const Tensor& scores, std::span<const std::int32_t> labels)>;

class Trainer {
 public:
  /// Validates `config`, carves the validation split from `train` with the
  /// seed, fits preprocessing on the training part, builds the model (the
  /// configured one, or `model`'s) and the optimizer (weight decay on the
  /// weight matrices; on biases too only with decay_biases). `train` must
  /// outlive the Trainer.
  Trainer(Config config, const data::Dataset& train);
  Trainer(Config config, const data::Dataset& train, ModelFactory model, LossFn loss = {});
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  /// Continues a run saved by save(); the data must be the same training set,
  /// and a custom model needs the same factory (and loss) again. `epochs` (if
  /// nonzero) replaces the configured number of epochs. Every part of the
  /// file is checked against the model and optimizer before anything is
  /// allocated or changed: IoError naming the file and the problem otherwise.
  static std::unique_ptr<Trainer> resume(const std::filesystem::path& checkpoint,
                                         const data::Dataset& train, std::size_t epochs = 0);
  static std::unique_ptr<Trainer> resume(const std::filesystem::path& checkpoint,
                                         const data::Dataset& train, ModelFactory model,
                                         LossFn loss = {}, std::size_t epochs = 0);

  /// Trains across the processes of `comm` from now on (every process calls
  /// it, with the same configuration and data): checks that the processes
  /// agree on the run (configuration, data set, model, step; Error naming the
  /// difference otherwise), gives every process rank 0's parameters,
  /// optimizer state and data position, and from then on each process
  /// computes its share of the rows of every global batch (`batch` stays the
  /// global batch) and every process applies the same update. N processes
  /// compute what one computes, within rounding. Only rank 0 should write
  /// files (see rank()); evaluation runs whole on every process.
  void distribute(dist::Communicator& comm);
  /// This process's rank (0 alone) and the number of processes.
  int rank() const { return comm_->rank(); }
  int world_size() const { return comm_->size(); }

  /// Trains one epoch and evaluates on the validation split. NumericError
  /// naming the step (and the first op at fault) if the loss becomes NaN or Inf.
  EpochStats run_epoch(const BatchCallback& on_batch = {});
  bool done() const { return epochs_done() >= config_.epochs; }
  std::size_t epochs_done() const;

  /// Loss (data part) and accuracy of the model on `data` at `indices` (all if empty).
  Evaluation evaluate(const data::Dataset& data, std::span<const std::size_t> indices = {}) const;

  /// Writes the run atomically: parameters and optimizer state by name, step,
  /// data order, preprocessing.
  void save(const std::filesystem::path& path) const;
  /// What save() writes.
  io::Checkpoint checkpoint() const;
  /// Writes the model's state_dict as a safetensors file, with the model
  /// settings ("slope.model"; for a model of a factory, its type in
  /// "slope.custom_model" instead), the preprocessing, the data set and its
  /// examples' shape ("slope.image": channels x rows x columns) in its metadata.
  void export_model(const std::filesystem::path& path) const;
  /// Writes each parameter as <dir>/<name>.npy.
  void export_npy(const std::filesystem::path& dir) const;

  const Config& config() const { return config_; }
  const nn::Module<float>& model() const { return *model_; }
  nn::Module<float>& model() { return *model_; }
  const optim::Optimizer<float>& optimizer() const { return *optimizer_; }
  const data::Split& split() const { return split_; }
  const data::Preprocess& preprocess() const { return prep_; }
  std::int64_t step() const { return step_; }
  std::int64_t total_steps() const;
  double lr_at(std::int64_t step) const { return schedule_(step); }

 private:
  struct Step;
  Step train_step(std::span<const std::size_t> idx);
  // Loads the state of a checkpoint of this run (everything but the config);
  // ValueError naming the problem. Each part is checked before it is loaded,
  // so a failure may leave the model loaded and the rest not: the callers
  // (resume, distribute) discard or abandon the Trainer then.
  void restore(const io::Checkpoint& ckpt);
  [[noreturn]] void diverged(std::span<const std::size_t> idx, double value) const;

  Config config_;
  const data::Dataset& train_;
  data::Split split_;
  data::Preprocess prep_;
  std::unique_ptr<nn::Module<float>> model_;
  bool custom_model_ = false;  // built by the caller's factory, not from the config
  LossFn loss_;
  std::vector<Tensor> params_;   // model_->parameters(), kept so an epoch allocates nothing
  std::vector<Tensor> weights_;  // the ones the regularizer penalizes
  std::unique_ptr<optim::Optimizer<float>> optimizer_;
  std::unique_ptr<DataParallel<float>> parallel_;
  dist::Communicator* comm_ = &dist::single_process();
  std::unique_ptr<data::Minibatches> batches_;
  sched::Schedule schedule_;
  std::vector<std::int32_t> labels_;  // the current batch's labels, written by the shards
  std::vector<std::size_t> hits_;     // per shard
  std::vector<double> reg_parts_;     // per part of the finishing pass: lambda * R over its slices
  std::vector<std::uint8_t> penalize_;  // per parameter: a weight matrix the penalty applies to
  std::vector<std::size_t> optimizer_index_;  // parameter i of params_ in the optimizer
  std::atomic<bool> update_failed_{false};    // an update left NaN or Inf
  std::int64_t step_ = 0;
};

/// The loss and accuracy of `model` (in evaluation mode, without a graph) on
/// `data` at `indices` (all if empty), preprocessed by `prep`, in chunks.
Evaluation evaluate(nn::Module<float>& model, const data::Dataset& data, const data::Preprocess& prep,
                    const LossFn& loss, std::span<const std::size_t> indices = {});

/// A model written by Trainer::export_model, rebuilt from its file.
struct SavedModel {
  std::unique_ptr<nn::Module<float>> model;
  Config config;  // the model fields (and the loss) as saved, the rest defaults
  data::Preprocess preprocess;
  std::string dataset;
  std::size_t inputs = 0, classes = 0;
  std::size_t channels = 0, rows = 0, cols = 0;  // of the examples; 0 where the file does not say
};
/// Reads a file of Trainer::export_model: the model is rebuilt from the
/// settings in its metadata and its weights loaded (every check of
/// nn::load_state_dict). IoError naming the file if it was not written so, or
/// if it holds a custom model (build that in code and read it with nn::load).
SavedModel load_model(const std::filesystem::path& path);

/// Preprocessing as one line of text (exact: hex floats), and back; the text
/// must hold `dim` means (or none). ValueError on malformed text.
std::string preprocess_text(const data::Preprocess& p);
data::Preprocess preprocess_from_text(const std::string& text, std::size_t dim);

}  // namespace slope::train
