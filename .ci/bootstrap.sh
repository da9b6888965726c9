#!/usr/bin/env bash
# Everything from a fresh Debian 12 machine to a result, in one command:
#
#   bash .ci/bootstrap.sh train [args]   install what is missing, build, train
#   bash .ci/bootstrap.sh test           install what is missing, build, run ctest,
#                                        then the suite under ASan+UBSan, then fuzzing
#
# Runs as root, or through sudo otherwise. Builds in Release into build/; test
# mode also builds build-asan/ (g++, -fsanitize=address,undefined) and
# build-fuzz/ (clang 14, libFuzzer). SLOPE_FUZZ_SECONDS (default 30) bounds
# each fuzz target's run.
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
          libopenblas-dev zlib1g-dev dataset-fashion-mnist
          openmpi-bin libopenmpi-dev)  # mpirun -np N slope train (the MPI backend)
# The fuzz targets need clang and its sanitizer/libFuzzer runtimes.
[[ $mode == test ]] && packages+=(clang-14 libclang-rt-14-dev)
# The interop test (tests/interop) reads and writes state_dict files with NumPy.
[[ $mode == test ]] && packages+=(python3-numpy)
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
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSLOPE_BUILD_TESTS=$tests -DSLOPE_BUILD_EXAMPLES=ON -DSLOPE_MPI=ON
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

# Every stage runs even if an earlier one failed; the exit status is nonzero if any did.
status=0
start=$(now)
release=ok
ctest --test-dir build --output-on-failure --no-tests=error -j2 || { release=FAILED; status=1; }
echo "== build: ${build_time} s, test: $(elapsed "$start") s"

# ---- 4. the suite under AddressSanitizer + UndefinedBehaviorSanitizer -----------
# g++ at -O1, not -march=native; any report aborts the test (-fno-sanitize-recover).
# The install tests are not registered here (tests/CMakeLists.txt); canary tests
# that must crash are. OpenBLAS runs single-threaded: its own uninstrumented
# threads only slow the run down.
start=$(now)
asan=ok
if cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g1 -DNDEBUG" \
         -DSLOPE_SANITIZE=ON -DSLOPE_NATIVE=OFF -DSLOPE_BUILD_TESTS=ON -DSLOPE_BUILD_EXAMPLES=ON &&
   cmake --build build-asan -j "$jobs"; then
  asan_build=$(elapsed "$start")
  start=$(now)
  OPENBLAS_NUM_THREADS=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure --no-tests=error -j2 || { asan=FAILED; status=1; }
  echo "== asan: build ${asan_build} s, test: $(elapsed "$start") s"
else
  asan="FAILED (build)"
  status=1
fi

# ---- 5. fuzzing ---------------------------------------------------------------------
# One libFuzzer target per reader (tests/fuzz), and one for Trainer::resume's
# content checks, each for a bounded time on a copy of its committed seed
# corpus, $jobs at a time. Any crash, sanitizer
# report, leak, timeout or out-of-memory fails the stage; the inputs that
# caused it are kept in build-fuzz/artifacts/<target>/.
fuzz_seconds=${SLOPE_FUZZ_SECONDS:-30}
fuzz_targets=(idx_images idx_labels cifar10 npy checkpoint safetensors resume)
fuzz_runs=0
fuzz_crashes=0
fuzz=ok
start=$(now)
if cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Release \
         -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g -DNDEBUG" -DSLOPE_FUZZ=ON -DSLOPE_NATIVE=OFF \
         -DSLOPE_BUILD_TESTS=OFF -DSLOPE_BUILD_EXAMPLES=OFF &&
   cmake --build build-fuzz --target slope_fuzzers -j "$jobs"; then
  fuzz_build=$(elapsed "$start")
  start=$(now)
  # tmpfs when there is one: the targets write every input to a file there.
  work=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
  trap 'rm -rf "$work"' EXIT
  rm -rf build-fuzz/artifacts
  fuzz_one() {
    local t=$1 max_len=4096 rc=0
    [[ $t == cifar10 ]] && max_len=7000  # room for two 3073-byte records
    [[ $t == resume ]] && max_len=16384  # a spiral checkpoint holds a 720-entry data order
    cp -r "tests/fuzz/corpus/$t" "$work/corpus-$t"
    mkdir -p "$work/artifacts-$t" "$work/tmp-$t"
    SLOPE_FUZZ_TMPDIR="$work/tmp-$t" "build-fuzz/tests/fuzz/fuzz_$t" \
      -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
      -print_final_stats=1 -artifact_prefix="$work/artifacts-$t/" "$work/corpus-$t" \
      >"$work/$t.log" 2>&1 </dev/null || rc=$?
    echo "$rc" >"$work/$t.rc"
  }
  running=0
  for t in "${fuzz_targets[@]}"; do
    fuzz_one "$t" &
    running=$((running + 1))
    if ((running >= jobs)); then
      wait -n || true
      running=$((running - 1))
    fi
  done
  wait
  for t in "${fuzz_targets[@]}"; do
    rc=$(cat "$work/$t.rc" 2>/dev/null || echo 1)
    runs=$(grep -oE 'Done [0-9]+ runs' "$work/$t.log" | grep -oE '[0-9]+' || true)
    artifacts=$(find "$work/artifacts-$t" -type f | wc -l)
    if [[ $rc -ne 0 || -z $runs || $artifacts -ne 0 ]]; then
      fuzz=FAILED
      status=1
      fuzz_crashes=$((fuzz_crashes + (artifacts > 0 ? artifacts : 1)))
      echo "== fuzz_$t FAILED (exit $rc, $artifacts crashing inputs); end of its log:"
      tail -n 60 "$work/$t.log"
      mkdir -p build-fuzz/artifacts
      cp -r "$work/artifacts-$t" "build-fuzz/artifacts/$t"
    fi
    fuzz_runs=$((fuzz_runs + ${runs:-0}))
    echo "== fuzz_$t: ${runs:-0} runs in ${fuzz_seconds} s, exit $rc"
  done
  echo "== fuzz: build ${fuzz_build} s, run: $(elapsed "$start") s"
else
  fuzz="FAILED (build)"
  status=1
fi

echo "== release tests: ${release}, asan tests: ${asan}, fuzz: ${#fuzz_targets[@]} targets," \
     "${fuzz_runs} runs, ${fuzz_crashes} crashes (${fuzz})"
exit "$status"
