#include "parallel.hpp"

#include <memory>
#include <stdexcept>
#include <utility>

#include <cblas.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SLOPE_HAS_MXCSR 1
#define SLOPE_PAUSE() _mm_pause()
#else
#define SLOPE_PAUSE() ((void)0)
#endif

namespace slope::detail {

namespace {

// About 40 microseconds of polling (a pause is ~20 ns here) before sleeping:
// long enough to bridge the gap between the parallel parts of a step, short
// enough that a waiting thread gives its core back quickly when the machine
// is shared (spinning longer made 2-thread runs several times slower under
// load, the problem OMP_WAIT_POLICY=PASSIVE solves for OpenMP).
constexpr int kSpins = 2000;

// Waits until `value` differs from `old`: polls, then sleeps on the atomic.
template <class A, class V>
void wait_change(const A& value, V old) {
  for (int i = 0; i < kSpins; ++i) {
    if (value.load(std::memory_order_acquire) != old) return;
    SLOPE_PAUSE();
  }
  while (value.load(std::memory_order_acquire) == old) value.wait(old, std::memory_order_acquire);
}

}  // namespace

WorkerPool::WorkerPool(int threads) {
  if (threads < 1) throw std::invalid_argument("WorkerPool: threads must be >= 1");
  errors_.resize(static_cast<std::size_t>(threads - 1));
  workers_.reserve(static_cast<std::size_t>(threads - 1));
  for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { work(t); });
}

WorkerPool::~WorkerPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& w : workers_) w.join();
}

void WorkerPool::work(int t) {
  std::uint64_t seen = 0;
  for (;;) {
    wait_change(generation_, seen);
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_acquire)) return;
    try {
      call_(ctx_, t);
    } catch (...) {
      errors_[static_cast<std::size_t>(t - 1)] = std::current_exception();
    }
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

void WorkerPool::dispatch(void* ctx, Trampoline call) {
  if (workers_.empty()) {
    call(ctx, 0);
    return;
  }
  ctx_ = ctx;
  call_ = call;
  pending_.store(static_cast<int>(workers_.size()), std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  std::exception_ptr mine;
  try {
    call(ctx, 0);
  } catch (...) {
    mine = std::current_exception();
  }
  for (int left = pending_.load(std::memory_order_acquire); left != 0;
       left = pending_.load(std::memory_order_acquire))
    wait_change(pending_, left);
  if (mine) std::rethrow_exception(mine);
  for (auto& e : errors_)
    if (e) std::rethrow_exception(std::exchange(e, nullptr));
}

namespace {

thread_local bool g_in_region = false;

struct Team {
  std::mutex resize;
  std::unique_ptr<WorkerPool> pool;
};

Team& team() {
  static Team* t = new Team;  // never destroyed: workers must not outlive their pool at exit
  return *t;
}

}  // namespace

std::mutex& run_lock() {
  static std::mutex* m = new std::mutex;
  return *m;
}

WorkerPool& thread_pool() {
  Team& t = team();
  std::lock_guard lock(t.resize);
  if (!t.pool) t.pool = std::make_unique<WorkerPool>(std::max(1, openblas_get_num_threads()));
  return *t.pool;
}

void resize_thread_pool(int threads) {
  Team& t = team();
  std::lock_guard run(run_lock());  // no loop may be using the old team
  std::lock_guard lock(t.resize);
  if (t.pool && t.pool->size() == threads) return;
  t.pool.reset();
  t.pool = std::make_unique<WorkerPool>(threads);
}

FlushDenormals::FlushDenormals(bool on) {
#ifdef SLOPE_HAS_MXCSR
  if (!on) return;
  previous_ = _mm_getcsr();
  _mm_setcsr(previous_ | 0x8040u);  // FTZ (bit 15) and DAZ (bit 6)
  set_ = true;
#else
  (void)on;
#endif
}

FlushDenormals::~FlushDenormals() {
#ifdef SLOPE_HAS_MXCSR
  if (set_) _mm_setcsr(previous_);
#endif
}

bool in_parallel_region() { return g_in_region; }
ParallelRegion::ParallelRegion() : previous_(g_in_region) { g_in_region = true; }
ParallelRegion::~ParallelRegion() { g_in_region = previous_; }

std::size_t parallel_parts(std::size_t n, std::size_t grain) {
  if (g_in_region || grain == 0 || n < 2 * grain) return 1;
  const std::size_t threads = static_cast<std::size_t>(thread_pool().size());
  return std::min(threads, n / grain);
}

}  // namespace slope::detail
