// Gradients as tensors: grad(), backward({.create_graph = true}), derivatives
// of every order, and the engine's rules kept under create_graph (version
// checks, retain_grad, released graphs, leaves' .grad untouched by grad()).
#include <catch2/catch.hpp>

#include <cmath>

#include "slope/autograd.hpp"
#include "slope/gradcheck.hpp"
#include "slope/loss.hpp"
#include "slope/nn.hpp"
#include "slope/ops.hpp"
#include "slope/tensor.hpp"

using namespace slope;

TEST_CASE("grad returns the gradient as a tensor and leaves .grad alone", "[autograd][grad]") {
  Tensor64 x = Tensor64({1.0, 2.0, 3.0}).set_requires_grad();
  const Tensor64 y = sum(x * x * x);  // dy/dx = 3 x^2
  const std::vector<Tensor64> g = grad(y, {x});
  REQUIRE(g.size() == 1);
  CHECK(g[0].value()(0) == 3.0);
  CHECK(g[0].value()(1) == 12.0);
  CHECK(g[0].value()(2) == 27.0);
  CHECK_FALSE(x.has_grad());
  CHECK_FALSE(g[0].requires_grad());  // no create_graph: a constant
}

TEST_CASE("with create_graph the gradient is differentiable to any order", "[autograd][grad]") {
  Tensor64 x = Tensor64(2.0).set_requires_grad();
  const Tensor64 y = x * x * x * x;  // x^4
  const Tensor64 d1 = grad(y, {x}, {.create_graph = true})[0];   // 4 x^3 = 32
  const Tensor64 d2 = grad(d1, {x}, {.create_graph = true})[0];  // 12 x^2 = 48
  const Tensor64 d3 = grad(d2, {x}, {.create_graph = true})[0];  // 24 x = 48
  const Tensor64 d4 = grad(d3, {x}, {.create_graph = true})[0];  // 24
  CHECK(d1.item() == 32.0);
  CHECK(d2.item() == 48.0);
  CHECK(d3.item() == 48.0);
  CHECK(d4.item() == 24.0);
}

TEST_CASE("backward with create_graph leaves a differentiable grad_tensor", "[autograd][grad]") {
  Tensor64 x = Tensor64({0.5, -1.0}).set_requires_grad();
  const Tensor64 y = sum(tanh(x) * x);
  y.backward({.create_graph = true});
  const Tensor64 gx = x.grad_tensor();
  CHECK(gx.requires_grad());
  // d/dx (tanh x * x) = tanh' x + tanh; the same values as a plain backward.
  for (std::size_t i = 0; i < 2; ++i) {
    const double v = x.value()(i), t = std::tanh(v);
    CHECK(x.grad()(i) == Approx((1 - t * t) * v + t).epsilon(1e-14));
  }
  // Differentiate the gradient's sum: d/dx sum(g) = second derivative.
  x.zero_grad();  // a constant zero again (and the cycle broken)
  sum(gx).backward();
  for (std::size_t i = 0; i < 2; ++i) {
    const double v = x.value()(i), t = std::tanh(v), s = 1 - t * t;
    CHECK(x.grad()(i) == Approx(-2 * t * s * v + 2 * s).epsilon(1e-13));
  }
}

TEST_CASE("create_graph gives the same first-order gradients as the fast path", "[autograd][grad]") {
  Rng rng{4};
  const Tensor64 x = randn<double>({5, 3}, rng);
  Tensor64 W = randn<double>({3, 4}, rng, 1.0, 0.0, true);
  Tensor64 b = randn<double>({4}, rng, 1.0, 0.0, true);
  const std::vector<std::int32_t> y{0, 3, 1, 2, 2};
  const auto loss = [&] { return softmax_cross_entropy(linear(x, W, b, Activation::relu), y) + 0.1 * sum_squares(W); };
  loss().backward();
  const xt::xarray<double> gw = W.grad(), gb = b.grad();
  W.zero_grad();
  b.zero_grad();
  loss().backward({.create_graph = true});
  for (std::size_t i = 0; i < gw.size(); ++i) CHECK(W.grad().data()[i] == Approx(gw.data()[i]).epsilon(1e-14));
  for (std::size_t i = 0; i < gb.size(); ++i) CHECK(b.grad().data()[i] == Approx(gb.data()[i]).epsilon(1e-14));
  const std::vector<Tensor64> g = grad(loss(), {W, b});
  for (std::size_t i = 0; i < gw.size(); ++i) CHECK(g[0].value().data()[i] == Approx(gw.data()[i]).epsilon(1e-14));
  W.zero_grad();
  b.zero_grad();
}

