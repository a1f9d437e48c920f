/*
 * A C host that checks integrity pins (`[plugin].sha256`) through the C API: a plugin whose library matches
 * loads and runs; one that does not, and one whose library is replaced after discovery, are refused with
 * AISOPOD_STATUS_INTEGRITY_MISMATCH and a message naming the plugin, the library and both digests; a malformed
 * pin is a discovery diagnostic naming the field; and after a resident pinned plugin is unloaded, the next
 * pinned plugin is itself, not the library the dynamic linker still has mapped.
 *
 * Usage: pin_host <plugin tree> <replacement library> <digest of "pinned"> <digest of "swapped"> <digest of the
 *        replacement>
 * The tree holds "good" (unpinned), "pinned", "forged" (pinned to another digest), "resident" (pinned,
 * unload = false), "swapped" (pinned; the host renames the replacement over its library) and "bad-pin" (a
 * malformed pin). Prints one line per check and "N failure(s)" last; exits 1 when a check failed.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "aisopod_loader.h"
#include "host_checks.h"

/* The SHA-256 of "abc" (FIPS 180-2), which "forged" is pinned to. */
static const char ABC_SHA256[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

/* Loads, initialises, calls and unloads `id`, which must answer as itself. */
static void runs(aisopod_loader *loader, const char *id, const char *when) {
    struct buffer out = {{0}, 0};
    aisopod_sink sink = {&out, append};
    aisopod_status load = aisopod_loader_load(loader, id);
    const char *why = aisopod_loader_error_message(loader);
    bool ok = load == AISOPOD_STATUS_OK;
    CHECK(ok, "%s: %s loads%s%s", when, id, ok ? "" : ": ", ok ? "" : why);
    if (load != AISOPOD_STATUS_OK) return;
    aisopod_status init = aisopod_loader_init(loader, id, "{}", NULL);
    aisopod_status call =
        aisopod_loader_invoke(loader, id, AISOPOD_CAPABILITY_TOOL, "echo", (const uint8_t *)"pinned", 6, &sink);
    aisopod_status unload = aisopod_loader_unload(loader, id);
    CHECK(init == AISOPOD_STATUS_OK && call == AISOPOD_STATUS_OK && unload == AISOPOD_STATUS_OK &&
              strcmp(out.data, "pinned") == 0,
          "%s: %s initialises, answers and unloads", when, id);
}

/* Loading `id` is refused with INTEGRITY_MISMATCH, naming the plugin, its library and both digests. */
static void refused(aisopod_loader *loader, const char *id, const char *expected, const char *found) {
    aisopod_plugin_info *info = NULL;
    aisopod_loader_find_plugin(loader, id, &info);
    aisopod_status status = aisopod_loader_load(loader, id);
    const char *message = aisopod_loader_error_message(loader);
    char named[64];
    snprintf(named, sizeof named, "plugin '%s'", id);
    CHECK(status == AISOPOD_STATUS_INTEGRITY_MISMATCH, "%s: %s", id, aisopod_status_str(status));
    CHECK(contains(message, named) && contains(message, aisopod_plugin_info_library_path(info)) &&
              contains(message, expected) && contains(message, found),
          "%s: the message names the plugin, the library and both digests: %s", id, message);
    aisopod_plugin_state state = AISOPOD_PLUGIN_STATE_LOADED;
    CHECK(aisopod_loader_plugin_state(loader, id, &state) == AISOPOD_STATUS_OK && state == AISOPOD_PLUGIN_STATE_UNLOADED,
          "%s is not loaded", id);
    aisopod_plugin_info_free(info);
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s <plugin tree> <replacement> <digest> <swapped digest> <replacement digest>\n",
                argv[0]);
        return 2;
    }
    const char *replacement = argv[2], *pinned_digest = argv[3], *swapped_digest = argv[4];
    const char *replacement_digest = argv[5];
    aisopod_loader *loader = NULL;
    if (aisopod_loader_new("1.5.0", &loader) != AISOPOD_STATUS_OK) return 2;
    aisopod_loader_use_env_path(loader, false);
    aisopod_loader_use_default_paths(loader, false);
    aisopod_loader_add_search_path(loader, argv[1]);

    size_t found = 0, diagnostics = 0;
    aisopod_loader_discover(loader, &found);
    aisopod_loader_diagnostic_count(loader, &diagnostics);
    CHECK(found == 5 && diagnostics == 1, "discovered %zu plugins, %zu diagnostic", found, diagnostics);
    aisopod_diagnostic *diagnostic = NULL;
    aisopod_loader_diagnostic_at(loader, 0, &diagnostic);
    CHECK(aisopod_diagnostic_status(diagnostic) == AISOPOD_STATUS_MANIFEST_INVALID &&
              contains(aisopod_diagnostic_message(diagnostic), "bad-pin/aisopod.plugin.toml:7: [plugin].sha256 = "),
          "a malformed pin is a diagnostic naming the field: %s", aisopod_diagnostic_message(diagnostic));
    aisopod_diagnostic_free(diagnostic);

    aisopod_plugin_info *pinned = NULL, *good = NULL;
    aisopod_loader_find_plugin(loader, "pinned", &pinned);
    aisopod_loader_find_plugin(loader, "good", &good);
    const char *pin = aisopod_plugin_info_sha256(pinned);
    CHECK(pin != NULL && strcmp(pin, pinned_digest) == 0, "aisopod_plugin_info_sha256: %s", pin ? pin : "NULL");
    CHECK(aisopod_plugin_info_sha256(good) == NULL, "an unpinned plugin has no sha256");
    aisopod_plugin_info_free(pinned);
    aisopod_plugin_info_free(good);

    runs(loader, "pinned", "a matching library");
    refused(loader, "forged", ABC_SHA256, "the library's SHA-256 is ");

    /* Replaced between discovery and load: renamed over the library, as an installer would. */
    aisopod_plugin_info *swapped = NULL;
    aisopod_loader_find_plugin(loader, "swapped", &swapped);
    CHECK(rename(replacement, aisopod_plugin_info_library_path(swapped)) == 0, "the library of swapped is replaced");
    aisopod_plugin_info_free(swapped);
    refused(loader, "swapped", swapped_digest, replacement_digest);

    /* A resident pinned library stays mapped under the name of its descriptor: the next pinned plugins, which
     * get the next descriptors, must still be themselves. */
    runs(loader, "resident", "unload = false");
    runs(loader, "pinned", "after a resident pinned plugin");
    runs(loader, "resident", "a resident plugin again");
    runs(loader, "pinned", "and again");
    good_plugin_still_works(loader, "the refused pins");

    aisopod_loader_free(loader);
    return finish();
}
