// The models: shapes, parameter lists and names, initialisation statistics,
// gradients against finite differences, and the course's sanity checks
// (initial loss ln(C), overfitting a tiny set, the spiral: linear vs two-layer).
#include <catch2/catch.hpp>

#include "test_support.hpp"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "slope/data.hpp"
#include "slope/gradcheck.hpp"
#include "slope/loss.hpp"
#include "slope/nn.hpp"
#include "slope/ops.hpp"
#include "slope/optim.hpp"
#include "slope/runtime.hpp"
#include "slope/tensor.hpp"

using namespace slope;
using namespace slope::testing;
using Catch::Matchers::Contains;

namespace {

template <class A, class B>
double max_abs_diff(const A& a, const B& b) {
  double m = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a.data()[i]) - double(b.data()[i])));
  return m;
}

const bool single_thread = use_one_blas_thread();



// (n, d) standard-normal inputs as a tensor that needs no gradient.
template <class T>
TensorT<T> random_inputs(std::size_t n, std::size_t d, Rng& rng) {
  return TensorT<T>(randn<T>({n, d}, rng).value());
}

std::vector<std::int32_t> random_labels(std::size_t n, std::size_t classes, Rng& rng) {
  std::vector<std::int32_t> y(n);
  for (auto& v : y) v = static_cast<std::int32_t>(rng.below(classes));
  return y;
}

struct Moments {
  double mean = 0.0, stddev = 0.0;
};

template <class T>
Moments moments(const slope::Array<T>& a) {
  double s = 0.0, s2 = 0.0;
  for (T v : a) s += v, s2 += double(v) * double(v);
  const double n = static_cast<double>(a.size());
  const double mean = s / n;
  return {mean, std::sqrt(s2 / n - mean * mean)};
}

// The spiral's points as an (N, 2) float tensor.
Tensor spiral_points(const data::Dataset& d) {
  xt::xarray<float> x = xt::xarray<float>::from_shape({d.size(), d.dim()});
  std::copy(d.features.begin(), d.features.end(), x.begin());
  return Tensor(std::move(x));
}

// Full-batch Adam with a little L2, as examples/spiral.cpp trains; returns the
// final training accuracy.
double fit_full_batch(const nn::MLP<float>& model, const Tensor& x, const std::vector<std::int32_t>& y,
                      int steps, double lr) {
  optim::Adam<float> opt(model.parameters(), {.lr = lr});
  for (int step = 0; step < steps; ++step) {
    const Tensor loss = softmax_cross_entropy(model(x), y) + 1e-4f * l2(model.weights());
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  NoGradGuard no_grad;
  return nn::accuracy(model(x).value(), y);
}

}  // namespace

// ---- shapes and parameters ------------------------------------------------------------

TEST_CASE("An MLP has one layer per pair of sizes with (in, out) weights and (out) biases", "[nn]") {
  Rng rng(1);
  const nn::MLP<float> mlp({5, 7, 4, 3}, rng);
  REQUIRE(mlp.layers().size() == 3);
  CHECK(mlp.sizes() == std::vector<std::size_t>{5, 7, 4, 3});
  const std::vector<std::pair<std::size_t, std::size_t>> dims{{5, 7}, {7, 4}, {4, 3}};
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& l = mlp.layers()[i];
    CHECK(l.W.shape() == Shape{dims[i].first, dims[i].second});
    CHECK(l.b.shape() == Shape{dims[i].second});
    CHECK(l.in_features() == dims[i].first);
    CHECK(l.out_features() == dims[i].second);
    CHECK(l.W.requires_grad());
    CHECK(l.b.requires_grad());
  }
  const Tensor scores = mlp(random_inputs<float>(6, 5, rng));
  CHECK(scores.shape() == Shape{6, 3});
}

TEST_CASE("parameters() lists each layer's W and b in order and weights() only the matrices", "[nn]") {
  Rng rng(2);
  const nn::MLP<float> mlp({4, 6, 5, 2}, rng);
  const auto params = mlp.parameters();
  REQUIRE(params.size() == 6);
  const std::vector<std::string> names{"layers.0.W", "layers.0.b", "layers.1.W",
                                       "layers.1.b", "layers.2.W", "layers.2.b"};
  const auto named = mlp.named_parameters();
  for (std::size_t i = 0; i < params.size(); ++i) {
    CHECK(params[i].name() == names[i]);
    CHECK(named[i].first == names[i]);
  }
  const auto weights = mlp.weights();
  REQUIRE(weights.size() == 3);
  for (std::size_t i = 0; i < weights.size(); ++i) {
    CHECK(weights[i].name() == "layers." + std::to_string(i) + ".W");
    // Handles share the layer's node: an optimizer updating them updates the model.
    CHECK(weights[i].is_same(mlp.layers()[i].W));
    CHECK(params[2 * i].is_same(mlp.layers()[i].W));
    CHECK(params[2 * i + 1].is_same(mlp.layers()[i].b));
  }
}

