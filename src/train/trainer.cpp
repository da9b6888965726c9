// The training loop and evaluation.
#include <chrono>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "slope/runtime.hpp"
#include "slope/train/registry.hpp"
#include "slope/train/trainer.hpp"

namespace slope::train {

namespace {

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

// Rows whose largest score (the first, on ties) is at the label.
std::size_t count_hits(const Tensor& scores, std::span<const std::int32_t> y) {
  if (scores.dim() != 2 || scores.shape()[0] != y.size()) return 0;  // the loss reports the shapes
  const std::size_t c = scores.shape()[1];
  std::size_t hits = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const float* row = scores.data() + i * c;
    std::size_t best = 0;
    for (std::size_t j = 1; j < c; ++j)
      if (row[j] > row[best]) best = j;
    hits += static_cast<std::int32_t>(best) == y[i];
  }
  return hits;
}

LossFn configured_loss(const Config& c) {
  const LossEntry& e = entry(losses(), c.loss, "loss");
  return [f = e.f32](const Tensor& scores, std::span<const std::int32_t> y) { return f(scores, y); };
}

// Weight decay on the weight matrices; biases (1-D) get none unless asked.
optim::Params<float> decay_groups(const nn::Module<float>& m, const Config& c) {
  optim::ParamGroup<float> weights, biases;
  for (auto& p : m.named_parameters()) (p.second.dim() >= 2 || c.decay_biases ? weights : biases).params.push_back(p);
  biases.weight_decay = 0.0;
  std::vector<optim::ParamGroup<float>> groups;
  if (!weights.params.empty()) groups.push_back(std::move(weights));
  if (!biases.params.empty()) groups.push_back(std::move(biases));
  return groups;
}

}  // namespace

// What one minibatch step measured.
struct Trainer::Step {
  double data_loss = 0.0, reg_loss = 0.0;
  std::size_t hits = 0;
  bool fused_update = false;  // the optimizer already stepped, slice by slice
};

Trainer::Trainer(Config config, const data::Dataset& train) : Trainer(std::move(config), train, nullptr) {}

Trainer::Trainer(Config config, const data::Dataset& train, ModelFactory model, LossFn loss)
    : config_(std::move(config)), train_(train) {
  config_.validate();
  if (train.size() == 0) throw ValueError(fmt::format("{}: the training set is empty", train.name));
  if (config_.val_size >= train.size())
    throw ValueError(fmt::format("val_size must be below the {} training examples: got {}",
                                 train.size(), config_.val_size));
  Rng split_rng(config_.seed ^ kSplitSalt);
  split_ = data::train_val_split(train.size(), config_.val_size, split_rng);
  prep_ = data::fit_preprocess(train, split_.train, config_.center);
  Rng init_rng(config_.seed);
  model_ = model ? model(init_rng) : make_model<float>(config_, train.dim(), train.num_classes(), init_rng);
  if (!model_) throw ValueError("Trainer: the model factory returned no model");
  custom_model_ = static_cast<bool>(model);
  nn::name_parameters(*model_);
  model_->train();
  loss_ = loss ? std::move(loss) : configured_loss(config_);
  params_ = model_->parameters();
  weights_ = nn::weights(*model_);
  optimizer_ = make_optimizer(config_, decay_groups(*model_, config_));
  parallel_ = std::make_unique<DataParallel<float>>(params_);
  // The penalty applies to the weight matrices (nn::weights' rule).
  for (const auto& p : params_) penalize_.push_back(p.dim() >= 2 ? 1 : 0);
  // The optimizer holds the parameters in its groups' order.
  for (const auto& p : params_)
    for (std::size_t k = 0; k < optimizer_->parameters().size(); ++k)
      if (optimizer_->parameters()[k].is_same(p)) optimizer_index_.push_back(k);
  batches_ = std::make_unique<data::Minibatches>(split_.train, config_.batch, Rng(config_.seed + 1));
  schedule_ = make_schedule(config_, static_cast<std::int64_t>(batches_->batches_per_epoch()));
  labels_.resize(std::min(config_.batch, split_.train.size()));
  hits_.resize(static_cast<std::size_t>(kMaxThreads));
  reg_parts_.resize(parallel_->max_parts());
}

Trainer::~Trainer() = default;

std::size_t Trainer::epochs_done() const { return batches_->epoch(); }

std::int64_t Trainer::total_steps() const {
  return static_cast<std::int64_t>(config_.epochs * batches_->batches_per_epoch());
}

