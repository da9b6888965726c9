#!/usr/bin/python3
"""slope against PyTorch, LibTorch and NumPy on the same task, side by side.

    /usr/bin/python3 bench/compare.py                 # full run, about 15 minutes
    /usr/bin/python3 bench/compare.py --quick         # 1 repeat, 2 epochs, no sweep
    /usr/bin/python3 bench/compare.py --coretype SkylakeX   # OpenBLAS kernels for every program

Builds bench/slope_mlp (in --build), the reference programs (from --refs,
default ../shared/bench next to the repository; LibTorch needs libtorch-dev,
the Python ones Debian's python3-torch and python3-numpy) and the LibTorch twin
of the residual model (bench/libtorch, in --twins-build; skipped without
libtorch). It measures the OpenBLAS sgemm peak at 1 and 2 threads with
`slope_mlp --peak`, then runs every configuration interleaved: for each hidden
size, thread count and repeat, each implementation once, in a rotating order,
with the same thread settings (OMP_WAIT_POLICY=PASSIVE for the torch programs,
whose OpenMP spinning otherwise fights OpenBLAS for the two cores). The MLP
784 -> H -> 10 runs against all references; the residual model
(`slope_mlp --model residual`, 784 -> H -> H -> 10 with a skip connection) runs
against its twins bench/libtorch_residual.cpp and bench/torch_residual.py.
Every program gets the same environment otherwise; `--coretype NAME` adds
OPENBLAS_CORETYPE=NAME to all of them (OpenBLAS falls back to slow generic
kernels on a CPU it does not recognise). Before each run it waits for a quiet
machine and it repeats a run that other processes disturbed. Then it sweeps
slope alone over the hidden size, the batch size and the number of examples,
and writes docs/performance.md (tables of ratios) and the raw JSON lines to
bench/results.jsonl.
"""
import argparse, json, os, platform, statistics, subprocess, sys, time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3"  # Debian's python, with python3-torch and python3-numpy
HZ = os.sysconf("SC_CLK_TCK")
COMMON_ENV = {}  # added to every program's environment (--coretype)


def busy_seconds():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (f[0] + f[1] + f[2] + f[5] + f[6]) / HZ  # user nice system irq softirq


def wait_quiet(limit=90.0, threshold=0.05):
    """Waits (up to `limit` s) until other processes use < threshold cores for 2 s."""
    end, calm = time.time() + limit, 0
    while time.time() < end and calm < 2:
        b0 = busy_seconds()
        time.sleep(1.0)
        calm = calm + 1 if busy_seconds() - b0 < threshold else 0


def run(cmd, env_extra, log):
    """Runs cmd (up to 3 times while disturbed); returns its last-line JSON + wall_s, bg_cores."""
    env_extra = dict(COMMON_ENV, **env_extra)
    env = dict(os.environ, **env_extra)
    best = None
    for attempt in range(3):
        wait_quiet()
        r0, b0, t0 = os.times(), busy_seconds(), time.perf_counter()
        p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wall, b1, r1 = time.perf_counter() - t0, busy_seconds(), os.times()
        if p.returncode != 0:
            sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
        rec = json.loads(p.stdout.strip().splitlines()[-1])
        own = (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)
        rec.update(wall_s=round(wall, 3), bg_cores=round(max(0.0, (b1 - b0) - own) / wall, 3),
                   attempt=attempt + 1, env=env_extra)
        if best is None or rec["bg_cores"] < best["bg_cores"]:
            best = rec
        if rec["bg_cores"] <= 0.1:
            break
    log.write(json.dumps(best) + "\n")
    log.flush()
    short = {k: best.get(k) for k in ("impl", "hidden", "threads", "batch", "train_size", "sec_per_epoch",
                                       "test_acc", "bg_cores")}
    print(json.dumps(short), flush=True)
    return best


