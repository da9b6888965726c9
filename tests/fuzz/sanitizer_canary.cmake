# Canary tests of sanitized builds: each runs a deliberate bug and passes only
# if the sanitizer report appears and (for the immediate checks) the program
# stops there. They are registered only when SLOPE_SANITIZE or SLOPE_FUZZ is on.
add_executable(sanitizer_canary ${CMAKE_CURRENT_LIST_DIR}/sanitizer_canary.cpp)

function(slope_canary mode pattern)
  set(name "sanitizers: canary ${mode} is caught (${pattern})")
  add_test(NAME "${name}" COMMAND sanitizer_canary ${mode})
  # PASS_REGULAR_EXPRESSION ignores the exit status, so the report itself is
  # required; "canary survived" means the process went on after the bug.
  set_tests_properties("${name}" PROPERTIES
    LABELS sanitizers TIMEOUT 60
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1"
    PASS_REGULAR_EXPRESSION "${pattern}"
    FAIL_REGULAR_EXPRESSION "canary survived")
endfunction()

slope_canary(heap-overflow "AddressSanitizer: heap-buffer-overflow")
slope_canary(use-after-free "AddressSanitizer: heap-use-after-free")
slope_canary(signed-overflow "runtime error: signed integer overflow")
slope_canary(leak "LeakSanitizer: detected memory leaks")
