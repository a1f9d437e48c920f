// wrapper_test: every piece of include/aisopod_loader.hpp against real plugins. The example tree holds the
// C, Rust and Zig hello plugins; the extension tree holds tests/plugins/test_plugin.c built as "cpp_ext"
// (it records its lifecycle through the host extension "test.events" and offers the plugin extension
// "test.ext") and a candidate with an invalid manifest; the crash tree holds the test plugin built as
// "cpp_crash", whose constructor aborts, which is only ever probed in a helper process. hello and cpp_ext
// also run isolated, each in a helper process of its own; killing hello's crashes it. BOXED_LIBRARY is the
// test plugin built as "cpp_boxed" with HANDLER_MISCHIEF (its echo tries reading or writing a path, opening a
// socket or running a program on request); the sandbox checks give it a tree and a manifest in WORK_DIR and
// run it isolated and sandboxed. A copy of hello in WORK_DIR/trust is made group-writable for the file policy,
// then kept out by the lists. Prints one line per check; exit status 0 when all passed. XDG_CACHE_HOME must
// point into WORK_DIR (the default cache is written there).
//
// usage: wrapper_test EXAMPLE_TREE EXTENSION_TREE WORK_DIR CRASH_TREE BOXED_LIBRARY
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "aisopod_loader.hpp"

namespace fs = std::filesystem;

static_assert(!std::is_copy_constructible_v<aisopod::Loader> && !std::is_copy_assignable_v<aisopod::Loader>);
static_assert(std::is_nothrow_move_constructible_v<aisopod::Loader> && std::is_nothrow_move_assignable_v<aisopod::Loader>);
static_assert(!std::is_copy_constructible_v<aisopod::PluginInfo> && std::is_nothrow_move_constructible_v<aisopod::PluginInfo>);
static_assert(!std::is_copy_constructible_v<aisopod::Diagnostic> && std::is_nothrow_move_constructible_v<aisopod::Diagnostic>);
static_assert(!std::is_copy_constructible_v<aisopod::Capability> && std::is_nothrow_move_constructible_v<aisopod::Capability>);
static_assert(!std::is_copy_constructible_v<aisopod::QuarantineEntry> &&
              std::is_nothrow_move_constructible_v<aisopod::QuarantineEntry>);

namespace {

int passed = 0;
int failed = 0;

void check(bool ok, const std::string &what) {
    std::cout << (ok ? "ok: " : "FAILED: ") << what << "\n";
    (ok ? passed : failed)++;
}

bool contains(const std::string &text, const std::string &part) { return text.find(part) != std::string::npos; }

/// Runs `call`, which must throw aisopod::Error with `status` and a message holding every one of `parts`.
template <typename Call>
void expect_error(const std::string &what, aisopod_status status, std::vector<std::string> parts, Call call) {
    try {
        call();
        check(false, what + " (no exception)");
    } catch (const aisopod::Error &e) {
        bool ok = e.status() == status;
        for (const auto &part : parts) ok = ok && contains(e.what(), part);
        check(ok, what + " -> [" + std::string(aisopod::status_str(e.status())) + "] " + e.what());
    }
}

/// The "test.events" host extension of tests/plugins/test_plugin.c: it reports "plugin:event" strings.
struct TestEvents {
    void *context;
    void (*record)(void *context, const char *plugin, const char *event);
};

struct EventLog {
    std::mutex mutex;
    std::vector<std::string> events;
    TestEvents extension{this, &EventLog::record};

