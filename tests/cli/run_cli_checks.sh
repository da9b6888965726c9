#!/usr/bin/env bash
# Checks of the slope program, one case per CTest (tests/register_cli.cmake):
#   run_cli_checks.sh /path/to/slope CASE [ARG]
# Each case checks exit codes AND messages; it prints what it saw and exits 1
# on the first failed expectation. Everything runs on the spiral (no files
# needed) in a fresh temporary directory that is removed afterwards.
set -u

SLOPE=${1:?usage: run_cli_checks.sh SLOPE CASE [ARG]}
CASE=${2:?usage: run_cli_checks.sh SLOPE CASE [ARG]}
ARG=${3:-}

T=$(mktemp -d "${TMPDIR:-/tmp}/slope-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT

# run, fail, expect_rc, out_has, err_has, out_lacks, err_matches, expect_usage_error, require_numpy
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_numpy

# json_last PYTHON_CONDITION: the last stdout line parses as one JSON object
# `d` for which the condition holds.
json_last() {
  local line
  line=$(tail -n 1 "$T/out")
  "$PY" - "$line" "$1" <<'EOF' || fail "last stdout line is not the expected JSON: $line"
import json, math, sys
d = json.loads(sys.argv[1])
assert isinstance(d, dict), "not an object"
ok = eval("(" + sys.argv[2] + ")", {"math": math}, {"d": d})
if not ok:
    print("condition failed:", sys.argv[2])
    sys.exit(1)
EOF
}

# is_npy FILE: starts with the magic bytes \x93NUMPY.
is_npy() {
  [ -f "$1" ] || fail "missing file $1"
  [ "$(head -c 6 "$1" | od -An -tx1 | tr -d ' \n')" = "934e554d5059" ] || fail "$1 lacks the .npy magic"
}

SPIRAL=(--data spiral)

case "$CASE" in
  help)  # slope --help, and slope CMD --help for CMD in ARG
    if [ -z "$ARG" ]; then
      run --help; expect_rc 0
      out_has "usage: slope COMMAND"
      for c in train eval search knn gradcheck; do out_has "  $c "; done
      run help; expect_rc 0; out_has "usage: slope COMMAND"
    else
      run "$ARG" --help; expect_rc 0
      out_has "usage: slope $ARG [options]"
      out_has "--help"
      [ ! -s "$T/err" ] || fail "help wrote to stderr"
      case "$ARG" in
        train) out_has "--lr X"; out_has "--save FILE"; out_has "--metrics FILE"; out_has "(default: adamw)"
               # the models and activations, from their tables
               out_has "Models: linear, two-layer, mlp, residual."
               out_has "--model X                  the model: linear, two-layer, mlp, residual (default: two-layer)"
               out_has "--activation X             after every hidden layer: relu, tanh, sigmoid, gelu (default: relu)"
               out_has "--blocks X"; out_has "--dropout X"; out_has "--hidden X"
               out_has "--export PATH" ;;
        eval) out_has "--checkpoint FILE"; out_has "--weights FILE" ;;
        search) out_has "--trials N" ;;
        knn) out_has "--k LIST" ;;
        gradcheck) out_has "--examples N" ;;
      esac
    fi
    ;;

  no_command)
    run; expect_rc 2; out_has "usage: slope COMMAND"
    run frobnicate; expect_rc 2; err_has "frobnicate"
    ;;

  unknown_option)
    for c in train eval search knn gradcheck; do
      expect_usage_error "unknown option '--bogus'" "$c" --bogus 3
    done
    expect_usage_error "unexpected argument 'spiral'" train --data spiral spiral
    expect_usage_error "--lr needs a value" train "${SPIRAL[@]}" --lr
    ;;

  bad_lr)
    expect_usage_error "--lr must be finite and >= 0: got -1" train "${SPIRAL[@]}" --lr -1
    expect_usage_error "--lr" train "${SPIRAL[@]}" --lr fast
    err_has "fast"
    expect_usage_error "--lr" train "${SPIRAL[@]}" --lr=-0.5
    ;;

  bad_batch)
    expect_usage_error "--batch must be in [1, 16777216]: got 0" train "${SPIRAL[@]}" --batch 0
    expect_usage_error "--batch" train "${SPIRAL[@]}" --batch -4
    ;;

  bad_optimizer)
    expect_usage_error "--optimizer must be one of" train "${SPIRAL[@]}" --optimizer foo
    err_has "got 'foo'"
    ;;

  bad_hidden)
    expect_usage_error "--hidden" train "${SPIRAL[@]}" --hidden 0
    expect_usage_error "--hidden" train "${SPIRAL[@]}" --model mlp --hidden 16,0
    ;;

  bad_other_values)
    expect_usage_error "--model" train "${SPIRAL[@]}" --model cnn
    expect_usage_error "--loss" train "${SPIRAL[@]}" --loss hinge
    expect_usage_error "--weight-decay" train "${SPIRAL[@]}" --weight-decay -1
    expect_usage_error "--epochs" train "${SPIRAL[@]}" --epochs 0
    expect_usage_error "--threads" train "${SPIRAL[@]}" --threads 0
    # Integers past 64 bits or past their caps: named, never wrapped around.
    expect_usage_error "--threads: expected an integer in [1, 256], got '99999999999999999999'" \
      train "${SPIRAL[@]}" --threads 99999999999999999999
    expect_usage_error "--epochs: epochs: expected an integer that fits in 64 bits" train "${SPIRAL[@]}" --epochs 99999999999999999999
    expect_usage_error "--epochs must be in [1, 1000000]: got 18446744073709551615" \
      train "${SPIRAL[@]}" --epochs 18446744073709551615
    expect_usage_error "--lr: lr: expected a finite number, got 'inf'" train "${SPIRAL[@]}" --lr inf
    expect_usage_error "--min-lr must be finite, >= 0 and at most lr" train "${SPIRAL[@]}" --lr 1e-3 --min-lr 1e-2
    expect_usage_error "--warmup-epochs" train "${SPIRAL[@]}" --warmup-epochs 1e308
    expect_usage_error "--center" train "${SPIRAL[@]}" --center maybe
    expect_usage_error "--data: unknown data set 'imagenet'" train --data imagenet --data-dir "$T"
    expect_usage_error "--val-size" train "${SPIRAL[@]}" --val-size 900
    ;;

  missing_data_dir)
    for c in train search knn gradcheck; do
      expect_usage_error "/nonexistent" "$c" --data-dir /nonexistent
      out_lacks "epoch"
    done
    expect_usage_error "--data mnist needs --data-dir" train --data mnist
    ;;

  unwritable_outputs)
    expect_usage_error "--save" train "${SPIRAL[@]}" --epochs 1 --save /nonexistent/dir/x.ckpt
    err_has "/nonexistent/dir"
    out_lacks "epoch"
    [ ! -e /nonexistent/dir/x.ckpt ] || fail "a checkpoint was written"
    expect_usage_error "--save" train "${SPIRAL[@]}" --epochs 1 --save "$T/missing/x.ckpt"
    expect_usage_error "--metrics" train "${SPIRAL[@]}" --epochs 1 --metrics "$T/missing/m.jsonl"
    expect_usage_error "--export" train "${SPIRAL[@]}" --epochs 1 --export "$T/missing"
    expect_usage_error "--resume" train "${SPIRAL[@]}" --resume "$T/missing.ckpt"
    [ -z "$(ls -A "$T" | grep -v -e '^out$' -e '^err$')" ] || fail "files were written: $(ls -A "$T")"
    ;;

  train_spiral)
    run train "${SPIRAL[@]}" --epochs 3 --val-size 100 --seed 1 --batch 128
    expect_rc 0
    [ ! -s "$T/err" ] || fail "stderr is not empty off a terminal"
    out_has "slope train: spiral (800 train / 100 val / 300 test)"
    [ "$(grep -c '^epoch ' "$T/out")" -eq 3 ] || fail "expected 3 epoch lines"
    out_has "epoch   3/3"
    out_has "test accuracy"
    json_last 'd["command"] == "train" and d["dataset"] == "spiral" and 0 <= d["test_accuracy"] <= 1
               and 0 <= d["val_accuracy"] <= 1 and d["epochs"] == 3 and d["steps"] == 3 * 7
               and d["test_loss"] > 0 and d["seconds"] >= 0 and d["settings"]["epochs"] == 3
               and d["settings"]["val_size"] == 100 and d["settings"]["optimizer"] == "adamw"
               and d["settings"]["seed"] == 1'
    ;;

  train_spiral_learns)
    run train "${SPIRAL[@]}" --epochs 20 --lr 0.01 --batch 32 --hidden 100 --warmup-epochs 0 --threads 1
    expect_rc 0
    json_last 'd["test_accuracy"] >= 0.9 and d["val_accuracy"] >= 0.9'
    run train "${SPIRAL[@]}" --model linear --epochs 20 --lr 0.01 --batch 32 --warmup-epochs 0
    expect_rc 0
    json_last 'd["test_accuracy"] <= 0.65 and d["settings"]["model"] == "linear"'
    ;;

  metrics)
    run train "${SPIRAL[@]}" --epochs 3 --metrics "$T/m.jsonl"
    expect_rc 0
    [ -f "$T/m.jsonl" ] || fail "no metrics file"
    [ "$(wc -l <"$T/m.jsonl")" -eq 3 ] || fail "expected 3 metrics lines, got $(wc -l <"$T/m.jsonl")"
    "$PY" - "$T/m.jsonl" <<'EOF' || fail "metrics lines are not the expected JSON: $(cat "$T/m.jsonl")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
