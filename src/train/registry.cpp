// The tables of models, losses, regularizers, schedules and data sets.
#include "slope/train/registry.hpp"

#include "../kernels.hpp"
#include "../simd.hpp"

#include <cmath>

#include <fmt/format.h>

#include "slope/loss.hpp"
#include "slope/nn/models.hpp"
#include "slope/optim/optimizer.hpp"

namespace slope::train {

// ---- models -------------------------------------------------------------------------

namespace {

nn::MLPOptions mlp_options(const Config& c) {
  return nn::MLPOptions{.activation = c.activation, .dropout = c.dropout, .init = nn::Init::he()};
}

// Parameters of fully connected layers of these sizes, saturating.
std::uint64_t layers_size(const std::vector<std::size_t>& sizes) {
  constexpr std::uint64_t cap = std::uint64_t{1} << 63;
  std::uint64_t total = 0;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    const std::uint64_t a = sizes[l], b = sizes[l + 1];
    if (a != 0 && (b + 1) > cap / a) return cap;
    total += a * b + b;  // W and b
    if (total >= cap) return cap;
  }
  return total;
}
std::vector<std::size_t> mlp_sizes(const Config& c, std::size_t in, std::size_t classes, std::size_t width) {
  std::vector<std::size_t> s{in};
  if (width) s.insert(s.end(), std::min<std::size_t>(c.blocks, 1000) + 1, width);
  else s.insert(s.end(), c.hidden.begin(), c.hidden.end());
  s.push_back(classes);
  return s;
}
std::uint64_t linear_size(const Config&, std::size_t in, std::size_t classes) { return layers_size({in, classes}); }
std::uint64_t two_layer_size(const Config& c, std::size_t in, std::size_t classes) {
  return layers_size({in, c.hidden.empty() ? 0 : c.hidden[0], classes});
}
std::uint64_t mlp_size(const Config& c, std::size_t in, std::size_t classes) { return layers_size(mlp_sizes(c, in, classes, 0)); }
std::uint64_t residual_size(const Config& c, std::size_t in, std::size_t classes) {
  return layers_size(mlp_sizes(c, in, classes, c.hidden.empty() ? 0 : c.hidden[0]));
}

template <class T>
std::unique_ptr<nn::Module<T>> linear_model(const Config&, std::size_t in, std::size_t classes, Rng& rng) {
  return std::make_unique<nn::LinearClassifier<T>>(in, classes, rng);
}
template <class T>
std::unique_ptr<nn::Module<T>> two_layer(const Config& c, std::size_t in, std::size_t classes, Rng& rng) {
  return std::make_unique<nn::MLP<T>>(std::vector<std::size_t>{in, c.hidden.at(0), classes}, rng, mlp_options(c));
}
template <class T>
std::unique_ptr<nn::Module<T>> mlp(const Config& c, std::size_t in, std::size_t classes, Rng& rng) {
  return std::make_unique<nn::MLP<T>>(mlp_sizes(c, in, classes, 0), rng, mlp_options(c));
}
template <class T>
std::unique_ptr<nn::Module<T>> residual(const Config& c, std::size_t in, std::size_t classes, Rng& rng) {
  // in -> H, then `blocks` H -> H layers that add their input, then H -> classes.
  nn::MLPOptions o = mlp_options(c);
  o.residual = true;
  return std::make_unique<nn::MLP<T>>(mlp_sizes(c, in, classes, c.hidden.at(0)), rng, o);
}

std::size_t no_hidden(const Config&) { return 0; }
std::size_t one_hidden(const Config&) { return 1; }
std::size_t listed_hidden(const Config& c) { return c.hidden.size(); }
std::size_t residual_hidden(const Config& c) { return c.blocks + 1; }

}  // namespace

const std::vector<ModelEntry>& models() {
  static const std::vector<ModelEntry> table = {
      {"linear", "the linear classifier: scores = x W + b", "", &no_hidden, &linear_size,
       &linear_model<float>, &linear_model<double>},
      {"two-layer", "the two-layer net: W2 act(x W1 + b1) + b2", "hidden[0], activation, dropout",
       &one_hidden, &two_layer_size, &two_layer<float>, &two_layer<double>},
      {"mlp", "one hidden layer per size in --hidden", "hidden, activation, dropout", &listed_hidden,
       &mlp_size, &mlp<float>, &mlp<double>},
      {"residual", "x -> H, then --blocks layers h <- act(h W + b) + h, then -> classes",
       "hidden[0], blocks, activation, dropout", &residual_hidden, &residual_size, &residual<float>,
       &residual<double>},
  };
  return table;
}

