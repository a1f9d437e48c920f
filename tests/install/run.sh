#!/bin/sh
# Installs into a temporary prefix, runs the installed `aisopod` (its version, and `list` over PLUGIN_DIR),
# then builds and runs hosts that know the library only as installed:
#  - tiny_host.c with only `pkg-config --cflags --libs aisopod_loader`, which also probes every plugin in the
#    installed helper, found next to the installed library with no configuration;
#  - tiny_host.c with only `find_package(aisopod_loader)`, against the shared library and the static archive;
#  - c_examples/host/host.c with the archive linked into a dynamic executable (pkg-config, -Wl,-Bstatic);
#  - c_examples/host/host.c as a fully static executable (`pkg-config --static`, -static).
# Every host runs over PLUGIN_DIR; the static ones must not need libaisopod_loader.so.
# usage: run.sh WORK_DIR [PLUGIN_DIR]
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$1
rm -rf "$work"
mkdir -p "$work/no-plugins"
plugins=${2:-$work/no-plugins}
prefix=$work/prefix
cc=${CC:-cc}
strict="-std=c11 -Wall -Wextra -Wpedantic -Werror"

make -s -C "$root" install PREFIX="$prefix"

echo "== the command line"
"$prefix/bin/aisopod" --version
"$prefix/bin/aisopod" list --path "$plugins"

PKG_CONFIG_PATH=$prefix/lib/pkgconfig
export PKG_CONFIG_PATH
# The installed library must find the installed helper by itself.
unset AISOPOD_HELPER

# Fails unless the executable $1 names no libaisopod_loader among the libraries it needs.
needs_no_loader_library() {
    if readelf -d "$1" | grep NEEDED | grep aisopod_loader; then
        echo "$1 needs libaisopod_loader.so" >&2
        exit 1
    fi
    echo "$(basename "$1"): no libaisopod_loader.so needed"
}

echo "== pkg-config host"
# shellcheck disable=SC2046,SC2086 # word splitting of the flags is intended
$cc $strict -o "$work/pc_host" "$root/tests/install/tiny_host.c" $(pkg-config --cflags --libs aisopod_loader)
LD_LIBRARY_PATH=$prefix/lib "$work/pc_host" "$plugins" probe

echo "== find_package host"
cmake -S "$root/tests/install/cmake_host" -B "$work/cmake_host" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmake_host" >/dev/null
"$work/cmake_host/tiny_host" "$plugins" probe
needs_no_loader_library "$work/cmake_host/tiny_host_static"
"$work/cmake_host/tiny_host_static" "$plugins"

echo "== archive host: libaisopod_loader.a in a dynamic executable"
# shellcheck disable=SC2046,SC2086
$cc $strict -o "$work/archive_host" "$root/c_examples/host/host.c" $(pkg-config --cflags aisopod_loader) \
    -Wl,-Bstatic $(pkg-config --libs aisopod_loader) -Wl,-Bdynamic
needs_no_loader_library "$work/archive_host"
"$work/archive_host" "$plugins"

echo "== static host: a fully static executable"
# glibc warns that dlopen (and getpwuid_r, getaddrinfo) in a static executable need its own version at run
# time; the warnings are kept in static_link.log and counted.
# shellcheck disable=SC2046,SC2086
if ! $cc $strict -static -o "$work/static_host" "$root/c_examples/host/host.c" \
    $(pkg-config --static --cflags --libs aisopod_loader) 2>"$work/static_link.log"; then
    cat "$work/static_link.log" >&2
    exit 1
fi
echo "glibc link warnings: $(grep -c 'statically linked applications requires at runtime' "$work/static_link.log" || true)"
if readelf -l "$work/static_host" | grep -q INTERP; then
    echo "static_host has a program interpreter: it is not static" >&2
    exit 1
fi
echo "static_host: no program interpreter, no shared library"
"$work/static_host" "$plugins"

echo "== exported symbols"
others=$(nm -D --defined-only "$prefix/lib/libaisopod_loader.so.0" | awk '{print $3}' | grep -v '^aisopod_' || true)
if [ -n "$others" ]; then
    echo "symbols outside the aisopod_ API: $others" >&2
    exit 1
fi
readelf -d "$prefix/lib/libaisopod_loader.so.0" | grep SONAME

echo "== installed tree"
(cd "$prefix" && find . -mindepth 1 | sort)