TEST_CASE("LinearClassifier and TwoLayerNet are MLPs of two and three sizes", "[nn]") {
  Rng rng(3);
  const nn::LinearClassifier<float> linear(784, 10, rng);
  CHECK(linear.sizes() == std::vector<std::size_t>{784, 10});
  CHECK(linear.parameters().size() == 2);
  const nn::TwoLayerNet<double> net(784, 100, 10, rng);
  CHECK(net.sizes() == std::vector<std::size_t>{784, 100, 10});
  CHECK(net.parameters().size() == 4);
  CHECK(net.parameters()[2].shape() == Shape{100, 10});
}

TEST_CASE("Biases start at zero and the weights do not", "[nn]") {
  Rng rng(4);
  const nn::MLP<float> mlp({10, 20, 3}, rng);
  for (const auto& l : mlp.layers()) {
    for (float v : l.b.value()) CHECK(v == 0.0f);
    CHECK(moments(l.W.value()).stddev > 0.0);
  }
}

TEST_CASE("The forward pass is x W1 + b1, ReLU, then x W2 + b2", "[nn]") {
  Rng rng(5);
  const nn::MLP<double> mlp({2, 2, 1}, rng);
  auto p = mlp.parameters();  // handles sharing the layers' nodes
  p[0].mutable_value() = xt::xarray<double>{{1.0, -1.0}, {2.0, 0.5}};
  p[1].mutable_value() = xt::xarray<double>{0.5, -3.0};
  p[2].mutable_value() = xt::xarray<double>::from_shape({2, 1});
  p[2].mutable_value()(0, 0) = 2.0;
  p[2].mutable_value()(1, 0) = -1.0;
  p[3].mutable_value() = xt::xarray<double>{0.25};
  // x = (1, 1): hidden pre-activations (3.5, -3.5) -> ReLU (3.5, 0) -> 7 + 0.25.
  // x = (-1, 1): (1.5, -1.5) -> (1.5, 0) -> 3 + 0.25.
  const Tensor64 x(xt::xarray<double>{{1.0, 1.0}, {-1.0, 1.0}});
  const Tensor64 out = mlp(x);
  REQUIRE(out.shape() == Shape{2, 1});
  CHECK(out.value()(0, 0) == Approx(7.25));
  CHECK(out.value()(1, 0) == Approx(3.25));
}

TEST_CASE("An MLP rejects fewer than two sizes and zero sizes, naming the sizes", "[nn]") {
  Rng rng(6);
  CHECK_THROWS_AS(nn::MLP<float>({5}, rng), ValueError);
  CHECK_THROWS_AS(nn::MLP<float>(std::vector<std::size_t>{}, rng), ValueError);
  CHECK_THROWS_MATCHES(nn::MLP<float>({5, 0, 3}, rng), ValueError, what(Contains("5, 0, 3")));
  CHECK_THROWS_AS(nn::MLP<float>({5, 3, 0}, rng), ValueError);
}

TEST_CASE("The same seed gives the same weights and another seed different ones", "[nn]") {
  Rng a(42), b(42), c(43);
  const nn::MLP<float> ma({8, 6, 3}, a), mb({8, 6, 3}, b), mc({8, 6, 3}, c);
  CHECK(ma.layers()[0].W.value() == mb.layers()[0].W.value());
  CHECK(ma.layers()[1].W.value() == mb.layers()[1].W.value());
  CHECK(ma.layers()[0].W.value() != mc.layers()[0].W.value());
}

// ---- initialisation ----------------------------------------------------------------------

TEST_CASE("Init::std_for gives sqrt(2/fan_in) for He, sqrt(2/(fan_in+fan_out)) for Xavier", "[nn][init]") {
  CHECK(nn::Init::he().std_for(800, 100) == Approx(std::sqrt(2.0 / 800)));
  CHECK(nn::Init::xavier().std_for(800, 100) == Approx(std::sqrt(2.0 / 900)));
  CHECK(nn::Init::normal(1e-3).std_for(800, 100) == Approx(1e-3));
}

