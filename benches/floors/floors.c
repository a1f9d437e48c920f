/*
 * The physical floors the benchmark compares the loader with, as plain C at -O2. Each mode prints one line
 * "ns=<elapsed>" (and for load, "unload_ns=") measured with CLOCK_MONOTONIC around the work alone.
 *
 *   floors read DIR    readdir, then open/fstat/read/close each <sub>/aisopod.plugin.toml into a kept buffer
 *   floors stat DIR    readdir, then fstatat each manifest (what a cache validation must do at least)
 *   floors load DIR    dlopen(RTLD_NOW|RTLD_LOCAL) each <sub>/lib<sub>.so, dlsym + call the ABI version, dlsym +
 *                      call create, then dlclose them all
 *   floors call LIB N  dlopen one plugin, create it, register it, and call its "noop" handler N times
 *   floors echo SIZE N fork a child over a socketpair(AF_UNIX, SOCK_STREAM), then N times: write SIZE bytes and
 *                      read them back. The child reads the whole message before it writes it back, as the
 *                      helper process reads a whole frame before it replies. 100 untimed round trips go first.
 *   floors spawn N     N times: posix_spawn this program (argv[0]) with the argument "exit", which returns at
 *                      once, and waitpid for it
 */
#define _DEFAULT_SOURCE /* d_type, DT_DIR */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aisopod_loader.h"

static unsigned long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static int die(const char *what, const char *detail) {
    fprintf(stderr, "floors: %s: %s\n", what, detail ? detail : "");
    exit(1);
}

static int is_plugin_entry(const struct dirent *e) {
    return e->d_name[0] != '.' && (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN);
}

static int discover(const char *dir, int stat_only) {
    size_t cap = 1024, count = 0;
    char **kept = malloc(cap * sizeof *kept);
    unsigned long long t0 = now_ns();
    DIR *d = opendir(dir);
    if (d == NULL) die("opendir", dir);
    int dfd = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_plugin_entry(e)) continue;
        char rel[NAME_MAX + 32];
        snprintf(rel, sizeof rel, "%s/" AISOPOD_MANIFEST_FILE_NAME, e->d_name);
        struct stat st;
        if (stat_only) {
            if (fstatat(dfd, rel, &st, 0) == 0) count++;
            continue;
        }
        int fd = openat(dfd, rel, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        if (fstat(fd, &st) != 0) die("fstat", rel);
        char *buf = malloc((size_t)st.st_size + 1);
        ssize_t got = read(fd, buf, (size_t)st.st_size);
        if (got < 0) die("read", rel);
        buf[got] = 0;
        close(fd);
        if (count == cap) kept = realloc(kept, (cap *= 2) * sizeof *kept);
        kept[count++] = buf;
    }
    closedir(d);
    unsigned long long t1 = now_ns();
    printf("n=%zu ns=%llu\n", count, t1 - t0);
    if (!stat_only)
        for (size_t i = 0; i < count; i++) free(kept[i]);
    free(kept);
    return 0;
}

static char **library_paths(const char *dir, size_t *n) {
    DIR *d = opendir(dir);
    if (d == NULL) die("opendir", dir);
    size_t cap = 1024;
    char **paths = malloc(cap * sizeof *paths);
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_plugin_entry(e)) continue;
        if (*n == cap) paths = realloc(paths, (cap *= 2) * sizeof *paths);
        size_t len = strlen(dir) + 2 * strlen(e->d_name) + 16;
        paths[*n] = malloc(len);
        snprintf(paths[*n], len, "%s/%s/lib%s.so", dir, e->d_name, e->d_name);
        (*n)++;
    }
    closedir(d);
    return paths;
}

static int load(const char *dir) {
    size_t n;
    char **paths = library_paths(dir, &n);
    void **handles = calloc(n, sizeof *handles);
    const aisopod_plugin **plugins = calloc(n, sizeof *plugins);
    aisopod_host host = {sizeof host, AISOPOD_ABI_VERSION, "1.0.0", NULL, NULL, NULL};
    unsigned long long t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
        void *h = dlopen(paths[i], RTLD_NOW | RTLD_LOCAL);
        if (h == NULL) die("dlopen", dlerror());
        aisopod_plugin_abi_version_fn abi = (aisopod_plugin_abi_version_fn)dlsym(h, AISOPOD_PLUGIN_ABI_VERSION_SYMBOL);
        if (abi == NULL || abi() != AISOPOD_ABI_VERSION) die("abi", paths[i]);
        aisopod_plugin_create_fn create = (aisopod_plugin_create_fn)dlsym(h, AISOPOD_PLUGIN_CREATE_SYMBOL);
        if (create == NULL) die("dlsym create", paths[i]);
        plugins[i] = create(&host);
        if (plugins[i] == NULL) die("create", paths[i]);
        handles[i] = h;
    }
    unsigned long long t1 = now_ns();
    for (size_t i = 0; i < n; i++) {
        plugins[i]->destroy(plugins[i]);
        if (dlclose(handles[i]) != 0) die("dlclose", dlerror());
    }
    unsigned long long t2 = now_ns();
    printf("n=%zu ns=%llu unload_ns=%llu\n", n, t1 - t0, t2 - t1);
    for (size_t i = 0; i < n; i++) free(paths[i]);
    free(paths);
    free(handles);
    free((void *)plugins);
    return 0;
}

