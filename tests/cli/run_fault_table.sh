#!/usr/bin/env bash
# The output fault table of the slope program, one fault per CTest
# (tests/register_faults.cmake, "fault table: ..."):
#   run_fault_table.sh /path/to/slope FAULT
# For FAULT, every command and output option of the table below is run with
# its output pointed at the fault; each run must end with the expected exit
# status and message, must not block, and must leave every file the user
# already had byte for byte as it was, with no temporary file left behind.
#
#   row               command and the option under test
#   train_save        train --save FILE
#   train_metrics     train --metrics FILE
#   train_export_dir  train --export DIR            (one .npy per parameter)
#   train_export_st   train --export FILE.safetensors
#   eval_export_dir   eval --checkpoint ... --export DIR
#   eval_export_st    eval --weights ... --export FILE.safetensors
#   plot_curves       plot curves ... --out FILE
#   plot_templates    plot templates ... --out FILE
#   plot_histogram    plot histogram ... --out FILE
#
#   fault          where the output goes                         expected
#   same_file      the file another option names (a symlink, a   2, "name the same file" /
#                  dangling symlink, a hard link, an input,       "is also an input file" /
#                  a file inside the --export directory)          "would write"
#   device         a character device node (made here)           2, not a regular file / directory
#   fifo           a FIFO without a reader                       2, and no hang
#   directory      a directory (for DIR: one where a .npy goes)  2, "is a directory" / not regular
#   readonly       a read-only directory (a read-only bind       2, "not writable"
#                  mount as root: root ignores mode bits)
#   no_space       a full file system (a tiny tmpfs)             1, the path and "No space left"
#   file_size      a write over the file size limit (ulimit -f)  1, the path and "File too large"
#   closed_stdout  stdout closed (>&-); stderr closed (2>&-)     1 "cannot write to standard
#                                                                output"; 2 for a usage error
#   full_stdout    stdout on /dev/full                           1 "cannot write to standard output"
# The faults that need a mount (readonly, no_space) need root, as in CI.
set -u

SLOPE=${1:?usage: run_fault_table.sh SLOPE FAULT}
CASE=${2:?usage: run_fault_table.sh SLOPE FAULT}

T=$(mktemp -d "${TMPDIR:-/tmp}/slope-table-XXXXXX")
MOUNTS=()
cleanup() {
  local m
  for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
  chattr -R -i "$T" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

# run, fail, expect_rc, out_has, err_has, out_lacks, err_matches
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROWS=(train_save train_metrics train_export_dir train_export_st eval_export_dir eval_export_st
      plot_curves plot_templates plot_histogram)
TRAIN=(train --data spiral --epochs 1 --hidden 200 --threads 1)

# ---- the user's files -------------------------------------------------------------
# A checkpoint, an exported model, a metrics file and a weight matrix: inputs
# of the rows, and files that no fault may change.
U=$T/user
mkdir "$U"
run "${TRAIN[@]}" --save "$U/good.ckpt" --export "$U/m.safetensors" --metrics "$U/m.jsonl"
expect_rc 0
# 784 x 3 uniform random weights: templates that do not compress, so the PNG
# is tens of KiB.
/usr/bin/python3 -c 'import numpy as np, sys; np.save(sys.argv[1], np.random.default_rng(0).random((784, 3), np.float32))' \
  "$U/w.npy" || fail "/usr/bin/python3 with numpy is required (apt-get install python3-numpy)"
snapshot() { (cd "$U" && find . -type f -exec sha256sum {} + | sort -k2); }
BEFORE=$(snapshot)

# The checks after every run: the user's files as they were, no temp files anywhere.
expect_no_damage() {
  [ "$(snapshot)" = "$BEFORE" ] || fail "the user's files changed: $(diff <(echo "$BEFORE") <(snapshot))"
  local debris
  debris=$(find "$T" -name '*.tmp-*' 2>/dev/null)
  [ -z "$debris" ] || fail "temporary files were left: $debris"
}

# row_kind ROW: "dir" for the rows that write a directory of .npy files, else "file".
row_kind() { case "$1" in *_dir) echo dir ;; *) echo file ;; esac; }
# row_ext ROW: the extension a file target needs (it picks safetensors over .npy).
row_ext() {
  case "$1" in
    train_save) echo .ckpt ;; train_metrics) echo .jsonl ;; *_st) echo .safetensors ;;
    plot_curves | plot_histogram) echo .svg ;; plot_templates) echo .png ;; *) echo "" ;;
  esac
}
# row_cmd ROW TARGET [EXTRA...]: sets CMD to the row's command writing to TARGET.
row_cmd() {
  local row=$1 target=$2
  shift 2
  case "$row" in
    train_save) CMD=("${TRAIN[@]}" "$@" --save "$target") ;;
    train_metrics) CMD=("${TRAIN[@]}" --epochs 6 "$@" --metrics "$target") ;;
    train_export_dir | train_export_st) CMD=("${TRAIN[@]}" "$@" --export "$target") ;;
    eval_export_dir) CMD=(eval --data spiral --threads 1 --checkpoint "$U/good.ckpt" "$@" --export "$target") ;;
    eval_export_st) CMD=(eval --data spiral --threads 1 --weights "$U/m.safetensors" "$@" --export "$target") ;;
    plot_curves) CMD=(plot curves "$U/m.jsonl" --y data_loss "$@" --out "$target") ;;
    plot_templates) CMD=(plot templates "$U/w.npy" "$@" --out "$target") ;;
    plot_histogram) CMD=(plot histogram "$U/w.npy" "$@" --out "$target") ;;
  esac
}