TEST_CASE("a broadcast operand's gradient is summed down by a differentiable reduction", "[autograd][grad]") {
  // f = sum((x + r)^3) with a row r (1, 3) against x (2, 3): d2f/dr2 = sum over rows of 6 (x + r).
  const Tensor64 x = Tensor64({{0.5, -1.0, 2.0}, {1.5, 0.25, -0.5}});
  Tensor64 r = Tensor64({{0.1, 0.2, 0.3}}).set_requires_grad();
  const Tensor64 gr = grad(sum(pow(x + r, 3.0)), {r}, {.create_graph = true})[0];
  REQUIRE(gr.shape() == Shape{1, 3});
  const Tensor64 h = grad(sum(gr), {r})[0];  // diagonal of the Hessian, the sum of its rows
  for (std::size_t j = 0; j < 3; ++j)
    CHECK(h.value()(0, j) == Approx(6 * (x.value()(0, j) + x.value()(1, j) + 2 * r.value()(0, j))).epsilon(1e-14));
}

TEST_CASE("grad differentiates with respect to intermediate results and grad_outputs", "[autograd][grad]") {
  Tensor64 x = Tensor64({1.0, 2.0}).set_requires_grad();
  const Tensor64 h = x * 3.0;
  const Tensor64 y = sum(square(h));  // dy/dh = 2h
  const Tensor64 gh = grad(y, {h})[0];
  CHECK(gh.value()(0) == 6.0);
  CHECK(gh.value()(1) == 12.0);
  // A vector-Jacobian product is linear in v: d<dy/dx, 1>/dv through the graph.
  Tensor64 v = Tensor64({1.0, -1.0}).set_requires_grad();
  const Tensor64 z = exp(x);
  const Tensor64 vjp = grad({z}, {x}, {v}, {.create_graph = true})[0];  // v * e^x
  const Tensor64 dv = grad(sum(vjp), {v})[0];
  CHECK(dv.value()(0) == Approx(std::exp(1.0)).epsilon(1e-15));
  CHECK(dv.value()(1) == Approx(std::exp(2.0)).epsilon(1e-15));
}

TEST_CASE("grad keeps the graph when it creates one and frees it otherwise", "[autograd][grad]") {
  Tensor64 x = Tensor64(1.5).set_requires_grad();
  const Tensor64 y = tanh(x) * x;
  grad(y, {x}, {.create_graph = true});
  grad(y, {x}, {.create_graph = true});  // retain_graph defaulted to true
  grad(y, {x});                          // and to false here: the graph is freed
  CHECK_THROWS_WITH(grad(y, {x}), Catch::Contains("was freed by an earlier backward()") &&
                                      Catch::Contains("retain_graph"));
  const Tensor64 y2 = tanh(x) * x;
  grad(y2, {x}, {.retain_graph = true});
  CHECK_NOTHROW(grad(y2, {x}));
  const Tensor64 y3 = tanh(x) * x;
  y3.backward({.create_graph = true, .retain_graph = false});
  x.zero_grad();
  CHECK_THROWS_WITH(y3.backward(), Catch::Contains("was freed"));
}

TEST_CASE("an in-place write after the forward pass is caught under create_graph too", "[autograd][grad]") {
  Tensor64 x = Tensor64({1.0, 2.0}).set_requires_grad();
  Tensor64 w = Tensor64({0.5, 0.5}).set_name("w");
  const Tensor64 y = sum(x * w);
  w.mutable_value()(0) = 3.0;
  CHECK_THROWS_WITH(grad(y, {x}, {.create_graph = true}),
                    Catch::Contains("backward of mul: input 1, 'w' (shape (2,)), was modified in place"));
}

