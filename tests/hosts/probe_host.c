/*
 * A C host that probes misbehaving plugins in helper processes through the C API, and after each one loads,
 * calls and unloads a good plugin in its own process: the host must never notice the crashes.
 *
 * Usage: probe_host <plugin tree> <tree with the missing-dependency plugin>
 * The first tree holds "good" and one plugin per misbehaviour (see CASES); the second holds "needy".
 * Prints one line per check and "N failure(s)" last; exits 1 when a check failed.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "aisopod_loader.h"
#include "host_checks.h"

/* One misbehaving plugin: its id, the verdict its probe must give, the step it must name, and how its helper
 * must have ended (a signal, or an exit code; 0 and -1 for neither). */
struct probe_case {
    const char *id;
    aisopod_status status;
    const char *step;
    int32_t signal;
    int32_t exit_code;
    bool quarantined;
};

static const struct probe_case CASES[] = {
    {"ctor-abort", AISOPOD_STATUS_PLUGIN_CRASHED, "dlopen", SIGABRT, -1, true},
    {"create-exit", AISOPOD_STATUS_PLUGIN_CRASHED, "create", 0, 3, true},
    {"init-segfault", AISOPOD_STATUS_PLUGIN_CRASHED, "init", SIGSEGV, -1, true},
    {"init-loop", AISOPOD_STATUS_TIMEOUT, "init", 0, -1, true},
    {"wrong-abi", AISOPOD_STATUS_ABI_MISMATCH, "ABI gate", 0, -1, true},
    {"needy", AISOPOD_STATUS_LIBRARY_LOAD, "dlopen", 0, -1, false},
};
#define CASE_COUNT (sizeof CASES / sizeof CASES[0])

static void probe_one(aisopod_loader *loader, const struct probe_case *c) {
    aisopod_probe_results *results = NULL;
    const char *ids[] = {c->id};
    aisopod_status status = aisopod_loader_probe(loader, ids, 1, "{}", &results);
    CHECK(status == AISOPOD_STATUS_OK, "%s: the probe ran (%s)", c->id, aisopod_loader_error_message(loader));
    if (status != AISOPOD_STATUS_OK) return;
    aisopod_status verdict = aisopod_probe_results_status(results, 0);
    const char *message = aisopod_probe_results_message(results, 0);
    const char *step = aisopod_probe_results_failed_step(results, 0);
    char named[128];
    snprintf(named, sizeof named, "plugin '%s'", c->id);
    CHECK(verdict == c->status, "%s: %s (expected %s): %s", c->id, aisopod_status_str(verdict),
          aisopod_status_str(c->status), message);
    CHECK(strstr(message, named) != NULL, "%s: the message names the plugin", c->id);
    CHECK(step != NULL && strcmp(step, c->step) == 0, "%s: failed in step '%s'", c->id, step ? step : "(none)");
    int32_t signal_number = -7, exit_code = -7;
    CHECK(aisopod_probe_results_ending(results, 0, &signal_number, &exit_code) == AISOPOD_STATUS_OK &&
              signal_number == c->signal && exit_code == c->exit_code,
          "%s: helper ending: signal %d, exit code %d", c->id, signal_number, exit_code);
    size_t steps = aisopod_probe_results_step_count(results, 0);
    const char *last_step = NULL;
    uint64_t nanos = 0;
    CHECK(steps > 0 && aisopod_probe_results_step_at(results, 0, steps - 1, &last_step, &nanos) == AISOPOD_STATUS_OK &&
              strcmp(last_step, c->step) == 0,
          "%s: %zu steps ran, the last '%s' for %llu ns", c->id, steps, last_step ? last_step : "?",
          (unsigned long long)nanos);
    if (c->signal == SIGABRT) {
        CHECK(strstr(aisopod_probe_results_stderr(results, 0), "constructor aborting") != NULL,
              "%s: the stderr tail holds what the plugin wrote", c->id);
    }
    aisopod_probe_results_free(results);
    good_plugin_still_works(loader, c->id);
}

