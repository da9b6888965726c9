// A steady-state training epoch allocates nothing: after the first epoch has
// sized every buffer, a whole epoch of fused steps, optimizer updates,
// schedule lookups and reshuffling makes no heap allocation. This executable
// counts every operator new, so it stands alone.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include "slope/optim.hpp"
#include "slope/runtime.hpp"
#include "slope/train.hpp"

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

namespace {

long allocations_in_second_epoch(train::Config c, int threads) {
  set_num_threads(threads);
  Rng rng(0);
  const data::Dataset set = data::spiral(3, 100, rng);
  train::Trainer trainer(c, set);
  trainer.run_epoch();  // sizes the optimizer state
  const long before = allocations.load();
  const auto stats = trainer.run_epoch();
  const long during = allocations.load() - before;
  CHECK(std::isfinite(stats.data_loss));
  return during;
}

train::Config config(const char* optimizer, const char* reg, double dropout) {
  train::Config c;
  c.hidden = {64};
  c.epochs = 3;
  c.batch = 32;
  c.val_size = 0;  // no evaluation pass: it builds a graph, by design
  c.optimizer = optimizer;
  c.reg = reg;
  c.lambda = 1e-3;
  c.dropout = dropout;
  return c;
}

}  // namespace

TEST_CASE("A fused training epoch after the first allocates no memory", "[fused][alloc]") {
  const int threads = GENERATE(1, 2);
  CAPTURE(threads);
  CHECK(allocations_in_second_epoch(config("adamw", "l2", 0.35), threads) == 0);
  CHECK(allocations_in_second_epoch(config("adam", "l1", 0.0), threads) == 0);
  CHECK(allocations_in_second_epoch(config("momentum", "elastic", 0.2), threads) == 0);
  train::Config svm = config("rmsprop", "none", 0.0);
  svm.loss = "svm";
  svm.model = "mlp";
  svm.hidden = {32, 16};
  CHECK(allocations_in_second_epoch(svm, threads) == 0);
}

TEST_CASE("Parallel fused steps and Adam updates allocate nothing after the first", "[fused][alloc]") {
  // The Trainer's small test models run on one thread; force the row blocks.
  Rng rng(1);
  const data::Dataset set = data::spiral(3, 100, rng);
  nn::MLP<float> model({2, 48, 3}, rng);
  train::FusedStep<float> step(model, {.reg = "l2", .lambda = 1e-3, .dropout = 0.2, .max_batch = 64,
                                       .threads = 2, .min_parallel_flops = 0});
  optim::Adam<float> adam(model.parameters(), {.lr = 1e-3});
  const data::Preprocess prep = data::fit_preprocess(set, data::all_indices(set.size()));
  const std::vector<std::size_t> idx = data::all_indices(64);
  Rng drop(3);
  step.run(set, idx, prep, drop);
  adam.step();
  const long before = allocations.load();
  double loss = 0.0;
  for (int i = 0; i < 20; ++i) {
    loss += step.run(set, idx, prep, drop).data_loss;
    adam.step();
  }
  CHECK(allocations.load() - before == 0);
  CHECK(std::isfinite(loss));
}

TEST_CASE("The graph engine's epoch does allocate (the counter counts)", "[fused][alloc]") {
  train::Config c = config("adamw", "l2", 0.0);
  c.engine = "graph";
  CHECK(allocations_in_second_epoch(c, 1) > 100);
}
