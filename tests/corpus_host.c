/*
 * corpus_host: a C host that pushes every plugin under the given directories through the whole
 * lifecycle, whatever state it is in: load, init, invoke every declared tool (with normal input and
 * with "fail"), emit the test hooks, unload, free. Plugin failures are expected; it prints one line
 * per step and exits non-zero only when the loader itself misbehaves (a panic caught at the API
 * boundary, a NULL-argument status for arguments that were not NULL, an empty error message).
 * It exists to run the bad-plugin corpus under valgrind and the sanitizers.
 *
 * usage: corpus_host PLUGIN_DIR...
 */
#include <stdio.h>
#include <string.h>

#include "aisopod_loader.h"

static int loader_faults;

static int32_t discard(void *context, const uint8_t *data, size_t len) {
    (void)context;
    (void)data;
    (void)len;
    return 0;
}

static void step(const aisopod_loader *loader, const char *what, const char *id, aisopod_status status) {
    if (status == AISOPOD_STATUS_OK) {
        printf("%s %s: ok\n", what, id);
        return;
    }
    const char *message = aisopod_loader_error_message(loader);
    printf("%s %s: %s: %s\n", what, id, aisopod_status_str(status), message);
    if (status == AISOPOD_STATUS_PANIC || status == AISOPOD_STATUS_NULL_ARGUMENT || message[0] == '\0') loader_faults++;
}

int main(int argc, char **argv) {
    aisopod_loader *loader = NULL;
    if (aisopod_loader_new("1.5.0", &loader) != AISOPOD_STATUS_OK) return 2;
    aisopod_loader_use_default_paths(loader, false);
    aisopod_loader_use_env_path(loader, false);
    for (int i = 1; i < argc; i++) aisopod_loader_add_search_path(loader, argv[i]);

    size_t count = 0, diagnostics = 0;
    aisopod_loader_discover(loader, &count);
    aisopod_loader_diagnostic_count(loader, &diagnostics);
    for (size_t i = 0; i < diagnostics; i++) {
        aisopod_diagnostic *d = NULL;
        if (aisopod_loader_diagnostic_at(loader, i, &d) != AISOPOD_STATUS_OK) return 2;
        printf("diagnostic %s: %s\n", aisopod_status_str(aisopod_diagnostic_status(d)), aisopod_diagnostic_message(d));
        aisopod_diagnostic_free(d);
    }

    aisopod_sink sink = {NULL, discard};
    size_t loaded = 0;
    for (size_t i = 0; i < count; i++) {
        aisopod_plugin_info *info = NULL;
        if (aisopod_loader_plugin_at(loader, i, &info) != AISOPOD_STATUS_OK) return 2;
        const char *id = aisopod_plugin_info_id(info);
        aisopod_status status = aisopod_loader_load(loader, id);
        step(loader, "load", id, status);
        if (status == AISOPOD_STATUS_OK) {
            loaded++;
            step(loader, "init", id, aisopod_loader_init(loader, id, "{}", NULL));
            size_t tools = aisopod_plugin_info_capability_count(info, AISOPOD_CAPABILITY_TOOL);
            for (size_t t = 0; t < tools; t++) {
                const char *tool = aisopod_plugin_info_capability_at(info, AISOPOD_CAPABILITY_TOOL, t);
                step(loader, "invoke", id,
                     aisopod_loader_invoke(loader, id, AISOPOD_CAPABILITY_TOOL, tool, (const uint8_t *)"x", 1, &sink));
                step(loader, "invoke", id,
                     aisopod_loader_invoke(loader, id, AISOPOD_CAPABILITY_TOOL, tool, (const uint8_t *)"fail", 4, NULL));
            }
        }
        aisopod_plugin_info_free(info);
    }
    size_t handled = 0;
    step(loader, "emit", "ping", aisopod_loader_emit(loader, "ping", NULL, 0, &sink, &handled));

    /* Half the plugins are unloaded explicitly, the rest by aisopod_loader_free. */
    for (size_t i = 0; i < count; i += 2) {
        aisopod_plugin_info *info = NULL;
        if (aisopod_loader_plugin_at(loader, i, &info) != AISOPOD_STATUS_OK) return 2;
        aisopod_plugin_state state = AISOPOD_PLUGIN_STATE_UNLOADED;
        aisopod_loader_plugin_state(loader, aisopod_plugin_info_id(info), &state);
        if (state != AISOPOD_PLUGIN_STATE_UNLOADED)
            step(loader, "unload", aisopod_plugin_info_id(info), aisopod_loader_unload(loader, aisopod_plugin_info_id(info)));
        aisopod_plugin_info_free(info);
    }
    aisopod_loader_free(loader);
    printf("corpus host: %zu plugins, %zu diagnostics, %zu loaded, %zu hook calls, %d loader faults\n", count,
           diagnostics, loaded, handled, loader_faults);
    return loader_faults == 0 ? 0 : 1;
}
