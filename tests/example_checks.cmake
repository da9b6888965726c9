# slope_example_check(<name> <what it shows> [OUT <dir suffix>] [DEFINES -DX=Y ...])
#
# Registers the test "example: <what it shows>" for example_<name>. The test
# runs the calling file (tests/examples/<name>.cmake) in script mode with
# -DEXE=<the program> -DOUT=<a fresh output directory in the build tree>, and
# that script runs the program with short settings and checks what it prints
# and writes. One BLAS thread, so the checks see the same rounding every run.
function(slope_example_check name what)
  cmake_parse_arguments(ARG "" "OUT" "DEFINES" ${ARGN})
  if(NOT TARGET example_${name})
    return()
  endif()
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/example_${name}_${ARG_OUT}out)
  add_test(NAME "example: ${what}"
           COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:example_${name}> ${ARG_DEFINES}
                   -DOUT=${out_dir} -P ${CMAKE_CURRENT_LIST_FILE})
  set_tests_properties("example: ${what}" PROPERTIES ENVIRONMENT "OPENBLAS_NUM_THREADS=1"
                                                     TIMEOUT 120 LABELS examples)
endfunction()
