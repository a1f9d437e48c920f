/*
 * A C host that runs a plugin isolated and sandboxed, and has it try what it was not granted: reading a file
 * outside its grant, opening a socket and running /bin/sh. Each is refused by the kernel inside the plugin;
 * the plugin's other calls and the host go on.
 *
 * Usage: sandbox_host <plugin tree> <granted dir> <secret dir>
 * The tree holds "boxed", the test plugin built with HANDLER_MISCHIEF, whose manifest declares reading both
 * directories; the host grants only the first.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "aisopod_loader.h"
#include "host_checks.h"

/* Asks the plugin to try `what` and returns what it answered. */
static const char *attempt(aisopod_loader *loader, const char *what, struct buffer *out) {
    aisopod_sink sink = {out, append};
    out->len = 0;
    out->data[0] = '\0';
    aisopod_status status =
        aisopod_loader_invoke(loader, "boxed", AISOPOD_CAPABILITY_TOOL, "echo", (const uint8_t *)what, strlen(what), &sink);
    CHECK(status == AISOPOD_STATUS_OK, "'%s' returned: %s", what, aisopod_loader_error_message(loader));
    return out->data;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s <plugin tree> <granted dir> <secret dir>\n", argv[0]);
        return 2;
    }
    aisopod_loader *loader = loader_for_tree("1.0.0", argv[1]);
    if (loader == NULL) return 2;
    CHECK(aisopod_loader_set_isolation(loader, "boxed", AISOPOD_ISOLATION_PROCESS) == AISOPOD_STATUS_OK &&
              aisopod_loader_set_sandbox_policy(loader, AISOPOD_SANDBOX_REQUIRE) == AISOPOD_STATUS_OK &&
              aisopod_loader_grant(loader, "boxed", AISOPOD_PERMISSION_READ, argv[2]) == AISOPOD_STATUS_OK,
          "isolated, sandbox required, reading %s granted", argv[2]);
    CHECK(aisopod_loader_grant(loader, "boxed", AISOPOD_PERMISSION_READ, "relative") ==
              AISOPOD_STATUS_INVALID_ARGUMENT,
          "a relative path is refused: %s", aisopod_loader_error_message(loader));
    CHECK(aisopod_loader_grant(loader, "boxed", AISOPOD_PERMISSION_NETWORK, "/tmp") == AISOPOD_STATUS_INVALID_ARGUMENT,
          "the network takes no path: %s", aisopod_loader_error_message(loader));
    CHECK(aisopod_loader_set_sandbox_policy(loader, 9) == AISOPOD_STATUS_INVALID_ARGUMENT,
          "an unknown policy is refused: %s", aisopod_loader_error_message(loader));
    size_t found = 0;
    aisopod_loader_discover(loader, &found);
    CHECK(aisopod_loader_load(loader, "boxed") == AISOPOD_STATUS_OK &&
              aisopod_loader_init(loader, "boxed", "{}", NULL) == AISOPOD_STATUS_OK,
          "boxed loads in its sandbox (%s)", aisopod_loader_error_message(loader));

    struct buffer out = {{0}, 0};
    char what[4200];
    snprintf(what, sizeof what, "read:%s/file", argv[2]);
    CHECK(strcmp(attempt(loader, what, &out), "ok") == 0, "reading the granted %s/file: %s", argv[2], out.data);
    snprintf(what, sizeof what, "read:%s/file", argv[3]);
    CHECK(strcmp(attempt(loader, what, &out), "Permission denied") == 0, "reading %s/file outside the grant: %s",
          argv[3], out.data);
    CHECK(strcmp(attempt(loader, "socket", &out), "Operation not permitted") == 0, "opening a socket: %s", out.data);
    CHECK(strcmp(attempt(loader, "exec", &out), "Operation not permitted") == 0, "running /bin/sh: %s", out.data);
    CHECK(strcmp(attempt(loader, "still here", &out), "still here") == 0, "its other calls go on: %s", out.data);
    aisopod_plugin_state state = AISOPOD_PLUGIN_STATE_UNLOADED;
    aisopod_loader_plugin_state(loader, "boxed", &state);
    CHECK(state == AISOPOD_PLUGIN_STATE_INITIALIZED, "the refusals did not crash it");
    CHECK(aisopod_loader_unload(loader, "boxed") == AISOPOD_STATUS_OK, "boxed unloads");
    CHECK(aisopod_loader_revoke_grants(loader, "boxed") == AISOPOD_STATUS_OK, "grants revoked");
    aisopod_loader_free(loader);
    return finish();
}
