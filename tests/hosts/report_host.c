/*
 * The load report from a C host: one plugin loaded and initialised ("alpha"), one discovered only ("beta") and a
 * candidate whose manifest does not parse ("broken"); the report names them, with the diagnostic's status name,
 * and is freed. Usage: report_host <plugin tree>
 */
#include <stdlib.h>

#include "host_checks.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s <plugin tree>\n", argv[0]);
        return 2;
    }
    aisopod_loader *loader = loader_for_tree("1.4.0", argv[1]);
    if (loader == NULL) return 2;
    aisopod_loader_discover(loader, NULL);
    aisopod_loader_set_metrics(loader, true);
    aisopod_status load = aisopod_loader_load(loader, "alpha");
    aisopod_status init = aisopod_loader_init(loader, "alpha", "{}", NULL);
    CHECK(load == AISOPOD_STATUS_OK && init == AISOPOD_STATUS_OK, "alpha loads and initialises (%s)",
          aisopod_loader_error_message(loader));
    aisopod_loader_invoke(loader, "alpha", AISOPOD_CAPABILITY_TOOL, "echo", (const uint8_t *)"hi", 2, NULL);

    char *json = NULL;
    aisopod_status status = aisopod_loader_report_json(loader, &json);
    CHECK(status == AISOPOD_STATUS_OK && json != NULL, "the report is written (%s)", aisopod_loader_error_message(loader));
    CHECK(contains(json, "\"schema\": \"aisopod-loader-report/1\""), "it names its schema");
    CHECK(contains(json, "\"id\": \"alpha\"") && contains(json, "\"AISOPOD_PLUGIN_STATE_INITIALIZED\""),
          "it has alpha, initialised");
    CHECK(contains(json, "\"id\": \"beta\""), "it has beta, discovered only");
    CHECK(contains(json, "\"status\": \"AISOPOD_STATUS_MANIFEST_PARSE\"") && contains(json, "broken"),
          "it has the broken manifest's diagnostic, by its status name");
    CHECK(contains(json, "\"p99_ns\""), "it has alpha's metrics");
    aisopod_loader_report_free(json);

    char *untouched = (char *)"untouched";
    json = untouched;
    status = aisopod_loader_report_json(NULL, &json);
    CHECK(status == AISOPOD_STATUS_NULL_ARGUMENT && json == untouched, "no loader: NULL_ARGUMENT, nothing written");
    status = aisopod_loader_report_json(loader, NULL);
    CHECK(status == AISOPOD_STATUS_NULL_ARGUMENT && contains(aisopod_loader_error_message(loader), "json_out"),
          "no json_out: NULL_ARGUMENT naming it (%s)", aisopod_loader_error_message(loader));
    aisopod_loader_report_free(NULL);

    /* A report outlives its loader. */
    aisopod_loader_report_json(loader, &json);
    aisopod_loader_free(loader);
    CHECK(contains(json, "\"id\": \"alpha\""), "a report stays readable after its loader is freed");
    aisopod_loader_report_free(json);
    printf("%d failure(s)\n", failures);
    return failures == 0 ? 0 : 1;
}