    static void record(void *context, const char *plugin, const char *event) {
        auto *self = static_cast<EventLog *>(context);
        std::lock_guard<std::mutex> lock(self->mutex);
        self->events.push_back(std::string(plugin) + ":" + event);
    }
    std::vector<std::string> take() {
        std::lock_guard<std::mutex> lock(mutex);
        return std::move(events);
    }
};

struct LogLine {
    aisopod::LogLevel level;
    std::string source;
    std::string message;
};

std::string joined(const std::vector<std::string> &items) {
    std::string out;
    for (const auto &item : items) out += (out.empty() ? "" : ",") + item;
    return out;
}

void check_values(const std::string &examples) {
    check(aisopod::version() == AISOPOD_LOADER_VERSION_STRING, "version() matches the header: " + aisopod::version());
    check(aisopod::status_str(AISOPOD_STATUS_BUSY) == aisopod_status_str(AISOPOD_STATUS_BUSY) &&
              !aisopod::status_str(AISOPOD_STATUS_BUSY).empty(),
          "status_str(BUSY) = " + std::string(aisopod::status_str(AISOPOD_STATUS_BUSY)));
    expect_error("Loader(\"not-semver\")", AISOPOD_STATUS_INVALID_ARGUMENT, {"aisopod_loader_new", "not-semver"},
                 [] { aisopod::Loader bad("not-semver"); });
    expect_error("Loader with a NUL inside the version", AISOPOD_STATUS_INVALID_ARGUMENT,
                 {"aisopod_loader_new: host_version contains a NUL byte at offset 3"},
                 [] { aisopod::Loader bad(std::string_view("1.0\0.0", 6)); });

    aisopod::Loader loader("1.0.0");
    loader.use_env_path(false);
    loader.use_default_paths(false);
    loader.add_search_path(examples);
    expect_error("load with a NUL inside the id", AISOPOD_STATUS_INVALID_ARGUMENT,
                 {"aisopod_loader_load: id contains a NUL byte at offset 3"},
                 [&] { loader.load(std::string_view("hel\0lo", 6)); });
    expect_error("load of an unknown id", AISOPOD_STATUS_NOT_FOUND, {"aisopod_loader_load", "no-such-plugin"},
                 [&] { loader.load("no-such-plugin"); });
    check(contains(loader.last_error(), "no-such-plugin"), "last_error() = " + loader.last_error());

    aisopod::Loader moved = std::move(loader);
    check(moved.discover() == 3, "a moved-to Loader discovers the 3 example plugins");
    expect_error("discover on a moved-from Loader", AISOPOD_STATUS_NULL_ARGUMENT, {"loader"},
                 [&] { loader.discover(); });  // NOLINT(bugprone-use-after-move): that is the point
    expect_error("set_log_callback on a moved-from Loader", AISOPOD_STATUS_NULL_ARGUMENT, {"loader"},
                 [&] { loader.set_log_callback([](aisopod::LogLevel, std::string_view, std::string_view) {}); });
}

void check_discovery(aisopod::Loader &loader, const fs::path &work) {
    fs::path cache = work / "registry.bin";
    loader.set_cache_path(cache.string());
    check(loader.discover() == 4, "discover() with the cache finds 4 plugins");
    check(fs::exists(cache), "set_cache_path writes " + cache.string());
    check(loader.discover() == 4, "a second discover() from the cache finds 4 plugins");
    loader.disable_cache();
    fs::remove(cache);
    loader.discover();
    check(!fs::exists(cache), "disable_cache() writes no cache file");
    const char *xdg = std::getenv("XDG_CACHE_HOME");
    fs::path default_cache = fs::path(xdg != nullptr ? xdg : "") / "aisopod" / "registry.bin";
    fs::remove(default_cache);
    loader.use_default_cache();
    loader.discover();
    check(xdg != nullptr && fs::exists(default_cache), "use_default_cache() writes " + default_cache.string());
    loader.disable_cache();

    auto diagnostics = loader.diagnostics();
    check(diagnostics.size() == 1, "diagnostics() has the broken candidate only");
    if (diagnostics.size() == 1) {
        const auto &d = diagnostics[0];
        check(d.status() == AISOPOD_STATUS_MANIFEST_INVALID, "diagnostic status is MANIFEST_INVALID");
        check(fs::path(d.path()).parent_path().filename() == "broken", "diagnostic path " + d.path());
        check(contains(d.message(), "[plugin].id") && contains(d.message(), "Not A Valid Id"),
              "diagnostic message " + d.message());
        check(d.get() != nullptr, "Diagnostic::get()");
    }

    std::vector<std::string> ids;
    for (const auto &plugin : loader.plugins()) ids.push_back(plugin.id());
    check(ids.size() == 4, "plugins() = " + joined(ids));

    auto hello = loader.find("hello");
    check(hello.has_value(), "find(\"hello\")");
    if (hello) {
        fs::path dir = hello->directory();
        check(dir.filename() == "hello", "directory() = " + dir.string());
        check(hello->name() == "Hello" && hello->version() == "1.0.0", "name() and version()");
        check(contains(hello->description(), "Greets") && hello->author() == "aisopod-loader authors",
              "description() and author()");
        check(fs::path(hello->manifest_path()) == dir / "aisopod.plugin.toml", "manifest_path() = " + hello->manifest_path());
        check(fs::path(hello->library_path()).filename() == "libhello.so", "library_path() = " + hello->library_path());
        check(hello->min_host_version() == std::optional<std::string>("0.1.0") &&
                  hello->max_host_version() == std::optional<std::string>("1.99.0"),
              "min_host_version() and max_host_version() of hello");
        check(hello->license() == std::optional<std::string>("MIT OR Apache-2.0") && !hello->homepage() &&
                  !hello->repository() && !hello->sha256(),
              "license(), homepage(), repository() and sha256() of hello");
        check(hello->thread_safe() && hello->unloadable(), "hello is thread-safe and unloadable");
        check(joined(hello->capabilities(aisopod::Kind::Tool)) == "greet" &&
                  joined(hello->capabilities(aisopod::Kind::Hook)) == "on_start" &&
                  hello->capabilities(aisopod::Kind::Command).empty(),
              "capabilities() of hello");
        check(hello->get() != nullptr, "PluginInfo::get()");
    }
    auto rust = loader.find("rust_hello");
    check(rust && !rust->unloadable(), "rust_hello says unload = false: unloadable() is false");
    auto ext = loader.find("cpp_ext");
    check(ext && !ext->min_host_version() && !ext->max_host_version(), "cpp_ext has no compatibility range");
    check(ext && !ext->thread_safe(), "cpp_ext says thread_safe = false");
    check(!loader.find("no-such-plugin").has_value(), "find() of an unknown id is empty");
}

void check_log_callback(aisopod::Loader &loader) {
    std::mutex mutex;
    std::vector<LogLine> lines;
    loader.set_log_callback([&](aisopod::LogLevel level, std::string_view source, std::string_view message) {
        std::lock_guard<std::mutex> lock(mutex);
        lines.push_back({level, std::string(source), std::string(message)});
    });
    loader.load("hello");
    loader.init("hello", R"({"greeting": "hi"})");
    bool seen = false;
    {
        std::lock_guard<std::mutex> lock(mutex);
        for (const auto &line : lines)
            seen = seen || (line.level == aisopod::LogLevel::Info && line.source == "hello" &&
                            line.message == R"(hello: init with config {"greeting": "hi"})");
    }
    check(seen, "the log callback receives hello's init message at Info");

    int thrown = 0;
    loader.set_log_callback([&](aisopod::LogLevel, std::string_view, std::string_view) {
        thrown++;
        throw std::runtime_error("log callback refuses");
    });
    loader.load("rust_hello");
    loader.init("rust_hello", "{}");
    check(thrown > 0 && loader.state("rust_hello") == aisopod::PluginState::Initialized,
          "a throwing log callback is called (" + std::to_string(thrown) + "x) and init still succeeds");
    loader.set_log_callback({});
    int before = thrown;
    loader.invoke("hello", aisopod::Kind::Tool, "greet", "quiet");
    loader.unload("rust_hello");
    loader.load("rust_hello");
    loader.init("rust_hello", "{}");
    check(thrown == before, "an empty log callback removes the callback");
}

void check_extensions(aisopod::Loader &loader, EventLog &log, const fs::path &work) {
    loader.set_host_extension("test.events", &log.extension);
    loader.load("cpp_ext");
    check(loader.state("cpp_ext") == aisopod::PluginState::Loaded, "state() is Loaded after load()");
    loader.init("cpp_ext", "{}", work.string());
    check(loader.state("cpp_ext") == aisopod::PluginState::Initialized, "state() is Initialized after init()");
    check(joined(log.take()) == "cpp_ext:create,cpp_ext:register,cpp_ext:init",
          "the plugin records create, register, init through the host extension");

    const int *value = loader.plugin_extension_as<int>("cpp_ext", "test.ext");
    check(value != nullptr && *value == 42, "plugin_extension_as<int>(\"cpp_ext\", \"test.ext\") points to 42");
    check(loader.plugin_extension("cpp_ext", "test.none") == nullptr, "an unknown plugin extension is nullptr");
    expect_error("plugin_extension of a plugin not loaded", AISOPOD_STATUS_NOT_LOADED, {"zig_hello"},
                 [&] { loader.plugin_extension("zig_hello", "test.ext"); });

    loader.unload("cpp_ext");
    check(joined(log.take()) == "cpp_ext:shutdown,cpp_ext:destroy,cpp_ext:dlclose",
          "unload() records shutdown, destroy and dlclose");
    check(loader.state("cpp_ext") == aisopod::PluginState::Unloaded && !loader.is_loaded("cpp_ext"),
          "state() is Unloaded after unload()");

    loader.remove_host_extension("test.events");
    loader.load("cpp_ext");
    loader.init("cpp_ext");
    check(log.take().empty(), "after remove_host_extension the plugin finds no extension");
}

void check_invocations(aisopod::Loader &loader) {
    check(loader.invoke("cpp_ext", aisopod::Kind::Tool, "echo", std::string_view("a\0b", 3)) == std::string("a\0b", 3),
          "invoke() passes input bytes with a NUL through");
    expect_error("invoke() of a failing handler", AISOPOD_STATUS_PLUGIN_ERROR, {"aisopod_loader_invoke", "cpp_ext", "7"},
                 [&] { loader.invoke("cpp_ext", aisopod::Kind::Tool, "echo", "fail"); });

    std::vector<std::string> pieces;
    loader.invoke("hello", aisopod::Kind::Tool, "greet", "C++", [&](std::string_view piece) { pieces.emplace_back(piece); });
    check(pieces.size() == 3 && pieces[0] + pieces[1] + pieces[2] == "Hello, C++!",
          "invoke() with a Writer receives the output in 3 pieces");
    try {
        loader.invoke("hello", aisopod::Kind::Tool, "greet", "C++",
                      [](std::string_view) { throw std::logic_error("writer refuses"); });
        check(false, "a throwing Writer's exception is rethrown (no exception)");
    } catch (const aisopod::Error &e) {
        check(false, std::string("a throwing Writer's exception is rethrown, not ") + e.what());
    } catch (const std::logic_error &e) {
        check(std::string(e.what()) == "writer refuses", "a throwing Writer's exception is rethrown by invoke()");
    }

    std::string output;
    size_t handled = loader.emit("on_start", {}, &output);
    check(handled == 2 && contains(output, "hello saw on_start") && contains(output, "rust_hello saw on_start"),
          "emit(\"on_start\") runs 2 handlers: " + output);
    std::string pinged;
    handled = loader.emit("ping", "x", [&](std::string_view piece) { pinged += piece; });
    check(handled == 1 && pinged == "cpp_ext;", "emit(\"ping\") with a Writer runs 1 handler: " + pinged);
    try {
        loader.emit("on_start", {}, [](std::string_view) { throw std::out_of_range("hook writer refuses"); });
        check(false, "a throwing Writer in emit() (no exception)");
    } catch (const std::out_of_range &e) {
        check(std::string(e.what()) == "hook writer refuses", "a throwing Writer's exception is rethrown by emit()");
    }
}

void check_metrics(aisopod::Loader &loader) {
    expect_error("plugin_metrics() while metrics are off", AISOPOD_STATUS_INVALID_ARGUMENT,
                 {"aisopod_loader_plugin_metrics", "plugin 'cpp_ext'", "metrics are off"},
                 [&] { loader.plugin_metrics("cpp_ext"); });
    loader.set_metrics(true);
    for (int i = 0; i < 3; i++) loader.invoke("cpp_ext", aisopod::Kind::Tool, "echo", "x");
    aisopod::Capability echo = loader.resolve("cpp_ext", aisopod::Kind::Tool, "echo");
    echo.invoke("y");
    expect_error("a failing call, counted", AISOPOD_STATUS_PLUGIN_ERROR, {"cpp_ext"},
                 [&] { loader.invoke("cpp_ext", aisopod::Kind::Tool, "echo", "fail"); });
    aisopod::CapabilityMetrics m = loader.capability_metrics("cpp_ext", aisopod::Kind::Tool, "echo");
    check(m.count == 5 && m.failures == 1 && m.p50.count() > 0 && m.p50 <= m.p99 && m.total >= m.p50,
          "capability_metrics() counts 5 calls by name and resolved, 1 failed: p50 " + std::to_string(m.p50.count()) +
              " ns, p99 " + std::to_string(m.p99.count()) + " ns");
    aisopod::PluginMetrics p = loader.plugin_metrics("cpp_ext");
    check(p.calls == 5 && p.failures == 1 && p.load.count() > 0 && p.init.count() > 0 && p.cpu == m.cpu,
          "plugin_metrics() sums them, with load " + std::to_string(p.load.count()) + " ns and init " +
              std::to_string(p.init.count()) + " ns");
    expect_error("capability_metrics() of a capability it lacks", AISOPOD_STATUS_CAPABILITY_NOT_FOUND,
                 {"aisopod_loader_capability_metrics", "plugin 'cpp_ext' has no tool 'nothing'"},
                 [&] { loader.capability_metrics("cpp_ext", aisopod::Kind::Tool, "nothing"); });
    expect_error("plugin_metrics() of a plugin not loaded", AISOPOD_STATUS_NOT_LOADED,
                 {"aisopod_loader_plugin_metrics", "plugin 'nobody'"}, [&] { loader.plugin_metrics("nobody"); });
    std::string report = loader.report_json();
    check(report.find("\"schema\": \"aisopod-loader-report/1\"") != std::string::npos &&
              report.find("\"id\": \"cpp_ext\"") != std::string::npos &&
              report.find("\"failures\": 1") != std::string::npos,
          "report_json() names its schema and cpp_ext, with its failed call");
    loader.set_metrics(false);
}

void check_capabilities(aisopod::Loader &loader, const std::string &examples) {
    {
        aisopod::Capability greet = loader.resolve("hello", aisopod::Kind::Tool, "greet");
        check(greet.invoke("resolved") == "Hello, resolved!", "Capability::invoke()");
        std::string streamed;
        greet.invoke("streamed", [&](std::string_view piece) { streamed += piece; });
        check(streamed == "Hello, streamed!", "Capability::invoke() with a Writer");
        expect_error("unload() while a Capability lives", AISOPOD_STATUS_BUSY, {"hello"}, [&] { loader.unload("hello"); });

        // A reload gives hello a new generation; the Capability resolved before it is stale until resolved again.
        uint64_t before = loader.generation("hello");
        loader.reload("hello");
        check(loader.generation("hello") > before, "reload() raises generation()");
        expect_error("Capability::invoke() after a reload", AISOPOD_STATUS_STALE, {"hello", "greet", "generation"},
                     [&] { greet.invoke("x"); });
        greet = loader.resolve("hello", aisopod::Kind::Tool, "greet");
        check(greet.invoke("resolved") == "Hello, resolved!", "a Capability resolved again after a reload");
        check(loader.poll_changes() == 0, "poll_changes() reloads nothing when no file changed");

        aisopod::Capability moved = std::move(greet);
        check(moved.invoke("moved") == "Hello, moved!", "a moved-to Capability");
        expect_error("invoke() on a moved-from Capability", AISOPOD_STATUS_NULL_ARGUMENT, {"capability"},
                     [&] { greet.invoke("x"); });  // NOLINT(bugprone-use-after-move): that is the point

        aisopod::Capability echo = loader.resolve("cpp_ext", aisopod::Kind::Tool, "echo");
        expect_error("Capability::invoke() of a failing handler", AISOPOD_STATUS_PLUGIN_ERROR,
                     {"aisopod_capability_invoke", "cpp_ext", "7"}, [&] { echo.invoke("fail"); });
    }
    loader.unload("hello");
    check(!loader.is_loaded("hello"), "unload() succeeds once the Capability is gone");
    expect_error("resolve() of an undeclared capability", AISOPOD_STATUS_CAPABILITY_NOT_FOUND, {"cpp_ext", "missing"},
                 [&] { loader.resolve("cpp_ext", aisopod::Kind::Tool, "missing"); });

    // A Capability keeps its loader alive: the C API wants it freed first, and the wrapper makes that so. The
    // loader's end shows in the log: freeing it unloads hello, whose shutdown logs a line.
    std::mutex mutex;
    std::vector<std::string> messages;
    auto logged = [&] {
        std::lock_guard<std::mutex> lock(mutex);
        return joined(messages);
    };
    std::optional<aisopod::Capability> outlives;
    {
        aisopod::Loader second("1.0.0");
        second.use_env_path(false);
        second.use_default_paths(false);
        second.add_search_path(examples);
        second.set_log_callback([&](aisopod::LogLevel, std::string_view source, std::string_view message) {
            std::lock_guard<std::mutex> lock(mutex);
            if (source == "hello") messages.emplace_back(message);
        });
        second.discover();
        second.load("hello");
        second.init("hello");
        outlives.emplace(second.resolve("hello", aisopod::Kind::Tool, "greet"));
    }
    check(outlives->invoke("later") == "Hello, later!", "a Capability works after its Loader is destroyed");
    check(!contains(logged(), "hello: shutdown"), "the loader outlives its Loader while a Capability lives");
    outlives.reset();
    check(contains(logged(), "hello: shutdown"), "freeing the last Capability frees the loader: " + logged());
}

std::string step_names(const aisopod::ProbeVerdict &verdict) {
    std::vector<std::string> names;
    for (const auto &step : verdict.steps) names.push_back(step.name);
    return joined(names);
}

/// The verdicts' ids and statuses, as "id=status,...".
std::string summary(const std::vector<aisopod::ProbeVerdict> &verdicts) {
    std::vector<std::string> items;
    for (const auto &v : verdicts) items.push_back(v.plugin_id + "=" + std::to_string(static_cast<unsigned>(v.status)));
    return joined(items);
}

void check_probing(const std::string &examples, const std::string &crashing) {
    aisopod::Loader loader("1.0.0");
    loader.use_env_path(false);
    loader.use_default_paths(false);
    loader.add_search_path(examples);
    loader.add_search_path(crashing);
    check(loader.discover() == 4, "discover() finds the 3 examples and cpp_crash");
    check(loader.quarantine().empty(), "a new loader's quarantine is empty");
    loader.set_call_timeout(std::chrono::seconds(20));
    loader.set_call_timeout("cpp_crash", std::chrono::seconds(5));
    expect_error("set_call_timeout() past 2^32 - 1 ms", AISOPOD_STATUS_INVALID_ARGUMENT,
                 {"aisopod_loader_set_call_timeout", "timeout_ms 5184000000"},
                 [&] { loader.set_call_timeout(std::chrono::hours(24 * 60)); });

    auto verdicts = loader.probe({"hello", "cpp_crash"}, "{}");
    check(verdicts.size() == 2 && verdicts[0].plugin_id == "hello" && verdicts[1].plugin_id == "cpp_crash",
          "probe() gives one verdict per id, in order: " + summary(verdicts));
    if (verdicts.size() == 2) {
        const auto &hello = verdicts[0];
        check(hello.passed() && hello.message.empty() && !hello.failed_step, "hello passes its probe");
        check(hello.steps.size() == 14 && hello.steps.front().name == "manifest" && hello.steps.back().name == "unload",
              "hello's probe ran 14 steps, manifest to unload: " + step_names(hello));
        std::chrono::nanoseconds total{};
        bool timed = true;
        for (const auto &step : hello.steps) {
            timed = timed && step.duration.count() >= 0;
            total += step.duration;
        }
        check(timed && total.count() > 0, "the steps' durations add up to " + std::to_string(total.count()) + " ns");
        check(joined(hello.capabilities.at(aisopod::Kind::Tool)) == "greet" &&
                  joined(hello.capabilities.at(aisopod::Kind::Hook)) == "on_start" &&
                  hello.capabilities.at(aisopod::Kind::Command).empty() && hello.capabilities.size() == 5,
              "hello registered tool greet and hook on_start in its probe");
        check(hello.signal == 0 && hello.exit_code == -1 && hello.stderr_tail.empty(),
              "hello did not end its helper process");

        const auto &crash = verdicts[1];
        check(crash.status == AISOPOD_STATUS_PLUGIN_CRASHED && crash.failed_step == std::string("dlopen"),
              "cpp_crash crashed during dlopen: " + crash.message);
        check(contains(crash.message, "plugin 'cpp_crash' crashed during dlopen") && contains(crash.message, "SIGABRT"),
              "the crash's message names the plugin, the step and the signal");
        check(crash.signal == SIGABRT && crash.exit_code == -1,
              "cpp_crash's helper was killed by SIGABRT (" + std::to_string(crash.signal) + ")");
        check(contains(crash.stderr_tail, "constructor aborting"), "stderr_tail holds the plugin's last words");
        check(!crash.steps.empty() && crash.steps.back().name == "dlopen",
              "the last step of cpp_crash is dlopen: " + step_names(crash));
        check(crash.capabilities.at(aisopod::Kind::Tool).empty(), "cpp_crash registered nothing");
    }

    auto quarantine = loader.quarantine();
    check(quarantine.size() == 1, "quarantine() has cpp_crash only");
    if (quarantine.size() == 1) {
        const auto &entry = quarantine[0];
        check(entry.plugin_id() == "cpp_crash" && entry.status() == AISOPOD_STATUS_PLUGIN_CRASHED,
              "the entry names cpp_crash and PLUGIN_CRASHED");
        check(fs::path(entry.library_path()) == fs::path(crashing) / "cpp_crash" / "libcpp_crash.so",
              "the entry's library_path() = " + entry.library_path());
        check(contains(entry.reason(), "crashed during dlopen"), "the entry's reason() = " + entry.reason());
        auto age = std::chrono::system_clock::now() - entry.since();
        check(age >= std::chrono::seconds(-1) && age < std::chrono::minutes(10), "the entry's since() is just now");
        check(entry.get() != nullptr, "QuarantineEntry::get()");
        aisopod::QuarantineEntry moved = std::move(quarantine[0]);
        check(moved.plugin_id() == "cpp_crash", "a moved-to QuarantineEntry");
        expect_error("since() on a moved-from QuarantineEntry", AISOPOD_STATUS_NULL_ARGUMENT, {"entry"},
                     [&] { quarantine[0].since(); });  // NOLINT(bugprone-use-after-move): that is the point
    }
    expect_error("load() of a quarantined plugin", AISOPOD_STATUS_QUARANTINED, {"cpp_crash"},
                 [&] { loader.load("cpp_crash"); });
    check(loader.discover() == 3, "discovery sets the quarantined plugin aside");
    bool set_aside = false;
    for (const auto &d : loader.diagnostics())
        set_aside = set_aside || (d.status() == AISOPOD_STATUS_QUARANTINED && contains(d.message(), "cpp_crash"));
    check(set_aside, "a QUARANTINED diagnostic names cpp_crash");

    check(loader.clear_quarantine("hello") == 0, "clear_quarantine(\"hello\") lifts nothing");
    check(loader.clear_quarantine("cpp_crash") == 1 && loader.quarantine().empty(),
          "clear_quarantine(\"cpp_crash\") lifts its entry");
    check(loader.discover() == 4, "after clearing, discovery lists cpp_crash again");

    auto all = loader.probe_all();
    check(summary(all) == "hello=0,rust_hello=0,zig_hello=0,cpp_crash=302",
          "probe_all() probes every discovered plugin: " + summary(all));
    check(all.size() == 4 && all[0].steps.size() == 13, "without an init config, init is not probed: 13 steps");
    check(loader.clear_quarantine() == 1, "clear_quarantine() lifts every entry");

    loader.set_probe_on_discover(true);
    check(loader.discover() == 3 && loader.quarantine().size() == 1,
          "with set_probe_on_discover(true), discovery probes cpp_crash and sets it aside");
    loader.set_probe_on_discover(false);
    loader.clear_quarantine();
    check(loader.discover() == 4, "with set_probe_on_discover(false), discovery probes nothing");

    expect_error("probe() of an unknown id", AISOPOD_STATUS_NOT_FOUND, {"aisopod_loader_probe", "no-such-plugin"},
                 [&] { loader.probe({"no-such-plugin"}); });
    expect_error("probe() with a NUL inside an id", AISOPOD_STATUS_INVALID_ARGUMENT,
                 {"aisopod_loader_probe: ids contains a NUL byte at offset 3"},
                 [&] { loader.probe({std::string("hel\0lo", 6)}); });
    fs::path missing = fs::path(crashing) / "no-such-helper";
    loader.set_helper_path(missing.string());
    expect_error("probe() with a helper path that does not exist", AISOPOD_STATUS_HELPER_UNAVAILABLE,
                 {"aisopod_loader_probe", missing.string()}, [&] { loader.probe({"hello"}); });
    loader.clear_helper_path();
    check(loader.probe({"hello"}).at(0).passed(), "clear_helper_path() finds the helper again");
}

/// The file policy and the lists, on a copy of the hello plugin in `work`: a group-writable plugin directory,
/// then a denied id and an id not on the allow list; then the signature policy and trust_key()'s checks.
void check_trust(const std::string &examples, const fs::path &work) {
    fs::path tree = work / "trust";
    fs::remove_all(tree);
    fs::create_directories(tree);
    fs::copy(fs::path(examples) / "hello", tree / "hello", fs::copy_options::recursive);
    fs::permissions(tree / "hello", fs::perms::group_write, fs::perm_options::add);
    aisopod::Loader loader("1.0.0");
    loader.use_env_path(false);
    loader.use_default_paths(false);
    loader.add_search_path(tree.string());
    std::vector<LogLine> warnings;
    loader.set_log_callback([&](aisopod::LogLevel level, std::string_view source, std::string_view message) {
        if (level == aisopod::LogLevel::Warn) warnings.push_back({level, std::string(source), std::string(message)});
    });

    check(loader.discover() == 0, "a group-writable plugin directory is refused by default");
    auto diagnostics = loader.diagnostics();
    check(diagnostics.size() == 1 && diagnostics[0].status() == AISOPOD_STATUS_UNSAFE_PERMISSIONS &&
              contains(diagnostics[0].message(), "/trust/hello: the plugin directory is writable by its group (mode 0"),
          "its diagnostic is UNSAFE_PERMISSIONS, naming the directory and its mode: " +
              (diagnostics.empty() ? std::string("(none)") : diagnostics[0].message()));
    loader.set_file_policy(aisopod::FilePolicy::Warn);
    check(loader.discover() == 1 && warnings.size() == 1 && contains(warnings[0].message, "/trust/hello: the plugin"),
          "set_file_policy(Warn): found, with a warning");
    loader.set_file_policy(aisopod::FilePolicy::Off);
    check(loader.discover() == 1 && warnings.size() == 1, "set_file_policy(Off): found, without a warning");
    expect_error("set_file_policy() with a value that is no FilePolicy", AISOPOD_STATUS_INVALID_ARGUMENT,
                 {"aisopod_loader_set_file_policy", "'policy' is 9"},
                 [&] { loader.set_file_policy(static_cast<aisopod::FilePolicy>(9)); });
    loader.set_file_policy(aisopod::FilePolicy::Strict);
    fs::permissions(tree / "hello", fs::perms::group_write, fs::perm_options::remove);

    loader.deny("hello");
    check(loader.discover() == 0, "deny(\"hello\"): hello is kept out");
    diagnostics = loader.diagnostics();
    check(diagnostics.size() == 1 && diagnostics[0].status() == AISOPOD_STATUS_DENIED &&
              contains(diagnostics[0].message(), "plugin 'hello' is on the host's deny list"),
          "its diagnostic is DENIED, naming the id and the list");
    expect_error("load() of a denied plugin", AISOPOD_STATUS_DENIED, {"aisopod_loader_load", "plugin 'hello'", "deny list"},
                 [&] { loader.load("hello"); });
    loader.clear_lists();
    loader.allow("rust_hello");
    expect_error("load() of a plugin not on the allow list", AISOPOD_STATUS_DENIED,
                 {"plugin 'hello' is not on the host's allow list ('rust_hello')"}, [&] { loader.load("hello"); });
    expect_error("allow() of an id no manifest could have", AISOPOD_STATUS_INVALID_ARGUMENT,
                 {"aisopod_loader_allow", "\"Hello\""}, [&] { loader.allow("Hello"); });
    loader.clear_lists();
    loader.load("hello");
    check(loader.is_loaded("hello"), "clear_lists(): hello loads again, without a new discovery");
    loader.unload("hello");

    loader.set_signature_policy(aisopod::SignaturePolicy::Required);
    expect_error("load() of an unsigned plugin when signatures are required", AISOPOD_STATUS_UNSIGNED,
                 {"aisopod_loader_load", "plugin 'hello' is unsigned", "aisopod.plugin.sig does not exist"},
                 [&] { loader.load("hello"); });
    const std::array<uint8_t, 32> not_a_key{2};
    expect_error("trust_key() of bytes that are no Ed25519 key", AISOPOD_STATUS_INVALID_ARGUMENT,
                 {"aisopod_loader_trust_key", "'public_key' is not an Ed25519 public key"},
                 [&] { loader.trust_key(not_a_key); });
    expect_error("trust_key() of 31 bytes", AISOPOD_STATUS_INVALID_ARGUMENT, {"argument 'len' is 31"},
                 [&] { loader.trust_key(not_a_key.data(), 31); });
    expect_error("set_signature_policy() with a value that is no SignaturePolicy", AISOPOD_STATUS_INVALID_ARGUMENT,
                 {"aisopod_loader_set_signature_policy", "'policy' is 9"},
                 [&] { loader.set_signature_policy(static_cast<aisopod::SignaturePolicy>(9)); });
    loader.set_signature_policy(aisopod::SignaturePolicy::AllowUnsigned);
    loader.load("hello");
    check(loader.is_loaded("hello"), "set_signature_policy(AllowUnsigned): the unsigned hello loads again");
    loader.unload("hello");
}

/// Whether process `pid` exists (signal 0 checks without sending anything).
bool process_exists(int32_t pid) { return pid > 0 && kill(pid, 0) == 0; }

/// Process `pid`'s soft and hard limit `name` as "soft/hard", from its line in /proc/PID/limits such as
/// "Max open files  256  256  files"; "" when there is no such line.
std::string proc_limit(int32_t pid, const std::string &name) {
    std::ifstream limits("/proc/" + std::to_string(pid) + "/limits");
    for (std::string line; std::getline(limits, line);) {
        if (line.compare(0, name.size(), name) != 0) continue;
        std::istringstream values(line.substr(name.size()));
        std::string soft, hard;
        values >> soft >> hard;
        return soft + "/" + hard;
    }
    return "";
}

void check_isolation(const std::string &examples, const std::string &extensions) {
    aisopod::Loader loader("1.0.0");
    loader.use_env_path(false);
    loader.use_default_paths(false);
    loader.add_search_path(examples);
    loader.add_search_path(extensions);
    loader.discover();
    loader.set_call_timeout(std::chrono::seconds(20));
    loader.set_isolation(aisopod::Isolation::Process);
    loader.set_isolation("rust_hello", aisopod::Isolation::None);
    expect_error("set_isolation() with a value that is no Isolation", AISOPOD_STATUS_INVALID_ARGUMENT,
                 {"aisopod_loader_set_isolation", "'isolation' is 7"},
                 [&] { loader.set_isolation(static_cast<aisopod::Isolation>(7)); });
    expect_error("set_restart_policy() with a backoff past 2^32 - 1 ms", AISOPOD_STATUS_INVALID_ARGUMENT,
                 {"aisopod_loader_set_restart_policy", "backoff_ms 5184000000"},
                 [&] { loader.set_restart_policy(1, std::chrono::hours(24 * 60)); });

    loader.load("rust_hello");
    loader.init("rust_hello");
    expect_error("plugin_usage() of a plugin in this process", AISOPOD_STATUS_INVALID_ARGUMENT,
                 {"aisopod_loader_plugin_usage", "rust_hello", "host's process"},
                 [&] { loader.plugin_usage("rust_hello"); });
    expect_error("plugin_usage() of a plugin not loaded", AISOPOD_STATUS_NOT_LOADED,
                 {"aisopod_loader_plugin_usage", "zig_hello"}, [&] { loader.plugin_usage("zig_hello"); });

    loader.load("hello");
    loader.init("hello", "{}");
    check(loader.state("hello") == aisopod::PluginState::Initialized, "an isolated hello is Initialized");
    check(loader.invoke("hello", aisopod::Kind::Tool, "greet", "isolated") == "Hello, isolated!",
          "invoke() calls hello in its helper process");
    std::string streamed;
    loader.invoke("hello", aisopod::Kind::Tool, "greet", "pieces", [&](std::string_view piece) { streamed += piece; });
    check(streamed == "Hello, pieces!", "invoke() with a Writer streams an isolated plugin's output");
    aisopod::PluginUsage usage = loader.plugin_usage("hello");
    check(usage.pid > 0 && usage.pid != getpid() && process_exists(usage.pid),
          "hello runs in helper process " + std::to_string(usage.pid) + ", not in this one " +
              std::to_string(getpid()));
    check(usage.calls >= 3, "plugin_usage() counts init and the calls: " + std::to_string(usage.calls));
    check(usage.peak_rss_bytes > 0 && usage.cpu_user.count() >= 0 && usage.cpu_system.count() >= 0 &&
              usage.restarts == 0,
          "plugin_usage() reports the helper's peak RSS (" + std::to_string(usage.peak_rss_bytes) +
              " bytes) and no restart");

    // A helper killed from outside, between calls, fails the next call with PLUGIN_CRASHED naming the signal,
    // and leaves the plugin crashed; the restart policy starts it again.
    loader.set_restart_policy("hello", 1, std::chrono::milliseconds(0));
    const int32_t first = usage.pid;
    kill(first, SIGKILL);
    expect_error("a call into hello after its helper was killed", AISOPOD_STATUS_PLUGIN_CRASHED,
                 {"aisopod_loader_invoke", "plugin 'hello'", "killed by signal SIGKILL"},
                 [&] { loader.invoke("hello", aisopod::Kind::Tool, "greet", "anyone"); });
    check(loader.state("hello") == aisopod::PluginState::Crashed && loader.is_loaded("hello"),
          "state() is Crashed, and the plugin is still loaded");
    check(loader.invoke("hello", aisopod::Kind::Tool, "greet", "again") == "Hello, again!",
          "with set_restart_policy(\"hello\", 1, 0 ms), the next call restarts hello");
    usage = loader.plugin_usage("hello");
    check(usage.restarts == 1 && usage.pid != first && process_exists(usage.pid),
          "plugin_usage() counts 1 restart, in a new helper process " + std::to_string(usage.pid));
    kill(usage.pid, SIGKILL);
    expect_error("a second kill", AISOPOD_STATUS_PLUGIN_CRASHED, {"plugin 'hello'", "SIGKILL"},
                 [&] { loader.invoke("hello", aisopod::Kind::Tool, "greet", "anyone"); });
    expect_error("a call after the one restart allowed repeats the crash", AISOPOD_STATUS_PLUGIN_CRASHED,
                 {"plugin 'hello'", "SIGKILL"}, [&] { loader.invoke("hello", aisopod::Kind::Tool, "greet", "anyone"); });
    check(loader.plugin_usage("hello").pid == 0, "plugin_usage() of a crashed plugin has pid 0");
    loader.unload("hello");
    check(!loader.is_loaded("hello"), "a crashed plugin unloads");

    // Limits apply when the helper starts: with one open descriptor it cannot open the library.
    aisopod::ResourceLimits few_files;
    few_files.open_files = 1;
    loader.set_resource_limits("cpp_ext", few_files);
    expect_error("load() under open_files = 1", AISOPOD_STATUS_LIBRARY_LOAD,
                 {"aisopod_loader_load", "cpp_ext", "Too many open files"}, [&] { loader.load("cpp_ext"); });
    check(!loader.is_loaded("cpp_ext"), "the failed load leaves nothing loaded");
    loader.clear_resource_limits("cpp_ext");
    aisopod::ResourceLimits roomy;
    roomy.address_space_bytes = 4ull << 30;
    roomy.cpu_seconds = 60;
    roomy.open_files = 256;
    loader.set_resource_limits(roomy);
    loader.load("cpp_ext");
    loader.init("cpp_ext");
    check(loader.invoke("cpp_ext", aisopod::Kind::Tool, "echo", "limited") == "limited",
          "after clear_resource_limits(\"cpp_ext\"), it loads within the default limits and runs");
    const int32_t helper = loader.plugin_usage("cpp_ext").pid;
    std::string files = proc_limit(helper, "Max open files"), cpu = proc_limit(helper, "Max cpu time"),
                space = proc_limit(helper, "Max address space");
    // The CPU hard limit is a second above the soft one: SIGXCPU at the soft limit names the reason.
    check(files == "256/256" && cpu == "60/61" && space == "4294967296/4294967296",
          "its helper runs under the default limits: open files " + files + ", CPU seconds " + cpu +
              ", address space " + space);
    check(loader.plugin_extension("cpp_ext", "test.ext") == nullptr,
          "plugin_extension() of an isolated plugin is nullptr: pointers do not cross processes");
    loader.clear_resource_limits();
    loader.unload("cpp_ext");
}

/// The running kernel's Landlock ABI version, or 0 without Landlock.
long landlock_abi() {
#ifdef SYS_landlock_create_ruleset
    // A NULL attribute, size 0 and LANDLOCK_CREATE_RULESET_VERSION (1) only ask for the version.
    long abi = syscall(SYS_landlock_create_ruleset, static_cast<void *>(nullptr), size_t{0}, 1u);
    return abi > 0 ? abi : 0;
#else
    return 0;
#endif
}

/// Has cpp_boxed try `what` ("read:<path>", "write:<path>", "socket", "exec"); "ok", or strerror of the refusal.
std::string attempt(aisopod::Loader &loader, const std::string &what) {
    return loader.invoke("cpp_boxed", aisopod::Kind::Tool, "echo", what);
}

/// Loads and initializes cpp_boxed afresh: grants and the sandbox policy apply from a plugin's next load.
void reload(aisopod::Loader &loader) {
    if (loader.is_loaded("cpp_boxed")) loader.unload("cpp_boxed");
    loader.load("cpp_boxed");
    loader.init("cpp_boxed");
}

void check_sandbox(const std::string &examples, const fs::path &work, const fs::path &boxed_library) {
    // cpp_boxed declares reading two directories, the network and subprocesses. The paths are known only here,
    // so its tree and manifest are made here; TOML literal strings take the paths as they are.
    const fs::path root = work / "sandbox";
    const fs::path granted = root / "granted", secret = root / "secret", plugin = root / "plugins" / "cpp_boxed";
    fs::remove_all(root);
    for (const auto &dir : {granted, secret, plugin}) fs::create_directories(dir);
    for (const auto &dir : {granted, secret}) std::ofstream(dir / "file") << "content";
    fs::copy_file(boxed_library, plugin / "libcpp_boxed.so", fs::copy_options::overwrite_existing);
    std::ofstream(plugin / "aisopod.plugin.toml")
        << "[plugin]\nid = \"cpp_boxed\"\nname = \"C++ wrapper sandboxed plugin\"\nversion = \"1.0.0\"\n"
        << "entry_point = \"cpp_boxed\"\n\n[capabilities]\ntools = [\"echo\"]\nhooks = [\"ping\"]\n\n[permissions]\n"
        << "read = ['" << granted.string() << "', '" << secret.string() << "']\nnetwork = true\nsubprocess = true\n";
    const std::string read_granted = "read:" + (granted / "file").string();
    const std::string read_secret = "read:" + (secret / "file").string();

    aisopod::Loader loader("1.0.0");
    loader.use_env_path(false);
    loader.use_default_paths(false);
    loader.add_search_path(examples);
    loader.add_search_path((root / "plugins").string());
    check(loader.discover() == 4, "discover() finds the 3 examples and cpp_boxed");
    loader.set_call_timeout(std::chrono::seconds(20));
    loader.set_isolation("cpp_boxed", aisopod::Isolation::Process);
    loader.set_isolation("hello", aisopod::Isolation::Process);

    // What the C API refuses, whatever the kernel.
    using aisopod::Permission;
    expect_error("grant() of reading a relative path", AISOPOD_STATUS_INVALID_ARGUMENT,
                 {"aisopod_loader_grant", "'path' is relative/dir, not an absolute path"},
                 [&] { loader.grant("cpp_boxed", Permission::Read, "relative/dir"); });
    expect_error("grant() of writing without a path", AISOPOD_STATUS_INVALID_ARGUMENT,
                 {"aisopod_loader_grant", "'path' is NULL"}, [&] { loader.grant(Permission::Write); });
    expect_error("grant() of the network with a path", AISOPOD_STATUS_INVALID_ARGUMENT,
                 {"aisopod_loader_grant", "'path' is /tmp", "takes none"},
                 [&] { loader.grant(Permission::Network, "/tmp"); });
    expect_error("grant() of a value that is no Permission", AISOPOD_STATUS_INVALID_ARGUMENT,
                 {"aisopod_loader_grant", "'permission' is 9"}, [&] { loader.grant(static_cast<Permission>(9)); });
    expect_error("grant() with a NUL inside the path", AISOPOD_STATUS_INVALID_ARGUMENT,
                 {"aisopod_loader_grant: path contains a NUL byte at offset 4"},
                 [&] { loader.grant(Permission::Read, std::string_view("/tmp\0x", 6)); });
    expect_error("set_sandbox_policy() with a value that is no SandboxPolicy", AISOPOD_STATUS_INVALID_ARGUMENT,
                 {"aisopod_loader_set_sandbox_policy", "'policy' is 9"},
                 [&] { loader.set_sandbox_policy(static_cast<aisopod::SandboxPolicy>(9)); });

    loader.set_sandbox_policy(aisopod::SandboxPolicy::Require);
    const long abi = landlock_abi();
    if (abi == 0) {
        std::cout << "skipped: the sandbox's refusals: landlock_create_ruleset says this kernel has no Landlock\n";
        expect_error("load() under SandboxPolicy::Require without Landlock", AISOPOD_STATUS_SANDBOX_UNAVAILABLE,
                     {"aisopod_loader_load", "hello"}, [&] { loader.load("hello"); });
        return;
    }
    loader.load("hello");
    loader.init("hello");
    check(loader.invoke("hello", aisopod::Kind::Tool, "greet", "sandbox") == "Hello, sandbox!",
          "under SandboxPolicy::Require an isolated hello loads and runs (Landlock ABI " + std::to_string(abi) + ")");
    loader.unload("hello");

    // Declared: both directories, the network, subprocesses. Granted: one directory and subprocesses to
    // cpp_boxed, the network to every plugin.
    loader.grant("cpp_boxed", Permission::Read, granted.string());
    loader.grant("cpp_boxed", Permission::Subprocess);
    loader.grant(Permission::Network);
    reload(loader);
    check(attempt(loader, read_granted) == "ok", "cpp_boxed reads the granted " + (granted / "file").string());
    std::string answer = attempt(loader, read_secret);
    check(answer == "Permission denied", "reading the declared but not granted secret/file is refused: " + answer);
    answer = attempt(loader, "write:" + (granted / "new").string());
    check(answer == "Permission denied" && !fs::exists(granted / "new"), "a read grant is no write grant: " + answer);
    check(attempt(loader, "socket") == "ok", "the network granted to every plugin lets it open a socket");
    check(attempt(loader, "exec") == "ok", "subprocesses granted to cpp_boxed let it run /bin/sh");
    check(attempt(loader, "still here") == "still here" &&
              loader.state("cpp_boxed") == aisopod::PluginState::Initialized,
          "a refusal fails inside the plugin, which goes on");

    loader.revoke_grants();
    reload(loader);
    answer = attempt(loader, "socket");
    check(answer == "Operation not permitted",
          "revoke_grants() takes back the network granted to every plugin: " + answer);
    check(attempt(loader, read_granted) == "ok" && attempt(loader, "exec") == "ok",
          "revoke_grants() leaves cpp_boxed's own grants");
    loader.revoke_grants("cpp_boxed");
    reload(loader);
    answer = attempt(loader, read_granted) + ", " + attempt(loader, "exec");
    check(answer == "Permission denied, Operation not permitted",
          "revoke_grants(\"cpp_boxed\") takes back its reading and subprocesses: " + answer);

    loader.grant(Permission::Write, root.string());
    reload(loader);
    check(attempt(loader, read_secret) == "ok", "a granted write path covers reading what it holds");

    loader.revoke_grants();
    loader.set_sandbox_policy(aisopod::SandboxPolicy::Off);
    reload(loader);
    answer = attempt(loader, read_secret) + ", " + attempt(loader, "socket");
    check(answer == "ok, ok", "with SandboxPolicy::Off nothing is refused: " + answer);
    loader.unload("cpp_boxed");
}

}  // namespace

