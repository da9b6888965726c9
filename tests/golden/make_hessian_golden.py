#!/usr/bin/python3
"""Writes tests/golden/hessian_golden.hpp: Hessians and Hessian-vector
products of a set of small graphs, from PyTorch in float64.

Run with Debian's Python, which has python3-torch:
    /usr/bin/python3 tests/golden/make_hessian_golden.py
The output is committed; tests/test_functional.cpp includes it and never runs
PyTorch. Numbers are hex-float literals, so they reach C++ exactly.

Each graph is a function f of one flat vector x (reshaped inside), written
here with torch and in the test with slope, op for op. Its constants (data
matrices, targets, labels) are small dyadic rationals, k / 8, computed by the
same integer formula on both sides, so they are exact in both. x and v are
drawn with a fixed seed (inside the smooth part of every op: no value within
1e-2 of a kink or a tie). The references are
torch.autograd.functional.hessian(f, x) and
torch.autograd.functional.hvp(f, x, v)[1].
"""
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))


def const(rows, cols, salt):
    """The test's constant: entry (i, j) = ((37 i + 11 j + 5 salt) mod 17 - 8) / 8."""
    return torch.tensor([[((37 * i + 11 * j + 5 * salt) % 17 - 8) / 8.0 for j in range(cols)]
                         for i in range(rows)])


def labels(n, c, salt):
    """Label i = (3 i + salt) mod c."""
    return torch.tensor([(3 * i + salt) % c for i in range(n)])


def softmax_regression(x):
    X, y = const(5, 3, 1), labels(5, 3, 1)
    W, b = x[:9].reshape(3, 3), x[9:12]
    return F.cross_entropy(X @ W + b, y) + 0.01 * (W ** 2).sum()


def tanh_mlp(x):
    X, t = const(4, 2, 2), const(4, 1, 3)
    W1, W2, b2 = x[:6].reshape(2, 3), x[6:9].reshape(3, 1), x[9]
    return ((torch.tanh(X @ W1) @ W2 + b2 - t) ** 2).mean()


def relu_mlp(x):
    X, t = const(5, 2, 4), const(5, 1, 5)
    W1, b1, W2 = x[:8].reshape(2, 4), x[8:12], x[12:16].reshape(4, 1)
    return ((torch.relu(X @ W1 + b1) @ W2 - t) ** 2).mean() + 0.1 * (W1 ** 2).sum()


def activations(x):
    return ((torch.exp(0.3 * x) * torch.sigmoid(x)).sum() + (F.softplus(x) * torch.log1p(x * x)).sum()
            + (F.gelu(x, approximate="tanh") ** 2).sum() + (F.elu(x, 0.7) * x).sum()
            + (F.leaky_relu(x, 0.1) * torch.tanh(x)).sum() + (F.silu(x) * x).sum())


def reductions(x):
    A = x.reshape(3, 3)
    R = const(3, 3, 6)
    return (torch.logsumexp(A, 1).sum() + torch.linalg.norm(A) + A.var(0, unbiased=True).sum()
            + A.std(1, unbiased=False).sum() + (F.softmax(A, 0) * R).sum() + A.mean(1).pow(2).sum())


def log_softmax_nll(x):
    A = x.reshape(4, 3)
    return F.nll_loss(F.log_softmax(A, 1), labels(4, 3, 2)) + (F.log_softmax(A, 0) * const(4, 3, 7)).sum()


def powers(x):  # x > 0
    return (torch.sqrt(x) / (1 + x * x)).sum() + (x ** 1.5).sum() + (1 / x).sum() + torch.log(x).pow(2).sum()


def losses(x):
    t = const(1, 6, 8)[0]
    t01 = (const(1, 6, 9)[0] + 1) / 2
    return (F.binary_cross_entropy_with_logits(x, t01) + F.huber_loss(x, t, delta=0.5) + F.mse_loss(x * x, t)
            + (torch.maximum(x, 0.3 * x * x) * x).sum() + (torch.clamp(x, -1.5, 1.5) ** 3).sum())


def matmuls(x):
    A, B = x[:6].reshape(2, 3), x[6:12].reshape(3, 2)
    C = const(2, 2, 10)
    return ((A @ B - C) ** 2).sum() + (A @ A.T).pow(2).sum() * 0.1 + (B.T @ B * C).sum()


