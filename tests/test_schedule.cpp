// Learning-rate schedules: golden values from torch.optim.lr_scheduler at
// every step 0..100 (start, middle and end included), warm-up composition,
// the linear scaling rule, argument checks.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <limits>

#include "golden/optim_golden.hpp"
#include "slope/error.hpp"
#include "slope/schedule.hpp"

using namespace slope;

namespace {

// worst |lr - torch| / max(|torch|, 1e-12) over steps 0..100
double worst_error(const char* name, const sched::Schedule& lr_at) {
  const auto& want = golden::find(golden::schedules, name).rows.at(0);
  double worst = 0.0;
  for (std::size_t t = 0; t < want.size(); ++t) {
    const double got = lr_at(static_cast<std::int64_t>(t));
    worst = std::max(worst, std::abs(got - want[t]) / std::max(std::abs(want[t]), 1e-12));
  }
  std::printf("golden %-28s max relative error %.2e\n", name, worst);
  return worst;
}

}  // namespace

TEST_CASE("Every schedule matches its torch.optim.lr_scheduler equivalent from start to end", "[schedule][golden]") {
  CHECK(worst_error("step_decay", sched::step_decay(0.1, {30, 60, 90}, 0.1)) < 1e-10);
  CHECK(worst_error("step_decay_every", sched::step_decay_every(0.1, 25, 0.5)) < 1e-10);
  CHECK(worst_error("cosine", sched::cosine(0.1, 100, 1e-3)) < 1e-10);
  CHECK(worst_error("linear_decay", sched::linear_decay(0.1, 80, 0.0)) < 1e-10);
  CHECK(worst_error("inverse_sqrt", sched::inverse_sqrt(0.1)) < 1e-10);
  CHECK(worst_error("warmup_cosine", sched::warmup(10, sched::cosine(0.1, 90), 0.25)) < 1e-10);
}

TEST_CASE("Schedules take the lecture's values at start, middle and end", "[schedule]") {
  auto cos = sched::cosine(1.0, 100);
  CHECK(cos(0) == 1.0);
  CHECK(cos(50) == Approx(0.5));          // 0.5 * (1 + cos(pi/2))
  CHECK(cos(100) == Approx(0.0).margin(1e-15));
  CHECK(cos(150) == cos(100));            // stays at the floor
  CHECK(sched::cosine(1.0, 10, 0.1)(10) == Approx(0.1));
  auto step = sched::step_decay(1.0, {3, 6});
  CHECK(step(2) == 1.0);
  CHECK(step(3) == Approx(0.1));
  CHECK(step(6) == Approx(0.01));
  auto lin = sched::linear_decay(1.0, 4);
  CHECK(lin(2) == 0.5);
  CHECK(lin(9) == 0.0);
  CHECK(sched::inverse_sqrt(1.0)(3) == 0.5);  // 1 / sqrt(4)
  CHECK(sched::constant(0.3)(12345) == 0.3);
}

TEST_CASE("Warm-up ramps linearly to the peak and then hands over to any schedule", "[schedule]") {
  auto lr = sched::warmup(4, sched::step_decay(1.0, {2}, 0.5));
  CHECK(lr(0) == 0.0);     // start_factor 0: from zero
  CHECK(lr(1) == 0.25);
  CHECK(lr(3) == 0.75);
  CHECK(lr(4) == 1.0);     // the inner schedule's step 0
  CHECK(lr(5) == 1.0);
  CHECK(lr(6) == 0.5);     // its milestone 2, shifted by the warm-up
  auto nested = sched::warmup(2, sched::warmup(2, sched::constant(1.0), 0.5), 0.0);
  CHECK(nested(1) == Approx(0.25));  // towards the inner warm-up's start, 0.5
  CHECK(nested(3) == Approx(0.75));
  CHECK(sched::warmup(0, sched::constant(0.2))(0) == 0.2);
}