void check_graph(const std::string &examples, const std::string &extensions, const fs::path &work) {
    fs::path tree = work / "graph";
    fs::remove_all(tree);
    fs::create_directories(tree);
    fs::copy(fs::path(examples) / "hello", tree / "hello", fs::copy_options::recursive);
    fs::copy(fs::path(extensions) / "cpp_ext", tree / "cpp_ext", fs::copy_options::recursive);
    {
        std::ofstream manifest(tree / "cpp_ext" / "aisopod.plugin.toml", std::ios::app);
        manifest << "\n[dependencies]\nhello = \"^1\"\n";
    }
    aisopod::Loader loader("1.0.0");
    loader.use_env_path(false);
    loader.use_default_paths(false);
    loader.add_search_path(tree.string());
    expect_error("require() with a malformed requirement", AISOPOD_STATUS_INVALID_ARGUMENT,
                 {"aisopod_loader_require", "not a semver requirement"}, [&] { loader.require("hello", "one"); });
    loader.require("hello", ">=2");
    check(loader.discover() == 0, "require(\"hello\", \">=2\"): hello 1.0.0 and cpp_ext, which needs it, are set aside");
    auto diagnostics = loader.diagnostics();
    check(diagnostics.size() == 2 && diagnostics[0].status() == AISOPOD_STATUS_VERSION_REJECTED &&
              diagnostics[1].status() == AISOPOD_STATUS_VERSION_REJECTED,
          "both are VERSION_REJECTED");
    loader.require("hello", std::nullopt);
    check(loader.discover() == 2, "require(\"hello\", std::nullopt): both found again");
    auto dependencies = loader.find("cpp_ext")->dependencies();
    check(dependencies.size() == 1 && dependencies[0].id == "hello" && dependencies[0].requirement == "^1" &&
              !dependencies[0].optional,
          "PluginInfo::dependencies() lists hello ^1");

    loader.set_lazy(true);
    loader.set_config("cpp_ext", "{}");
    check(loader.invoke("cpp_ext", aisopod::Kind::Tool, "echo", "lazy") == "lazy",
          "set_lazy(true): the first invoke() loads and initializes cpp_ext");
    check(loader.state("hello") == aisopod::PluginState::Initialized, "and hello, its dependency, before it");
    expect_error("unload() of a plugin another one needs", AISOPOD_STATUS_HAS_DEPENDENTS,
                 {"aisopod_loader_unload", "'hello' is needed by", "'cpp_ext'"}, [&] { loader.unload("hello"); });
    loader.unload_cascade("hello");
    check(!loader.is_loaded("cpp_ext") && !loader.is_loaded("hello"), "unload_cascade(\"hello\") unloads both");
}

