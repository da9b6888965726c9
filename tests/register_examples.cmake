# Every example program runs in the suite with short settings, and what it
# prints (and writes) is checked, not just its exit status. One file per
# example: tests/examples/<name>.cmake registers the checks of example_<name>.
include(${CMAKE_CURRENT_SOURCE_DIR}/example_checks.cmake)  # slope_example_check()
file(GLOB SLOPE_EXAMPLE_CHECKS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/examples/*.cmake)
foreach(check IN LISTS SLOPE_EXAMPLE_CHECKS)
  include(${check})
endforeach()
