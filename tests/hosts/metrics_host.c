/*
 * Per-plugin metrics from a C host: the switch, the figures of a plugin in this process ("local") and of an
 * isolated one ("iso") after known calls, failing and slow ones included, and the statuses of bad requests.
 * Usage: metrics_host <plugin tree>
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <stddef.h>
#include <time.h>

#include "host_checks.h"

#define SLOW_MS 20
#define MS 1000000ull

/* A sink that sleeps SLOW_MS for each write: a call that writes through it is that much slower. */
static int32_t sleepy(void *context, const uint8_t *data, size_t len) {
    (void)context;
    (void)data;
    (void)len;
    struct timespec pause = {0, SLOW_MS * 1000000L};
    nanosleep(&pause, NULL);
    return 0;
}

static aisopod_capability_metrics capability_metrics(aisopod_loader *loader, const char *id, aisopod_status *status) {
    aisopod_capability_metrics m = {0};
    m.struct_size = sizeof m;
    *status = aisopod_loader_capability_metrics(loader, id, AISOPOD_CAPABILITY_TOOL, "echo", &m);
    return m;
}

static aisopod_plugin_metrics plugin_metrics(aisopod_loader *loader, const char *id, aisopod_status *status) {
    aisopod_plugin_metrics m = {0};
    m.struct_size = sizeof m;
    *status = aisopod_loader_plugin_metrics(loader, id, &m);
    return m;
}

/* 100 calls of "local"'s echo: 90 that succeed and 8 that fail, half by name and half through `echo`, and 2
 * by name whose output goes to the sleepy sink. */
static void call_local(aisopod_loader *loader, aisopod_capability *echo) {
    aisopod_sink slow = {NULL, sleepy};
    for (int i = 0; i < 45; i++) {
        aisopod_loader_invoke(loader, "local", AISOPOD_CAPABILITY_TOOL, "echo", (const uint8_t *)"hi", 2, NULL);
        aisopod_capability_invoke(echo, (const uint8_t *)"hi", 2, NULL);
    }
    for (int i = 0; i < 4; i++) {
        aisopod_loader_invoke(loader, "local", AISOPOD_CAPABILITY_TOOL, "echo", (const uint8_t *)"fail", 4, NULL);
        aisopod_capability_invoke(echo, (const uint8_t *)"fail", 4, NULL);
    }
    for (int i = 0; i < 2; i++) {
        aisopod_loader_invoke(loader, "local", AISOPOD_CAPABILITY_TOOL, "echo", (const uint8_t *)"slow", 4, &slow);
    }
}