TEST_CASE("retain_grad keeps an intermediate's gradient as a differentiable tensor", "[autograd][grad]") {
  Tensor64 x = Tensor64({0.5, 1.0}).set_requires_grad();
  Tensor64 h = exp(x);
  h.retain_grad();
  const Tensor64 y = sum(square(h));
  y.backward({.create_graph = true});
  // dy/dh = 2h, and d/dx sum(dy/dh) = 2 e^x
  CHECK(h.grad()(0) == Approx(2 * std::exp(0.5)).epsilon(1e-15));
  const Tensor64 gh = h.grad_tensor();
  CHECK(gh.requires_grad());
  const Tensor64 d = grad(sum(gh), {x})[0];
  CHECK(d.value()(1) == Approx(2 * std::exp(1.0)).epsilon(1e-15));
  h.zero_grad();  // break the cycles (h -> its gradient's graph -> h), as PyTorch asks
  x.zero_grad();
}

TEST_CASE("backward with create_graph accumulates, in values and in the graph", "[autograd][grad]") {
  Tensor64 x = Tensor64(2.0).set_requires_grad();
  (x * x * x).backward({.create_graph = true});  // 3 x^2 = 12
  (x * x).backward({.create_graph = true});      // + 2 x = 4
  CHECK(x.grad()() == 16.0);
  const Tensor64 d2 = grad(x.grad_tensor(), {x})[0];  // 6 x + 2 = 14
  CHECK(d2.item() == 14.0);
  (x * 5.0).backward();  // a plain backward adds a constant: the gradient is no longer a graph's value
  CHECK(x.grad()() == 21.0);
  CHECK_FALSE(x.grad_tensor().requires_grad());
  x.zero_grad();
}

TEST_CASE("grad names what it cannot do", "[autograd][grad][errors]") {
  Tensor64 x = Tensor64({1.0, 2.0}).set_requires_grad();
  const Tensor64 c = Tensor64({3.0, 4.0});
  const Tensor64 y = x * 2.0;
  CHECK_THROWS_WITH(grad(y, {x}), "grad: output 0 has shape (2,); a non-scalar output needs a grad_output of its shape");
  CHECK_THROWS_WITH(grad({y}, {x}, {Tensor64({1.0})}), "grad: grad_output 0 has shape (1,), its output (2,)");
  CHECK_THROWS_WITH(grad(sum(c), {x}), "grad: output 0 does not require a gradient (no input of its graph does)");
  CHECK_THROWS_WITH(grad(sum(y), {c}), "grad: input 0 does not require a gradient");
  Tensor64 unused = Tensor64(1.0).set_requires_grad().set_name("u");
  CHECK_THROWS_WITH(grad(sum(y), {unused}),
                    "grad: input 0 'u' (shape ()) is not reachable from the outputs; pass allow_unused = true to get "
                    "zeros for it");
  CHECK(grad(sum(y), {x, unused}, {.allow_unused = true})[1].item() == 0.0);
  CHECK_FALSE(x.has_grad());
}

TEST_CASE("an op whose backward has no differentiable form refuses a second derivative by name",
          "[autograd][grad][errors]") {
  // Every primitive has one; this op is built by hand with a fast step only.
  Tensor64 x = Tensor64({1.0, 2.0}).set_requires_grad();
  auto node = detail::new_node<double>(xt::xarray<double>(x.value() * 2.0));
  node->op = "twice";
  node->requires_grad = true;
  node->inputs.push_back({x.node(), x.node()->version});
  node->backward = detail::Backward<double>([](detail::Node<double>& out) {
    detail::Node<double>& in = *out.inputs[0].node;
    if (!in.has_grad) in.grad = xt::zeros<double>(in.value.shape()), in.has_grad = true;
    in.grad += 2.0 * out.grad;
  });
  const Tensor64 y = sum(Tensor64(node) * Tensor64(node));
  y.backward(true);  // the fast path is fine
  CHECK(x.grad()(1) == 16.0);
  x.zero_grad();
  CHECK_THROWS_WITH(y.backward({.create_graph = true}),
                    "twice: its backward is not differentiable (second derivative not supported)");
  CHECK_THROWS_WITH(grad(y, {x}, {.create_graph = true}),
                    "twice: its backward is not differentiable (second derivative not supported)");
}

