// Autograd that tells the truth: in-place writes after an op read a value
// are caught (version counters), retain_grad() keeps an intermediate's
// gradient, errors name the op the user called, and to_dot draws the graph.
#include <catch2/catch.hpp>

#include <algorithm>
#include <regex>
#include <string>

#include "slope/graph.hpp"
#include "slope/nn.hpp"
#include "slope/ops.hpp"
#include "slope/optim.hpp"

using namespace slope;
using Catch::Matchers::Contains;

namespace {
std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}
}  // namespace

TEST_CASE("Writing a value in place after an op read it makes backward throw, naming the op and the tensor",
          "[autograd][version]") {
  // The lecture-sized trap: p * p saves p; changing p before backward would
  // give the gradient of the new value times the old one.
  Tensor64 p = Tensor64({1.0, 0.0}).set_requires_grad().set_name("p");
  const Tensor64 loss = sum(p * p);
  p.mutable_value()(0) = 5.0;
  CHECK_THROWS_WITH(loss.backward(),
                    "backward of mul: input 0, 'p' (shape (2,)), was modified in place after mul used it "
                    "(it is at version 1, the op saw version 0); compute the graph again after changing it");
  // Computed again from the new value, the gradient is right: 2 p = (10, 0).
  p.zero_grad();
  sum(p * p).backward();
  CHECK(p.grad()(0) == 10.0);
  CHECK(p.grad()(1) == 0.0);
}

TEST_CASE("An op that does not read an input's value lets that input change", "[autograd][version]") {
  // d(a + b) = g whatever a and b hold: add is not checked.
  Tensor64 a = Tensor64({1.0, 2.0}).set_requires_grad(), b = Tensor64({3.0, 4.0}).set_requires_grad();
  const Tensor64 loss = sum(a + b);
  a.mutable_value()(0) = -7.0;
  REQUIRE_NOTHROW(loss.backward());
  CHECK(a.grad()(0) == 1.0);
  CHECK(b.grad()(1) == 1.0);
}

TEST_CASE("A result written in place before backward is an error too", "[autograd][version]") {
  Tensor64 x = Tensor64({0.5, 1.5}).set_requires_grad();
  Tensor64 y = exp(x);  // exp's backward reads its output
  const Tensor64 loss = sum(y);
  y.mutable_value()(1) = 0.0;
  CHECK_THROWS_WITH(loss.backward(), Contains("backward of exp: its result") && Contains("modified in place"));
}

TEST_CASE("An optimizer's update between steps is legal; a graph kept across it is not", "[autograd][version]") {
  Tensor64 w = Tensor64({1.0, -2.0}).set_requires_grad().set_name("w");
  optim::SGD<double> opt({w}, {.lr = 0.1});
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad();
    const Tensor64 loss = sum(square(w));
    REQUIRE_NOTHROW(loss.backward());
    opt.step();
  }
  CHECK(w.value()(0) == Approx(1.0 * 0.8 * 0.8 * 0.8));
  // A graph built before the update and differentiated after it.
  opt.zero_grad();
  const Tensor64 stale = sum(square(w));
  stale.backward(/*retain_graph=*/true);
  opt.step();
  CHECK_THROWS_WITH(stale.backward(), Contains("backward of square: input 0, 'w'") && Contains("modified in place"));
}

TEST_CASE("retain_grad keeps an intermediate's gradient through backward", "[autograd][retain]") {
  Tensor64 x = Tensor64({1.0, -2.0, 3.0}).set_requires_grad();
  Tensor64 h = x * 3.0;
  h.retain_grad();
  Tensor64 k = h * 2.0;  // not retained
  sum(square(h) + k).backward();
  // d/dh (h^2 + 2h) = 2h + 2
  for (std::size_t i = 0; i < 3; ++i) CHECK(h.grad()(i) == Approx(2.0 * h.value()(i) + 2.0));
  CHECK_THROWS_WITH(k.grad(), Contains("retain_grad()"));
  CHECK(x.grad()(0) == Approx(3.0 * (2.0 * 3.0 + 2.0)));
}