template <class T>
std::unique_ptr<nn::Module<T>> make_model(const Config& c, std::size_t inputs, std::size_t classes, Rng& init) {
  const ModelEntry& e = entry(models(), c.model, "model");
  if constexpr (std::is_same_v<T, float>) return e.f32(c, inputs, classes, init);
  else return e.f64(c, inputs, classes, init);
}

// ---- losses and regularizers --------------------------------------------------------------

const std::vector<LossEntry>& losses() {
  static const std::vector<LossEntry> table = {
      {"softmax", "softmax cross-entropy: -log p(y)", &softmax_cross_entropy<float>, &softmax_cross_entropy<double>},
      {"svm", "multiclass SVM (hinge): sum_j max(0, s_j - s_y + 1)", &svm_loss<float>, &svm_loss<double>},
  };
  return table;
}

template <class T>
TensorT<T> data_loss(const std::string& loss, const TensorT<T>& scores, std::span<const std::int32_t> labels) {
  const LossEntry& e = entry(losses(), loss, "loss");
  if constexpr (std::is_same_v<T, float>) return e.f32(scores, labels);
  else return e.f64(scores, labels);
}

namespace {

// lambda * R on a slice of a weight matrix, adding lambda * dR/dw into g. The
// derivatives are the ops' kernels (kernels.hpp): square_grad for sum_squares,
// abs_grad for sum_abs; the sums are simd.hpp's, as the ops' forwards.
double no_penalty_slice(const float*, float*, std::size_t, double, double) { return 0.0; }
double l2_slice(const float* w, float* g, std::size_t n, double lambda, double) {
  const auto lam = static_cast<float>(lambda);
  for (std::size_t i = 0; i < n; ++i) g[i] += detail::square_grad(w[i], lam);
  return lambda * detail::sum_squares(w, n);
}
double l1_slice(const float* w, float* g, std::size_t n, double lambda, double) {
  const auto lam = static_cast<float>(lambda);
  for (std::size_t i = 0; i < n; ++i) g[i] += detail::abs_grad(w[i], lam);
  return lambda * detail::sum_abs(w, n);
}
double elastic_slice(const float* w, float* g, std::size_t n, double lambda, double beta) {
  return l2_slice(w, g, n, lambda * beta, 0.0) + l1_slice(w, g, n, lambda, 0.0);
}

template <class T>
TensorT<T> no_penalty(const std::vector<TensorT<T>>&, double) { return scalar<T>(T(0)); }
template <class T>
TensorT<T> l2_penalty(const std::vector<TensorT<T>>& w, double) { return l2(w); }
template <class T>
TensorT<T> l1_penalty(const std::vector<TensorT<T>>& w, double) { return l1(w); }
template <class T>
TensorT<T> elastic_penalty(const std::vector<TensorT<T>>& w, double beta) { return elastic_net(w, beta); }
}  // namespace

const std::vector<RegularizerEntry>& regularizers() {
  static const std::vector<RegularizerEntry> table = {
      {"none", "no penalty", &no_penalty<float>, &no_penalty<double>, &no_penalty_slice},
      {"l2", "sum W^2: prefers spread-out weights", &l2_penalty<float>, &l2_penalty<double>, &l2_slice},
      {"l1", "sum |W|: prefers sparse weights", &l1_penalty<float>, &l1_penalty<double>, &l1_slice},
      {"elastic", "beta * sum W^2 + sum |W|", &elastic_penalty<float>, &elastic_penalty<double>,
       &elastic_slice},
  };
  return table;
}

template <class T>
TensorT<T> regularization(const Config& c, const std::vector<TensorT<T>>& weights) {
  const RegularizerEntry& e = entry(regularizers(), c.reg, "reg");
  if (c.lambda == 0.0 || weights.empty()) return scalar<T>(T(0));
  TensorT<T> r;
  if constexpr (std::is_same_v<T, float>) r = e.f32(weights, c.beta);
  else r = e.f64(weights, c.beta);
  return r * static_cast<T>(c.lambda);
}

// ---- optimizers and schedules ---------------------------------------------------------------

optim::Settings optimizer_settings(const Config& c) {
  return optim::Settings{.lr = c.lr, .momentum = c.momentum, .beta1 = c.beta1, .beta2 = c.beta2,
                         .eps = c.eps, .alpha = c.alpha, .weight_decay = c.weight_decay};
}

std::unique_ptr<optim::Optimizer<float>> make_optimizer(const Config& c, optim::Params<float> params) {
  return optim::make<float>(c.optimizer, std::move(params), optimizer_settings(c));
}

