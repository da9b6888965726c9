#!/usr/bin/python3
"""Tutorial 10, step 5: the model example_custom_model trained, read in NumPy.

  /usr/bin/python3 examples/custom_model.py DIR

Reads DIR/custom_model.safetensors with numpy and json only, writes the
model's forward pass again in NumPy (the user's own code, as the C++ was),
scores DIR/test_images.npy, and compares with slope's DIR/slope_scores.npy.
Exit status 1 if a prediction differs or a score differs by more than 1e-5
of its row's largest score (slope computes in float32, NumPy here in float64).
"""
import json
import struct
import sys

import numpy as np


def read_safetensors(path):
    """name -> array, and the metadata: 8-byte header length, JSON header, data."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    dtypes = {"F32": np.float32, "F64": np.float64}
    tensors = {}
    for name, e in header.items():
        lo, hi = e["data_offsets"]
        tensors[name] = np.frombuffer(data[8 + n + lo : 8 + n + hi], dtype=dtypes[e["dtype"]]).reshape(e["shape"])
    return tensors, meta


def forward(p, x):
    """ResidualTanhNet in evaluation mode (dropout off): W is (in, out)."""
    h1 = np.tanh(x @ p["in.W"] + p["in.b"])
    h2 = h1 + np.tanh(h1 @ p["mid.W"] + p["mid.b"])
    return h2 @ p["out.W"] + p["out.b"]


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "."
    tensors, meta = read_safetensors(f"{d}/custom_model.safetensors")
    params = {k: v.astype(np.float64) for k, v in tensors.items()}
    prep = json.loads(meta["slope.preprocess"])  # x = scale * raw - mean, as slope preprocessed
    images = np.load(f"{d}/test_images.npy")
    x = images.astype(np.float64) * prep["scale"] - np.asarray(prep["mean"], dtype=np.float64)
    scores = forward(params, x)
    slope_scores = np.load(f"{d}/slope_scores.npy").astype(np.float64)
    agree = int((scores.argmax(axis=1) == slope_scores.argmax(axis=1)).sum())
    rel = float((np.abs(scores - slope_scores).max(axis=1) / np.abs(slope_scores).max(axis=1)).max())
    print(f"numpy {np.__version__}: read {len(tensors)} tensors of {meta['slope.custom_model']} "
          f"({', '.join(f'{k} {tuple(v.shape)}' for k, v in sorted(tensors.items()))})")
    print(f"numpy: predictions agree with slope on {agree} of {len(images)} test images; "
          f"max relative score difference {rel:.1e}")
    return 0 if agree == len(images) and rel <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
