#!/usr/bin/env python3
"""A Python host through cffi: parses the generated header, loads the cdylib, discovers the plugins under a
directory, loads and initialises the hello plugin, invokes its tool through a Python sink, and checks the
failure path. Proves the header is clean input for foreign-function generators.

usage: cffi_host.py HEADER LIBRARY PLUGIN_DIR
"""
import re
import subprocess
import sys

import cffi


def cdef_from_header(header_path):
    """The header as cffi's cdef wants it: includes dropped (cffi knows the standard types), the C++ guards
    and conditionals resolved by the C preprocessor as a C compiler sees them, attributes removed, and the
    integer macros re-added as #defines."""
    with open(header_path) as f:
        text = f.read()
    without_includes = "\n".join(line for line in text.splitlines() if not line.startswith("#include"))
    expanded = subprocess.run(
        ["cc", "-E", "-P", "-std=c11", "-D__attribute__(x)=", "-x", "c", "-"],
        input=without_includes, capture_output=True, text=True, check=True,
    ).stdout
    values = {"INT32_MIN": "-2147483648"}
    defines = []
    for name, value in re.findall(r"^#define (AISOPOD_\w+) (\S+)$", text, re.M):
        value = values.get(value, value)
        if re.fullmatch(r"-?\d+", value):
            defines.append(f"#define {name} {value}")
    return expanded + "\n" + "\n".join(defines)


def main():
    header, library, plugin_dir = sys.argv[1:4]
    ffi = cffi.FFI()
    ffi.cdef(cdef_from_header(header))
    lib = ffi.dlopen(library)

    version = ffi.string(lib.aisopod_loader_version()).decode()
    loader_out = ffi.new("aisopod_loader **")
    assert lib.aisopod_loader_new(b"1.0.0", loader_out) == lib.AISOPOD_STATUS_OK
    loader = loader_out[0]

    def error():
        return ffi.string(lib.aisopod_loader_error_message(loader)).decode()

    try:
        lib.aisopod_loader_use_default_paths(loader, False)
        lib.aisopod_loader_use_env_path(loader, False)
        assert lib.aisopod_loader_add_search_path(loader, plugin_dir.encode()) == lib.AISOPOD_STATUS_OK
        count = ffi.new("size_t *")
        assert lib.aisopod_loader_discover(loader, count) == lib.AISOPOD_STATUS_OK
        assert count[0] >= 1, "no plugin discovered"

        info = ffi.new("aisopod_plugin_info **")
        assert lib.aisopod_loader_find_plugin(loader, b"hello", info) == lib.AISOPOD_STATUS_OK, error()
        name = ffi.string(lib.aisopod_plugin_info_name(info[0])).decode()
        tool = ffi.string(lib.aisopod_plugin_info_capability_at(info[0], lib.AISOPOD_CAPABILITY_TOOL, 0)).decode()
        lib.aisopod_plugin_info_free(info[0])

        assert lib.aisopod_loader_load(loader, b"hello") == lib.AISOPOD_STATUS_OK, error()
        assert lib.aisopod_loader_init(loader, b"hello", b"{}", ffi.NULL) == lib.AISOPOD_STATUS_OK, error()

        chunks = []

        @ffi.callback("int32_t(void *, const uint8_t *, size_t)")
        def write(context, data, length):
            chunks.append(bytes(ffi.buffer(data, length)))
            return 0

        sink = ffi.new("aisopod_sink *", {"context": ffi.NULL, "write": write})
        payload = b"python"
        status = lib.aisopod_loader_invoke(
            loader, b"hello", lib.AISOPOD_CAPABILITY_TOOL, tool.encode(), payload, len(payload), sink)
        assert status == lib.AISOPOD_STATUS_OK, error()
        output = b"".join(chunks).decode()
        assert output == "Hello, python!", output

        status = lib.aisopod_loader_load(loader, b"missing")
        assert status == lib.AISOPOD_STATUS_NOT_FOUND, status
        assert "'missing'" in error(), error()
        reason = ffi.string(lib.aisopod_status_str(status)).decode()
        assert lib.aisopod_loader_unload(loader, b"hello") == lib.AISOPOD_STATUS_OK, error()
    finally:
        lib.aisopod_loader_free(loader)
    print(f"cffi host: aisopod-loader {version}: {name}/{tool} -> {output}; missing plugin -> {reason}")


if __name__ == "__main__":
    main()
