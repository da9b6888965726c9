# Checks of example_custom_model (examples/custom_model.cpp) and of its NumPy
# half (examples/custom_model.py), in one file with two roles. Included by
# tests/register_examples.cmake it registers the test; run as a script
# (cmake -DEXE=... -DOUT=... -DPYTHON=... -DSOURCE=... -P custom_model.cmake)
# it trains the user's residual tanh net on 5000 Fashion-MNIST images for 2
# epochs and checks what it prints: the parameter names, the float64 twin's
# gradcheck, accuracy well above chance, the nn::load round trip, and NumPy's
# predictions agreeing with slope's. A few seconds. Fails without
# /usr/bin/python3 and numpy (CI installs python3-numpy).

if(NOT CMAKE_SCRIPT_MODE_FILE)
  slope_example_check(custom_model "custom_model: a user's residual tanh net passes gradcheck, trains above 70%, and NumPy reads it with the same predictions"
                      DEFINES -DPYTHON=/usr/bin/python3 -DSOURCE=${PROJECT_SOURCE_DIR})
  return()
endif()

# ---- script mode ---------------------------------------------------------------

include(${CMAKE_CURRENT_LIST_DIR}/../example_script.cmake)  # check(), capture()

# expect(<text> <regex>): the text matches the regular expression.
function(expect text regex)
  if(NOT text MATCHES "${regex}")
    message(SEND_ERROR "failed: the output does not match /${regex}/")
  endif()
endfunction()

# A bad command line exits 2 naming the option, before loading any data.
execute_process(COMMAND ${EXE} --epochs 0 ERROR_VARIABLE err RESULT_VARIABLE rc OUTPUT_QUIET)
check(rc EQUAL 2)
expect("${err}" "--epochs: expected an integer in \\[1, 1000\\], got '0'")
execute_process(COMMAND ${EXE} --layers 3 ERROR_VARIABLE err RESULT_VARIABLE rc OUTPUT_QUIET)
check(rc EQUAL 2)
expect("${err}" "unknown option --layers")

file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
execute_process(COMMAND ${EXE} --train-size 5000 --test-size 1000 --epochs 2 --out ${OUT}
                OUTPUT_VARIABLE text ERROR_VARIABLE err RESULT_VARIABLE rc)
message(STATUS "${text}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "example_custom_model exited with ${rc}: ${err}")
endif()

# 1. Registration: dotted names in registration order, with their shapes.
expect("${text}" "in.W +\\(784, 256\\)\n +in.b +\\(256,\\)\n +mid.W +\\(256, 256\\)\n +mid.b +\\(256,\\)\n +out.W +\\(256, 10\\)\n +out.b +\\(10,\\)")
expect("${text}" "269322 parameters")
# 2. The float64 twin passes the gradient check (5 x 40 entries + out.b's 10).
expect("${text}" "gradcheck ok: 210 entries, worst relative error [0-9.]+e-(0[6-9]|1[0-9])")
# 3. Two epochs, the loss falls, test accuracy well above chance (10%).
string(REGEX MATCHALL "epoch +[0-9]+  loss [0-9.]+" epochs "${text}")
list(LENGTH epochs n)
check(n EQUAL 2)
if(NOT text MATCHES "test accuracy ([0-9]+)\\.[0-9]+% on 1000 images")
  message(FATAL_ERROR "no test accuracy line")
endif()
check(CMAKE_MATCH_1 GREATER_EQUAL 70)
# 4. The state_dict file and the round trip into a fresh model.
expect("${text}" "metadata slope.architecture, slope.classes, slope.custom_model, slope.dataset, slope.image, slope.inputs, slope.preprocess")
expect("${text}" "nn::load into a fresh model: its scores of the test images are bitwise equal")
check(EXISTS ${OUT}/custom_model.safetensors AND EXISTS ${OUT}/test_images.npy AND EXISTS ${OUT}/slope_scores.npy)

# 5. NumPy reads the file and predicts the same classes.
execute_process(COMMAND ${PYTHON} ${SOURCE}/examples/custom_model.py ${OUT}
                OUTPUT_VARIABLE py ERROR_VARIABLE err RESULT_VARIABLE rc)
message(STATUS "${py}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "examples/custom_model.py exited with ${rc} (needs ${PYTHON} with numpy): ${py}${err}")
endif()
expect("${py}" "read 6 tensors of ResidualTanhNet")
expect("${py}" "numpy: predictions agree with slope on 1000 of 1000 test images; max relative score difference [0-9.]+e-0[6-9]")
