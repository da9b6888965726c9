#!/usr/bin/env bash
# Inputs the slope program must refuse or report in its own words, one case per
# CTest (tests/register_cli.cmake, "cli: ..."):
#   run_input_checks.sh /path/to/slope CASE
# Options a resumed run would ignore, test images of another shape, a search in
# which every trial diverged, unusable paths and numbers. Each case checks the
# exit status and the message, in a fresh temporary directory.
set -u

SLOPE=${1:?usage: run_input_checks.sh SLOPE CASE}
CASE=${2:?usage: run_input_checks.sh SLOPE CASE}

T=$(mktemp -d "${TMPDIR:-/tmp}/slope-input-XXXXXX")
trap 'rm -rf "$T"' EXIT

# run, fail, expect_rc, out_has, err_has, out_lacks, err_lacks, err_matches, expect_usage_error,
# require_numpy
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_numpy

SPIRAL=(--data spiral)

case "$CASE" in
  resume_overrides)  # settings the checkpoint would override are refused, not ignored
    run train "${SPIRAL[@]}" --epochs 1 --save "$T/r.ckpt"
    expect_rc 0
    cp "$T/r.ckpt" "$T/before.ckpt"
    expect_usage_error "--lr cannot change a resumed run" train "${SPIRAL[@]}" --resume "$T/r.ckpt" --lr 0.1
    expect_usage_error "--hidden, --optimizer cannot change a resumed run" \
      train "${SPIRAL[@]}" --resume "$T/r.ckpt" --hidden 8 --optimizer sgd --epochs 3
    out_lacks "epoch"
    cmp -s "$T/r.ckpt" "$T/before.ckpt" || fail "the checkpoint changed"
    run train "${SPIRAL[@]}" --resume "$T/r.ckpt" --epochs 2 --threads 1  # --epochs extends it
    expect_rc 0
    out_has "epoch   2/2"
    ;;

  geometry)  # images of the same pixel count in other rows and columns are refused
    # IDX files: 60 training images 28x28, and test sets of 28x28 and of 14x56.
    "$PY" - "$T" <<'EOF' || fail "could not write the IDX files"
import os, struct, sys
import numpy as np
t = sys.argv[1]
rng = np.random.default_rng(0)
train = rng.integers(0, 256, 60 * 784, dtype=np.uint8).tobytes()
test = rng.integers(0, 256, 20 * 784, dtype=np.uint8).tobytes()
def images(path, n, rows, cols, pixels):
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBBIII", 0, 0, 8, 3, n, rows, cols) + pixels)
def labels(path, n):
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBBI", 0, 0, 8, 1, n) + (np.arange(n) % 10).astype(np.uint8).tobytes())
# The same training images in both; the same test pixels, laid out 28x28 or
# 14x56. Both directories are named "mnist": the data set's name comes from it.
for d, (rows, cols) in {"square/mnist": (28, 28), "wide/mnist": (14, 56)}.items():
    os.makedirs(f"{t}/{d}")
    images(f"{t}/{d}/train-images-idx3-ubyte", 60, 28, 28, train)
    labels(f"{t}/{d}/train-labels-idx1-ubyte", 60)
    images(f"{t}/{d}/t10k-images-idx3-ubyte", 20, rows, cols, test)
    labels(f"{t}/{d}/t10k-labels-idx1-ubyte", 20)
EOF
    small=(--model linear --epochs 1 --batch 16 --threads 1)
    expect_usage_error "--data-dir: the test split holds 1x14x56 examples of 10 classes, the training split 1x28x28 of 10" \
      train --data mnist --data-dir "$T/wide/mnist" "${small[@]}"
    out_lacks "epoch"
    run train --data mnist --data-dir "$T/square/mnist" "${small[@]}" --save "$T/g.ckpt" --export "$T/g.safetensors"
    expect_rc 0
    # The same checkpoint and model evaluated on test images of the other shape.
    expect_usage_error "the test split holds 1x14x56 examples" \
      eval --data mnist --data-dir "$T/wide/mnist" --checkpoint "$T/g.ckpt"
    mkdir -p "$T/wide_only/mnist"
    cp "$T/wide/mnist/t10k-images-idx3-ubyte" "$T/wide/mnist/t10k-labels-idx1-ubyte" "$T/wide_only/mnist/"
    expect_usage_error "--data: mnist/test holds 1x14x56 examples, the model in '$T/g.safetensors' was trained on 1x28x28" \
      eval --data mnist --data-dir "$T/wide_only/mnist" --weights "$T/g.safetensors"
    run eval --data mnist --data-dir "$T/square/mnist" --weights "$T/g.safetensors"
    expect_rc 0
    ;;

  search_diverged)  # no "best" setting when every trial diverged
    run search "${SPIRAL[@]}" --optimizer sgd --schedule constant --warmup-epochs 0 --trials 2 --epochs 1 \
      --lr-range 1e20,1e21
    expect_rc 1
    [ "$(grep -c 'diverged' "$T/out")" -eq 2 ] || fail "expected two diverged trials"
    out_lacks "best:"
    out_lacks "best_lr"
    err_has "every one of the 2 settings diverged"
    ;;

  path_names)  # empty, over-long and unusable names: exit 2 naming the option, no raw C++ text
    expect_usage_error "--save: the path is empty" train "${SPIRAL[@]}" --save ""
    expect_usage_error "--export: the path is empty" train "${SPIRAL[@]}" --export ""
    long=$(printf 'n%.0s' $(seq 300))
    expect_usage_error "has a name longer than the system's limit" train "${SPIRAL[@]}" --metrics "$T/$long"
    # 240 bytes fit a file name, but not with the ".tmp-<pid>-<n>" of the atomic write beside it.
    name240=$(printf 'c%.0s' $(seq 240))
    expect_usage_error "at most 231 leave room for the temporary file" train "${SPIRAL[@]}" --save "$T/$name240"
    echo '{"epoch": 1, "a": 2}' >"$T/x.jsonl"
    expect_usage_error "--out" plot curves "$T/x.jsonl" --y a --out "$T/$name240"
    expect_usage_error "--data-dir: '$T/$long/x': File name too long" train --data mnist --data-dir "$T/$long/x"
    expect_usage_error "input file '$T/$long' does not exist (File name too long)" plot curves "$T/$long" --y a --out "$T/o.svg"
    err_lacks "filesystem error"
    expect_usage_error "--k: expected integers in [1, 16777216]" knn "${SPIRAL[@]}" --k 1,99999999999999999999999
    expect_usage_error "--k" knn "${SPIRAL[@]}" --k 3,
    expect_usage_error "--lr-range: expected LO,HI with 0 < LO <= HI, both finite, got '1e-3,inf'" \
      search "${SPIRAL[@]}" --lr-range 1e-3,inf
    expect_usage_error "--lr-range" search "${SPIRAL[@]}" --lr-range 1e-3,1e-2x
    [ -z "$(ls -A "$T" | grep -v -e '^out$' -e '^err$' -e '^x.jsonl$')" ] || fail "files were written: $(ls -A "$T")"
    ;;

  *)
    echo "unknown case '$CASE'"
    exit 1
    ;;
esac
echo "ok [$CASE]"
exit 0
