/* The smallest host: builds against an installed aisopod_loader only (pkg-config or find_package), checks
 * that the header and the library agree, and loads every plugin it finds under the directory given. With a
 * second argument "probe", it first probes them all in the installed helper process, found without any
 * configuration. */
#include <stdio.h>
#include <string.h>

#include "aisopod_loader.h"

int main(int argc, char **argv) {
    if (strcmp(aisopod_loader_version(), AISOPOD_LOADER_VERSION_STRING) != 0) {
        fprintf(stderr, "header %s, library %s\n", AISOPOD_LOADER_VERSION_STRING, aisopod_loader_version());
        return 1;
    }
    aisopod_loader *loader = NULL;
    if (aisopod_loader_new("1.0.0", &loader) != AISOPOD_STATUS_OK) return 1;
    aisopod_loader_use_default_paths(loader, false);
    aisopod_loader_use_env_path(loader, false);
    if (argc > 1) aisopod_loader_add_search_path(loader, argv[1]);
    size_t count = 0;
    aisopod_loader_discover(loader, &count);
    int failures = 0;
    if (argc > 2 && strcmp(argv[2], "probe") == 0) {
        aisopod_probe_results *results = NULL;
        aisopod_status status = aisopod_loader_probe(loader, NULL, 0, NULL, &results);
        if (status != AISOPOD_STATUS_OK) {
            fprintf(stderr, "probe: %s: %s\n", aisopod_status_str(status), aisopod_loader_error_message(loader));
            return 1;
        }
        for (size_t i = 0; i < aisopod_probe_results_count(results); i++) {
            aisopod_status verdict = aisopod_probe_results_status(results, i);
            printf("probe %s: %s\n", aisopod_probe_results_plugin_id(results, i), aisopod_status_str(verdict));
            failures += verdict != AISOPOD_STATUS_OK;
        }
        aisopod_probe_results_free(results);
    }
    for (size_t i = 0; i < count; i++) {
        aisopod_plugin_info *info = NULL;
        if (aisopod_loader_plugin_at(loader, i, &info) != AISOPOD_STATUS_OK) return 1;
        aisopod_status status = aisopod_loader_load(loader, aisopod_plugin_info_id(info));
        printf("load %s: %s\n", aisopod_plugin_info_id(info), aisopod_status_str(status));
        failures += status != AISOPOD_STATUS_OK;
        aisopod_plugin_info_free(info);
    }
    printf("tiny host: aisopod-loader %s, %zu plugin(s), %d failure(s)\n", aisopod_loader_version(), count, failures);
    aisopod_loader_free(loader);
    return failures == 0 ? 0 : 1;
}
