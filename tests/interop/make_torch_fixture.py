#!/usr/bin/python3
"""Writes tests/interop/fixtures/torch_residual_tanh.{safetensors,inputs.npy,scores.npy}:
a residual tanh net built from torch.nn layers, its weights under slope's names
(W is torch's weight transposed), 16 inputs and torch's float64 scores of them.
test_state_dict.cpp loads the file into slope and matches the scores, so the
suite checks against PyTorch without needing it. Needs torch; run from anywhere:

  /usr/bin/python3 tests/interop/make_torch_fixture.py
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from read_state_dict import write_safetensors  # noqa: E402


class Residual(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, h):
        return h + self.fn(h)


def main():
    torch.manual_seed(2024)
    # slope: --model residual --hidden 8 --blocks 1 --activation tanh on 6 inputs, 4 classes:
    # layers.0 = Sequential(Linear(6, 8), Tanh), layers.1 = Residual(Sequential(Linear(8, 8), Tanh)),
    # layers.2 = Linear(8, 4) (no dropout: no indices in between).
    net = torch.nn.Sequential(
        torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh()),
        Residual(torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Tanh())),
        torch.nn.Linear(8, 4),
    )
    names = {"0.0": "layers.0.0", "1.fn.0": "layers.1.fn.0", "2": "layers.2"}
    tensors = {}
    for torch_name, slope_name in names.items():
        layer = net.get_submodule(torch_name)
        tensors[slope_name + ".W"] = layer.weight.detach().numpy().T.astype(np.float32)
        tensors[slope_name + ".b"] = layer.bias.detach().numpy().astype(np.float32)
    meta = {
        "slope.model": "model=residual\nhidden=8\nblocks=1\nactivation=tanh\ndropout=0\nloss=softmax\n",
        "slope.preprocess": '{"scale": 1, "mean": []}',
        "slope.dataset": "torch",
        "slope.inputs": "6",
        "slope.classes": "4",
    }
    out = os.path.join(HERE, "fixtures", "torch_residual_tanh")
    write_safetensors(out + ".safetensors", tensors, meta)
    x = (torch.randn(16, 6) * 2.0).float()
    # torch's float64 forward pass on the float32 weights as stored.
    net64 = net.double()
    for torch_name, slope_name in names.items():
        layer = net64.get_submodule(torch_name)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(tensors[slope_name + ".W"].T.astype(np.float64)))
            layer.bias.copy_(torch.from_numpy(tensors[slope_name + ".b"].astype(np.float64)))
    with torch.no_grad():
        scores = net64.eval()(x.double()).numpy()
    np.save(out + ".inputs.npy", x.numpy())
    np.save(out + ".scores.npy", scores)
    print(f"wrote {out}.safetensors, .inputs.npy {x.shape}, .scores.npy {scores.shape} (torch {torch.__version__})")


if __name__ == "__main__":
    main()
