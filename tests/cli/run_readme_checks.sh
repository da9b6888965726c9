#!/usr/bin/env bash
# The README's figures, one case per CTest (tests/register_readme.cmake):
#   run_readme_checks.sh /path/to/slope /path/to/README.md CASE
# Each case runs a command of the README's results table exactly as the
# table shows it and checks that it prints the figure the table quotes next
# to it (the first bold percentage of the row). The table is read from the
# README itself, so an edit to either the command or the figure that the
# program does not bear out fails here.
set -u

SLOPE=${1:?usage: run_readme_checks.sh SLOPE README CASE}
README=${2:?usage: run_readme_checks.sh SLOPE README CASE}
CASE=${3:?usage: run_readme_checks.sh SLOPE README CASE}

T=$(mktemp -d "${TMPDIR:-/tmp}/slope-readme-XXXXXX")
trap 'rm -rf "$T"' EXIT

# run, fail, expect_rc, out_has, err_has, out_lacks, err_matches
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "$CASE" in
  fashion_linear) COMMAND="slope train --model linear --epochs 40 --batch 128 --lr 1e-3 --weight-decay 0 --center false --threads 1" ;;
  spiral_two_layer) COMMAND="slope train --data spiral --hidden 100 --epochs 30 --batch 32 --lr 0.01 --warmup-epochs 0 --threads 1" ;;
  spiral_linear) COMMAND="slope train --data spiral --model linear --epochs 30 --batch 32 --lr 0.01 --warmup-epochs 0 --threads 1" ;;
  knn) COMMAND="slope knn --k 1,3,5,10 --distance both --threads 1" ;;
  *) echo "unknown case '$CASE'"; exit 1 ;;
esac

# The table row of the command, and the figure it quotes.
ROW=$(grep -F -- "| \`$COMMAND\`" "$README")
[ -n "$ROW" ] || fail "README.md has no results row for \`$COMMAND\`"
[ "$(echo "$ROW" | wc -l)" -eq 1 ] || fail "README.md has more than one row for \`$COMMAND\`"
echo "$ROW" | grep -qF "(*tested*)" || fail "the README row does not say it is tested: $ROW"
QUOTED=$(echo "$ROW" | grep -oE '\*\*[0-9]+\.[0-9]+%\*\*' | head -n 1 | tr -d '*')
[ -n "$QUOTED" ] || fail "no bold percentage in the README row: $ROW"

# shellcheck disable=SC2086  # the command is a list of words
run ${COMMAND#slope }
expect_rc 0
PRINTED=$(grep -oE 'test accuracy [0-9]+\.[0-9]+%' "$T/out" | tail -n 1 | sed 's/test accuracy //')
[ -n "$PRINTED" ] || fail "no test accuracy printed"
[ "$PRINTED" = "$QUOTED" ] || fail "the README quotes $QUOTED for \`$COMMAND\`; it prints $PRINTED"
echo "ok [$CASE: $PRINTED]"
exit 0
