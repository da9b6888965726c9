# What `cmake --install` puts in place (paths relative to the prefix, with
# <libdir> from GNUInstallDirs):
#   include/slope/**.hpp                      the public headers
#   <libdir>/libslope.a (or .so with BUILD_SHARED_LIBS=ON)
#   <libdir>/cmake/slope/                     find_package(slope CONFIG) -> slope::slope
#   <libdir>/pkgconfig/slope.pc               pkg-config --cflags --libs slope
# Both package descriptions locate the prefix from their own position, so the
# tree can be installed with `--prefix` anywhere and moved afterwards.
include(CMakePackageConfigHelpers)

set(SLOPE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/slope)

# 0.x releases break compatibility at the minor version; the soname says so.
set_target_properties(slope PROPERTIES
  VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
if(TARGET slope_cli)
  # An installed bin/slope finds a shared libslope next door.
  set_target_properties(slope_cli PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
endif()

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/slope
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.hpp")

install(TARGETS slope EXPORT slopeTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# --- the CMake package -------------------------------------------------------
# Compile options (-Wall, -march=native) are PRIVATE and never reach the
# exported target; its interface is the include directory, C++20, xtensor and
# fmt, plus (static library only) the link-only OpenBLAS, zlib and xsimd.
install(EXPORT slopeTargets NAMESPACE slope:: DESTINATION ${SLOPE_CMAKE_DIR})
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/slopeConfig.cmake.in
  ${PROJECT_BINARY_DIR}/slopeConfig.cmake
  INSTALL_DESTINATION ${SLOPE_CMAKE_DIR})
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/slopeConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
          ${PROJECT_BINARY_DIR}/slopeConfig.cmake
          ${PROJECT_BINARY_DIR}/slopeConfigVersion.cmake
          ${PROJECT_SOURCE_DIR}/cmake/SlopeDependencies.cmake
        DESTINATION ${SLOPE_CMAKE_DIR})

# --- the pkg-config file -----------------------------------------------------
# A static libslope.a leaves OpenBLAS and zlib to the final link, so they are
# plain Requires and `pkg-config --libs slope` lists them; a shared libslope.so
# records them itself and they move to Requires.private (for --static only).
get_target_property(SLOPE_LIBRARY_TYPE slope TYPE)
set(SLOPE_PC_LINKED "openblas zlib")
if(SLOPE_MPI)
  string(APPEND SLOPE_PC_LINKED " ompi-c")  # Debian's OpenMPI pkg-config name
endif()
if(SLOPE_LIBRARY_TYPE STREQUAL "STATIC_LIBRARY")
  set(SLOPE_PC_REQUIRES "xtensor fmt ${SLOPE_PC_LINKED}")
  set(SLOPE_PC_REQUIRES_PRIVATE "")
else()
  set(SLOPE_PC_REQUIRES "xtensor fmt")
  set(SLOPE_PC_REQUIRES_PRIVATE "${SLOPE_PC_LINKED}")
endif()
# The prefix is found from the .pc file's own directory (${pcfiledir}).
file(RELATIVE_PATH SLOPE_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" SLOPE_PC_TO_PREFIX "${SLOPE_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/slope.pc.in ${PROJECT_BINARY_DIR}/slope.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/slope.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
