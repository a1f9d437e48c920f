/*
 * Prints the size and field offsets of every ABI v1 struct as the C compiler lays them out, one
 * "struct.field offset" line each, so the test can compare them with the Rust definitions and with the
 * frozen v1 layout. Compiled with -Wpadded -Werror: a padding hole in any ABI struct fails the build.
 */
#include <stddef.h>
#include <stdio.h>

#include "aisopod_loader.h"

#define FIELD(type, field) printf(#type "." #field " %zu\n", offsetof(type, field))
#define SIZE(type) printf(#type " %zu\n", sizeof(type))

int main(void) {
    SIZE(aisopod_sink);
    FIELD(aisopod_sink, context);
    FIELD(aisopod_sink, write);
    SIZE(aisopod_registrar);
    FIELD(aisopod_registrar, struct_size);
    FIELD(aisopod_registrar, context);
    FIELD(aisopod_registrar, register_capability);
    SIZE(aisopod_init_context);
    FIELD(aisopod_init_context, struct_size);
    FIELD(aisopod_init_context, config);
    FIELD(aisopod_init_context, config_len);
    FIELD(aisopod_init_context, data_dir);
    SIZE(aisopod_host);
    FIELD(aisopod_host, struct_size);
    FIELD(aisopod_host, abi_version);
    FIELD(aisopod_host, host_version);
    FIELD(aisopod_host, log);
    FIELD(aisopod_host, get_extension);
    FIELD(aisopod_host, get_dependency_extension);
    SIZE(aisopod_plugin);
    FIELD(aisopod_plugin, struct_size);
    FIELD(aisopod_plugin, plugin_data);
    FIELD(aisopod_plugin, id);
    FIELD(aisopod_plugin, register_capabilities);
    FIELD(aisopod_plugin, init);
    FIELD(aisopod_plugin, shutdown);
    FIELD(aisopod_plugin, destroy);
    FIELD(aisopod_plugin, get_extension);
    return 0;
}
