// The data-parallel step: row shards of any model give the gradient of the
// whole batch, the same bits on every run at a fixed thread count and within
// rounding of one thread, dropout included; the finishing pass covers every
// entry once; errors in a shard come back; the Trainer's fused penalty is the
// graph's regularizer.
#include <catch2/catch.hpp>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include <cmath>
#include <limits>
#include <vector>

#include "slope/data_parallel.hpp"
#include "slope/nn.hpp"
#include "slope/runtime.hpp"
#include "slope/train.hpp"

using namespace slope;
using Catch::Matchers::Contains;

namespace {

constexpr std::size_t kRows = 96, kIn = 48, kClasses = 5;

struct Batch64 {
  Tensor64 x;
  std::vector<std::int32_t> y;
};

Batch64 batch(std::uint64_t seed) {
  Rng rng(seed);
  Batch64 b{randn<double>({kRows, kIn}, rng), {}};
  for (std::size_t i = 0; i < kRows; ++i) b.y.push_back(static_cast<std::int32_t>(rng.below(kClasses)));
  return b;
}

// Rows [begin, end) of x as a tensor of their own (what a shard's data is).
template <class T>
TensorT<T> rows_of(const TensorT<T>& x, const Shard& s) {
  const std::size_t d = x.shape()[1];
  Array<T> a = Array<T>::from_shape({s.rows(), d});
  std::copy(x.data() + s.begin * d, x.data() + s.end * d, a.data());
  return TensorT<T>(std::move(a));
}

// Every parameter's gradient, after poisoning them so that a step that
// writes nothing cannot pass.
std::vector<std::vector<double>> step_grads(nn::Module<double>& model, const Batch64& b, int threads,
                                            double* loss_out = nullptr) {
  set_num_threads(threads);
  auto params = model.parameters();
  DataParallel<double> dp(params, {.min_flops_per_shard = 0});  // split even this small batch
  for (auto& p : params) p.grad().fill(std::numeric_limits<double>::quiet_NaN());
  const double loss = dp.step(kRows, [&](const Shard& s) {
    const std::span<const std::int32_t> y(b.y.data() + s.begin, s.rows());
    return softmax_cross_entropy(model.forward(rows_of(b.x, s)), y);
  }, /*key=*/42);
  if (loss_out) *loss_out = loss;
  std::vector<std::vector<double>> out;
  for (auto& p : params) out.emplace_back(p.grad().begin(), p.grad().end());
  set_num_threads(1);
  return out;
}

double max_rel(const std::vector<std::vector<double>>& a, const std::vector<std::vector<double>>& b) {
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t j = 0; j < a[i].size(); ++j) {
      const double scale = std::max({std::abs(a[i][j]), std::abs(b[i][j]), 1e-30});
      worst = std::max(worst, std::abs(a[i][j] - b[i][j]) / scale);
      if (std::isnan(a[i][j]) || std::isnan(b[i][j])) return INFINITY;
    }
  return worst;
}

}  // namespace

TEST_CASE("Two row shards give one thread's gradient within 1e-12 in float64, dropout and skips included",
          "[data-parallel]") {
  Rng rng(3);
  nn::MLP<double> net({kIn, 32, 32, kClasses}, rng, {.dropout = {0.3}, .residual = true});
  const Batch64 b = batch(9);
  double one_loss = 0.0, two_loss = 0.0;
  const auto one = step_grads(net, b, 1, &one_loss);
  const auto two = step_grads(net, b, 2, &two_loss);
  CHECK(max_rel(one, two) < 1e-12);
  CHECK(one_loss == Approx(two_loss).epsilon(1e-13));
  // The same bits on every run at two threads.
  const auto again = step_grads(net, b, 2);
  CHECK(two == again);
  // And the graph of the whole batch, without shards, agrees (without
  // dropout, which outside a step draws from the module's own Rng).
  nn::MLP<double> plain({kIn, 32, 32, kClasses}, rng, {.residual = true});
  const auto sharded = step_grads(plain, b, 2);
  for (auto& p : plain.parameters()) p.zero_grad();
  softmax_cross_entropy(plain.forward(b.x), b.y).backward();
  std::vector<std::vector<double>> whole;
  for (auto& p : plain.parameters()) whole.emplace_back(p.grad().begin(), p.grad().end());
  CHECK(max_rel(sharded, whole) < 1e-12);
}

TEST_CASE("The finishing pass covers every entry of every parameter once, on the step's threads",
          "[data-parallel]") {
  Rng rng(4);
  nn::MLP<double> net({kIn, 16, kClasses}, rng);
  const Batch64 b = batch(10);
  set_num_threads(2);
  auto params = net.parameters();
  DataParallel<double> dp(params, {.min_flops_per_shard = 0});
  std::vector<std::vector<int>> seen;
  for (auto& p : params) seen.emplace_back(p.size(), 0);
  std::vector<int> parts(dp.max_parts(), 0);
  dp.step(kRows, [&](const Shard& s) {
    return softmax_cross_entropy(net.forward(rows_of(b.x, s)), std::span(b.y.data() + s.begin, s.rows()));
  }, 0, DataParallel<double>::SliceFn([&](std::size_t part, std::size_t i, std::size_t lo, std::size_t hi) {
    REQUIRE(part < parts.size());
    parts[part] = 1;
    for (std::size_t j = lo; j < hi; ++j) ++seen[i][j];
  }));
  set_num_threads(1);
  for (const auto& v : seen) CHECK(std::all_of(v.begin(), v.end(), [](int c) { return c == 1; }));
  CHECK(parts[0] == 1);
  CHECK(parts[1] == 1);
}

