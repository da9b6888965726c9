#!/usr/bin/env bash
# The slope program under mpirun, one case per CTest (tests/register_mpi.cmake):
#   run_mpi_checks.sh /path/to/slope /path/to/mpiexec CASE
# Everything runs on the spiral in a fresh temporary directory that is
# removed afterwards. The environment (set by CTest) allows running as root,
# oversubscribes the cores and keeps the processes on shared memory.
set -u

SLOPE=${1:?usage: run_mpi_checks.sh SLOPE MPIEXEC CASE}
MPIEXEC=${2:?usage: run_mpi_checks.sh SLOPE MPIEXEC CASE}
CASE=${3:?usage: run_mpi_checks.sh SLOPE MPIEXEC CASE}

T=$(mktemp -d "${TMPDIR:-/tmp}/slope-mpi-XXXXXX")
trap 'rm -rf "$T"' EXIT

# run, fail, expect_rc, out_has, err_has, out_lacks, err_matches
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# mpi N ARGS...: `mpirun -np N slope ARGS...` (at most 120 s), like run.
mpi() {
  local n=$1; shift
  LAST_CMD="mpirun -np $n slope $*"
  timeout 120 "$MPIEXEC" --oversubscribe -np "$n" "$SLOPE" "$@" >"$T/out" 2>"$T/err"
  RC=$?
}
# count FIXED FILE: how many lines of FILE hold FIXED.
count() { grep -cF -- "$1" "$2"; }
# json_field NAME: the value of "NAME" in the JSON summary line of stdout.
json_field() { grep '^{"command": "train"' "$T/out" | sed -E "s/.*\"$1\": ([^,}]*).*/\\1/"; }

SPIRAL=(--data spiral --hidden 32 --batch 36 --seed 3)

