/*
 * A C host that checks what the loader trusts: plugin files by who could have written them (the file policy,
 * strict, warn and off in turn), and plugins by id (the allow and deny lists). Each refusal has its own status
 * and a message naming the culprit; after each, a good plugin still loads, answers and unloads.
 *
 * Usage: trust_host <permissions tree> foreign|no-foreign <lists tree>
 *        trust_host setuid
 *
 * The permissions tree holds "good" and four unsafe plugins: "gw-dir", whose directory is group-writable
 * (0775); "ww-manifest", whose manifest is writable by others (0646); "gw-lib", whose library is
 * group-writable (0775); and, with "foreign", "foreign-lib", whose library (0755) belongs to uid 65534. The lists
 * tree holds "good" and "beta". With "setuid", the host only discovers what AISOPOD_PLUGIN_PATH names, and
 * expects nothing when it runs setuid (its effective uid differs from its real one).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "aisopod_loader.h"
#include "host_checks.h"

/* Warnings the loader logged, one per line. */
struct warnings {
    char text[16384];
    size_t len;
    int count;
};

static void on_log(void *userdata, aisopod_log_level level, const char *source, const char *message) {
    struct warnings *warnings = userdata;
    if (level != AISOPOD_LOG_WARN) return;
    warnings->count++;
    size_t room = sizeof warnings->text - warnings->len;
    int written = snprintf(warnings->text + warnings->len, room, "%s: %s\n", source, message);
    if (written > 0 && (size_t)written < room) warnings->len += (size_t)written;
}

/* A loader for host version 1.0.0 that searches exactly `tree`, logging warnings into `warnings`. */
static aisopod_loader *loader_for(const char *tree, struct warnings *warnings) {
    aisopod_loader *loader = NULL;
    if (aisopod_loader_new("1.0.0", &loader) != AISOPOD_STATUS_OK) return NULL;
    aisopod_loader_use_env_path(loader, false);
    aisopod_loader_use_default_paths(loader, false);
    aisopod_loader_add_search_path(loader, tree);
    aisopod_loader_set_log_callback(loader, on_log, warnings);
    return loader;
}

/* The status of the diagnostic whose message mentions `part`, with the message copied into `message`;
 * AISOPOD_STATUS_OK when no diagnostic does. */
static aisopod_status diagnostic_about(aisopod_loader *loader, const char *part, char *message, size_t size) {
    size_t count = 0;
    aisopod_loader_diagnostic_count(loader, &count);
    for (size_t i = 0; i < count; i++) {
        aisopod_diagnostic *diagnostic = NULL;
        if (aisopod_loader_diagnostic_at(loader, i, &diagnostic) != AISOPOD_STATUS_OK) continue;
        const char *text = aisopod_diagnostic_message(diagnostic);
        aisopod_status status = aisopod_diagnostic_status(diagnostic);
        bool found = contains(text, part);
        if (found) snprintf(message, size, "%s", text);
        aisopod_diagnostic_free(diagnostic);
        if (found) return status;
    }
    snprintf(message, size, "(no diagnostic mentions %s)", part);
    return AISOPOD_STATUS_OK;
}

/* Loads, initialises and unloads `id`; the load's status, its message in `message`. */
static aisopod_status load_and_unload(aisopod_loader *loader, const char *id, char *message, size_t size) {
    aisopod_status status = aisopod_loader_load(loader, id);
    snprintf(message, size, "%s", status == AISOPOD_STATUS_OK ? "loaded" : aisopod_loader_error_message(loader));
    if (status == AISOPOD_STATUS_OK) {
        aisopod_loader_init(loader, id, "{}", NULL);
        aisopod_loader_unload(loader, id);
    }
    return status;
}