for i, line in enumerate(lines, 1):
    d = json.loads(line)
    assert d["epoch"] == i, d
    for k in ("data_loss", "reg_loss", "train_accuracy", "val_accuracy", "val_loss", "lr",
              "seconds", "examples_per_second"):
        assert isinstance(d[k], (int, float)), (k, d)
    assert 0 <= d["val_accuracy"] <= 1
EOF
    ;;

  save_eval_resume)
    common=("${SPIRAL[@]}" --hidden 64 --schedule constant --warmup-epochs 0 --seed 3)
    mkdir "$T/straight" "$T/resumed"
    run train "${common[@]}" --epochs 4 --export "$T/straight"
    expect_rc 0
    straight_json=$(tail -n 1 "$T/out")

    run train "${common[@]}" --epochs 2 --save "$T/run.ckpt"
    expect_rc 0
    [ -f "$T/run.ckpt" ] || fail "no checkpoint written"
    half_json=$(tail -n 1 "$T/out")
    ls "$T" | grep -v -e '^run.ckpt$' -e '^out$' -e '^err$' -e '^straight$' -e '^resumed$' &&
      fail "a temporary file was left next to the checkpoint"

    run eval "${SPIRAL[@]}" --checkpoint "$T/run.ckpt"
    expect_rc 0
    out_has "test accuracy"
    json_last 'd["command"] == "eval" and d["split"] == "test" and 0 <= d["accuracy"] <= 1'
    # The checkpoint is the model that train tested: the same test accuracy.
    "$PY" -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); sys.exit(a["test_accuracy"] != b["accuracy"])' \
      "$half_json" "$(tail -n 1 "$T/out")" || fail "eval accuracy differs from train's test accuracy"
    run eval "${SPIRAL[@]}" --checkpoint "$T/run.ckpt" --split val
    expect_rc 0
    json_last 'd["split"] == "val"'
    "$PY" -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); sys.exit(a["val_accuracy"] != b["accuracy"])' \
      "$half_json" "$(tail -n 1 "$T/out")" || fail "eval --split val differs from train's validation accuracy"

    run train "${SPIRAL[@]}" --resume "$T/run.ckpt" --epochs 4 --export "$T/resumed"
    expect_rc 0
    out_has "resumed from $T/run.ckpt after epoch 2"
    [ "$(grep -c '^epoch ' "$T/out")" -eq 2 ] || fail "expected 2 more epochs"
    out_has "epoch   3/4"
    json_last 'd["epochs"] == 4 and d["settings"]["hidden"] == 64'
    "$PY" -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); sys.exit(not (a["steps"] == b["steps"] and a["test_accuracy"] == b["test_accuracy"]))' \
      "$straight_json" "$(tail -n 1 "$T/out")" || fail "resumed run's steps or accuracy differ from the straight run"
    for f in layers.0.W layers.0.b layers.2.W layers.2.b; do
      cmp -s "$T/straight/$f.npy" "$T/resumed/$f.npy" || fail "$f.npy differs between the straight and the resumed run"
    done
    ;;

  resume_finished)  # resuming a complete run trains nothing and says so honestly
    run train "${SPIRAL[@]}" --epochs 2 --save "$T/done.ckpt"
    expect_rc 0
    first_json=$(tail -n 1 "$T/out")
    run train "${SPIRAL[@]}" --resume "$T/done.ckpt"
    expect_rc 0
    [ "$(grep -c '^epoch ' "$T/out")" -eq 0 ] || fail "a finished run trained again"
    json_last 'd["epochs"] == 2 and d["train_accuracy"] is None and d["data_loss"] is None'
    "$PY" -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); sys.exit(not (a["val_accuracy"] == b["val_accuracy"] and a["test_accuracy"] == b["test_accuracy"]))' \
      "$first_json" "$(tail -n 1 "$T/out")" || fail "the resumed summary's accuracies differ from the finished run's"
    run train "${SPIRAL[@]}" --epochs 1 --val-size 0 --save "$T/noval.ckpt"
    expect_rc 0
    json_last 'd["val_accuracy"] is None'
    expect_usage_error "no validation split" eval "${SPIRAL[@]}" --checkpoint "$T/noval.ckpt" --split val
    run eval "${SPIRAL[@]}" --checkpoint "$T/noval.ckpt" --split train
    expect_rc 0
    ;;

  eval_errors)
    expect_usage_error "give exactly one of --checkpoint and --weights" eval "${SPIRAL[@]}"
    expect_usage_error "--checkpoint: '$T/none.ckpt' does not exist" eval "${SPIRAL[@]}" --checkpoint "$T/none.ckpt"
    echo "not a checkpoint" >"$T/junk.ckpt"
    expect_usage_error "--split" eval "${SPIRAL[@]}" --checkpoint "$T/junk.ckpt" --split everything
    run eval "${SPIRAL[@]}" --checkpoint "$T/junk.ckpt"
    expect_rc 1
    err_has "$T/junk.ckpt"
    ;;

  export)
    run train "${SPIRAL[@]}" --epochs 1 --model mlp --hidden 8,4 --export "$T"
    expect_rc 0
    for f in layers.0.W layers.0.b layers.2.W layers.2.b layers.4.W layers.4.b; do is_npy "$T/$f.npy"; done
    "$PY" - "$T" <<'EOF' || fail "numpy.load does not read the exported weights"
