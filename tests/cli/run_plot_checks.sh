#!/usr/bin/env bash
# Checks of `slope plot`, one case per CTest (tests/register_plot_cli.cmake):
#   run_plot_checks.sh /path/to/slope CASE
# Inputs come from short spiral runs or from small .npy files written here;
# every output is checked for its format and content, every bad usage for its
# exit status and for the option it names.
set -u

SLOPE=${1:?usage: run_plot_checks.sh SLOPE CASE}
CASE=${2:?usage: run_plot_checks.sh SLOPE CASE}

T=$(mktemp -d "${TMPDIR:-/tmp}/slope-plot-XXXXXX")
trap 'rm -rf "$T"' EXIT

# run, fail, expect_rc, out_has, err_has, out_lacks, err_matches
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Python 3 decodes the PNGs; required, not optional (CI has it).
PY=/usr/bin/python3
"$PY" -c 'import zlib, struct' 2>/dev/null || fail "$PY is required"

# expect_usage_error WORD ARGS...: exit status 2, stderr naming WORD, no output file.
expect_usage_error() {
  local word=$1; shift
  run "$@"
  expect_rc 2
  err_has "$word"
  [ ! -e "$T/o.svg" ] && [ ! -e "$T/o.png" ] || fail "an output file was written"
}

# write_npy FILE D C: a (D, C) float32 .npy whose data bytes come from stdin.
write_npy() {
  local dict="{'descr': '<f4', 'fortran_order': False, 'shape': ($2, $3), }"
  # Pad with spaces so that magic (6) + version (2) + length (2) + dict + '\n' is a multiple of 64.
  while [ $(( (10 + ${#dict} + 1) % 64 )) -ne 0 ]; do dict="$dict "; done
  local n=$(( ${#dict} + 1 ))
  { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $((n % 256)))\\x$(printf %02x $((n / 256)))"
    printf '%s\n' "$dict"; cat; } >"$1"
}

# svg_ok FILE: a standalone SVG document that xmllint (when installed) accepts.
svg_ok() {
  [ -s "$1" ] || fail "missing or empty $1"
  head -c 200 "$1" | grep -qE '^(<\?xml[^>]*>[[:space:]]*)?<svg' || fail "$1 does not start with <?xml / <svg"
  grep -qF 'xmlns="http://www.w3.org/2000/svg"' "$1" || fail "$1 lacks the SVG namespace"
  tail -c 10 "$1" | grep -qF '</svg>' || fail "$1 does not end with </svg>"
  if command -v xmllint >/dev/null; then xmllint --noout "$1" 2>"$T/xmllint" || fail "xmllint: $(cat "$T/xmllint")"; fi
}
count() { grep -o -- "$1" "$2" | wc -l; }

# png_size FILE: checks the signature and IHDR; prints "WIDTH HEIGHT COLOURTYPE".
png_size() {
  [ -s "$1" ] || fail "missing or empty $1"
  [ "$(head -c 16 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a0000000d49484452" ] ||
    fail "$1 lacks the PNG signature and IHDR"
  local b; b=($(od -An -tu1 -j16 -N10 "$1"))
  echo "$(( (b[0] << 24) + (b[1] << 16) + (b[2] << 8) + b[3] )) $(( (b[4] << 24) + (b[5] << 16) + (b[6] << 8) + b[7] )) ${b[9]}"
}

SPIRAL=(--data spiral --epochs 3 --threads 1)

case "$CASE" in
  help)
    run --help; expect_rc 0; out_has "  plot "
    run plot --help; expect_rc 0
    for s in curves templates histogram; do out_has "  $s "; done
    for s in curves templates histogram; do
      run plot "$s" --help; expect_rc 0
      out_has "usage: slope plot $s"; out_has "--out FILE"
      [ ! -s "$T/err" ] || fail "help wrote to stderr"
    done
    ;;

  usage_errors)
    head -c 64 /dev/zero | write_npy "$T/w.npy" 4 4
    printf '{"epoch": 1, "data_loss": 0.5}\n' >"$T/m.jsonl"
    expect_usage_error "subcommand" plot
    expect_usage_error "frobnicate" plot frobnicate
    expect_usage_error "--y is required" plot curves "$T/m.jsonl" --out "$T/o.svg"
    expect_usage_error "--out is required" plot curves "$T/m.jsonl" --y data_loss
    expect_usage_error "no input file" plot curves --y data_loss --out "$T/o.svg"
    expect_usage_error "$T/missing.jsonl" plot curves "$T/missing.jsonl" --y data_loss --out "$T/o.svg"
    expect_usage_error "--y" plot curves "$T/m.jsonl" --y accuracy --out "$T/o.svg"
    err_has "'accuracy'"; err_has "data_loss, epoch"  # the keys the file has
    expect_usage_error "--x" plot curves "$T/m.jsonl" --y data_loss --x step --out "$T/o.svg"
    expect_usage_error "unknown option '--bogus'" plot curves "$T/m.jsonl" --y data_loss --bogus 1
    expect_usage_error "--out" plot curves "$T/m.jsonl" --y data_loss --out "$T/no/dir/o.svg"
    expect_usage_error "--image" plot templates "$T/w.npy" --out "$T/o.png" --image 3x3x1
    expect_usage_error "--image" plot templates "$T/w.npy" --out "$T/o.png" --image 2x2x2
    expect_usage_error "--image" plot templates "$T/w.npy" --out "$T/o.png" --image big
    # 4 x (2^62 + 1) is 4 modulo 2^64: a product that wraps around must not pass for the 4 rows
    # (it once did, and tiling the 2^62-pixel-wide "image" crashed).
    expect_usage_error "--image: 4x4611686018427387905x1 does not hold the 4 values" \
      plot templates "$T/w.npy" --out "$T/o.png" --image 4x4611686018427387905x1
    expect_usage_error "--image" plot templates "$T/w.npy" --out "$T/o.png" --image -4x-4x1
    expect_usage_error "--image" plot templates "$T/w.npy" --out "$T/o.png" --image "4x4x1 "
    # A picture over the size cap: 1000 templates of 28 x 28 at scale 64.
    head -c $((784 * 1000 * 4)) /dev/zero | write_npy "$T/many.npy" 784 1000
    expect_usage_error "--scale 64 and --columns 1000: tile: a " \
      plot templates "$T/many.npy" --out "$T/o.png" --scale 64 --columns 1000
    expect_usage_error "--columns" plot templates "$T/w.npy" --out "$T/o.png" --columns 0
    expect_usage_error "--scale" plot templates "$T/w.npy" --out "$T/o.png" --scale x
    expect_usage_error "at most 1 input file" plot templates "$T/w.npy" "$T/w.npy" --out "$T/o.png"
    expect_usage_error "--bins" plot histogram "$T/w.npy" --out "$T/o.svg" --bins many
    expect_usage_error "--bins" plot histogram "$T/w.npy" --out "$T/o.svg" --bins 0
    ;;

  run_errors)  # inputs that exist but are wrong: exit 1 naming the file
    printf '{"epoch": 1, "data_loss": 0.5}\n{"epoch": 2, "data_loss": oops}\n' >"$T/bad.jsonl"
    run plot curves "$T/bad.jsonl" --y data_loss --out "$T/o.svg"
    expect_rc 1; err_has "$T/bad.jsonl:2"; err_has "oops"
    echo "not numpy" >"$T/bad.npy"
    run plot templates "$T/bad.npy" --out "$T/o.png"; expect_rc 1; err_has "$T/bad.npy"
    run plot histogram "$T/bad.npy" --out "$T/o.svg"; expect_rc 1; err_has "$T/bad.npy"
    head -c 16 /dev/zero | write_npy "$T/flat.npy" 4 1
    sed -i 's/(4, 1)/(4,)  /' "$T/flat.npy"
    run plot templates "$T/flat.npy" --out "$T/o.png"; expect_rc 1; err_has "(D, C)"
    [ ! -e "$T/o.svg" ] && [ ! -e "$T/o.png" ] || fail "an output file was written"
    ;;

  curves)  # two short spiral runs: one polyline each, labelled by file stem
    run train "${SPIRAL[@]}" --metrics "$T/two_layer.jsonl"; expect_rc 0
    run train "${SPIRAL[@]}" --model linear --metrics "$T/linear.jsonl"; expect_rc 0
    run plot curves "$T/two_layer.jsonl" "$T/linear.jsonl" --y data_loss --out "$T/loss.svg"
    expect_rc 0; out_has "2 runs, 6 points"
    svg_ok "$T/loss.svg"
    [ "$(count '<polyline' "$T/loss.svg")" -eq 2 ] || fail "expected 2 polylines in loss.svg"
    grep -qF '>two_layer</text>' "$T/loss.svg" || fail "no legend entry two_layer"
    grep -qF '>linear</text>' "$T/loss.svg" || fail "no legend entry linear"
    grep -qF '>data_loss</text>' "$T/loss.svg" || fail "no axis label data_loss"
    run plot curves "$T/linear.jsonl" --y val_accuracy --log-y --out "$T/acc.svg"
    expect_rc 0; svg_ok "$T/acc.svg"
    [ "$(count '<polyline' "$T/acc.svg")" -eq 1 ] || fail "expected 1 polyline in acc.svg"
    ;;

  templates)
    # A (4, 3) matrix as 2x2 grey images: 3 tiles with 2-pixel gaps, scaled 2x.
    head -c 48 /dev/zero | write_npy "$T/small.npy" 4 3
    run plot templates "$T/small.npy" --out "$T/small.png" --image 2x2x1 --columns 3 --scale 2
    expect_rc 0
    [ "$(png_size "$T/small.png")" = "16 4 0" ] || fail "small.png: $(png_size "$T/small.png"), expected 16 4 grey"
    # 784 rows: 28x28 grey by default; 10 columns in rows of 5, scale 3.
    head -c $((784 * 10 * 4)) /dev/zero | write_npy "$T/mnist.npy" 784 10
    run plot templates "$T/mnist.npy" --out "$T/mnist.png"; expect_rc 0
    [ "$(png_size "$T/mnist.png")" = "428 170 0" ] || fail "mnist.png: $(png_size "$T/mnist.png")"
    # 3072 rows: 32x32 RGB from slope's channel planes. Column 0 is 1 on the
    # red plane, column 1 on the blue plane: a red and a blue tile.
    { for i in $(seq 1024); do printf '\x00\x00\x80\x3f\x00\x00\x00\x00'; done
      head -c $((1024 * 8)) /dev/zero
      for i in $(seq 1024); do printf '\x00\x00\x00\x00\x00\x00\x80\x3f'; done; } | write_npy "$T/cifar.npy" 3072 2
    run plot templates "$T/cifar.npy" --out "$T/cifar.png" --scale 1; expect_rc 0
    [ "$(png_size "$T/cifar.png")" = "66 32 2" ] || fail "cifar.png: $(png_size "$T/cifar.png"), expected 66 32 RGB"
    "$PY" - "$T/cifar.png" <<'EOF' || fail "cifar.png pixels are not a red tile, a black gap, a blue tile"
import struct, sys, zlib
b = open(sys.argv[1], "rb").read()
at, idat = 8, b""
while at < len(b):
    n, kind = struct.unpack(">I4s", b[at:at + 8])
    if kind == b"IDAT": idat += b[at + 8:at + 8 + n]
    at += 12 + n
raw = zlib.decompress(idat)
row = 1 + 66 * 3
for y in (0, 17, 31):
    px = lambda x: tuple(raw[y * row + 1 + 3 * x: y * row + 4 + 3 * x])
    assert px(0) == (255, 0, 0) and px(31) == (255, 0, 0), (y, px(0))
    assert px(32) == (0, 0, 0) and px(33) == (0, 0, 0), px(32)
    assert px(34) == (0, 0, 255) and px(65) == (0, 0, 255), px(34)
EOF
    ;;

  histogram)  # the weights of a short spiral run, and two arrays overlaid
    mkdir "$T/w"
    run train "${SPIRAL[@]}" --export "$T/w"; expect_rc 0
    run plot histogram "$T/w/layers.0.W.npy" --out "$T/h.svg" --bins 20; expect_rc 0
    svg_ok "$T/h.svg"
    grep -qF 'class="histogram"' "$T/h.svg" || fail "no histogram group"
    bars=$(sed -n 's/.*class="histogram"[^>]*>\(.*\)<\/g>.*/\1/p' "$T/h.svg" | grep -o '<rect' | wc -l)
    [ "$bars" -ge 3 ] && [ "$bars" -le 20 ] || fail "expected 3 to 20 bars, got $bars"
    run plot histogram "$T/w/layers.0.W.npy" "$T/w/layers.2.W.npy" --out "$T/h2.svg"; expect_rc 0
    svg_ok "$T/h2.svg"
    [ "$(count 'class="histogram"' "$T/h2.svg")" -eq 2 ] || fail "expected 2 histograms in h2.svg"
    grep -qF '>layers.0.W (n ' "$T/h2.svg" && grep -qF '>layers.2.W (n ' "$T/h2.svg" || fail "legend lacks the two weight names"
    ;;

  *)
    echo "unknown case '$CASE'"
    exit 1
    ;;
esac
echo "ok [$CASE]"
exit 0
