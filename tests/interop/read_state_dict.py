#!/usr/bin/python3
"""Reads a state_dict file written by slope with numpy and json only (no slope
code), rebuilds the model's forward pass from the file's metadata, scores raw
inputs, and compares the scores with slope's.

  read_state_dict.py MODEL.safetensors RAW.npy [--scores OUT.npy]
                     [--compare64 SLOPE_SCORES64.npy] [--rtol 1e-6]
                     [--compare SLOPE_SCORES.npy] [--rtol32 3e-5] [--npy-dir DIR]

The file (the safetensors format): 8 bytes, the little-endian length N of a
JSON header; N bytes of JSON, {"__metadata__": {...}, "name": {"dtype": "F32",
"shape": [2, 3], "data_offsets": [begin, end]}, ...}; then the data buffer the
offsets point into. slope's metadata:
  slope.model       "key=value" lines: model, hidden, blocks, activation, dropout, loss
  slope.preprocess  JSON {"scale": s, "mean": [...]}: x = s * raw - mean
  slope.inputs, slope.classes, slope.dataset
The models are slope's MLPs (nn/models.hpp): layers of x W + b with W of shape
(in, out), an activation after each hidden layer, h <- h + act(h W + b) for
the residual model's equal-width layers; dropout is off when scoring.

numpy computes in float64. --compare64 takes the scores of slope's float64
twin of the model (the same weights): exit status 1 unless, in every row,
max |numpy - slope| is at most rtol times the row's largest |score|.
--compare takes the float32 model's own scores, which differ from exact ones
by float32 rounding (about 1e-6 relative with FMA kernels, up to 1.1e-5 without): rtol32 bounds that. Where PyTorch is importable, the same
model is also built from torch.nn layers and checked; where it is not, that
check is skipped with a note (numpy is required, torch optional). --npy-dir:
the .npy files of `slope train --export DIR` hold the same arrays.
"""
import argparse
import json
import math
import struct
import sys

import numpy as np

DTYPES = {"F64": "<f8", "F32": "<f4", "I64": "<i8", "I32": "<i4", "U8": "|u1"}


def read_safetensors(path):
    """The tensors (name -> numpy array) and the metadata (str -> str) of a file."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    buf = data[8 + n :]
    tensors = {}
    for name, entry in header.items():
        lo, hi = entry["data_offsets"]
        a = np.frombuffer(buf[lo:hi], dtype=DTYPES[entry["dtype"]])
        tensors[name] = a.reshape(entry["shape"])
    return tensors, meta


def write_safetensors(path, tensors, meta):
    """Writes name -> array (float32/float64) and str -> str metadata as a safetensors file."""
    codes = {np.dtype("<f4"): "F32", np.dtype("<f8"): "F64"}
    header, chunks, at = {"__metadata__": meta}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": codes[a.dtype], "shape": list(a.shape), "data_offsets": [at, at + len(raw)]}
        chunks.append(raw)
        at += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data starts at a multiple of 8
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def model_settings(meta):
    """The "key=value" lines of slope.model as a dict."""
    return dict(line.split("=", 1) for line in meta["slope.model"].splitlines() if line)


def plan(settings, inputs, classes):
    """The layer sizes, which hidden layers are residual, and each layer's parameter prefix."""
    model = settings["model"]
    hidden = [int(h) for h in settings["hidden"].split(",")]
    dropout = [float(p) for p in settings["dropout"].split(",")]
    if model == "linear":
        sizes = [inputs, classes]
    elif model == "two-layer":
        sizes = [inputs, hidden[0], classes]
    elif model == "mlp":
        sizes = [inputs] + hidden + [classes]
    elif model == "residual":
        sizes = [inputs] + [hidden[0]] * (int(settings["blocks"]) + 1) + [classes]
    else:
        raise ValueError(f"unknown model {model!r}")
    # slope's names: the MLP's Sequential "layers" numbers its modules 0, 1, ...;
    # a hidden layer is a Linear (relu: fused into it) or Sequential(Linear, act),
    # inside Residual's "fn" when residual; a Dropout after it takes the next number.
    fused = settings["activation"] == "relu"
    layers, index = [], 0
    for l in range(len(sizes) - 1):
        last = l == len(sizes) - 2
        residual = model == "residual" and not last and sizes[l] == sizes[l + 1]
        prefix = f"layers.{index}" + (".fn" if residual else "") + ("" if fused or last else ".0")
        layers.append((prefix, residual, last))
        index += 1
        p = 0.0 if last or not dropout else dropout[0] if len(dropout) == 1 else dropout[l]
        if p > 0.0:
            index += 1
    return sizes, layers


