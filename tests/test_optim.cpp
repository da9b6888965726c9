// First-order optimizers: golden trajectories from torch.optim, the lecture's
// claims (momentum forms, Adam's first step, Adam+L2 vs AdamW), options
// validation, exact state save/restore, gradient clipping.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <memory>

#include "golden/problem.hpp"
#include "slope/optim.hpp"
#include "slope/schedule.hpp"

using namespace slope;
using namespace slope::optim;

namespace {

using Make = std::function<std::unique_ptr<Optimizer<double>>(std::vector<Tensor64>)>;

template <class Opt, class Options>
Make make(Options o) {
  return [o](std::vector<Tensor64> ps) { return std::make_unique<Opt>(std::move(ps), o); };
}

// The torch.optim cases of make_optim_golden.py, with the same options.
const std::vector<std::pair<std::string, Make>>& cases() {
  static const std::vector<std::pair<std::string, Make>> all = {
      {"sgd", make<SGD<double>>(SGDOptions{.lr = 0.1})},
      {"sgd_weight_decay", make<SGD<double>>(SGDOptions{.lr = 0.1, .weight_decay = 0.05})},
      {"momentum", make<SGD<double>>(SGDOptions{.lr = 0.1, .momentum = 0.9})},
      {"momentum_dampening_decay",
       make<SGD<double>>(SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.5, .weight_decay = 0.01})},
      {"nesterov", make<SGD<double>>(SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true})},
      {"adagrad", make<AdaGrad<double>>(AdaGradOptions{.lr = 0.1})},
      {"adagrad_options", make<AdaGrad<double>>(AdaGradOptions{
                              .lr = 0.1, .lr_decay = 0.01, .weight_decay = 0.01,
                              .initial_accumulator_value = 0.1, .eps = 1e-6})},
      {"rmsprop", make<RMSProp<double>>(RMSPropOptions{.lr = 0.01})},
      {"rmsprop_centered_momentum",
       make<RMSProp<double>>(RMSPropOptions{.lr = 0.01, .alpha = 0.9, .weight_decay = 0.01, .momentum = 0.9,
                                            .centered = true})},
      {"adam", make<Adam<double>>(AdamOptions{.lr = 0.05})},
      {"adam_weight_decay_amsgrad", make<Adam<double>>(AdamOptions{.lr = 0.05, .weight_decay = 0.1, .amsgrad = true})},
      {"adam_betas", make<Adam<double>>(AdamOptions{.lr = 0.05, .beta1 = 0.5, .beta2 = 0.9, .eps = 1e-6})},
      {"adamw", make<AdamW<double>>(AdamWOptions{.lr = 0.05, .weight_decay = 0.1})},
      {"adamw_amsgrad", make<AdamW<double>>(AdamWOptions{.lr = 0.05, .weight_decay = 0.5, .amsgrad = true})},
  };
  return all;
}

// Runs 50 steps, checking the recorded ones; returns the worst relative error.
double run_against_golden(const std::string& name, Optimizer<double>& opt, golden::Problem& pb,
                          const sched::Schedule& lr_at = nullptr) {
  const auto& rows = golden::find(golden::first_order, name).rows;
  double worst = 0.0;
  std::size_t k = 0;
  for (int step = 1; step <= golden::recorded_steps.back(); ++step) {
    if (lr_at) opt.set_lr(lr_at(step - 1));
    opt.zero_grad();
    pb.loss().backward();
    opt.step();
    if (step == golden::recorded_steps[k]) worst = std::max(worst, golden::max_rel_error(pb.flat(), rows[k++]));
  }
  return worst;
}

}  // namespace

TEST_CASE("Every first-order optimizer follows torch.optim's 50-step trajectory to 1e-10", "[optim][golden]") {
  for (const auto& [name, make_opt] : cases()) {
    golden::Problem pb;
    auto opt = make_opt(pb.params());
    const double err = run_against_golden(name, *opt, pb);
    std::printf("golden %-28s max relative error %.2e\n", name.c_str(), err);
    INFO(name << ": max relative error " << err);
    CHECK(err < 1e-10);
  }
}

TEST_CASE("Adam under a cosine schedule set each step matches torch with CosineAnnealingLR", "[optim][golden]") {
  golden::Problem pb;
  Adam opt(pb.params(), {.lr = 0.05});
  const double err = run_against_golden("adam_cosine_schedule", opt, pb, sched::cosine(0.05, 50, 0.001));
  std::printf("golden %-28s max relative error %.2e\n", "adam_cosine_schedule", err);
  CHECK(err < 1e-10);
}

