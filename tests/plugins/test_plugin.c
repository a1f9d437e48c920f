/*
 * A configurable test plugin. Each test compiles it with -D switches into a real
 * shared library, to exercise one path of the loader:
 *
 *   PLUGIN_ID="..."     the id it reports (default "test")
 *   ABI_VERSION=n       what aisopod_plugin_abi_version returns
 *   NO_ABI_SYMBOL       do not export aisopod_plugin_abi_version
 *   NO_CREATE_SYMBOL    do not export aisopod_plugin_create
 *   CREATE_NULL         aisopod_plugin_create returns NULL
 *   SMALL_STRUCT        struct_size smaller than ABI v1's
 *   NULL_SHUTDOWN       leave the mandatory shutdown pointer NULL
 *   REGISTER_EXTRA      also register command "extra"
 *   SKIP_HOOK           do not register hook "ping"
 *   REGISTER_TWICE      register tool "echo" twice
 *   DETECT_OVERLAP      echo fails with code 99 when two calls overlap (for
 *                       thread_safe = false plugins, which must never see that)
 *   ECHO_PREFIX="..."   echo writes this before the input (tells two builds apart)
 *   INIT_FAILS          init fails with code 3 whatever the config
 *   STATE_COUNTER       also register tool "count", which adds one to a counter
 *                       and writes it in decimal, and export the aisopod.state/1
 *                       extension, which saves the counter and restores it
 *
 * Switches that take the process down, for probes run in a helper process:
 *
 *   CTOR_ABORT          a constructor calls abort(): dlopen never returns
 *   CREATE_EXIT         aisopod_plugin_create calls exit(3)
 *   INIT_SEGFAULT       init writes through a null pointer (SIGSEGV)
 *   INIT_LOOP           init never returns (it sleeps in a loop)
 *   INIT_SLEEP_MS=n     init sleeps n ms first (widens the window a concurrent
 *                       first call could see a plugin loaded but not started)
 *   HANDLER_MISCHIEF    tool "echo" misbehaves on some inputs: "segfault"
 *                       writes through a null pointer, "overflow" recurses until
 *                       the stack overflows, "hang" never returns, "exit" calls
 *                       exit(5), "log" logs "echo was asked to log" at warn
 *                       level through the host before echoing, "big" writes
 *                       64 KiB of 'x' in one write, "meet" waits (up to 5 s)
 *                       until another "meet" call is running too, and fails
 *                       with code 9 if none comes; "spin" busy-loops forever;
 *                       "read:<path>", "write:<path>", "socket" and "exec" try
 *                       to open <path> for reading or writing, to open a TCP
 *                       socket, or to run /bin/sh, and echo "ok" or the
 *                       error (strerror) instead of the input
 *
 * Behaviour without switches: tool "echo" writes its input back, and fails with
 * code 7 when the input is "fail"; hook "ping" writes "<id>;". init fails with
 * code 3 when the config is "fail". When the host provides the extension
 * "test.events", lifecycle events are recorded through it, including the
 * library's own destructor ("dlclose"). When the host provides "test.callback",
 * the echo handler calls it for the input "callback", before echoing.
 *
 * For the input "service:<id>", echo asks the host for interface "test.ext" of
 * plugin <id> through get_dependency_extension, and writes the int it points to
 * ("42" for another test plugin) or "null".
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#define _DEFAULT_SOURCE         /* socket types in glibc's headers */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aisopod_loader.h"

/* Some switches leave helpers unused on purpose. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"

#ifndef PLUGIN_ID
#define PLUGIN_ID "test"
#endif
#ifndef ABI_VERSION
#define ABI_VERSION AISOPOD_ABI_VERSION
#endif

typedef struct test_events {
    void *context;
    void (*record)(void *context, const char *plugin, const char *event);
} test_events;

typedef struct test_callback {
    void *context;
    void (*call)(void *context);
} test_callback;

static const aisopod_host *services_host;
static const test_events *events;
static const test_callback *callback;
#ifdef DETECT_OVERLAP
static atomic_int inside;
#endif
/* The last plugin struct created, so that one the loader cannot destroy (an
 * unusable struct) stays reachable rather than leaked. */
