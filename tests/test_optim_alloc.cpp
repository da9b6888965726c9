// A training step's optimizer update allocates nothing once its state exists.
// This executable counts every operator new, so it stands alone.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include "slope/ops.hpp"
#include "slope/optim.hpp"

namespace {
std::atomic<long> allocations{0};
}

void* operator new(std::size_t n) {
  ++allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace slope;
using namespace slope::optim;

namespace {

template <class Opt, class Options>
long allocations_in_steady_state(Options options) {
  Tensor w = zeros<float>({64, 32}, true);
  Tensor b = zeros<float>({32}, true);
  sum(square(w) + b).backward();  // gradients exist from here on
  Opt opt({w, b}, options);
  opt.step();  // the first step allocates the state
  const long before = allocations.load();
  for (int i = 0; i < 10; ++i) {
    opt.zero_grad();
    opt.set_lr(1e-3);
    opt.step();
  }
  return allocations.load() - before;
}

}  // namespace

TEST_CASE("Optimizer steps after the first allocate no memory", "[optim][alloc]") {
  CHECK(allocations_in_steady_state<SGD<float>>(SGDOptions{.momentum = 0.9, .nesterov = true}) == 0);
  CHECK(allocations_in_steady_state<SGD<float>>(SGDOptions{.momentum = 0.9, .form = MomentumForm::step}) == 0);
  CHECK(allocations_in_steady_state<AdaGrad<float>>(AdaGradOptions{}) == 0);
  CHECK(allocations_in_steady_state<RMSProp<float>>(RMSPropOptions{.momentum = 0.5, .centered = true}) == 0);
  CHECK(allocations_in_steady_state<Adam<float>>(AdamOptions{.amsgrad = true}) == 0);
  CHECK(allocations_in_steady_state<AdamW<float>>(AdamWOptions{}) == 0);
}

TEST_CASE("The allocation counter sees allocations", "[optim][alloc]") {
  // guards the test above against a counter that never counts
  const long before = allocations.load();
  auto* v = new std::vector<int>(100);
  delete v;
  CHECK(allocations.load() - before >= 2);
}
