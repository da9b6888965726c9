#!/usr/bin/python3
"""Writes tests/golden/optim_golden.hpp: reference trajectories from PyTorch.

Run with Debian's Python, which has python3-torch and python3-numpy:
    /usr/bin/python3 tests/golden/make_optim_golden.py
The output is committed; the C++ tests include it and CI never runs PyTorch.
Every number is written as a hex-float literal, so it reaches C++ exactly.

Contents
  - the fixed problem: X (8x4), labels y, initial W (4x3) and b (3,);
    loss(W, b) = cross_entropy(X W + b, y) + 0.01 * sum(W^2), in float64;
  - first-order optimizers: W and b (flattened, W first) after the steps in
    RECORDED_STEPS of 50, for every optimizer and several option combinations;
  - L-BFGS with strong Wolfe: the parameters, returned loss and the evaluation
    count after each step() call, on the same problem and on Rosenbrock;
  - schedules: lr at steps 0..100 from torch.optim.lr_scheduler.
"""
import math
import os

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
RECORDED_STEPS = [1, 2, 3, 5, 10, 20, 30, 40, 50]
HERE = os.path.dirname(os.path.abspath(__file__))

rs = np.random.RandomState(0)
X = rs.randn(8, 4)
Y = rs.randint(0, 3, size=8)
W0 = 0.1 * rs.randn(4, 3)
B0 = 0.1 * rs.randn(3)


def problem():
    W = torch.tensor(W0, requires_grad=True)
    b = torch.tensor(B0, requires_grad=True)
    x = torch.tensor(X)
    y = torch.tensor(Y, dtype=torch.long)

    def loss():
        return torch.nn.functional.cross_entropy(x @ W + b, y) + 0.01 * (W ** 2).sum()
    return [W, b], loss


def flat(params):
    return [float(v) for p in params for v in p.detach().reshape(-1)]


FIRST_ORDER = {
    "sgd": (torch.optim.SGD, dict(lr=0.1)),
    "sgd_weight_decay": (torch.optim.SGD, dict(lr=0.1, weight_decay=0.05)),
    "momentum": (torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    "momentum_dampening_decay": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.01)),
    "nesterov": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    "adagrad": (torch.optim.Adagrad, dict(lr=0.1)),
    "adagrad_options": (torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.01,
                                                  initial_accumulator_value=0.1, eps=1e-6)),
    "rmsprop": (torch.optim.RMSprop, dict(lr=0.01)),
    "rmsprop_centered_momentum": (torch.optim.RMSprop, dict(lr=0.01, alpha=0.9, centered=True,
                                                            momentum=0.9, weight_decay=0.01)),
    "adam": (torch.optim.Adam, dict(lr=0.05)),
    "adam_weight_decay_amsgrad": (torch.optim.Adam, dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    "adam_betas": (torch.optim.Adam, dict(lr=0.05, betas=(0.5, 0.9), eps=1e-6)),
    "adamw": (torch.optim.AdamW, dict(lr=0.05, weight_decay=0.1)),
    "adamw_amsgrad": (torch.optim.AdamW, dict(lr=0.05, weight_decay=0.5, amsgrad=True)),
}


def first_order(name, cls, kwargs, schedule=None):
    params, loss = problem()
    opt = cls(params, foreach=False, **kwargs)
    sched = schedule(opt) if schedule else None
    rows = []
    for step in range(1, max(RECORDED_STEPS) + 1):
        opt.zero_grad()
        loss().backward()
        opt.step()
        if sched:
            sched.step()
        if step in RECORDED_STEPS:
            rows.append(flat(params))
    return name, rows


def rosenbrock():
    a = torch.tensor([-1.5], requires_grad=True)
    b = torch.tensor([2.0], requires_grad=True)

    def loss():
        return ((1 - a) ** 2 + 100 * (b - a ** 2) ** 2).sum()
    return [a, b], loss


def lbfgs(name, make, kwargs, calls):
    params, loss = make()
    opt = torch.optim.LBFGS(params, **kwargs)

    def closure():
        opt.zero_grad()
        value = loss()
        value.backward()
        return value
    rows = []
    for _ in range(calls):
        before = opt.state[opt._params[0]].get("func_evals", 0)
        returned = float(opt.step(closure))
        evals = opt.state[opt._params[0]]["func_evals"] - before
        rows.append([returned, float(evals)] + flat(params))
    return name, rows