TEST_CASE("The linear scaling rule multiplies the learning rate with the batch size", "[schedule]") {
  CHECK(sched::scale_lr(0.1, 256, 1024) == Approx(0.4));
  CHECK(sched::scale_lr(0.1, 256, 64) == Approx(0.025));
  CHECK_THROWS_AS(sched::scale_lr(0.1, 0, 64), ValueError);
}

TEST_CASE("Schedules refuse bad arguments with the argument's name", "[schedule]") {
  CHECK_THROWS_WITH(sched::cosine(-1.0, 10), Catch::Contains("lr0"));
  CHECK_THROWS_WITH(sched::cosine(1.0, 0), Catch::Contains("total"));
  CHECK_THROWS_WITH(sched::step_decay(1.0, {5, 3}), Catch::Contains("milestones"));
  CHECK_THROWS_WITH(sched::warmup(5, nullptr), Catch::Contains("empty"));
  CHECK_THROWS_WITH(sched::warmup(5, sched::constant(1.0), 2.0), Catch::Contains("start_factor"));
  CHECK_THROWS_WITH(sched::constant(1.0)(-1), Catch::Contains("step"));
}

TEST_CASE("Schedules refuse infinite, NaN and out-of-order arguments, naming the argument", "[schedule]") {
  const double inf = INFINITY, nan = NAN;
  CHECK_THROWS_WITH(sched::constant(inf), "constant: lr0 must be >= 0: got inf");
  CHECK_THROWS_WITH(sched::constant(nan), Catch::Contains("lr0"));
  CHECK_THROWS_WITH(sched::cosine(inf, 10), Catch::Contains("cosine: lr0"));
  CHECK_THROWS_WITH(sched::cosine(1.0, 10, inf), Catch::Contains("cosine: floor"));
  // A floor above the peak would make the "decay" rise.
  CHECK_THROWS_WITH(sched::cosine(1e-3, 10, 1e-2), "cosine: floor must be at most lr0 (0.001): got 0.01");
  CHECK_NOTHROW(sched::cosine(1e-3, 10, 1e-3));
  CHECK_THROWS_WITH(sched::step_decay(1.0, {5}, inf), Catch::Contains("step_decay: gamma"));
  CHECK_THROWS_WITH(sched::step_decay(inf, {5}), Catch::Contains("step_decay: lr0"));
  CHECK_THROWS_WITH(sched::step_decay(1.0, {-5, 3}), Catch::Contains("milestones must be >= 0"));
  CHECK_THROWS_WITH(sched::step_decay_every(1.0, 5, nan), Catch::Contains("gamma"));
  CHECK_THROWS_WITH(sched::linear_decay(1.0, 10, inf), Catch::Contains("end_factor"));
  CHECK_THROWS_WITH(sched::inverse_sqrt(inf), Catch::Contains("inverse_sqrt: lr0"));
  CHECK_THROWS_WITH(sched::warmup(5, sched::constant(1.0), nan), Catch::Contains("start_factor"));
  CHECK_THROWS_WITH(sched::scale_lr(inf, 32, 64), Catch::Contains("scale_lr: base_lr"));
  CHECK_THROWS_WITH(sched::scale_lr(-1.0, 32, 64), Catch::Contains("scale_lr: base_lr"));
}

TEST_CASE("Schedules take the largest step counts without overflowing", "[schedule]") {
  constexpr std::int64_t huge = std::numeric_limits<std::int64_t>::max();
  CHECK(sched::inverse_sqrt(1.0)(huge) == Approx(1.0 / std::sqrt(9.223372036854775807e18)));
  CHECK(sched::cosine(1.0, huge, 0.0)(huge) == Approx(0.0).margin(1e-15));
  CHECK(sched::linear_decay(1.0, huge)(huge) == Approx(0.0).margin(1e-15));
  CHECK(sched::step_decay_every(1.0, huge, 0.5)(huge) == 0.5);
  CHECK(sched::warmup(huge, sched::constant(2.0))(huge - 1) == Approx(2.0));
}
