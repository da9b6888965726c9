// The training loop, evaluation, and exact save/resume.
#include <chrono>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "slope/io.hpp"
#include "slope/runtime.hpp"
#include "slope/train.hpp"

namespace slope::train {

namespace {

constexpr const char* kKind = "slope-train-checkpoint";
constexpr std::uint64_t kSplitSalt = 0x5eed5eed;  // the split's Rng differs from the init's

// NaN and Inf are the floats whose exponent bits are all ones; testing the bits
// (an OR over the whole array) vectorizes, unlike a loop of std::isfinite.
bool all_finite(const float* v, std::size_t n) {
  std::uint32_t bad = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, v + i, sizeof bits);
    bad |= static_cast<std::uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}

}  // namespace

Trainer::Trainer(Config config, const data::Dataset& train) : config_(std::move(config)), train_(train) {
  config_.validate();
  if (train.size() == 0) throw ValueError(fmt::format("{}: the training set is empty", train.name));
  if (config_.val_size >= train.size())
    throw ValueError(fmt::format("val_size must be below the {} training examples: got {}",
                                 train.size(), config_.val_size));
  Rng split_rng(config_.seed ^ kSplitSalt);
  split_ = data::train_val_split(train.size(), config_.val_size, split_rng);
  prep_ = data::fit_preprocess(train, split_.train, config_.center);
  Rng init_rng(config_.seed);
  model_ = std::make_unique<nn::MLP<float>>(
      config_.layer_sizes(train.dim(), train.num_classes()), init_rng,
      config_.model == "linear" ? nn::Init::xavier() : nn::Init::he());
  params_ = model_->parameters();
  optimizer_ = make_optimizer(config_, params_);
  dp_ = std::make_unique<DataParallel<float>>(params_);
  batches_ = std::make_unique<data::Minibatches>(split_.train, config_.batch, Rng(config_.seed + 1));
  schedule_ = make_schedule(config_, static_cast<std::int64_t>(batches_->batches_per_epoch()));
  if (config_.engine == "fused")
    fused_ = std::make_unique<FusedStep<float>>(
        *model_, FusedOptions{.loss = config_.loss, .reg = config_.reg, .lambda = config_.lambda,
                              .beta = config_.beta, .dropout = config_.dropout,
                              .max_batch = std::min(config_.batch, split_.train.size()),
                              .threads = num_threads()});
}

Trainer::~Trainer() = default;

std::size_t Trainer::epochs_done() const { return batches_->epoch(); }

std::int64_t Trainer::total_steps() const {
  return static_cast<std::int64_t>(config_.epochs * batches_->batches_per_epoch());
}

FusedResult Trainer::graph_step(std::span<const std::size_t> idx, Rng& dropout_rng) {
  const std::size_t n = idx.size();
  if (labels_.size() < n) labels_.resize(n);
  hits_.assign(num_threads(), 0);
  const std::uint64_t key = dropout_rng.next();
  const double data_part = dp_->step(n, [&](const Shard& s) {
    const auto part = idx.subspan(s.begin, s.rows());
    Array<float> x = Array<float>::from_shape({s.rows(), train_.dim()});
    std::int32_t* y = labels_.data() + s.begin;
    data::gather(train_, part, prep_, x.data(), y);
    const Tensor scores = (*model_)(Tensor(std::move(x)), config_.dropout, dropout_rng);
    const auto pred = nn::argmax_rows(scores.value());
    std::size_t h = 0;
    for (std::size_t i = 0; i < s.rows(); ++i) h += pred[i] == y[i];
    hits_[s.index] = h;
    return data_loss(config_.loss, scores, std::span<const std::int32_t>(y, s.rows()));
  }, key);
  const Tensor reg_part = regularization(config_, model_->weights());
  if (reg_part.requires_grad()) reg_part.backward();
  const double value = data_part + reg_part.item();
  if (!std::isfinite(value)) diverged(idx, value);
  FusedResult r{data_part, reg_part.item(), 0};
  for (std::size_t h : hits_) r.hits += h;
  return r;
}

