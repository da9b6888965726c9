# Training across processes (issue 15), in builds with the MPI backend
# (-DSLOPE_MPI=ON): the equality program (tests/mpi/mpi_training.cpp) under
# mpirun with 2 and 4 processes, and the slope program's MPI cases
# (tests/cli/run_mpi_checks.sh). The machine may have fewer cores than
# processes (--oversubscribe) and CI runs as root (OMPI_ALLOW_RUN_AS_ROOT);
# the processes talk over shared memory.
if(SLOPE_MPI)
  if(NOT MPIEXEC_EXECUTABLE)
    message(FATAL_ERROR "SLOPE_MPI is ON but mpiexec was not found (Debian: apt-get install openmpi-bin)")
  endif()
  set(SLOPE_MPI_ENV "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_btl=self,vader;OMPI_MCA_btl_vader_single_copy_mechanism=none;OMPI_MCA_rmaps_base_oversubscribe=1")

  add_executable(mpi_training ${CMAKE_CURRENT_SOURCE_DIR}/mpi/mpi_training.cpp)
  target_link_libraries(mpi_training PRIVATE slope::slope)
  foreach(n 2 4)
    add_test(NAME "mpi: ${n} processes train as one (float64 and float32, two-layer and residual, resume across N)"
      COMMAND ${MPIEXEC_EXECUTABLE} --oversubscribe -np ${n} $<TARGET_FILE:mpi_training> ${CMAKE_CURRENT_BINARY_DIR})
    set_tests_properties("mpi: ${n} processes train as one (float64 and float32, two-layer and residual, resume across N)"
      PROPERTIES ENVIRONMENT "${SLOPE_MPI_ENV}" TIMEOUT 300 LABELS "mpi" FAIL_REGULAR_EXPRESSION "FAIL rank")
  endforeach()

  add_test(NAME "mpi: a collective that a rank never joins gives up after SLOPE_COLLECTIVE_TIMEOUT with a clear error"
    COMMAND ${MPIEXEC_EXECUTABLE} --oversubscribe -np 2 $<TARGET_FILE:mpi_training> --stall)
  set_tests_properties("mpi: a collective that a rank never joins gives up after SLOPE_COLLECTIVE_TIMEOUT with a clear error"
    PROPERTIES ENVIRONMENT "${SLOPE_MPI_ENV};SLOPE_COLLECTIVE_TIMEOUT=1" TIMEOUT 50 LABELS "mpi"
    PASS_REGULAR_EXPRESSION "gave up as it should: rank 0: an MPI all-reduce waited more than 1 s"
    FAIL_REGULAR_EXPRESSION "FAIL rank")

  if(TARGET slope_cli)
    find_program(SLOPE_BASH bash)
    function(slope_mpi_case title case_name)
      add_test(NAME "mpi: ${title}"
        COMMAND ${SLOPE_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/cli/run_mpi_checks.sh $<TARGET_FILE:slope_cli>
                ${MPIEXEC_EXECUTABLE} ${case_name})
      set_tests_properties("mpi: ${title}" PROPERTIES
        ENVIRONMENT "${SLOPE_MPI_ENV}" TIMEOUT 180 LABELS "mpi;cli" FAIL_REGULAR_EXPRESSION "FAIL \\[")
    endfunction()
    slope_mpi_case("rank 0 alone prints, writes metrics, checkpoints and exports; the JSON names the world size" rank0_outputs)
    slope_mpi_case("a run resumes with another number of processes (2, then 4, then 1)" resume_across_n)
    slope_mpi_case("processes started with different options stop at start, naming what differs" mismatched_config)
    slope_mpi_case("a killed rank ends the run with a non-zero status and leaves the checkpoint loadable" killed_rank)
    slope_mpi_case("a diverging run under mpirun exits non-zero, without a hang, keeping the last good checkpoint" diverging_run)
  endif()
endif()
