#!/usr/bin/env bash
# Installs into a temporary prefix and builds a small consumer of the
# library twice: through pkg-config and through CMake's find_package(wsc).
set -u
cd "$(dirname "$0")/../.."
pass=0; fail=0
ok()  { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

if make -s install PREFIX="$prefix" >"$tmp/install.log" 2>&1 &&
   [ -f "$prefix/include/wsc.h" ] && [ -f "$prefix/lib/libwsc.a" ] &&
   [ -e "$prefix/lib/libwsc.so" ] && [ -f "$prefix/lib/pkgconfig/wsc.pc" ] &&
   [ -f "$prefix/lib/cmake/wsc/wsc-config.cmake" ]; then
    ok "make install puts header, libraries, wsc.pc and the CMake package in place"
else
    bad "make install"; cat "$tmp/install.log"
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

if PKG_CONFIG_PATH=$prefix/lib/pkgconfig cc -o "$tmp/pc_consumer" "$tmp/consumer.c" \
       $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs wsc) 2>"$tmp/pc.log" &&
   LD_LIBRARY_PATH=$prefix/lib "$tmp/pc_consumer" >/dev/null; then
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
   "$tmp/plugin_host" "$prefix/lib/libwsc.so" 2>>"$tmp/dl.log"; then
    ok "a program loads the shared library with dlopen and calls it"
else
    bad "dlopen of the shared library"; cat "$tmp/dl.log"
fi

if command -v cmake >/dev/null; then
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
    if cmake -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/cm.log" 2>&1 &&
       cmake --build "$tmp/cm/build" >>"$tmp/cm.log" 2>&1 &&
       LD_LIBRARY_PATH=$prefix/lib "$tmp/cm/build/shared_consumer" >/dev/null &&
       "$tmp/cm/build/static_consumer" >/dev/null; then
        ok "find_package(wsc) consumer builds and runs (shared and static)"
    else
        bad "find_package(wsc) consumer"; tail -30 "$tmp/cm.log"
    fi
else
    ok "cmake not installed: find_package check skipped"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
