/*
 * A C host that checks hot reload through the C API: a plugin rebuilt to a new file and renamed over its
 * library is reloaded; the handle resolved before the reload returns AISOPOD_STATUS_STALE and runs no old code;
 * a new resolve runs the new code; the generation goes up. A new build that fails the ABI gate is refused with
 * AISOPOD_STATUS_ABI_MISMATCH while the old version keeps answering; a plugin exporting aisopod.state/1 keeps
 * its counter across a reload; aisopod_loader_poll_changes reloads only the plugin that changed.
 *
 * Usage: reload_host <plugin tree> <r built with "B:"> <r built with ABI version 2> <counter, rebuilt>
 *        <pb built with "B:">
 * The tree holds "r", "pa" and "pb" (echo answers "A:" and the input) and "counter" (tool "count", and the
 * state extension). The host renames each rebuilt library over the plugin's own when the check needs it.
 * Prints one line per check and "N failure(s)" last; exits 1 when a check failed.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "aisopod_loader.h"
#include "host_checks.h"

static const char *tree;

/* Renames `rebuilt` over the library of plugin `id`, as a build that writes a new file and renames it does. */
static bool replace_library(const char *id, const char *rebuilt) {
    char library[4096];
    snprintf(library, sizeof library, "%s/%s/lib%s.so", tree, id, id);
    return rename(rebuilt, library) == 0;
}

/* Calls `capability` with "x"; its status, and its output in `out`. */
static aisopod_status call_handle(const aisopod_capability *capability, struct buffer *out) {
    out->len = 0;
    out->data[0] = '\0';
    aisopod_sink sink = {out, append};
    return aisopod_capability_invoke(capability, (const uint8_t *)"x", 1, &sink);
}

/* Calls tool `name` of `id` by name with "x"; its output, or "" on failure. */
static const char *call_by_name(aisopod_loader *loader, const char *id, const char *name, struct buffer *out) {
    out->len = 0;
    out->data[0] = '\0';
    aisopod_sink sink = {out, append};
    if (aisopod_loader_invoke(loader, id, AISOPOD_CAPABILITY_TOOL, name, (const uint8_t *)"x", 1, &sink) != 0) {
        return "";
    }
    return out->data;
}

static uint64_t generation_of(aisopod_loader *loader, const char *id) {
    uint64_t generation = 0;
    aisopod_loader_plugin_generation(loader, id, &generation);
    return generation;
}

static void reload_and_stale_handles(aisopod_loader *loader, const char *rebuilt, const char *bad_abi) {
    struct buffer out = {{0}, 0};
    CHECK(aisopod_loader_load(loader, "r") == AISOPOD_STATUS_OK && aisopod_loader_init(loader, "r", "{}", NULL) == 0,
          "r loads and initialises");
    aisopod_capability *old = NULL;
    CHECK(aisopod_loader_resolve(loader, "r", AISOPOD_CAPABILITY_TOOL, "echo", &old) == AISOPOD_STATUS_OK,
          "r's echo resolves");
    CHECK(call_handle(old, &out) == AISOPOD_STATUS_OK && strcmp(out.data, "A:x") == 0, "the handle answers A: %s",
          out.data);
    uint64_t first = generation_of(loader, "r");
    CHECK(first >= 1, "r has generation %" PRIu64, first);

    CHECK(replace_library("r", bad_abi), "a build of r with ABI version 2 is renamed over its library");
    aisopod_status status = aisopod_loader_reload(loader, "r");
    const char *message = aisopod_loader_error_message(loader);
    CHECK(status == AISOPOD_STATUS_ABI_MISMATCH, "its reload fails the ABI gate: %s", aisopod_status_str(status));
    CHECK(contains(message, "plugin 'r': reload failed, the old version keeps running: "),
          "the message says the old version keeps running: %s", message);
    CHECK(call_handle(old, &out) == AISOPOD_STATUS_OK && strcmp(out.data, "A:x") == 0,
          "the old version still answers A: %s", out.data);
    CHECK(generation_of(loader, "r") == first, "the generation did not change");

    CHECK(replace_library("r", rebuilt), "a build of r answering B: is renamed over its library");
    status = aisopod_loader_reload(loader, "r");
    CHECK(status == AISOPOD_STATUS_OK, "r reloads (%s)", aisopod_loader_error_message(loader));
    uint64_t second = generation_of(loader, "r");
    CHECK(second > first, "the generation went up: %" PRIu64 " -> %" PRIu64, first, second);
    status = call_handle(old, &out);
    message = aisopod_loader_error_message(loader);
    char generations[128];
    snprintf(generations, sizeof generations, "generation %" PRIu64 ", and the plugin was reloaded as generation %" PRIu64,
             first, second);
    CHECK(status == AISOPOD_STATUS_STALE && out.len == 0, "the old handle is stale and ran nothing: %s",
          aisopod_status_str(status));
    CHECK(contains(message, "plugin 'r' tool 'echo'") && contains(message, generations),
          "the message names the plugin, the capability and both generations: %s", message);
    aisopod_capability *fresh = NULL;
    CHECK(aisopod_loader_resolve(loader, "r", AISOPOD_CAPABILITY_TOOL, "echo", &fresh) == AISOPOD_STATUS_OK &&
              call_handle(fresh, &out) == AISOPOD_STATUS_OK && strcmp(out.data, "B:x") == 0,
          "a new resolve answers B: %s", out.data);
    CHECK(strcmp(call_by_name(loader, "r", "echo", &out), "B:x") == 0, "a call by name answers B too");
    aisopod_capability_free(old);
    aisopod_capability_free(fresh);
    CHECK(aisopod_loader_unload(loader, "r") == AISOPOD_STATUS_OK, "r unloads once its handles are freed");
}

