# cmake -DPREFIX=<install prefix> -DPKG_CONFIG=<pkg-config> -DCXX=<compiler>
#       -DSOURCE=<main.cpp> -DOUTPUT=<program> -P build_with_pkgconfig.cmake
#
# Compiles SOURCE with nothing but `pkg-config --cflags --libs slope` (the
# slope.pc installed under PREFIX) and runs the program; fails if either fails.
foreach(var PREFIX PKG_CONFIG CXX SOURCE OUTPUT)
  if(NOT ${var})
    message(FATAL_ERROR "build_with_pkgconfig.cmake: pass -D${var}=...")
  endif()
endforeach()

file(GLOB_RECURSE pc_file "${PREFIX}/slope.pc")
if(NOT pc_file)
  message(FATAL_ERROR "no slope.pc under ${PREFIX}")
endif()
get_filename_component(pc_dir "${pc_file}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} "${pc_dir}")

execute_process(COMMAND "${PKG_CONFIG}" --cflags --libs slope
                OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND "${PKG_CONFIG}" --variable=libdir slope
                OUTPUT_VARIABLE libdir OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
message(STATUS "pkg-config --cflags --libs slope: ${flags}")
if(flags MATCHES "-march")
  message(FATAL_ERROR "slope.pc passes -march on to consumers")
endif()

# C++20 is the user's to ask for; the rpath finds a shared libslope.so too.
separate_arguments(flags UNIX_COMMAND "${flags}")
execute_process(COMMAND "${CXX}" -std=c++20 "${SOURCE}" ${flags} "-Wl,-rpath,${libdir}" -o "${OUTPUT}"
                COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND "${OUTPUT}" COMMAND_ERROR_IS_FATAL ANY)