# A fresh directory per run, so that each run starts from the same files.
fresh() {
  W=$T/w$1
  mkdir -p "$W"
}

# usage_error WORD: exit 2 naming WORD, no hang, no epoch run.
usage_error() {
  [ "$RC" -ne 124 ] || fail "slope blocked"
  expect_rc 2
  err_has "$1"
  out_lacks "epoch "
}

# A read-only directory even for root: a read-only bind mount, else an
# immutable directory, else (not root) mode bits.
make_readonly() {
  local d=$1
  mkdir -p "$d"
  if [ "$(id -u)" -ne 0 ]; then chmod a-w "$d"; return; fi
  if mount --bind "$d" "$d" 2>/dev/null && mount -o remount,bind,ro "$d" 2>/dev/null; then
    MOUNTS+=("$d")
    return
  fi
  chattr +i "$d" 2>/dev/null || fail "cannot make a read-only directory as root (no mount, no chattr)"
}

# A file system with no free block left: a 512 KiB tmpfs, filled up.
make_full() {
  local d=$1
  mkdir -p "$d"
  [ "$(id -u)" -eq 0 ] || fail "the no_space fault needs root to mount a tmpfs"
  mount -t tmpfs -o size=512k tmpfs "$d" || fail "cannot mount a tmpfs on $d"
  MOUNTS+=("$d")
}
fill_up() { dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null; : ; }

