# example_knn with short settings (1000 training, 300 validation, 300 test
# images, k = 1..8). This one file does two jobs: included by
# tests/register_examples.cmake it registers the test; run as
# `cmake -P knn.cmake -DEXE=... -DOUT=...` it runs the program and checks what
# it prints and writes.
if(NOT CMAKE_SCRIPT_MODE_FILE)
  slope_example_check(knn "knn chooses k and the distance on validation, scores the test set once, draws three SVGs")
  return()
endif()

# ---- script mode: run and check ------------------------------------------------
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})

# A bad command line exits 2 naming the option, before loading any data.
execute_process(COMMAND ${EXE} --kmax 0 --out ${OUT} ERROR_VARIABLE err RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 2 OR NOT err MATCHES "--kmax: expected an integer >= 1, got '0'")
  message(FATAL_ERROR "--kmax 0 should exit 2 naming --kmax; got ${rc}: ${err}")
endif()
execute_process(
  COMMAND ${EXE} --train-size 1000 --val-size 300 --test-size 300 --kmax 8 --out ${OUT}
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
message("${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "example_knn exited with ${rc}: ${err}")
endif()

# The validation table: one row per k, L1 and L2 accuracy, all plausible.
string(REGEX MATCHALL "\n +[0-9]+ +[0-9.]+% +[0-9.]+%" rows "${out}")
list(LENGTH rows n)
if(NOT n EQUAL 8)
  message(FATAL_ERROR "expected 8 rows of validation accuracy (k = 1..8), found ${n}")
endif()
set(best -1)
foreach(row IN LISTS rows)
  string(REGEX MATCH "([0-9]+) +([0-9]+)\\.([0-9])% +([0-9]+)\\.([0-9])%" _ "${row}")
  foreach(acc "${CMAKE_MATCH_2}${CMAKE_MATCH_3}" "${CMAKE_MATCH_4}${CMAKE_MATCH_5}")
    if(acc LESS 650 OR acc GREATER 950)  # per mille; a 1000-image k-NN lands near 75-80%
      message(FATAL_ERROR "validation accuracy ${acc} per mille is implausible in row '${row}'")
    endif()
    if(acc GREATER best)
      set(best ${acc})
    endif()
  endforeach()
endforeach()

# The choice is the best validation accuracy of the table.
if(NOT out MATCHES "chosen on validation: (L1|L2) distance, k = ([0-9]+) \\(([0-9]+)\\.([0-9])% validation")
  message(FATAL_ERROR "no 'chosen on validation' line")
endif()
if(NOT "${CMAKE_MATCH_3}${CMAKE_MATCH_4}" EQUAL best)
  message(FATAL_ERROR "the chosen setting has ${CMAKE_MATCH_3}.${CMAKE_MATCH_4}% but the best in the table is ${best} per mille")
endif()

# The test set is scored exactly once, after the choice, with the chosen setting.
string(REGEX MATCHALL "test accuracy" tests "${out}")
list(LENGTH tests n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "the test accuracy is printed ${n} times, not once")
endif()
string(REGEX MATCH "chosen on validation: (L1|L2) distance, k = ([0-9]+) " _ "${out}")
set(chosen "${CMAKE_MATCH_1}, k = ${CMAKE_MATCH_2}")
if(NOT out MATCHES "chosen on validation: .*test accuracy \\(scored once\\): (6[5-9]|[78][0-9])\\.[0-9]% with ${chosen}\n")
  message(FATAL_ERROR "the test accuracy is missing, outside 65-90%, or not for the chosen setting (${chosen})")
endif()

# The unit balls rank A and B differently, and k-NN on the spiral.
if(NOT out MATCHES "L1: \\|A\\| = 1.000, \\|B\\| = 1.200" OR NOT out MATCHES "L2: \\|A\\| = 1.000, \\|B\\| = 0.849")
  message(FATAL_ERROR "the unit-ball distances are wrong")
endif()
if(NOT out MATCHES "1-NN: training accuracy 99.3%" OR NOT out MATCHES "5-NN: training accuracy (8[0-9]|9[0-8])\\.[0-9]%")
  message(FATAL_ERROR "1-NN must fit the spiral's training points (all but two of the three shared centre points), 5-NN fewer")
endif()

# The pictures: complete SVG documents with the expected layers.
function(check_svg file)
  if(NOT EXISTS ${OUT}/${file})
    message(FATAL_ERROR "${file} was not written")
  endif()
  file(READ ${OUT}/${file} svg)
  if(NOT svg MATCHES "^<\\?xml|^<svg" OR NOT svg MATCHES "</svg>[ \n]*$")
    message(FATAL_ERROR "${file} is not a complete SVG document")
  endif()
  foreach(needle IN LISTS ARGN)
    string(FIND "${svg}" "${needle}" at)
    if(at LESS 0)
      message(FATAL_ERROR "${file} lacks '${needle}'")
    endif()
  endforeach()
endfunction()
check_svg(knn-k.svg "<polyline" "L1 (Manhattan)" "L2 (Euclidean)" "chosen: ")
check_svg(knn-unit-balls.svg "class=\"contour\"" "data-level=\"1\"" "a diamond" "a circle")
check_svg(knn-regions.svg "class=\"regions\"" "class=\"scatter\"" "1-NN decision regions" "5-NN decision regions")