import sys, numpy as np
d = sys.argv[1]
shapes = {"layers.0.W": (2, 8), "layers.0.b": (8,), "layers.2.W": (8, 4), "layers.2.b": (4,),
          "layers.4.W": (4, 3), "layers.4.b": (3,)}
for name, shape in shapes.items():
    a = np.load(f"{d}/{name}.npy")
    assert a.shape == shape and a.dtype == np.float32, (name, a.shape, a.dtype)
    assert np.isfinite(a).all()
EOF
    ;;

  models)  # every model, and the MLP with each activation, trains on the spiral
    run train "${SPIRAL[@]}" --epochs 2 --model mlp --hidden 16,8 --activation tanh --dropout 0.2,0.1
    expect_rc 0
    out_has "model MLP(layers: Sequential(0: Sequential(0: Linear(2, 16), 1: Tanh()), 1: Dropout(0.2), 2: Sequential(0: Linear(16, 8), 1: Tanh()), 3: Dropout(0.1), 4: Linear(8, 3)))"
    json_last 'd["epochs"] == 2 and d["settings"]["model"] == "mlp" and d["settings"]["hidden"] == "16,8"
               and d["settings"]["activation"] == "tanh" and [float(p) for p in d["settings"]["dropout"].split(",")] == [0.2, 0.1]'
    for a in relu:Linear sigmoid:Sigmoid gelu:GELU; do
      run train "${SPIRAL[@]}" --epochs 1 --model mlp --hidden 8 --activation "${a%%:*}"
      expect_rc 0
      out_has "${a##*:}"
      json_last "d[\"settings\"][\"activation\"] == \"${a%%:*}\""
    done
    run train "${SPIRAL[@]}" --epochs 2 --model residual --hidden 16 --blocks 2 --dropout 0
    expect_rc 0
    out_has "model MLP(layers: Sequential(0: Linear(2, 16, relu), 1: Residual(fn: Linear(16, 16, relu)), 2: Residual(fn: Linear(16, 16, relu)), 3: Linear(16, 3)))"
    json_last 'd["settings"]["model"] == "residual" and d["settings"]["blocks"] == 2'
    run train "${SPIRAL[@]}" --epochs 2 --model linear
    expect_rc 0
    out_has "model LinearClassifier(layers: Sequential(0: Linear(2, 3)))"
    ;;

  bad_model_options)
    expect_usage_error "--activation must be one of relu, tanh, sigmoid, gelu: got 'foo'" \
      train "${SPIRAL[@]}" --model mlp --hidden 8 --activation foo
    expect_usage_error "--dropout must be one value or one per hidden layer (2 for this model): got 0.1,0.2,0.3" \
      train "${SPIRAL[@]}" --model mlp --hidden 16,8 --dropout 0.1,0.2,0.3
    expect_usage_error "--dropout must be one value or one per hidden layer (3 for this model): got 0.1,0.2" \
      train "${SPIRAL[@]}" --model residual --hidden 16 --blocks 2 --dropout 0.1,0.2
    expect_usage_error "--dropout must be in [0, 1): got 1" train "${SPIRAL[@]}" --dropout 1
    expect_usage_error "--dropout" train "${SPIRAL[@]}" --dropout 0.1,,0.2
    expect_usage_error "--blocks must be in [1, 1000]: got 0" train "${SPIRAL[@]}" --model residual --hidden 16 --blocks 0
    expect_usage_error "--blocks" train "${SPIRAL[@]}" --model residual --blocks many
    expect_usage_error "--model must be one of linear, two-layer, mlp, residual: got 'cnn'" train "${SPIRAL[@]}" --model cnn
    out_lacks "epoch"
    ;;

  export_weights)  # --export FILE.safetensors, then eval --weights: the same test accuracy
    for model in "--model mlp --hidden 16,8 --activation tanh --dropout 0.2,0.1" \
                 "--model residual --hidden 16 --blocks 2 --activation gelu" "--model linear"; do
      rm -f "$T/m.safetensors"
      # shellcheck disable=SC2086  # $model is a list of options
      run train "${SPIRAL[@]}" --epochs 3 $model --export "$T/m.safetensors"
      expect_rc 0
      [ -f "$T/m.safetensors" ] || fail "no $T/m.safetensors written"
      trained=$(grep '^test accuracy ' "$T/out" | sed 's/ (loss.*//')
      train_json=$(tail -n 1 "$T/out")
      run eval "${SPIRAL[@]}" --weights "$T/m.safetensors"
      expect_rc 0
      [ "$(grep '^test accuracy ' "$T/out" | sed 's/ (loss.*//')" = "$trained" ] ||
        fail "eval --weights printed '$(grep '^test accuracy ' "$T/out")', train printed '$trained' ($model)"
      "$PY" -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); sys.exit(not (a["test_accuracy"] == b["accuracy"] and a["test_loss"] == b["loss"]))' \
        "$train_json" "$(tail -n 1 "$T/out")" || fail "eval --weights accuracy or loss differs from train's ($model)"
    done
    ;;

  eval_weights_errors)
    run train "${SPIRAL[@]}" --epochs 1 --model mlp --hidden 8 --export "$T/m.safetensors"
    expect_rc 0
    # A state_dict without slope's metadata (eval --export writes the bare state_dict).
    run eval "${SPIRAL[@]}" --weights "$T/m.safetensors" --export "$T/plain.safetensors"
    expect_rc 0
    run eval "${SPIRAL[@]}" --weights "$T/plain.safetensors"
    expect_rc 1
    err_has "$T/plain.safetensors: no 'slope.model' metadata"
    echo "not a safetensors file" >"$T/junk.safetensors"
    run eval "${SPIRAL[@]}" --weights "$T/junk.safetensors"
    expect_rc 1
    err_has "$T/junk.safetensors"
    expect_usage_error "--weights: '$T/none.safetensors' does not exist" eval "${SPIRAL[@]}" --weights "$T/none.safetensors"
    expect_usage_error "--split val needs --checkpoint" eval "${SPIRAL[@]}" --weights "$T/m.safetensors" --split val
    expect_usage_error "give exactly one of --checkpoint and --weights" \
      eval "${SPIRAL[@]}" --weights "$T/m.safetensors" --checkpoint "$T/m.safetensors"
    ;;

  gradcheck)
    run gradcheck "${SPIRAL[@]}"
    expect_rc 0
    out_has "gradcheck ok"
    out_has "layers.0.W"
    json_last 'd["command"] == "gradcheck" and d["ok"] is True and d["checked"] > 0'
    run gradcheck "${SPIRAL[@]}" --model mlp --hidden 8,6 --loss svm --lambda 0.01 --entries 0
    expect_rc 0
    out_has "gradcheck ok"
    out_has "layers.4.W"
    ;;

  knn)
    run knn "${SPIRAL[@]}" --train-size 400 --val-size 100 --test-size 100
    expect_rc 0
    out_has "slope knn: 400 training points, 100 validation, 100 test"
    out_has "chosen on validation"
    json_last 'd["command"] == "knn" and d["k"] in (1, 3, 5, 10, 20) and d["test_accuracy"] >= 0.8'
    expect_usage_error "--k" knn "${SPIRAL[@]}" --k 0
    expect_usage_error "--k: 500 exceeds --train-size 400" knn "${SPIRAL[@]}" --train-size 400 --val-size 100 --k 1,500
    expect_usage_error "--train-size" knn "${SPIRAL[@]}" --train-size 5000
    expect_usage_error "--distance" knn "${SPIRAL[@]}" --distance l3
    ;;

  search)
    run search "${SPIRAL[@]}" --trials 2 --epochs 2
    expect_rc 0
    out_has "best:"
    [ "$(grep -cE '^ +[12] +[0-9.]+e[-+][0-9]+ ' "$T/out")" -eq 2 ] || fail "expected a table of 2 trials"
    json_last 'd["command"] == "search" and d["trials"] == 2 and 1e-4 <= d["best_lr"] <= 1e-2'
    run search "${SPIRAL[@]}" --search grid --points 2 --epochs 1 --lr-range 1e-3,1e-2
    expect_rc 0
    out_has "best:"
    json_last 'd["trials"] == 4'
    expect_usage_error "--search" search "${SPIRAL[@]}" --search exhaustive
    expect_usage_error "--lr-range" search "${SPIRAL[@]}" --lr-range 1,0.1
    expect_usage_error "--trials" search "${SPIRAL[@]}" --trials 0
    ;;

  diverging)
    run train "${SPIRAL[@]}" --optimizer sgd --lr 1e10 --schedule constant --warmup-epochs 0 --epochs 20
    expect_rc 1
    err_has "error: step "
    err_has "learning rate"
    out_lacks "test_accuracy"
    ;;

  *)
    echo "unknown case '$CASE'"
    exit 1
    ;;
esac
echo "ok [$CASE${ARG:+ $ARG}]"
exit 0