TEST_CASE("Large layers have the initialisation's standard deviation and mean zero", "[nn][init]") {
  Rng rng(7);
  const std::size_t in = 1000, out = 400;  // 400k weights: sample std within ~0.2%
  SECTION("He: N(0, 2 / fan_in)") {
    const nn::Linear<float> l(in, out, rng, nn::Init::he());
    const Moments m = moments(l.W.value());
    const double expected = std::sqrt(2.0 / in);
    CHECK(m.stddev == Approx(expected).epsilon(0.01));
    CHECK(std::abs(m.mean) < 0.01 * expected);
  }
  SECTION("Xavier: N(0, 2 / (fan_in + fan_out))") {
    const nn::Linear<float> l(in, out, rng, nn::Init::xavier());
    const Moments m = moments(l.W.value());
    const double expected = std::sqrt(2.0 / (in + out));
    CHECK(m.stddev == Approx(expected).epsilon(0.01));
    CHECK(std::abs(m.mean) < 0.01 * expected);
  }
  SECTION("normal(0.01)") {
    const nn::Linear<double> l(in, out, rng, nn::Init::normal(0.01));
    const Moments m = moments(l.W.value());
    CHECK(m.stddev == Approx(0.01).epsilon(0.01));
    CHECK(std::abs(m.mean) < 1e-4);
  }
  SECTION("an MLP applies the rule per layer with that layer's fan-in") {
    const nn::MLP<float> mlp({2000, 200, 10}, rng, nn::Init::he());
    CHECK(moments(mlp.layers()[0].W.value()).stddev == Approx(std::sqrt(2.0 / 2000)).epsilon(0.02));
    CHECK(moments(mlp.layers()[1].W.value()).stddev == Approx(std::sqrt(2.0 / 200)).epsilon(0.03));
  }
}

// ---- gradients ---------------------------------------------------------------------------------

TEST_CASE("MLP gradients match finite differences in float64 with softmax or SVM loss plus L2", "[nn][gradcheck]") {
  Rng rng(8);
  const nn::MLP<double> mlp({6, 7, 5, 4}, rng);
  const Tensor64 x = random_inputs<double>(5, 6, rng);
  const auto y = random_labels(5, 4, rng);
  // Non-zero biases, so their gradients are exercised at a generic point.
  auto params = mlp.parameters();
  for (std::size_t i = 1; i < params.size(); i += 2)
    for (auto& v : params[i].mutable_value()) v = rng.normal() * 0.1;

  const std::string loss = GENERATE(std::string("softmax"), std::string("svm"));
  INFO("loss " << loss);
  const auto f = [&](const std::vector<Tensor64>&) {
    const Tensor64 scores = mlp(x);
    const Tensor64 data = loss == "svm" ? svm_loss(scores, y) : softmax_cross_entropy(scores, y);
    return data + 0.3 * l2(mlp.weights());
  };
  const GradcheckReport report = gradcheck(f, mlp.parameters());
  INFO(report.message());
  CHECK(report.ok);
  CHECK(report.checked == 6 * 7 + 7 + 7 * 5 + 5 + 5 * 4 + 4);
  CHECK(report.max_rel_error() < 1e-6);
  // The report names the parameters.
  REQUIRE(report.worst.size() == 6);
  CHECK(report.worst[0].name == "layers.0.W");
  CHECK(report.worst[5].name == "layers.2.b");
}

// ---- argmax and accuracy -------------------------------------------------------------------

TEST_CASE("argmax_rows picks the largest score per row, the first one on ties", "[nn]") {
  const slope::Array<float> s{{0.1f, 0.9f, 0.3f}, {2.0f, -1.0f, 2.0f}, {-3.0f, -2.0f, -1.0f}};
  CHECK(nn::argmax_rows(s) == std::vector<std::int32_t>{1, 0, 2});
  const std::vector<std::int32_t> labels{1, 2, 2};
  CHECK(nn::accuracy(s, std::span<const std::int32_t>(labels)) == Approx(2.0 / 3.0));
  const std::vector<std::int32_t> two{1, 2};
  CHECK_THROWS_AS(nn::accuracy(s, std::span<const std::int32_t>(two)), ShapeError);
  CHECK_THROWS_AS(nn::argmax_rows(slope::Array<float>{1.0f, 2.0f}), ShapeError);
}

