// The losses and the regularizers: values, the lecture's worked example,
// golden values from PyTorch, gradient checks in float64, error texts, and
// L1's sparsity against L2 in training.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <limits>

#include "golden/loss_golden.hpp"
#include "op_table.hpp"
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

namespace {

Tensor64 vec(const std::vector<double>& v) {
  Array<double> a = Array<double>::from_shape({v.size()});
  std::copy(v.begin(), v.end(), a.begin());
  return Tensor64(std::move(a), true);
}

std::vector<double> flat(const Array<double>& a) { return {a.begin(), a.end()}; }

bool near(double a, double b) { return std::abs(a - b) <= 1e-14 * std::abs(b) + 1e-300; }

bool all_near(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!near(a[i], b[i])) return false;
  return true;
}

// |pred - target| at least kink_margin away from delta.
std::function<bool(const op_table::Inputs&)> away_from(double delta) {
  return [delta](const op_table::Inputs& x) {
    const op_table::Tensor64 diff = x[0] - x[1];  // named: a range over a temporary's value() dangles
    for (double d : diff.value())
      if (std::abs(std::abs(d) - delta) < op_table::kink_margin) return false;
    return true;
  };
}

std::vector<op_table::OpCase> loss_cases() {
  using op_table::Domain;
  using op_table::Inputs;
  std::vector<op_table::OpCase> cases;
  for (const Shape& s : std::vector<Shape>{{4}, {3, 2}, {}, {2, 3, 1}}) {
    const std::string where = " " + to_string(s);
    cases.push_back({"mse" + where, {s, s}, [](const Inputs& x) { return mse(x[0], x[1]); }});
    op_table::OpCase h1{"huber delta 1" + where, {s, s}, [](const Inputs& x) { return huber(x[0], x[1]); }};
    h1.valid = away_from(1.0);
    cases.push_back(h1);
    op_table::OpCase h3{"huber delta 0.3" + where, {s, s}, [](const Inputs& x) { return huber(x[0], x[1], 0.3); }};
    h3.valid = away_from(0.3);
    cases.push_back(h3);
    cases.push_back({"bce_with_logits" + where, {s, s}, [](const Inputs& x) { return bce_with_logits(x[0], x[1]); },
                     {Domain::normal, Domain::unit_interval}});
    cases.push_back({"bce_with_logits of 20 z" + where, {s, s},
                     [](const Inputs& x) { return bce_with_logits(x[0] * 20.0, x[1]); },
                     {Domain::normal, Domain::unit_interval}});
  }
  for (const auto& [shape, y] : std::vector<std::pair<Shape, std::vector<std::int32_t>>>{
           {{4, 3}, {0, 2, 1, 2}}, {{1, 5}, {4}}, {{3, 1}, {0, 0, 0}}})
    cases.push_back({"nll of log_softmax " + to_string(shape), {shape},
                     [y = y](const Inputs& x) { return nll(log_softmax(x[0]), y); }});
  return cases;
}

}  // namespace

TEST_CASE("mse, huber, bce_with_logits and nll pass gradcheck", "[loss][gradcheck]") {
  const op_table::OpCase c = GENERATE(from_range(loss_cases()));
  op_table::check_case(c);
}

TEST_CASE("The losses match PyTorch at awkward points", "[loss][golden]") {
  const Tensor64 pred = vec(golden::loss_pred), target = vec(golden::loss_target);
  const Tensor64 z = vec(golden::loss_logits), y = vec(golden::loss_labels01);
  for (const golden::LossCase& g : golden::losses) {
    INFO(g.name);
    const std::string name(g.name);
    const bool bce = name == "bce_with_logits";
    Tensor64 a = bce ? z : pred, b = bce ? y : target;
    a.zero_grad();
    b.zero_grad();
    const Tensor64 l = name == "mse"         ? mse(a, b)
                       : name == "huber_1"   ? huber(a, b, 1.0)
                       : name == "huber_0.5" ? huber(a, b, 0.5)
                                             : bce_with_logits(a, b);
    CHECK(near(l.item(), g.loss));
    l.backward();
    CHECK(all_near(flat(a.grad()), g.grad_a));
    CHECK(all_near(flat(b.grad()), g.grad_b));
  }
  Tensor64 lp(Array<double>::from_shape({4, 3}), true);
  std::copy(golden::nll_log_probs.begin(), golden::nll_log_probs.end(), lp.mutable_value().begin());
  const Tensor64 l = nll(lp, golden::nll_labels);
  CHECK(near(l.item(), golden::nll_loss));
  l.backward();
  CHECK(all_near(flat(lp.grad()), golden::nll_grad));
}

