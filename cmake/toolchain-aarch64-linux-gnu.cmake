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
# gtest_discover_tests and CTest run the test programs through the emulator (no binfmt_misc needed).
find_program(DUQ_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64 REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${DUQ_QEMU_AARCH64} -L /usr/aarch64-linux-gnu)