Trainer::Step Trainer::train_step(std::span<const std::size_t> idx) {
  const std::size_t n = idx.size(), dim = train_.dim();
  if (n > labels_.size()) labels_.resize(n);
  std::fill(hits_.begin(), hits_.end(), 0);
  std::fill(reg_parts_.begin(), reg_parts_.end(), 0.0);
  // Dropout masks come from (seed, step): a resumed run draws the same masks
  // without keeping any generator state, on any number of threads.
  const std::uint64_t key = config_.seed * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(step_) + 1;
  // Without clipping (which needs the whole gradient's norm first), the
  // optimizer updates each slice of the parameters right where the shards'
  // gradients are summed, on the same threads.
  optimizer_->set_lr(schedule_(step_));
  const bool fused_update = config_.clip_norm == 0.0;
  if (fused_update) optimizer_->begin_step();
  update_failed_ = false;
  const RegularizerEntry& penalty = entry(regularizers(), config_.reg, "reg");
  const bool penalized = config_.lambda != 0.0;
  // Each shard gathers its own rows and runs the model and the data loss (a
  // mean over its rows). The weight penalty, a function of the weights alone,
  // is added in the finishing pass, slice by slice where the gradients are
  // summed: lambda * dR/dw into the gradient, lambda * R into the loss (the
  // same formula as regularization(), whose kernels it shares), so it costs
  // no pass of its own over the weights.
  const double data = parallel_->step(n, [&](const Shard& s) {
    Array<float> x = Array<float>::from_shape({s.rows(), dim});
    const std::span<std::int32_t> y(labels_.data() + s.begin, s.rows());
    data::gather<float>(train_, idx.subspan(s.begin, s.rows()), prep_, std::span<float>(x.data(), x.size()), y);
    const Tensor scores = model_->forward(Tensor(std::move(x)));
    hits_[s.index] = count_hits(scores, y);
    return loss_(scores, y);
  }, key, DataParallel<float>::SliceFn([&](std::size_t part, std::size_t i, std::size_t lo, std::size_t hi) {
    float* w = params_[i].node()->value.data();
    if (penalized && penalize_[i])
      reg_parts_[part] += penalty.fused(w + lo, params_[i].node()->grad.data() + lo, hi - lo, config_.lambda,
                                        config_.beta);
    if (!fused_update) return;
    optimizer_->update(optimizer_index_[i], lo, hi);
    if (!all_finite(w + lo, hi - lo)) update_failed_ = true;
  }));
  Step r;
  r.data_loss = data;
  for (double part : reg_parts_) r.reg_loss += part;
  r.fused_update = fused_update && std::isfinite(data);
  for (std::size_t h : hits_) r.hits += h;
  if (comm_->size() > 1) {  // the other processes' rows' hits (the loss is summed already)
    double hits = static_cast<double>(r.hits);
    comm_->all_reduce_sum(std::span<double>(&hits, 1));
    r.hits = static_cast<std::size_t>(hits);
  }
  return r;
}

namespace {
// FNV-1a: a fingerprint of text, the same on every machine.
std::uint64_t fingerprint(const std::string& text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char ch : text) h = (h ^ ch) * 0x100000001b3ULL;
  return h;
}
}  // namespace

void Trainer::distribute(dist::Communicator& comm) {
  if (comm.size() < 1 || comm.rank() < 0 || comm.rank() >= comm.size())
    throw ValueError(fmt::format("distribute: rank {} of {} processes", comm.rank(), comm.size()));
  // The processes must run the same thing: compare fingerprints of each part
  // so that the message can say which differs.
  const std::pair<const char*, std::string> parts[] = {
      {"configuration", config_.to_text()},
      {"training data", fmt::format("{} {} {}x{}x{} {}", train_.name, train_.size(), train_.channels, train_.rows,
                                    train_.cols, preprocess_text(prep_))},
      {"model", model_->type_name() + " " + model_->describe()},
      {"step", std::to_string(step_)},
  };
  for (const auto& [what, text] : parts) {
    const auto [lo, hi] = comm.min_max(fingerprint(text));
    if (lo != hi)
      throw Error(fmt::format("rank {} of {}: the processes' {} differ: every process must be started with the "
                              "same options and data",
                              comm.rank(), comm.size(), what));
  }
  if (comm.size() > 1) {
    // Rank 0's state on every process (parameters, optimizer state, data
    // position), as the bytes of a checkpoint: validated like a file.
    std::vector<std::uint8_t> bytes;
    if (comm.rank() == 0) bytes = checkpoint().serialize();
    std::uint64_t length = bytes.size();
    comm.broadcast(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(&length), sizeof length), 0);
    if (comm.rank() != 0) {
      // The size must be what this process's own state takes, give or take
      // the text of the optimizer's scalars: never allocate what a damaged
      // message claims.
      const std::uint64_t own = checkpoint().serialize().size();
      if (length > own + (std::uint64_t{1} << 20))
        throw Error(fmt::format("rank {}: rank 0's state is {} bytes, this process's {}", comm.rank(), length, own));
      bytes.resize(length);
    }
    comm.broadcast(bytes, 0);
    if (comm.rank() != 0) {
      const io::Checkpoint ckpt = io::Checkpoint::deserialize(bytes, "rank 0's state");
      try {
        restore(ckpt);
      } catch (const Error& e) {
        throw Error(fmt::format("rank {}: rank 0's state does not fit this process's run: {}", comm.rank(), e.what()));
      }
    }
  }
  DataParallelOptions options;
  options.comm = &comm;
  parallel_ = std::make_unique<DataParallel<float>>(params_, options);
  comm_ = &comm;
}

