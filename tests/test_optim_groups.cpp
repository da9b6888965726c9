// Optimizer state keyed by parameter name and parameter groups
// (optim/optimizer.hpp): a state loads into an optimizer whose parameters come
// in another order and continues bit for bit; a group's weight decay and
// learning-rate scale against hand computations and against separate
// optimizers; a loaded momentum buffer is used from the first step (torch's
// rule); invalid group options are refused with the group named.
#include <catch2/catch.hpp>

#include "test_support.hpp"

#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "golden/problem.hpp"
#include "slope/optim.hpp"

using namespace slope;
using namespace slope::optim;
using namespace slope::testing;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;

namespace {

using Make = std::function<std::unique_ptr<Optimizer<double>>(Params<double>)>;

template <class Opt, class Options>
Make make(Options o) {
  return [o](Params<double> ps) { return std::make_unique<Opt>(std::move(ps), o); };
}

const std::vector<std::pair<std::string, Make>>& optimizers() {
  static const std::vector<std::pair<std::string, Make>> all = {
      {"momentum", make<SGD<double>>(SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01})},
      {"nesterov step form", make<SGD<double>>(SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true,
                                                          .form = MomentumForm::step})},
      {"adagrad", make<AdaGrad<double>>(AdaGradOptions{.lr = 0.1, .lr_decay = 0.01})},
      {"rmsprop centered", make<RMSProp<double>>(RMSPropOptions{.lr = 0.01, .momentum = 0.5, .centered = true})},
      {"adam amsgrad", make<Adam<double>>(AdamOptions{.lr = 0.05, .weight_decay = 0.1, .amsgrad = true})},
      {"adamw", make<AdamW<double>>(AdamWOptions{.lr = 0.05, .weight_decay = 0.1})},
  };
  return all;
}

void train(Optimizer<double>& opt, golden::Problem& pb, int steps) {
  for (int i = 0; i < steps; ++i) {
    opt.zero_grad();
    pb.loss().backward();
    opt.step();
  }
}

std::vector<double> values(const Tensor64& t) { return {t.data(), t.data() + t.size()}; }

}  // namespace

// ---- state by name ----------------------------------------------------------------------

TEST_CASE("A state saved over (W, b) loads into an optimizer over (b, W) and continues bitwise identically",
          "[optim][state][names]") {
  for (const auto& [name, make_opt] : optimizers()) {
    INFO(name);
    golden::Problem a, b;
    auto first = make_opt(std::vector<NamedTensor<double>>{{"W", a.w}, {"b", a.b}});
    train(*first, a, 6);
    const OptimizerState saved = first->state();
    REQUIRE(saved.params.size() == 2);
    b.w.mutable_value() = a.w.value();
    b.b.mutable_value() = a.b.value();
    auto second = make_opt(std::vector<NamedTensor<double>>{{"b", b.b}, {"W", b.w}});
    REQUIRE(second->names() == std::vector<std::string>{"b", "W"});
    second->load_state(saved);
    CHECK(second->state() == saved);
    const std::vector<double> mid = a.flat();
    train(*first, a, 6);
    train(*second, b, 6);
    CHECK(a.flat() == b.flat());  // bit for bit
    CHECK(a.flat() != mid);       // and they did move
    // Without the state the same steps end elsewhere: the state is what carried over.
    golden::Problem c;
    c.w.mutable_value() = xt::xarray<double>(xt::adapt(std::vector<double>(mid.begin(), mid.begin() + 12), {4, 3}));
    c.b.mutable_value() = xt::xarray<double>(xt::adapt(std::vector<double>(mid.begin() + 12, mid.end()), {3}));
    auto fresh = make_opt(std::vector<NamedTensor<double>>{{"b", c.b}, {"W", c.w}});
    train(*fresh, c, 6);
    CHECK(c.flat() != a.flat());
  }
}

TEST_CASE("A state naming a parameter the optimizer lacks is refused, naming it, and changes nothing",
          "[optim][state][names]") {
  golden::Problem pb;
  Adam<double> adam(std::vector<NamedTensor<double>>{{"W", pb.w}, {"b", pb.b}}, {.lr = 0.01});
  train(adam, pb, 2);
  OptimizerState s = adam.state();
  Adam<double> other(std::vector<NamedTensor<double>>{{"weight", pb.w}, {"b", pb.b}}, {.lr = 0.5});
  CHECK_THROWS_MATCHES(other.load_state(s), ValueError,
                       what(Equals("Adam: load_state: the state has buffers for 'W', which is not one of this "
                                   "optimizer's parameters")));
  CHECK(other.steps() == 0);
  CHECK(other.lr() == 0.5);
  CHECK(other.state().params.empty());
}

