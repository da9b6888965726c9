// Every setting of a training run, by name, with its help text: the one table
// that parsing, validation, --help, checkpoints and the JSON summary read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace slope::train {

/// Defaults: the two-layer net (784-384-10, dropout 0.35) on Fashion-MNIST with
/// AdamW (lr 2e-3, decoupled decay 0.1 on the weights, none on the biases),
/// batch 256, one epoch of linear warm-up, then cosine decay to 0 over 40
/// epochs: about 90% test accuracy in under a minute on 2 cores.
struct Config {
  // Model (train::models(): linear, two-layer, mlp, residual)
  std::string model = "two-layer";
  std::vector<std::size_t> hidden{384};  // two-layer, residual: hidden[0]; mlp: all of them
  std::size_t blocks = 1;                // residual: hidden-width blocks with a skip connection
  std::string activation = "relu";       // nn::activations(): after every hidden layer
  std::vector<double> dropout{0.35};     // after each hidden layer: one value for all, or one per layer
  // Loss: data loss + lambda * R(weight matrices); biases are not regularized.
  std::string loss = "softmax";  // train::losses()
  std::string reg = "l2";        // train::regularizers()
  double lambda = 0.0;
  double beta = 1.0;
  // Optimizer (optim::registry(); each uses the fields that apply, see docs/optimizers.md)
  std::string optimizer = "adamw";
  double lr = 2e-3;
  double momentum = 0.9;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double alpha = 0.99;
  double weight_decay = 0.1;
  bool decay_biases = false;  // also apply weight_decay to 1-D parameters (biases)
  double clip_norm = 0.0;
  // Schedule over optimizer steps (train::schedules())
  std::string schedule = "cosine";
  double warmup_epochs = 1.0;
  double gamma = 0.1;
  double min_lr = 0.0;
  // Loop and data
  std::size_t epochs = 40;
  std::size_t batch = 256;
  // The linear scaling rule (Goyal et al. 2017, for batches grown k = batch /
  // base_batch times, e.g. over k processes): the peak learning rate becomes
  // lr * k, reached by a linear warm-up from lr over warmup_epochs (they used
  // 5). 0: off, lr is used as given.
  std::size_t base_batch = 0;
  std::uint64_t seed = 0;
  std::size_t val_size = 5000;
  bool center = true;

  /// ValueError naming the first bad setting ("lr must be finite and >= 0: got -1").
  void validate() const;
  /// Sets one field from text by its name ("lr", "hidden" as "512,256",
  /// "center" as true/false); ValueError naming the key or the bad value.
  void set(const std::string& key, const std::string& value);
  /// The field's value as text (numbers exactly: 17 significant digits).
  std::string get(const std::string& key) const;
  /// Every field name, in declaration order.
  static const std::vector<std::string>& keys();
  /// The help text of a field (one line).
  static const std::string& help(const std::string& key);
  /// "key=value" lines, and back (ValueError on an unknown key or bad value).
  std::string to_text() const;
  static Config from_text(const std::string& text);
  /// The fields that choose the model (model, hidden, blocks, activation,
  /// dropout) as "key=value" lines: what a state_dict file records so that
  /// `slope eval --weights` can rebuild the model.
  std::string model_text() const;
};

/// Caps on the loop's sizes, so that no product of them overflows.
inline constexpr std::size_t kMaxEpochs = 1'000'000;
inline constexpr std::size_t kMaxBatch = std::size_t{1} << 24;
inline constexpr std::size_t kMaxHidden = std::size_t{1} << 20;

}  // namespace slope::train
