# example_schedules with short settings (12000 training images, 4 epochs per
# schedule, 1 epoch per linear-scaling run). This one file does two jobs:
# included by tests/register_examples.cmake it registers the test; run as
# `cmake -P schedules.cmake -DEXE=... -DOUT=...` it runs the program and checks
# what it prints and writes.
if(NOT CMAKE_SCRIPT_MODE_FILE)
  slope_example_check(schedules "schedules match the lecture's formulas, decaying ones end below constant, the linear scaling rule holds")
  return()
endif()

# ---- script mode: run and check ------------------------------------------------
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
execute_process(
  COMMAND ${EXE} --train 12000 --epochs 4 --scaling-epochs 1 --out ${OUT}
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
message("${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "example_schedules exited with ${rc}: ${err}")
endif()

# A number printed with a fixed number of decimals, as an integer in units of
# its last decimal ("0.4039" -> 4039), for math(EXPR).
function(fixed_to_int text var)
  string(REPLACE "." "" digits "${text}")
  string(REGEX REPLACE "^0+([0-9])" "\\1" digits "${digits}")
  set(${var} ${digits} PARENT_SCOPE)
endfunction()

# 12000 images, 1000 held out, batch 128: 86 steps per epoch, T = 344.
set(labels "constant" "step decay" "cosine" "linear decay" "inverse sqrt" "warm-up \\+ cosine")

# The formulas: for every schedule, slope's learning rates at the probed steps
# are printed identically to the lecture's formula, and agree at every step.
string(REGEX MATCHALL "\n    slope  [^\n]*\n    formula[^\n]*\n    largest \\|slope - formula\\| over all 344 steps: [^\n]*" blocks "${out}")
list(LENGTH blocks n)
if(NOT n EQUAL 6)
  message(FATAL_ERROR "expected 6 formula blocks over 344 steps, found ${n}")
endif()
foreach(block IN LISTS blocks)
  string(REGEX MATCH "slope  ([^\n]*)\n    formula([^\n]*)\n[^\n]*steps: ([0-9.e+-]+)" _ "${block}")
  if(NOT CMAKE_MATCH_1 STREQUAL CMAKE_MATCH_2)
    message(FATAL_ERROR "slope's learning rates differ from the formula:\n  slope  ${CMAKE_MATCH_1}\n  formula${CMAKE_MATCH_2}")
  endif()
  if(NOT CMAKE_MATCH_3 LESS 1e-12)
    message(FATAL_ERROR "slope and the formula differ by ${CMAKE_MATCH_3} somewhere in the run")
  endif()
endforeach()
if(NOT out MATCHES "all six schedules agree with the lecture's formulas: yes")
  message(FATAL_ERROR "the schedules do not all agree with the formulas")
endif()
# Values the formulas fix: cosine and linear decay are at lr0 / 2 at T / 2; step
# decay is at lr0 / 100 after 3T / 4; warm-up is halfway at W / 2 = 43 and at
# the peak at W = 86; inverse sqrt starts at lr0.
foreach(expect
    "cosine  +lr_t[^\n]*\n +t +0 +86 +172 +258 +343\n +slope +0\\.300000 +0\\.256066 +0\\.150000 +0\\.043934 "
    "linear decay +lr_t[^\n]*\n[^\n]*\n +slope +0\\.300000 +0\\.225000 +0\\.150000 +0\\.075000 "
    "step decay +lr_t[^\n]*\n[^\n]*\n +slope +0\\.300000 +0\\.300000 +0\\.030000 +0\\.003000 +0\\.003000"
    "inverse sqrt +lr_t[^\n]*\n[^\n]*\n +slope +0\\.300000 +0\\.032163 "
    "warm-up \\+ cosine +lr_t[^\n]*\n +t +0 +43 +86 +172 [^\n]*\n +slope +0\\.000000 +0\\.150000 +0\\.300000 ")
  if(NOT out MATCHES "${expect}")
    message(FATAL_ERROR "a learning rate is not where the formula puts it: no match for '${expect}'")
  endif()
endforeach()

# Training: one row per schedule with 4 epoch losses, the final training loss
# and the validation accuracy.
foreach(label IN LISTS labels)
  string(REGEX REPLACE "[^a-z]+" "_" key "${label}")  # before the match: it resets CMAKE_MATCH_n
  if(NOT out MATCHES "\n  ${label} +([0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+) +([0-9.]+) +([0-9.]+)%")
    message(FATAL_ERROR "no training row for ${label}")
  endif()
  set(epochs_${key} "${CMAKE_MATCH_1}")
  set(final_${key} ${CMAKE_MATCH_2})
  if(CMAKE_MATCH_3 LESS 75.0)
    message(FATAL_ERROR "${label}: validation accuracy ${CMAKE_MATCH_3}% is too low for the linear classifier")
  endif()
endforeach()
# Constant and step decay are the same run until the first milestone (epoch 2
# of 4): the first two epoch losses are printed identically; after it, step
# decay is lower.
string(REGEX REPLACE " +" ";" constant_epochs "${epochs_constant}")
string(REGEX REPLACE " +" ";" step_epochs "${epochs_step_decay}")
list(SUBLIST constant_epochs 0 2 c_head)
list(SUBLIST step_epochs 0 2 s_head)
if(NOT c_head STREQUAL s_head)
  message(FATAL_ERROR "constant (${c_head}) and step decay (${s_head}) should coincide before the milestone")
endif()
list(GET constant_epochs 3 c_last)
list(GET step_epochs 3 s_last)
if(NOT s_last LESS c_last)
  message(FATAL_ERROR "after the milestone step decay's loss (${s_last}) should fall below constant's (${c_last})")
endif()
# Every schedule that decays to (near) zero ends below the constant learning
# rate, which stalls at the level its noise allows.
foreach(key step_decay cosine linear_decay warm_up_cosine)
  if(NOT final_${key} LESS final_constant)
    message(FATAL_ERROR "${key} should end below constant: ${final_${key}} vs ${final_constant}")
  endif()
endforeach()
if(NOT final_inverse_sqrt GREATER final_cosine)
  message(FATAL_ERROR "inverse sqrt decays too fast early and should end above cosine: ${final_inverse_sqrt} vs ${final_cosine}")
endif()

# The linear scaling rule: batch x 4 with lr x 4 lands where batch 64 did
# (within 0.005); batch x 4 at the same lr is clearly behind (by over 0.05).
if(NOT out MATCHES "batch  64, lr 0\\.01 +base +training loss ([0-9.]+)")
  message(FATAL_ERROR "no base run of the linear scaling rule")
endif()
fixed_to_int(${CMAKE_MATCH_1} base)
if(NOT out MATCHES "batch 256, lr 0\\.01 +batch x 4, same lr +training loss ([0-9.]+)")
  message(FATAL_ERROR "no unscaled run of the linear scaling rule")
endif()
fixed_to_int(${CMAKE_MATCH_1} unscaled)
if(NOT out MATCHES "batch 256, lr 0\\.04 +batch x 4, lr x 4 +training loss ([0-9.]+)")
  message(FATAL_ERROR "no scaled run (lr 0.04 = scale_lr(0.01, 64, 256)) of the linear scaling rule")
endif()
fixed_to_int(${CMAKE_MATCH_1} scaled)
math(EXPR gap_scaled "${scaled} - ${base}")
math(EXPR gap_unscaled "${unscaled} - ${base}")
if(gap_scaled LESS -50 OR gap_scaled GREATER 50 OR gap_unscaled LESS 500)
  message(FATAL_ERROR "linear scaling: scaled run off the base by ${gap_scaled}e-4 (want |.| <= 50e-4), unscaled behind by ${gap_unscaled}e-4 (want >= 500e-4)")
endif()

# The pictures: complete SVG documents with one polyline per schedule.
foreach(file sched-loss.svg sched-lr.svg)
  if(NOT EXISTS ${OUT}/${file})
    message(FATAL_ERROR "${file} was not written")
  endif()
  file(READ ${OUT}/${file} svg)
  if(NOT svg MATCHES "^<\\?xml|^<svg" OR NOT svg MATCHES "</svg>[ \n]*$")
    message(FATAL_ERROR "${file} is not a complete SVG document")
  endif()
  string(REGEX MATCHALL "<polyline" lines "${svg}")
  list(LENGTH lines n)
  if(NOT n EQUAL 6)
    message(FATAL_ERROR "${file} has ${n} polylines, expected 6 (one per schedule)")
  endif()
  foreach(needle "constant" "step decay" "cosine" "linear decay" "inverse sqrt" "warm-up + cosine")
    string(FIND "${svg}" ">${needle}<" at)
    if(at LESS 0)
      message(FATAL_ERROR "${file} has no legend entry '${needle}'")
    endif()
  endforeach()
endforeach()
