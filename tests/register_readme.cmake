# The figures README.md quotes next to its commands (tests/cli/run_readme_checks.sh):
# each cheap command of the results table runs as shown and must print the
# figure quoted beside it, exactly (the commands fix the thread count).
# Registered for the build the README measures (Release, -march=native, no
# sanitizers), whose floats the figures are.
if(TARGET slope_cli AND SLOPE_NATIVE AND NOT SLOPE_SANITIZE AND NOT SLOPE_FUZZ)
  find_program(SLOPE_BASH bash)
  function(slope_readme_case title case_name)
    add_test(NAME "readme: ${title}"
      COMMAND ${SLOPE_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/cli/run_readme_checks.sh $<TARGET_FILE:slope_cli>
              ${PROJECT_SOURCE_DIR}/README.md ${case_name})
    set_tests_properties("readme: ${title}" PROPERTIES
      TIMEOUT 120 LABELS "cli;readme" FAIL_REGULAR_EXPRESSION "FAIL \\[")
  endfunction()
  slope_readme_case("the linear classifier on Fashion-MNIST prints the test accuracy the README quotes" fashion_linear)
  slope_readme_case("the two-layer net on the spiral prints the test accuracy the README quotes" spiral_two_layer)
  slope_readme_case("the linear classifier on the spiral prints the test accuracy the README quotes" spiral_linear)
  slope_readme_case("k-NN on Fashion-MNIST prints the test accuracy the README quotes" knn)
endif()