static aisopod_handler captured;
static void *captured_userdata;

static int32_t capture(const aisopod_registrar *registrar, aisopod_capability_kind kind, const char *name,
                       aisopod_handler handler, void *userdata) {
    (void)registrar;
    (void)kind;
    if (strcmp(name, "noop") == 0) {
        captured = handler;
        captured_userdata = userdata;
    }
    return 0;
}

static int32_t discard(void *context, const uint8_t *data, size_t len) {
    (void)context;
    (void)data;
    (void)len;
    return 0;
}

static int call(const char *library, long iterations) {
    void *h = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) die("dlopen", dlerror());
    aisopod_plugin_create_fn create = (aisopod_plugin_create_fn)dlsym(h, AISOPOD_PLUGIN_CREATE_SYMBOL);
    aisopod_host host = {sizeof host, AISOPOD_ABI_VERSION, "1.0.0", NULL, NULL, NULL};
    const aisopod_plugin *plugin = create(&host);
    aisopod_registrar registrar = {.struct_size = sizeof registrar, .register_capability = capture};
    plugin->register_capabilities(plugin, &registrar);
    if (captured == NULL) die("register", "no noop handler");
    aisopod_sink sink = {NULL, discard};
    /* Through a volatile pointer, so the compiler cannot inline or hoist the call. */
    aisopod_handler volatile handler = captured;
    const uint8_t input[8] = "abcdefg";
    long failures = 0;
    unsigned long long t0 = now_ns();
    for (long i = 0; i < iterations; i++) failures += handler(captured_userdata, input, (size_t)(i & 3), &sink);
    unsigned long long t1 = now_ns();
    printf("n=%ld ns=%llu check=%ld\n", iterations, t1 - t0, failures);
    plugin->destroy(plugin);
    dlclose(h);
    return 0;
}

/* 1 when all `len` bytes were read, 0 at end of file before the first byte. */
static int read_all(int fd, unsigned char *buf, size_t len) {
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("read", strerror(errno));
        if (n == 0) {
            if (got == 0) return 0;
            die("read", "end of file inside a message");
        }
        got += (size_t)n;
    }
    return 1;
}

static void write_all(int fd, const unsigned char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("write", strerror(errno));
        buf += n;
        len -= (size_t)n;
    }
}

static int echo(size_t size, long iterations) {
    if (size == 0) die("echo", "SIZE must be at least 1");
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) die("socketpair", strerror(errno));
    unsigned char *sent = malloc(size), *back = malloc(size);
    if (sent == NULL || back == NULL) die("malloc", "echo buffers");
    pid_t pid = fork();
    if (pid < 0) die("fork", strerror(errno));
    if (pid == 0) {
        close(pair[0]);
        while (read_all(pair[1], back, size)) write_all(pair[1], back, size);
        _exit(0);
    }
    close(pair[1]);
    for (size_t i = 0; i < size; i++) sent[i] = (unsigned char)(i * 31 + 7);
    for (int i = 0; i < 100; i++) {
        write_all(pair[0], sent, size);
        if (!read_all(pair[0], back, size)) die("echo", "the child closed the socket");
    }
    unsigned long long t0 = now_ns();
    for (long i = 0; i < iterations; i++) {
        write_all(pair[0], sent, size);
        if (!read_all(pair[0], back, size)) die("echo", "the child closed the socket");
    }
    unsigned long long t1 = now_ns();
    if (memcmp(sent, back, size) != 0) die("echo", "the message came back changed");
    close(pair[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) die("echo", "child");
    printf("n=%ld ns=%llu\n", iterations, t1 - t0);
    free(sent);
    free(back);
    return 0;
}

extern char **environ;

static int spawn(const char *self, long iterations) {
    char *child_argv[] = {(char *)self, "exit", NULL};
    unsigned long long t0 = now_ns();
    for (long i = 0; i < iterations; i++) {
        pid_t pid;
        int rc = posix_spawn(&pid, self, NULL, NULL, child_argv, environ);
        if (rc != 0) die("posix_spawn", strerror(rc));
        int status;
        if (waitpid(pid, &status, 0) != pid) die("waitpid", strerror(errno));
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("spawn", "the child did not exit 0");
    }
    unsigned long long t1 = now_ns();
    printf("n=%ld ns=%llu\n", iterations, t1 - t0);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "exit") == 0) return 0;
    if (argc == 3 && strcmp(argv[1], "read") == 0) return discover(argv[2], 0);
    if (argc == 3 && strcmp(argv[1], "stat") == 0) return discover(argv[2], 1);
    if (argc == 3 && strcmp(argv[1], "load") == 0) return load(argv[2]);
    if (argc == 4 && strcmp(argv[1], "call") == 0) return call(argv[2], atol(argv[3]));
    if (argc == 4 && strcmp(argv[1], "echo") == 0) return echo((size_t)atol(argv[2]), atol(argv[3]));
    if (argc == 3 && strcmp(argv[1], "spawn") == 0) return spawn(argv[0], atol(argv[2]));
    fprintf(stderr, "usage: %s read|stat|load DIR | call LIB N | echo SIZE N | spawn N\n", argv[0]);
    return 2;
}