TEST_CASE("The two momentum formulations give the same iterates at a constant learning rate", "[optim]") {
  golden::Problem a, b;
  SGD velocity(a.params(), {.lr = 0.1, .momentum = 0.9, .form = MomentumForm::velocity});
  SGD step_form(b.params(), {.lr = 0.1, .momentum = 0.9, .form = MomentumForm::step});
  for (int i = 0; i < 50; ++i) {
    for (auto* pair : {&a, &b}) {
      for (auto p : pair->params()) p.zero_grad();
      pair->loss().backward();
    }
    velocity.step();
    step_form.step();
  }
  // v = rho v + g, w -= lr v   versus   u = rho u - lr g, w += u  (u = -lr v)
  CHECK(golden::max_rel_error(a.flat(), b.flat()) < 1e-12);
  CHECK(golden::max_rel_error(b.flat(), golden::find(golden::first_order, "momentum").rows.back()) < 1e-10);
  CHECK(velocity.state().params.begin()->second.count("momentum_buffer") == 1);
  CHECK(step_form.state().params.begin()->second.count("v") == 1);
}

TEST_CASE("Nesterov in the step form matches the torch form", "[optim]") {
  golden::Problem pb;
  SGD opt(pb.params(), {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true,
                        .form = MomentumForm::step});
  CHECK(run_against_golden("nesterov", opt, pb) < 1e-10);
}

TEST_CASE("Adam without bias correction takes a huge first step", "[optim]") {
  // m_1 = (1 - b1) g, v_1 = (1 - b2) g^2, so the step is lr (1 - b1)/sqrt(1 - b2) ~ 3.16 lr
  // per coordinate instead of lr; with b1 = 0 (RMSProp-like) it would be 31.6 lr.
  auto first_step = [](bool correct) {
    Tensor64 w(xt::xarray<double>{0.5, -2.0, 1e-3}, true);
    Adam opt({w}, {.lr = 1e-3, .bias_correction = correct});
    sum(square(w) * 10.0).backward();
    opt.step();
    return xt::xarray<double>(w.value() - xt::xarray<double>{0.5, -2.0, 1e-3});
  };
  const auto corrected = first_step(true), raw = first_step(false);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(std::abs(corrected(i)) == Approx(1e-3).epsilon(1e-4));
    CHECK(std::abs(raw(i)) == Approx(1e-3 * 0.1 / std::sqrt(0.001)).epsilon(1e-4));
  }
  // The hand formula without correction: w -= lr * m / (sqrt(v) + eps)
  const double g = 20.0 * 0.5, m = 0.1 * g, v = 0.001 * g * g;
  CHECK(raw(0) == Approx(-1e-3 * m / (std::sqrt(v) + 1e-8)).epsilon(1e-12));
}

TEST_CASE("Adam with L2 in the loss differs from AdamW's decoupled decay", "[optim]") {
  // Adam + lambda*sum(w^2): the decay 2*lambda*w goes through m and v and is
  // normalised away; AdamW shrinks w by lr*wd outside the moments.
  golden::Problem a, b, c;
  const double lambda = 0.05;
  Adam adam_l2(a.params(), {.lr = 0.05});
  Adam adam_wd(c.params(), {.lr = 0.05, .weight_decay = 2 * lambda});
  AdamW adamw(b.params(), {.lr = 0.05, .weight_decay = 2 * lambda});
  for (int i = 0; i < 30; ++i) {
    adam_l2.zero_grad();
    (a.loss() + lambda * (sum(square(a.w)) + sum(square(a.b)))).backward();
    adam_l2.step();
    adam_wd.zero_grad();
    c.loss().backward();
    adam_wd.step();
    adamw.zero_grad();
    b.loss().backward();
    adamw.step();
  }
  CHECK(golden::max_rel_error(a.flat(), c.flat()) < 1e-9);  // L2 in the loss == Adam's weight_decay
  CHECK(golden::max_rel_error(a.flat(), b.flat()) > 1e-3);  // ... != AdamW
}

TEST_CASE("Options are validated in the constructor and the error names the option", "[optim]") {
  Tensor64 w(xt::xarray<double>{1.0}, true);
  CHECK_THROWS_WITH(SGD<double>({w}, {.lr = -0.1}), Catch::Contains("lr") && Catch::Contains("SGD"));
  CHECK_THROWS_AS(Adam<double>({w}, {.lr = -1e-3}), ValueError);
  CHECK_THROWS_WITH(Adam<double>({w}, {.beta2 = 1.0}), Catch::Contains("beta2"));
  CHECK_THROWS_WITH(AdamW<double>({w}, {.eps = -1.0}), Catch::Contains("eps"));
  CHECK_THROWS_WITH(RMSProp<double>({w}, {.alpha = 1.5}), Catch::Contains("alpha"));
  CHECK_THROWS_WITH(AdaGrad<double>({w}, {.lr_decay = -1}), Catch::Contains("lr_decay"));
  CHECK_THROWS_WITH(SGD<double>({w}, {.lr = 0.1, .nesterov = true}), Catch::Contains("nesterov"));
  CHECK_THROWS_WITH(SGD<double>({}, {}), Catch::Contains("empty"));
  Tensor64 frozen(xt::xarray<double>{1.0}, false);
  CHECK_THROWS_WITH(SGD<double>({frozen}, {}), Catch::Contains("does not require a gradient"));
  SGD opt({w}, {.lr = 0.1});
  CHECK_THROWS_AS(opt.set_lr(-1.0), ValueError);
  opt.set_lr(0.5);
  CHECK(opt.lr() == 0.5);
}