static void state_handover(aisopod_loader *loader, const char *rebuilt) {
    struct buffer out = {{0}, 0};
    CHECK(aisopod_loader_load(loader, "counter") == 0 && aisopod_loader_init(loader, "counter", "{}", NULL) == 0,
          "counter loads and initialises");
    call_by_name(loader, "counter", "count", &out);
    call_by_name(loader, "counter", "count", &out);
    CHECK(strcmp(call_by_name(loader, "counter", "count", &out), "3") == 0, "it counts to 3");
    CHECK(replace_library("counter", rebuilt), "a new build of counter is renamed over its library");
    CHECK(aisopod_loader_reload(loader, "counter") == AISOPOD_STATUS_OK, "counter reloads (%s)",
          aisopod_loader_error_message(loader));
    CHECK(strcmp(call_by_name(loader, "counter", "count", &out), "4") == 0,
          "the new version restored the count its old version saved: %s", out.data);
    CHECK(aisopod_loader_unload(loader, "counter") == AISOPOD_STATUS_OK, "counter unloads");
}

static void polling(aisopod_loader *loader, const char *rebuilt) {
    struct buffer out = {{0}, 0};
    bool started = true;
    for (int i = 0; i < 2; i++) {
        const char *id = i == 0 ? "pa" : "pb";
        started = started && aisopod_loader_load(loader, id) == 0 && aisopod_loader_init(loader, id, "{}", NULL) == 0;
    }
    CHECK(started, "pa and pb load and initialise");
    size_t reloaded = 99;
    CHECK(aisopod_loader_poll_changes(loader, &reloaded) == AISOPOD_STATUS_OK && reloaded == 0,
          "a poll with nothing changed reloads nothing (%zu)", reloaded);
    uint64_t pa = generation_of(loader, "pa");
    CHECK(replace_library("pb", rebuilt), "a build of pb answering B: is renamed over its library");
    CHECK(aisopod_loader_poll_changes(loader, &reloaded) == AISOPOD_STATUS_OK && reloaded == 1,
          "the next poll reloads one plugin (%zu)", reloaded);
    CHECK(strcmp(call_by_name(loader, "pb", "echo", &out), "B:x") == 0, "pb answers B: %s", out.data);
    CHECK(strcmp(call_by_name(loader, "pa", "echo", &out), "A:x") == 0 && generation_of(loader, "pa") == pa,
          "pa was left alone: %s", out.data);
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s <tree> <r B> <r ABI 2> <counter> <pb B>\n", argv[0]);
        return 2;
    }
    tree = argv[1];
    aisopod_loader *loader = loader_for_tree("1.0.0", tree);
    if (loader == NULL) return 2;
    size_t found = 0;
    CHECK(aisopod_loader_discover(loader, &found) == AISOPOD_STATUS_OK && found == 4, "discovered %zu plugins", found);
    reload_and_stale_handles(loader, argv[2], argv[3]);
    state_handover(loader, argv[4]);
    polling(loader, argv[5]);
    aisopod_loader_free(loader);
    return finish();
}
