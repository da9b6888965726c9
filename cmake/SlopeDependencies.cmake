# Every dependency comes from a Debian 12 package; nothing is downloaded.
find_package(xtl REQUIRED)
find_package(xsimd REQUIRED)
find_package(xtensor REQUIRED)
find_package(fmt REQUIRED)
find_package(ZLIB REQUIRED)

# OpenBLAS: prefer its CMake config (points at the pthread build, not the
# reference BLAS that /usr/lib/.../libblas.so may resolve to).
find_package(OpenBLAS CONFIG QUIET)
add_library(slope_blas INTERFACE)
if(OpenBLAS_FOUND)
  target_include_directories(slope_blas INTERFACE ${OpenBLAS_INCLUDE_DIRS})
  target_link_libraries(slope_blas INTERFACE ${OpenBLAS_LIBRARIES})
else()
  find_library(SLOPE_OPENBLAS_LIB NAMES openblas REQUIRED)
  find_path(SLOPE_CBLAS_INCLUDE NAMES cblas.h PATH_SUFFIXES openblas REQUIRED)
  target_include_directories(slope_blas INTERFACE ${SLOPE_CBLAS_INCLUDE})
  target_link_libraries(slope_blas INTERFACE ${SLOPE_OPENBLAS_LIB})
endif()