n=0
for row in "${ROWS[@]}"; do
  n=$((n + 1))
  kind=$(row_kind "$row")
  ext=$(row_ext "$row")
  fresh "$n"
  case "$CASE" in
    same_file)
      case "$row" in
        train_save)  # a symlink to the checkpoint being resumed
          ln -s "$U/good.ckpt" "$W/link.ckpt"
          row_cmd "$row" "$W/link.ckpt" --resume "$U/good.ckpt"; run "${CMD[@]}"
          usage_error "--resume and --save name the same file" ;;
        train_metrics)  # a hard link to it
          ln "$U/good.ckpt" "$W/hard.ckpt"
          row_cmd "$row" "$W/hard.ckpt" --resume "$U/good.ckpt"; run "${CMD[@]}"
          usage_error "--resume and --metrics name the same file"
          rm "$W/hard.ckpt" ;;
        train_export_st)  # a dangling symlink to the file --save will create
          ln -s "$W/new.safetensors" "$W/dangling.safetensors"
          row_cmd "$row" "$W/dangling.safetensors" --save "$W/new.safetensors"; run "${CMD[@]}"
          usage_error "--save and --export name the same file"
          [ ! -e "$W/new.safetensors" ] || fail "a file was written" ;;
        train_export_dir)  # --save names one of the .npy files --export writes
          row_cmd "$row" "$W" --save "$W/layers.0.W.npy"; run "${CMD[@]}"
          usage_error "--export would write '$W/layers.0.W.npy', the file --save names"
          [ ! -e "$W/layers.0.W.npy" ] || fail "a file was written" ;;
        eval_export_dir)  # the checkpoint read sits where a .npy would go
          cp "$U/good.ckpt" "$W/layers.2.b.npy"
          CMD=(eval --data spiral --threads 1 --checkpoint "$W/layers.2.b.npy" --export "$W"); run "${CMD[@]}"
          usage_error "the file --checkpoint names"
          cmp -s "$U/good.ckpt" "$W/layers.2.b.npy" || fail "the checkpoint was overwritten" ;;
        eval_export_st)  # a symlink to the model read
          ln -s "$U/m.safetensors" "$W/link.safetensors"
          row_cmd "$row" "$W/link.safetensors"; run "${CMD[@]}"
          usage_error "--weights and --export name the same file" ;;
        plot_curves)  # a hard link to the metrics read
          ln "$U/m.jsonl" "$W/hard.jsonl"
          row_cmd "$row" "$W/hard.jsonl"; run "${CMD[@]}"
          usage_error "is also an input file"
          rm "$W/hard.jsonl" ;;
        plot_templates)  # a symlink to the weights read
          ln -s "$U/w.npy" "$W/link.npy"
          row_cmd "$row" "$W/link.npy"; run "${CMD[@]}"
          usage_error "is also an input file" ;;
        plot_histogram)  # the input itself
          row_cmd "$row" "$U/w.npy"; run "${CMD[@]}"
          usage_error "is also an input file" ;;
      esac ;;

    device)  # a private /dev/full: writes to it would fail, and it must stay a device
      mknod "$W/dev$ext" c 1 7 || fail "mknod failed"
      row_cmd "$row" "$W/dev$ext"; run "${CMD[@]}"
      if [ "$kind" = dir ]; then usage_error "is not a directory"; else usage_error "is not a regular file"; fi
      [ -c "$W/dev$ext" ] || fail "the device node was replaced" ;;

    fifo)
      mkfifo "$W/fifo$ext"
      row_cmd "$row" "$W/fifo$ext"; run "${CMD[@]}"
      if [ "$kind" = dir ]; then usage_error "is not a directory"; else usage_error "is not a regular file"; fi
      [ -p "$W/fifo$ext" ] || fail "the FIFO was replaced" ;;

    directory)
      if [ "$kind" = dir ]; then  # a directory where one of the .npy files goes
        mkdir "$W/layers.0.W.npy"
        row_cmd "$row" "$W"; run "${CMD[@]}"
        usage_error "'$W/layers.0.W.npy' exists and is not a regular file"
      else
        mkdir "$W/dir$ext"
        row_cmd "$row" "$W/dir$ext"; run "${CMD[@]}"
        usage_error "'$W/dir$ext' is a directory"
      fi ;;

    readonly)
      make_readonly "$W/ro"
      if [ "$kind" = dir ]; then
        row_cmd "$row" "$W/ro"; run "${CMD[@]}"
        usage_error "'$W/ro' is not writable"
      else
        row_cmd "$row" "$W/ro/out$ext"; run "${CMD[@]}"
        usage_error "directory '$W/ro' is not writable"
      fi
      [ -z "$(ls -A "$W/ro")" ] || fail "files appeared in the read-only directory" ;;

    no_space)
      make_full "$W/full"
      if [ "$kind" = dir ]; then
        target=$W/full; file=$W/full/layers.0.W.npy
      else
        target=$W/full/out$ext; file=$target
      fi
      # An older version of the output, which must survive (the metrics file is
      # a log, rewritten from the start: it has none).
      [ "$row" = train_metrics ] || echo "the previous version" >"$file"
      fill_up "$W/full"
      row_cmd "$row" "$target"; run "${CMD[@]}"
      expect_rc 1
      err_has "$file: cannot"
      err_has "No space left on device"
      if [ "$row" != train_metrics ]; then
        [ "$(cat "$file")" = "the previous version" ] || fail "the previous $file was damaged"
      fi ;;

    file_size)
      if [ "$kind" = dir ]; then target=$W; file=$W/layers.0.W.npy; else target=$W/out$ext; file=$target; fi
      [ "$row" = train_metrics ] || echo "the previous version" >"$file"
      row_cmd "$row" "$target"
      # The limit (1 KiB) binds slope only; its output goes through a pipe.
      LAST_CMD="(ulimit -f 1; slope ${CMD[*]})"
      timeout 60 bash -c 'ulimit -f 1 && exec "$@"' _ "$SLOPE" "${CMD[@]}" 2>"$T/err" | cat >"$T/out"
      RC=${PIPESTATUS[0]}
      [ "$RC" -ne 153 ] || fail "slope was killed by SIGXFSZ"
      expect_rc 1
      err_has "$file: cannot"
      err_has "File too large"
      if [ "$row" != train_metrics ]; then
        [ "$(cat "$file")" = "the previous version" ] || fail "the previous $file was damaged"
      fi ;;

    closed_stdout)
      if [ "$kind" = dir ]; then target=$W; else target=$W/out$ext; fi
      row_cmd "$row" "$target"
      LAST_CMD="slope ${CMD[*]} >&-"
      timeout 60 "$SLOPE" "${CMD[@]}" >&- 2>"$T/err"
      RC=$?
      : >"$T/out"
      expect_rc 1
      err_has "cannot write to standard output"
      [ -z "$(ls -A "$W")" ] || fail "files were written with stdout closed: $(ls -A "$W")"
      # stderr closed too, on a usage error: still exit 2, no crash (abort is 134).
      row_cmd "$row" "$target" --bogus 1
      LAST_CMD="slope ${CMD[*]} 2>&-"
      timeout 60 "$SLOPE" "${CMD[@]}" >"$T/out" 2>&-
      RC=$?
      expect_rc 2 ;;

    full_stdout)
      if [ "$kind" = dir ]; then target=$W; else target=$W/out$ext; fi
      row_cmd "$row" "$target"
      LAST_CMD="slope ${CMD[*]} >/dev/full"
      timeout 60 "$SLOPE" "${CMD[@]}" >/dev/full 2>"$T/err"
      RC=$?
      : >"$T/out"
      expect_rc 1
      err_has "cannot write to standard output"
      err_has "No space left on device" ;;

    *)
      echo "unknown fault '$CASE'"
      exit 1 ;;
  esac
  expect_no_damage
  echo "ok [$CASE: $row]"
done
echo "ok [$CASE]"
exit 0
