// The SVM loss and the regularizers: values, the lecture's worked example,
// gradient checks in float64, and L1's sparsity against L2 in training.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>

#include "slope/gradcheck.hpp"
#include "slope/loss.hpp"
#include "slope/ops.hpp"
#include "slope/optim.hpp"

using namespace slope;

TEST_CASE("The SVM loss of the three-example table is the mean of 2.9, 0 and 12.9", "[loss][svm]") {
  // rows: cat, car, frog scores; correct classes 0, 1, 2
  Tensor64 scores = {{3.2, 5.1, -1.7}, {1.3, 4.9, 2.0}, {2.2, 2.5, -3.1}};
  const std::vector<std::int32_t> y = {0, 1, 2};
  // L_i = sum_{j != y_i} max(0, s_j - s_y + 1): 2.9, 0, 12.9
  CHECK(svm_loss(scores, y).item() == Approx((2.9 + 0.0 + 12.9) / 3.0).epsilon(1e-12));
  Tensor scores32 = {{3.2f, 5.1f, -1.7f}};
  CHECK(svm_loss(scores32, std::vector<std::int32_t>{0}).item() == Approx(2.9f).epsilon(1e-5));
}

TEST_CASE("The SVM loss is zero when every margin is met and its gradient counts violations", "[loss][svm]") {
  Tensor64 scores({{5.0, 1.0, 0.0}, {0.0, 2.0, 10.0}}, true);
  const std::vector<std::int32_t> y = {0, 1};
  Tensor64 l = svm_loss(scores, y);
  CHECK(l.item() == Approx((0.0 + 9.0) / 2.0));  // row 1: max(0, 0-2+1) + max(0, 10-2+1) = 9
  l.backward();
  // dL/ds_ij = 1/N per violated margin, -k/N on the correct class with k violations
  CHECK(scores.grad()(0, 0) == 0.0);
  CHECK(scores.grad()(1, 2) == Approx(0.5));
  CHECK(scores.grad()(1, 1) == Approx(-0.5));
  CHECK(scores.grad()(1, 0) == 0.0);
  CHECK_THROWS_AS(svm_loss(Tensor64{1.0, 2.0}, y), ShapeError);
}

TEST_CASE("The SVM loss passes a float64 gradient check", "[loss][svm][gradcheck]") {
  Rng rng{11};
  Tensor64 scores = randn<double>({6, 5}, rng, 1.0, 0.0, true);
  const std::vector<std::int32_t> y = {0, 4, 2, 2, 1, 3};
  const GradcheckReport r = gradcheck([&](const std::vector<Tensor64>& in) { return svm_loss(in[0], y); },
                                      {scores});
  INFO(r.message());
  CHECK(r.ok);
  CHECK(r.checked == 30);
}

TEST_CASE("The regularizers pass float64 gradient checks", "[loss][gradcheck]") {
  Rng rng{5};
  Tensor64 w1 = randn<double>({3, 4}, rng, 1.0, 0.0, true);
  Tensor64 w2 = randn<double>({5}, rng, 1.0, 0.0, true);
  using F = std::function<Tensor64(const std::vector<Tensor64>&)>;
  const std::vector<std::pair<const char*, F>> cases = {
      {"l2", [](const auto& in) { return l2(in); }},
      {"l1", [](const auto& in) { return l1(in); }},
      {"elastic_net", [](const auto& in) { return elastic_net(in, 0.3); }},
      {"scaled l2 plus data", [](const auto& in) { return 0.5 * l2({in[0]}) + sum(in[1] * in[1] * in[1]); }},
  };
  for (const auto& [name, f] : cases) {
    const GradcheckReport r = gradcheck(f, {w1, w2});
    INFO(name << ": " << r.message());
    CHECK(r.ok);
  }
}

TEST_CASE("The lecture's worked example: L2 prefers spread weights, L1 ties and then prefers sparse ones",
          "[loss][regularization]") {
  Tensor64 x = {1.0, 1.0, 1.0, 1.0};
  Tensor64 w1 = {1.0, 0.0, 0.0, 0.0};
  Tensor64 w2 = {0.25, 0.25, 0.25, 0.25};
  CHECK(sum(x * w1).item() == 1.0);  // both score 1
  CHECK(sum(x * w2).item() == 1.0);
  CHECK(l2(w1).item() == 1.0);
  CHECK(l2(w2).item() == 0.25);      // L2 prefers w2, 4x lower
  CHECK(l2(w1).item() / l2(w2).item() == 4.0);
  CHECK(l1(w1).item() == l1(w2).item());  // L1: a tie at 1
  Tensor64 w3 = {0.9, 0.0, 0.0, 0.0};
  CHECK(l1(w3).item() < l1(w2).item());   // L1 strictly prefers the sparse [0.9, 0, 0, 0]
  CHECK(elastic_net(w1, 0.5).item() == Approx(0.5 * 1.0 + 1.0));
  CHECK(l2(std::vector<Tensor64>{}).item() == 0.0);
  CHECK(l1({w1, w2}).item() == 2.0);
  CHECK_THROWS_AS(elastic_net(w1, -1.0), ValueError);
}

namespace {

// Fits y = X w (20 features, only 3 informative) by full-batch gradient
// descent on mean((Xw - y)^2) + lambda * R(w); returns the fraction of the
// 20 weights with |w| < 1e-2.
double near_zero_fraction(bool use_l1, double lambda) {
  Rng rng{2024};
  Tensor64 x = randn<double>({100, 20}, rng);
  xt::xarray<double> truth = xt::zeros<double>({20, 1});
  truth(0, 0) = 2.0;
  truth(7, 0) = -1.5;
  truth(13, 0) = 1.0;
  Tensor64 y = matmul(x, Tensor64(truth)) + randn<double>({100, 1}, rng, 0.5);
  y = y.detach();
  Tensor64 w = zeros<double>({20, 1}, true);
  optim::SGD opt({w}, {.lr = 0.02});
  for (int step = 0; step < 600; ++step) {
    opt.zero_grad();
    Tensor64 data = mean(square(matmul(x, w) - y));
    Tensor64 reg = lambda * (use_l1 ? l1(w) : l2(w));
    (data + reg).backward();
    opt.step();
  }
  int zeros = 0;
  for (double v : w.value()) zeros += std::abs(v) < 1e-2;
  CHECK(std::abs(w.value()(0, 0) - 2.0) < 0.5);  // the informative weights survive
  return zeros / 20.0;
}

}  // namespace

TEST_CASE("Training with L1 gives far sparser weights than with L2", "[loss][regularization]") {
  const double sparse_l1 = near_zero_fraction(true, 0.2);
  const double sparse_l2 = near_zero_fraction(false, 0.2);
  std::printf("near-zero weights (|w| < 1e-2) of 20: L1 %.0f%%, L2 %.0f%%\n", 100 * sparse_l1, 100 * sparse_l2);
  INFO("L1 near-zero fraction " << sparse_l1 << ", L2 " << sparse_l2);
  CHECK(sparse_l1 >= 0.7);
  CHECK(sparse_l2 <= 0.3);
}
