// wrapper_test: every piece of include/aisopod_loader.hpp against real plugins. The example tree holds the
// C, Rust and Zig hello plugins; the extension tree holds tests/plugins/test_plugin.c built as "cpp_ext"
// (it records its lifecycle through the host extension "test.events" and offers the plugin extension
// "test.ext") and a candidate with an invalid manifest. Prints one line per check; exit status 0 when all
// passed. XDG_CACHE_HOME must point into WORK_DIR (the default cache is written there).
//
// usage: wrapper_test EXAMPLE_TREE EXTENSION_TREE WORK_DIR
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "aisopod_loader.hpp"

namespace fs = std::filesystem;

static_assert(!std::is_copy_constructible_v<aisopod::Loader> && !std::is_copy_assignable_v<aisopod::Loader>);
static_assert(std::is_nothrow_move_constructible_v<aisopod::Loader> && std::is_nothrow_move_assignable_v<aisopod::Loader>);
static_assert(!std::is_copy_constructible_v<aisopod::PluginInfo> && std::is_nothrow_move_constructible_v<aisopod::PluginInfo>);
static_assert(!std::is_copy_constructible_v<aisopod::Diagnostic> && std::is_nothrow_move_constructible_v<aisopod::Diagnostic>);
static_assert(!std::is_copy_constructible_v<aisopod::Capability> && std::is_nothrow_move_constructible_v<aisopod::Capability>);

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
                  !hello->repository(),
              "license(), homepage() and repository() of hello");
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

void check_capabilities(aisopod::Loader &loader, const std::string &examples) {
    {
        aisopod::Capability greet = loader.resolve("hello", aisopod::Kind::Tool, "greet");
        check(greet.invoke("resolved") == "Hello, resolved!", "Capability::invoke()");
        std::string streamed;
        greet.invoke("streamed", [&](std::string_view piece) { streamed += piece; });
        check(streamed == "Hello, streamed!", "Capability::invoke() with a Writer");
        expect_error("unload() while a Capability lives", AISOPOD_STATUS_BUSY, {"hello"}, [&] { loader.unload("hello"); });

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

}  // namespace

int main(int argc, char **argv) {
    if (argc != 4) {
        std::cerr << "usage: " << argv[0] << " EXAMPLE_TREE EXTENSION_TREE WORK_DIR\n";
        return 2;
    }
    const std::string examples = argv[1];
    const std::string extensions = argv[2];
    const fs::path work = argv[3];
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
        check_capabilities(loader, examples);
    } catch (const aisopod::Error &e) {
        check(false, std::string("unexpected error [") + std::string(aisopod::status_str(e.status())) + "] " + e.what());
    } catch (const std::exception &e) {
        check(false, std::string("unexpected exception: ") + e.what());
    }
    std::cout << "wrapper checks: " << passed << " passed, " << failed << " failed\n";
    return failed == 0 ? 0 : 1;
}
