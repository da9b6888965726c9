# slope's dependencies, every one a Debian 12 package; nothing is downloaded.
#
# This file serves twice. The build includes it, and `cmake --install` puts it
# beside slopeConfig.cmake, so that find_package(slope) looks the libraries up
# exactly as the build did. Inside find_package(slope) the lookups go through
# find_dependency(), which honours QUIET/REQUIRED and turns a missing dependency
# into "slope not found"; in the build every dependency is REQUIRED.
include(CMakeFindDependencyMacro)
macro(slope_find_dependency name)
  if(CMAKE_FIND_PACKAGE_NAME STREQUAL "slope")
    find_dependency(${name} ${ARGN})
  else()
    find_package(${name} ${ARGN} REQUIRED)
  endif()
endmacro()

slope_find_dependency(xtl)
slope_find_dependency(xsimd)
slope_find_dependency(xtensor)
slope_find_dependency(fmt)
slope_find_dependency(ZLIB)
if(SLOPE_MPI)
  # The C API through the C++ compiler (slope is a C++ project; the MPI C++
  # bindings, deprecated since MPI 2.2, are not wanted).
  set(MPI_CXX_SKIP_MPICXX ON)
  slope_find_dependency(MPI COMPONENTS CXX)
endif()

# OpenBLAS, as the imported target slope::blas. Prefer OpenBLAS's CMake config:
# it points at the pthread build, not the reference BLAS that
# /usr/lib/.../libblas.so may resolve to. The target is linked privately, but a
# consumer of the static libslope.a still needs it on its link line, so it is
# imported (re-created here by every consumer) rather than exported with paths.
if(NOT TARGET slope::blas)
  find_package(OpenBLAS CONFIG QUIET)
  if(OpenBLAS_FOUND)
    set(SLOPE_OPENBLAS_LIB ${OpenBLAS_LIBRARIES})
    set(SLOPE_CBLAS_INCLUDE ${OpenBLAS_INCLUDE_DIRS})
  else()
    find_library(SLOPE_OPENBLAS_LIB NAMES openblas)
    find_path(SLOPE_CBLAS_INCLUDE NAMES cblas.h PATH_SUFFIXES openblas)
  endif()
  if(NOT SLOPE_OPENBLAS_LIB OR NOT SLOPE_CBLAS_INCLUDE)
    set(_slope_why "OpenBLAS (libopenblas and cblas.h) was not found; install libopenblas-dev")
    if(CMAKE_FIND_PACKAGE_NAME STREQUAL "slope")
      set(slope_NOT_FOUND_MESSAGE "${_slope_why}")
      set(slope_FOUND FALSE)
      return()
    endif()
    message(FATAL_ERROR "${_slope_why}")
  endif()
  add_library(slope::blas INTERFACE IMPORTED)
  set_target_properties(slope::blas PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${SLOPE_CBLAS_INCLUDE}"
    INTERFACE_LINK_LIBRARIES "${SLOPE_OPENBLAS_LIB}")
endif()