def gelu(x):  # the tanh form, as slope computes it
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "gelu": gelu,
}


def preprocess(meta, raw):
    """x = scale * raw - mean, in float64."""
    p = json.loads(meta["slope.preprocess"])
    x = raw.astype(np.float64) * p["scale"]
    if p["mean"]:
        x = x - np.asarray(p["mean"], dtype=np.float64)
    return x


def forward(tensors, meta, x):
    """The model's scores for preprocessed inputs x (N, D), in float64."""
    settings = model_settings(meta)
    _, layers = plan(settings, int(meta["slope.inputs"]), int(meta["slope.classes"]))
    act = ACTIVATIONS[settings["activation"]]
    h = x
    for prefix, residual, last in layers:
        z = h @ tensors[prefix + ".W"].astype(np.float64) + tensors[prefix + ".b"].astype(np.float64)
        h = z if last else h + act(z) if residual else act(z)
    return h


def relative_difference(got, want):
    """max over rows of max_j |got - want| / max_j |want|."""
    scale = np.maximum(np.abs(want).max(axis=1), 1e-30)
    return float((np.abs(got - want).max(axis=1) / scale).max())


def torch_check(tensors, meta, x, want):
    """The same model as torch.nn layers: its float64 scores against numpy's."""
    try:
        import torch
    except ImportError:
        print("torch: not importable here, skipped (numpy is required, torch optional)")
        return True
    settings = model_settings(meta)
    _, layers = plan(settings, int(meta["slope.inputs"]), int(meta["slope.classes"]))
    acts = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid,
            "gelu": lambda: torch.nn.GELU(approximate="tanh")}

    class Residual(torch.nn.Module):
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def forward(self, h):
            return h + self.fn(h)

    modules = []
    for prefix, residual, last in layers:
        w = torch.from_numpy(tensors[prefix + ".W"].astype(np.float64))
        lin = torch.nn.Linear(w.shape[0], w.shape[1]).double()
        with torch.no_grad():
            lin.weight.copy_(w.T)  # torch's weight is (out, in): slope's W transposed
            lin.bias.copy_(torch.from_numpy(tensors[prefix + ".b"].astype(np.float64)))
        block = lin if last else torch.nn.Sequential(lin, acts[settings["activation"]]())
        modules.append(Residual(block) if residual else block)
    net = torch.nn.Sequential(*modules).eval()
    with torch.no_grad():
        got = net(torch.from_numpy(x)).numpy()
    diff = relative_difference(got, want)
    ok = diff <= 1e-12
    print(f"torch {torch.__version__}: torch.nn layers give numpy's scores, max relative difference {diff:.2e}"
          f" ({'agree' if ok else 'DISAGREE'})")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("raw")
    ap.add_argument("--scores", help="write numpy's scores (float64) here")
    ap.add_argument("--compare64", help="slope's float64 scores of the same inputs (.npy)")
    ap.add_argument("--rtol", type=float, default=1e-6)
    ap.add_argument("--compare", help="slope's float32 scores of the same inputs (.npy)")
    ap.add_argument("--rtol32", type=float, default=3e-5)
    ap.add_argument("--npy-dir", help="a directory of .npy files that must hold the same arrays")
    args = ap.parse_args()

    tensors, meta = read_safetensors(args.model)
    raw = np.load(args.raw)
    scores = forward(tensors, meta, preprocess(meta, raw))
    if args.scores:
        np.save(args.scores, scores)
    ok = True
    for path, rtol, kind in ((args.compare64, args.rtol, "float64"), (args.compare, args.rtol32, "float32")):
        if not path:
            continue
        slope_scores = np.load(path).astype(np.float64)
        diff = relative_difference(scores, slope_scores)
        same = int((scores.argmax(axis=1) == slope_scores.argmax(axis=1)).sum())
        agree = diff <= rtol
        ok = ok and agree
        print(f"numpy: {args.model}: {raw.shape[0]} examples, max relative difference from slope's {kind} "
              f"scores {diff:.2e} (rtol {rtol:g}), {same} of {raw.shape[0]} predictions equal: "
              f"{'agree' if agree else 'DISAGREE'}")
    ok = torch_check(tensors, meta, preprocess(meta, raw), scores) and ok
    if args.npy_dir:
        for name, a in tensors.items():
            b = np.load(f"{args.npy_dir}/{name}.npy")
            if b.dtype != a.dtype or b.shape != a.shape or b.tobytes() != a.tobytes():
                print(f"npy: {args.npy_dir}/{name}.npy differs from the safetensors tensor")
                ok = False
        if ok:
            print(f"npy: the {len(tensors)} .npy files hold the same arrays")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
