#!/bin/sh
# Installs into a temporary prefix, then builds and runs one tiny host with only
# `pkg-config --cflags --libs aisopod_loader` and another with only `find_package(aisopod_loader)`.
# usage: run.sh WORK_DIR [PLUGIN_DIR]
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$1
plugins=${2:-}
rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix

make -s -C "$root" install PREFIX="$prefix"

echo "== pkg-config host"
PKG_CONFIG_PATH=$prefix/lib/pkgconfig
export PKG_CONFIG_PATH
# shellcheck disable=SC2046 # word splitting of the flags is intended
${CC:-cc} -std=c11 -Wall -Wextra -Wpedantic -Werror -o "$work/pc_host" "$root/tests/install/tiny_host.c" \
    $(pkg-config --cflags --libs aisopod_loader)
LD_LIBRARY_PATH=$prefix/lib "$work/pc_host" $plugins

echo "== find_package host"
cmake -S "$root/tests/install/cmake_host" -B "$work/cmake_host" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmake_host" >/dev/null
"$work/cmake_host/tiny_host" $plugins

echo "== exported symbols"
others=$(nm -D --defined-only "$prefix/lib/libaisopod_loader.so.0" | awk '{print $3}' | grep -v '^aisopod_' || true)
if [ -n "$others" ]; then
    echo "symbols outside the aisopod_ API: $others" >&2
    exit 1
fi
readelf -d "$prefix/lib/libaisopod_loader.so.0" | grep SONAME

echo "== installed tree"
(cd "$prefix" && find . -mindepth 1 | sort)
