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
  slope_fault_case("a model too large for memory exits 1 saying out of memory, not std::bad_alloc" out_of_memory)
  # Under ASan a failed allocation must come back as a null pointer (bad_alloc), as it does without.
  set_tests_properties("fault: a model too large for memory exits 1 saying out of memory, not std::bad_alloc"
    PROPERTIES ENVIRONMENT "ASAN_OPTIONS=allocator_may_return_null=1")
endif()

# The output fault table (tests/cli/run_fault_table.sh): every output option
# of train, eval and plot against one fault per CTest, "fault table: ...".
if(TARGET slope_cli)
  set(SLOPE_FAULT_TABLE ${CMAKE_CURRENT_SOURCE_DIR}/cli/run_fault_table.sh)
  function(slope_fault_table fault title)
    add_test(NAME "fault table: ${title}"
      COMMAND ${SLOPE_BASH} ${SLOPE_FAULT_TABLE} $<TARGET_FILE:slope_cli> ${fault})
    set_tests_properties("fault table: ${title}" PROPERTIES
      TIMEOUT 180 LABELS "cli;fault" ENVIRONMENT "OPENBLAS_NUM_THREADS=1" FAIL_REGULAR_EXPRESSION "FAIL \\[")
  endfunction()
  slope_fault_table(same_file "every output naming another option's file (symlink, dangling symlink, hard link, an input, a file of --export DIR) exits 2 and changes nothing")
  slope_fault_table(device "every output on a device node exits 2 and leaves the device")
  slope_fault_table(fifo "every output on a FIFO exits 2 at once, without blocking")
  slope_fault_table(directory "every output on a directory (or a directory where a .npy goes) exits 2")
  slope_fault_table(readonly "every output in a read-only directory (a read-only mount, root too) exits 2 and writes nothing")
  slope_fault_table(no_space "every output on a full file system exits 1 naming the file; the previous file and no temporary file remain")
  slope_fault_table(file_size "every output over the file size limit (ulimit -f) exits 1 naming the file, not killed by SIGXFSZ")
  slope_fault_table(closed_stdout "a closed stdout exits 1 before writing anything; a closed stderr keeps the exit status")
  slope_fault_table(full_stdout "stdout on /dev/full exits 1 naming standard output")
endif()
