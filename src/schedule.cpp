#include "slope/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "slope/error.hpp"

namespace slope::sched {
namespace {

// Every argument is a finite number: an Inf or NaN learning rate would only
// surface steps later, as a diverging loss far from its cause.
void check(bool ok, std::string_view who, std::string_view what, double value) {
  if (!ok || !std::isfinite(value)) throw ValueError(fmt::format("{}: {}: got {}", who, what, value));
}
void check_step(std::int64_t step, std::string_view who) {
  if (step < 0) throw ValueError(fmt::format("{}: step must be >= 0: got {}", who, step));
}

}  // namespace

Schedule constant(double lr0) {
  check(lr0 >= 0.0, "constant", "lr0 must be >= 0", lr0);
  return [lr0](std::int64_t step) {
    check_step(step, "constant");
    return lr0;
  };
}

Schedule step_decay(double lr0, std::vector<std::int64_t> milestones, double gamma) {
  check(lr0 >= 0.0, "step_decay", "lr0 must be >= 0", lr0);
  check(gamma >= 0.0, "step_decay", "gamma must be >= 0", gamma);
  if (!milestones.empty())
    check(milestones[0] >= 0, "step_decay", "milestones must be >= 0", static_cast<double>(milestones[0]));
  for (std::size_t i = 1; i < milestones.size(); ++i)
    check(milestones[i] > milestones[i - 1], "step_decay", "milestones must increase",
          static_cast<double>(milestones[i]));
  return [lr0, gamma, ms = std::move(milestones)](std::int64_t step) {
    check_step(step, "step_decay");
    // lr0 * gamma^(number of milestones <= step)
    const auto passed = std::upper_bound(ms.begin(), ms.end(), step) - ms.begin();
    return lr0 * std::pow(gamma, static_cast<double>(passed));
  };
}

Schedule step_decay_every(double lr0, std::int64_t every, double gamma) {
  check(lr0 >= 0.0, "step_decay_every", "lr0 must be >= 0", lr0);
  check(every >= 1, "step_decay_every", "every must be >= 1", static_cast<double>(every));
  check(gamma >= 0.0, "step_decay_every", "gamma must be >= 0", gamma);
  return [lr0, every, gamma](std::int64_t step) {
    check_step(step, "step_decay_every");
    return lr0 * std::pow(gamma, static_cast<double>(step / every));  // lr0 * gamma^floor(t / every)
  };
}

Schedule cosine(double lr0, std::int64_t total, double floor) {
  check(lr0 >= 0.0, "cosine", "lr0 must be >= 0", lr0);
  check(total >= 1, "cosine", "total must be >= 1", static_cast<double>(total));
  check(floor >= 0.0, "cosine", "floor must be >= 0", floor);
  check(floor <= lr0, "cosine", fmt::format("floor must be at most lr0 ({})", lr0), floor);
  return [lr0, total, floor](std::int64_t step) {
    check_step(step, "cosine");
    const double t = static_cast<double>(std::min(step, total));
    // floor + (lr0 - floor) * (1 + cos(pi t / T)) / 2
    return floor + (lr0 - floor) * (1.0 + std::cos(std::numbers::pi * t / static_cast<double>(total))) / 2.0;
  };
}

Schedule linear_decay(double lr0, std::int64_t total, double end_factor) {
  check(lr0 >= 0.0, "linear_decay", "lr0 must be >= 0", lr0);
  check(total >= 1, "linear_decay", "total must be >= 1", static_cast<double>(total));
  check(end_factor >= 0.0, "linear_decay", "end_factor must be >= 0", end_factor);
  return [lr0, total, end_factor](std::int64_t step) {
    check_step(step, "linear_decay");
    const double t = static_cast<double>(std::min(step, total));
    // lr0 * (1 + (end_factor - 1) * t / T)
    return lr0 * (1.0 + (end_factor - 1.0) * t / static_cast<double>(total));
  };
}

Schedule inverse_sqrt(double lr0) {
  check(lr0 >= 0.0, "inverse_sqrt", "lr0 must be >= 0", lr0);
  return [lr0](std::int64_t step) {
    check_step(step, "inverse_sqrt");
    return lr0 / std::sqrt(static_cast<double>(step) + 1.0);  // lr0 / sqrt(t), t = step + 1
  };
}

Schedule warmup(std::int64_t steps, Schedule after, double start_factor) {
  check(steps >= 0, "warmup", "steps must be >= 0", static_cast<double>(steps));
  check(start_factor >= 0.0 && start_factor <= 1.0, "warmup", "start_factor must be in [0, 1]", start_factor);
  if (!after) throw ValueError("warmup: the schedule after the warm-up is empty");
  return [steps, after = std::move(after), start_factor](std::int64_t step) {
    check_step(step, "warmup");
    if (step >= steps) return after(step - steps);
    // a straight line from start_factor * peak towards the peak after(0)
    const double frac = static_cast<double>(step) / static_cast<double>(steps);
    return after(0) * (start_factor + (1.0 - start_factor) * frac);
  };
}

double scale_lr(double base_lr, std::int64_t base_batch, std::int64_t batch) {
  check(base_batch >= 1, "scale_lr", "base_batch must be >= 1", static_cast<double>(base_batch));
  check(batch >= 1, "scale_lr", "batch must be >= 1", static_cast<double>(batch));
  check(base_lr >= 0.0, "scale_lr", "base_lr must be >= 0", base_lr);
  // batch size times n -> learning rate times n
  return base_lr * static_cast<double>(batch) / static_cast<double>(base_batch);
}

}  // namespace slope::sched
