/*
 * A C host that checks publisher signatures through the C API, under both signature policies: a plugin signed
 * by the trusted key loads and runs; an unsigned one and one signed by another key load only under
 * AISOPOD_SIGNATURES_ALLOW_UNSIGNED (the other key with a warning in the log naming the plugin and the key
 * id), and are refused with AISOPOD_STATUS_UNSIGNED and AISOPOD_STATUS_UNKNOWN_KEY under
 * AISOPOD_SIGNATURES_REQUIRED; a manifest or a library changed after signing is AISOPOD_STATUS_BAD_SIGNATURE,
 * and a malformed signature file AISOPOD_STATUS_MALFORMED_SIGNATURE, under both. Each refusal names the plugin,
 * and the key id when the file has one. Also: aisopod_loader_trust_key's and
 * aisopod_loader_set_signature_policy's argument checks.
 *
 * Usage: sign_host <plugin tree> <trusted public key, 64 hex digits> <its key id> <the other key's id>
 * The tree holds "signed", "unsigned", "stranger" (signed by the other key), "edited" (manifest changed after
 * signing), "swapped" (library replaced after signing) and "garbled" (a malformed signature file). Prints one
 * line per check and "N failure(s)" last; exits 1 when a check failed.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aisopod_loader.h"
#include "host_checks.h"

/* The last warning the loader logged. */
static char last_warning[1024];

static void on_log(void *userdata, aisopod_log_level level, const char *source, const char *message) {
    (void)userdata;
    (void)source;
    if (level == AISOPOD_LOG_WARN) snprintf(last_warning, sizeof last_warning, "%s", message);
}

/* 32 bytes from 64 hexadecimal digits; false when `hex` is not that. */
static bool parse_key(const char *hex, uint8_t key[32]) {
    if (strlen(hex) != 64) return false;
    for (size_t i = 0; i < 32; i++) {
        char pair[3] = {hex[2 * i], hex[2 * i + 1], '\0'};
        char *end = NULL;
        key[i] = (uint8_t)strtoul(pair, &end, 16);
        if (end != pair + 2) return false;
    }
    return true;
}

struct expectation {
    const char *id;
    aisopod_status allow_unsigned;
    aisopod_status required;
    /* The key id the message must name, NULL when none. */
    const char *key_id;
};

/* Loads `c->id` under `policy`: it must load, run and unload, or be refused with its own status and a message
 * naming the plugin and the key id. */
