# Cross-build for arm64 (aarch64) with Debian's cross toolchain and multiarch
# libraries, and run the tests under qemu-user:
#
#   cmake -S . -B build/arm64 -DCMAKE_TOOLCHAIN_FILE=tests/arm64-toolchain.cmake \
#         -DKREFBENCH_CORE_ONLY=ON && cmake --build build/arm64 && ctest --test-dir build/arm64
#
# Needs (./run.sh test installs them): gcc-aarch64-linux-gnu, qemu-user (or
# qemu-user-static), and after `dpkg --add-architecture arm64`, liburcu-dev:arm64.
# Only core/ and its tests are built (KREFBENCH_CORE_ONLY): hwloc, Google
# Benchmark and C++ are not needed.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)	# only without KREFBENCH_CORE_ONLY

# Libraries and headers: the cross libc in /usr/aarch64-linux-gnu, multiarch
# packages (NAME:arm64) in /usr/lib/aarch64-linux-gnu and /usr/include ("/":
# searched only in aarch64 directories, as CMAKE_LIBRARY_ARCHITECTURE says).
# Programs (pkg-config, the emulator) are the build machine's.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config reads only the arm64 .pc files (never the build machine's).
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
unset(ENV{PKG_CONFIG_SYSROOT_DIR})

# ctest (and add_test's COMMAND) run the test binaries under qemu-user:
# -L: the loader /lib/ld-linux-aarch64.so.1 is the cross libc's, in
#   /usr/aarch64-linux-gnu/lib (libc6-arm64-cross);
# LD_LIBRARY_PATH: so is libc.so.6. Without it the loader finds the multiarch
#   libc6:arm64 (liburcu8:arm64 pulls it in) in /lib/aarch64-linux-gnu first, a
#   different glibc build than the loader: pthread_create then spins forever
#   in the loader's stack list. liburcu still comes from /usr/lib/aarch64-linux-gnu.
# KREFBENCH_EMULATED=1: tests whose spinning races are too slow under
#   emulation run fewer rounds and say so (test_rcuref, test_rseq); every check
#   still runs. On real arm64 hardware the binaries run directly, at full length.
# Under qemu-user rseq is not registered (__rseq_size 0), so the per-CPU
# backend's portable fallback is the path tested there (test_percpu says so).
find_program(KREFBENCH_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static
             PATHS /usr/bin NO_CMAKE_FIND_ROOT_PATH)
if(KREFBENCH_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR
      ${KREFBENCH_QEMU_AARCH64} -L /usr/aarch64-linux-gnu
      -E LD_LIBRARY_PATH=/usr/aarch64-linux-gnu/lib -E KREFBENCH_EMULATED=1)
else()
  message(STATUS "qemu-aarch64 not found: the tests build but ctest cannot run them here")
endif()
