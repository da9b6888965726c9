// A steady-state training step of a fixed-shape graph allocates no array
// storage, and (the aim) nothing at all: every operator new is counted here,
// and slope's pool says which of them were array storage. The steps are the
// Trainer's own (the data-parallel step, the penalty, the optimizer), for the
// two-layer net, a 3-hidden-layer MLP with dropout, and a residual net
// written as user code, at 1 and 2 threads. This executable replaces
// operator new, so it stands alone.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include "slope/memory.hpp"
#include "slope/nn.hpp"
#include "slope/runtime.hpp"
#include "slope/train.hpp"

namespace {
std::atomic<long> news{0};
std::atomic<long> counting{0};  // only while a measured step runs

void* counted(std::size_t n, std::size_t align) {
  if (counting.load(std::memory_order_relaxed)) news.fetch_add(1, std::memory_order_relaxed);
  void* p = align > alignof(std::max_align_t) ? std::aligned_alloc(align, (n + align - 1) / align * align)
                                              : std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) { return counted(n, 0); }
void* operator new[](std::size_t n) { return counted(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return counted(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted(n, 0);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  try {
    return counted(n, static_cast<std::size_t>(a));
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

using namespace slope;

namespace {

// 4096 examples of 256 features in 10 classes: big enough that a step splits
// into two shards at two threads (the data-parallel step's work estimate).
const data::Dataset& synthetic() {
  static const data::Dataset d = [] {
    data::Dataset s;
    s.name = "synthetic";
    s.rows = 16;
    s.cols = 16;
    Rng rng(5);
    for (std::size_t i = 0; i < 4096; ++i) {
      const auto y = static_cast<std::int32_t>(rng.below(10));
      s.labels.push_back(y);
      for (std::size_t j = 0; j < 256; ++j)
        s.features.push_back(static_cast<float>(rng.normal() + (j % 10 == static_cast<std::size_t>(y) ? 1.0 : 0.0)));
    }
    for (int k = 0; k < 10; ++k) s.class_names.push_back(std::to_string(k));
    return s;
  }();
  return d;
}

// h1 = tanh(x W1 + b1); h2 = relu(h1 W2 + b2) + h1; scores = h2 W3 + b3,
// written as a user would.
template <class T>
struct ResidualNet : nn::Module<T> {
  nn::Linear<T> in, mid, out;
  explicit ResidualNet(Rng& rng)
      : in(this->register_module("in", nn::Linear<T>(256, 128, rng))),
        mid(this->register_module("mid", nn::Linear<T>(128, 128, rng))),
        out(this->register_module("out", nn::Linear<T>(128, 10, rng))) {}
  TensorT<T> forward(const TensorT<T>& x) const override {
    const TensorT<T> h1 = tanh(in(x));
    const TensorT<T> h2 = relu(mid(h1)) + h1;
    return out(h2);
  }
};

struct Counts {
  long news = 0;             // every operator new in the measured steps
  std::uint64_t arrays = 0;  // blocks the pool had to take from the system
  std::uint64_t array_bytes = 0;
};

// Runs one epoch of `trainer` and measures steps 5 .. 14 of it (after warm-up),
// counting from inside the per-step callback.
Counts measure(train::Trainer& trainer) {
  Counts c;
  memory::Stats start{};
  trainer.run_epoch([&](std::size_t i, std::size_t, double) {
    if (i == 4) {
      start = memory::stats();
      news = 0;
      counting = 1;
    } else if (i == 14) {
      counting = 0;
      c.news = news.load();
      const memory::Stats end = memory::stats();
      c.arrays = end.system_allocations - start.system_allocations;
      c.array_bytes = end.system_bytes - start.system_bytes;
    }
  });
  return c;
}

train::Config config() {
  train::Config c;
  c.epochs = 2;
  c.batch = 256;
  c.val_size = 256;
  c.lambda = 1e-4;
  c.warmup_epochs = 0;
  return c;
}

// The steps really are split: as many row shards as threads.
void check_split(const train::Trainer& t, int threads) {
  const DataParallel<float> probe(t.model().parameters());
  CHECK(probe.shards_for(256) == static_cast<std::size_t>(threads));
}

void report(const char* what, int threads, const Counts& c) {
  WARN(what << " at " << threads << " thread(s): " << c.arrays << " array blocks (" << c.array_bytes
            << " bytes) and " << c.news << " allocations in all over 10 steady-state steps");
}

}  // namespace

TEST_CASE("A steady-state step allocates no array storage and nothing else, at 1 and 2 threads",
          "[engine][alloc]") {
  const int threads = GENERATE(1, 2);
  set_num_threads(threads);
  SECTION("the two-layer net") {
    train::Config c = config();
    c.hidden = {128};
    c.dropout = {0.0};
    train::Trainer t(c, synthetic());
    const Counts n = measure(t);
    check_split(t, threads);
    report("two-layer net", threads, n);
    CHECK(n.array_bytes == 0);
    CHECK(n.arrays == 0);
    CHECK(n.news == 0);
  }
  SECTION("an MLP of three hidden layers with dropout") {
    train::Config c = config();
    c.model = "mlp";
    c.hidden = {128, 64, 64};
    c.dropout = {0.3};
    train::Trainer t(c, synthetic());
    const Counts n = measure(t);
    check_split(t, threads);
    report("3-hidden-layer MLP with dropout", threads, n);
    CHECK(n.array_bytes == 0);
    CHECK(n.arrays == 0);
    CHECK(n.news == 0);
  }
  SECTION("a residual net written as user code") {
    train::Trainer t(config(), synthetic(), [](Rng& rng) { return std::make_unique<ResidualNet<float>>(rng); });
    const Counts n = measure(t);
    check_split(t, threads);
    report("user residual net", threads, n);
    CHECK(n.array_bytes == 0);
    CHECK(n.arrays == 0);
    CHECK(n.news == 0);
  }
  set_num_threads(1);
}

TEST_CASE("The counters see allocations: a fresh shape takes array storage from the system", "[engine][alloc]") {
  // Guards the test above against counters that never count.
  news = 0;
  counting = 1;
  const memory::Stats before = memory::stats();
  const Tensor fresh = zeros<float>({977, 13});  // a size no step above used
  auto* v = new std::vector<int>(100);
  delete v;
  counting = 0;
  CHECK(memory::stats().system_allocations - before.system_allocations >= 1);
  CHECK(news.load() >= 2);
}
