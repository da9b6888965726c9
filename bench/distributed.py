#!/usr/bin/env python3
"""Training across processes on this machine, measured (docs/distributed.md).

    python3 bench/distributed.py [--build build] [--repeats 2] [--epochs 3]

Runs `slope train` on the packaged Fashion-MNIST (the default two-layer net,
batch 256) as 1 process x 1 thread, 2 processes x 1 thread and 1 process x 2
threads, interleaved, `--repeats` times each; times the all-reduce of the
net's gradient alone (bench/mpi_allreduce); counts the bytes that really move
per step over loopback TCP; and models N machines from those figures. Prints
Markdown tables and one JSON line. Only ratios within one run mean anything:
the machine's speed varies from day to day.

Needs a build with -DSLOPE_MPI=ON and mpirun (Debian: openmpi-bin).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1", OMP_WAIT_POLICY="PASSIVE")
SHM = dict(ENV, OMPI_MCA_btl="self,vader", OMPI_MCA_btl_vader_single_copy_mechanism="none")
TCP = dict(ENV, OMPI_MCA_btl="self,tcp", OMPI_MCA_btl_tcp_if_include="lo", OMPI_MCA_oob_tcp_if_include="lo")


def train(slope, processes, threads, epochs, env, tmp):
    """Median seconds of a training epoch after the first, and the JSON summary."""
    metrics = os.path.join(tmp, f"m-{processes}-{threads}.jsonl")
    if os.path.exists(metrics):
        os.remove(metrics)
    cmd = [slope, "train", "--epochs", str(epochs), "--threads", str(threads), "--metrics", metrics]
    if processes > 1:
        cmd = ["mpirun", "--oversubscribe", "-np", str(processes)] + cmd
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    summary = json.loads([l for l in out.splitlines() if l.startswith('{"command"')][-1])
    with open(metrics) as f:
        epochs_s = [json.loads(l)["seconds"] for l in f]
    return statistics.median(epochs_s[1:] or epochs_s), summary


def loopback_bytes():
    with open("/proc/net/dev") as f:
        for line in f:
            if line.strip().startswith("lo:"):
                return int(line.split(":", 1)[1].split()[0])  # received = sent on loopback
    raise RuntimeError("no loopback interface in /proc/net/dev")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    a = ap.parse_args()
    slope = os.path.join(a.build, "slope")
    allreduce = os.path.join(a.build, "bench", "mpi_allreduce")
    for p in (slope, allreduce):
        if not os.access(p, os.X_OK):
            sys.exit(f"distributed.py: {p} is missing (build with -DSLOPE_MPI=ON)")
    if not shutil.which("mpirun"):
        sys.exit("distributed.py: mpirun is missing (apt-get install openmpi-bin)")
    tmp = tempfile.mkdtemp(prefix="slope-dist-")

    # 1. Whole epochs: the three layouts, interleaved.
    runs = {(1, 1): [], (2, 1): [], (1, 2): []}
    share = []
    summary = None
    for _ in range(a.repeats):
        for (p, t) in runs:
            s, summary_pt = train(slope, p, t, a.epochs, SHM, tmp)
            runs[(p, t)].append(s)
            if p == 2:
                share.append(summary_pt["collective_seconds"] / summary_pt["seconds"])
                summary = summary_pt
    steps_per_epoch = summary["steps"] // summary["epochs"]
    epoch = {k: statistics.median(v) for k, v in runs.items()}
    step = {k: v / steps_per_epoch for k, v in epoch.items()}
    grad_bytes = summary["allreduce_bytes"] // summary["steps"]  # per step, this process's payload
    floats = grad_bytes // 4

    # 2. The all-reduce alone, over shared memory and over loopback TCP.
    def one_allreduce(env, n=2):
        out = subprocess.run(["mpirun", "--oversubscribe", "-np", str(n), allreduce, str(floats), "200"],
                             env=env, check=True, capture_output=True, text=True).stdout
        return json.loads(out.strip().splitlines()[-1])["seconds"]
    ar_shm = one_allreduce(SHM)
    ar_tcp = one_allreduce(TCP)

    # 3. Bytes that move per step, over loopback TCP: a 2-epoch run minus a
    # 1-epoch run (start-up, broadcast and evaluation cancel out).
    moved = []
    for epochs in (1, 2):
        before = loopback_bytes()
        train(slope, 2, 1, epochs, TCP, tmp)
        moved.append(loopback_bytes() - before)
    per_step_per_process = (moved[1] - moved[0]) / steps_per_epoch / 2
    ring_bound = 2 * (2 - 1) / 2 * grad_bytes

    print(f"## Fashion-MNIST, {summary['model']}, batch {summary['settings']['batch']}, "
          f"{steps_per_epoch} steps an epoch; median of {a.repeats} runs, epochs 2..{a.epochs}\n")
    print("| layout | epoch (s) | step (ms) | speed-up vs 1 x 1 |")
    print("|---|---:|---:|---:|")
    for (p, t), s in epoch.items():
        print(f"| {p} process{'es' if p > 1 else ''} x {t} thread{'s' if t > 1 else ''} | {s:.3f} | "
              f"{1e3 * step[(p, t)]:.2f} | {epoch[(1, 1)] / s:.2f}x |")
    print(f"\n2 processes x 1 thread against 1 process x 2 threads: {epoch[(2, 1)] / epoch[(1, 2)]:.2f}x the time\n")
    print(f"- gradient all-reduced per step: {grad_bytes / 1e6:.3f} MB ({floats} floats)")
    print(f"- one all-reduce alone (2 processes): {1e3 * ar_shm:.3f} ms over shared memory, "
          f"{1e3 * ar_tcp:.3f} ms over loopback TCP = {100 * ar_shm / step[(2, 1)]:.1f}% and "
          f"{100 * ar_tcp / step[(2, 1)]:.1f}% of a 2-process step")
    print(f"- rank 0's time inside collectives in training (transfer + waiting for the other rank): "
          f"{100 * statistics.median(share):.1f}%")
    print(f"- bytes sent per process per step over loopback TCP: {per_step_per_process / 1e6:.3f} MB; "
          f"ring bound 2(N-1)/N x S = {ring_bound / 1e6:.3f} MB ({per_step_per_process / ring_bound:.2f}x)")

    # 4. N machines like this one (2 cores each, one process of 2 threads),
    # joined by a network: t(N) = compute / N + 2 (N-1)/N S / bandwidth + 2 (N-1) latency.
    compute = step[(1, 2)]
    print("\n## A model of N machines (compute per step from 1 process x 2 threads here)\n")
    print("Strong scaling (global batch 256 split N ways) and weak scaling (256 per machine, "
          "the linear scaling rule), speed-up over one machine:\n")
    print("| network | link | N | all-reduce (ms) | strong speed-up | weak speed-up |")
    print("|---|---|---:|---:|---:|---:|")
    rows = []
    for name, s_bytes, c in (("two-layer", grad_bytes, compute), ("100x larger", 100 * grad_bytes, 100 * compute)):
        for link, bw, lat in (("10 Gbit/s", 10e9 / 8, 20e-6), ("100 Gbit/s", 100e9 / 8, 5e-6)):
            for n in (2, 4, 8, 16, 64):
                ar = 2 * (n - 1) / n * s_bytes / bw + 2 * (n - 1) * lat
                strong = c / (c / n + ar)
                weak = n * c / (c + ar)
                rows.append({"network": name, "link": link, "n": n, "allreduce_s": ar, "strong": strong, "weak": weak})
                print(f"| {name} | {link} | {n} | {1e3 * ar:.2f} | {strong:.1f}x | {weak:.1f}x |")
    print()
    print(json.dumps({"epoch_seconds": {f"{p}x{t}": v for (p, t), v in epoch.items()},
                      "step_seconds": {f"{p}x{t}": v for (p, t), v in step.items()},
                      "grad_bytes": grad_bytes, "allreduce_shm_s": ar_shm, "allreduce_tcp_s": ar_tcp,
                      "collective_share": statistics.median(share), "bytes_per_step_per_process": per_step_per_process,
                      "ring_bound": ring_bound, "model": rows}))
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
