#!/usr/bin/env bash
# Everything from a fresh Debian 12 machine to a result, in one command:
#
#   bash .ci/bootstrap.sh train [args]   install what is missing, build, train
#   bash .ci/bootstrap.sh test           install what is missing, build, run ctest
#
# Runs as root, or through sudo otherwise. Builds in Release into build/.
set -euo pipefail

usage() { echo "usage: bash .ci/bootstrap.sh train [args...] | test" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
mode=$1
shift
[[ $mode == train || $mode == test ]] || usage

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Wall-clock seconds since a time taken with now(), with one decimal.
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- 1. packages ------------------------------------------------------------
packages=(cmake g++ make pkg-config libxtensor-dev libxsimd-dev libfmt-dev catch2
          libopenblas-dev zlib1g-dev dataset-fashion-mnist)
missing=()
for p in "${packages[@]}"; do
  # `dpkg -s` succeeds for removed packages whose config files remain; ask for the status.
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "== packages: all present"
else
  echo "== packages: installing ${missing[*]}"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "not root and no sudo: install ${missing[*]} first" >&2; exit 1; }
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update </dev/null
  "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
fi

# ---- 2. build -----------------------------------------------------------------
jobs=$(nproc)
start=$(now)
# The suite is built only when it will run; the options are set explicitly so
# that a build/ configured otherwise earlier cannot skip it.
[[ $mode == test ]] && tests=ON || tests=OFF
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSLOPE_BUILD_TESTS=$tests -DSLOPE_BUILD_EXAMPLES=ON
cmake --build build -j "$jobs"
build_time=$(elapsed "$start")
echo "== build: ${build_time} s (Release, -j${jobs})"
echo "== size: $(find src include -name '*.[ch]pp' -exec cat {} + | wc -l) lines in src/ and include/"

# ---- 3. the job ---------------------------------------------------------------
if [[ $mode == train ]]; then
  # The training program once it exists; until then the spiral example.
  if [[ -x build/slope ]]; then
    exec build/slope train "$@"
  fi
  [[ -x build/examples/example_spiral ]] || { echo "no training program was built" >&2; exit 1; }
  exec build/examples/example_spiral "$@"
fi

start=$(now)
status=0
ctest --test-dir build --output-on-failure --no-tests=error -j2 || status=$?
echo "== build: ${build_time} s, test: $(elapsed "$start") s"
exit "$status"