def shapes(x):
    A = x.reshape(2, 3, 2)
    Q = (A.permute(2, 0, 1) ** 2).sum(2)  # (2, 2)
    S = torch.cat([A[:, ::2, :], A[:, 1:2, :] * 2], 1)  # (2, 3, 2)
    rows = A.reshape(6, 2).index_select(0, torch.tensor([0, 3, 3, 5]))  # a repeated row
    return ((Q[0] * Q[1]).sum() + (S * S.index_select(0, torch.tensor([1, 0]))).sum()
            + torch.tanh(rows).pow(2).sum() + torch.stack([A.sum(0), A.amax(0)]).pow(2).sum())


CASES = [
    # name, function, n, domain of x
    ("softmax_regression", softmax_regression, 12, "normal"),
    ("tanh_mlp", tanh_mlp, 10, "normal"),
    ("relu_mlp", relu_mlp, 16, "normal"),
    ("activations", activations, 8, "normal"),
    ("reductions", reductions, 9, "normal"),
    ("log_softmax_nll", log_softmax_nll, 12, "normal"),
    ("powers", powers, 6, "positive"),
    ("losses", losses, 6, "normal"),
    ("matmuls", matmuls, 12, "normal"),
    ("shapes", shapes, 12, "normal"),
]


def kinks_ok(name, x):
    """No value within 1e-2 of a kink or a tie the graph has."""
    if name == "relu_mlp":
        X = const(5, 2, 4)
        pre = X @ x[:8].reshape(2, 4) + x[8:12]
        return bool(pre.abs().min() > 1e-2)
    if name == "activations":
        return bool(x.abs().min() > 1e-2)
    if name == "losses":
        t = const(1, 6, 8)[0]
        return bool(((x - t).abs() - 0.5).abs().min() > 1e-2 and (x - 0.3 * x * x).abs().min() > 1e-2
                    and ((x.abs() - 1.5).abs().min() > 1e-2))
    if name == "shapes":
        A = x.reshape(2, 3, 2)
        return bool((A[0] - A[1]).abs().min() > 1e-2)
    return True


def hexf(v):
    return float(v).hex()


def array(values):
    return "{" + ", ".join(hexf(v) for v in values) + "}"


def main():
    gen = torch.Generator().manual_seed(20240601)
    out = []
    for name, f, n, domain in CASES:
        while True:
            x = torch.randn(n, generator=gen)
            if domain == "positive":
                x = 0.5 + 1.5 * torch.rand(n, generator=gen)
            if kinks_ok(name, x):
                break
        v = torch.randn(n, generator=gen)
        H = torch.autograd.functional.hessian(f, x)
        value, hv = torch.autograd.functional.hvp(f, x, v)
        out.append((name, n, x, v, float(value), H.reshape(-1), hv))
    lines = [
        "// Generated by tests/golden/make_hessian_golden.py with PyTorch %s; do not edit." % torch.__version__,
        "// Regenerate: /usr/bin/python3 tests/golden/make_hessian_golden.py",
        "#pragma once",
        "",
        "#include <string_view>",
        "#include <vector>",
        "",
        "namespace golden {",
        "",
        "struct HessianCase {",
        "  std::string_view name;",
        "  std::size_t n;",
        "  std::vector<double> x, v;",
        "  double value;                 // f(x)",
        "  std::vector<double> hessian;  // n x n, row-major: torch.autograd.functional.hessian",
        "  std::vector<double> hvp;      // H v: torch.autograd.functional.hvp",
        "};",
        "",
        "inline const std::vector<HessianCase> hessian_cases = {",
    ]
    for name, n, x, v, value, H, hv in out:
        lines.append('  {"%s", %d,' % (name, n))
        lines.append("   %s," % array(x))
        lines.append("   %s," % array(v))
        lines.append("   %s," % hexf(value))
        lines.append("   %s," % array(H))
        lines.append("   %s}," % array(hv))
    lines += ["};", "", "}  // namespace golden", ""]
    with open(os.path.join(HERE, "hessian_golden.hpp"), "w") as fh:
        fh.write("\n".join(lines))


if __name__ == "__main__":
    main()
