# Checks of example_hessian_free (examples/hessian_free.cpp), in one file with
# two roles. Included by tests/register_examples.cmake it registers the test;
# run as a script (cmake -DEXE=... -DOUT=... -P hessian_free.cmake) it runs the
# program with --quick and checks what it prints and writes: a Hessian-vector
# product costs a few gradients and the full Hessian N of them; Newton-CG on
# the linear classifier gets to the best loss in fewer iterations than L-BFGS
# and far fewer than gradient descent and Adam; on the two-layer net it leads
# them per iteration early on; the pictures are complete SVG files. Without
# Fashion-MNIST the program exits 1 naming the data, and the check fails. About 3 s.

if(NOT CMAKE_SCRIPT_MODE_FILE)
  slope_example_check(hessian_free "hessian_free shows Hessian-vector products at the cost of a gradient and Newton-CG against L-BFGS, gradient descent and Adam")
  return()
endif()

include(${CMAKE_CURRENT_LIST_DIR}/../example_script.cmake)  # check(), capture(), run_example()

# A bad option exits 2 naming it; then the run.
run_example(--quick --out ${OUT})

# (a) H v costs less than 5 gradients; the full Hessian is N = 7850 of them.
if(text MATCHES "Hessian-vector product H v +[0-9.]+ ms += ([0-9.]+) gradients")
  check(CMAKE_MATCH_1 LESS 5)
else()
  message(SEND_ERROR "failed: no Hessian-vector product timing")
endif()
check(text MATCHES "the full Hessian: N = 7850 products, [0-9.e+]+ s, and N.2 = 6[.]16e[+]07 numbers [(]0[.]246 GB")

# The rows of a method in a part: iterations, H v, backward, seconds, final loss.
function(method part label prefix)
  if(NOT part MATCHES "\n  ${label}[^\n]* +([0-9]+) +([0-9]+) +([0-9]+) +([0-9.]+) +([0-9.]+) +[0-9.]+% +([0-9.]+|never)\n")
    message(SEND_ERROR "failed: no row for ${label}")
    return()
  endif()
  set(${prefix}_iterations ${CMAKE_MATCH_1} PARENT_SCOPE)
  set(${prefix}_hvps ${CMAKE_MATCH_2} PARENT_SCOPE)
  set(${prefix}_final ${CMAKE_MATCH_5} PARENT_SCOPE)
  set(${prefix}_reached ${CMAKE_MATCH_6} PARENT_SCOPE)
endfunction()
# Column c (1: Newton-CG, 2: L-BFGS, 3: GD, 4: Adam) of the row "k" of a part's table.
function(loss_at part k c var)
  if(NOT part MATCHES "\n +${k} +([0-9.]+|-) +([0-9.]+|-) +([0-9.]+|-) +([0-9.]+|-)\n")
    message(SEND_ERROR "failed: no row k = ${k}")
    set(${var} "missing" PARENT_SCOPE)
    return()
  endif()
  set(${var} ${CMAKE_MATCH_${c}} PARENT_SCOPE)
endfunction()

string(FIND "${text}" "\n(c) " split)
check(NOT split EQUAL -1)
string(SUBSTRING "${text}" 0 ${split} linear)
string(SUBSTRING "${text}" ${split} -1 net)

# (b) The linear classifier (convex): Newton-CG reaches the best loss (within
# 1e-3) and is ahead of every other method after 5 and 10 iterations.
method("${linear}" "Newton-CG" ncg)
method("${linear}" "L-BFGS" lbfgs)
method("${linear}" "gradient descent" gd)
check(ncg_hvps GREATER 0 AND lbfgs_hvps EQUAL 0)
check(NOT ncg_reached STREQUAL "never")
check(ncg_final LESS_EQUAL gd_final)
foreach(k 5 10)
  foreach(c 2 3 4)
    loss_at("${linear}" ${k} 1 n)
    loss_at("${linear}" ${k} ${c} other)
    check(n LESS other)
  endforeach()
endforeach()
# (c) The two-layer net (not convex): Newton-CG ahead of all per iteration at
# 5 and 10, and below gradient descent at the end.
method("${net}" "Newton-CG" ncg)
method("${net}" "gradient descent" gd)
check(ncg_final LESS gd_final)
foreach(k 5 10)
  foreach(c 2 3 4)
    loss_at("${net}" ${k} 1 n)
    loss_at("${net}" ${k} ${c} other)
    check(n LESS other)
  endforeach()
endforeach()
check(text MATCHES "Newton-CG: CG stopped on negative curvature in [0-9]+ and at its cap in [0-9]+ of [0-9]+ iterations")

foreach(name hessian-free-linear hessian-free-net)
  set(file ${OUT}/${name}.svg)
  if(NOT EXISTS ${file})
    message(SEND_ERROR "failed: ${file} was not written")
    continue()
  endif()
  file(READ ${file} svg)
  string(REGEX MATCHALL "<polyline " found "${svg}")
  list(LENGTH found count)
  check(count GREATER_EQUAL 8)
  if(NOT svg MATCHES "</svg>\n?$")
    message(SEND_ERROR "failed: ${file} is not a complete SVG document")
  endif()
endforeach()