def flops_per_epoch(h, n=60000, model="mlp"):
    """The references' convention: 6 N (784 H + 10 H) per epoch, 6 N (784 H + H H + 10 H) for the residual model."""
    return 6 * n * (784 * h + (h * h if model == "residual" else 0) + 10 * h)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def build(args):
    bin_dir = os.path.join(args.build, "bench")
    if not os.path.exists(os.path.join(args.build, "CMakeCache.txt")):
        if os.path.exists(os.path.join(bin_dir, "slope_mlp")):
            print(f"{args.build} is not a CMake build directory: using its bench/slope_mlp as it is", flush=True)
        else:
            subprocess.run(["cmake", "-S", REPO, "-B", args.build, "-DCMAKE_BUILD_TYPE=Release"], check=True,
                           stdout=subprocess.DEVNULL)
    if os.path.exists(os.path.join(args.build, "CMakeCache.txt")):
        subprocess.run(["cmake", "--build", args.build, "--target", "slope_mlp", "-j2"], check=True,
                       stdout=subprocess.DEVNULL)
    have = {"slope": True, "torch": False, "libtorch": False, "numpy": False,
            "libtorch_residual": False, "torch_residual": False}
    if os.path.isdir(args.refs):
        have["torch"] = os.path.exists(os.path.join(args.refs, "torch_mlp.py"))
        have["numpy"] = os.path.exists(os.path.join(args.refs, "numpy_mlp.py"))
        r = subprocess.run(["cmake", "-S", args.refs, "-B", args.refs_build, "-DCMAKE_BUILD_TYPE=Release"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode == 0:
            subprocess.run(["cmake", "--build", args.refs_build, "-j2"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        have["libtorch"] = os.path.exists(os.path.join(args.refs_build, "libtorch_mlp"))
    # The residual model's twins live in this repository: bench/libtorch (its own CMake
    # project, so that slope's build never needs libtorch) and bench/torch_residual.py.
    r = subprocess.run(["cmake", "-S", os.path.join(REPO, "bench", "libtorch"), "-B", args.twins_build,
                        "-DCMAKE_BUILD_TYPE=Release"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode == 0:
        r = subprocess.run(["cmake", "--build", args.twins_build, "-j2"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    if r.returncode == 0:
        have["libtorch_residual"] = os.path.exists(os.path.join(args.twins_build, "libtorch_residual"))
    else:
        last = [l.strip() for l in r.stderr.splitlines() if l.strip()][:3]
        print("skipping libtorch_residual: bench/libtorch did not build (it needs Debian's libtorch-dev): "
              + " ".join(last), flush=True)
    have["torch_residual"] = subprocess.run([PY, "-c", "import torch"], stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL).returncode == 0
    return have


def openblas_core():
    """The kernels OpenBLAS picks in this environment (the CPU it detects or OPENBLAS_CORETYPE)."""
    code = "import ctypes; f = ctypes.CDLL('libopenblas.so.0').openblas_get_corename; " \
           "f.restype = ctypes.c_char_p; print(f().decode())"
    r = subprocess.run([PY, "-c", code], env=dict(os.environ, **COMMON_ENV), stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    return r.stdout.strip() if r.returncode == 0 else "?"


def commands(args, have, h, t, epochs, model="mlp"):
    """(name, command, extra environment) of every implementation of `model` at H = h, t threads."""
    base = ["--hidden", str(h), "--epochs", str(epochs), "--threads", str(t)]
    passive = {"OMP_WAIT_POLICY": "PASSIVE"}
    slope = [os.path.join(args.build, "bench", "slope_mlp")] + base
    if model == "residual":
        cmds = [("slope", slope + ["--model", "residual"], {})]
        if have["libtorch_residual"]:
            cmds.append(("libtorch", [os.path.join(args.twins_build, "libtorch_residual")] + base, passive))
        if have["torch_residual"]:
            cmds.append(("torch", [PY, os.path.join(REPO, "bench", "torch_residual.py")] + base, passive))
        return cmds
    cmds = [("slope", slope, {})]
    if have["torch"]:
        cmds.append(("torch", [PY, os.path.join(args.refs, "torch_mlp.py")] + base, passive))
    if have["libtorch"]:
        cmds.append(("libtorch", [os.path.join(args.refs_build, "libtorch_mlp")] + base, passive))
    if have["numpy"]:
        cmds.append(("numpy", [PY, os.path.join(args.refs, "numpy_mlp.py")] + base, {}))
    return cmds


def interleaved(args, have, hs, threads, model, log):
    """Each configuration's implementations once per repeat, the first one rotating."""
    runs = []
    for h in hs:
        for t in threads:
            for rep in range(args.repeats):
                cmds = commands(args, have, h, t, args.epochs, model)
                k = rep % len(cmds)
                for name, cmd, env in cmds[k:] + cmds[:k]:  # rotate who goes first
                    rec = run(cmd, env, log)
                    rec.update(name=name, model=model)
                    runs.append(rec)
    return runs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--refs", default=os.path.join(os.path.dirname(REPO), "shared", "bench"))
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--refs-build", default="/tmp/slope-refs-build")
    ap.add_argument("--twins-build", default="/tmp/slope-libtorch-build",
                    help="build directory for bench/libtorch (the residual model's LibTorch twin)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--hidden", default="100 512")
    ap.add_argument("--threads", default="1 2")
    ap.add_argument("--residual-hidden", default="512", help="hidden sizes of the residual model ('' for none)")
    ap.add_argument("--coretype", default=None, metavar="NAME",
                    help="set OPENBLAS_CORETYPE=NAME for every program run (slope and the references alike)")
    ap.add_argument("--no-sweep", action="store_true")
    ap.add_argument("--quick", action="store_true", help="1 repeat, 2 epochs, no sweep")
    ap.add_argument("--out", default=os.path.join(REPO, "docs", "performance.md"))
    ap.add_argument("--raw", default=os.path.join(REPO, "bench", "results.jsonl"))
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.epochs, args.no_sweep = 1, 2, True
    hs = [int(x) for x in args.hidden.split()]
    threads = [int(x) for x in args.threads.split()]
    residual_hs = [int(x) for x in args.residual_hidden.split()]
    if args.coretype:
        COMMON_ENV["OPENBLAS_CORETYPE"] = args.coretype
    args.core = openblas_core()
    print(f"OpenBLAS core: {args.core}", flush=True)
    if args.core == "Prescott" and not args.coretype:
        print("  (OpenBLAS's fallback for a CPU it does not recognise; --coretype SkylakeX may be much faster)",
              flush=True)

    have = build(args)
    print("implementations:", ", ".join(k for k, v in have.items() if v), flush=True)
    log = open(args.raw, "w")
    slope_bin = os.path.join(args.build, "bench", "slope_mlp")
    peaks = {}
    for t in threads:
        for _ in range(2):
            rec = run([slope_bin, "--peak", "--threads", str(t)], {}, log)
            peaks[t] = max(peaks.get(t, 0.0), rec["peak_gflops"])

    runs = interleaved(args, have, hs, threads, "mlp", log)
    runs += interleaved(args, have, residual_hs, threads, "residual", log)

    sweeps = {}
    if not args.no_sweep:
        t = max(threads)
        def sweep(key, values, fixed):
            out = []
            for v in values:
                opts = dict(fixed, **{key: v})
                cmd = [slope_bin, "--epochs", "2", "--threads", str(t)]
                for k2, v2 in opts.items():
                    cmd += [f"--{k2.replace('_', '-')}", str(v2)]
                out.append(run(cmd, {}, log))
            return out
        sweeps["hidden"] = sweep("hidden", [64, 128, 256, 512, 1024, 2048], {"batch": 256})
        sweeps["batch"] = sweep("batch", [32, 64, 128, 256, 512, 1024], {"hidden": 512})
        sweeps["train_size"] = sweep("train_size", [7500, 15000, 30000, 60000], {"hidden": 512})
    log.close()
    write_markdown(args, peaks, runs, sweeps, hs, residual_hs, threads)
    print("wrote", args.out)


def side_by_side(runs, model, hs, threads, peaks, versus):
    """Table rows for `model`, and per slope configuration (h, t, s/epoch, yardstick, peak fraction,
    peak RSS, first step). `versus` names the yardstick: None for the fastest reference, else a name."""
    rows, slope = [], []
    for h in hs:
        for t in threads:
            group = [r for r in runs if r["model"] == model and r["hidden"] == h and r["threads"] == t]
            names = []
            for r in group:
                if r["name"] not in names:
                    names.append(r["name"])
            spe = {n: [r["sec_per_epoch"] for r in group if r["name"] == n] for n in names}
            if versus is None:
                refs = [med(spe[n]) for n in names if n != "slope"]
                yardstick = min(refs) if refs else float("nan")
            else:
                yardstick = med(spe[versus]) if versus in spe else float("nan")
            for n in names:
                rs = [r for r in group if r["name"] == n]
                s = med(spe[n])
                span = f" [{min(spe[n]):.3f}-{max(spe[n]):.3f}]" if len(spe[n]) > 1 else ""
                g = flops_per_epoch(h, model=model) / s / 1e9
                first = med([r["first_step_s"] for r in rs if "first_step_s" in r])
                rss = max(r["peak_rss_mb"] for r in rs)
                ratio = "-" if yardstick != yardstick else f"{s / yardstick:.2f}x"
                rows.append(f"| {h} | {t} | {n} | {s:.3f}{span} | {ratio} | {g:.1f} | {100 * g / peaks[t]:.0f}% "
                            f"| {med([r['train_loss'] for r in rs]):.4f} | {med([r['test_acc'] for r in rs]):.4f} "
                            f"| {rss:.0f} | {'-' if first != first else f'{first:.2f}'} |")
                if n == "slope":
                    slope.append((h, t, s, yardstick, g / peaks[t], rss, first))
    return rows, slope


def ratio_target(label, s, yardstick, goal, what):
    if yardstick != yardstick:
        return f"| {label}: s/epoch <= {goal}x {what} | not measured ({what} did not run) | - |"
    return (f"| {label}: s/epoch <= {goal}x {what} | {s / yardstick:.2f}x ({s:.3f} s vs {yardstick:.3f} s) "
            f"| {'yes' if s / yardstick <= goal else 'no'} |")


def write_markdown(args, peaks, runs, sweeps, hs, residual_hs, threads):
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    if args.coretype:
        core = f"`OPENBLAS_CORETYPE={args.coretype}` set for every program by `--coretype`; OpenBLAS ran {args.core} kernels"
    elif "OPENBLAS_CORETYPE" in os.environ:
        core = (f"`OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']}` inherited by every program; "
                f"OpenBLAS ran {args.core} kernels")
    else:
        core = f"no `OPENBLAS_CORETYPE`; OpenBLAS chose {args.core} kernels for this CPU"
        if args.core == "Prescott":  # what OpenBLAS falls back to on a CPU it does not know
            core += " (its fallback for CPUs it does not recognise: see `--coretype`)"
    header = ["| H | threads | implementation | s/epoch | ratio to {} | GFLOP/s | % peak | final loss "
              "| test acc | peak RSS MiB | start to first step s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    L = ["# Performance", "",
         "slope against PyTorch (eager), LibTorch and a hand-written NumPy network on one task: Fashion-MNIST,",
         "784 -> H -> 10 with ReLU, softmax cross-entropy + 1e-4 * sum(W^2), Adam lr 1e-3, batch 256, float32,",
         "a fresh shuffle every epoch. The reference programs are the ones in `../shared/bench`; slope's is",
         "`bench/slope_mlp.cpp`, which trains through `slope::train::Trainer`. A second model, 784 -> H -> H -> 10",
         "with a skip connection (h2 = relu(h1 W2 + b2) + h1), runs against its twins written the way a",
         "LibTorch or PyTorch user would: `bench/libtorch_residual.cpp` and `bench/torch_residual.py`.", "",
         f"Generated by `/usr/bin/python3 bench/compare.py{' --coretype ' + args.coretype if args.coretype else ''}` "
         f"on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
         f"{cpu}, {os.cpu_count()} cores, {platform.platform()}; {core}. Raw records: `bench/results.jsonl`.",
         "Every figure below was measured in that one run, configurations interleaved and run in a rotating",
         "order, each after the machine was quiet; s/epoch is the median of the epochs after the first, then",
         f"the median over {args.repeats} repeat(s) [min-max]. GFLOP/s uses the references' convention",
         "6 N (784 H + 10 H) per epoch (6 N (784 H + H H + 10 H) for the residual model), N = 60000 (slope",
         "skips the input gradient, so it does less than that); % peak divides by the best square sgemm rate",
         "measured at the same thread count.", "",
         "## sgemm peak (OpenBLAS, measured in this run)", "",
         "| threads | best square sgemm GFLOP/s |", "|---|---|"]
    for t in threads:
        L.append(f"| {t} | {peaks[t]:.1f} |")

    rows, mlp = side_by_side(runs, "mlp", hs, threads, peaks, None)
    L += ["", "## Side by side: 784 -> H -> 10", "", header[0].format("fastest reference"), header[1]] + rows
    residual = []
    if residual_hs:
        rows, residual = side_by_side(runs, "residual", residual_hs, threads, peaks, "libtorch")
        L += ["", "## The residual model: 784 -> H -> H -> 10, skip connection", "",
              "torch and libtorch here are `bench/torch_residual.py` and `bench/libtorch_residual.cpp`.", "",
              header[0].format("LibTorch twin"), header[1]] + rows

    L += ["", "## Targets (2 threads)", "", "| target | measured | met |", "|---|---|---|"]
    for h, t, s, fastest, frac, rss, first in mlp:
        if t != 2:
            continue
        L.append(ratio_target(f"H = {h}", s, fastest, 0.45 if h == 100 else 0.55, "the fastest reference"))
        if h == 512:
            L.append(f"| H = 512: >= 70% of the 2-thread sgemm peak | {100 * frac:.0f}% | {'yes' if frac >= 0.7 else 'no'} |")
        L.append(f"| H = {h}: peak RSS <= 100 MiB | {rss:.0f} MiB | {'yes' if rss <= 100 else 'no'} |")
        L.append(f"| H = {h}: process start to first step <= 0.5 s | {first:.2f} s | {'yes' if first <= 0.5 else 'no'} |")
    for h, t, s, twin, frac, rss, first in residual:
        if t != 2:
            continue
        L.append(ratio_target(f"residual model, H = {h}", s, twin, 0.6, "its LibTorch twin"))
        L.append(f"| residual model, H = {h}: peak RSS <= 100 MiB | {rss:.0f} MiB | {'yes' if rss <= 100 else 'no'} |")

    if sweeps:
        L += ["", "## How the cost grows (slope, 2 threads, 2 epochs each)", ""]
        for key, title in (("hidden", "hidden size H (batch 256)"), ("batch", "batch size (H = 512)"),
                           ("train_size", "number of training examples (H = 512, batch 256)")):
            rs = sweeps[key]
            L += [f"### Against the {title}", "", f"| {key} | s/epoch | examples/s | GFLOP/s (convention) | per-example us |",
                  "|---|---|---|---|---|"]
            for r in rs:
                n, h = r["train_size"], r["hidden"]
                g = 6 * n * (784 * h + 10 * h) / r["sec_per_epoch"] / 1e9
                L.append(f"| {r[key]} | {r['sec_per_epoch']:.3f} | {n / r['sec_per_epoch']:.0f} | {g:.1f} "
                         f"| {1e6 * r['sec_per_epoch'] / n:.1f} |")
            L.append("")
        L += explain(sweeps)
    notes = os.path.join(REPO, "bench", "performance-notes.md")
    if os.path.exists(notes):  # the analysis, written by hand against a run like this one
        L += ["", open(notes).read().rstrip()]
    open(args.out, "w").write("\n".join(L) + "\n")


def explain(sweeps):
    """The shape of each curve, in words, with this run's numbers."""
    def per_ex(r):
        return r["sec_per_epoch"] / r["train_size"]
    hs, bs, ns = sweeps["hidden"], sweeps["batch"], sweeps["train_size"]
    h_lo, h_hi = hs[0], hs[-1]
    grow = h_hi["sec_per_epoch"] / h_lo["sec_per_epoch"]
    flop_grow = h_hi["hidden"] / h_lo["hidden"]
    b_lo, b_hi = bs[0], bs[-1]
    n_rate = [per_ex(r) * 1e6 for r in ns]
    return [
        "### Why the curves have these shapes", "",
        f"- **Hidden size.** The work per example is linear in H (two products of 784 x H and two of H x 10),",
        f"  so for large H the time grows in proportion: from H = {h_lo['hidden']} to H = {h_hi['hidden']} the flops grow",
        f"  {flop_grow:.0f}x and the time {grow:.1f}x. At small H the line flattens onto a floor: the per-step costs",
        "  that do not scale with H (gathering and normalising the 256 x 784 input block, the softmax over 10",
        "  classes, synchronising the two threads, and the small, inefficient H x 10 products) dominate, and",
        "  sgemm runs below its peak on thin matrices.",
        f"- **Batch size.** An epoch does the same flops at every batch size, but small batches cost more: each",
        f"  step pays a fixed overhead (thread hand-offs, the optimizer update over all {512 * 794 + 522:,} parameters,",
        "  BLAS call set-up), and a block of 16 rows per thread is too thin for sgemm to reach its peak. The time",
        f"  falls from {b_lo['sec_per_epoch']:.2f} s per epoch at batch {b_lo['batch']} to {b_hi['sec_per_epoch']:.2f} s at {b_hi['batch']}, steeply up to",
        "  a few hundred rows and slowly after: from there the products are large enough, and only the per-step",
        "  overhead, paid fewer times, still shrinks.",
        f"- **Number of examples.** Time per epoch is linear in N: the cost per example stays at",
        f"  {min(n_rate):.1f}-{max(n_rate):.1f} us from N = {ns[0]['train_size']} to {ns[-1]['train_size']}. Nothing is cached across epochs",
        "  and the uint8 data set (47 MB at N = 60000) stays in memory, so there is no knee where the data",
        "  stops fitting a cache level that matters more than the weights do.", ""]


if __name__ == "__main__":
    main()
