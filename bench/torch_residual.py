#!/usr/bin/python3
"""The residual model of `slope_mlp --model residual` in PyTorch eager mode.

    h1 = relu(x W1 + b1);  h2 = relu(h1 W2 + b2) + h1;  scores = h2 W3 + b3

784 -> H -> H -> 10 on Fashion-MNIST, inputs / 255 (--center subtracts the
training mean), softmax cross-entropy + reg * sum(W^2) over the three weight
matrices, Adam lr 1e-3 or SGD (momentum 0.9, lr 1e-2), float32, batch 256, a new
shuffle every epoch, last partial batch kept, torch.nn.Linear's initialisation.
Same flags and JSON line as bench/libtorch_residual.cpp. Run it with Debian's
/usr/bin/python3 (python3-torch), and with OMP_WAIT_POLICY=PASSIVE at 2 threads.
"""
import argparse, gzip, json, os, resource, statistics, struct, time

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--hidden", type=int, default=100)
ap.add_argument("--epochs", type=int, default=3)
ap.add_argument("--batch", type=int, default=256)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--blas-threads", type=int, default=0, help="OpenBLAS threads (default: --threads)")
ap.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
ap.add_argument("--lr", type=float, default=0.0, help="default 1e-3 for adam, 1e-2 for sgd")
ap.add_argument("--momentum", type=float, default=0.9)
ap.add_argument("--reg", type=float, default=1e-4)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--train-size", type=int, default=0, help="use the first N training examples")
ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
ap.add_argument("--center", action="store_true")
opt = ap.parse_args()

# Both pools are sized when the libraries load, so before the imports.
os.environ["OMP_NUM_THREADS"] = str(opt.threads)
os.environ["OPENBLAS_NUM_THREADS"] = str(opt.blas_threads or opt.threads)
import ctypes
import torch


def read_idx_gz(path):
    """A gzipped IDX file of unsigned bytes as a uint8 tensor of its shape."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, kind, ndim = struct.unpack_from(">HBB", raw, 0)
    if zero != 0 or kind != 0x08:
        raise SystemExit(f"{path}: not an IDX file of unsigned bytes")
    dims = struct.unpack_from(f">{ndim}I", raw, 4)
    body = bytearray(raw[4 + 4 * ndim:])
    return torch.frombuffer(body, dtype=torch.uint8).reshape(dims)


def split(prefix):
    x = read_idx_gz(f"{opt.data}/{prefix}-images-idx3-ubyte.gz")
    y = read_idx_gz(f"{opt.data}/{prefix}-labels-idx1-ubyte.gz")
    return x.reshape(x.shape[0], -1).float().div_(255.0), y.long()


class Residual(torch.nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.fc1 = torch.nn.Linear(784, hidden)
        self.fc2 = torch.nn.Linear(hidden, hidden)
        self.fc3 = torch.nn.Linear(hidden, 10)

    def forward(self, x):
        h1 = torch.relu(self.fc1(x))
        return self.fc3(torch.relu(self.fc2(h1)) + h1)

    def weight_square_sum(self):
        return sum(m.weight.square().sum() for m in (self.fc1, self.fc2, self.fc3))


def openblas_threads():
    try:
        return ctypes.CDLL("libopenblas.so.0").openblas_get_num_threads()
    except (OSError, AttributeError):
        return None


torch.set_num_threads(opt.threads)
torch.manual_seed(opt.seed)

t0 = time.perf_counter()
xtr, ytr = split("train")
xte, yte = split("t10k")
if 0 < opt.train_size < xtr.shape[0]:
    xtr, ytr = xtr[:opt.train_size].clone(), ytr[:opt.train_size].clone()
if opt.center:
    mean = xtr.mean(0, keepdim=True)
    xtr -= mean
    xte -= mean
load_s = time.perf_counter() - t0

net = Residual(opt.hidden)
if opt.optimizer == "adam":
    optimizer = torch.optim.Adam(net.parameters(), lr=opt.lr or 1e-3)
else:
    optimizer = torch.optim.SGD(net.parameters(), lr=opt.lr or 1e-2, momentum=opt.momentum)

n = xtr.shape[0]
epoch_s, train_loss = [], 0.0
for epoch in range(opt.epochs):
    t0 = time.perf_counter()
    order = torch.randperm(n)
    loss_sum, steps = 0.0, 0
    for start in range(0, n, opt.batch):
        rows = order[start:start + opt.batch]
        loss = torch.nn.functional.cross_entropy(net(xtr[rows]), ytr[rows]) + opt.reg * net.weight_square_sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.item()
        steps += 1
    epoch_s.append(time.perf_counter() - t0)
    train_loss = loss_sum / steps

with torch.no_grad():
    test_acc = (net(xte).argmax(1) == yte).double().mean().item()

print(json.dumps({
    "impl": "torch_residual", "model": "residual", "hidden": opt.hidden, "epochs": opt.epochs,
    "batch": opt.batch, "optimizer": opt.optimizer, "seed": opt.seed, "threads": torch.get_num_threads(),
    "blas_threads": openblas_threads(), "train_size": n,
    "sec_per_epoch": round(statistics.median(epoch_s[1:] or epoch_s), 4),
    "epoch_s": [round(t, 4) for t in epoch_s], "train_s": round(sum(epoch_s), 4), "load_s": round(load_s, 4),
    "train_loss": round(train_loss, 6), "test_acc": round(test_acc, 4),
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    "torch": torch.__version__,
}))
