// slope's threads: a fixed team for data-parallel work (row shards of a
// training step, large elementwise ops and reductions, optimizer updates).
//
// run(f) calls f(0) on the caller and f(1) ... f(size-1) on the workers, and
// returns when all have finished. Nothing is allocated per call (the callable
// is passed by reference through a plain function pointer), so a steady-state
// training step stays allocation-free. Idle workers spin briefly, then sleep
// on an atomic wait, so back-to-back steps do not pay a wake-up each time.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace slope::detail {

class WorkerPool {
 public:
  /// `threads` >= 1 in all, the caller included.
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  /// Runs f(t) for t in [0, size()); rethrows the first exception any part threw.
  template <class F>
  void run(F& f) {
    dispatch(&f, [](void* ctx, int t) { (*static_cast<F*>(ctx))(t); });
  }

 private:
  using Trampoline = void (*)(void*, int);
  void dispatch(void* ctx, Trampoline call);
  void work(int t);

  std::vector<std::thread> workers_;
  std::atomic<std::uint64_t> generation_{0};  // bumped once per run(); workers watch it
  std::atomic<int> pending_{0};               // workers still busy with this generation
  std::atomic<bool> stop_{false};
  void* ctx_ = nullptr;
  Trampoline call_ = nullptr;
  std::vector<std::exception_ptr> errors_;    // one slot per worker
};

/// The process's team, of num_threads() threads (slope::set_num_threads).
/// Only one run() at a time: callers take run_lock() with try_lock and do the
/// work themselves when the team is busy.
WorkerPool& thread_pool();
std::mutex& run_lock();
/// Resizes the team (called by set_num_threads).
void resize_thread_pool(int threads);

/// True on a thread that is running a part of a parallel loop or a shard:
/// nested loops then run inline instead of waiting for a busy team.
bool in_parallel_region();
/// Marks the calling thread as inside a parallel region while alive.
class ParallelRegion {
 public:
  ParallelRegion();
  ~ParallelRegion();
  ParallelRegion(const ParallelRegion&) = delete;
  ParallelRegion& operator=(const ParallelRegion&) = delete;

 private:
  bool previous_;
};

/// While alive, the calling thread flushes subnormal floats to zero (x86's
/// FTZ and DAZ bits of MXCSR; nothing elsewhere), then restores its mode.
class FlushDenormals {
 public:
  explicit FlushDenormals(bool on);
  ~FlushDenormals();
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

 private:
  unsigned previous_ = 0;
  bool set_ = false;
};

/// How many parts a loop of `n` items in grains of `grain` is cut into: 1
/// when it is too small, inside a parallel region, or with one thread.
std::size_t parallel_parts(std::size_t n, std::size_t grain);

/// f(t, lo, hi) over a partition of [0, n) into parallel_parts(n, grain)
/// contiguous parts, part t = [n t / parts, n (t + 1) / parts) on thread t.
/// The partition depends only on n, grain and the thread count, so results
/// that depend on it (a reduction's rounding) are the same on every run. The
/// first exception any part throws is rethrown.
template <class F>
void parallel_for_parts(std::size_t n, std::size_t grain, F&& f) {
  const std::size_t parts = parallel_parts(n, grain);
  if (parts <= 1) {
    if (n) f(std::size_t{0}, std::size_t{0}, n);
    return;
  }
  std::unique_lock lock(run_lock(), std::try_to_lock);
  if (!lock.owns_lock()) {  // another thread is using the team: do it here, in the same parts
    ParallelRegion region;
    for (std::size_t t = 0; t < parts; ++t) f(t, n * t / parts, n * (t + 1) / parts);
    return;
  }
  auto part = [&](int ti) {
    const auto t = static_cast<std::size_t>(ti);
    if (t >= parts) return;
    ParallelRegion region;
    f(t, n * t / parts, n * (t + 1) / parts);
  };
  thread_pool().run(part);
}

/// f(lo, hi) over the same partition, for loops whose parts are independent.
template <class F>
void parallel_for(std::size_t n, std::size_t grain, F&& f) {
  parallel_for_parts(n, grain, [&](std::size_t, std::size_t lo, std::size_t hi) { f(lo, hi); });
}

/// The number of parts parallel_for(n, grain, ...) uses (for per-part partial
/// results combined in a fixed order).
inline std::size_t parallel_part_count(std::size_t n, std::size_t grain) {
  return std::max<std::size_t>(1, parallel_parts(n, grain));
}

}  // namespace slope::detail