static void *volatile last_created;

static void record(const char *event) {
    if (events != NULL) events->record(events->context, PLUGIN_ID, event);
}

__attribute__((destructor)) static void library_unloaded(void) {
    record("dlclose");
}

#ifdef CTOR_ABORT
__attribute__((constructor)) static void library_loaded_abort(void) {
    fputs("test plugin: constructor aborting\n", stderr);
    abort();
}
#endif

#if defined(INIT_SEGFAULT) || defined(HANDLER_MISCHIEF)
/* Volatile, so that the compiler cannot see the store is through NULL and
 * replace it with a trap instruction: the process gets a real SIGSEGV. */
static int *volatile nowhere = NULL;
#endif

#ifdef HANDLER_MISCHIEF
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const aisopod_host *the_host = NULL;

/* Writes "ok" when `result` is not negative, otherwise strerror(error). */
static int report(const aisopod_sink *sink, int result, int error) {
    const char *text = result >= 0 ? "ok" : strerror(error);
    return sink->write(sink->context, (const uint8_t *)text, strlen(text)) != 0 ? 1 : 2;
}

/* "read:<path>" and "write:<path>": opens the path, which follows the prefix, and reports. */
static int try_open(const uint8_t *input, size_t input_len, size_t prefix, int flags, const aisopod_sink *sink) {
    char path[4096];
    size_t len = input_len - prefix < sizeof path - 1 ? input_len - prefix : sizeof path - 1;
    memcpy(path, input + prefix, len);
    path[len] = '\0';
    int fd = open(path, flags | O_CLOEXEC, 0644);
    int error = errno;
    if (fd >= 0) close(fd);
    return report(sink, fd, error);
}

/* Recurses with a frame the compiler cannot drop, until the stack overflows long before the limit, which is
 * volatile so that the compiler cannot call the recursion infinite. */
static volatile int recursion_limit = 1 << 30;

static int deeper(int depth) {
    volatile char frame[4096];
    frame[0] = (char)depth;
    if (depth >= recursion_limit) return frame[0];
    return deeper(depth + 1) + frame[0];
}

static int mischief(const uint8_t *input, size_t input_len, const aisopod_sink *sink) {
#define IS(word) (input_len == strlen(word) && memcmp(input, word, input_len) == 0)
    if (IS("segfault")) *nowhere = 1;
    if (IS("overflow")) return deeper(0);
    if (IS("exit")) exit(5);
    if (IS("hang")) {
        for (;;) {
            struct timespec pause = {1, 0};
            nanosleep(&pause, NULL);
        }
    }
    if (IS("log")) the_host->log(the_host, AISOPOD_LOG_WARN, "echo was asked to log");
    if (input_len > 5 && memcmp(input, "read:", 5) == 0) return try_open(input, input_len, 5, O_RDONLY, sink);
    if (input_len > 6 && memcmp(input, "write:", 6) == 0) {
        return try_open(input, input_len, 6, O_WRONLY | O_CREAT | O_TRUNC, sink);
    }
    if (IS("socket")) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int error = errno;
        if (fd >= 0) close(fd);
        return report(sink, fd, error);
    }
    if (IS("exec")) {
        pid_t child;
        char *argv[] = {"/bin/sh", "-c", "exit 0", NULL};
        int error = posix_spawn(&child, "/bin/sh", NULL, NULL, argv, environ);
        if (error == 0) waitpid(child, NULL, 0);
        return report(sink, error == 0 ? 0 : -1, error);
    }
    if (IS("spin")) {
        for (volatile unsigned long turns = 0;; turns++) {
        }
    }
    if (IS("meet")) {
        static atomic_int meeting = 0;
        atomic_fetch_add(&meeting, 1);
        for (int waited = 0; atomic_load(&meeting) < 2; waited++) {
            if (waited == 5000) return 9;
            struct timespec pause = {0, 1000000};
            nanosleep(&pause, NULL);
        }
        return 2;
    }
    if (IS("big")) {
        static uint8_t big[65536];
        memset(big, 'x', sizeof big);
        return sink->write(sink->context, big, sizeof big) != 0 ? 1 : 2;
    }
    return 0;
