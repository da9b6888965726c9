// train::make_optimizer: every setting of the Config reaches the optimizer it
// builds. Each name is compared with the optimizer built by hand from its
// options struct, field by field and by one step from the same weights.
#include <catch2/catch.hpp>

#include "test_support.hpp"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "slope/ops.hpp"
#include "slope/optim.hpp"
#include "slope/train.hpp"

using namespace slope;
using namespace slope::testing;
using Catch::Matchers::Contains;

TEST_CASE("make_optimizer builds the named optimizer with the config's settings", "[train][optim]") {
  // Every setting distinct, so that a swapped pair (beta1 for beta2) shows.
  train::Config c;
  c.lr = 0.25;
  c.momentum = 0.7;
  c.beta1 = 0.81;
  c.beta2 = 0.97;
  c.eps = 1e-5;
  c.alpha = 0.93;
  c.weight_decay = 0.03;
  using namespace slope::optim;
  // Each name against the optimizer built by hand from its options struct:
  // the same options, and one step from the same weights to the same bits.
  const auto same_step = [](Optimizer<float>& a, Optimizer<float>& b, Tensor& wa, Tensor& wb) {
    for (auto* p : {&wa, &wb}) sum(*p * *p * 0.5f + *p).backward();
    a.step();
    b.step();
    CHECK(std::memcmp(wa.data(), wb.data(), wa.size() * sizeof(float)) == 0);
    CHECK(wa.value()(0) != 1.0f);  // the step moved the weights
  };
  const auto check = [&](const std::string& name, const std::string& kind, auto by_hand, auto options_equal) {
    INFO(name);
    c.optimizer = name;
    Tensor wa = full<float>({3}, 1.0f, true), wb = full<float>({3}, 1.0f, true);
    auto made = train::make_optimizer(c, {wa});
    REQUIRE(made->name() == kind);
    auto hand = by_hand(wb);
    using Concrete = typename decltype(hand)::element_type;
    const auto* concrete = dynamic_cast<const Concrete*>(made.get());
    REQUIRE(concrete != nullptr);
    CHECK(options_equal(concrete->options(), hand->options()));
    same_step(*made, *hand, wa, wb);
  };
  check("sgd", "SGD", [&](Tensor w) { return std::make_unique<SGD<float>>(std::vector{w}, SGDOptions{.lr = 0.25, .weight_decay = 0.03}); },
        [](const SGDOptions& a, const SGDOptions& b) {
          return a.lr == b.lr && a.momentum == b.momentum && a.momentum == 0.0 && a.weight_decay == b.weight_decay &&
                 !a.nesterov && a.dampening == b.dampening;
        });
  for (const bool nesterov : {false, true})
    check(nesterov ? "nesterov" : "momentum", "SGD",
          [&](Tensor w) {
            return std::make_unique<SGD<float>>(std::vector{w}, SGDOptions{.lr = 0.25, .momentum = 0.7,
                                                                           .weight_decay = 0.03, .nesterov = nesterov});
          },
          [&](const SGDOptions& a, const SGDOptions& b) {
            return a.lr == b.lr && a.momentum == 0.7 && a.weight_decay == b.weight_decay && a.nesterov == nesterov &&
                   a.form == b.form;
          });
  check("adagrad", "AdaGrad",
        [&](Tensor w) { return std::make_unique<AdaGrad<float>>(std::vector{w}, AdaGradOptions{.lr = 0.25, .weight_decay = 0.03, .eps = 1e-5}); },
        [](const AdaGradOptions& a, const AdaGradOptions& b) {
          return a.lr == b.lr && a.eps == 1e-5 && a.weight_decay == 0.03 && a.lr_decay == b.lr_decay;
        });
  check("rmsprop", "RMSProp",
        [&](Tensor w) {
          return std::make_unique<RMSProp<float>>(std::vector{w}, RMSPropOptions{.lr = 0.25, .alpha = 0.93, .eps = 1e-5,
                                                                                 .weight_decay = 0.03});
        },
        [](const RMSPropOptions& a, const RMSPropOptions& b) {
          return a.lr == b.lr && a.alpha == 0.93 && a.eps == 1e-5 && a.weight_decay == 0.03 && a.momentum == b.momentum;
        });
  check("adam", "Adam",
        [&](Tensor w) {
          return std::make_unique<Adam<float>>(std::vector{w}, AdamOptions{.lr = 0.25, .beta1 = 0.81, .beta2 = 0.97,
                                                                           .eps = 1e-5, .weight_decay = 0.03});
        },
        [](const AdamOptions& a, const AdamOptions& b) {
          return a.lr == b.lr && a.beta1 == 0.81 && a.beta2 == 0.97 && a.eps == 1e-5 && a.weight_decay == 0.03 &&
                 a.bias_correction && a.amsgrad == b.amsgrad;
        });
  check("adamw", "AdamW",
        [&](Tensor w) {
          return std::make_unique<AdamW<float>>(std::vector{w}, AdamWOptions{.lr = 0.25, .beta1 = 0.81, .beta2 = 0.97,
                                                                             .eps = 1e-5, .weight_decay = 0.03});
        },
        [](const AdamWOptions& a, const AdamWOptions& b) {
          return a.lr == b.lr && a.beta1 == 0.81 && a.beta2 == 0.97 && a.eps == 1e-5 && a.weight_decay == 0.03 &&
                 a.amsgrad == b.amsgrad;
        });
  c.optimizer = "foo";
  CHECK_THROWS_MATCHES(train::make_optimizer(c, {ones<float>({3}, true)}), ValueError, what(Contains("foo")));
}