static void check_file_policy(const char *tree, bool foreign) {
    const char *policy_names[] = {"off", "warn", "strict"};
    const aisopod_file_policy policies[] = {AISOPOD_FILE_POLICY_OFF, AISOPOD_FILE_POLICY_WARN,
                                            AISOPOD_FILE_POLICY_STRICT};
    const size_t unsafe_plugins = foreign ? 4 : 3;
    for (size_t p = 0; p < 3; p++) {
        const char *name = policy_names[p];
        struct warnings warnings = {{0}, 0, 0};
        aisopod_loader *loader = loader_for(tree, &warnings);
        if (loader == NULL) {
            CHECK(false, "%s: a loader", name);
            continue;
        }
        if (policies[p] != AISOPOD_FILE_POLICY_STRICT) {
            CHECK(aisopod_loader_set_file_policy(loader, policies[p]) == AISOPOD_STATUS_OK, "%s: policy set", name);
        }
        size_t found = 0;
        aisopod_loader_discover(loader, &found);
        char message[2048];
        aisopod_status gw_dir = diagnostic_about(loader, "gw-dir", message, sizeof message);
        if (policies[p] == AISOPOD_FILE_POLICY_STRICT) {
            /* The default: never set. */
            CHECK(found == 1 + unsafe_plugins - 2, "strict (the default): %zu plugin(s) found", found);
            CHECK(gw_dir == AISOPOD_STATUS_UNSAFE_PERMISSIONS && contains(message, "/gw-dir: the plugin directory is "
                                                                                   "writable by its group (mode 0775, owner uid "),
                  "strict: gw-dir [%s] %s", aisopod_status_str(gw_dir), message);
            aisopod_status ww = diagnostic_about(loader, "ww-manifest", message, sizeof message);
            CHECK(ww == AISOPOD_STATUS_UNSAFE_PERMISSIONS &&
                      contains(message, "/ww-manifest/aisopod.plugin.toml: the manifest is writable by others (mode 0646,"),
                  "strict: ww-manifest [%s] %s", aisopod_status_str(ww), message);
            aisopod_status gw_lib = load_and_unload(loader, "gw-lib", message, sizeof message);
            CHECK(gw_lib == AISOPOD_STATUS_UNSAFE_PERMISSIONS &&
                      contains(message, "aisopod_loader_load: plugin 'gw-lib': ") &&
                      contains(message, "/gw-lib/libgw-lib.so: the library is writable by its group (mode 0775,"),
                  "strict: gw-lib [%s] %s", aisopod_status_str(gw_lib), message);
            if (foreign) {
                aisopod_status owned = load_and_unload(loader, "foreign-lib", message, sizeof message);
                CHECK(owned == AISOPOD_STATUS_UNSAFE_PERMISSIONS &&
                          contains(message, "/foreign-lib/libforeign-lib.so: the library is owned by uid 65534") &&
                          contains(message, "who is neither root nor this process's user (mode 0755"),
                      "strict: foreign-lib [%s] %s", aisopod_status_str(owned), message);
            }
            CHECK(warnings.count == 0, "strict: no warning logged (%d)", warnings.count);
        } else {
            CHECK(found == 1 + unsafe_plugins, "%s: all %zu plugin(s) found", name, found);
            CHECK(gw_dir == AISOPOD_STATUS_OK, "%s: no diagnostic about gw-dir", name);
            const char *ids[] = {"gw-dir", "ww-manifest", "gw-lib", "foreign-lib"};
            for (size_t i = 0; i < unsafe_plugins; i++) {
                aisopod_status status = load_and_unload(loader, ids[i], message, sizeof message);
                CHECK(status == AISOPOD_STATUS_OK, "%s: %s loads (%s)", name, ids[i], message);
            }
            if (policies[p] == AISOPOD_FILE_POLICY_WARN) {
                CHECK(warnings.count == (int)unsafe_plugins, "warn: %d warning(s) logged, one per unsafe file",
                      warnings.count);
                CHECK(contains(warnings.text, "/gw-dir: the plugin directory is writable by its group (mode 0775") &&
                          contains(warnings.text, "/ww-manifest/aisopod.plugin.toml: the manifest is writable by others") &&
                          contains(warnings.text, "plugin 'gw-lib': ") &&
                          contains(warnings.text, "/gw-lib/libgw-lib.so: the library is writable by its group") &&
                          (!foreign || contains(warnings.text, "/libforeign-lib.so: the library is owned by uid 65534")) &&
                          contains(warnings.text, "accepted, since the file policy is warn"),
                      "warn: each warning names its file:\n%s", warnings.text);
            } else {
                CHECK(warnings.count == 0, "off: nothing checked, no warning (%d)", warnings.count);
            }
        }
        good_plugin_still_works(loader, name);
        aisopod_loader_free(loader);
    }
}