int main(int argc, char **argv) {
    if (argc != 6) {
        std::cerr << "usage: " << argv[0] << " EXAMPLE_TREE EXTENSION_TREE WORK_DIR CRASH_TREE BOXED_LIBRARY\n";
        return 2;
    }
    const std::string examples = argv[1];
    const std::string extensions = argv[2];
    const fs::path work = argv[3];
    const std::string crashing = argv[4];
    const fs::path boxed_library = argv[5];
    fs::create_directories(work);
    EventLog events;  // outlives the loader: the test plugin may report dlclose as late as the loader's end
    try {
        check_values(examples);
        aisopod::Loader loader("1.0.0");
        loader.use_env_path(false);
        loader.use_default_paths(false);
        loader.add_search_path(examples);
        loader.add_search_path(extensions);
        check_discovery(loader, work);
        check_log_callback(loader);
        check_extensions(loader, events, work);
        check_invocations(loader);
        check_metrics(loader);
        check_capabilities(loader, examples);
        check_probing(examples, crashing);
        check_isolation(examples, extensions);
        check_sandbox(examples, work, boxed_library);
        check_trust(examples, work);
        check_graph(examples, extensions, work);
    } catch (const aisopod::Error &e) {
        check(false, std::string("unexpected error [") + std::string(aisopod::status_str(e.status())) + "] " + e.what());
    } catch (const std::exception &e) {
        check(false, std::string("unexpected exception: ") + e.what());
    }
    std::cout << "wrapper checks: " << passed << " passed, " << failed << " failed\n";
    return failed == 0 ? 0 : 1;
}
