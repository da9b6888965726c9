# example_losses: the lecture's worked example of section 2. This one file does
# two jobs: included by tests/register_examples.cmake it registers the test; run
# as `cmake -P losses.cmake -DEXE=... -DOUT=...` it runs the program and checks
# the numbers it prints (against values worked out by hand, see
# docs/tutorials/02-loss-functions.md) and the picture it writes.
if(NOT CMAKE_SCRIPT_MODE_FILE)
  slope_example_check(losses "losses prints the lecture's softmax and SVM numbers and draws both against the margin")
  return()
endif()

# ---- script mode: run and check ------------------------------------------------
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
execute_process(COMMAND ${EXE} --out ${OUT} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
message("${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "example_losses exited with ${rc}: ${err}")
endif()

# Each pattern is one printed fact, rounded as printed (4 decimals).
set(expected
  # softmax: p(cat | cat image) = e^3.2 / (e^3.2 + e^5.1 + e^-1.7) = 0.13, L = -ln 0.13 = 2.04
  "cat   exp\\(s\\) = +24\\.53 +164\\.02 +0\\.18 +p = 0\\.1300 0\\.8690 0\\.0010 +p\\(correct\\) = 0\\.1300  L_i = 2\\.0404"
  "car .* L_i = 0\\.0791\n"
  "frog .* p\\(correct\\) = 0\\.0021  L_i = 6\\.1565"
  "softmax data loss L = 1/N sum_i L_i = 2\\.7587"
  # SVM: 2.9, 0 and 12.9, mean 5.27
  "cat   L_i = max\\(0, 5\\.1 - 3\\.2 \\+ 1\\) \\+ max\\(0, -1\\.7 - 3\\.2 \\+ 1\\) = 2\\.9000"
  "car   L_i = .* = 0\\.0000"
  "frog  L_i = .* = 12\\.9000"
  "SVM data loss L = 1/N sum_i L_i = 5\\.2667"
  # full loss: R(W) = sum of the nine scores squared = 89.54
  "R\\(W\\) = sum W\\^2 = 89\\.5400"
  " 0 +2\\.7587 +5\\.2667\n"
  " 0\\.01 +3\\.6541 +6\\.1621\n"
  " 0\\.1 +11\\.7127 +14\\.2207\n"
  # small weights: ln(10) = 2.3026 and C - 1 = 9
  "initial softmax loss 2\\.30[23][0-9]  \\(ln\\(C\\) = 2\\.3026\\)"
  "initial SVM loss (8\\.99[5-9][0-9]|9\\.00[0-4][0-9])  \\(C - 1 = 9\\)"
  # two classes: softmax log(1 + e^-m), SVM max(0, 1 - m)
  " 0\\.0 +0\\.6931 +1\\.0000\n"
  " 1\\.0 +0\\.3133 +0\\.0000\n"
  " 4\\.0 +0\\.0181 +0\\.0000\n"
  "largest \\|slope - formula by hand\\| = [0-9.]+e-(1[2-9]|[2-9][0-9])")
foreach(pattern IN LISTS expected)
  if(NOT out MATCHES "${pattern}")
    message(FATAL_ERROR "example_losses did not print a line matching: ${pattern}")
  endif()
endforeach()

# The picture: a complete SVG with both curves, their legend and the m = 1 line.
set(svg_file ${OUT}/loss-softmax-vs-svm.svg)
if(NOT EXISTS ${svg_file})
  message(FATAL_ERROR "loss-softmax-vs-svm.svg was not written")
endif()
file(READ ${svg_file} svg)
if(NOT svg MATCHES "^<\\?xml|^<svg" OR NOT svg MATCHES "</svg>[ \n]*$")
  message(FATAL_ERROR "loss-softmax-vs-svm.svg is not a complete SVG document")
endif()
string(REGEX MATCHALL "<polyline" lines "${svg}")
list(LENGTH lines n)
if(n LESS 2)
  message(FATAL_ERROR "loss-softmax-vs-svm.svg has ${n} polylines, expected the two loss curves")
endif()
foreach(needle "softmax: log(1 + exp(-m))" "SVM: max(0, 1 - m)" "m = 1: SVM satisfied")
  string(FIND "${svg}" "${needle}" at)
  if(at LESS 0)
    message(FATAL_ERROR "loss-softmax-vs-svm.svg lacks '${needle}'")
  endif()
endforeach()
