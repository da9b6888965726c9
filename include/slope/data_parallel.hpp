// The data-parallel training step, for any model whose loss is a mean over
// the rows of a batch.
//
// A batch of N rows is cut into S contiguous row shards, one per thread. Each
// shard runs the caller's own forward pass on its rows and its own backward,
// on its own thread, with single-threaded BLAS, into its own gradient buffers
// (so shards never write the same memory); then the shards' gradients are
// summed in shard order. Since the loss is a mean over rows,
//   L = sum_s (n_s / N) L_s,   dL/dtheta = sum_s (n_s / N) dL_s/dtheta,
// each shard's backward is seeded with n_s / N. Results are bitwise the same
// on every run at a fixed thread count, and within rounding of one thread.
//
// Inside a shard, random ops draw from (key, position in the whole batch), so
// dropout masks do not depend on S either; see ops.hpp's dropout.
//
//   DataParallel<float> dp(model.parameters());
//   double loss = dp.step(batch_rows, [&](const Shard& s) {
//     Tensor x = rows_of_batch(s.begin, s.end);       // the caller's own data
//     return softmax_cross_entropy(model(x), labels_of(s));   // mean over s's rows
//   }, step_key);
//   // every parameter's grad now holds d(mean loss)/d(parameter); step the optimizer.
//
// The shards are the unit a multi-process run would distribute too: a shard
// is told where its rows sit in the whole batch (Shard::begin, ::total), and
// the reduction is one place (reduce()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <type_traits>
#include <vector>

#include "slope/distributed.hpp"
#include "slope/tensor.hpp"

namespace slope {

/// Rows [begin, end) of a batch of `total` rows, the part one shard computes.
struct Shard {
  std::size_t index = 0;  // 0 .. shards - 1, in row order
  std::size_t begin = 0, end = 0;
  std::size_t total = 0;
  std::size_t rows() const { return end - begin; }
};

struct DataParallelOptions {
  int threads = 0;  // shards at most; 0: num_threads()
  // A batch is split only as far as each shard keeps at least this much work,
  // estimated as 6 flops per parameter entry per row (forward and backward of
  // the products): below ~8 MFLOP a hand-off costs more than it saves, so
  // the linear classifier runs on one thread and the two-layer net on two.
  double min_flops_per_shard = 8e6;
  // Subnormal floats (below 1.2e-38 in float) are flushed to zero while the
  // step runs, on every thread of it. They appear as a model grows confident
  // (the gradients of tiny softmax probabilities, which Adam then squares)
  // and each costs ~100 cycles on x86: flushing them kept the benchmark's
  // later epochs 25% faster. false keeps IEEE gradual underflow.
  bool flush_denormals = true;
  // The processes the batch is spread over (dist::mpi_world()); none: this
  // process alone. Each process computes its rows of every batch (rows
  // [N r / P, N (r + 1) / P) of N for rank r of P) in shards of its own, the
  // gradients are summed over the processes, and every process applies the
  // same update: P processes give one process's result within rounding.
  dist::Communicator* comm = nullptr;
};

/// A non-owning reference to a callable, valid for one call (no allocation
/// per step): the caller's shard loss and per-slice update.
template <class Sig>
class FunctionRef;
template <class R, class... A>
class FunctionRef<R(A...)> {
 public:
  FunctionRef() = default;
  template <class F>
    requires(!std::is_same_v<std::decay_t<F>, FunctionRef> && std::is_invocable_r_v<R, F&, A...>)
  FunctionRef(F&& f)  // NOLINT: binds any callable, like a function_ref
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* o, A... a) -> R { return (*static_cast<std::remove_reference_t<F>*>(o))(a...); }) {}
  explicit operator bool() const { return call_ != nullptr; }
  R operator()(A... a) const { return call_(object_, a...); }

 private:
  void* object_ = nullptr;
  R (*call_)(void*, A...) = nullptr;
};

template <class T>
class DataParallel {
 public:
  /// The loss of one shard: a one-entry tensor, the MEAN over the shard's rows
  /// (plus, if wanted, terms that do not depend on the rows, such as a weight
  /// penalty: the mean of l_i + c is L_s + c, and the shards' weights sum to 1).
  using LossFn = FunctionRef<TensorT<T>(const Shard&)>;
  /// Work on the summed gradients, slice by slice: (part, parameter index,
  /// first entry, end entry); every entry of every parameter is covered once,
  /// on the step's threads, part p's slices on one thread (an optimizer's
  /// update(i, lo, hi), say; `part` indexes per-thread partial results, which
  /// the caller adds in part order).
  using SliceFn = FunctionRef<void(std::size_t, std::size_t, std::size_t, std::size_t)>;

  /// `params`: every tensor the loss needs a gradient for (leaves that require
  /// one). Their gradient buffers are allocated here. ValueError if the list
  /// is empty, a tensor does not require a gradient, or threads is out of range.
  explicit DataParallel(std::vector<TensorT<T>> params, DataParallelOptions options = {});
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  /// One step over a batch of `rows` rows: runs loss(shard) and its backward
  /// for every shard, then leaves d(mean loss over the batch)/d(param) in each
  /// parameter's gradient (overwritten, not added to; zeros for a parameter
  /// the loss does not reach), and then, if the batch's loss is finite, runs
  /// `after` over slices of the parameters on the same threads (the sums and
  /// the update in one pass, while the gradients are in cache). Returns the
  /// mean loss over the batch. `key` seeds the step's random ops (dropout).
  /// The first exception a shard throws is rethrown after every shard has
  /// stopped; the gradients are then unspecified and `after` does not run.
  /// Error if called under NoGradGuard.
  double step(std::size_t rows, const LossFn& loss, std::uint64_t key = 0, SliceFn after = {});

  /// How many shards a batch (or this process's part of one) of `rows` rows is cut into.
  std::size_t shards_for(std::size_t rows) const;
  /// The most parts the finishing pass is cut into (one per thread).
  std::size_t max_parts() const { return threads_; }
  const std::vector<TensorT<T>>& parameters() const { return params_; }

 private:
  struct Lane;
  void run_shard(Lane& lane, const Shard& shard, const LossFn& loss, std::uint64_t key, bool anomaly, bool defer);
  // Part `part` of `parts` of the finishing pass: sums the lanes' gradients
  // into the parameters' and runs `after`, over that part of every parameter.
  void finish(std::size_t shards, std::size_t part, std::size_t parts, bool update, SliceFn after);
  // Across processes: every process learns whether one failed, and the loss
  // summed over them; then the gradients summed; the update's parts after that.
  double agree(std::exception_ptr error, double partial);
  void reduce_over_processes(dist::Communicator& comm);
  template <class F>
  void in_parts(F&& f);
  void update_part(std::size_t part, std::size_t parts, SliceFn after);

  std::vector<TensorT<T>> params_;
  std::vector<const detail::Node<T>*> nodes_;
  DataParallelOptions options_;
  std::size_t threads_ = 1;
  double flops_per_row_ = 0.0;
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::vector<std::exception_ptr> errors_;  // per thread of the last step
};

extern template class DataParallel<float>;
extern template class DataParallel<double>;

}  // namespace slope