static void check_case(aisopod_loader *loader, const struct expectation *c, bool required) {
    const char *policy = required ? "REQUIRED" : "ALLOW_UNSIGNED";
    aisopod_status expected = required ? c->required : c->allow_unsigned;
    last_warning[0] = '\0';
    aisopod_status status = aisopod_loader_load(loader, c->id);
    const char *message = aisopod_loader_error_message(loader);
    CHECK(status == expected, "%s under %s: %s (expected %s)%s%s", c->id, policy, aisopod_status_str(status),
          aisopod_status_str(expected), status == AISOPOD_STATUS_OK ? "" : ": ",
          status == AISOPOD_STATUS_OK ? "" : message);
    char named[64];
    snprintf(named, sizeof named, "plugin '%s'", c->id);
    if (status == AISOPOD_STATUS_OK) {
        struct buffer out = {{0}, 0};
        aisopod_sink sink = {&out, append};
        aisopod_status init = aisopod_loader_init(loader, c->id, "{}", NULL);
        aisopod_status call =
            aisopod_loader_invoke(loader, c->id, AISOPOD_CAPABILITY_TOOL, "echo", (const uint8_t *)"signed", 6, &sink);
        aisopod_status unload = aisopod_loader_unload(loader, c->id);
        CHECK(init == AISOPOD_STATUS_OK && call == AISOPOD_STATUS_OK && unload == AISOPOD_STATUS_OK &&
                  strcmp(out.data, "signed") == 0,
              "%s under %s: initialises, answers and unloads", c->id, policy);
        if (c->key_id != NULL && expected == AISOPOD_STATUS_OK && strcmp(c->id, "signed") != 0) {
            CHECK(contains(last_warning, named) && contains(last_warning, c->key_id),
                  "%s under %s: the warning names the plugin and key %s: %s", c->id, policy, c->key_id, last_warning);
        }
        return;
    }
    CHECK(contains(message, named), "%s under %s: the message names the plugin: %s", c->id, policy, message);
    if (c->key_id != NULL) {
        CHECK(contains(message, c->key_id), "%s under %s: the message names key %s", c->id, policy, c->key_id);
    }
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s <plugin tree> <trusted public key> <its key id> <the other key's id>\n", argv[0]);
        return 2;
    }
    uint8_t key[32];
    if (!parse_key(argv[2], key)) {
        fprintf(stderr, "%s: not 64 hexadecimal digits: %s\n", argv[0], argv[2]);
        return 2;
    }
    const char *trusted = argv[3], *other = argv[4];
    aisopod_loader *loader = NULL;
    if (aisopod_loader_new("1.5.0", &loader) != AISOPOD_STATUS_OK) return 2;
    aisopod_loader_use_env_path(loader, false);
    aisopod_loader_use_default_paths(loader, false);
    aisopod_loader_add_search_path(loader, argv[1]);
    aisopod_loader_set_log_callback(loader, on_log, NULL);
    size_t found = 0;
    aisopod_loader_discover(loader, &found);
    CHECK(found == 6, "discovered %zu plugins", found);

    CHECK(aisopod_loader_trust_key(loader, key, 31) == AISOPOD_STATUS_INVALID_ARGUMENT &&
              contains(aisopod_loader_error_message(loader), "argument 'len' is 31"),
          "a key of 31 bytes is INVALID_ARGUMENT: %s", aisopod_loader_error_message(loader));
    CHECK(aisopod_loader_trust_key(loader, NULL, 32) == AISOPOD_STATUS_NULL_ARGUMENT, "a NULL key is NULL_ARGUMENT");
    uint8_t not_a_point[32] = {2};
    CHECK(aisopod_loader_trust_key(loader, not_a_point, 32) == AISOPOD_STATUS_INVALID_ARGUMENT,
          "bytes that are no curve point are INVALID_ARGUMENT: %s", aisopod_loader_error_message(loader));
    CHECK(aisopod_loader_set_signature_policy(loader, 7) == AISOPOD_STATUS_INVALID_ARGUMENT &&
              contains(aisopod_loader_error_message(loader), "not an AISOPOD_SIGNATURES_* value"),
          "policy 7 is INVALID_ARGUMENT: %s", aisopod_loader_error_message(loader));
    CHECK(aisopod_loader_trust_key(loader, key, sizeof key) == AISOPOD_STATUS_OK, "the trusted key is taken");

    const struct expectation cases[] = {
        {"signed", AISOPOD_STATUS_OK, AISOPOD_STATUS_OK, trusted},
        {"unsigned", AISOPOD_STATUS_OK, AISOPOD_STATUS_UNSIGNED, NULL},
        {"stranger", AISOPOD_STATUS_OK, AISOPOD_STATUS_UNKNOWN_KEY, other},
        {"edited", AISOPOD_STATUS_BAD_SIGNATURE, AISOPOD_STATUS_BAD_SIGNATURE, trusted},
        {"swapped", AISOPOD_STATUS_BAD_SIGNATURE, AISOPOD_STATUS_BAD_SIGNATURE, trusted},
        {"garbled", AISOPOD_STATUS_MALFORMED_SIGNATURE, AISOPOD_STATUS_MALFORMED_SIGNATURE, NULL},
    };
    for (int required = 0; required <= 1; required++) {
        aisopod_signature_policy policy = required ? AISOPOD_SIGNATURES_REQUIRED : AISOPOD_SIGNATURES_ALLOW_UNSIGNED;
        CHECK(aisopod_loader_set_signature_policy(loader, policy) == AISOPOD_STATUS_OK, "policy %u set", policy);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(loader, &cases[i], required);
    }
    aisopod_loader_free(loader);
    return finish();
}
