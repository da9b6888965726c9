# example_linear_classifier with short settings (3000 training images, 3
# epochs), and once more on a tiny made-up CIFAR-10 directory for --cifar.
# This one file does two jobs: included by tests/register_examples.cmake it
# registers the tests; run as `cmake -P linear_classifier.cmake -DEXE=...
# -DOUT=... [-DCIFAR=ON]` it runs the program and checks what it prints and writes.
if(NOT CMAKE_SCRIPT_MODE_FILE)
  slope_example_check(linear_classifier "linear_classifier learns Fashion-MNIST, prints one image's scores, writes templates and regions")
  slope_example_check(linear_classifier "linear_classifier --cifar trains on CIFAR-10 batches and writes 32x32 RGB templates"
                      OUT cifar_ DEFINES -DCIFAR=ON)
  return()
endif()

# ---- script mode ---------------------------------------------------------------
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})

# A bad command line exits 2 naming the option, before loading any data.
execute_process(COMMAND ${EXE} --lr -1 --out ${OUT} ERROR_VARIABLE err RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 2 OR NOT err MATCHES "--lr: expected a number >= 0, got '-1'")
  message(FATAL_ERROR "--lr -1 should exit 2 naming --lr; got ${rc}: ${err}")
endif()

# A PNG of the given size and colour type (0 grey, 2 RGB): signature and IHDR.
function(check_png file width height color_type)
  if(NOT EXISTS ${OUT}/${file})
    message(FATAL_ERROR "${file} was not written")
  endif()
  file(READ ${OUT}/${file} head LIMIT 26 HEX)
  string(SUBSTRING "${head}" 0 16 signature)
  string(SUBSTRING "${head}" 24 8 chunk)
  string(SUBSTRING "${head}" 32 8 w)
  string(SUBSTRING "${head}" 40 8 h)
  string(SUBSTRING "${head}" 50 2 type)
  math(EXPR w "0x${w}")
  math(EXPR h "0x${h}")
  math(EXPR type "0x${type}")
  if(NOT signature STREQUAL "89504e470d0a1a0a" OR NOT chunk STREQUAL "49484452")
    message(FATAL_ERROR "${file} does not start with the PNG signature and an IHDR chunk: ${head}")
  endif()
  if(NOT w EQUAL width OR NOT h EQUAL height OR NOT type EQUAL color_type)
    message(FATAL_ERROR "${file} is ${w} x ${h}, colour type ${type}; expected ${width} x ${height}, type ${color_type}")
  endif()
endfunction()