void Trainer::diverged(std::span<const std::size_t> idx, double value) const {
  // Find the first op at fault by replaying the step's forward pass with
  // checks on: the same model and loss code that training runs.
  std::string culprit = "no op produced it in forward, so it came from the data";
  try {
    data::Batch<float> b = data::batch<float>(train_, idx, prep_);
    AnomalyGuard anomaly;
    NoGradGuard no_grad;
    (void)(loss_(model_->forward(b.x), b.y) + regularization(config_, weights_));
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
  model_->train();
  double data_sum = 0.0, reg_sum = 0.0;
  std::size_t seen = 0, hits = 0, batch_index = 0;
  while (batches_->has_next()) {
    const auto idx = batches_->next();
    const std::size_t n = idx.size();
    const Step r = train_step(idx);
    const double value = r.data_loss + r.reg_loss;
    if (!std::isfinite(value)) diverged(idx, value);
    if (!r.fused_update) {
      optim::clip_grad_norm(params_, config_.clip_norm);
      optimizer_->step();
      for (const auto& p : params_) update_failed_ = update_failed_ || !all_finite(p.data(), p.size());
    }
    ++step_;
    // The update itself can overflow (a huge learning rate times a finite
    // gradient) while the loss that preceded it was finite. Stop here, so that
    // no later save() writes NaN or Inf weights over the last good checkpoint.
    if (update_failed_) {
      for (const auto& p : params_) {
        const float* v = p.data();
        if (all_finite(v, p.size())) continue;
        std::size_t i = 0;
        while (std::isfinite(v[i])) ++i;
        throw NumericError(fmt::format(
            "step {}: the {} update left {} in {} (entry {}); the run is diverging: lower the "
            "learning rate (it was {:.3g})",
            step_, config_.optimizer, std::isnan(v[i]) ? "NaN" : "Inf", p.name(), i, optimizer_->lr()));
      }
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
  if (data.dim() != train_.dim() || data.rows != train_.rows || data.cols != train_.cols ||
      data.channels != train_.channels)
    throw ShapeError(fmt::format("evaluate: {} holds {}x{}x{} examples, the model was trained on {}x{}x{}",
                                 data.name, data.channels, data.rows, data.cols, train_.channels,
                                 train_.rows, train_.cols));
  return train::evaluate(*model_, data, prep_, loss_, indices);
}

Evaluation evaluate(nn::Module<float>& model, const data::Dataset& data, const data::Preprocess& prep,
                    const LossFn& loss, std::span<const std::size_t> indices) {
  NoGradGuard no_grad;
  // Evaluation mode while it runs (dropout off), the previous mode after.
  struct Mode {
    nn::Module<float>& m;
    bool was;
    ~Mode() { m.train(was); }
  } mode{model, model.is_training()};
  model.eval();
  std::vector<std::size_t> all;
  if (indices.empty()) {
    all = data::all_indices(data.size());
    indices = all;
  }
  // Chunks of 500 rows: large enough for efficient matrix products, small
  // enough that their activations (which the pool keeps for the next
  // evaluation) stay a few MB: 2000-row chunks cost 15 MB of peak RSS.
  constexpr std::size_t kChunk = 500;
  double loss_sum = 0.0;
  std::size_t hits = 0;
  for (std::size_t at = 0; at < indices.size(); at += kChunk) {
    const auto part = indices.subspan(at, std::min(kChunk, indices.size() - at));
    const data::Batch<float> b = data::batch<float>(data, part, prep);
    const Tensor scores = model.forward(b.x);
    loss_sum += loss(scores, b.y).item() * static_cast<double>(part.size());
    hits += count_hits(scores, b.y);
  }
  const auto n = static_cast<double>(indices.size());
  return {indices.empty() ? 0.0 : loss_sum / n, indices.empty() ? 0.0 : static_cast<double>(hits) / n};
}

}  // namespace slope::train