case $CASE in
  rank0_outputs)
    mpi 2 train "${SPIRAL[@]}" --epochs 3 --save "$T/run.ckpt" --metrics "$T/m.jsonl" \
      --export "$T/model.safetensors"
    expect_rc 0
    # Rank 0 alone prints: one header, one line per epoch, one summary.
    [ "$(count 'slope train: MPI (2 processes)' "$T/out")" = 1 ] || fail "the world is not announced once"
    [ "$(count 'epoch   3/3' "$T/out")" = 1 ] || fail "epoch 3 is not reported exactly once"
    [ "$(count 'test accuracy' "$T/out")" = 1 ] || fail "the test result is not printed exactly once"
    [ "$(json_field processes)" = 2 ] || fail "the JSON summary does not say 2 processes"
    [ "$(wc -l <"$T/m.jsonl")" = 3 ] || fail "the metrics file does not hold 3 lines (one writer, 3 epochs)"
    [ -f "$T/run.ckpt" ] && [ -f "$T/model.safetensors" ] || fail "the checkpoint or the export is missing"
    # Nothing else (no second writer's temporary files) is left behind.
    extra=$(cd "$T" && ls | grep -vxE 'out|err|run.ckpt|m.jsonl|model.safetensors')
    [ -z "$extra" ] || fail "unexpected files: $extra"
    steps=$(json_field steps)
    run eval --data spiral --checkpoint "$T/run.ckpt"
    expect_rc 0
    run eval --data spiral --weights "$T/model.safetensors"
    expect_rc 0
    # 720 training points in batches of 36: 20 steps an epoch.
    [ "$steps" = 60 ] || fail "expected 60 steps, the summary says $steps"
    ;;

  resume_across_n)
    # 2 processes for 2 epochs, 4 processes to epoch 4, one process to epoch 5:
    # the same 100 steps as one process all along, within rounding. (A
    # constant learning rate: --epochs moves the end of a decaying schedule.)
    local_args=("${SPIRAL[@]}" --schedule constant --warmup-epochs 0)
    mpi 2 train "${local_args[@]}" --epochs 2 --save "$T/run.ckpt"
    expect_rc 0
    mpi 4 train --data spiral --resume "$T/run.ckpt" --epochs 4 --save "$T/run4.ckpt"
    expect_rc 0
    out_has "resumed from $T/run.ckpt after epoch 2 (step 40)"
    [ "$(json_field processes)" = 4 ] || fail "the JSON summary does not say 4 processes"
    [ "$(count 'epoch   3/4' "$T/out")" = 1 ] || fail "epoch 3 is not reported exactly once"
    run train --data spiral --resume "$T/run4.ckpt" --epochs 5
    expect_rc 0
    out_has "after epoch 4 (step 80)"
    [ "$(json_field steps)" = 100 ] || fail "the resumed run did not end at step 100"
    resumed=$(json_field test_loss)
    run train "${local_args[@]}" --epochs 5
    expect_rc 0
    alone=$(json_field test_loss)
    awk -v a="$resumed" -v b="$alone" 'BEGIN { d = (a - b) / b; exit !(d < 1e-4 && d > -1e-4) }' ||
      fail "resumed across 2, 4 and 1 processes: test loss $resumed, one process all along: $alone"
    ;;

  mismatched_config)
    # Two processes of one run, started with different learning rates.
    LAST_CMD="mpirun -np 1 slope train --lr 0.01 : -np 1 slope train --lr 0.02"
    timeout 120 "$MPIEXEC" --oversubscribe -np 1 "$SLOPE" train "${SPIRAL[@]}" --lr 0.01 --save "$T/run.ckpt" : \
      -np 1 "$SLOPE" train "${SPIRAL[@]}" --lr 0.02 --save "$T/run.ckpt" >"$T/out" 2>"$T/err"
    RC=$?
    [ "$RC" -ne 0 ] || fail "a run of mismatched processes succeeded"
    [ "$RC" -ne 124 ] || fail "the mismatched processes hung"
    err_has "the processes' configuration differ"
    out_lacks "epoch   1/"
    [ ! -e "$T/run.ckpt" ] || fail "a checkpoint was written"
    ;;

  killed_rank)
    # A long run saving every epoch; rank 1 is killed once a checkpoint exists.
    LAST_CMD="mpirun -np 2 slope train --epochs 100000 --save run.ckpt; kill -9 rank 1"
    "$MPIEXEC" --oversubscribe -np 2 "$SLOPE" train "${SPIRAL[@]}" --epochs 100000 --save "$T/run.ckpt" \
      >"$T/out" 2>"$T/err" &
    launcher=$!
    for _ in $(seq 600); do [ -f "$T/run.ckpt" ] && break; sleep 0.1; done
    [ -f "$T/run.ckpt" ] || { kill -9 "$launcher"; fail "no checkpoint within 60 s"; }
    # Rank 1: the slope process whose environment says so.
    victim=
    for pid in $(pgrep -f -- "--save $T/run.ckpt"); do
      [ "$pid" = "$launcher" ] && continue
      tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1' && victim=$pid
    done
    [ -n "$victim" ] || { kill -9 "$launcher"; fail "rank 1 not found"; }
    kill -9 "$victim"
    # The others must end by themselves, promptly (the test's timeout bounds it).
    wait "$launcher"
    RC=$?
    [ "$RC" -ne 0 ] || fail "the run survived a killed rank with status 0"
    if pgrep -f -- "--save $T/run.ckpt" >/dev/null; then fail "processes of the run are still alive"; fi
    run eval --data spiral --checkpoint "$T/run.ckpt"
    expect_rc 0
    ls "$T" | grep -q '\.tmp' && fail "a temporary checkpoint file was left behind"
    ;;

  diverging_run)
    mpi 2 train "${SPIRAL[@]}" --epochs 2 --save "$T/run.ckpt"
    expect_rc 0
    cp "$T/run.ckpt" "$T/good.ckpt"
    mpi 2 train "${SPIRAL[@]}" --optimizer sgd --lr 1e10 --epochs 5 --batch 32 --save "$T/run.ckpt"
    [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] || fail "expected a non-zero status without a hang"
    err_has "the run is diverging"
    cmp -s "$T/run.ckpt" "$T/good.ckpt" || fail "the diverging run changed the checkpoint"
    ;;

  *)
    echo "FAIL [$CASE]: unknown case"
    exit 1
    ;;
esac
echo "ok [$CASE]"
