/*
 * The plugin graph from C: chain and diamond dependencies loaded and initialised in order, a version conflict,
 * a cycle and a missing optional dependency at discovery, a host requirement a plugin does not meet, the
 * cascade unload, a service call from one plugin to another, and the lazy policy's first call made by 8 threads
 * at once. Takes the plugin tree (argv[1]) that tests/c_graph.rs builds.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>

#include "host_checks.h"

/* The test plugins' "test.events" extension: counts "create" and "init" per plugin, and keeps their order. */
typedef struct test_events {
    void *context;
    void (*record)(void *context, const char *plugin, const char *event);
} test_events;

static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;
static char created[512];
static char initialised[512];

static void record(void *context, const char *plugin, const char *event) {
    (void)context;
    char *log = strcmp(event, "create") == 0 ? created : strcmp(event, "init") == 0 ? initialised : NULL;
    if (log == NULL) return;
    pthread_mutex_lock(&events_lock);
    if (strlen(log) + strlen(plugin) + 2 < sizeof created) {
        strcat(log, plugin);
        strcat(log, " ");
    }
    pthread_mutex_unlock(&events_lock);
}

static void forget_events(void) {
    pthread_mutex_lock(&events_lock);
    created[0] = initialised[0] = '\0';
    pthread_mutex_unlock(&events_lock);
}

static const test_events events = {NULL, record};

static aisopod_loader *new_loader(const char *tree) {
    aisopod_loader *loader = loader_for_tree("1.5.0", tree);
    if (loader == NULL) return NULL;
    aisopod_loader_set_host_extension(loader, "test.events", &events);
    return loader;
}

/* The status and message of the diagnostic whose path ends in "/<id>/aisopod.plugin.toml". */
static aisopod_status diagnostic_of(aisopod_loader *loader, const char *id, char *message, size_t size) {
    char suffix[128];
    snprintf(suffix, sizeof suffix, "/%s/aisopod.plugin.toml", id);
    size_t count = 0;
    aisopod_loader_diagnostic_count(loader, &count);
    for (size_t i = 0; i < count; i++) {
        aisopod_diagnostic *d = NULL;
        if (aisopod_loader_diagnostic_at(loader, i, &d) != AISOPOD_STATUS_OK) continue;
        const char *path = aisopod_diagnostic_path(d);
        size_t len = strlen(path), suffix_len = strlen(suffix);
        aisopod_status status = aisopod_diagnostic_status(d);
        bool match = len >= suffix_len && strcmp(path + len - suffix_len, suffix) == 0;
        if (match) snprintf(message, size, "%s", aisopod_diagnostic_message(d));
        aisopod_diagnostic_free(d);
        if (match) return status;
    }
    snprintf(message, size, "(no diagnostic)");
    return AISOPOD_STATUS_OK;
}

static aisopod_status call(aisopod_loader *loader, const char *id, const char *input, struct buffer *out) {
    out->len = 0;
    out->data[0] = '\0';
    aisopod_sink sink = {out, append};
    return aisopod_loader_invoke(loader, id, AISOPOD_CAPABILITY_TOOL, "echo", (const uint8_t *)input, strlen(input),
                                 &sink);
}

static void dependency_lists(aisopod_loader *loader) {
    aisopod_plugin_info *info = NULL;
    aisopod_loader_find_plugin(loader, "a", &info);
    CHECK(aisopod_plugin_info_dependency_count(info) == 1 &&
              strcmp(aisopod_plugin_info_dependency_id(info, 0), "b") == 0 &&
              strcmp(aisopod_plugin_info_dependency_requirement(info, 0), "^1.2") == 0 &&
              !aisopod_plugin_info_dependency_optional(info, 0) && aisopod_plugin_info_dependency_id(info, 1) == NULL,
          "the plugin info of a lists b ^1.2, required");
    aisopod_plugin_info_free(info);
    info = NULL;
    aisopod_loader_find_plugin(loader, "relaxed", &info);
    CHECK(aisopod_plugin_info_dependency_count(info) == 1 && aisopod_plugin_info_dependency_optional(info, 0),
          "the plugin info of relaxed lists nobody, optional");
    aisopod_plugin_info_free(info);
}