#undef IS
}
#endif

/* Writes the int at interface "test.ext" of the plugin the input names after "service:", or "null". */
static int32_t call_service(const uint8_t *input, size_t input_len, const aisopod_sink *sink) {
    char dependency[64];
    memcpy(dependency, input + 8, input_len - 8);
    dependency[input_len - 8] = '\0';
    const size_t needed = offsetof(aisopod_host, get_dependency_extension) + sizeof services_host->get_dependency_extension;
    const int *value = NULL;
    if (services_host->struct_size >= needed) {
        value = services_host->get_dependency_extension(services_host, dependency, "test.ext");
    }
    char out[16];
    if (value == NULL) snprintf(out, sizeof out, "null");
    else snprintf(out, sizeof out, "%d", *value);
    return sink->write(sink->context, (const uint8_t *)out, strlen(out)) != 0 ? 1 : 0;
}

#ifdef STATE_COUNTER
static unsigned long counter;

static int32_t count(void *userdata, const uint8_t *input, size_t input_len, const aisopod_sink *sink) {
    (void)userdata;
    (void)input;
    (void)input_len;
    char text[32];
    int len = snprintf(text, sizeof text, "%lu", ++counter);
    return sink->write(sink->context, (const uint8_t *)text, (size_t)len);
}

static int32_t state_save(const aisopod_plugin *plugin, const aisopod_sink *sink) {
    (void)plugin;
    record("save");
    char text[32];
    int len = snprintf(text, sizeof text, "%lu", counter);
    return sink->write(sink->context, (const uint8_t *)text, (size_t)len);
}

static int32_t state_restore(const aisopod_plugin *plugin, const uint8_t *data, size_t len) {
    (void)plugin;
    record("restore");
    char text[32];
    if (len == 0 || len >= sizeof text) return 5;
    memcpy(text, data, len);
    text[len] = '\0';
    counter = strtoul(text, NULL, 10);
    return 0;
}

static const aisopod_state_v1 state_extension = {
    .struct_size = sizeof(aisopod_state_v1),
    .save = state_save,
    .restore = state_restore,
};
#endif

static int32_t echo(void *userdata, const uint8_t *input, size_t input_len, const aisopod_sink *sink) {
    (void)userdata;
    if (input_len == 8 && memcmp(input, "callback", 8) == 0 && callback != NULL) callback->call(callback->context);
    if (input_len > 8 && input_len < 72 && memcmp(input, "service:", 8) == 0) return call_service(input, input_len, sink);
#ifdef DETECT_OVERLAP
    /* Detects overlapping calls, which a thread_safe = false plugin must never see. */
    if (atomic_fetch_add(&inside, 1) != 0) {
        atomic_fetch_sub(&inside, 1);
        return 99;
    }
    struct timespec pause = {0, 20000};
    nanosleep(&pause, NULL);
#endif
    int32_t code = 0;
#ifdef HANDLER_MISCHIEF
    int done = mischief(input, input_len, sink);
    if (done != 0) return done == 2 ? 0 : done;
#endif
#ifdef ECHO_PREFIX
    if (sink->write(sink->context, (const uint8_t *)ECHO_PREFIX, strlen(ECHO_PREFIX)) != 0) return 1;
#endif
    if (input_len == 4 && memcmp(input, "fail", 4) == 0) code = 7;
    else if (sink->write(sink->context, input, input_len) != 0) code = 1;
#ifdef DETECT_OVERLAP
    atomic_fetch_sub(&inside, 1);
#endif
    return code;
}

static int32_t ping(void *userdata, const uint8_t *input, size_t input_len, const aisopod_sink *sink) {
    (void)userdata;
    (void)input;
    (void)input_len;
    return sink->write(sink->context, (const uint8_t *)PLUGIN_ID ";", strlen(PLUGIN_ID ";"));
}

