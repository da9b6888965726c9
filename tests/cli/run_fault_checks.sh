#!/usr/bin/env bash
# Fault checks of the slope program, one case per CTest (tests/register_faults.cmake):
#   run_fault_checks.sh /path/to/slope CASE
# Where run_cli_checks.sh checks exit statuses and messages, these cases also
# check what a failure must not do: overwrite the last good checkpoint, or
# leave any file behind. Exit statuses: 0 success, 1 a run-time failure (a
# diverging loss, a corrupt file), 2 a bad command line. Everything runs on
# the spiral in a fresh temporary directory that is removed afterwards.
set -u

SLOPE=${1:?usage: run_fault_checks.sh SLOPE CASE}
CASE=${2:?usage: run_fault_checks.sh SLOPE CASE}

T=$(mktemp -d "${TMPDIR:-/tmp}/slope-fault-XXXXXX")
trap 'rm -rf "$T"' EXIT

# run, fail, expect_rc, out_has, err_has, out_lacks, err_matches
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The files in $T (and below) other than the captured out/err and KEEP...
written() {
  local keep=("$@")
  (cd "$T" && find . -mindepth 1 ! -name out ! -name err | sed 's|^\./||' | sort) |
    while read -r f; do
      local k skip=
      for k in "${keep[@]}"; do [ "$f" = "$k" ] && skip=1; done
      [ -n "$skip" ] || echo "$f"
    done
}
# expect_nothing_written KEEP...: no file appeared in $T beyond KEEP.
expect_nothing_written() {
  local extra
  extra=$(written "$@")
  [ -z "$extra" ] || fail "files were written: $extra"
}

# expect_usage_error WORD ARGS...: exit status 2, stderr naming WORD, no epoch run.
expect_usage_error() {
  local word=$1; shift
  run "$@"
  expect_rc 2
  err_has "$word"
  out_lacks "epoch "
}

SPIRAL=(--data spiral)