static void check_lists(const char *tree) {
    struct warnings warnings = {{0}, 0, 0};
    aisopod_loader *loader = loader_for(tree, &warnings);
    if (loader == NULL) {
        CHECK(false, "lists: a loader");
        return;
    }
    char message[2048];
    CHECK(aisopod_loader_set_file_policy(loader, 3) == AISOPOD_STATUS_INVALID_ARGUMENT &&
              contains(aisopod_loader_error_message(loader), "'policy' is 3"),
          "an unknown file policy is refused: %s", aisopod_loader_error_message(loader));
    CHECK(aisopod_loader_deny(loader, "Good") == AISOPOD_STATUS_INVALID_ARGUMENT &&
              contains(aisopod_loader_error_message(loader), "aisopod_loader_deny") &&
              contains(aisopod_loader_error_message(loader), "\"Good\""),
          "an id no manifest could have is refused: %s", aisopod_loader_error_message(loader));

    CHECK(aisopod_loader_deny(loader, "beta") == AISOPOD_STATUS_OK, "beta denied");
    size_t found = 0;
    aisopod_loader_discover(loader, &found);
    aisopod_status denied = diagnostic_about(loader, "'beta'", message, sizeof message);
    CHECK(found == 1 && denied == AISOPOD_STATUS_DENIED && contains(message, "/beta/aisopod.plugin.toml: plugin 'beta' "
                                                                             "is on the host's deny list"),
          "deny: beta is a diagnostic, not a plugin: [%s] %s", aisopod_status_str(denied), message);
    aisopod_status load = load_and_unload(loader, "beta", message, sizeof message);
    CHECK(load == AISOPOD_STATUS_DENIED && contains(message, "plugin 'beta' is on the host's deny list"),
          "deny: loading beta is refused: [%s] %s", aisopod_status_str(load), message);
    good_plugin_still_works(loader, "a denied plugin");

    CHECK(aisopod_loader_clear_lists(loader) == AISOPOD_STATUS_OK && aisopod_loader_allow(loader, "beta") ==
                                                                         AISOPOD_STATUS_OK,
          "lists cleared, beta allowed");
    aisopod_loader_discover(loader, &found);
    aisopod_status unlisted = diagnostic_about(loader, "'good'", message, sizeof message);
    CHECK(found == 1 && unlisted == AISOPOD_STATUS_DENIED &&
              contains(message, "/good/aisopod.plugin.toml: plugin 'good' is not on the host's allow list ('beta')"),
          "allow: good, not on the list, is a diagnostic: [%s] %s", aisopod_status_str(unlisted), message);
    load = load_and_unload(loader, "good", message, sizeof message);
    CHECK(load == AISOPOD_STATUS_DENIED && contains(message, "not on the host's allow list"),
          "allow: loading good is refused: [%s] %s", aisopod_status_str(load), message);
    load = load_and_unload(loader, "beta", message, sizeof message);
    CHECK(load == AISOPOD_STATUS_OK, "allow: beta loads (%s)", message);

    CHECK(aisopod_loader_clear_lists(loader) == AISOPOD_STATUS_OK, "lists cleared");
    good_plugin_still_works(loader, "the lists were cleared, without discovering again");
    aisopod_loader_free(loader);
}

/* In a setuid process the environment belongs to the less privileged user: AISOPOD_PLUGIN_PATH is not read. */
static void check_setuid(void) {
    aisopod_loader *loader = NULL;
    if (aisopod_loader_new("1.0.0", &loader) != AISOPOD_STATUS_OK) {
        CHECK(false, "setuid: a loader");
        return;
    }
    aisopod_loader_use_env_path(loader, true);
    aisopod_loader_use_default_paths(loader, false);
    size_t found = 0;
    aisopod_loader_discover(loader, &found);
    unsigned uid = (unsigned)getuid(), euid = (unsigned)geteuid();
    if (uid != euid) {
        CHECK(found == 0, "setuid (uid %u, euid %u): AISOPOD_PLUGIN_PATH ignored, %zu plugin(s)", uid, euid, found);
    } else {
        CHECK(found > 0, "not setuid (uid %u): AISOPOD_PLUGIN_PATH read, %zu plugin(s)", uid, found);
    }
    aisopod_loader_free(loader);
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "setuid") == 0) {
        check_setuid();
        return finish();
    }
    if (argc != 4 || (strcmp(argv[2], "foreign") != 0 && strcmp(argv[2], "no-foreign") != 0)) {
        fprintf(stderr, "usage: %s <permissions tree> foreign|no-foreign <lists tree>\n       %s setuid\n", argv[0],
                argv[0]);
        return 2;
    }
    check_file_policy(argv[1], strcmp(argv[2], "foreign") == 0);
    check_lists(argv[3]);
    return finish();
}
