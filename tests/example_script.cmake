# Helpers of the example checks' script mode (tests/examples/<name>.cmake run
# with cmake -P): included by each script, so the checks read the same way.

# check(<condition>): a failed condition is reported (the run goes on, and
# fails at the end), naming the condition.
macro(check)
  if(NOT (${ARGN}))
    string(REPLACE ";" " " _what "${ARGN}")
    message(SEND_ERROR "failed: ${_what}")
  endif()
endmacro()

# capture(<regex> <var>): the first capture of `regex` in ${text}, or a
# failure naming what is missing (and "missing" in var).
function(capture regex var)
  if(NOT text MATCHES "${regex}")
    message(SEND_ERROR "failed: no match for '${regex}' in the output")
    set(${var} "missing" PARENT_SCOPE)
    return()
  endif()
  set(${var} "${CMAKE_MATCH_1}" PARENT_SCOPE)
endfunction()

# run_example(ARGS...): the checks every example gets, then its run. A bad
# option (--bogus) must exit 2 naming it; then ${OUT} is emptied and ${EXE}
# runs with ARGS, its output printed and left in `text` (stderr in `err`); a
# non-zero exit ends the check.
function(run_example)
  execute_process(COMMAND ${EXE} --bogus OUTPUT_VARIABLE text ERROR_VARIABLE err RESULT_VARIABLE rc)
  check(rc EQUAL 2 AND err MATCHES "unknown option '--bogus'")
  file(REMOVE_RECURSE ${OUT})
  execute_process(COMMAND ${EXE} ${ARGN} OUTPUT_VARIABLE text ERROR_VARIABLE err RESULT_VARIABLE rc)
  message(STATUS "${text}")
  if(NOT rc EQUAL 0)
    get_filename_component(name ${EXE} NAME)
    message(FATAL_ERROR "${name} exited with ${rc}: ${err}")
  endif()
  set(text "${text}" PARENT_SCOPE)
  set(err "${err}" PARENT_SCOPE)
endfunction()
