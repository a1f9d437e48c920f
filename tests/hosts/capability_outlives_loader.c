/*
 * Frees the loader before a resolved capability, then invokes and frees the capability. The handle keeps
 * its plugin loaded, so the call works; freeing the last handle unloads the library.
 *
 * usage: capability_outlives_loader PLUGIN_TREE PLUGIN_ID LIBRARY_FILE_NAME
 * Prints one line per check and exits 0 when every check passed.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aisopod_loader.h"

static int failures;

static void check(int ok, const char *what) {
    printf("%s: %s\n", ok ? "ok" : "FAILED", what);
    if (!ok) failures++;
}

typedef struct buffer {
    char data[256];
    size_t len;
} buffer;

static int32_t append(void *context, const uint8_t *data, size_t len) {
    buffer *b = context;
    if (len > sizeof b->data - 1 - b->len) return 1;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

/* Whether a file whose name ends with `name` is mapped into this process. */
static int is_mapped(const char *name) {
    FILE *maps = fopen("/proc/self/maps", "r");
    if (!maps) return -1;
    char line[4096];
    int found = 0;
    size_t name_len = strlen(name);
    while (fgets(line, sizeof line, maps)) {
        size_t len = strcspn(line, "\n");
        line[len] = '\0';
        if (len >= name_len && strcmp(line + len - name_len, name) == 0) found = 1;
    }
    fclose(maps);
    return found;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s PLUGIN_TREE PLUGIN_ID LIBRARY_FILE_NAME\n", argv[0]);
        return 2;
    }
    const char *tree = argv[1], *id = argv[2], *library = argv[3];
    aisopod_loader *loader = NULL;
    if (aisopod_loader_new("1.0.0", &loader) != AISOPOD_STATUS_OK) return 1;
    aisopod_loader_use_env_path(loader, false);
    aisopod_loader_use_default_paths(loader, false);
    aisopod_loader_add_search_path(loader, tree);
    aisopod_loader_discover(loader, NULL);
    check(aisopod_loader_load(loader, id) == AISOPOD_STATUS_OK, "load");
    check(aisopod_loader_init(loader, id, "{}", NULL) == AISOPOD_STATUS_OK, "init");

    aisopod_capability *echo = NULL;
    check(aisopod_loader_resolve(loader, id, AISOPOD_CAPABILITY_TOOL, "echo", &echo) == AISOPOD_STATUS_OK,
          "resolve tool echo");
    check(aisopod_loader_unload(loader, id) == AISOPOD_STATUS_BUSY, "unload while resolved is refused (BUSY)");

    aisopod_loader_free(loader);
    check(is_mapped(library) == 1, "library still mapped after aisopod_loader_free");

    buffer out = {{0}, 0};
    aisopod_sink sink = {&out, append};
    aisopod_status status = aisopod_capability_invoke(echo, (const uint8_t *)"world", 5, &sink);
    check(status == AISOPOD_STATUS_OK, "invoke after the loader was freed");
    check(strcmp(out.data, "world") == 0, "its output is the input");
    status = aisopod_capability_invoke(echo, (const uint8_t *)"fail", 4, NULL);
    check(status == AISOPOD_STATUS_PLUGIN_ERROR, "a failing call still reports PLUGIN_ERROR");

    aisopod_capability_free(echo);
    check(is_mapped(library) == 0, "library unmapped once the last capability is freed");

    printf("%d failure(s)\n", failures);
    return failures == 0 ? 0 : 1;
}