TEST_CASE("retain_grad on linear's fused relu output keeps dL/dy, and the weights' gradients stay right",
          "[autograd][retain]") {
  Rng rng(4);
  const Tensor64 x = randn<double>({5, 3}, rng);
  Tensor64 W = randn<double>({3, 4}, rng, 1.0, 0.0, true), b = randn<double>({4}, rng, 1.0, 0.0, true);
  const Tensor64 R = randn<double>({5, 4}, rng);
  Tensor64 y = linear(x, W, b, Activation::relu);
  y.retain_grad();
  sum(y * R).backward();
  // dL/dy = R exactly, not R masked by relu' (the epilogue's in-place step must not touch it).
  bool same = true;
  for (std::size_t i = 0; i < R.size(); ++i) same = same && y.grad().data()[i] == R.data()[i];
  CHECK(same);
  const xt::xarray<double> fused_dW = W.grad();
  W.zero_grad();
  b.zero_grad();
  sum(relu(matmul(x, W) + b) * R).backward();  // the unfused path
  for (std::size_t i = 0; i < W.size(); ++i) CHECK(fused_dW.data()[i] == Approx(W.grad().data()[i]).epsilon(1e-12));
}

TEST_CASE("Anomaly errors name the user's tensors", "[autograd][anomaly]") {
  Tensor64 h = Tensor64({1.0, -1.0}).set_requires_grad().set_name("h1");
  AnomalyGuard anomaly;
  CHECK_THROWS_WITH(log(h), "anomaly: forward of log produced NaN (entry 1 of shape (2,)) (inputs 'h1')");
  // A composite reports as itself.
  CHECK_THROWS_WITH(sqrt(h), Contains("forward of sqrt") && Contains("'h1'"));
}

TEST_CASE("to_dot draws the two-layer net's graph: every op, every parameter, every edge", "[autograd][dot]") {
  Rng rng(1);
  nn::TwoLayerNet<float> net(4, 5, 3, rng);
  Tensor x = randn<float>({6, 4}, rng).set_name("x");
  const std::vector<std::int32_t> y{0, 1, 2, 0, 1, 2};
  const Tensor loss = softmax_cross_entropy(net(x), y);
  const std::string dot = to_dot(loss);
  INFO(dot);
  CHECK(dot.rfind("digraph slope {", 0) == 0);
  CHECK(dot.back() == '\n');
  // x, the four parameters, linear_relu, linear and the loss: 8 boxes, 7 edges.
  CHECK(count(dot, "[label=") == 8);
  CHECK(count(dot, " -> ") == 7);
  for (const char* text : {"softmax_cross_entropy\\n()", "linear_relu\\n(6, 5)", "linear\\n(6, 3)",
                           "layers.0.W\\n(4, 5)", "layers.0.b\\n(5,)", "layers.1.W\\n(5, 3)", "x\\n(6, 4)"})
    CHECK(dot.find(text) != std::string::npos);
  // Parameters are filled darker than intermediate results; the data is not filled.
  CHECK(count(dot, "fillcolor=\"#b9d3f2\"") == 4);
  CHECK(count(dot, "fillcolor=\"#e8f0fb\"") == 3);
  // Each edge joins boxes that exist.
  const std::regex edge(R"(n(\d+) -> n(\d+);)");
  for (auto it = std::sregex_iterator(dot.begin(), dot.end(), edge); it != std::sregex_iterator(); ++it)
    for (int g : {1, 2}) CHECK(std::stoi((*it)[g]) < 8);
  CHECK(to_dot(loss) == dot);  // deterministic
  loss.backward();
  CHECK(to_dot(loss).find("freed") != std::string::npos);
}

TEST_CASE("to_dot escapes names and walks a graph of 100000 ops without recursion", "[autograd][dot]") {
  Tensor64 a = Tensor64({1.0}).set_requires_grad().set_name("say \"hi\" \\ now");
  Tensor64 h = a;
  for (int i = 0; i < 100000; ++i) h = h + 1.0;
  const std::string dot = to_dot(h);
  CHECK(dot.find("say \\\"hi\\\" \\\\ now") != std::string::npos);
  CHECK(count(dot, " -> ") == 100000);
}