void Trainer::diverged(std::span<const std::size_t> idx, double value) const {
  // Find the first op at fault by replaying the forward pass with checks on.
  std::string culprit = "no op produced it in forward, so it came from the data";
  try {
    xt::xarray<float> x = xt::xarray<float>::from_shape({idx.size(), train_.dim()});
    std::vector<std::int32_t> labels(idx.size());
    data::gather(train_, idx, prep_, x.data(), labels.data());
    AnomalyGuard anomaly;
    NoGradGuard no_grad;
    (void)(data_loss(config_.loss, (*model_)(Tensor(std::move(x))), labels) +
           regularization(config_, model_->weights()));
  } catch (const NumericError& e) {
    culprit = e.what();
  }
  throw NumericError(fmt::format(
      "step {}: the loss became {} ({}); the run is diverging: lower the learning rate "
      "(it was {:.3g})", step_ + 1, value, culprit, optimizer_->lr()));
}

EpochStats Trainer::run_epoch(const BatchCallback& on_batch) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const std::vector<Tensor>& params = params_;
  double data_sum = 0.0, reg_sum = 0.0;
  std::size_t seen = 0, hits = 0, batch_index = 0;
  while (batches_->has_next()) {
    const auto idx = batches_->next();
    const std::size_t n = idx.size();
    // Dropout masks come from an Rng seeded by (seed, step): a resumed run
    // draws the same masks without keeping any generator state.
    Rng dropout_rng(config_.seed * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(step_) + 1);
    const FusedResult r = fused_ ? fused_->run(train_, idx, prep_, dropout_rng)
                                 : graph_step(idx, dropout_rng);
    const double value = r.data_loss + r.reg_loss;
    if (!std::isfinite(value)) diverged(idx, value);
    if (config_.clip_norm > 0.0) optim::clip_grad_norm(params, config_.clip_norm);
    optimizer_->set_lr(schedule_(step_));
    if (fused_) fused_->update(*optimizer_);  // the same rule, over the step's threads
    else optimizer_->step();
    ++step_;
    // The update itself can overflow (a huge learning rate times a finite
    // gradient) while the loss that preceded it was finite. Stop here, so that
    // no later save() writes NaN or Inf weights over the last good checkpoint.
    for (const auto& p : params) {
      const float* v = p.data();
      if (all_finite(v, p.size())) continue;
      std::size_t i = 0;
      while (std::isfinite(v[i])) ++i;
      throw NumericError(fmt::format(
          "step {}: the {} update left {} in {} (entry {}); the run is diverging: lower the "
          "learning rate (it was {:.3g})",
          step_, config_.optimizer, std::isnan(v[i]) ? "NaN" : "Inf", p.name(), i, optimizer_->lr()));
    }
    data_sum += r.data_loss * static_cast<double>(n);
    reg_sum += r.reg_loss * static_cast<double>(n);
    hits += r.hits;
    seen += n;
    if (on_batch) on_batch(batch_index, batches_->batches_per_epoch(), value);
    ++batch_index;
  }
  batches_->next_epoch();
  const double seconds = std::chrono::duration<double>(clock::now() - start).count();

  EpochStats s;
  s.epoch = epochs_done();
  s.data_loss = seen ? data_sum / static_cast<double>(seen) : 0.0;
  s.reg_loss = seen ? reg_sum / static_cast<double>(seen) : 0.0;
  s.train_accuracy = seen ? static_cast<double>(hits) / static_cast<double>(seen) : 0.0;
  s.lr = optimizer_->lr();
  s.seconds = seconds;
  s.examples_per_second = seconds > 0.0 ? static_cast<double>(seen) / seconds : 0.0;
  if (!split_.val.empty()) {
    const Evaluation v = evaluate(train_, split_.val);
    s.val_accuracy = v.accuracy;
    s.val_loss = v.data_loss;
  }
  return s;
}