// ---- parameter groups ----------------------------------------------------------------------

TEST_CASE("AdamW with decay 0 on one group leaves it undecayed while the other group decays", "[optim][groups]") {
  // A zero gradient makes Adam's own step 0 (m = v = 0), so one step is the
  // decay alone: w <- w * (1 - lr * weight_decay) for the decayed group.
  Tensor64 w(xt::xarray<double>{{1.0, -2.0}, {0.5, 4.0}}, true);
  Tensor64 b(xt::xarray<double>{3.0, -1.0}, true);
  const std::vector<double> w0 = values(w), b0 = values(b);
  std::vector<ParamGroup<double>> groups(2);
  groups[0].params = {{"w", w}};
  groups[1].params = {{"b", b}};
  groups[1].weight_decay = 0.0;
  AdamW<double> opt(groups, {.lr = 0.1, .weight_decay = 0.5});
  (0.0 * (sum(w) + sum(b))).backward();
  opt.step();
  for (std::size_t i = 0; i < w0.size(); ++i) CHECK(w.data()[i] == w0[i] * (1.0 - 0.1 * 0.5));
  CHECK(values(b) == b0);

  SECTION("with real gradients it equals two optimizers, one per group") {
    golden::Problem g, h;
    std::vector<ParamGroup<double>> two(2);
    two[0].params = {{"W", g.w}};
    two[1].params = {{"b", g.b}};
    two[1].weight_decay = 0.0;
    AdamW<double> grouped(two, {.lr = 0.05, .weight_decay = 0.3});
    AdamW<double> decayed(std::vector<NamedTensor<double>>{{"W", h.w}}, {.lr = 0.05, .weight_decay = 0.3});
    AdamW<double> plain(std::vector<NamedTensor<double>>{{"b", h.b}}, {.lr = 0.05, .weight_decay = 0.0});
    for (int i = 0; i < 8; ++i) {
      grouped.zero_grad();
      g.loss().backward();
      grouped.step();
      decayed.zero_grad();
      plain.zero_grad();
      h.loss().backward();
      decayed.step();
      plain.step();
    }
    CHECK(g.flat() == h.flat());
    // ... and differs from decaying both.
    golden::Problem k;
    AdamW<double> both(k.params(), {.lr = 0.05, .weight_decay = 0.3});
    train(both, k, 8);
    CHECK(values(k.b) != values(g.b));
  }
}

TEST_CASE("A group's lr_scale multiplies its learning rate; 0 freezes it", "[optim][groups]") {
  // SGD by hand: w <- w - lr * scale * g with g = 2 w for the loss sum(w^2).
  Tensor64 a(xt::xarray<double>{1.0, -2.0}, true);
  Tensor64 c(xt::xarray<double>{0.5, 3.0}, true);
  Tensor64 frozen(xt::xarray<double>{7.0}, true);
  std::vector<ParamGroup<double>> groups(3);
  groups[0].params = {{"a", a}};
  groups[1].params = {{"c", c}};
  groups[1].lr_scale = 0.25;
  groups[2].params = {{"frozen", frozen}};
  groups[2].lr_scale = 0.0;
  SGD<double> opt(groups, {.lr = 0.1});
  (sum(square(a)) + sum(square(c)) + sum(square(frozen))).backward();
  opt.step();
  CHECK(a.data()[0] == 1.0 - 0.1 * 2.0);
  CHECK(a.data()[1] == -2.0 - 0.1 * -4.0);
  CHECK(c.data()[0] == 0.5 - (0.1 * 0.25) * 1.0);
  CHECK(c.data()[1] == 3.0 - (0.1 * 0.25) * 6.0);
  CHECK(frozen.data()[0] == 7.0);

  SECTION("Adam with lr_scale 0.5 equals Adam at half the learning rate") {
    golden::Problem g, h;
    std::vector<ParamGroup<double>> half(1);
    half[0].params = {{"W", g.w}, {"b", g.b}};
    half[0].lr_scale = 0.5;
    Adam<double> scaled(half, {.lr = 0.04});
    Adam<double> slower(h.params(), {.lr = 0.02});
    train(scaled, g, 10);
    train(slower, h, 10);
    CHECK(g.flat() == h.flat());
  }
}

