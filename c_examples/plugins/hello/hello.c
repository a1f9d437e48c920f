/*
 * hello: the smallest complete aisopod plugin. It registers one tool, "greet",
 * which writes "Hello, <input>!", and one hook, "on_start", which counts the
 * events it sees. It uses only the header: it does not link the loader.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aisopod_loader.h"

typedef struct hello_state {
    aisopod_plugin plugin;      /* first, so a plugin pointer is a state pointer */
    const aisopod_host *host;
    atomic_uint starts;         /* handlers may run on several threads at once */
} hello_state;

static int32_t write_str(const aisopod_sink *sink, const char *text) {
    return sink->write(sink->context, (const uint8_t *)text, strlen(text));
}

/* Tool "greet": input bytes are a name; output is a greeting. */
static int32_t greet(void *userdata, const uint8_t *input, size_t input_len, const aisopod_sink *sink) {
    (void)userdata;
    if (write_str(sink, "Hello, ") != 0) return 1;
    if (input_len > 0 && sink->write(sink->context, input, input_len) != 0) return 1;
    return write_str(sink, "!");
}

/* Hook "on_start": counts events and reports the count. */
static int32_t on_start(void *userdata, const uint8_t *input, size_t input_len, const aisopod_sink *sink) {
    hello_state *state = userdata;
    (void)input;
    (void)input_len;
    unsigned seen = atomic_fetch_add(&state->starts, 1) + 1;
    char line[64];
    snprintf(line, sizeof line, "hello saw on_start #%u", seen);
    return write_str(sink, line);
}

static int32_t hello_register(const aisopod_plugin *plugin, const aisopod_registrar *registrar) {
    hello_state *state = (hello_state *)plugin;
    if (registrar->register_capability(registrar, AISOPOD_CAPABILITY_TOOL, "greet", greet, state) != 0)
        return 1;
    return registrar->register_capability(registrar, AISOPOD_CAPABILITY_HOOK, "on_start", on_start, state);
}

static int32_t hello_init(const aisopod_plugin *plugin, const aisopod_init_context *context) {
    hello_state *state = (hello_state *)plugin;
    char line[256];
    snprintf(line, sizeof line, "hello: init with config %.200s", context->config);
    state->host->log(state->host, AISOPOD_LOG_INFO, line);
    return 0;
}

static void hello_shutdown(const aisopod_plugin *plugin) {
    hello_state *state = (hello_state *)plugin;
    state->host->log(state->host, AISOPOD_LOG_INFO, "hello: shutdown");
}

static void hello_destroy(const aisopod_plugin *plugin) {
    free((hello_state *)plugin);
}

static const void *hello_get_extension(const aisopod_plugin *plugin, const char *id) {
    (void)plugin;
    (void)id;
    return NULL;
}

AISOPOD_PLUGIN_EXPORT uint32_t aisopod_plugin_abi_version(void) {
    return AISOPOD_ABI_VERSION;
}

AISOPOD_PLUGIN_EXPORT const aisopod_plugin *aisopod_plugin_create(const aisopod_host *host) {
    hello_state *state = calloc(1, sizeof *state);
    if (state == NULL) return NULL;
    state->host = host;
    atomic_init(&state->starts, 0);
    state->plugin.struct_size = sizeof state->plugin;
    state->plugin.plugin_data = state;
    state->plugin.id = "hello";
    state->plugin.register_capabilities = hello_register;
    state->plugin.init = hello_init;
    state->plugin.shutdown = hello_shutdown;
    state->plugin.destroy = hello_destroy;
    state->plugin.get_extension = hello_get_extension;
    return &state->plugin;
}
