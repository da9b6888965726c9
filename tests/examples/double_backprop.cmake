# Checks of example_double_backprop (examples/double_backprop.cpp), in one file
# with two roles. Included by tests/register_examples.cmake it registers the
# test; run as a script it runs the program with --quick and checks that the
# double-backpropagation penalty shrinks the input gradients and the test
# loss's rise under a small sign perturbation, and that the picture is a
# complete SVG file. Without Fashion-MNIST the program exits 1 naming the data, and the check fails.

if(NOT CMAKE_SCRIPT_MODE_FILE)
  slope_example_check(double_backprop "double_backprop trains through create_graph and shrinks the input gradients")
  return()
endif()

include(${CMAKE_CURRENT_LIST_DIR}/../example_script.cmake)  # check(), capture(), run_example()

# A bad option exits 2 naming it; then the run.
run_example(--quick --out ${OUT})
# Rows: lambda, train loss, test acc, mean ||dl/dx||, test loss, loss after the
# perturbation. CMake has no floating-point arithmetic: values in thousandths.
set(row "\n +([0-9.]+) +([0-9.]+) +([0-9.]+)% +([0-9.]+) +([0-9.]+) +([0-9.]+)")
string(REGEX MATCHALL "${row}" rows "${text}")
list(LENGTH rows count)
if(NOT count EQUAL 2)
  message(FATAL_ERROR "failed: expected two rows of results, found ${count}")
endif()
set(k 0)
foreach(r IN LISTS rows)
  string(REGEX MATCH "${row}" _ "${r}")
  set(lambda${k} ${CMAKE_MATCH_1})
  set(fields ${CMAKE_MATCH_4} ${CMAKE_MATCH_5} ${CMAKE_MATCH_6})  # REGEX REPLACE resets CMAKE_MATCH_*
  set(i 4)
  foreach(f IN LISTS fields)
    string(REGEX REPLACE "^([0-9]+)[.]([0-9][0-9][0-9]).*" "\\1\\2" v${i}_${k} "${f}")
    math(EXPR i "${i} + 1")
  endforeach()
  math(EXPR k "${k} + 1")
endforeach()
check(lambda0 EQUAL 0 AND lambda1 EQUAL 1)
# lambda 1: input gradients at most 3/4 the size, and a smaller rise under the perturbation
math(EXPR limit "${v4_0} * 3 / 4")
check(v4_1 LESS limit)
math(EXPR rise0 "${v6_0} - ${v5_0}")
math(EXPR rise1 "${v6_1} - ${v5_1}")
check(rise1 LESS rise0)
if(NOT EXISTS ${OUT}/double-backprop.svg)
  message(SEND_ERROR "failed: double-backprop.svg was not written")
else()
  file(READ ${OUT}/double-backprop.svg svg)
  check(svg MATCHES "<polyline " AND svg MATCHES "</svg>\n?$")
endif()
