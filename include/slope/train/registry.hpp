// The names a run is configured with, one table per kind: models, losses,
// regularizers, schedules and data sets (optimizers: optim/registry.hpp,
// activations: nn::activations()). Config validation, the command line's
// options and --help, and the tests read these tables; adding a model or a
// loss is one entry here.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "slope/data.hpp"
#include "slope/nn/module.hpp"
#include "slope/optim/registry.hpp"
#include "slope/registry.hpp"
#include "slope/schedule.hpp"
#include "slope/train/config.hpp"

namespace slope::train {

// ---- models ---------------------------------------------------------------------

template <class T>
using ModelMaker = std::unique_ptr<nn::Module<T>> (*)(const Config&, std::size_t inputs,
                                                      std::size_t classes, Rng& init);
struct ModelEntry {
  const char* name;
  const char* help;
  const char* uses;  // the Config fields it reads
  std::size_t (*hidden_layers)(const Config&);  // how many layers dropout values may cover
  // The parameter count for `inputs` and `classes` (saturating at 2^63), known
  // before anything is allocated: a checkpoint's sizes are checked against it.
  std::uint64_t (*size)(const Config&, std::size_t inputs, std::size_t classes);
  ModelMaker<float> f32;
  ModelMaker<double> f64;
};
/// linear, two-layer, mlp, residual.
const std::vector<ModelEntry>& models();
/// The configured model for `inputs` features and `classes` classes, its
/// weights drawn from `init`.
template <class T>
std::unique_ptr<nn::Module<T>> make_model(const Config& c, std::size_t inputs, std::size_t classes, Rng& init);

// ---- losses and regularizers --------------------------------------------------------

struct LossEntry {
  const char* name;
  const char* help;
  TensorT<float> (*f32)(const TensorT<float>&, std::span<const std::int32_t>);
  TensorT<double> (*f64)(const TensorT<double>&, std::span<const std::int32_t>);
};
/// softmax, svm: each a mean over the batch's rows.
const std::vector<LossEntry>& losses();
/// The data loss `loss` of `scores` against `labels`.
template <class T>
TensorT<T> data_loss(const std::string& loss, const TensorT<T>& scores, std::span<const std::int32_t> labels);

struct RegularizerEntry {
  const char* name;
  const char* help;
  // R(W) over the weight matrices (beta: the elastic net's L2 weight), or a 0-d zero.
  TensorT<float> (*f32)(const std::vector<TensorT<float>>&, double beta);
  TensorT<double> (*f64)(const std::vector<TensorT<double>>&, double beta);
  // The same penalty on n entries of a weight matrix, for the Trainer's
  // finishing pass: adds lambda * dR/dw to g and returns lambda * R, with the
  // ops' own derivative kernels (so the graph and this give one formula).
  double (*fused)(const float* w, float* g, std::size_t n, double lambda, double beta);
};
/// none, l2, l1, elastic.
const std::vector<RegularizerEntry>& regularizers();
/// lambda * R(weights) for the configured regularizer (a 0-d zero for none or lambda 0).
template <class T>
TensorT<T> regularization(const Config& c, const std::vector<TensorT<T>>& weights);

// ---- optimizers and schedules ---------------------------------------------------------

/// The config's optimizer settings.
optim::Settings optimizer_settings(const Config& c);
/// The configured first-order optimizer over `params`.
std::unique_ptr<optim::Optimizer<float>> make_optimizer(const Config& c, optim::Params<float> params);

struct ScheduleEntry {
  const char* name;
  const char* help;
  // The schedule after warm-up, over `steps` optimizer steps.
  sched::Schedule (*make)(const Config&, std::int64_t steps);
};
/// constant, step, cosine, linear, invsqrt.
const std::vector<ScheduleEntry>& schedules();
/// The learning-rate schedule of the config for a run of `steps_per_epoch`
/// steps per epoch: warm-up (if any), then the named schedule.
sched::Schedule make_schedule(const Config& c, std::int64_t steps_per_epoch);

// ---- data sets ---------------------------------------------------------------------------

struct DatasetEntry {
  const char* name;
  const char* help;
  const char* default_dir;  // "" when the user must give one (or none is needed)
  bool needs_dir;
  data::Dataset (*load)(const std::filesystem::path& dir, std::string_view split);
};
/// fashion-mnist, mnist, cifar10, spiral.
const std::vector<DatasetEntry>& datasets();
/// Loads a split ("train" or "test") of the named data set from `dir` (the
/// entry's default directory when empty).
data::Dataset load_dataset(const std::string& name, const std::filesystem::path& dir, std::string_view split);

}  // namespace slope::train
