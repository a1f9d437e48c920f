/*
 * AISOPOD_LOG from a C host: a loader line (a search path that does not exist, at debug) and a plugin line
 * (the test plugin's echo logs at warn for the input "log"), which reach stderr or, with "callback", the host's
 * log callback. Usage: log_host <plugin tree> [callback]
 */
#include "host_checks.h"

static unsigned heard = 0;

static void count(void *userdata, aisopod_log_level level, const char *source, const char *message) {
    (void)userdata;
    (void)level;
    if (strcmp(source, "talker") == 0 && contains(message, "echo was asked to log")) heard++;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s <plugin tree> [callback]\n", argv[0]);
        return 2;
    }
    bool callback = argc == 3 && strcmp(argv[2], "callback") == 0;
    aisopod_loader *loader = NULL;
    if (aisopod_loader_new("1.0.0", &loader) != AISOPOD_STATUS_OK) return 2;
    if (callback) aisopod_loader_set_log_callback(loader, count, NULL);
    aisopod_loader_use_env_path(loader, false);
    aisopod_loader_use_default_paths(loader, false);
    char missing[4096];
    snprintf(missing, sizeof missing, "%s/missing", argv[1]);
    aisopod_loader_add_search_path(loader, missing);
    aisopod_loader_add_search_path(loader, argv[1]);
    size_t found = 0;
    aisopod_loader_discover(loader, &found);
    CHECK(aisopod_loader_load(loader, "talker") == AISOPOD_STATUS_OK &&
              aisopod_loader_init(loader, "talker", "{}", NULL) == AISOPOD_STATUS_OK &&
              aisopod_loader_invoke(loader, "talker", AISOPOD_CAPABILITY_TOOL, "echo", (const uint8_t *)"log", 3,
                                    NULL) == AISOPOD_STATUS_OK,
          "talker logs (%s)", aisopod_loader_error_message(loader));
    if (callback) CHECK(heard == 1, "the callback heard talker %u time(s)", heard);
    aisopod_loader_free(loader);
    return finish();
}
