// Learning-rate schedules as values: a Schedule is a function lr(step) of the
// 0-based step (or epoch) counter. It holds no optimizer; the training loop
// asks it and passes the answer on:
//   auto lr_at = sched::warmup(500, sched::cosine(1e-3, total_steps));
//   opt.set_lr(lr_at(step));
// Every schedule matches a torch.optim.lr_scheduler equivalent (noted per
// function) with torch's last_epoch equal to `step`, using the closed forms.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace slope::sched {

using Schedule = std::function<double(std::int64_t step)>;

/// lr(t) = lr0.  (torch: no scheduler, or ConstantLR with factor 1)
Schedule constant(double lr0);

/// lr(t) = lr0 * gamma^(number of milestones <= t): multiply by gamma at each
/// milestone (e.g. 0.1 at fixed epochs, as for ResNets). Milestones must be
/// increasing.  (torch: MultiStepLR(milestones, gamma))
Schedule step_decay(double lr0, std::vector<std::int64_t> milestones, double gamma = 0.1);

/// lr(t) = lr0 * gamma^floor(t / every).  (torch: StepLR(step_size = every, gamma))
Schedule step_decay_every(double lr0, std::int64_t every, double gamma = 0.1);

/// Cosine from lr0 down to `floor` over `total` steps, then stays at the floor:
///   lr(t) = floor + (lr0 - floor) * (1 + cos(pi * t / total)) / 2,  t <= total
/// (torch: CosineAnnealingLR(T_max = total, eta_min = floor), closed form; torch
/// rises again after T_max, this one does not).
Schedule cosine(double lr0, std::int64_t total, double floor = 0.0);

/// Linear from lr0 to lr0 * end_factor over `total` steps, then constant:
///   lr(t) = lr0 * (1 + (end_factor - 1) * min(t, total) / total)
/// (torch: LinearLR(start_factor = 1, end_factor, total_iters = total))
Schedule linear_decay(double lr0, std::int64_t total, double end_factor = 0.0);

/// The lecture's lr0 / sqrt(t) with t counted from 1:  lr(step) = lr0 / sqrt(step + 1).
/// (torch: LambdaLR(lambda s: 1 / sqrt(s + 1)))
Schedule inverse_sqrt(double lr0);

/// Linear warm-up over the first `steps` steps towards after(0), then `after`
/// shifted so that it starts at its own step 0:
///   t < steps:  lr(t) = after(0) * (start_factor + (1 - start_factor) * t / steps)
///   t >= steps: lr(t) = after(t - steps)
/// start_factor 0 starts at lr 0. (torch: SequentialLR([LinearLR(start_factor,
/// 1, total_iters = steps), S], milestones = [steps]))
Schedule warmup(std::int64_t steps, Schedule after, double start_factor = 0.0);

/// The linear scaling rule: multiply the batch size by n, multiply the
/// learning rate by n.  Returns base_lr * batch / base_batch.
double scale_lr(double base_lr, std::int64_t base_batch, std::int64_t batch);

}  // namespace slope::sched
