// Uses the installed slope like any outside program: builds a small graph,
// runs backward, and compares the gradients with values worked out by hand
// and with finite differences. Exits nonzero on any mismatch.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include <fmt/format.h>

#include <slope/slope.hpp>

namespace {

int failures = 0;

void expect_near(const char* what, double got, double want) {
  if (std::abs(got - want) > 1e-5 * (1.0 + std::abs(want))) {
    fmt::print("FAIL {}: got {}, expected {}\n", what, got, want);
    ++failures;
  }
}

}  // namespace

int main() {
  // loss = sum(x W) + sum(W * W)  =>  dL/dW[i][j] = sum_r x[r][i] + 2 W[i][j].
  // matmul runs through BLAS gemm, so this also proves the link line is complete.
  slope::Tensor x = {{1.0f, 2.0f}, {3.0f, 4.0f}, {5.0f, 6.0f}};  // (3, 2)
  slope::Tensor w = {{0.5f, -1.0f, 2.0f}, {0.0f, 1.5f, -0.5f}};  // (2, 3)
  w.set_requires_grad().set_name("W");
  slope::Tensor loss = slope::sum(slope::matmul(x, w)) + slope::sum(w * w);
  loss.backward();

  const float column_sums[2] = {1.0f + 3.0f + 5.0f, 2.0f + 4.0f + 6.0f};
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      expect_near("dL/dW", w.grad()(i, j), column_sums[i] + 2.0f * w.value()(i, j));
  if (x.has_grad()) {
    fmt::print("FAIL: x does not require a gradient but got one\n");
    ++failures;
  }
  fmt::print("W = {}\n", w);

  // A linear softmax classifier in float64, checked by finite differences.
  slope::Rng rng{7};
  slope::Tensor64 data = slope::randn<double>({4, 3}, rng);
  slope::Tensor64 weights = slope::randn<double>({3, 5}, rng, 0.1, 0.0, true);
  const std::vector<std::int32_t> labels = {0, 4, 2, 2};
  auto f = [&](const std::vector<slope::Tensor64>& in) {
    return slope::softmax_cross_entropy(slope::matmul(data, in[0]), labels);
  };
  const slope::GradcheckReport report = slope::gradcheck(f, {weights});
  fmt::print("gradcheck: {}\n", report.message());
  if (!report.ok) ++failures;

  if (failures == 0) fmt::print("consumer: ok\n");
  return failures == 0 ? 0 : 1;
}
