// The data-parallel step (see data_parallel.hpp).
#include "slope/data_parallel.hpp"

#include <algorithm>
#include <cmath>

#include "blas.hpp"
#include "op_support.hpp"
#include "slope/runtime.hpp"

namespace slope {

// One shard's working state, reused every step: gradient buffers (lane 0
// writes the parameters' own), whether each was written, the loss it returned.
template <class T>
struct DataParallel<T>::Lane {
  std::vector<Array<T>> own;     // lanes 1..: one buffer per parameter
  std::vector<Array<T>*> grads;  // where this lane's gradients go
  std::vector<std::uint8_t> written;
  double loss = 0.0;
};

template <class T>
DataParallel<T>::DataParallel(std::vector<TensorT<T>> params, DataParallelOptions options)
    : params_(std::move(params)), options_(options) {
  if (params_.empty()) throw ValueError("DataParallel: the parameter list is empty");
  if (options_.threads < 0 || options_.threads > kMaxThreads)
    throw ValueError(fmt::format("DataParallel: threads must be in [0, {}]: got {}", kMaxThreads,
                                 options_.threads));
  if (!(options_.min_flops_per_shard >= 0.0) || !std::isfinite(options_.min_flops_per_shard))
    throw ValueError(fmt::format("DataParallel: min_flops_per_shard must be finite and >= 0: got {}",
                                 options_.min_flops_per_shard));
  threads_ = static_cast<std::size_t>(options_.threads > 0 ? options_.threads : num_threads());
  double entries = 0.0;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    TensorT<T>& p = params_[i];
    if (!p.requires_grad())
      throw ValueError(fmt::format("DataParallel: parameter {} ({}) does not require a gradient", i,
                                   p.name().empty() ? "unnamed" : p.name()));
    for (std::size_t j = 0; j < i; ++j)
      if (params_[j].is_same(p))
        throw ValueError(fmt::format("DataParallel: parameter {} ({}) is listed twice", i,
                                     p.name().empty() ? "unnamed" : p.name()));
    nodes_.push_back(p.node().get());
    entries += static_cast<double>(p.size());
    // Every parameter gets a gradient buffer now; steps overwrite it.
    auto& node = *p.node();
    if (!node.has_grad || node.grad.size() != node.value.size()) {
      node.grad = detail::new_array<T>(node.value.shape());
      node.grad.fill(T(0));
      node.has_grad = true;
    }
  }
  flops_per_row_ = 6.0 * entries;
  for (std::size_t t = 0; t < threads_; ++t) {
    auto lane = std::make_unique<Lane>();
    lane->written.assign(params_.size(), 0);
    if (t > 0)
      for (auto& p : params_) lane->own.push_back(detail::new_array<T>(p.node()->value.shape()));
    for (std::size_t i = 0; i < params_.size(); ++i)
      lane->grads.push_back(t == 0 ? &params_[i].node()->grad : &lane->own[i]);
    lanes_.push_back(std::move(lane));
  }
}

template <class T>
DataParallel<T>::~DataParallel() = default;

template <class T>
std::size_t DataParallel<T>::shards_for(std::size_t rows) const {
  if (rows == 0) return 1;
  const double work = flops_per_row_ * static_cast<double>(rows);
  double by_work = options_.min_flops_per_shard > 0.0 ? std::floor(work / options_.min_flops_per_shard)
                                                      : static_cast<double>(threads_);
  by_work = std::max(1.0, by_work);
  return std::min({threads_, rows, static_cast<std::size_t>(std::min(by_work, 1e9))});
}

