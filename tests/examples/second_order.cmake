# Checks of example_second_order (examples/second_order.cpp), in one file with
# two roles. Included by tests/register_examples.cmake it registers the test;
# run as a script (cmake -DEXE=... -DOUT=... -P second_order.cmake) it runs the
# program with --quick and checks what it prints and writes: Newton's method
# converging quadratically in a handful of iterations where gradient descent
# needs hundreds, the Hessian's size for real models, L-BFGS ahead of Adam on
# the full batch and behind its own full-batch run on minibatches, and
# well-formed SVG files. Parts (c) and (d) need Fashion-MNIST; without it the
# check fails. About 1 s (7 s with the sanitizers).

if(NOT CMAKE_SCRIPT_MODE_FILE)
  slope_example_check(second_order "second_order shows Newton converging quadratically, the Hessian's cost and L-BFGS full batch against minibatch")
  return()
endif()

# ---- script mode ---------------------------------------------------------------

include(${CMAKE_CURRENT_LIST_DIR}/../example_script.cmake)  # check(), capture(), run_example()

# A bad option exits 2 naming it; then the run.
run_example(--quick --out ${OUT})

# (a) For each problem (the spiral's softmax regression, then Rosenbrock):
# Newton reaches a loss gap of 1e-10 within 10 iterations, L-BFGS in no fewer,
# gradient descent at its best learning rate in at least ten times as many,
# with more gradient evaluations than L-BFGS; its gap shrinks by a constant
# factor in (0.5, 1) per iteration (linear convergence).
string(FIND "${text}" "Rosenbrock's valley" split)
check(NOT split EQUAL -1)
string(SUBSTRING "${text}" 0 ${split} softmax_part)
string(SUBSTRING "${text}" ${split} -1 rosenbrock_part)
foreach(part softmax_part rosenbrock_part)
  set(t "${${part}}")
  if(NOT t MATCHES "\n +Newton, exact H +([0-9]+) +([0-9]+) ")
    message(SEND_ERROR "failed: no Newton summary in ${part}")
    continue()
  endif()
  set(newton_k ${CMAKE_MATCH_1})
  set(newton_passes ${CMAKE_MATCH_2})
  if(NOT t MATCHES "\n +Newton, H by differences +([0-9]+) +([0-9]+) ")
    message(SEND_ERROR "failed: no summary of Newton with differences in ${part}")
    continue()
  endif()
  # the exact Hessian costs n backward passes per iteration, the differences 2n
  check(CMAKE_MATCH_1 EQUAL newton_k AND CMAKE_MATCH_2 GREATER newton_passes)
  if(NOT t MATCHES "\n +L-BFGS +([0-9]+) +([0-9]+)\n")
    message(SEND_ERROR "failed: no L-BFGS summary in ${part}")
    continue()
  endif()
  set(lbfgs_k ${CMAKE_MATCH_1})
  set(lbfgs_evals ${CMAKE_MATCH_2})
  if(NOT t MATCHES "\n +gradient descent +([0-9]+) +([0-9]+) .*shrinks by x([0-9.]+) per iteration")
    message(SEND_ERROR "failed: no gradient descent summary in ${part}")
    continue()
  endif()
  set(gd_k ${CMAKE_MATCH_1})
  set(gd_evals ${CMAKE_MATCH_2})
  set(rate ${CMAKE_MATCH_3})
  math(EXPR ten_newton "10 * ${newton_k}")
  check(newton_k GREATER 0 AND newton_k LESS_EQUAL 10 AND lbfgs_k GREATER_EQUAL newton_k)
  check(gd_k GREATER_EQUAL ten_newton AND gd_evals GREATER lbfgs_evals)
  check(rate GREATER 0.5 AND rate LESS 1)