case "$CASE" in
  diverging_keeps_checkpoint)
    # A good run saves X; a diverging run pointed at the same X must fail
    # (exit 1, naming the step, NaN or Inf, and divergence) and leave X as it
    # was. With --batch 32 (23 steps per epoch) the loss of SGD at lr 1e10
    # overflows within the first epoch, before the first end-of-epoch save.
    run train "${SPIRAL[@]}" --epochs 2 --seed 4 --save "$T/X.ckpt"
    expect_rc 0
    [ -f "$T/X.ckpt" ] || fail "the good run wrote no checkpoint"
    cp "$T/X.ckpt" "$T/good.ckpt"
    run train "${SPIRAL[@]}" --optimizer sgd --lr 1e10 --epochs 5 --batch 32 --save "$T/X.ckpt"
    expect_rc 1
    err_matches 'step [0-9]+'
    err_matches '(^|[^a-z])-?(nan|inf)([^a-z]|$)'
    err_matches 'forward of [a-z_]+ produced'   # the first op at fault
    err_has "the run is diverging"
    err_has "learning rate"
    out_lacks "test_accuracy"
    out_lacks "epoch   1/5"
    cmp -s "$T/X.ckpt" "$T/good.ckpt" || fail "the diverging run changed the checkpoint at X"
    expect_nothing_written X.ckpt good.ckpt
    run eval "${SPIRAL[@]}" --checkpoint "$T/X.ckpt"
    expect_rc 0
    ;;

  diverging_after_an_epoch)
    # The same run at the default batch 256 (3 steps per epoch): the loss is
    # still finite (about 1e18) at the end of epoch 1, so that epoch is saved;
    # the NaN comes at step 5, in epoch 2. What holds: exit 1 naming the step,
    # NaN/Inf and divergence, and X is a complete checkpoint that loads.
    run train "${SPIRAL[@]}" --epochs 2 --seed 4 --save "$T/X.ckpt"
    expect_rc 0
    run train "${SPIRAL[@]}" --optimizer sgd --lr 1e10 --epochs 5 --save "$T/X.ckpt"
    expect_rc 1
    err_matches 'step [0-9]+'
    err_matches '(^|[^a-z])-?(nan|inf)([^a-z]|$)'
    err_has "the run is diverging"
    expect_nothing_written X.ckpt
    run eval "${SPIRAL[@]}" --checkpoint "$T/X.ckpt"
    expect_rc 0
    ;;

  overflowing_update)
    # lr 1e39 is a finite double but Inf as the float the update uses: the loss
    # of step 1 is finite, and the update turns the weights to Inf or NaN. The
    # run must stop at that step, before the end-of-epoch save (one step per
    # epoch here) could write those weights over the good checkpoint.
    run train "${SPIRAL[@]}" --epochs 1 --batch 720 --save "$T/X.ckpt"
    expect_rc 0
    cp "$T/X.ckpt" "$T/good.ckpt"
    run train "${SPIRAL[@]}" --optimizer sgd --lr 1e39 --batch 720 --schedule constant \
      --warmup-epochs 0 --epochs 3 --save "$T/X.ckpt"
    expect_rc 1
    err_has "step 1: the sgd update left"
    err_matches '(^|[^a-z])(nan|inf)([^a-z]|$)'
    err_has "the run is diverging"
    out_lacks "epoch   1/3"
    cmp -s "$T/X.ckpt" "$T/good.ckpt" || fail "the diverging run changed the checkpoint at X"
    expect_nothing_written X.ckpt good.ckpt
    run eval "${SPIRAL[@]}" --checkpoint "$T/X.ckpt"
    expect_rc 0
    ;;

  bad_values_write_nothing)
    out=(--epochs 1 --save "$T/s.ckpt" --metrics "$T/m.jsonl" --export "$T")
    expect_usage_error "--lr must be finite and >= 0: got -0.001" train "${SPIRAL[@]}" --lr -0.001 "${out[@]}"
    expect_usage_error "--batch must be in [1, 16777216]: got 0" train "${SPIRAL[@]}" --batch 0 "${out[@]}"
    expect_usage_error "--optimizer must be one of" train "${SPIRAL[@]}" --optimizer lion "${out[@]}"
    err_has "lion"
    expect_usage_error "--hidden" train "${SPIRAL[@]}" --hidden 0 "${out[@]}"
    expect_usage_error "--hidden" train "${SPIRAL[@]}" --model mlp --hidden 8,0 "${out[@]}"
    expect_nothing_written
    ;;

  missing_data_dir_writes_nothing)
    expect_usage_error "--data-dir: '$T/absent' is not a directory" \
      train --data mnist --data-dir "$T/absent" --epochs 1 --save "$T/s.ckpt" --metrics "$T/m.jsonl"
    expect_usage_error "--data-dir: '$T/absent' is not a directory" \
      train --data cifar10 --data-dir "$T/absent" --epochs 1 --save "$T/s.ckpt"
    expect_nothing_written
    ;;

  unwritable_paths)
    # As root, permission bits do not stop writes; a path under a regular FILE
    # cannot be created by anyone.
    echo "a regular file" >"$T/FILE"
    expect_usage_error "--save" train "${SPIRAL[@]}" --epochs 1 --save "$T/FILE/x.ckpt"
    err_has "$T/FILE"
    expect_usage_error "--metrics" train "${SPIRAL[@]}" --epochs 1 --metrics "$T/FILE/m.jsonl"
    err_has "$T/FILE"
    # A directory where the output file should go.
    mkdir "$T/dir"
    expect_usage_error "--save: '$T/dir' is a directory" train "${SPIRAL[@]}" --epochs 1 --save "$T/dir"
    expect_usage_error "--metrics: '$T/dir' is a directory" train "${SPIRAL[@]}" --epochs 1 --metrics "$T/dir"
    [ "$(cat "$T/FILE")" = "a regular file" ] || fail "FILE was changed"
    [ -z "$(ls -A "$T/dir")" ] || fail "files were written into dir: $(ls -A "$T/dir")"
    expect_nothing_written FILE dir
    ;;

  fifo_checkpoint)
    # A FIFO with no writer: open(2) would block forever without O_NONBLOCK.
    mkfifo "$T/fifo.ckpt"
    # Refused as a path that cannot be used (exit 2), before anything is opened.
    run eval "${SPIRAL[@]}" --checkpoint "$T/fifo.ckpt"
    [ "$RC" -ne 124 ] || fail "slope eval blocked on a FIFO"
    expect_rc 2
    err_has "--checkpoint: '$T/fifo.ckpt' is not a regular file"
    run train "${SPIRAL[@]}" --resume "$T/fifo.ckpt"
    [ "$RC" -ne 124 ] || fail "slope train --resume blocked on a FIFO"
    expect_rc 2
    err_has "--resume: '$T/fifo.ckpt' is not a regular file"
    ;;

  out_of_memory)
    # 2^40 weights (4 TiB): the allocation fails; the message says what happened
    # in words, not as std::bad_alloc, and nothing is written.
    run train "${SPIRAL[@]}" --model mlp --hidden 1048576,1048576 --epochs 1 --save "$T/x.ckpt"
    expect_rc 1
    err_has "error: out of memory (a model or data set too large for this machine?)"
    ! grep -q "bad_alloc" "$T/err" || fail "stderr names std::bad_alloc"
    expect_nothing_written
    ;;

  *)
    echo "unknown case '$CASE'"
    exit 1
    ;;
esac
echo "ok [$CASE]"
exit 0
