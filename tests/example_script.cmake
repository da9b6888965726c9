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