static void local_plugin(aisopod_loader *loader) {
    aisopod_status status;
    CHECK(aisopod_loader_load(loader, "local") == AISOPOD_STATUS_OK &&
              aisopod_loader_init(loader, "local", "{}", NULL) == AISOPOD_STATUS_OK,
          "local loads and initializes (%s)", aisopod_loader_error_message(loader));

    /* Off by default. */
    plugin_metrics(loader, "local", &status);
    CHECK(status == AISOPOD_STATUS_INVALID_ARGUMENT && contains(aisopod_loader_error_message(loader), "plugin 'local'") &&
              contains(aisopod_loader_error_message(loader), "metrics are off"),
          "metrics off: INVALID_ARGUMENT: %s", aisopod_loader_error_message(loader));
    capability_metrics(loader, "local", &status);
    CHECK(status == AISOPOD_STATUS_INVALID_ARGUMENT, "metrics off: a capability's too");
    CHECK(aisopod_loader_set_metrics(loader, true) == AISOPOD_STATUS_OK, "metrics on");

    /* Bad requests. */
    aisopod_plugin_metrics unsized = {0};
    CHECK(aisopod_loader_plugin_metrics(loader, "local", &unsized) == AISOPOD_STATUS_INVALID_ARGUMENT &&
              contains(aisopod_loader_error_message(loader), "struct_size"),
          "struct_size 0: INVALID_ARGUMENT: %s", aisopod_loader_error_message(loader));
    plugin_metrics(loader, "nobody", &status);
    CHECK(status == AISOPOD_STATUS_NOT_LOADED && contains(aisopod_loader_error_message(loader), "plugin 'nobody'"),
          "an unknown plugin: NOT_LOADED: %s", aisopod_loader_error_message(loader));
    aisopod_capability_metrics none = {0};
    none.struct_size = sizeof none;
    CHECK(aisopod_loader_capability_metrics(loader, "local", AISOPOD_CAPABILITY_TOOL, "nothing", &none) ==
                  AISOPOD_STATUS_CAPABILITY_NOT_FOUND &&
              contains(aisopod_loader_error_message(loader), "plugin 'local' has no tool 'nothing'"),
          "an unknown capability: CAPABILITY_NOT_FOUND: %s", aisopod_loader_error_message(loader));

    aisopod_plugin_metrics before = plugin_metrics(loader, "local", &status);
    CHECK(status == AISOPOD_STATUS_OK && before.struct_size == sizeof before && before.load_ns > 0 &&
              before.init_ns > 0 && before.calls == 0,
          "before any call: load %llu ns, init %llu ns, %llu calls", (unsigned long long)before.load_ns,
          (unsigned long long)before.init_ns, (unsigned long long)before.calls);

    aisopod_capability *echo = NULL;
    aisopod_loader_resolve(loader, "local", AISOPOD_CAPABILITY_TOOL, "echo", &echo);
    call_local(loader, echo);
    aisopod_capability_metrics m = capability_metrics(loader, "local", &status);
    CHECK(status == AISOPOD_STATUS_OK && m.count == 100 && m.failures == 8,
          "echo: %llu calls by name and resolved, %llu failed", (unsigned long long)m.count,
          (unsigned long long)m.failures);
    CHECK(m.p50_ns > 0 && m.p50_ns < 5 * MS, "echo: p50 %llu ns", (unsigned long long)m.p50_ns);
    /* Two calls in a hundred took SLOW_MS or more: the 99th is one of them (within the histogram's 1/16). */
    CHECK(m.p99_ns >= SLOW_MS * MS - SLOW_MS * MS / 16 && m.p99_ns < 1000 * MS, "echo: p99 %llu ns",
          (unsigned long long)m.p99_ns);
    CHECK(m.total_ns >= 2 * SLOW_MS * MS, "echo: total %llu ns", (unsigned long long)m.total_ns);
    /* Sleeping uses no CPU: the thread's CPU time is less than the time the calls took. */
    CHECK(m.cpu_ns > 0 && m.cpu_ns < m.total_ns, "echo: CPU %llu ns of %llu ns", (unsigned long long)m.cpu_ns,
          (unsigned long long)m.total_ns);

    CHECK(aisopod_loader_emit(loader, "ping", NULL, 0, NULL, NULL) == AISOPOD_STATUS_OK, "ping emitted");
    aisopod_plugin_metrics after = plugin_metrics(loader, "local", &status);
    CHECK(status == AISOPOD_STATUS_OK && after.calls == 101 && after.failures == 8 && after.cpu_ns >= m.cpu_ns &&
              after.total_ns >= m.total_ns,
          "local: %llu calls (the hook's included), %llu failed", (unsigned long long)after.calls,
          (unsigned long long)after.failures);

    /* A caller that knows a shorter struct gets the fields it knows, and nothing past them. */
    unsigned char older[sizeof(aisopod_plugin_metrics)];
    memset(older, 0xA5, sizeof older);
    aisopod_plugin_metrics *short_view = (aisopod_plugin_metrics *)older;
    short_view->struct_size = offsetof(aisopod_plugin_metrics, calls);
    aisopod_status short_status = aisopod_loader_plugin_metrics(loader, "local", short_view);
    bool past_untouched = true;
    for (size_t i = offsetof(aisopod_plugin_metrics, calls); i < sizeof older; i++) past_untouched &= older[i] == 0xA5;
    CHECK(short_status == AISOPOD_STATUS_OK && short_view->struct_size == offsetof(aisopod_plugin_metrics, calls) &&
              short_view->load_ns == after.load_ns && past_untouched,
          "a shorter struct is filled up to its size");

    /* Off: calls are not counted, and what was counted stays. */
    aisopod_loader_set_metrics(loader, false);
    aisopod_capability_invoke(echo, (const uint8_t *)"hi", 2, NULL);
    aisopod_loader_invoke(loader, "local", AISOPOD_CAPABILITY_TOOL, "echo", (const uint8_t *)"hi", 2, NULL);
    aisopod_loader_set_metrics(loader, true);
    m = capability_metrics(loader, "local", &status);
    CHECK(m.count == 100, "calls while metrics were off are not counted (%llu)", (unsigned long long)m.count);
    aisopod_capability_free(echo);

    /* An unload resets them. */
    CHECK(aisopod_loader_unload(loader, "local") == AISOPOD_STATUS_OK, "local unloads");
    capability_metrics(loader, "local", &status);
    CHECK(status == AISOPOD_STATUS_NOT_LOADED, "an unloaded plugin has no metrics");
    aisopod_loader_load(loader, "local");
    m = capability_metrics(loader, "local", &status);
    CHECK(status == AISOPOD_STATUS_OK && m.count == 0 && m.p99_ns == 0, "loaded again, it starts from zero");
    aisopod_loader_unload(loader, "local");
}

