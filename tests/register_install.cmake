# slope as an installed library (cmake/SlopeInstall.cmake): install the build
# into a fresh prefix inside the build tree, then build the separate project in
# tests/consumer against it, once through find_package and once through pkg-config.
set(SLOPE_TEST_PREFIX ${PROJECT_BINARY_DIR}/install-test)
set(SLOPE_CONSUMER_DIR ${CMAKE_CURRENT_SOURCE_DIR}/consumer)

add_test(NAME "install: cmake --install puts headers, library and package files into a fresh prefix"
  COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${PROJECT_BINARY_DIR} -DPREFIX=${SLOPE_TEST_PREFIX}
          -P ${SLOPE_CONSUMER_DIR}/install_into.cmake)
set_tests_properties("install: cmake --install puts headers, library and package files into a fresh prefix"
  PROPERTIES FIXTURES_SETUP slope_installed TIMEOUT 300)

add_test(NAME "install: a separate CMake project finds slope::slope, builds and runs"
  COMMAND ${CMAKE_CTEST_COMMAND}
          --build-and-test ${SLOPE_CONSUMER_DIR} ${PROJECT_BINARY_DIR}/consumer-cmake
          --build-generator ${CMAKE_GENERATOR}
          --build-makeprogram ${CMAKE_MAKE_PROGRAM}
          --build-options -DCMAKE_PREFIX_PATH=${SLOPE_TEST_PREFIX}
                          -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}
          --test-command slope_consumer)
set_tests_properties("install: a separate CMake project finds slope::slope, builds and runs"
  PROPERTIES FIXTURES_REQUIRED slope_installed TIMEOUT 600)

find_program(SLOPE_PKG_CONFIG NAMES pkg-config pkgconf)
if(SLOPE_PKG_CONFIG)
  add_test(NAME "install: a program compiled with pkg-config --cflags --libs slope runs"
    COMMAND ${CMAKE_COMMAND} -DPREFIX=${SLOPE_TEST_PREFIX} -DPKG_CONFIG=${SLOPE_PKG_CONFIG}
            -DCXX=${CMAKE_CXX_COMPILER} -DSOURCE=${SLOPE_CONSUMER_DIR}/main.cpp
            -DOUTPUT=${PROJECT_BINARY_DIR}/consumer-pkgconfig
            -P ${SLOPE_CONSUMER_DIR}/build_with_pkgconfig.cmake)
  set_tests_properties("install: a program compiled with pkg-config --cflags --libs slope runs"
    PROPERTIES FIXTURES_REQUIRED slope_installed TIMEOUT 600)
else()
  message(WARNING "pkg-config not found: the pkg-config consumer test is not registered")
endif()