template <class T>
void DataParallel<T>::run_shard(Lane& lane, const Shard& shard, const LossFn& loss,
                                std::uint64_t key, bool anomaly) {
  // Gradients of the parameters go to this lane's buffers; random ops draw
  // from the step's key and the shard's rows; nested loops run inline.
  std::fill(lane.written.begin(), lane.written.end(), 0);
  struct Restore {
    ~Restore() {
      detail::grad_sink<T>() = nullptr;
      detail::shard_rows() = nullptr;
    }
  } restore;
  detail::GradSink<T> sink{std::span<const detail::Node<T>* const>(nodes_),
                           std::span<Array<T>* const>(lane.grads), std::span<std::uint8_t>(lane.written)};
  detail::ShardRows rows{key, shard.begin, 0};
  detail::grad_sink<T>() = &sink;
  detail::shard_rows() = &rows;
  std::unique_ptr<AnomalyGuard> guard;
  if (anomaly) guard = std::make_unique<AnomalyGuard>();
  TensorT<T> l = loss(shard);
  if (l.size() != 1)
    throw ShapeError(fmt::format("DataParallel: the shard loss must have one entry: got shape {}",
                                 to_string(l.shape())));
  lane.loss = static_cast<double>(l.item());
  if (!l.requires_grad())
    throw Error("DataParallel: the shard loss does not depend on any parameter");
  // L = sum_s (n_s / N) L_s: seed this shard's backward with n_s / N.
  Array<T> seed = detail::new_array<T>(l.value().shape());
  seed.fill(static_cast<T>(static_cast<double>(shard.rows()) / static_cast<double>(shard.total)));
  l.backward(seed);
}

template <class T>
double DataParallel<T>::step(std::size_t rows, const LossFn& loss, std::uint64_t key) {
  if (rows == 0) throw ValueError("DataParallel::step: the batch is empty");
  if (!grad_enabled()) throw Error("DataParallel::step: called under NoGradGuard (no graph to differentiate)");
  const std::size_t shards = shards_for(rows);
  const bool anomaly = anomaly_enabled();
  // Lane 0 writes the parameters' own gradients: make sure they are value-sized
  // (someone may have replaced or cleared them since the last step).
  for (auto& p : params_) {
    auto& node = *p.node();
    if (node.grad.size() != node.value.size()) node.grad = detail::new_array<T>(node.value.shape());
    else if (!detail::shapes_equal(node.grad, node.value)) node.grad.reshape(node.value.shape());
  }
  const auto shard_of = [&](std::size_t s) {
    return Shard{s, rows * s / shards, rows * (s + 1) / shards, rows};
  };
  if (shards == 1) {
    run_shard(*lanes_[0], shard_of(0), loss, key, anomaly);
  } else {
    // Shards side by side, each with single-threaded BLAS. If the team is
    // busy (another thread's step), the shards run here one after another:
    // the same shards, so the same result.
    detail::BlasThreads one(1);
    std::unique_lock lock(detail::run_lock(), std::try_to_lock);
    auto work = [&](int t) {
      const auto s = static_cast<std::size_t>(t);
      if (s >= shards) return;
      detail::ParallelRegion region;
      run_shard(*lanes_[s], shard_of(s), loss, key, anomaly);
    };
    if (lock.owns_lock() && detail::thread_pool().size() >= static_cast<int>(shards)) {
      detail::thread_pool().run(work);
    } else {
      for (std::size_t s = 0; s < shards; ++s) work(static_cast<int>(s));
    }
  }
  reduce(shards);
  double total = 0.0;
  for (std::size_t s = 0; s < shards; ++s) {
    const Shard sh = shard_of(s);
    total += lanes_[s]->loss * static_cast<double>(sh.rows()) / static_cast<double>(rows);
  }
  return total;
}

template <class T>
void DataParallel<T>::reduce(std::size_t shards) {
  // grad = lane 0's share + lane 1's + ..., entry by entry in lane order (so
  // the sum does not depend on how the entries are split over threads).
  for (std::size_t i = 0; i < params_.size(); ++i) {
    auto& node = *params_[i].node();
    T* __restrict dst = node.grad.data();
    const std::size_t n = node.grad.size();
    if (!lanes_[0]->written[i]) std::fill(dst, dst + n, T(0));
    node.has_grad = true;
    for (std::size_t s = 1; s < shards; ++s) {
      if (!lanes_[s]->written[i]) continue;
      const T* __restrict src = lanes_[s]->own[i].data();
      detail::for_each_index(n, [dst, src](std::size_t j) { dst[j] += src[j]; });
    }
  }
}

template class DataParallel<float>;
template class DataParallel<double>;

}  // namespace slope
