# Numeric and command-line faults of the slope program (src/cli): one CTest per
# case of tests/cli/run_fault_checks.sh, named "fault: ...". They complement the
# usage checks of register_cli.cmake with what a failure must NOT do: overwrite
# the last good checkpoint, or leave any file behind. Everything runs on the
# spiral, so no data files are needed.
if(TARGET slope_cli)
  find_program(SLOPE_BASH bash)
  set(SLOPE_FAULT_CHECKS ${CMAKE_CURRENT_SOURCE_DIR}/cli/run_fault_checks.sh)

  # slope_fault_case(<title> <case>): registers "fault: <title>".
  function(slope_fault_case title case_name)
    add_test(NAME "fault: ${title}"
      COMMAND ${SLOPE_BASH} ${SLOPE_FAULT_CHECKS} $<TARGET_FILE:slope_cli> ${case_name})
    set_tests_properties("fault: ${title}" PROPERTIES
      TIMEOUT 120 LABELS "cli;fault" FAIL_REGULAR_EXPRESSION "FAIL \\[")
  endfunction()

  slope_fault_case("a diverging run (sgd, lr 1e10) exits 1 naming the step and NaN/Inf, and keeps the last good checkpoint" diverging_keeps_checkpoint)
  slope_fault_case("a run diverging after its first epoch exits 1 and leaves a loadable checkpoint" diverging_after_an_epoch)
  slope_fault_case("an update that overflows the weights (lr 1e39) stops at step 1 before any save" overflowing_update)
  slope_fault_case("bad values (lr, batch, optimizer, hidden) exit 2 naming the option and write nothing" bad_values_write_nothing)
  slope_fault_case("a missing --data-dir exits 2 naming it and writes nothing" missing_data_dir_writes_nothing)
  slope_fault_case("--save or --metrics under a regular file or onto a directory exits 2 naming the option" unwritable_paths)
  slope_fault_case("a FIFO as --checkpoint or --resume gives an error, not a hang" fifo_checkpoint)
endif()
