/*
 * A C host that runs misbehaving plugins isolated, each in a helper process of its own, through the usual
 * calls (load, init, invoke, resolve, unload), and after each one loads, calls and unloads a good plugin in
 * its own process: the host must never notice the crashes.
 *
 * Usage: isolated_host <plugin tree> <tree with the missing-dependency plugin>
 * The first tree holds "good", "mischief" (the test plugin built with HANDLER_MISCHIEF) and one plugin per
 * load-time misbehaviour; the second holds "needy". Prints one line per check and "N failure(s)" last.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "aisopod_loader.h"
#include "host_checks.h"

/* A plugin whose load or init ends its helper: the call's status and message, then the good plugin. */
static void load_case(aisopod_loader *loader, const char *id, bool at_init, aisopod_status expected, const char *part) {
    aisopod_status status = aisopod_loader_load(loader, id);
    if (at_init) {
        CHECK(status == AISOPOD_STATUS_OK, "%s: loads (%s)", id, aisopod_loader_error_message(loader));
        status = aisopod_loader_init(loader, id, "{}", NULL);
    }
    const char *message = aisopod_loader_error_message(loader);
    char named[128];
    snprintf(named, sizeof named, "plugin '%s'", id);
    CHECK(status == expected && contains(message, named) && contains(message, part), "%s: %s: %s", id,
          aisopod_status_str(status), message);
    if (at_init) {
        aisopod_plugin_state state = AISOPOD_PLUGIN_STATE_UNLOADED;
        aisopod_loader_plugin_state(loader, id, &state);
        if (expected != AISOPOD_STATUS_INIT_FAILED) {
            CHECK(state == AISOPOD_PLUGIN_STATE_CRASHED, "%s: its state is crashed", id);
        }
        CHECK(aisopod_loader_unload(loader, id) == AISOPOD_STATUS_OK, "%s: unloads", id);
    }
    good_plugin_still_works(loader, id);
}

/* The mischief plugin's echo with `input`, which ends its helper: status, message, state; then a reload. */
static void handler_case(aisopod_loader *loader, const char *input, aisopod_status expected, const char *part) {
    CHECK(aisopod_loader_load(loader, "mischief") == AISOPOD_STATUS_OK &&
              aisopod_loader_init(loader, "mischief", "{}", NULL) == AISOPOD_STATUS_OK,
          "mischief loads isolated for '%s'", input);
    aisopod_plugin_usage usage;
    memset(&usage, 0, sizeof usage);
    CHECK(aisopod_loader_plugin_usage(loader, "mischief", &usage) == AISOPOD_STATUS_OK && usage.pid > 0 &&
              usage.pid != (int32_t)getpid(),
          "mischief runs in process %d, not the host's %d", usage.pid, (int)getpid());
    aisopod_capability *echo = NULL;
    CHECK(aisopod_loader_resolve(loader, "mischief", AISOPOD_CAPABILITY_TOOL, "echo", &echo) == AISOPOD_STATUS_OK,
          "resolved mischief's echo");
    struct buffer out = {{0}, 0};
    aisopod_sink sink = {&out, append};
    aisopod_status status = aisopod_capability_invoke(echo, (const uint8_t *)input, strlen(input), &sink);
    CHECK(status == expected, "'%s': %s (expected %s)", input, aisopod_status_str(status), aisopod_status_str(expected));
    /* A capability's failure message is its loader's. */
    const char *message = aisopod_loader_error_message(loader);
    CHECK(contains(message, "plugin 'mischief'") && contains(message, part), "'%s': %s", input, message);
    aisopod_plugin_state state = AISOPOD_PLUGIN_STATE_UNLOADED;
    aisopod_loader_plugin_state(loader, "mischief", &state);
    CHECK(state == AISOPOD_PLUGIN_STATE_CRASHED, "'%s': mischief's state is crashed", input);
    CHECK(aisopod_capability_invoke(echo, (const uint8_t *)"hi", 2, &sink) == expected,
          "'%s': later calls fail the same way", input);
    aisopod_capability_free(echo);
    CHECK(aisopod_loader_unload(loader, "mischief") == AISOPOD_STATUS_OK, "'%s': mischief unloads", input);
    good_plugin_still_works(loader, input);
}

