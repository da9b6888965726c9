# Shared by the CLI check scripts (sourced, not run). The caller sets SLOPE
# (the program), CASE (the case name, for messages) and T (a scratch directory).

RC=0
# run ARGS...: runs slope (at most 60 s); stdout in $T/out, stderr in $T/err, status in $RC.
run() {
  LAST_CMD="slope $*"
  timeout 60 "$SLOPE" "$@" >"$T/out" 2>"$T/err"
  RC=$?
}

# fail MESSAGE: prints what the last command did and ends the case.
fail() {
  echo "FAIL [$CASE]: $*"
  echo "--- command: ${LAST_CMD:-}"
  echo "--- exit status: $RC"
  echo "--- stdout (last 20 lines):"; tail -n 20 "$T/out" 2>/dev/null
  echo "--- stderr (last 20 lines):"; tail -n 20 "$T/err" 2>/dev/null
  exit 1
}

expect_rc() { [ "$RC" -eq "$1" ] || fail "expected exit status $1, got $RC"; }
# The fixed string must (not) appear in stdout / stderr.
out_has() { grep -qF -- "$1" "$T/out" || fail "stdout lacks '$1'"; }
err_has() { grep -qF -- "$1" "$T/err" || fail "stderr lacks '$1'"; }
out_lacks() { ! grep -qF -- "$1" "$T/out" || fail "stdout unexpectedly has '$1'"; }
err_lacks() { ! grep -qF -- "$1" "$T/err" || fail "stderr unexpectedly has '$1'"; }
# err_matches ERE: stderr matches the extended regular expression (case-insensitive).
err_matches() { grep -qiE -- "$1" "$T/err" || fail "stderr does not match /$1/"; }

# expect_usage_error WORD ARGS...: exit status 2 and stderr naming WORD, with
# the hint towards the command's help.
expect_usage_error() {
  local word=$1; shift
  run "$@"
  expect_rc 2
  err_has "$word"
  err_has "--help"
}

# Python 3 with NumPy reads what slope prints and writes. It is required, not
# optional: a missing one fails the case (CI installs python3-numpy).
PY=/usr/bin/python3
require_numpy() {
  "$PY" -c 'import json, numpy' 2>/dev/null || fail "$PY with numpy is required (apt-get install python3-numpy)"
}