namespace {
sched::Schedule constant_schedule(const Config& c, std::int64_t) { return sched::constant(c.lr); }
sched::Schedule step_schedule(const Config& c, std::int64_t steps) {
  // At 50% and 75% of the run; a run too short to tell them apart decays once
  // (step_decay needs strictly increasing milestones).
  std::vector<std::int64_t> milestones{steps / 2};
  if (steps * 3 / 4 > steps / 2) milestones.push_back(steps * 3 / 4);
  return sched::step_decay(c.lr, std::move(milestones), c.gamma);
}
sched::Schedule cosine_schedule(const Config& c, std::int64_t steps) { return sched::cosine(c.lr, steps, c.min_lr); }
sched::Schedule linear_schedule(const Config& c, std::int64_t steps) { return sched::linear_decay(c.lr, steps); }
sched::Schedule invsqrt_schedule(const Config& c, std::int64_t) { return sched::inverse_sqrt(c.lr); }
}  // namespace

const std::vector<ScheduleEntry>& schedules() {
  static const std::vector<ScheduleEntry> table = {
      {"constant", "lr all along", &constant_schedule},
      {"step", "times gamma at 50% and 75% of the run", &step_schedule},
      {"cosine", "cosine decay from lr to min_lr", &cosine_schedule},
      {"linear", "linear decay from lr to 0", &linear_schedule},
      {"invsqrt", "lr / sqrt(t)", &invsqrt_schedule},
  };
  return table;
}

sched::Schedule make_schedule(const Config& config, std::int64_t steps_per_epoch) {
  const ScheduleEntry& e = entry(schedules(), config.schedule, "schedule");
  // The linear scaling rule: the schedule peaks at lr * k, and the warm-up
  // climbs to it from lr (start factor 1/k) instead of from 0.
  Config c = config;
  double start = 0.0;
  if (c.base_batch > 0) {
    c.lr = sched::scale_lr(config.lr, static_cast<std::int64_t>(c.base_batch), static_cast<std::int64_t>(c.batch));
    start = std::min(1.0, static_cast<double>(c.base_batch) / static_cast<double>(c.batch));
  }
  const auto total = static_cast<std::int64_t>(c.epochs) * steps_per_epoch;
  const auto warm = static_cast<std::int64_t>(std::llround(c.warmup_epochs * static_cast<double>(steps_per_epoch)));
  const std::int64_t rest = std::max<std::int64_t>(1, total - warm);
  sched::Schedule s = e.make(c, rest);
  return warm > 0 ? sched::warmup(warm, std::move(s), start) : s;
}

// ---- data sets ------------------------------------------------------------------------------

namespace {
data::Dataset fashion(const std::filesystem::path& dir, std::string_view split) { return data::fashion_mnist(split, dir); }
data::Dataset mnist(const std::filesystem::path& dir, std::string_view split) { return data::load_idx_split(dir, split); }
data::Dataset cifar(const std::filesystem::path& dir, std::string_view split) { return data::cifar10(split, dir); }
data::Dataset spiral(const std::filesystem::path&, std::string_view split) {
  // A fixed seed per split: the same points every run, different for test.
  Rng rng(split == "test" ? 7919 : 104729);
  return data::spiral(3, split == "test" ? 100 : 300, rng);
}
}  // namespace

const std::vector<DatasetEntry>& datasets() {
  static const std::vector<DatasetEntry> table = {
      {"fashion-mnist", "Zalando's 28x28 clothing images (Debian: dataset-fashion-mnist)", data::kFashionMnistDir,
       true, &fashion},
      {"mnist", "28x28 digits in the same IDX layout (bring your own copy)", "", true, &mnist},
      {"cifar10", "32x32 colour images, binary batches (bring your own copy)", "", true, &cifar},
      {"spiral", "the CS231n 3-class spiral of 2-D points (synthetic)", "", false, &spiral},
  };
  return table;
}

data::Dataset load_dataset(const std::string& name, const std::filesystem::path& dir, std::string_view split) {
  const DatasetEntry& e = entry(datasets(), name, "dataset");
  const std::filesystem::path where = dir.empty() ? std::filesystem::path(e.default_dir) : dir;
  if (e.needs_dir && where.empty())
    throw ValueError(fmt::format("{}: --data-dir is required (no packaged copy)", name));
  return e.load(where, split);
}

template std::unique_ptr<nn::Module<float>> make_model(const Config&, std::size_t, std::size_t, Rng&);
template std::unique_ptr<nn::Module<double>> make_model(const Config&, std::size_t, std::size_t, Rng&);
template TensorT<float> data_loss<float>(const std::string&, const TensorT<float>&, std::span<const std::int32_t>);
template TensorT<double> data_loss<double>(const std::string&, const TensorT<double>&, std::span<const std::int32_t>);
template TensorT<float> regularization<float>(const Config&, const std::vector<TensorT<float>>&);
template TensorT<double> regularization<double>(const Config&, const std::vector<TensorT<double>>&);

}  // namespace slope::train