int main(int argc, char **argv) {
    aisopod_loader *loader = loader_for_two_trees(argc, argv);
    if (loader == NULL) return 2;
    /* Every plugin isolated but "good", which stays in this process. */
    CHECK(aisopod_loader_set_isolation(loader, NULL, AISOPOD_ISOLATION_PROCESS) == AISOPOD_STATUS_OK &&
              aisopod_loader_set_isolation(loader, "good", AISOPOD_ISOLATION_NONE) == AISOPOD_STATUS_OK,
          "every plugin isolated but the good one");
    CHECK(aisopod_loader_set_isolation(loader, NULL, 7) == AISOPOD_STATUS_INVALID_ARGUMENT,
          "an unknown isolation is refused: %s", aisopod_loader_error_message(loader));
    aisopod_loader_set_call_timeout(loader, NULL, 5000);
    aisopod_loader_set_call_timeout(loader, "init-loop", 500);
    aisopod_loader_set_call_timeout(loader, "mischief", 500);
    size_t found = 0;
    aisopod_loader_discover(loader, &found);
    CHECK(found == 8, "discovered %zu plugins", found);

    load_case(loader, "ctor-abort", false, AISOPOD_STATUS_PLUGIN_CRASHED,
              "crashed during load: its helper process was killed by signal SIGABRT; stderr: test plugin: "
              "constructor aborting");
    load_case(loader, "create-exit", false, AISOPOD_STATUS_PLUGIN_CRASHED,
              "ended its helper process during load: it exited with code 3");
    load_case(loader, "init-segfault", true, AISOPOD_STATUS_PLUGIN_CRASHED,
              "crashed during init: its helper process was killed by signal SIGSEGV");
    load_case(loader, "init-loop", true, AISOPOD_STATUS_TIMEOUT,
              "did not finish init within 500 ms: its helper process was killed");
    load_case(loader, "wrong-abi", false, AISOPOD_STATUS_ABI_MISMATCH, "returns ABI version 99, expected 1");
    load_case(loader, "needy", false, AISOPOD_STATUS_LIBRARY_LOAD, "libaisopod_gone.so (DT_NEEDED)");

    handler_case(loader, "segfault", AISOPOD_STATUS_PLUGIN_CRASHED,
                 "crashed during tool 'echo': its helper process was killed by signal SIGSEGV");
    handler_case(loader, "overflow", AISOPOD_STATUS_PLUGIN_CRASHED, "stack overflow");
    handler_case(loader, "exit", AISOPOD_STATUS_PLUGIN_CRASHED, "it exited with code 5");
    handler_case(loader, "hang", AISOPOD_STATUS_TIMEOUT,
                 "did not finish tool 'echo' within 500 ms: its helper process was killed");

    /* A restart policy brings a crashed plugin back with its config. */
    aisopod_loader_set_restart_policy(loader, "mischief", 1, 0);
    aisopod_loader_load(loader, "mischief");
    aisopod_loader_init(loader, "mischief", "{}", NULL);
    struct buffer out = {{0}, 0};
    aisopod_sink sink = {&out, append};
    aisopod_status crashed =
        aisopod_loader_invoke(loader, "mischief", AISOPOD_CAPABILITY_TOOL, "echo", (const uint8_t *)"segfault", 8, &sink);
    aisopod_status back =
        aisopod_loader_invoke(loader, "mischief", AISOPOD_CAPABILITY_TOOL, "echo", (const uint8_t *)"back", 4, &sink);
    aisopod_plugin_usage usage;
    memset(&usage, 0, sizeof usage);
    aisopod_loader_plugin_usage(loader, "mischief", &usage);
    CHECK(crashed == AISOPOD_STATUS_PLUGIN_CRASHED && back == AISOPOD_STATUS_OK && strcmp(out.data, "back") == 0 &&
              usage.restarts == 1 && usage.calls >= 3,
          "restarted once after a crash: %u restart(s), %llu calls, %llu us of CPU, peak RSS %llu bytes",
          usage.restarts, (unsigned long long)usage.calls,
          (unsigned long long)(usage.cpu_user_us + usage.cpu_system_us), (unsigned long long)usage.peak_rss_bytes);
    aisopod_loader_unload(loader, "mischief");

    /* The good plugin in this process has no usage of its own. */
    aisopod_loader_load(loader, "good");
    CHECK(aisopod_loader_plugin_usage(loader, "good", &usage) == AISOPOD_STATUS_INVALID_ARGUMENT,
          "in-process usage is refused: %s", aisopod_loader_error_message(loader));
    aisopod_loader_unload(loader, "good");

    aisopod_loader_free(loader);
    return finish();
}
