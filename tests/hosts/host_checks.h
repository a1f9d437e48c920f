/*
 * What the C test hosts share: a CHECK macro that prints "ok: ..." or "FAILED (file:line): ..." and counts
 * failures, a sink that collects output into a buffer, and the check that a good plugin "good" still loads,
 * initialises, answers and unloads after a misbehaving one.
 */
#ifndef AISOPOD_TEST_HOST_CHECKS_H
#define AISOPOD_TEST_HOST_CHECKS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "aisopod_loader.h"

static int failures = 0;

#define CHECK(cond, ...)                                    \
    do {                                                    \
        if (cond) {                                         \
            printf("ok: ");                                 \
        } else {                                            \
            printf("FAILED (%s:%d): ", __FILE__, __LINE__); \
            failures++;                                     \
        }                                                   \
        printf(__VA_ARGS__);                                \
        printf("\n");                                       \
    } while (0)

struct buffer {
    char data[256];
    size_t len;
};

static inline int32_t append(void *context, const uint8_t *data, size_t len) {
    struct buffer *buffer = context;
    if (len > sizeof buffer->data - buffer->len - 1) return 1;
    memcpy(buffer->data + buffer->len, data, len);
    buffer->len += len;
    buffer->data[buffer->len] = '\0';
    return 0;
}

static inline bool contains(const char *text, const char *part) {
    return text != NULL && strstr(text, part) != NULL;
}

/* The good plugin, in this process: load, init, one call, unload. */
static inline void good_plugin_still_works(aisopod_loader *loader, const char *after) {
    struct buffer out = {{0}, 0};
    aisopod_sink sink = {&out, append};
    aisopod_status load = aisopod_loader_load(loader, "good");
    aisopod_status init = aisopod_loader_init(loader, "good", "{}", NULL);
    aisopod_status call =
        aisopod_loader_invoke(loader, "good", AISOPOD_CAPABILITY_TOOL, "echo", (const uint8_t *)"still here", 10, &sink);
    aisopod_status unload = aisopod_loader_unload(loader, "good");
    CHECK(load == AISOPOD_STATUS_OK && init == AISOPOD_STATUS_OK && call == AISOPOD_STATUS_OK &&
              unload == AISOPOD_STATUS_OK && strcmp(out.data, "still here") == 0,
          "after %s, the host loads, calls and unloads a good plugin in its own process (%s)", after,
          aisopod_loader_error_message(loader));
}

/* A loader for `host_version` that searches exactly `tree`: not AISOPOD_PLUGIN_PATH, nor the default paths;
 * NULL when it cannot be made. */
static inline aisopod_loader *loader_for_tree(const char *host_version, const char *tree) {
    aisopod_loader *loader = NULL;
    if (aisopod_loader_new(host_version, &loader) != AISOPOD_STATUS_OK) return NULL;
    aisopod_loader_use_env_path(loader, false);
    aisopod_loader_use_default_paths(loader, false);
    aisopod_loader_add_search_path(loader, tree);
    return loader;
}

/* A loader for host version 1.0.0 that searches exactly the two trees the host was given (argv[1] and
 * argv[2]); NULL, after a usage line, when it was not given two. */
static inline aisopod_loader *loader_for_two_trees(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <plugin tree> <tree with needy>\n", argv[0]);
        return NULL;
    }
    aisopod_loader *loader = loader_for_tree("1.0.0", argv[1]);
    if (loader != NULL) aisopod_loader_add_search_path(loader, argv[2]);
    return loader;
}

/* Prints the failure count and gives the exit status. */
static inline int finish(void) {
    printf("%d failure(s)\n", failures);
    return failures == 0 ? 0 : 1;
}

#endif
