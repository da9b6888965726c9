# Checks of example_optimizers (examples/optimizers.cpp), in one file with two
# roles. Included by tests/register_examples.cmake it registers the tests; run
# as a script (cmake -DEXE=... -DOUT=... -P optimizers.cmake) it runs the
# program and checks what it prints and writes: the lecture's claims as
# numbers in the tables, and four well-formed SVG files with six paths each.
# The full 100-step run takes a fraction of a second, so the check uses it.

if(NOT CMAKE_SCRIPT_MODE_FILE)
  slope_example_check(optimizers "optimizers shows SGD slow, momentum rolling on, Adam's big uncorrected step")
  return()
endif()

# ---- script mode ---------------------------------------------------------------

# A bad command line: exit status 2, a message naming the option, nothing written.
file(REMOVE_RECURSE ${OUT}-bad)
execute_process(COMMAND ${EXE} --steps 0 --out ${OUT}-bad
                OUTPUT_VARIABLE text ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT err MATCHES "--steps: must be a whole number in \\[1, 100000\\]: got '0'"
   OR EXISTS ${OUT}-bad)
  message(SEND_ERROR "failed: --steps 0 gave exit status ${rc} and '${err}'")
endif()

file(REMOVE_RECURSE ${OUT})
execute_process(COMMAND ${EXE} --steps 100 --out ${OUT}
                OUTPUT_VARIABLE text ERROR_VARIABLE err RESULT_VARIABLE rc)
message(STATUS "${text}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "example_optimizers exited with ${rc}: ${err}")
endif()

# The section of the output for one surface: from "<name>: f(x, y)" to the next "wrote".
function(section name var)
  string(FIND "${text}" "${name}: f(x, y)" begin)
  if(begin EQUAL -1)
    message(FATAL_ERROR "no table for the surface '${name}'")
  endif()
  string(SUBSTRING "${text}" ${begin} -1 rest)
  string(FIND "${rest}" "wrote" end)
  string(SUBSTRING "${rest}" 0 ${end} rest)
  set(${var} "${rest}" PARENT_SCOPE)
endfunction()

# The columns of one table row: lr steps x y loss dist arrived saddle flips, as a list.
function(row table optimizer var)
  if(NOT table MATCHES "\n  ${optimizer} +([^\n]*)")
    message(FATAL_ERROR "no row for ${optimizer} in:\n${table}")
  endif()
  string(REGEX REPLACE " +" ";" cols "${CMAKE_MATCH_1}")
  set(${var} "${cols}" PARENT_SCOPE)
endfunction()

# Column `index` of `optimizer`'s row
# (0 lr, 1 steps, 2 x, 3 y, 4 loss, 5 dist, 6 arrived, 7 saddle, 8 flips).
function(cell table optimizer index var)
  row("${table}" ${optimizer} cols)
  list(GET cols ${index} value)
  set(${var} ${value} PARENT_SCOPE)
endfunction()

include(${CMAKE_CURRENT_LIST_DIR}/../example_script.cmake)  # check(), capture()

# Valley: SGD flips y at every step and is still 0.23 away; the others within 0.05.
section(valley valley)
cell("${valley}" sgd 5 sgd_dist)
cell("${valley}" sgd 8 sgd_flips)
check(sgd_flips EQUAL 100)
check(sgd_dist GREATER 0.2)
foreach(opt momentum nesterov rmsprop adam adamw)
  cell("${valley}" ${opt} 5 dist)
  check(dist LESS 0.05)
endforeach()
cell("${valley}" momentum 6 arrived)
check(arrived LESS 60)
cell("${valley}" sgd 6 arrived)
check(arrived STREQUAL "-")
# SGD with lr 0.42 > 2/5: the loss grows instead of falling.
cell("${valley}" sgd-large 4 loss)
check(loss GREATER 1e6)

# Saddle: SGD spends over 40 of its 100 steps within 0.25 of the saddle,
# momentum and Nesterov fewer than 10, the adaptive methods none.
section(saddle saddle)
cell("${saddle}" sgd 7 near)
check(near GREATER 40)
foreach(opt momentum nesterov)
  cell("${saddle}" ${opt} 7 near)
  check(near LESS 10)
endforeach()
foreach(opt rmsprop adam adamw)
  cell("${saddle}" ${opt} 7 near)
  check(near EQUAL 0)
endforeach()

# Local minimum: SGD stops in the shallow well (x ~ 0.879, f ~ -0.061);
# momentum and Nesterov end in the deep one (x ~ -1.088, f ~ -0.459).
section(local local)
cell("${local}" sgd 2 x)
cell("${local}" sgd 4 loss)
check(x GREATER 0.87 AND x LESS 0.89 AND loss GREATER -0.07)
foreach(opt momentum nesterov)
  cell("${local}" ${opt} 2 x)
  cell("${local}" ${opt} 4 loss)
  check(x GREATER -1.1 AND x LESS -1.07 AND loss LESS -0.45)
endforeach()

# Adam's first step without bias correction: 3.1623 times the corrected one.
if(NOT text MATCHES "first step: \\|dx\\| = 1\\.0000 lr corrected, 3\\.1623 lr without \\(ratio 3\\.1623\\)")
  message(SEND_ERROR "failed: Adam's first step ratio line")
endif()

# The pictures: complete SVG documents; each paths picture holds six polylines
# (one per optimizer) in front of its contour paths, the bias picture two.
foreach(picture paths-valley:6 paths-saddle:6 paths-local:6 adam-bias-correction:2)
  string(REPLACE ":" ";" picture "${picture}")
  list(GET picture 0 name)
  list(GET picture 1 lines)
  set(file ${OUT}/${name}.svg)
  if(NOT EXISTS ${file})
    message(SEND_ERROR "failed: ${file} was not written")
    continue()
  endif()
  file(READ ${file} svg)
  string(REGEX MATCHALL "<polyline " found "${svg}")
  list(LENGTH found count)
  check(count EQUAL ${lines})
  if(NOT svg MATCHES "^(<\\?xml [^>]*>\n)?<svg " OR NOT svg MATCHES "</svg>\n?$")
    message(SEND_ERROR "failed: ${file} is not one complete <svg> document")
  endif()
  if(name MATCHES "^paths-")
    string(REGEX MATCHALL "<path " contours "${svg}")
    list(LENGTH contours count)
    check(count GREATER 5)
  endif()
endforeach()