Evaluation Trainer::evaluate(const data::Dataset& data, std::span<const std::size_t> indices) const {
  NoGradGuard no_grad;
  std::vector<std::size_t> all;
  if (indices.empty()) {
    all = data::all_indices(data.size());
    indices = all;
  }
  if (data.dim() != train_.dim())
    throw ShapeError(fmt::format("evaluate: {} has {} values per example, the model takes {}",
                                 data.name, data.dim(), train_.dim()));
  constexpr std::size_t kChunk = 2000;
  double loss_sum = 0.0;
  std::size_t hits = 0;
  std::vector<std::int32_t> labels;
  for (std::size_t at = 0; at < indices.size(); at += kChunk) {
    const auto part = indices.subspan(at, std::min(kChunk, indices.size() - at));
    xt::xarray<float> x = xt::xarray<float>::from_shape({part.size(), data.dim()});
    labels.resize(part.size());
    data::gather(data, part, prep_, x.data(), labels.data());
    const Tensor scores = (*model_)(Tensor(std::move(x)));
    loss_sum += data_loss(config_.loss, scores, labels).item() * static_cast<double>(part.size());
    const auto pred = nn::argmax_rows(scores.value());
    for (std::size_t i = 0; i < part.size(); ++i) hits += pred[i] == labels[i];
  }
  const auto n = static_cast<double>(indices.size());
  return {indices.empty() ? 0.0 : loss_sum / n, indices.empty() ? 0.0 : hits / n};
}

void Trainer::save(const std::filesystem::path& path) const {
  io::Checkpoint ckpt;
  ckpt.set_meta("kind", kKind);
  ckpt.set_meta("config", config_.to_text());
  ckpt.set_meta("dataset", train_.name);
  ckpt.set_meta("step", std::to_string(step_));
  for (const auto& p : model_->parameters())
    ckpt.put<float>("param/" + p.name(), std::span(p.data(), p.size()), p.shape());
  const optim::OptimizerState st = optimizer_->state();
  ckpt.set_meta("optim/kind", st.kind);
  for (const auto& [name, v] : st.scalars) ckpt.set_meta("optim/scalar/" + name, fmt::format("{:a}", v));
  for (const auto& [name, list] : st.tensors)
    for (std::size_t i = 0; i < list.size(); ++i)
      ckpt.put<double>(fmt::format("optim/{}/{}", name, i), std::span(list[i].data(), list[i].size()),
                       Shape(list[i].shape().begin(), list[i].shape().end()));
  data::put_position(ckpt, "batches/", batches_->position());
  ckpt.save(path);
}

std::unique_ptr<Trainer> Trainer::resume(const std::filesystem::path& path,
                                         const data::Dataset& train, std::size_t epochs) {
  const io::Checkpoint ckpt = io::Checkpoint::load(path);
  if (!ckpt.has_meta("kind") || ckpt.meta("kind") != kKind)
    throw IoError(fmt::format("{}: not a slope training checkpoint", path.string()));
  Config config = Config::from_text(ckpt.meta("config"));
  if (epochs) config.epochs = epochs;
  if (ckpt.meta("dataset") != train.name)
    throw ValueError(fmt::format("{}: saved on {}, cannot resume on {}", path.string(),
                                 ckpt.meta("dataset"), train.name));
  auto t = std::make_unique<Trainer>(config, train);
  for (auto& p : t->model_->parameters()) {
    const Shape shape = p.shape();
    const auto values = ckpt.get<float>("param/" + p.name(), &shape);
    std::copy(values.begin(), values.end(), p.value().data());
  }
  optim::OptimizerState st;
  st.kind = ckpt.meta("optim/kind");
  for (const auto& [key, value] : ckpt.metadata())
    if (key.starts_with("optim/scalar/")) st.scalars[key.substr(13)] = std::strtod(value.c_str(), nullptr);
  for (const auto& [key, array] : ckpt.arrays()) {
    if (!key.starts_with("optim/")) continue;
    const auto slash = key.rfind('/');
    const std::string name = key.substr(6, slash - 6);
    auto& list = st.tensors[name];
    const std::size_t i = std::stoul(key.substr(slash + 1));
    if (list.size() <= i) list.resize(i + 1);
    const auto values = array.to_vector<double>();
    list[i] = xt::xarray<double>::from_shape(array.shape);
    std::copy(values.begin(), values.end(), list[i].data());
  }
  t->optimizer_->load_state(st);
  t->batches_->restore(data::get_position(ckpt, "batches/"));
  t->step_ = std::stoll(ckpt.meta("step"));
  return t;
}

}  // namespace slope::train