static void chain_and_diamond(aisopod_loader *loader) {
    forget_events();
    CHECK(aisopod_loader_load(loader, "a") == AISOPOD_STATUS_OK, "chain: load a (%s)",
          aisopod_loader_error_message(loader));
    CHECK(strcmp(created, "c b a ") == 0, "chain: load a creates c, b, a in that order (%s)", created);
    CHECK(aisopod_loader_init(loader, "a", "{}", NULL) == AISOPOD_STATUS_OK, "chain: init a");
    CHECK(strcmp(initialised, "c b a ") == 0, "chain: init a inits c, b, a in that order (%s)", initialised);
    aisopod_status status = aisopod_loader_unload(loader, "b");
    CHECK(status == AISOPOD_STATUS_HAS_DEPENDENTS && contains(aisopod_loader_error_message(loader), "'a'"),
          "chain: unload b is refused, naming a: %s", aisopod_loader_error_message(loader));
    CHECK(aisopod_loader_unload_cascade(loader, "c") == AISOPOD_STATUS_OK, "chain: the cascade from c");
    uint32_t state = 9;
    aisopod_loader_plugin_state(loader, "a", &state);
    CHECK(state == AISOPOD_PLUGIN_STATE_UNLOADED, "chain: the cascade unloaded a too");

    forget_events();
    CHECK(aisopod_loader_load(loader, "top") == AISOPOD_STATUS_OK, "diamond: load top");
    CHECK(strcmp(created, "base left right top ") == 0, "diamond: base is created once, first (%s)", created);
    CHECK(aisopod_loader_init(loader, "top", NULL, NULL) == AISOPOD_STATUS_OK, "diamond: init top");
    CHECK(strcmp(initialised, "base left right top ") == 0, "diamond: base is initialised once, first (%s)",
          initialised);
}

static void bad_graphs(aisopod_loader *loader) {
    char message[1024];
    aisopod_status status = diagnostic_of(loader, "old-user", message, sizeof message);
    CHECK(status == AISOPOD_STATUS_DEPENDENCY_VERSION && contains(message, "needs 'base' ^2") &&
              contains(message, "but 'base' is version 1.4.0"),
          "conflict: %s", message);
    status = diagnostic_of(loader, "above", message, sizeof message);
    CHECK(status == AISOPOD_STATUS_DEPENDENCY_VERSION && contains(message, "above -> old-user -> base"),
          "conflict, one step away: %s", message);
    status = diagnostic_of(loader, "ping", message, sizeof message);
    CHECK(status == AISOPOD_STATUS_DEPENDENCY_CYCLE && contains(message, "ping -> pong -> ping"), "cycle: %s",
          message);
    status = aisopod_loader_load(loader, "pong");
    CHECK(status == AISOPOD_STATUS_DEPENDENCY_CYCLE && contains(aisopod_loader_error_message(loader), "pong -> ping -> pong"),
          "cycle: loading pong returns its diagnostic: %s", aisopod_loader_error_message(loader));
    status = diagnostic_of(loader, "lonely", message, sizeof message);
    CHECK(status == AISOPOD_STATUS_DEPENDENCY_MISSING && contains(message, "needs 'nobody'"), "missing: %s",
          message);
    struct buffer out = {{0}, 0};
    status = aisopod_loader_load(loader, "relaxed");
    CHECK(status == AISOPOD_STATUS_OK, "a missing optional dependency: relaxed loads without it (%s)",
          aisopod_loader_error_message(loader));
    aisopod_loader_init(loader, "relaxed", NULL, NULL);
    status = call(loader, "relaxed", "service:nobody", &out);
    CHECK(status == AISOPOD_STATUS_OK && strcmp(out.data, "null") == 0,
          "a missing optional dependency: its interface is NULL (%s)", out.data);
}

static void services(aisopod_loader *loader) {
    struct buffer out = {{0}, 0};
    CHECK(aisopod_loader_load(loader, "user") == AISOPOD_STATUS_OK && aisopod_loader_init(loader, "user", NULL, NULL) == AISOPOD_STATUS_OK,
          "services: user loads with provider");
    aisopod_status status = call(loader, "user", "service:provider", &out);
    CHECK(status == AISOPOD_STATUS_OK && strcmp(out.data, "42") == 0,
          "services: user reads provider's interface through the host (%s)", out.data);
    status = call(loader, "user", "service:base", &out);
    CHECK(status == AISOPOD_STATUS_OK && strcmp(out.data, "null") == 0,
          "services: a plugin user does not declare gives NULL, although loaded (%s)", out.data);
    CHECK(aisopod_loader_unload(loader, "provider") == AISOPOD_STATUS_HAS_DEPENDENTS,
          "services: provider stays while user needs it");
    uint64_t before = 0, after = 0;
    aisopod_loader_plugin_generation(loader, "user", &before);
    forget_events();
    CHECK(aisopod_loader_reload(loader, "provider") == AISOPOD_STATUS_OK, "reload: provider, with user (%s)",
          aisopod_loader_error_message(loader));
    aisopod_loader_plugin_generation(loader, "user", &after);
    CHECK(strcmp(created, "provider user ") == 0 && after > before,
          "reload: user, which needs provider, was loaded again after it (%s; generation %llu -> %llu)", created,
          (unsigned long long)before, (unsigned long long)after);
    status = call(loader, "user", "service:provider", &out);
    CHECK(status == AISOPOD_STATUS_OK && strcmp(out.data, "42") == 0,
          "reload: the new user reads the new provider's interface (%s)", out.data);
    CHECK(aisopod_loader_unload(loader, "user") == AISOPOD_STATUS_OK &&
              aisopod_loader_unload(loader, "provider") == AISOPOD_STATUS_OK,
          "services: user, then provider, unload");
}

