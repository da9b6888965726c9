# Sanitized builds, for CI (.ci/bootstrap.sh test) and for hunting bugs by hand.
#
#   -DSLOPE_SANITIZE=ON   AddressSanitizer + UndefinedBehaviorSanitizer on every
#                         target (library, tests, examples, the slope program),
#                         compile and link; any report aborts the process.
#                         g++ or clang++. Adds canary tests that must crash.
#   -DSLOPE_FUZZ=ON       clang only: the same sanitizers plus libFuzzer coverage
#                         on everything, and the fuzz targets of tests/fuzz
#                         (build them with --target slope_fuzzers).
#
# Included before any target is created, so add_compile_options reaches all of
# them. The flags are never exported: an installed sanitized library would
# need them on the consumer's link line, so the install tests are skipped in
# sanitized builds (tests/CMakeLists.txt).
option(SLOPE_SANITIZE "Build everything with -fsanitize=address,undefined" OFF)
option(SLOPE_FUZZ "Build the libFuzzer targets of tests/fuzz (clang only)" OFF)

set(SLOPE_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
                          -fno-omit-frame-pointer)

if(SLOPE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SLOPE_FUZZ needs clang (libFuzzer); configure with "
                        "-DCMAKE_CXX_COMPILER=clang++-14, not ${CMAKE_CXX_COMPILER_ID}")
  endif()
  # fuzzer-no-link: coverage instrumentation everywhere; only the fuzz targets
  # link libFuzzer's main() (-fsanitize=fuzzer, tests/fuzz/CMakeLists.txt).
  add_compile_options(${SLOPE_SANITIZER_FLAGS} -fsanitize=fuzzer-no-link)
  add_link_options(${SLOPE_SANITIZER_FLAGS})
elseif(SLOPE_SANITIZE)
  add_compile_options(${SLOPE_SANITIZER_FLAGS})
  add_link_options(${SLOPE_SANITIZER_FLAGS})
endif()
