# NumPy (and, where importable, PyTorch) read the state_dict files slope
# writes, and slope reads the files NumPy writes: tests/interop/. Needs
# /usr/bin/python3 with numpy, and fails without them (it is never skipped).
add_executable(interop_check ${CMAKE_CURRENT_SOURCE_DIR}/interop/interop_check.cpp)
target_link_libraries(interop_check PRIVATE slope::slope)
add_test(NAME "interop: numpy reads slope's state_dict files and slope reads numpy's; scores agree to 1e-6"
         COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:interop_check> -DPYTHON=/usr/bin/python3
                 -DSCRIPTS=${CMAKE_CURRENT_SOURCE_DIR}/interop -DOUT=${CMAKE_CURRENT_BINARY_DIR}/interop_out
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/interop/run_interop.cmake)
set_tests_properties("interop: numpy reads slope's state_dict files and slope reads numpy's; scores agree to 1e-6"
                     PROPERTIES ENVIRONMENT "OPENBLAS_NUM_THREADS=1" TIMEOUT 120 LABELS interop)
