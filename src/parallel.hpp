// A fixed team of threads for data-parallel work inside one training step.
//
// run(f) calls f(0) on the caller and f(1) ... f(size-1) on the workers, and
// returns when all have finished. Nothing is allocated per call (the callable
// is passed by reference through a plain function pointer), so a steady-state
// training step stays allocation-free. Idle workers spin briefly, then sleep
// on an atomic wait, so back-to-back steps do not pay a wake-up each time.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
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

}  // namespace slope::detail