TEST_CASE("Infinite and NaN options are refused in every constructor, naming the option", "[optim]") {
  Tensor64 w(xt::xarray<double>{1.0}, true);
  const double inf = INFINITY, nan = NAN;
  const auto refused = [](auto&& make, const char* who, const char* option) {
    INFO(who << " " << option);
    CHECK_THROWS_MATCHES(make(), ValueError, Catch::Matchers::Predicate<std::exception>([&](const std::exception& e) {
      const std::string m = e.what();
      return m.find(who) != std::string::npos && m.find(option) != std::string::npos;
    }));
  };
  refused([&] { return SGD<double>({w}, {.lr = inf}); }, "SGD", "lr");
  refused([&] { return SGD<double>({w}, {.lr = nan}); }, "SGD", "lr");
  refused([&] { return SGD<double>({w}, {.momentum = inf}); }, "SGD", "momentum");
  refused([&] { return SGD<double>({w}, {.weight_decay = inf}); }, "SGD", "weight_decay");
  refused([&] { return Adam<double>({w}, {.lr = inf}); }, "Adam", "lr");
  refused([&] { return Adam<double>({w}, {.eps = inf}); }, "Adam", "eps");
  refused([&] { return Adam<double>({w}, {.weight_decay = inf}); }, "Adam", "weight_decay");
  refused([&] { return AdamW<double>({w}, {.lr = inf}); }, "AdamW", "lr");
  refused([&] { return AdamW<double>({w}, {.beta1 = nan}); }, "AdamW", "beta1");
  refused([&] { return AdamW<double>({w}, {.weight_decay = inf}); }, "AdamW", "weight_decay");
  refused([&] { return AdaGrad<double>({w}, {.lr = inf}); }, "AdaGrad", "lr");
  refused([&] { return AdaGrad<double>({w}, {.lr_decay = inf}); }, "AdaGrad", "lr_decay");
  refused([&] { return AdaGrad<double>({w}, {.eps = inf}); }, "AdaGrad", "eps");
  refused([&] { return RMSProp<double>({w}, {.lr = inf}); }, "RMSProp", "lr");
  refused([&] { return RMSProp<double>({w}, {.eps = inf}); }, "RMSProp", "eps");
  refused([&] { return RMSProp<double>({w}, {.momentum = inf}); }, "RMSProp", "momentum");
  refused([&] { return LBFGS<double>({w}, {.lr = inf}); }, "LBFGS", "lr");
  refused([&] { return LBFGS<double>({w}, {.tolerance_grad = nan}); }, "LBFGS", "tolerance_grad");
  SGD<double> opt({w}, {.lr = 0.1});
  CHECK_THROWS_WITH(opt.set_lr(inf), "SGD: lr must be >= 0: got inf");
  CHECK(opt.lr() == 0.1);  // a refused set_lr changes nothing
  CHECK_THROWS_WITH(clip_grad_norm(std::vector<Tensor64>{w}, inf), Catch::Contains("max_norm"));
}

TEST_CASE("A saved state restored into a fresh optimizer continues exactly", "[optim][state]") {
  for (const auto& [name, make_opt] : cases()) {
    golden::Problem a, b;
    auto first = make_opt(a.params());
    auto train = [](Optimizer<double>& opt, golden::Problem& pb, int steps) {
      for (int i = 0; i < steps; ++i) {
        opt.zero_grad();
        pb.loss().backward();
        opt.step();
      }
    };
    train(*first, a, 7);
    const OptimizerState saved = first->state();
    // b starts from a's weights and a fresh optimizer holding the saved state
    b.w.mutable_value() = a.w.value();
    b.b.mutable_value() = a.b.value();
    auto second = make_opt(b.params());
    second->load_state(saved);
    CHECK(second->state() == saved);
    CHECK(second->steps() == 7);
    train(*first, a, 5);
    train(*second, b, 5);
    INFO(name);
    CHECK(a.flat() == b.flat());  // bit for bit
  }
}