static void requirement(const char *tree) {
    aisopod_loader *loader = new_loader(tree);
    CHECK(aisopod_loader_require(loader, "store", "^2.1") == AISOPOD_STATUS_OK, "require: store ^2.1");
    CHECK(aisopod_loader_require(loader, "store", "two") == AISOPOD_STATUS_INVALID_ARGUMENT,
          "require: a malformed requirement is refused: %s", aisopod_loader_error_message(loader));
    aisopod_loader_discover(loader, NULL);
    char message[1024];
    aisopod_status status = diagnostic_of(loader, "store", message, sizeof message);
    CHECK(status == AISOPOD_STATUS_VERSION_REJECTED && contains(message, "version 1.4.0") && contains(message, "^2.1"),
          "require: store is set aside, naming both versions: %s", message);
    status = diagnostic_of(loader, "app", message, sizeof message);
    CHECK(status == AISOPOD_STATUS_VERSION_REJECTED && contains(message, "app -> store"),
          "require: so is app, which needs it: %s", message);
    CHECK(aisopod_loader_require(loader, "store", NULL) == AISOPOD_STATUS_OK, "require: removed");
    aisopod_loader_discover(loader, NULL);
    CHECK(aisopod_loader_load(loader, "app") == AISOPOD_STATUS_OK, "require: without it, app loads");
    aisopod_loader_free(loader);
}

struct first_call {
    aisopod_loader *loader;
    pthread_barrier_t *barrier;
    aisopod_status status;
    struct buffer out;
};

static void *first_call(void *argument) {
    struct first_call *call_state = argument;
    pthread_barrier_wait(call_state->barrier);
    call_state->status = call(call_state->loader, "lazy-app", "first", &call_state->out);
    return NULL;
}

static void lazy(const char *tree) {
    aisopod_loader *loader = new_loader(tree);
    aisopod_loader_discover(loader, NULL);
    CHECK(aisopod_loader_set_lazy(loader, true) == AISOPOD_STATUS_OK, "lazy: on");
    aisopod_loader_set_config(loader, "lazy-app", "{}", NULL);
    forget_events();
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 8);
    struct first_call calls[8];
    pthread_t threads[8];
    for (int i = 0; i < 8; i++) {
        calls[i] = (struct first_call){loader, &barrier, AISOPOD_STATUS_PANIC, {{0}, 0}};
        pthread_create(&threads[i], NULL, first_call, &calls[i]);
    }
    int answered = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(threads[i], NULL);
        answered += calls[i].status == AISOPOD_STATUS_OK && strcmp(calls[i].out.data, "first") == 0;
    }
    pthread_barrier_destroy(&barrier);
    CHECK(answered == 8, "lazy: 8 first calls at once all answered (%d)", answered);
    CHECK(strcmp(created, "lazy-base lazy-app ") == 0, "lazy: the plugin and its dependency were created once (%s)",
          created);
    CHECK(strcmp(initialised, "lazy-base lazy-app ") == 0, "lazy: and initialised once (%s)", initialised);
    struct buffer out = {{0}, 0};
    aisopod_status status = call(loader, "lazy-broken", "x", &out);
    CHECK(status == AISOPOD_STATUS_ABI_MISMATCH && contains(aisopod_loader_error_message(loader), "lazy-broken"),
          "lazy: a first call that fails returns the load's status and message: %s",
          aisopod_loader_error_message(loader));
    aisopod_loader_free(loader);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s <plugin tree>\n", argv[0]);
        return 2;
    }
    aisopod_loader *loader = new_loader(argv[1]);
    if (loader == NULL) return 2;
    aisopod_loader_discover(loader, NULL);
    dependency_lists(loader);
    chain_and_diamond(loader);
    bad_graphs(loader);
    services(loader);
    aisopod_loader_free(loader);
    requirement(argv[1]);
    lazy(argv[1]);
    return finish();
}
