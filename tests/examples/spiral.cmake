# Checks of example_spiral (examples/spiral.cpp), in one file with two roles.
# Included by tests/register_examples.cmake it registers the test; run as a
# script (cmake -DEXE=... -DOUT=... -P spiral.cmake) it runs the program for
# 500 full-batch steps and checks what it prints and writes: the linear
# classifier stays near 50% while the two-layer net separates the arms
# (>= 99%), accuracy grows with the hidden size, and the two pictures are
# complete SVG documents with one regions layer and three scatter layers (one
# per class) per panel. About 1 s.

if(NOT CMAKE_SCRIPT_MODE_FILE)
  slope_example_check(spiral "spiral shows linear below 60% and two-layer at 99% or more, and draws their decision regions")
  return()
endif()

# ---- script mode ---------------------------------------------------------------

include(${CMAKE_CURRENT_LIST_DIR}/../example_script.cmake)  # check(), capture(), run_example()

# A bad option exits 2 naming it; then the run.
run_example(500 --out ${OUT})

# The lecture's point: no line separates the arms, one hidden layer does.
check(text MATCHES "linear [1-5][0-9][.][0-9]%  vs  two-layer (99[.][0-9]|100[.]0)%")

# Capacity: two hidden units are not enough; accuracy grows with H to >= 99%.
foreach(h 2 5 20 100)
  if(NOT text MATCHES "H = +${h} +([0-9.]+)%")
    message(FATAL_ERROR "failed: no accuracy for H = ${h}")
  endif()
  set(acc_${h} ${CMAKE_MATCH_1})
endforeach()
check(acc_2 LESS 60)
check(acc_5 GREATER acc_2)
check(acc_20 GREATER 95)
check(acc_100 GREATER_EQUAL 99)

# The pictures: one root <svg> holding one nested <svg> per panel; each panel a
# regions layer and three scatter layers.
foreach(picture spiral-regions:2 spiral-hidden:4)
  string(REPLACE ":" ";" picture "${picture}")
  list(GET picture 0 name)
  list(GET picture 1 panels)
  set(file ${OUT}/${name}.svg)
  if(NOT EXISTS ${file})
    message(SEND_ERROR "failed: ${file} was not written")
    continue()
  endif()
  file(READ ${file} svg)
  if(NOT svg MATCHES "^(<[?]xml [^>]*>\n)?<svg " OR NOT svg MATCHES "</svg>\n?$")
    message(SEND_ERROR "failed: ${file} is not a complete SVG document")
  endif()
  string(REGEX MATCHALL "<svg " opened "${svg}")
  string(REGEX MATCHALL "</svg>" closed "${svg}")
  list(LENGTH opened n_open)
  list(LENGTH closed n_closed)
  math(EXPR expected "${panels} + 1")
  check(n_open EQUAL expected AND n_closed EQUAL expected)
  string(REGEX MATCHALL "class=\"regions\"" regions "${svg}")
  string(REGEX MATCHALL "class=\"scatter\"" scatters "${svg}")
  list(LENGTH regions n_regions)
  list(LENGTH scatters n_scatters)
  math(EXPR expected "3 * ${panels}")
  check(n_regions EQUAL panels AND n_scatters EQUAL expected)
endforeach()
