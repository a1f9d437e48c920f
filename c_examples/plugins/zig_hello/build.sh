#!/bin/sh
# Builds the zig_hello plugin: OUT_DIR/libzig_hello.so (.dylib on macOS) next to a
# copy of its manifest, so OUT_DIR is a complete plugin directory.
#
# usage: build.sh OUT_DIR
#
# Environment:
#   ZIG                   the Zig command (default: "python3 -m ziglang", from `pip install ziglang`)
#   ZIG_OPTIMIZE          Debug, ReleaseSafe (default), ReleaseFast or ReleaseSmall
#   ZIG_GLOBAL_CACHE_DIR  Zig's global cache (default: OUT_DIR/.zig-cache/global)
#
# The Zig bindings for the ABI are translated from include/aisopod_loader.h on every
# build, so they never go stale and are never committed. The first translation also
# compiles Zig's translate-c tool (about 45 s); it lands in the global cache, which
# is why that cache is pinned to a fixed directory instead of $HOME/.cache/zig:
# later builds into the same OUT_DIR reuse it and take well under a second.
set -eu

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi

src_dir=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
include_dir=$(CDPATH='' cd -- "$src_dir/../../../include" && pwd)
mkdir -p -- "$1"
out_dir=$(CDPATH='' cd -- "$1" && pwd)

zig=${ZIG:-python3 -m ziglang}
optimize=${ZIG_OPTIMIZE:-ReleaseSafe}
cache_dir=$out_dir/.zig-cache
# translate-c builds its tool in the global cache named by the environment and
# ignores --global-cache-dir for that step, so the variable is exported as well.
ZIG_GLOBAL_CACHE_DIR=${ZIG_GLOBAL_CACHE_DIR:-$cache_dir/global}
export ZIG_GLOBAL_CACHE_DIR
mkdir -p -- "$cache_dir/local" "$ZIG_GLOBAL_CACHE_DIR"

case $(uname -s) in
    Darwin) lib_name=libzig_hello.dylib ;;
    *) lib_name=libzig_hello.so ;;
esac

bindings=$cache_dir/aisopod_loader.zig
# Written to a temporary name first so that a failed translation never leaves a
# truncated file behind for the next step.
$zig translate-c -lc -I"$include_dir" \
    --cache-dir "$cache_dir/local" --global-cache-dir "$ZIG_GLOBAL_CACHE_DIR" \
    "$include_dir/aisopod_loader.h" >"$bindings.tmp"
mv -f -- "$bindings.tmp" "$bindings"

# -lc: the plugin allocates its state with malloc/free, like the C example. Only the
# header's types and macros are used, so nothing links against the loader.
$zig build-lib -dynamic -fPIC -lc -O "$optimize" \
    --cache-dir "$cache_dir/local" --global-cache-dir "$ZIG_GLOBAL_CACHE_DIR" \
    --name zig_hello \
    --dep aisopod -Mroot="$src_dir/zig_hello.zig" \
    -Maisopod="$bindings" \
    -femit-bin="$out_dir/$lib_name"

cp -f -- "$src_dir/aisopod.plugin.toml" "$out_dir/aisopod.plugin.toml"
