/* {{name}}: an aisopod plugin with one tool, "echo", which writes its input back. */
#include <stdlib.h>

#include "aisopod_loader.h"

#define PLUGIN_ID "{{name}}"

/* Tool "echo": may run on several threads at once; it keeps no state. */
static int32_t echo(void *userdata, const uint8_t *input, size_t input_len, const aisopod_sink *sink) {
    (void)userdata;
    if (input_len == 0) return 0;
    return sink->write(sink->context, input, input_len) == 0 ? 0 : 1;
}

static int32_t register_capabilities(const aisopod_plugin *plugin, const aisopod_registrar *registrar) {
    (void)plugin;
    return registrar->register_capability(registrar, AISOPOD_CAPABILITY_TOOL, "echo", echo, NULL);
}

static int32_t init(const aisopod_plugin *plugin, const aisopod_init_context *context) {
    (void)plugin;
    (void)context; /* context->config: the host's configuration, JSON by convention; copy what you keep. */
    return 0;
}

static void shutdown(const aisopod_plugin *plugin) {
    (void)plugin;
}

static void destroy(const aisopod_plugin *plugin) {
    free((void *)plugin);
}

static const void *get_extension(const aisopod_plugin *plugin, const char *id) {
    (void)plugin;
    (void)id;
    return NULL;
}

AISOPOD_PLUGIN_EXPORT uint32_t aisopod_plugin_abi_version(void) {
    return AISOPOD_ABI_VERSION;
}

AISOPOD_PLUGIN_EXPORT const aisopod_plugin *aisopod_plugin_create(const aisopod_host *host) {
    (void)host; /* Valid until destroy returns: keep it to log through host->log. */
    aisopod_plugin *plugin = calloc(1, sizeof *plugin);
    if (plugin == NULL) return NULL;
    plugin->struct_size = sizeof *plugin;
    plugin->id = PLUGIN_ID;
    plugin->register_capabilities = register_capabilities;
    plugin->init = init;
    plugin->shutdown = shutdown;
    plugin->destroy = destroy;
    plugin->get_extension = get_extension;
    return plugin;
}
