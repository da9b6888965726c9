# The NumPy interop check, both ways (registered by tests/register_interop.cmake):
#
#   cmake -DEXE=<interop_check> -DPYTHON=/usr/bin/python3 -DSCRIPTS=<tests/interop>
#         -DOUT=<scratch dir> -P run_interop.cmake
#
# 1. slope -> NumPy: interop_check trains and exports several models;
#    read_state_dict.py reads each file with numpy and json only, rebuilds the
#    forward pass from the metadata and must match slope's scores to 1e-6
#    (relative to each row's largest score) in float64 (slope's float64 twin,
#    the same weights), and to 3e-5 the float32 model's own scores (float32
#    rounding: about 1e-6 with FMA kernels, 1.1e-5 measured in the sanitizer
#    build without -march=native; a dot product of n terms may be off by
#    n x 2^-24, 1e-5 at the 170 terms of these models); where torch is importable, torch.nn layers must match numpy;
#    the .npy export must hold the same arrays.
# 2. NumPy -> slope: write_state_dict.py writes files for slope's MLPs with
#    numpy only; interop_check loads each with train::load_model (and its
#    float64 twin) and must match numpy's scores, to the same tolerances.
# Python 3 and numpy are required: without them the test FAILS (CI installs
# python3-numpy); torch is optional.

foreach(var EXE PYTHON SCRIPTS OUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_interop.cmake needs -D${var}=...")
  endif()
endforeach()

execute_process(COMMAND ${PYTHON} -c "import numpy; print(numpy.__version__)"
                OUTPUT_VARIABLE numpy_version ERROR_VARIABLE err RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the interop check needs ${PYTHON} with numpy (Debian: python3-numpy): ${rc} ${err}")
endif()
message(STATUS "numpy ${numpy_version} at ${PYTHON}")

# run(<what> COMMAND ...): runs a command, prints its output, fails on a nonzero status.
function(run what)
  execute_process(${ARGN} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  message(STATUS "${out}")
  if(NOT rc EQUAL 0)
    message(SEND_ERROR "${what} failed (${rc}): ${out}${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})

# ---- 1. slope writes, NumPy reads -------------------------------------------------
run("interop_check export" COMMAND ${EXE} export ${OUT})
file(STRINGS ${OUT}/models.txt models)
list(LENGTH models n)
if(n LESS 5)
  message(FATAL_ERROR "expected at least 5 exported models, got ${n}")
endif()
foreach(m IN LISTS models)
  run("read_state_dict.py ${m}"
      COMMAND ${PYTHON} ${SCRIPTS}/read_state_dict.py ${OUT}/${m}.safetensors ${OUT}/raw.npy
              --compare64 ${OUT}/${m}_scores64.npy --rtol 1e-6 --compare ${OUT}/${m}_scores.npy --rtol32 3e-5
              --npy-dir ${OUT}/${m}_npy)
  foreach(kind "float64:1e-06" "float32:3e-05")
    string(REPLACE ":" ";" kind "${kind}")
    list(GET kind 0 type)
    list(GET kind 1 rtol)
    if(NOT last_output MATCHES "slope's ${type} scores [0-9.e+-]+ \\(rtol ${rtol}\\), 300 of 300 predictions equal: agree")
      message(SEND_ERROR "${m}: numpy does not report agreement with slope's ${type} scores on all 300 examples")
    endif()
  endforeach()
  if(NOT last_output MATCHES "npy: the [0-9]+ .npy files hold the same arrays")
    message(SEND_ERROR "${m}: the .npy export was not checked")
  endif()
endforeach()

# ---- 2. NumPy writes, slope reads ---------------------------------------------------
set(written
    "mlp_tanh_f32:--model mlp --hidden 16,8 --activation tanh --dropout 0.2,0.1 --dtype f32"
    "residual_gelu_f64:--model residual --hidden 12 --blocks 2 --activation gelu --dtype f64"
    "two_layer_sigmoid:--model two-layer --hidden 10 --activation sigmoid --dtype f32"
    "mlp_relu_dropout:--model mlp --hidden 12,6 --activation relu --dropout 0.5 --dtype f32")
foreach(entry IN LISTS written)
  string(REPLACE ":" ";" entry "${entry}")
  list(GET entry 0 name)
  list(GET entry 1 options)
  separate_arguments(options UNIX_COMMAND "${options}")
  run("write_state_dict.py ${name}"
      COMMAND ${PYTHON} ${SCRIPTS}/write_state_dict.py ${OUT}/py_${name}.safetensors ${OUT}/raw.npy
              ${OUT}/py_${name}_scores.npy ${options} --seed 7)
  run("interop_check import ${name}"
      COMMAND ${EXE} import ${OUT}/py_${name}.safetensors ${OUT}/raw.npy ${OUT}/py_${name}_scores.npy 1e-6 3e-5)
  if(NOT last_output MATCHES "300 examples, max relative score difference [0-9.e+-]+ in float64 \\(rtol 1e-06\\), [0-9.e+-]+ in float32 \\(rtol 3e-05\\): agree")
    message(SEND_ERROR "${name}: slope does not report agreement with numpy")
  endif()
endforeach()
