/*
 * host: a complete aisopod host. It discovers the plugins under the directories
 * given on the command line, prints their metadata and the diagnostics, loads and
 * initialises each plugin, invokes every tool with the input "world", emits the
 * "on_start" hook, and unloads everything. Exit status is 0 when every step that
 * should succeed did.
 *
 * usage: host PLUGIN_DIR...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aisopod_loader.h"

/* A growable buffer behind an aisopod_sink. */
typedef struct buffer {
    char *data;
    size_t len, cap;
} buffer;

static int32_t buffer_write(void *context, const uint8_t *data, size_t len) {
    buffer *b = context;
    if (b->len + len + 1 > b->cap) {
        size_t cap = (b->len + len + 1) * 2;
        char *grown = realloc(b->data, cap);
        if (grown == NULL) return 1;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

/* For hook output: each write (a hook handler writes its message at once) becomes an indented line. */
static int32_t buffer_write_line(void *context, const uint8_t *data, size_t len) {
    if (buffer_write(context, (const uint8_t *)"  ", 2) != 0 || buffer_write(context, data, len) != 0) return 1;
    return buffer_write(context, (const uint8_t *)"\n", 1);
}

static void on_log(void *userdata, aisopod_log_level level, const char *source, const char *message) {
    (void)userdata;
    if (level <= AISOPOD_LOG_INFO) printf("log [%s] %s\n", source, message);
}

static int fail(const aisopod_loader *loader, const char *what, aisopod_status status) {
    fprintf(stderr, "%s failed: %s (%u): %s\n", what, aisopod_status_str(status), (unsigned)status,
            aisopod_loader_error_message(loader));
    return 1;
}

static const char *const KIND_NAMES[] = {"tool", "command", "channel", "provider", "hook"};

static void print_plugin(const aisopod_plugin_info *info) {
    printf("plugin %s %s\n", aisopod_plugin_info_id(info), aisopod_plugin_info_version(info));
    printf("  name: %s\n", aisopod_plugin_info_name(info));
    printf("  description: %s\n", aisopod_plugin_info_description(info));
    printf("  author: %s\n", aisopod_plugin_info_author(info));
    const char *license = aisopod_plugin_info_license(info);
    if (license != NULL) printf("  license: %s\n", license);
    printf("  library: %s\n", aisopod_plugin_info_library_path(info));
    for (uint32_t kind = AISOPOD_CAPABILITY_TOOL; kind <= AISOPOD_CAPABILITY_HOOK; kind++) {
        size_t count = aisopod_plugin_info_capability_count(info, kind);
        for (size_t i = 0; i < count; i++)
            printf("  %s: %s\n", KIND_NAMES[kind], aisopod_plugin_info_capability_at(info, kind, i));
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PLUGIN_DIR...\n", argv[0]);
        return 2;
    }
    printf("aisopod-loader %s (header %s, ABI %d)\n", aisopod_loader_version(), AISOPOD_LOADER_VERSION_STRING,
           AISOPOD_ABI_VERSION);

    aisopod_loader *loader = NULL;
    aisopod_status status = aisopod_loader_new("1.0.0", &loader);
    if (status != AISOPOD_STATUS_OK) return fail(NULL, "aisopod_loader_new", status);
    aisopod_loader_set_log_callback(loader, on_log, NULL);
    aisopod_loader_use_default_paths(loader, false);
    for (int i = 1; i < argc; i++) aisopod_loader_add_search_path(loader, argv[i]);

    size_t count = 0;
    if ((status = aisopod_loader_discover(loader, &count)) != AISOPOD_STATUS_OK)
        return fail(loader, "discover", status);
    printf("discovered %zu plugin(s)\n", count);

    size_t diagnostics = 0;
    aisopod_loader_diagnostic_count(loader, &diagnostics);
    for (size_t i = 0; i < diagnostics; i++) {
        aisopod_diagnostic *d = NULL;
        if (aisopod_loader_diagnostic_at(loader, i, &d) != AISOPOD_STATUS_OK) continue;
        printf("diagnostic [%s] %s\n", aisopod_status_str(aisopod_diagnostic_status(d)), aisopod_diagnostic_message(d));
        aisopod_diagnostic_free(d);
    }

    int failures = 0;
    buffer out = {0};
    aisopod_sink sink = {&out, buffer_write};
    for (size_t i = 0; i < count; i++) {
        aisopod_plugin_info *info = NULL;
        if (aisopod_loader_plugin_at(loader, i, &info) != AISOPOD_STATUS_OK) continue;
        print_plugin(info);
        const char *id = aisopod_plugin_info_id(info);
        if ((status = aisopod_loader_load(loader, id)) != AISOPOD_STATUS_OK) {
            failures += fail(loader, "load", status);
        } else if ((status = aisopod_loader_init(loader, id, "{\"greeting\": \"hi\"}", "")) != AISOPOD_STATUS_OK) {
            failures += fail(loader, "init", status);
        } else {
            size_t tools = aisopod_plugin_info_capability_count(info, AISOPOD_CAPABILITY_TOOL);
            for (size_t t = 0; t < tools; t++) {
                const char *tool = aisopod_plugin_info_capability_at(info, AISOPOD_CAPABILITY_TOOL, t);
                out.len = 0;
                status = aisopod_loader_invoke(loader, id, AISOPOD_CAPABILITY_TOOL, tool, (const uint8_t *)"world", 5,
                                               &sink);
                if (status != AISOPOD_STATUS_OK) failures += fail(loader, "invoke", status);
                else printf("tool %s/%s -> %.*s\n", id, tool, (int)out.len, out.data ? out.data : "");
            }
        }
        aisopod_plugin_info_free(info);
    }

    size_t handled = 0;
    out.len = 0;
    aisopod_sink lines = {&out, buffer_write_line};
    if ((status = aisopod_loader_emit(loader, "on_start", NULL, 0, &lines, &handled)) != AISOPOD_STATUS_OK)
        failures += fail(loader, "emit", status);
    else printf("hook on_start fired in %zu plugin(s):\n%.*s", handled, (int)out.len, out.data ? out.data : "");

    for (size_t i = 0; i < count; i++) {
        aisopod_plugin_info *info = NULL;
        if (aisopod_loader_plugin_at(loader, i, &info) != AISOPOD_STATUS_OK) continue;
        aisopod_plugin_state state = AISOPOD_PLUGIN_STATE_UNLOADED;
        aisopod_loader_plugin_state(loader, aisopod_plugin_info_id(info), &state);
        if (state != AISOPOD_PLUGIN_STATE_UNLOADED) {
            if ((status = aisopod_loader_unload(loader, aisopod_plugin_info_id(info))) != AISOPOD_STATUS_OK)
                failures += fail(loader, "unload", status);
            else printf("unloaded %s\n", aisopod_plugin_info_id(info));
        }
        aisopod_plugin_info_free(info);
    }

    free(out.data);
    aisopod_loader_free(loader);
    printf("done: %d failure(s)\n", failures);
    return failures == 0 ? 0 : 1;
}
