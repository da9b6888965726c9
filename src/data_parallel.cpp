// The data-parallel step (see data_parallel.hpp).
#include "slope/data_parallel.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <thread>

#include "blas.hpp"
#include "op_support.hpp"
#include "shard_sink.hpp"
#include "slope/distributed.hpp"
#include "slope/runtime.hpp"

namespace slope {

// One shard's working state, reused every step: gradient buffers (lane 0
// writes the parameters' own), whether each was written, the loss it returned.
template <class T>
struct DataParallel<T>::Lane {
  std::vector<Array<T>> own;     // lanes 1..: one buffer per parameter
  std::vector<Array<T>*> grads;  // where this lane's gradients go
  std::vector<std::uint8_t> written;
  std::vector<detail::DeferredProduct<T>> deferred;  // weight products left to the finishing pass
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
    lane->deferred.reserve(16);
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
                                std::uint64_t key, bool anomaly, bool defer) {
  // Gradients of the parameters go to this lane's buffers; random ops draw
  // from the step's key and the shard's rows; nested loops run inline. The
  // last step's deferred products are released here, on the thread that
  // made their arrays (so its pool takes them back).
  std::fill(lane.written.begin(), lane.written.end(), 0);
  lane.deferred.clear();
  struct Restore {
    ~Restore() {
      detail::grad_sink<T>() = nullptr;
      detail::shard_rows() = nullptr;
    }
  } restore;
  detail::GradSink<T> sink{std::span<const detail::Node<T>* const>(nodes_),
                           std::span<Array<T>* const>(lane.grads), std::span<std::uint8_t>(lane.written),
                           defer ? &lane.deferred : nullptr};
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
double DataParallel<T>::step(std::size_t rows, const LossFn& loss, std::uint64_t key, SliceFn after) {
  if (rows == 0) throw ValueError("DataParallel::step: the batch is empty");
  if (!grad_enabled()) throw Error("DataParallel::step: called under NoGradGuard (no graph to differentiate)");
  dist::Communicator& comm = options_.comm ? *options_.comm : dist::single_process();
  const auto ranks = static_cast<std::size_t>(comm.size()), rank = static_cast<std::size_t>(comm.rank());
  // This process's rows of the global batch, then its shards of them; a
  // shard's rows are numbered in the global batch.
  const std::size_t first = rows * rank / ranks, local = rows * (rank + 1) / ranks - first;
  const std::size_t shards = local == 0 ? 0 : shards_for(local);
  const bool anomaly = anomaly_enabled();
  // Lane 0 writes the parameters' own gradients: make sure they are value-sized
  // (someone may have replaced or cleared them since the last step).
  for (auto& p : params_) {
    auto& node = *p.node();
    if (node.grad.size() != node.value.size()) node.grad = detail::new_array<T>(node.value.shape());
    else if (!detail::shapes_equal(node.grad, node.value)) node.grad.reshape(node.value.shape());
    node.has_grad = true;
  }
  for (std::size_t s = shards; s < lanes_.size(); ++s) {  // lanes without a shard this step hold nothing
    std::fill(lanes_[s]->written.begin(), lanes_[s]->written.end(), 0);
    lanes_[s]->deferred.clear();
  }
  const auto shard_of = [&](std::size_t s) {
    return Shard{s, first + local * s / shards, first + local * (s + 1) / shards, rows};
  };
  // This process's part of L = sum_s (n_s / N) L_s, in shard order.
  const auto partial = [&] {
    double t = 0.0;
    for (std::size_t s = 0; s < shards; ++s)
      t += lanes_[s]->loss * static_cast<double>(shard_of(s).rows()) / static_cast<double>(rows);
    return t;
  };
  // With several processes the gradients are summed over them between the
  // local sums and the update: the finishing pass runs in two halves.
  const bool alone = ranks == 1;
  std::unique_lock lock(detail::run_lock(), std::try_to_lock);
  const std::size_t team = lock.owns_lock() ? static_cast<std::size_t>(detail::thread_pool().size()) : 1;
  double total = 0.0;
  if (shards <= 1 || team < shards) {
    // One thread, or the team is busy (another thread's step): the shards
    // run here one after another (the same shards, so the same result), and
    // the finishing pass splits over the team when it is free.
    if (lock.owns_lock()) lock.unlock();
    detail::FlushDenormals flush(options_.flush_denormals);
    std::exception_ptr error;
    try {
      detail::BlasThreads one(shards > 1 ? 1 : num_threads());
      for (std::size_t s = 0; s < shards; ++s) run_shard(*lanes_[s], shard_of(s), loss, key, anomaly, false);
    } catch (...) {
      error = std::current_exception();
    }
    if (alone && error) std::rethrow_exception(error);
    total = alone ? partial() : agree(error, partial());
    const bool update = static_cast<bool>(after) && std::isfinite(total);
    in_parts([&](std::size_t part, std::size_t parts) {
      finish(shards, part, parts, alone && update, after);
    });
    if (!alone) {
      reduce_over_processes(comm);
      if (update) in_parts([&](std::size_t part, std::size_t parts) { update_part(part, parts, after); });
    }
    return total;
  }
  // Shards side by side, each with single-threaded BLAS; then, after every
  // shard is done, each thread sums (and, alone, updates) its part of every
  // parameter in the same dispatch.
  std::vector<std::exception_ptr>& errors = errors_;
  errors.assign(team, nullptr);
  {
    detail::BlasThreads one(1);
    const std::size_t parts = std::min(team, threads_);  // the finishing pass's parts (<= max_parts())
    std::atomic<std::size_t> arrived{0};
    std::atomic<bool> failed{false};
    auto work = [&](int ti) {
      const auto t = static_cast<std::size_t>(ti);
      detail::ParallelRegion region;
      detail::FlushDenormals flush(options_.flush_denormals);
      if (t < shards) {
        try {
          run_shard(*lanes_[t], shard_of(t), loss, key, anomaly, true);
        } catch (...) {
          errors[t] = std::current_exception();
          failed.store(true, std::memory_order_release);
        }
      }
      // A barrier of the whole team: spin briefly, then yield.
      arrived.fetch_add(1, std::memory_order_acq_rel);
      for (int spin = 0; arrived.load(std::memory_order_acquire) < team; ++spin)
        if (spin > 4000) std::this_thread::yield();
      if (failed.load(std::memory_order_acquire) || t >= parts) return;
      finish(shards, t, parts, alone && static_cast<bool>(after) && std::isfinite(partial()), after);
    };
    detail::thread_pool().run(work);
  }
  std::exception_ptr error;
  for (auto& e : errors)
    if (e && !error) error = e;
  if (alone) {
    if (error) std::rethrow_exception(error);
    return partial();
  }
  total = agree(error, partial());
  reduce_over_processes(comm);
  if (static_cast<bool>(after) && std::isfinite(total)) {
    lock.unlock();  // the update's parts go over the team again
    in_parts([&](std::size_t part, std::size_t parts) { update_part(part, parts, after); });
  }
  return total;
}

template <class T>
double DataParallel<T>::agree(std::exception_ptr error, double partial) {
  // One all-reduce of (failed, which rank, loss): every process learns
  // whether any failed before the gradients' collectives, so none waits for
  // a process that stopped: the failed one rethrows its own error, the
  // others say which rank failed. Otherwise the loss summed over them.
  dist::Communicator& comm = *options_.comm;
  double v[3] = {error ? 1.0 : 0.0, error ? static_cast<double>(comm.rank()) : 0.0, error ? 0.0 : partial};
  comm.all_reduce_sum(std::span<double>(v, 3));
  if (error) std::rethrow_exception(error);
  if (v[0] > 0.0)
    throw Error(fmt::format("DataParallel: another process's shard failed (rank {}{}); see its message",
                            static_cast<int>(v[1]), v[0] > 1.0 ? " and others" : ""));
  return v[2];
}

template <class T>
void DataParallel<T>::reduce_over_processes(dist::Communicator& comm) {
  // One all-reduce per parameter (a contiguous bucket), in parameter order on
  // every process.
  for (auto& p : params_) {
    Array<T>& g = p.node()->grad;
    comm.all_reduce_sum(std::span<T>(g.data(), g.size()));
  }
}

template <class T>
template <class F>
void DataParallel<T>::in_parts(F&& f) {
  std::size_t entries = 0;
  for (auto& p : params_) entries += p.size();
  const std::size_t parts = std::min(threads_, detail::parallel_part_count(entries, detail::kElementwiseGrain));
  detail::parallel_for_parts(parts, 1, [&](std::size_t part, std::size_t, std::size_t) {
    detail::FlushDenormals flush(options_.flush_denormals);
    f(part, parts);
  });
}

template <class T>
void DataParallel<T>::update_part(std::size_t part, std::size_t parts, SliceFn after) {
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const std::size_t n = params_[i].size(), lo = n * part / parts, hi = n * (part + 1) / parts;
    if (lo < hi) after(part, i, lo, hi);
  }
}

template <class T>
void DataParallel<T>::finish(std::size_t shards, std::size_t part, std::size_t parts, bool update, SliceFn after) {
  // grad = lane 0's share + lane 1's + ... + each lane's deferred products,
  // entry by entry in that order, so the sum does not depend on how the
  // entries are split over the parts.
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Array<T>& value = params_[i].node()->value;
    T* __restrict dst = params_[i].node()->grad.data();
    const std::size_t n = value.size();
    bool deferred = false;
    for (std::size_t s = 0; s < shards && !deferred; ++s)
      for (const auto& d : lanes_[s]->deferred) deferred = deferred || d.slot == i;
    // A parameter with deferred products is split by whole rows (each part
    // computes its rows of the products); the others by entries.
    const std::size_t rows = deferred ? value.shape()[0] : n, width = deferred ? n / rows : 1;
    const std::size_t r0 = rows * part / parts, r1 = rows * (part + 1) / parts;
    const std::size_t lo = r0 * width, hi = r1 * width;
    if (lo == hi) continue;
    bool written = lanes_[0]->written[i];
    for (std::size_t s = 1; s < shards; ++s) {
      if (!lanes_[s]->written[i]) continue;
      const T* __restrict src = lanes_[s]->own[i].data();
      if (!written) std::copy(src + lo, src + hi, dst + lo);
      else
        for (std::size_t j = lo; j < hi; ++j) dst[j] += src[j];
      written = true;
    }
    for (std::size_t s = 0; s < shards && deferred; ++s)
      for (const auto& d : lanes_[s]->deferred) {
        if (d.slot != i) continue;
        // Rows [r0, r1) of op(A) op(B), an (m, n) product with inner size k.
        const T* a = d.a->value.data();
        const std::size_t lda = d.ta ? d.m : d.k, ldb = d.tb ? d.k : d.n;
        detail::gemm(d.ta, d.tb, int(r1 - r0), int(d.n), int(d.k), T(1), d.ta ? a + r0 : a + r0 * d.k, int(lda),
                     d.b.data(), int(ldb), written ? T(1) : T(0), dst + r0 * d.n, int(d.n));
        written = true;
      }
    if (!written) std::fill(dst + lo, dst + hi, T(0));
    if (update) after(part, i, lo, hi);
  }
}

template class DataParallel<float>;
template class DataParallel<double>;

}  // namespace slope