if(CIFAR)
  # Six batch files of nine records each: a label byte (1..9; 0 is a NUL that
  # CMake strings cannot hold) and 3072 pixel bytes in two shades.
  set(cifar ${OUT}/cifar)
  file(MAKE_DIRECTORY ${cifar})
  foreach(batch data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch)
    set(bytes "")
    foreach(label RANGE 1 9)
      string(ASCII ${label} l)
      math(EXPR shade "20 * ${label}")
      string(ASCII ${shade} p)
      string(ASCII 250 q)
      string(REPEAT "${p}${q}" 1536 pixels)
      string(APPEND bytes "${l}${pixels}")
    endforeach()
    file(WRITE ${cifar}/${batch}.bin "${bytes}")
  endforeach()
  execute_process(COMMAND ${EXE} --train-size 30 --epochs 2 --cifar ${cifar} --out ${OUT}
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  message("${out}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "example_linear_classifier --cifar exited with ${rc}: ${err}")
  endif()
  if(NOT out MATCHES "cifar-10/train: [0-9]+ training, [0-9]+ validation images; W is \\(3072, 10\\)")
    message(FATAL_ERROR "no CIFAR-10 training run with W of shape (3072, 10)")
  endif()
  check_png(templates-cifar.png 648 258 2)
  return()
endif()

execute_process(COMMAND ${EXE} --train-size 3000 --epochs 3 --lr 3e-3 --out ${OUT}
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
message("${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "example_linear_classifier exited with ${rc}: ${err}")
endif()

# Training: three epochs, the data loss falls, accuracy well above chance (10%).
string(REGEX MATCHALL "epoch [0-9]+  data loss [0-9.]+" epochs "${out}")
list(LENGTH epochs n)
if(NOT n EQUAL 3)
  message(FATAL_ERROR "expected 3 epoch lines, found ${n}")
endif()
string(REGEX REPLACE "epoch [0-9]+  data loss " "" losses "${epochs}")
list(GET losses 0 first)
list(GET losses 2 last)
string(REPLACE "." "" first "${first}")
string(REPLACE "." "" last "${last}")
if(NOT last LESS first)
  message(FATAL_ERROR "the data loss did not fall over the epochs: ${losses}")
endif()
if(NOT out MATCHES "W is \\(784, 10\\), b has 10 entries")
  message(FATAL_ERROR "W must be (784, 10): slope's W is the lecture's transposed")
endif()
if(NOT out MATCHES "test accuracy (6[5-9]|[7-9][0-9]|100)\\.[0-9]% \\(10000 images, scored once\\)")
  message(FATAL_ERROR "test accuracy missing or below 65%")
endif()

# Algebraic view: ten scores, one prediction, each score the dot product.
string(REGEX MATCHALL "\n +[A-Za-z/ -]+ +-?[0-9]+\\.[0-9][0-9][0-9]" scores "${out}")
list(LENGTH scores n)
string(REGEX MATCHALL "<- highest score" predicted "${out}")
list(LENGTH predicted m)
if(NOT n EQUAL 10 OR NOT m EQUAL 1)
  message(FATAL_ERROR "expected 10 class scores and one prediction, found ${n} and ${m}")
endif()
# Any difference below 1e-4 passes, 0 included: a bound, not a band that a
# more exact sum would fall out of.
if(NOT out MATCHES "largest \\|x \\. W\\[:, c\\] \\+ b_c - s_c\\| = ([0-9.]+(e[-+][0-9]+)?)")
  message(FATAL_ERROR "no line with the largest difference between the scores and x . W[:, c] + b_c")
endif()
if(NOT CMAKE_MATCH_1 LESS 1e-4)
  message(FATAL_ERROR "the scores do not equal x . W[:, c] + b_c within 1e-4: ${CMAKE_MATCH_1}")
endif()

# Geometric view: lines separate the blobs, not the spiral.
if(NOT out MATCHES "blobs: training accuracy (9[5-9]|100)\\.[0-9]%")
  message(FATAL_ERROR "the linear classifier should separate the three blobs (95% or more)")
endif()
if(NOT out MATCHES "spiral: training accuracy ([3-5][0-9]|6[0-4])\\.[0-9]%")
  message(FATAL_ERROR "the linear classifier should stay below 65% on the spiral")
endif()

# Pictures: ten 28 x 28 templates upscaled 4x, 5 per row with 2-pixel gaps;
# the regions SVG with both panels.
check_png(templates-fashion.png 568 226 0)
set(svg_file ${OUT}/linear-regions.svg)
if(NOT EXISTS ${svg_file})
  message(FATAL_ERROR "linear-regions.svg was not written")
endif()
file(READ ${svg_file} svg)
if(NOT svg MATCHES "^<\\?xml|^<svg" OR NOT svg MATCHES "</svg>[ \n]*$")
  message(FATAL_ERROR "linear-regions.svg is not a complete SVG document")
endif()
foreach(needle "class=\"regions\"" "class=\"scatter\"" "<polyline" "three blobs: " "spiral: "
               "score of a class = 0")
  string(FIND "${svg}" "${needle}" at)
  if(at LESS 0)
    message(FATAL_ERROR "linear-regions.svg lacks '${needle}'")
  endif()
endforeach()