TEST_CASE("An SGD momentum buffer loaded with step 0 is used from the first step, as torch does",
          "[optim][state][momentum]") {
  // torch.optim.SGD: if state has "momentum_buffer", buf <- rho * buf + (1 - dampening) * g,
  // whatever the step count; only a missing buffer is set to g.
  Tensor64 w(xt::xarray<double>{1.0, -0.5, 2.0}, true);
  const std::vector<double> w0 = values(w);
  const std::vector<double> v0{0.3, -0.2, 1.5};
  SGD<double> opt(std::vector<NamedTensor<double>>{{"w", w}}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.25});
  OptimizerState s;
  s.kind = "SGD";
  s.scalars = {{"lr", 0.1}, {"step", 0.0}};
  s.params["w"]["momentum_buffer"] = xt::xarray<double>(xt::adapt(v0, {3}));
  opt.load_state(s);
  CHECK(opt.steps() == 0);
  sum(square(w)).backward();  // g = 2 w
  opt.step();
  const auto state = opt.state();
  for (std::size_t i = 0; i < 3; ++i) {
    const double g = 2.0 * w0[i];
    const double v = 0.9 * v0[i] + 0.75 * g;
    CHECK(state.params.at("w").at("momentum_buffer")(i) == Approx(v).epsilon(1e-15));
    CHECK(w.data()[i] == Approx(w0[i] - 0.1 * v).epsilon(1e-15));
  }
  CHECK(opt.steps() == 1);

  SECTION("without a loaded buffer the first step sets it to g") {
    Tensor64 u(xt::xarray<double>{1.0, -0.5, 2.0}, true);
    SGD<double> fresh(std::vector<NamedTensor<double>>{{"u", u}}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.25});
    sum(square(u)).backward();
    fresh.step();
    for (std::size_t i = 0; i < 3; ++i)
      CHECK(fresh.state().params.at("u").at("momentum_buffer")(i) == 2.0 * w0[i]);
  }
}

TEST_CASE("Invalid group options are ValueErrors naming the group and the option", "[optim][groups]") {
  Tensor64 w(xt::xarray<double>{1.0}, true), b(xt::xarray<double>{2.0}, true);
  const auto groups = [&](std::optional<double> decay, double scale) {
    std::vector<ParamGroup<double>> g(2);
    g[0].params = {{"w", w}};
    g[1].params = {{"b", b}};
    g[1].weight_decay = decay;
    g[1].lr_scale = scale;
    return g;
  };
  CHECK_THROWS_MATCHES(SGD<double>(groups(-1.0, 1.0), {}), ValueError,
                       what(Equals("SGD: group 1 weight_decay must be >= 0: got -1")));
  CHECK_THROWS_MATCHES(AdamW<double>(groups(std::numeric_limits<double>::infinity(), 1.0), {}), ValueError,
                       what(Equals("AdamW: group 1 weight_decay must be >= 0: got inf")));
  CHECK_THROWS_MATCHES(Adam<double>(groups(std::nan(""), 1.0), {}), ValueError,
                       what(Equals("Adam: group 1 weight_decay must be >= 0: got nan")));
  CHECK_THROWS_MATCHES(RMSProp<double>(groups(std::nullopt, -0.5), {}), ValueError,
                       what(Equals("RMSProp: group 1 lr_scale must be >= 0: got -0.5")));
  CHECK_THROWS_MATCHES(AdaGrad<double>(groups(0.0, std::numeric_limits<double>::infinity()), {}), ValueError,
                       what(Equals("AdaGrad: group 1 lr_scale must be >= 0: got inf")));
  // Names are keys: unique across groups, each tensor once.
  std::vector<ParamGroup<double>> dup(2);
  dup[0].params = {{"w", w}};
  dup[1].params = {{"w", b}};
  CHECK_THROWS_MATCHES(SGD<double>(dup, {}), ValueError, what(Contains("two parameters are named 'w'")));
  dup[1].params = {{"again", w}};
  CHECK_THROWS_MATCHES(SGD<double>(dup, {}), ValueError, what(Equals("SGD: parameter 'again' is listed twice")));
  dup[1].params = {{"", b}};
  CHECK_THROWS_MATCHES(SGD<double>(dup, {}), ValueError, what(Equals("SGD: a parameter has an empty name")));
  // Unnamed tensors are named by position; named ones keep their names.
  Tensor64 named(xt::xarray<double>{3.0}, true);
  named.set_name("gain");
  SGD<double> positional({w, b, named}, {});
  CHECK(positional.names() == std::vector<std::string>{"0", "1", "gain"});
}
