# slope plot (src/cli/plot_cmd.cpp): one CTest per case of tests/cli/run_plot_checks.sh,
# which checks the files it writes (SVG structure, PNG header and pixels) and
# the exit status and message of every bad usage. Inputs are short spiral
# runs and small .npy files the script writes, so no data set is needed.
if(TARGET slope_cli)
  find_program(SLOPE_BASH bash)
  set(SLOPE_PLOT_CHECKS ${CMAKE_CURRENT_SOURCE_DIR}/cli/run_plot_checks.sh)

  # slope_plot_case(<title> <case>): registers "cli: <title>".
  function(slope_plot_case title case_name)
    add_test(NAME "cli: ${title}"
      COMMAND ${SLOPE_BASH} ${SLOPE_PLOT_CHECKS} $<TARGET_FILE:slope_cli> ${case_name})
    set_tests_properties("cli: ${title}" PROPERTIES
      TIMEOUT 60 LABELS cli ENVIRONMENT "OPENBLAS_NUM_THREADS=1" FAIL_REGULAR_EXPRESSION "FAIL \\[")
  endfunction()

  slope_plot_case("slope plot --help lists curves, templates and histogram, each with its options" help)
  slope_plot_case("slope plot usage errors exit 2 naming the option and write nothing" usage_errors)
  slope_plot_case("slope plot on a malformed metrics or .npy file exits 1 naming the file" run_errors)
  slope_plot_case("slope plot curves draws one polyline per metrics file, labelled by its stem" curves)
  slope_plot_case("slope plot templates tiles 28x28 grey and 32x32 RGB templates from channel planes" templates)
  slope_plot_case("slope plot histogram draws the exported weights, one histogram per file" histogram)
endif()

# test_plot decodes the PNGs it encodes with zlib itself; libslope links zlib
# privately, which a shared build does not pass on, so link it here.
if(TARGET test_plot)
  target_link_libraries(test_plot PRIVATE ZLIB::ZLIB)
endif()