static int32_t extra(void *userdata, const uint8_t *input, size_t input_len, const aisopod_sink *sink) {
    (void)userdata;
    (void)input;
    (void)input_len;
    (void)sink;
    return 0;
}

static int32_t test_register(const aisopod_plugin *plugin, const aisopod_registrar *registrar) {
    (void)plugin;
    record("register");
    int32_t rc = registrar->register_capability(registrar, AISOPOD_CAPABILITY_TOOL, "echo", echo, NULL);
#ifdef REGISTER_TWICE
    rc |= registrar->register_capability(registrar, AISOPOD_CAPABILITY_TOOL, "echo", echo, NULL);
#endif
#ifndef SKIP_HOOK
    rc |= registrar->register_capability(registrar, AISOPOD_CAPABILITY_HOOK, "ping", ping, NULL);
#else
    (void)ping;
#endif
#ifdef STATE_COUNTER
    rc |= registrar->register_capability(registrar, AISOPOD_CAPABILITY_TOOL, "count", count, NULL);
#endif
#ifdef REGISTER_EXTRA
    rc |= registrar->register_capability(registrar, AISOPOD_CAPABILITY_COMMAND, "extra", extra, NULL);
#else
    (void)extra;
#endif
    return rc;
}

static int32_t test_init(const aisopod_plugin *plugin, const aisopod_init_context *context) {
    (void)plugin;
    record("init");
#ifdef INIT_SEGFAULT
    *nowhere = 1;
#endif
#ifdef INIT_SLEEP_MS
    struct timespec slow = {INIT_SLEEP_MS / 1000, (INIT_SLEEP_MS % 1000) * 1000000L};
    nanosleep(&slow, NULL);
#endif
#ifdef INIT_LOOP
    for (;;) {
        struct timespec pause = {1, 0};
        nanosleep(&pause, NULL);
    }
#endif
#ifdef INIT_FAILS
    return 3;
#endif
    if (context->config_len != strlen(context->config)) return 4;
    return strcmp(context->config, "fail") == 0 ? 3 : 0;
}

static void test_shutdown(const aisopod_plugin *plugin) {
    (void)plugin;
    record("shutdown");
}

static void test_destroy(const aisopod_plugin *plugin) {
    record("destroy");
    free((void *)plugin);
}

static const int extension_value = 42;

static const void *test_get_extension(const aisopod_plugin *plugin, const char *id) {
    (void)plugin;
#ifdef STATE_COUNTER
    if (strcmp(id, AISOPOD_STATE_EXTENSION) == 0) return &state_extension;
#endif
    return strcmp(id, "test.ext") == 0 ? &extension_value : NULL;
}

#ifndef NO_ABI_SYMBOL
AISOPOD_PLUGIN_EXPORT uint32_t aisopod_plugin_abi_version(void) {
    return ABI_VERSION;
}
#endif

#ifndef NO_CREATE_SYMBOL
AISOPOD_PLUGIN_EXPORT const aisopod_plugin *aisopod_plugin_create(const aisopod_host *host) {
#ifdef HANDLER_MISCHIEF
    the_host = host;
#endif
    services_host = host;
    events = host->get_extension(host, "test.events");
    callback = host->get_extension(host, "test.callback");
    record("create");
#ifdef CREATE_EXIT
    exit(3);
#endif
#ifdef CREATE_NULL
    return NULL;
#else
    aisopod_plugin *plugin = calloc(1, sizeof *plugin);
    if (plugin == NULL) return NULL;
    last_created = plugin;
#ifdef SMALL_STRUCT
    plugin->struct_size = 8;
#else
    plugin->struct_size = sizeof *plugin;
#endif
    plugin->id = PLUGIN_ID;
    plugin->register_capabilities = test_register;
    plugin->init = test_init;
#ifndef NULL_SHUTDOWN
    plugin->shutdown = test_shutdown;
#else
    (void)test_shutdown;
#endif
    plugin->destroy = test_destroy;
    plugin->get_extension = test_get_extension;
    return plugin;
#endif
}
#endif
