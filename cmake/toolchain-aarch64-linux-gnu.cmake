# Cross build for 64-bit Arm Linux with Debian's g++-aarch64-linux-gnu and the arm64 multiarch libraries
# (dpkg --add-architecture arm64); tests run under qemu-user. Used by scripts/cross_aarch64.sh.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Libraries and CMake package files from the arm64 multiarch folders only (/usr/lib/aarch64-linux-gnu);
# the headers in /usr/include are shared between architectures.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/cmake)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
# Static programs: under Debian 12's qemu-user 7.2 a dynamically linked aarch64 program hangs in its first
# pthread_create (std::thread or OpenMP alike; the same program linked -static runs).
set(CMAKE_EXE_LINKER_FLAGS_INIT -static)
# find_library picks the archives (pkg-config's OpenBLAS, GTest); set after project() because the platform
# files reset the suffixes after the toolchain file runs.
set(CMAKE_PROJECT_INCLUDE ${CMAKE_CURRENT_LIST_DIR}/static-find-libraries.cmake)
execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libgomp.a OUTPUT_VARIABLE _duq_gomp
                OUTPUT_STRIP_TRAILING_WHITESPACE)
set(OpenMP_gomp_LIBRARY ${_duq_gomp} CACHE FILEPATH "static libgomp (see above)")
# gtest_discover_tests and CTest run the test programs through the emulator (no binfmt_misc needed).
find_program(DUQ_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64 REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${DUQ_QEMU_AARCH64} -L /usr/aarch64-linux-gnu)
