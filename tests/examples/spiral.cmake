# Every example program runs in the suite with short settings, and what it
# prints is checked, not just its exit status.
if(TARGET example_spiral)
  # 500 full-batch steps: the linear classifier stays near 50%, the two-layer
  # net separates the arms (>= 99%).
  add_test(NAME "example: spiral shows linear below 60% and two-layer at 99% or more"
           COMMAND example_spiral 500)
  set_tests_properties("example: spiral shows linear below 60% and two-layer at 99% or more"
    PROPERTIES ENVIRONMENT "OPENBLAS_NUM_THREADS=1"
               PASS_REGULAR_EXPRESSION "linear [1-5][0-9]\\.[0-9]%  vs  two-layer (99\\.[0-9]|100\\.0)%")
endif()