TEST_CASE("anomaly mode checks the shares a create_graph backward computes", "[autograd][grad]") {
  Tensor64 x = Tensor64({0.0, 1.0}).set_requires_grad();
  const Tensor64 y = sum(sqrt(x));  // d sqrt(x) = 0.5 x^-0.5: Inf at 0
  AnomalyGuard anomaly;
  CHECK_THROWS_WITH(grad(y, {x}, {.create_graph = true}), Catch::Contains("anomaly") && Catch::Contains("Inf"));
}

TEST_CASE("every primitive's backward has a differentiable form", "[autograd][grad]") {
  // The coverage of double backward, op by op: each primitive's node (the
  // result of the call, or the node it wraps for a composite) must carry the
  // differentiable form. Composites are made of these and need none.
  Rng rng{9};
  const auto leaf = [&](Shape s) { return randn<double>(s, rng, 1.0, 0.0, true); };
  const Tensor64 a = leaf({3, 4}), b = leaf({3, 4}), w = leaf({4, 2}), bias = leaf({2}), p = abs(leaf({3, 4})) + 0.5;
  const std::vector<std::int32_t> y{0, 3, 1};
  const std::vector<std::int64_t> rows{2, 0, 2};
  Rng drop{1};
  const std::vector<std::pair<std::string, Tensor64>> primitives = {
      {"add", a + b}, {"mul", a * b}, {"neg", -a}, {"exp", exp(a)}, {"log", log(p)}, {"log1p", log1p(p)},
      {"expm1", expm1(a)}, {"relu", relu(a)}, {"abs", abs(a)}, {"square", square(a)}, {"pow", pow(p, 1.5)},
      {"add_scalar", a + 1.0}, {"mul_scalar", a * 2.0}, {"clamp", clamp(a, -0.5, 0.5)}, {"maximum", maximum(a, b)},
      {"where", where(gt(a, b), a, b)}, {"dropout", dropout(a, 0.5, drop)}, {"clone", a.clone()},
      {"tanh", tanh(a)}, {"sigmoid", sigmoid(a)}, {"softplus", softplus(a)}, {"leaky_relu", leaky_relu(a)},
      {"elu", elu(a)}, {"gelu", gelu(a)}, {"matmul", matmul(a, w)},
      {"matmul (batched)", matmul(stack({a, b}), stack({w, w}))}, {"linear", linear(a, w, bias)},
      {"linear_relu", linear(a, w, bias, Activation::relu)}, {"permute", permute(a, {1, 0})},
      {"reshape", reshape(a, {12})}, {"expand", expand(leaf({1, 4}), {3, 4})}, {"slice", slice(a, 1, 0, 4, 2)},
      {"concat", concat({a, b}, 0)}, {"index_select", index_select(a, 0, rows)}, {"gather", gather(a, y)},
      {"sum", sum(a)}, {"sum (axis)", sum(a, 1)}, {"max", max(a, 1)}, {"sum_squares", sum_squares(a)},
      {"sum_abs", sum_abs(a)}, {"logsumexp", logsumexp(a, 1)}, {"norm", norm(a)}, {"softmax", softmax(a)},
      {"log_softmax", log_softmax(a)}, {"softmax_cross_entropy", softmax_cross_entropy(a, y)},
  };
  std::size_t differentiable = 0;
  for (const auto& [name, t] : primitives) {
    INFO(name);
    REQUIRE(t.node()->backward);
    CHECK(t.node()->backward.differentiable());
    differentiable += t.node()->backward.differentiable();
  }
  // And the adjoints added for the structural ops, reached through their second derivatives.
  const Tensor64 gs = grad({slice(a, 1, 0, 4, 2)}, {a}, {ones<double>({3, 2}, true)}, {.create_graph = true})[0];
  CHECK(std::string(gs.op()) == "scatter_slice");
  CHECK(gs.node()->backward.differentiable());
  const Tensor64 gi = grad({index_select(a, 0, rows)}, {a}, {ones<double>({3, 4}, true)}, {.create_graph = true})[0];
  CHECK(std::string(gi.op()) == "index_add");
  CHECK(gi.node()->backward.differentiable());
  WARN("double backward: " << differentiable << " of " << primitives.size()
                           << " primitives have a differentiable backward (plus scatter_slice and index_add)");
}