// ---- the course's sanity checks --------------------------------------------------------------

TEST_CASE("With small weights the initial softmax loss on 10 classes is about ln(10)", "[nn][sanity]") {
  Rng rng(9);
  const nn::TwoLayerNet<float> net(100, 50, 10, rng, nn::Init::normal(1e-3));
  const Tensor x = random_inputs<float>(500, 100, rng);
  const auto y = random_labels(500, 10, rng);
  const double loss = softmax_cross_entropy(net(x), y).item();
  CHECK(loss == Approx(std::log(10.0)).margin(0.01));
  // Adding regularization only raises it.
  const double with_reg = (softmax_cross_entropy(net(x), y) + 1e3f * l2(net.weights())).item();
  CHECK(with_reg > loss);
}

TEST_CASE("A two-layer net overfits 20 examples to 100% training accuracy", "[nn][sanity]") {
  Rng rng(10);
  const Tensor x = random_inputs<float>(20, 50, rng);
  const auto y = random_labels(20, 10, rng);
  const nn::TwoLayerNet<float> net(50, 100, 10, rng);
  optim::Adam<float> opt(net.parameters(), {.lr = 1e-2});
  double loss = 0.0;
  for (int step = 0; step < 200; ++step) {
    const Tensor l = softmax_cross_entropy(net(x), y);
    loss = l.item();
    opt.zero_grad();
    l.backward();
    opt.step();
  }
  NoGradGuard no_grad;
  CHECK(nn::accuracy(net(x).value(), y) == 1.0);
  CHECK(loss < 0.05);
}

TEST_CASE("On the spiral a linear classifier stays near 50% and a two-layer net reaches 99%", "[nn][sanity]") {
  Rng rng(0);
  const data::Dataset spiral = data::spiral(3, 100, rng);
  REQUIRE(spiral.size() == 300);
  const Tensor x = spiral_points(spiral);
  const nn::LinearClassifier<float> linear(2, 3, rng);
  const double linear_acc = fit_full_batch(linear, x, spiral.labels, 500, 1e-2);
  const nn::TwoLayerNet<float> net(2, 100, 3, rng);
  const double net_acc = fit_full_batch(net, x, spiral.labels, 2000, 1e-2);
  INFO("linear " << linear_acc << ", two-layer " << net_acc);
  CHECK(linear_acc <= 0.60);
  CHECK(linear_acc > 0.40);  // it did learn something: chance is 1/3
  CHECK(net_acc >= 0.99);
}

TEST_CASE("dropout keeps the expected value, is differentiable, and p = 0 is the plain forward pass",
          "[nn][dropout]") {
  Rng rng(3);
  const Tensor64 x = ones<double>({200, 50});
  const double p = 0.3;
  Rng mask_rng(11);
  const Tensor64 y = dropout(x, p, mask_rng);
  std::size_t zeros_seen = 0;
  for (double v : y.value()) {
    if (v == 0.0) ++zeros_seen;
    else CHECK(v == Approx(1.0 / (1.0 - p)));
  }
  CHECK(static_cast<double>(zeros_seen) / 10000.0 == Approx(p).margin(0.02));
  CHECK(mean(y).item() == Approx(1.0).margin(0.03));

  // The same seed gives the same mask, so finite differences see one function.
  Tensor64 w = randn<double>({5, 4}, rng, 1.0, 0.0, true);
  const auto f = [](const std::vector<Tensor64>& in) {
    Rng r(7);
    return sum(square(dropout(in[0], 0.5, r)));
  };
  const GradcheckReport report = gradcheck(f, {w});
  INFO(report.message());
  CHECK(report.ok);

  // In evaluation mode a net with dropout is the plain forward pass; in
  // training mode it is not.
  nn::MLP<double> net({3, 8, 2}, rng, nn::MLPOptions{.dropout = {0.5}});
  const Tensor64 batch = randn<double>({4, 3}, rng);
  const auto& l = net.layers();
  const Tensor64 plain = matmul(relu(matmul(batch, l[0].W) + l[0].b), l[1].W) + l[1].b;
  net.eval();
  CHECK(max_abs_diff(net(batch).value(), plain.value()) < 1e-12);
  net.train();
  CHECK(max_abs_diff(net(batch).value(), plain.value()) > 1e-3);
  CHECK_THROWS_AS(dropout(x, 1.0, rng), ValueError);
  CHECK_THROWS_AS(dropout(x, -0.1, rng), ValueError);
}