TEST_CASE("bce_with_logits has the gradient sigmoid(z) - y exactly at z = 0 and stays finite far out", "[loss]") {
  Tensor64 z = vec({0.0, 0.0, 0.0, 0.0});
  const Tensor64 y = vec({1.0, 0.0, 0.25, 1.0}).detach();
  const Tensor64 l = bce_with_logits(z, y);
  CHECK(l.item() == Approx(std::log(2.0)).epsilon(1e-15));
  l.backward();
  CHECK(flat(z.grad()) == std::vector<double>{-0.125, 0.125, 0.0625, -0.125});  // (1/2 - y) / 4
  for (const float big : {1e30f, 88.0f, 710.0f, std::numeric_limits<float>::max() / 8}) {
    Tensor zf(Array<float>({big, -big, big, -big}), true);
    const Tensor yf(Array<float>({1.0f, 0.0f, 0.0f, 1.0f}));
    const Tensor lf = bce_with_logits(zf, yf);
    INFO(big);
    CHECK(std::isfinite(lf.item()));
    CHECK(lf.item() == Approx(big / 2));  // the two wrong-sided logits cost |z| each
    lf.backward();
    for (float g : zf.grad()) CHECK(std::isfinite(g));
    CHECK(zf.grad()(0) == 0.0f);
    CHECK(zf.grad()(2) == 0.25f);
  }
}

TEST_CASE("Losses reject predictions and targets of different shapes, naming both", "[loss][errors]") {
  const Tensor64 col = zeros<double>({4, 1}), row = zeros<double>({4});
  CHECK_THROWS_AS(mse(col, row), ShapeError);
  CHECK_THROWS_WITH(mse(col, row), "mse: pred and target must have the same shape: pred is (4, 1), target is (4,)");
  CHECK_THROWS_WITH(huber(row, col), "huber: pred and target must have the same shape: pred is (4,), target is (4, 1)");
  CHECK_THROWS_WITH(bce_with_logits(col, row),
                    "bce_with_logits: z and y must have the same shape: z is (4, 1), y is (4,)");
  CHECK_THROWS_AS(mse(zeros<double>({0}), zeros<double>({0})), ValueError);
  CHECK_THROWS_WITH(mse(zeros<double>({0}), zeros<double>({0})), "mse: the batch is empty: pred is (0,)");
  CHECK_THROWS_AS(huber(row, row, 0.0), ValueError);
  CHECK_THROWS_WITH(huber(row, row, 0.0), "huber: delta must be > 0: got 0");
  CHECK_THROWS_WITH(huber(row, row, -1.5), "huber: delta must be > 0: got -1.5");
}

TEST_CASE("nll and svm_loss check their labels and name themselves", "[loss][errors]") {
  const Tensor64 s = zeros<double>({3, 4});
  const std::vector<std::int32_t> two = {0, 1}, bad = {0, 4, 1}, negative = {-1, 0, 0};
  CHECK_THROWS_AS(nll(s, two), ShapeError);
  CHECK_THROWS_WITH(nll(s, two), "nll: 2 labels for 3 rows: log_probs is (3, 4)");
  CHECK_THROWS_AS(nll(s, bad), ValueError);
  CHECK_THROWS_WITH(nll(s, bad), "nll: label 4 at row 1 is outside [0, 4)");
  CHECK_THROWS_WITH(nll(zeros<double>({3}), bad), "nll: log_probs must be 2-D (N, C): log_probs is (3,)");
  CHECK_THROWS_WITH(nll(zeros<double>({0, 4}), std::vector<std::int32_t>{}), "nll: the batch is empty");
  CHECK_THROWS_AS(svm_loss(s, two), ShapeError);
  CHECK_THROWS_WITH(svm_loss(s, two), "svm_loss: 2 labels for 3 rows: scores is (3, 4)");
  CHECK_THROWS_AS(svm_loss(s, negative), ValueError);
  CHECK_THROWS_WITH(svm_loss(s, negative), "svm_loss: label -1 at row 0 is outside [0, 4)");
  CHECK_THROWS_WITH(svm_loss(s, bad), "svm_loss: label 4 at row 1 is outside [0, 4)");
  CHECK_THROWS_WITH(svm_loss(zeros<double>({2}), two), "svm_loss: scores must be 2-D (N, C): scores is (2,)");
  CHECK_THROWS_WITH(svm_loss(zeros<double>({0, 3}), std::vector<std::int32_t>{}), "svm_loss: the batch is empty");
}

TEST_CASE("mse and nll have the textbook values", "[loss]") {
  CHECK(mse(Tensor64({1.0, 2.0, 3.0}), Tensor64({1.0, 0.0, 0.0})).item() == Approx(13.0 / 3.0).epsilon(1e-15));
  const Tensor64 lp = log(Tensor64({{0.5, 0.25, 0.25}, {0.1, 0.8, 0.1}}));
  CHECK(nll(lp, std::vector<std::int32_t>{0, 1}).item() ==
        Approx(-(std::log(0.5) + std::log(0.8)) / 2).epsilon(1e-15));
  CHECK(huber(Tensor64({0.5, 3.0}), Tensor64({0.0, 0.0})).item() == Approx((0.125 + 2.5) / 2).epsilon(1e-15));
}
