#!/usr/bin/env bash
# Installs into a temporary prefix, with the libraries in a LIBDIR of their own (lib64), and builds
# a small consumer of the library twice: through pkg-config and through CMake's find_package(wsc)
# (which counts as passed only when cmake is there to run it). Checks the wsc tool and its man page
# when the tree has them, the default LIBDIR, and that make uninstall removes every file install
# put there.
set -u
cd "$(dirname "$0")/../.."
pass=0; fail=0
ok()  { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
libdir=$prefix/lib64
dirs=(PREFIX="$prefix" LIBDIR="$libdir")

if make -s install "${dirs[@]}" >"$tmp/install.log" 2>&1 &&
   [ -f "$prefix/include/wsc.h" ] && [ -f "$libdir/libwsc.a" ] &&
   [ -e "$libdir/libwsc.so" ] && [ -f "$libdir/pkgconfig/wsc.pc" ] &&
   [ -f "$libdir/cmake/wsc/wsc-config.cmake" ] && [ ! -e "$prefix/lib" ]; then
    ok "make install LIBDIR=... puts header, libraries, wsc.pc and the CMake package in place"
else
    bad "make install"; cat "$tmp/install.log"
fi
if grep -qx "libdir=$libdir" "$libdir/pkgconfig/wsc.pc" &&
   grep -qx "includedir=$prefix/include" "$libdir/pkgconfig/wsc.pc"; then
    ok "wsc.pc names LIBDIR and the include directory"
else
    bad "wsc.pc paths"; cat "$libdir/pkgconfig/wsc.pc"
fi

# The wsc tool and its man page, when this tree has them.
if ls tools/wsc/*.c >/dev/null 2>&1; then
    if [ -x "$prefix/bin/wsc" ] && cmp -s build/bin/wsc "$prefix/bin/wsc"; then
        ok "make install puts the wsc tool in PREFIX/bin"
    else
        bad "the wsc tool is not installed in $prefix/bin"
    fi
fi
if [ -f tools/wsc/wsc.1 ]; then
    if cmp -s tools/wsc/wsc.1 "$prefix/share/man/man1/wsc.1"; then
        ok "make install puts wsc.1 in PREFIX/share/man/man1"
    else
        bad "wsc.1 is not installed in $prefix/share/man/man1"
    fi
fi

cat >"$tmp/consumer.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <wsc.h>
int main(void)
{
    wsc_framed f;
    if (wsc_frame_new(&f, WSC_TEXT, "hi", 2) != 0)
        return 1;
    int ok = f.len == 4 && f.data[0] == 0x81 && f.data[1] == 2;
    wsc_frame_free(&f);
    puts(wsc_strerror(WSC_ETIMEDOUT));
    return ok ? 0 : 1;
}
C

if PKG_CONFIG_PATH=$libdir/pkgconfig cc -o "$tmp/pc_consumer" "$tmp/consumer.c" \
       $(PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --cflags --libs wsc) 2>"$tmp/pc.log" &&
   LD_LIBRARY_PATH=$libdir "$tmp/pc_consumer" >/dev/null; then
    ok "pkg-config consumer builds and runs against the shared library"
else
    bad "pkg-config consumer"; cat "$tmp/pc.log"
fi

# The library's thread-locals use the initial-exec TLS model, which takes room in the static TLS
# block: a program that loads the library at run time (a plugin host) must still be able to.
cat >"$tmp/plugin_host.c" <<'C'
#include <dlfcn.h>
#include <stdio.h>
#include <wsc.h>
int main(int argc, char **argv)
{
    (void)argc;
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    int (*frame_new)(wsc_framed *, wsc_msg_type, const void *, size_t) =
        (int (*)(wsc_framed *, wsc_msg_type, const void *, size_t))dlsym(lib, "wsc_frame_new");
    void (*frame_free)(wsc_framed *) = (void (*)(wsc_framed *))dlsym(lib, "wsc_frame_free");
    wsc_framed f;
    if (!frame_new || !frame_free || frame_new(&f, WSC_BINARY, "abc", 3) != 0)
        return 1;
    int ok = f.len == 5 && f.data[0] == 0x82;
    frame_free(&f);
    return dlclose(lib) == 0 && ok ? 0 : 1;
}
C
if cc -I"$prefix/include" -o "$tmp/plugin_host" "$tmp/plugin_host.c" -ldl 2>"$tmp/dl.log" &&
   "$tmp/plugin_host" "$libdir/libwsc.so" 2>>"$tmp/dl.log"; then
    ok "a program loads the shared library with dlopen and calls it"
else
    bad "dlopen of the shared library"; cat "$tmp/dl.log"
fi

# find_package(wsc) from a CMake project: <label> <libdir> <cmake arguments that find wsc>.
cmake_consumer() {
    local label=$1 dir=$2 build=$tmp/cm/build-$1
    shift 2
    if ! command -v cmake >/dev/null; then
        echo "skip find_package(wsc) consumer ($label): cmake is not installed" \
             "(scripts/install-deps test installs it)"
        return
    fi
    mkdir -p "$tmp/cm"
    cat >"$tmp/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.13)
project(consumer C)
find_package(wsc 0.1 REQUIRED)
add_executable(shared_consumer ../consumer.c)
target_link_libraries(shared_consumer wsc::wsc)
add_executable(static_consumer ../consumer.c)
target_link_libraries(static_consumer wsc::wsc_static)
CM
    if cmake -S "$tmp/cm" -B "$build" "$@" >"$tmp/cm.log" 2>&1 &&
       cmake --build "$build" >>"$tmp/cm.log" 2>&1 &&
       LD_LIBRARY_PATH=$dir "$build/shared_consumer" >/dev/null &&
       "$build/static_consumer" >/dev/null; then
        ok "find_package(wsc) consumer builds and runs, shared and static ($label)"
    else
        bad "find_package(wsc) consumer ($label)"; tail -30 "$tmp/cm.log"
    fi
}
# A LIBDIR outside CMake's search paths (lib64 is searched only where the platform uses it):
# wsc_DIR, as a user of such a LIBDIR sets it.
cmake_consumer "LIBDIR lib64, wsc_DIR" "$libdir" -Dwsc_DIR="$libdir/cmake/wsc"

# uninstall takes away every file and link that install put there (directories may stay).
if make -s uninstall "${dirs[@]}" >"$tmp/uninstall.log" 2>&1 &&
   [ -z "$(find "$prefix" ! -type d)" ] && [ ! -e "$libdir/cmake/wsc" ]; then
    ok "make uninstall removes everything make install put there"
else
    bad "make uninstall left:"; cat "$tmp/uninstall.log"; find "$prefix" ! -type d
fi

# Without LIBDIR the libraries go to PREFIX/lib, where CMake finds the package from the prefix,
# and uninstall finds them there.
prefix2=$tmp/prefix2
if make -s install PREFIX="$prefix2" >"$tmp/install2.log" 2>&1 &&
   [ -e "$prefix2/lib/libwsc.so" ] && grep -qx "libdir=$prefix2/lib" "$prefix2/lib/pkgconfig/wsc.pc"; then
    ok "the default LIBDIR is PREFIX/lib"
else
    bad "install with the default LIBDIR"; cat "$tmp/install2.log"
fi
cmake_consumer "default LIBDIR, CMAKE_PREFIX_PATH" "$prefix2/lib" -DCMAKE_PREFIX_PATH="$prefix2"
if make -s uninstall PREFIX="$prefix2" >>"$tmp/install2.log" 2>&1 &&
   [ -z "$(find "$prefix2" ! -type d)" ]; then
    ok "make uninstall with the default LIBDIR"
else
    bad "make uninstall with the default LIBDIR"; cat "$tmp/install2.log"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
