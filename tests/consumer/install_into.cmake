# cmake -DBUILD_DIR=<slope build tree> -DPREFIX=<directory> -P install_into.cmake
#
# Empties PREFIX, runs `cmake --install BUILD_DIR --prefix PREFIX`, and checks
# the pieces a user relies on: public headers but no private ones, the
# library, the CMake package, the pkg-config file, and no -march flags in them.
foreach(var BUILD_DIR PREFIX)
  if(NOT ${var})
    message(FATAL_ERROR "install_into.cmake: pass -D${var}=...")
  endif()
endforeach()

file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
                COMMAND_ERROR_IS_FATAL ANY)

function(expect_installed name)
  file(GLOB_RECURSE found "${PREFIX}/${name}")
  if(NOT found)
    message(FATAL_ERROR "not installed: ${name} (nothing matches under ${PREFIX})")
  endif()
endfunction()
expect_installed(include/slope/slope.hpp)
expect_installed(include/slope/tensor.hpp)
expect_installed(libslope.*)
expect_installed(slopeConfig.cmake)
expect_installed(slopeConfigVersion.cmake)
expect_installed(slopeTargets.cmake)
expect_installed(SlopeDependencies.cmake)
expect_installed(slope.pc)

foreach(private op_support.hpp blas.hpp)
  file(GLOB_RECURSE found "${PREFIX}/${private}")
  if(found)
    message(FATAL_ERROR "a private header was installed: ${found}")
  endif()
endforeach()

file(GLOB_RECURSE package_files "${PREFIX}/*.cmake" "${PREFIX}/*.pc")
foreach(f IN LISTS package_files)
  file(READ "${f}" text)
  if(text MATCHES "-march")
    message(FATAL_ERROR "${f} passes -march on to consumers")
  endif()
endforeach()
message(STATUS "slope installed into ${PREFIX}")