TEST_CASE("Loading a state of another optimizer, other shapes or other names is refused", "[optim][state]") {
  golden::Problem pb;
  Adam adam(pb.params(), {});
  adam.zero_grad();
  pb.loss().backward();
  adam.step();
  OptimizerState s = adam.state();
  CHECK(s.kind == "Adam");
  CHECK(s.scalar("step") == 1.0);
  REQUIRE(s.params.size() == 2);  // keyed by the parameters' names
  for (const auto& [name, buffers] : s.params) {
    CHECK(buffers.count("m") == 1);
    CHECK(buffers.count("v") == 1);
    CHECK(buffers.count("v_max") == 0);  // amsgrad off: no buffer
  }
  AdamW adamw(pb.params(), {});
  CHECK_THROWS_WITH(adamw.load_state(s), Catch::Contains("Adam"));
  // The same names with other shapes.
  std::vector<NamedTensor<double>> other;
  for (const auto& [name, buffers] : s.params)
    other.emplace_back(name, Tensor64(xt::xarray<double>::from_shape({2, 2}), true));
  Adam mismatched(other, {});
  CHECK_THROWS_AS(mismatched.load_state(s), ShapeError);
  // A buffer this optimizer does not keep.
  OptimizerState extra = s;
  extra.params.begin()->second["momentum_buffer"] = extra.params.begin()->second.at("m");
  CHECK_THROWS_WITH(Adam<double>(pb.params(), {}).load_state(extra), Catch::Contains("momentum_buffer"));
  // A parameter name this optimizer does not have.
  OptimizerState renamed = s;
  renamed.params["nowhere"] = renamed.params.begin()->second;
  CHECK_THROWS_WITH(Adam<double>(pb.params(), {}).load_state(renamed), Catch::Contains("'nowhere'"));
  // A buffer given for some parameters only.
  OptimizerState partial = s;
  partial.params.begin()->second.erase("v");
  CHECK_THROWS_WITH(Adam<double>(pb.params(), {}).load_state(partial), Catch::Contains("all or none"));
  // Non-finite values.
  OptimizerState nan = s;
  nan.params.begin()->second.at("m").data()[0] = std::nan("");
  CHECK_THROWS_AS(Adam<double>(pb.params(), {}).load_state(nan), NumericError);
  // The same tensor twice, or two tensors with one name, cannot be keyed.
  CHECK_THROWS_WITH(Adam<double>(std::vector<Tensor64>{pb.w, pb.w}, {}), Catch::Contains("listed twice"));
  CHECK_THROWS_WITH(Adam<double>(std::vector<NamedTensor<double>>{{"w", pb.w}, {"w", pb.b}}, {}),
                    Catch::Contains("two parameters are named 'w'"));
}

TEST_CASE("A parameter without a gradient is left alone", "[optim]") {
  Tensor64 used(xt::xarray<double>{1.0, 2.0}, true), unused(xt::xarray<double>{3.0}, true);
  SGD opt({used, unused}, {.lr = 0.5, .momentum = 0.9});
  sum(square(used)).backward();
  opt.step();
  CHECK(used.value()(0) == Approx(0.0));  // 1 - 0.5 * 2
  CHECK(unused.value()(0) == 3.0);
}

TEST_CASE("Float parameters train with the same optimizers", "[optim]") {
  Tensor w(xt::xarray<float>{3.0f, -2.0f}, true);
  AdamW opt({w}, {.lr = 0.1, .weight_decay = 0.0});
  for (int i = 0; i < 200; ++i) {
    opt.zero_grad();
    sum(square(w)).backward();
    opt.step();
  }
  CHECK(std::abs(w.value()(0)) < 0.05f);
  CHECK(std::abs(w.value()(1)) < 0.05f);
}

TEST_CASE("Clipping by global norm rescales all gradients together", "[optim][clip]") {
  Tensor64 a(xt::xarray<double>{1.0, 1.0}, true), b(xt::xarray<double>{1.0}, true);
  (sum(a * 3.0) + sum(b * 4.0) + sum(a * 0.0)).backward();  // grads (3, 3) and (4): norm sqrt(34)
  const double norm = clip_grad_norm<double>({a, b}, 1.0);
  CHECK(norm == Approx(std::sqrt(34.0)));
  const double coef = 1.0 / (std::sqrt(34.0) + 1e-6);
  CHECK(a.grad()(0) == Approx(3.0 * coef).epsilon(1e-14));
  CHECK(b.grad()(0) == Approx(4.0 * coef).epsilon(1e-14));
  // below the threshold nothing changes
  const double again = clip_grad_norm<double>({a, b}, 10.0);
  CHECK(again == Approx(1.0).epsilon(1e-5));
  CHECK(b.grad()(0) == Approx(4.0 * coef).epsilon(1e-14));
  CHECK_THROWS_AS(clip_grad_norm<double>({a}, -1.0), ValueError);
}
