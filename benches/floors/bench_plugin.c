/*
 * The plugin the load and call benchmarks use: the smallest complete ABI v1 plugin. Its tool "noop" returns
 * at once, so a call through it measures the calling path alone; its tool "echo" writes its input to the sink
 * in one write, so a call through it also measures carrying the input in and the output back. Every copy in a
 * benchmark tree gets its own id by patching the placeholder below in the copied file (same length,
 * NUL-padded).
 */
#include <stdlib.h>

#include "aisopod_loader.h"

/* Patched per copy; keep in sync with PLACEHOLDER in benches/loader.rs. */
static const char plugin_id[] = "aisopod-bench-placeholder-id";

static int32_t noop(void *userdata, const uint8_t *input, size_t input_len, const aisopod_sink *sink) {
    (void)userdata;
    (void)input;
    (void)sink;
    return input_len == 4 ? 1 : 0; /* depends on the input, so the call cannot be folded away */
}

static int32_t echo(void *userdata, const uint8_t *input, size_t input_len, const aisopod_sink *sink) {
    (void)userdata;
    if (sink == NULL || sink->write == NULL) return 0;
    return sink->write(sink->context, input, input_len) == 0 ? 0 : 1;
}

static int32_t bench_register(const aisopod_plugin *plugin, const aisopod_registrar *registrar) {
    (void)plugin;
    int32_t refused = registrar->register_capability(registrar, AISOPOD_CAPABILITY_TOOL, "noop", noop, NULL);
    if (refused != 0) return refused;
    return registrar->register_capability(registrar, AISOPOD_CAPABILITY_TOOL, "echo", echo, NULL);
}

static int32_t bench_init(const aisopod_plugin *plugin, const aisopod_init_context *context) {
    (void)plugin;
    (void)context;
    return 0;
}

static void bench_shutdown(const aisopod_plugin *plugin) {
    (void)plugin;
}

static void bench_destroy(const aisopod_plugin *plugin) {
    free((void *)plugin);
}

AISOPOD_PLUGIN_EXPORT uint32_t aisopod_plugin_abi_version(void) {
    return AISOPOD_ABI_VERSION;
}

AISOPOD_PLUGIN_EXPORT const aisopod_plugin *aisopod_plugin_create(const aisopod_host *host) {
    (void)host;
    aisopod_plugin *plugin = calloc(1, sizeof *plugin);
    if (plugin == NULL) return NULL;
    plugin->struct_size = sizeof *plugin;
    plugin->id = plugin_id;
    plugin->register_capabilities = bench_register;
    plugin->init = bench_init;
    plugin->shutdown = bench_shutdown;
    plugin->destroy = bench_destroy;
    return plugin;
}