TEST_CASE("A shard's error comes back after every shard stopped, and nothing is updated", "[data-parallel]") {
  Rng rng(5);
  nn::MLP<double> net({kIn, 8, kClasses}, rng);
  const Batch64 b = batch(11);
  set_num_threads(2);
  DataParallel<double> dp(net.parameters(), {.min_flops_per_shard = 0});
  bool updated = false;
  CHECK_THROWS_WITH(dp.step(kRows, [&](const Shard& s) {
    if (s.index == 1) throw ValueError("shard 1 failed");
    return softmax_cross_entropy(net.forward(rows_of(b.x, s)), std::span(b.y.data() + s.begin, s.rows()));
  }, 0, DataParallel<double>::SliceFn([&](std::size_t, std::size_t, std::size_t, std::size_t) { updated = true; })),
                    "shard 1 failed");
  CHECK_FALSE(updated);
  // A tensor that needs a gradient but is not a parameter of the step is refused by name.
  Tensor64 stray = randn<double>({kIn, kClasses}, rng, 1.0, 0.0, true).set_name("stray");
  CHECK_THROWS_WITH(dp.step(kRows, [&](const Shard& s) {
    return softmax_cross_entropy(matmul(rows_of(b.x, s), stray), std::span(b.y.data() + s.begin, s.rows()));
  }), Contains("'stray'") && Contains("not one of the step's parameters"));
  set_num_threads(1);
}

TEST_CASE("A parameter the loss does not reach gets a zero gradient", "[data-parallel]") {
  Rng rng(6);
  Tensor64 used = randn<double>({kIn, kClasses}, rng, 1.0, 0.0, true);
  Tensor64 unused = randn<double>({3}, rng, 1.0, 0.0, true);
  const Batch64 b = batch(12);
  DataParallel<double> dp({used, unused});
  unused.grad().fill(7.0);
  dp.step(kRows, [&](const Shard& s) {
    return softmax_cross_entropy(matmul(rows_of(b.x, s), used), std::span(b.y.data() + s.begin, s.rows()));
  });
  for (double g : unused.grad()) CHECK(g == 0.0);
}

TEST_CASE("The Trainer's fused penalty gives the graph regularizer's value and gradient", "[data-parallel][train]") {
  for (const char* reg : {"l2", "l1", "elastic"}) {
    INFO(reg);
    train::Config c;
    c.reg = reg;
    c.lambda = 0.03;
    c.beta = 0.7;
    Rng rng(7);
    Tensor w = randn<float>({40, 30}, rng, 1.0, 0.0, true);
    // The graph: lambda * R(w), backward.
    const Tensor r = train::regularization(c, std::vector<Tensor>{w});
    r.backward();
    const std::vector<float> graph(w.grad().begin(), w.grad().end());
    // The finishing pass's kernel, on two slices of a poisoned-then-zeroed gradient.
    const train::RegularizerEntry& e = entry(train::regularizers(), reg, "reg");
    std::vector<float> g(w.size(), std::numeric_limits<float>::quiet_NaN());
    std::fill(g.begin(), g.end(), 0.0f);
    const double value = e.fused(w.data(), g.data(), 500, c.lambda, c.beta) +
                         e.fused(w.data() + 500, g.data() + 500, w.size() - 500, c.lambda, c.beta);
    CHECK(value == Approx(r.item()).epsilon(1e-6));
    for (std::size_t i = 0; i < g.size(); ++i) CHECK(g[i] == Approx(graph[i]).epsilon(1e-6));
  }
}

#if defined(__x86_64__) || defined(__i386__)
TEST_CASE("Subnormals are flushed only inside the step, and the thread's mode is restored", "[data-parallel]") {
  Rng rng(8);
  Tensor64 w = randn<double>({kIn, kClasses}, rng, 1.0, 0.0, true);
  const Batch64 b = batch(13);
  const unsigned before = _mm_getcsr();
  unsigned inside = 0;
  DataParallel<double> dp({w});
  dp.step(kRows, [&](const Shard& s) {
    inside = _mm_getcsr();
    return softmax_cross_entropy(matmul(rows_of(b.x, s), w), std::span(b.y.data() + s.begin, s.rows()));
  });
  CHECK((inside & 0x8040u) == 0x8040u);
  CHECK(_mm_getcsr() == before);
  DataParallel<double> ieee({w}, {.flush_denormals = false});
  ieee.step(kRows, [&](const Shard& s) {
    inside = _mm_getcsr();
    return softmax_cross_entropy(matmul(rows_of(b.x, s), w), std::span(b.y.data() + s.begin, s.rows()));
  });
  CHECK(inside == before);
}
#endif