static void isolated_plugin(aisopod_loader *loader) {
    aisopod_status status;
    CHECK(aisopod_loader_load(loader, "iso") == AISOPOD_STATUS_OK &&
              aisopod_loader_init(loader, "iso", "{}", NULL) == AISOPOD_STATUS_OK,
          "iso loads and initializes in a helper (%s)", aisopod_loader_error_message(loader));
    aisopod_capability *echo = NULL;
    aisopod_loader_resolve(loader, "iso", AISOPOD_CAPABILITY_TOOL, "echo", &echo);
    for (int i = 0; i < 4; i++) {
        aisopod_loader_invoke(loader, "iso", AISOPOD_CAPABILITY_TOOL, "echo", (const uint8_t *)"hi", 2, NULL);
        aisopod_capability_invoke(echo, (const uint8_t *)"hi", 2, NULL);
    }
    aisopod_loader_invoke(loader, "iso", AISOPOD_CAPABILITY_TOOL, "echo", (const uint8_t *)"fail", 4, NULL);
    aisopod_capability_invoke(echo, (const uint8_t *)"fail", 4, NULL);
    aisopod_capability_free(echo);
    /* A call that spins until its deadline kills the helper: a failure, and CPU time the helper used. */
    aisopod_loader_set_call_timeout(loader, "iso", 300);
    CHECK(aisopod_loader_invoke(loader, "iso", AISOPOD_CAPABILITY_TOOL, "echo", (const uint8_t *)"spin", 4, NULL) ==
              AISOPOD_STATUS_TIMEOUT,
          "iso: a spinning call times out");

    aisopod_capability_metrics m = capability_metrics(loader, "iso", &status);
    CHECK(status == AISOPOD_STATUS_OK && m.count == 11 && m.failures == 3 && m.p50_ns > 0 && m.p50_ns < 300 * MS &&
              m.p99_ns >= 250 * MS && m.total_ns >= 250 * MS && m.cpu_ns == 0,
          "iso's echo: %llu calls, %llu failed, p50 %llu ns, p99 %llu ns", (unsigned long long)m.count,
          (unsigned long long)m.failures, (unsigned long long)m.p50_ns, (unsigned long long)m.p99_ns);
    /* Its CPU time is its helper's, as aisopod_loader_plugin_usage reads it. */
    aisopod_plugin_usage usage_before = {0}, usage_after = {0};
    aisopod_loader_plugin_usage(loader, "iso", &usage_before);
    aisopod_plugin_metrics p = plugin_metrics(loader, "iso", &status);
    aisopod_loader_plugin_usage(loader, "iso", &usage_after);
    unsigned long long low = (usage_before.cpu_user_us + usage_before.cpu_system_us) * 1000ull;
    unsigned long long high = (usage_after.cpu_user_us + usage_after.cpu_system_us) * 1000ull;
    CHECK(status == AISOPOD_STATUS_OK && p.calls == 11 && p.failures == 3 && p.load_ns > 0 && p.init_ns > 0 &&
              p.cpu_ns > 0 && p.cpu_ns >= low && p.cpu_ns <= high,
          "iso: %llu calls, load %llu ns, init %llu ns, helper CPU %llu ns", (unsigned long long)p.calls,
          (unsigned long long)p.load_ns, (unsigned long long)p.init_ns, (unsigned long long)p.cpu_ns);
    CHECK(aisopod_loader_unload(loader, "iso") == AISOPOD_STATUS_OK, "iso unloads");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s <plugin tree>\n", argv[0]);
        return 2;
    }
    aisopod_loader *loader = loader_for_tree("1.0.0", argv[1]);
    if (loader == NULL) return 2;
    aisopod_loader_set_isolation(loader, "iso", AISOPOD_ISOLATION_PROCESS);
    size_t found = 0;
    aisopod_loader_discover(loader, &found);
    CHECK(found == 2, "discovered %zu plugins", found);
    local_plugin(loader);
    isolated_plugin(loader);
    aisopod_loader_free(loader);
    return finish();
}