TEST_CASE("the lecture's models and losses pass gradgradcheck", "[autograd][grad][gradgradcheck]") {
  // The two-layer net (nn::TwoLayerNet: the fused linear + relu) with softmax
  // cross-entropy and the L2 penalty; the SVM loss; the L1 and elastic-net
  // penalties away from their kinks; a tanh net with mse.
  Rng rng{12};
  const Tensor64 x = randn<double>({6, 4}, rng);
  const std::vector<std::int32_t> y{0, 2, 1, 2, 0, 1};
  nn::TwoLayerNet<double> net(4, 5, 3, rng);
  const std::vector<Tensor64> params = net.parameters();
  const auto report = [](const char* what, const GradcheckReport& r) {
    INFO(what << ": " << r.message());
    CHECK(r.ok);
    CHECK(r.checked > 0);
  };
  report("two-layer net, softmax cross-entropy + 1e-2 l2", gradgradcheck([&](const std::vector<Tensor64>&) {
           return softmax_cross_entropy(net(x), y) + 1e-2 * l2(net.weights());
         }, params));
  report("two-layer net, svm_loss", gradgradcheck([&](const std::vector<Tensor64>&) { return svm_loss(net(x), y); },
                                                  params));
  Tensor64 w = randn<double>({3, 4}, rng, 1.0, 0.0, true);
  for (double& v : w.mutable_value())
    if (std::abs(v) < 1e-2) v = 0.5;
  report("l1 and elastic_net", gradgradcheck([&](const std::vector<Tensor64>& in) {
           return l1(in[0]) * l1(in[0]) + elastic_net({in[0]}, 0.3) * sum(in[0]);
         }, {w}));
  Tensor64 W1 = randn<double>({4, 3}, rng, 1.0, 0.0, true), W2 = randn<double>({3, 2}, rng, 1.0, 0.0, true);
  const Tensor64 t = randn<double>({6, 2}, rng);
  report("tanh net, mse", gradgradcheck([&](const std::vector<Tensor64>& in) {
           return mse(matmul(tanh(matmul(x, in[0])), in[1]), t);
         }, {W1, W2}));
}

TEST_CASE("double backpropagation trains through the backward pass: its gradient matches differences",
          "[autograd][grad]") {
  // Drucker and LeCun's penalty: L(W) + lambda ||dL/dx||^2, whose W-gradient is a second derivative.
  Rng rng{21};
  const Tensor64 x = randn<double>({5, 3}, rng);
  const std::vector<std::int32_t> y{0, 1, 1, 0, 1};
  Tensor64 W1 = randn<double>({3, 4}, rng, 1.0, 0.0, true), W2 = randn<double>({4, 2}, rng, 1.0, 0.0, true);
  const auto total = [&] {
    const Tensor64 leaf = x.detach().set_requires_grad();
    const Tensor64 loss = softmax_cross_entropy(matmul(tanh(matmul(leaf, W1)), W2), y);
    const Tensor64 gx = grad(loss, {leaf}, {.create_graph = true})[0];
    return loss + 0.5 * sum(square(gx));
  };
  total().backward();
  for (Tensor64* w : {&W1, &W2}) {
    for (std::size_t i = 0; i < w->size(); ++i) {
      double& v = w->mutable_value().data()[i];
      const double old = v, h = 1e-6;
      v = old + h;
      const double up = total().item();
      v = old - h;
      const double down = total().item();
      v = old;
      CHECK(w->grad().data()[i] == Approx((up - down) / (2 * h)).epsilon(1e-7).margin(1e-9));
    }
    w->zero_grad();
  }
}