def schedule_values(make, lr0=0.1, steps=101):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr0)
    sched = make(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


S = torch.optim.lr_scheduler
SCHEDULES = {
    "step_decay": lambda o: S.MultiStepLR(o, milestones=[30, 60, 90], gamma=0.1),
    "step_decay_every": lambda o: S.StepLR(o, step_size=25, gamma=0.5),
    "cosine": lambda o: S.CosineAnnealingLR(o, T_max=100, eta_min=1e-3),
    "linear_decay": lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=80),
    "inverse_sqrt": lambda o: S.LambdaLR(o, lambda s: 1.0 / math.sqrt(s + 1)),
    "warmup_cosine": lambda o: S.SequentialLR(
        o, [S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=10),
            S.CosineAnnealingLR(o, T_max=90, eta_min=0.0)], milestones=[10]),
}


def hexs(values):
    return ", ".join(float(v).hex() for v in values)


def table(rows):
    return "{\n" + ",\n".join("      {" + hexs(r) + "}" for r in rows) + "}"


def main():
    import warnings
    warnings.filterwarnings("ignore")
    trajs = [first_order(n, c, k) for n, (c, k) in FIRST_ORDER.items()]
    trajs.append(first_order("adam_cosine_schedule", torch.optim.Adam, dict(lr=0.05),
                             lambda o: S.CosineAnnealingLR(o, T_max=50, eta_min=0.001)))
    lb = [
        lbfgs("lbfgs_softmax", problem, dict(lr=1, max_iter=5, history_size=3,
                                             line_search_fn="strong_wolfe"), 4),
        lbfgs("lbfgs_rosenbrock", rosenbrock, dict(lr=1, max_iter=10, history_size=10,
                                                   line_search_fn="strong_wolfe"), 3),
        lbfgs("lbfgs_no_line_search", problem, dict(lr=0.5, max_iter=6, history_size=4), 3),
    ]
    sch = [(n, schedule_values(m)) for n, m in SCHEDULES.items()]

    out = []
    out.append("// Generated by tests/golden/make_optim_golden.py with PyTorch "
               f"{torch.__version__}; do not edit.")
    out.append("// Regenerate: /usr/bin/python3 tests/golden/make_optim_golden.py")
    out.append("#pragma once\n\n#include <cstdint>\n#include <string_view>\n#include <vector>\n")
    out.append("namespace golden {\n")
    out.append("// loss(W, b) = cross_entropy(X W + b, y) + 0.01 * sum(W^2)")
    out.append(f"inline const std::vector<double> X = {{{hexs(X.reshape(-1))}}};  // (8, 4)")
    out.append(f"inline const std::vector<std::int32_t> Y = {{{', '.join(str(int(v)) for v in Y)}}};")
    out.append(f"inline const std::vector<double> W0 = {{{hexs(W0.reshape(-1))}}};  // (4, 3)")
    out.append(f"inline const std::vector<double> B0 = {{{hexs(B0)}}};  // (3,)")
    out.append(f"inline const std::vector<int> recorded_steps = {{{', '.join(map(str, RECORDED_STEPS))}}};\n")
    out.append("struct Table {\n  std::string_view name;\n  std::vector<std::vector<double>> rows;\n};\n")
    out.append("// rows[k]: W then b, flattened, after recorded_steps[k] steps")
    out.append("inline const std::vector<Table> first_order = {")
    out.extend(f'  {{"{n}", {table(r)}}},' for n, r in trajs)
    out.append("};\n")
    out.append("// rows[k] after step() call k+1: returned loss, closure evaluations, parameters")
    out.append("inline const std::vector<Table> lbfgs = {")
    out.extend(f'  {{"{n}", {table(r)}}},' for n, r in lb)
    out.append("};\n")
    out.append("// rows[0][t]: lr at step t = 0..100 (lr0 = 0.1)")
    out.append("inline const std::vector<Table> schedules = {")
    out.extend(f'  {{"{n}", {table([v])}}},' for n, v in sch)
    out.append("};\n")
    out.append("inline const Table& find(const std::vector<Table>& tables, std::string_view name) {")
    out.append("  for (const auto& t : tables)\n    if (t.name == name) return t;")
    out.append("  throw name;\n}\n")
    out.append("}  // namespace golden")
    with open(os.path.join(HERE, "optim_golden.hpp"), "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