int main(int argc, char **argv) {
    aisopod_loader *loader = loader_for_two_trees(argc, argv);
    if (loader == NULL) return 2;
    CHECK(aisopod_loader_set_call_timeout(loader, "init-loop", 500) == AISOPOD_STATUS_OK, "a 500 ms deadline");
    size_t found = 0;
    aisopod_loader_discover(loader, &found);
    CHECK(found == CASE_COUNT + 1, "discovered %zu plugins", found);

    for (size_t i = 0; i < CASE_COUNT; i++) probe_one(loader, &CASES[i]);

    /* The quarantine: every crash, hang and ABI failure, with its reason and date. */
    size_t quarantined = 0;
    aisopod_loader_quarantine_count(loader, &quarantined);
    CHECK(quarantined == 5, "%zu libraries are quarantined", quarantined);
    for (size_t i = 0; i < quarantined; i++) {
        aisopod_quarantine_entry *entry = NULL;
        int64_t since = 0;
        aisopod_status got = aisopod_loader_quarantine_at(loader, i, &entry);
        CHECK(got == AISOPOD_STATUS_OK && aisopod_quarantine_entry_since(entry, &since) == AISOPOD_STATUS_OK &&
                  since > 1700000000 && CASES[i].quarantined &&
                  strcmp(aisopod_quarantine_entry_plugin_id(entry), CASES[i].id) == 0 &&
                  aisopod_quarantine_entry_status(entry) == CASES[i].status,
              "quarantined: %s (%s) since %lld: %s", aisopod_quarantine_entry_plugin_id(entry),
              aisopod_quarantine_entry_library_path(entry), (long long)since, aisopod_quarantine_entry_reason(entry));
        aisopod_quarantine_entry_free(entry);
    }
    aisopod_quarantine_entry *none = NULL;
    CHECK(aisopod_loader_quarantine_at(loader, quarantined, &none) == AISOPOD_STATUS_OUT_OF_RANGE && none == NULL,
          "past the end: %s", aisopod_loader_error_message(loader));

    CHECK(aisopod_loader_load(loader, "init-segfault") == AISOPOD_STATUS_QUARANTINED &&
              strstr(aisopod_loader_error_message(loader), "is quarantined since") != NULL,
          "loading a quarantined plugin is refused: %s", aisopod_loader_error_message(loader));

    aisopod_loader_discover(loader, &found);
    size_t diagnostics = 0, set_aside = 0;
    aisopod_loader_diagnostic_count(loader, &diagnostics);
    for (size_t i = 0; i < diagnostics; i++) {
        aisopod_diagnostic *diagnostic = NULL;
        aisopod_loader_diagnostic_at(loader, i, &diagnostic);
        if (aisopod_diagnostic_status(diagnostic) == AISOPOD_STATUS_QUARANTINED) set_aside++;
        aisopod_diagnostic_free(diagnostic);
    }
    CHECK(found == CASE_COUNT + 1 - 5 && set_aside == 5, "discovery sets the 5 aside: %zu found, %zu diagnostics",
          found, set_aside);

    size_t cleared = 0;
    CHECK(aisopod_loader_quarantine_clear(loader, "create-exit", &cleared) == AISOPOD_STATUS_OK && cleared == 1,
          "cleared one by id");
    CHECK(aisopod_loader_quarantine_clear(loader, NULL, &cleared) == AISOPOD_STATUS_OK && cleared == 4,
          "cleared the other %zu", cleared);
    aisopod_loader_discover(loader, &found);
    CHECK(found == CASE_COUNT + 1, "all %zu plugins are found again", found);

    /* One batch of every discovered plugin: the culprits each end a helper, the rest go on in a new one. */
    aisopod_probe_results *batch = NULL;
    CHECK(aisopod_loader_probe(loader, NULL, 0, "{}", &batch) == AISOPOD_STATUS_OK &&
              aisopod_probe_results_count(batch) == found,
          "a batch of %zu plugins", aisopod_probe_results_count(batch));
    size_t passed = 0;
    for (size_t i = 0; i < aisopod_probe_results_count(batch); i++) {
        if (aisopod_probe_results_status(batch, i) == AISOPOD_STATUS_OK) {
            passed++;
            CHECK(strcmp(aisopod_probe_results_plugin_id(batch, i), "good") == 0 &&
                      aisopod_probe_results_capability_count(batch, i, AISOPOD_CAPABILITY_TOOL) == 1 &&
                      strcmp(aisopod_probe_results_capability_at(batch, i, AISOPOD_CAPABILITY_TOOL, 0), "echo") == 0,
                  "the good plugin passed the batch and registered its tool");
        }
    }
    CHECK(passed == 1, "%zu of the batch passed", passed);
    aisopod_probe_results_free(batch);
    good_plugin_still_works(loader, "the batch");

    aisopod_loader_free(loader);
    return finish();
}
