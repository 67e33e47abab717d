# Included after project() by the aarch64 toolchain file: find_library returns static archives only.
set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
