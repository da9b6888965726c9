#!/usr/bin/python3
"""Writes a state_dict file for one of slope's MLPs with numpy only: random
weights under slope's parameter names and shapes, and the metadata that
`slope eval --weights` and train::load_model read. Also scores raw inputs with
those weights (numpy, float64), for slope to match.

  write_state_dict.py OUT.safetensors RAW.npy SCORES.npy [--model mlp]
      [--hidden 16,8] [--blocks 1] [--activation tanh] [--dropout 0.1]
      [--classes 5] [--dtype f32|f64] [--seed 0]

RAW.npy holds uint8 inputs (N, D); the preprocessing recorded is slope's for
pixels: scale 1/255, minus the mean of the scaled inputs.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from read_state_dict import forward, plan, preprocess, write_safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("raw")
    ap.add_argument("scores")
    ap.add_argument("--model", default="mlp")
    ap.add_argument("--hidden", default="16,8")
    ap.add_argument("--blocks", default="1")
    ap.add_argument("--activation", default="tanh")
    ap.add_argument("--dropout", default="0")
    ap.add_argument("--classes", type=int, default=5)
    ap.add_argument("--dtype", choices=["f32", "f64"], default="f32")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    raw = np.load(args.raw)
    inputs = raw.shape[1]
    settings = {"model": args.model, "hidden": args.hidden, "blocks": args.blocks,
                "activation": args.activation, "dropout": args.dropout, "loss": "softmax"}
    sizes, layers = plan(settings, inputs, args.classes)
    rng = np.random.default_rng(args.seed)
    dtype = np.float32 if args.dtype == "f32" else np.float64
    tensors = {}
    for (prefix, _, _), fan_in, fan_out in zip(layers, sizes[:-1], sizes[1:]):
        tensors[prefix + ".W"] = (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(dtype)
        tensors[prefix + ".b"] = (rng.standard_normal(fan_out) * 0.1).astype(dtype)
    scale = 1.0 / 255.0
    mean = (raw.astype(np.float64) * scale).mean(axis=0)
    meta = {
        "slope.model": "".join(f"{k}={v}\n" for k, v in settings.items()),
        # slope reads exactly this layout: {"scale": x, "mean": [a, b, ...]}
        "slope.preprocess": json.dumps({"scale": scale, "mean": [float(m) for m in mean]}),
        "slope.dataset": "interop",
        "slope.inputs": str(inputs),
        "slope.classes": str(args.classes),
    }
    write_safetensors(args.out, tensors, meta)
    scores = forward(tensors, meta, preprocess(meta, raw))
    np.save(args.scores, scores)
    print(f"numpy: wrote {args.out} ({len(tensors)} {args.dtype} tensors, {args.model} {sizes}, "
          f"{args.activation}) and the scores of {raw.shape[0]} examples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