endforeach()
# Quadratic convergence on the softmax problem: ||g_k|| / ||g_k-1||^2 stays
# below 50 on every row that prints it (at least three), and Newton stops on
# the gradient tolerance.
check(softmax_part MATCHES "stopped by gradient_tolerance after [0-9] iterations")
# The exact Hessian's order, measured down to ||g|| = 1e-13, is 2 to within 0.05;
# the differences' Hessian is off by less than 1e-8 relative.
if(softmax_part MATCHES "exact H ([0-9.]+) [(]floor 1e-13[)], H by differences ([0-9.]+)")
  check(CMAKE_MATCH_1 GREATER_EQUAL 1.95 AND CMAKE_MATCH_1 LESS 2.05 AND CMAKE_MATCH_2 GREATER 1.5)
else()
  message(SEND_ERROR "failed: no measured order in the softmax part")
endif()
check(softmax_part MATCHES "max [|]H_diff - H[|] / max [|]H[|] = [0-9.]+e-(09|1[0-9])")
string(REGEX MATCHALL "\n +[0-9]+  [0-9][0-9.e+-]* +[0-9.e+-]+  [0-9][0-9.e+-]*" rows "${softmax_part}")
list(LENGTH rows count)
check(count GREATER_EQUAL 3)
foreach(row IN LISTS rows)
  string(REGEX MATCH "[0-9.e+-]+$" ratio "${row}")
  check(ratio LESS 50)
endforeach()

# (b) Parameter counts and Hessian sizes of real models.
check(text MATCHES "linear classifier, CIFAR-10 +30,730 +944,332,900 +3[.]78 GB")
check(text MATCHES "two-layer net, CIFAR-10, H = 100 +308,310 +95,055,056,100 +380 GB")
check(text MATCHES "`slope train` default +305,290 ")

# Pictures: complete SVG documents with at least `lines` polylines.
function(check_svg name lines)
  set(file ${OUT}/${name}.svg)
  if(NOT EXISTS ${file})
    message(SEND_ERROR "failed: ${file} was not written")
    return()
  endif()
  file(READ ${file} svg)
  string(REGEX MATCHALL "<polyline " found "${svg}")
  list(LENGTH found count)
  check(count GREATER_EQUAL ${lines})
  if(NOT svg MATCHES "^(<[?]xml [^>]*>\n)?<svg " OR NOT svg MATCHES "</svg>\n?$")
    message(SEND_ERROR "failed: ${file} is not a complete SVG document")
  endif()
endfunction()
check_svg(second-convergence 3)

# Missing data is a failure, not a skip (CI installs dataset-fashion-mnist).
if(NOT EXISTS /usr/share/datasets/fashion-mnist)
  message(FATAL_ERROR "parts (c) and (d) need Fashion-MNIST at /usr/share/datasets/fashion-mnist "
                      "(Debian: dataset-fashion-mnist)")
endif()

# (c) Full batch: L-BFGS ends below Adam and is ahead after 10 and 25 evaluations.
capture("\n  L-BFGS, full batch +end +([0-9.]+) " lbfgs_end)
capture("\n  Adam lr 0.01, full batch +end +([0-9.]+) " adam_end)
check(lbfgs_end LESS adam_end)
foreach(k 10 25)
  capture("\n +${k} +([0-9.]+) +[0-9.]+\n" lb)
  capture("\n +${k} +[0-9.]+ +([0-9.]+)\n" ad)
  check(lb LESS ad)
endforeach()
# (d) Minibatch noise: both minibatch L-BFGS runs end above the full-batch run
# (or diverge); Adam on the same minibatches ends finite.
if(NOT text MATCHES "at the end: L-BFGS full batch ([0-9.]+), minibatch ([0-9.]+|diverged), minibatch without line search ([0-9.]+|diverged)\n")
  message(FATAL_ERROR "failed: no line 'full-batch loss at the end: ...'")
endif()
set(full ${CMAKE_MATCH_1})
set(wolfe ${CMAKE_MATCH_2})
set(plain ${CMAKE_MATCH_3})
check(wolfe STREQUAL "diverged" OR full LESS wolfe)
check(plain STREQUAL "diverged" OR full LESS plain)
capture("\n  Adam lr 0.003, minibatch 100 +end +([0-9.]+) " adam_mb)
check(adam_mb LESS 1)
check_svg(second-fullbatch 2)
check_svg(second-minibatch 4)
