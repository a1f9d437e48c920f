// aisopod_loader.hpp: a header-only C++17 wrapper over the whole C API in aisopod_loader.h.
//
// Every host function of the C API has a counterpart here (a test fails when one has none):
//  - handles are move-only RAII objects: Loader, PluginInfo, Diagnostic, Capability;
//  - every failing call throws aisopod::Error, carrying the status and the loader's message;
//  - strings are taken as std::string_view; one holding a NUL byte is refused with
//    AISOPOD_STATUS_INVALID_ARGUMENT, since C would silently cut it short;
//  - callbacks into C++ (the log callback, output writers) never let an exception cross into C: a writer's
//    exception is rethrown once the C call has returned, a log callback's is dropped.
// The plugin side of the header (aisopod_plugin_abi_version, aisopod_plugin_create and the ABI structs) is
// for plugins and has no wrapper.
//
// Thread safety is that of the C API: a Loader may be used from several threads at once (but not destroyed
// or moved while in use); PluginInfo and Diagnostic are immutable snapshots; a Capability may be invoked
// from several threads at once.
#ifndef AISOPOD_LOADER_HPP
#define AISOPOD_LOADER_HPP

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aisopod_loader.h"

namespace aisopod {

/// A failed call: the status and the full message, which names the function and the culprit.
class Error : public std::runtime_error {
public:
    Error(aisopod_status status, const std::string &message) : std::runtime_error(message), status_(status) {}
    aisopod_status status() const noexcept { return status_; }

private:
    aisopod_status status_;
};

/// A static English description of a status, e.g. "the plugin is not loaded".
inline std::string_view status_str(aisopod_status status) noexcept { return aisopod_status_str(status); }

/// The library's run-time version; compare with AISOPOD_LOADER_VERSION_STRING, the header's.
inline std::string version() { return aisopod_loader_version(); }

/// The capability kinds, as the C constants.
enum class Kind : aisopod_capability_kind {
    Tool = AISOPOD_CAPABILITY_TOOL,
    Command = AISOPOD_CAPABILITY_COMMAND,
    Channel = AISOPOD_CAPABILITY_CHANNEL,
    Provider = AISOPOD_CAPABILITY_PROVIDER,
    Hook = AISOPOD_CAPABILITY_HOOK,
};

/// The log levels, as the C constants.
enum class LogLevel : aisopod_log_level {
    Error = AISOPOD_LOG_ERROR,
    Warn = AISOPOD_LOG_WARN,
    Info = AISOPOD_LOG_INFO,
    Debug = AISOPOD_LOG_DEBUG,
    Trace = AISOPOD_LOG_TRACE,
};

/// A plugin's state, as the C constants.
enum class PluginState : aisopod_plugin_state {
    Unloaded = AISOPOD_PLUGIN_STATE_UNLOADED,
    Loaded = AISOPOD_PLUGIN_STATE_LOADED,
    Initialized = AISOPOD_PLUGIN_STATE_INITIALIZED,
};

/// Receives log messages: `source` is "loader" or a plugin id. Both views are valid during the call only.
/// Called from any thread, possibly concurrently, including threads that plugins start.
using LogCallback = std::function<void(LogLevel level, std::string_view source, std::string_view message)>;

/// Receives a handler's output, piece by piece; the view is valid during the call only. An exception it
/// throws refuses the rest of the output and is rethrown by the call that was writing.
using Writer = std::function<void(std::string_view bytes)>;

namespace detail {
inline std::string str(const char *s) { return s != nullptr ? std::string(s) : std::string(); }

inline std::optional<std::string> optional_str(const char *s) {
    return s != nullptr ? std::optional<std::string>(s) : std::nullopt;
}

/// A NUL-terminated copy of a string argument. C would stop at an inner NUL, so one is refused instead.
class CString {
public:
    CString(std::string_view value, const char *function, const char *argument) : value_(value) {
        size_t nul = value.find('\0');
        if (nul != std::string_view::npos)
            throw Error(AISOPOD_STATUS_INVALID_ARGUMENT, std::string(function) + ": " + argument +
                                                             " contains a NUL byte at offset " + std::to_string(nul));
    }
    const char *c_str() const noexcept { return value_.c_str(); }

private:
    std::string value_;
};

/// What a Loader owns, shared with the Capability handles resolved from it so that the C loader is freed
/// only after the last of them (the C API requires that order). Log callbacks are kept until the loader is
/// freed: one being replaced may still be running on another thread.
struct LoaderCore {
    aisopod_loader *loader = nullptr;
    std::mutex callbacks_mutex;
    std::vector<std::unique_ptr<LogCallback>> callbacks;

    LoaderCore() = default;
    LoaderCore(const LoaderCore &) = delete;
    LoaderCore &operator=(const LoaderCore &) = delete;
    ~LoaderCore() { aisopod_loader_free(loader); }
};

inline const aisopod_loader *loader_of(const std::shared_ptr<LoaderCore> &core) noexcept {
    return core != nullptr ? core->loader : nullptr;
}

inline void check(aisopod_status status, const aisopod_loader *loader) {
    if (status != AISOPOD_STATUS_OK) throw Error(status, aisopod_loader_error_message(loader));
}

inline void log_trampoline(void *userdata, aisopod_log_level level, const char *source,
                           const char *message) noexcept {
    try {
        (*static_cast<const LogCallback *>(userdata))(static_cast<LogLevel>(level), source != nullptr ? source : "",
                                                      message != nullptr ? message : "");
    } catch (...) {
        // Nobody to hand it to: the callback runs on whatever thread logged, inside C code.
    }
}

/// An aisopod_sink appending to a std::string.
struct StringSink {
    std::string out;
    aisopod_sink sink{this, &StringSink::write};

    StringSink() = default;
    StringSink(const StringSink &) = delete;
    StringSink &operator=(const StringSink &) = delete;

    static int32_t write(void *context, const uint8_t *data, size_t len) noexcept {
        try {
            static_cast<StringSink *>(context)->out.append(reinterpret_cast<const char *>(data), len);
            return 0;
        } catch (...) {
            return 1;
        }
    }
};

/// An aisopod_sink calling a Writer. Keeps the writer's first exception and refuses every write after it.
struct WriterSink {
    const Writer &writer;
    std::exception_ptr error;
    aisopod_sink sink{this, &WriterSink::write};

    explicit WriterSink(const Writer &w) : writer(w) {}
    WriterSink(const WriterSink &) = delete;
    WriterSink &operator=(const WriterSink &) = delete;

    static int32_t write(void *context, const uint8_t *data, size_t len) noexcept {
        auto *self = static_cast<WriterSink *>(context);
        if (self->error) return 1;
        try {
            self->writer(std::string_view(reinterpret_cast<const char *>(data), len));
            return 0;
        } catch (...) {
            self->error = std::current_exception();
            return 1;
        }
    }

    /// After the C call: the writer's exception first, since it is why the call failed; then the status.
    void finish(aisopod_status status, const aisopod_loader *loader) const {
        if (error) std::rethrow_exception(error);
        check(status, loader);
    }
};

inline const uint8_t *bytes(std::string_view input) noexcept {
    return reinterpret_cast<const uint8_t *>(input.data());
}

struct InfoFree {
    void operator()(aisopod_plugin_info *p) const noexcept { aisopod_plugin_info_free(p); }
};
struct DiagnosticFree {
    void operator()(aisopod_diagnostic *p) const noexcept { aisopod_diagnostic_free(p); }
};
struct CapabilityFree {
    void operator()(aisopod_capability *p) const noexcept { aisopod_capability_free(p); }
};
}  // namespace detail

/// A discovered plugin: an immutable snapshot of its manifest and paths (owns an aisopod_plugin_info).
/// It stays valid after a new discovery and after its Loader is gone.
class PluginInfo {
public:
    /// Takes ownership of `info`.
    explicit PluginInfo(aisopod_plugin_info *info) noexcept : info_(info) {}

    std::string id() const { return detail::str(aisopod_plugin_info_id(get())); }
    std::string name() const { return detail::str(aisopod_plugin_info_name(get())); }
    std::string version() const { return detail::str(aisopod_plugin_info_version(get())); }
    std::string description() const { return detail::str(aisopod_plugin_info_description(get())); }
    std::string author() const { return detail::str(aisopod_plugin_info_author(get())); }
    std::string directory() const { return detail::str(aisopod_plugin_info_directory(get())); }
    std::string manifest_path() const { return detail::str(aisopod_plugin_info_manifest_path(get())); }
    std::string library_path() const { return detail::str(aisopod_plugin_info_library_path(get())); }
    /// `[compatibility].min_host_version`, or nothing when the manifest sets no lower bound.
    std::optional<std::string> min_host_version() const {
        return detail::optional_str(aisopod_plugin_info_min_host_version(get()));
    }
    /// `[compatibility].max_host_version`, or nothing when the manifest sets no upper bound.
    std::optional<std::string> max_host_version() const {
        return detail::optional_str(aisopod_plugin_info_max_host_version(get()));
    }
    /// `[plugin].license` (an SPDX expression), or nothing when the manifest has none.
    std::optional<std::string> license() const { return detail::optional_str(aisopod_plugin_info_license(get())); }
    /// `[plugin].homepage` (a URL), or nothing when the manifest has none.
    std::optional<std::string> homepage() const { return detail::optional_str(aisopod_plugin_info_homepage(get())); }
    /// `[plugin].repository` (a URL), or nothing when the manifest has none.
    std::optional<std::string> repository() const {
        return detail::optional_str(aisopod_plugin_info_repository(get()));
    }
    bool thread_safe() const noexcept { return aisopod_plugin_info_thread_safe(get()); }
    /// False when the manifest says `unload = false`: unloading then keeps the library mapped.
    bool unloadable() const noexcept { return aisopod_plugin_info_unloadable(get()); }

    /// The declared capabilities of `kind`, in manifest order.
    std::vector<std::string> capabilities(Kind kind) const {
        auto k = static_cast<aisopod_capability_kind>(kind);
        std::vector<std::string> names(aisopod_plugin_info_capability_count(get(), k));
        for (size_t i = 0; i < names.size(); i++) names[i] = detail::str(aisopod_plugin_info_capability_at(get(), k, i));
        return names;
    }

    const aisopod_plugin_info *get() const noexcept { return info_.get(); }

private:
    std::unique_ptr<aisopod_plugin_info, detail::InfoFree> info_;
};

/// A refused discovery candidate (owns an aisopod_diagnostic).
class Diagnostic {
public:
    /// Takes ownership of `diagnostic`.
    explicit Diagnostic(aisopod_diagnostic *diagnostic) noexcept : d_(diagnostic) {}
    aisopod_status status() const noexcept { return aisopod_diagnostic_status(d_.get()); }
    /// The refused candidate's manifest.
    std::string path() const { return detail::str(aisopod_diagnostic_path(d_.get())); }
    std::string message() const { return detail::str(aisopod_diagnostic_message(d_.get())); }

    const aisopod_diagnostic *get() const noexcept { return d_.get(); }

private:
    std::unique_ptr<aisopod_diagnostic, detail::DiagnosticFree> d_;
};

/// A resolved capability (owns an aisopod_capability): calls skip the id and name lookups. While it lives,
/// its plugin cannot be unloaded (AISOPOD_STATUS_BUSY), and it keeps the C loader alive even after the
/// Loader it came from is destroyed.
class Capability {
public:
    /// Calls the capability and returns everything it wrote.
    std::string invoke(std::string_view input = {}) const {
        detail::StringSink sink;
        detail::check(aisopod_capability_invoke(get(), detail::bytes(input), input.size(), &sink.sink), loader());
        return std::move(sink.out);
    }

    /// Calls the capability, handing its output to `writer` as it comes.
    void invoke(std::string_view input, const Writer &writer) const {
        detail::WriterSink sink(writer);
        sink.finish(aisopod_capability_invoke(get(), detail::bytes(input), input.size(), &sink.sink), loader());
    }

    const aisopod_capability *get() const noexcept { return capability_.get(); }

private:
    friend class Loader;
    Capability(std::shared_ptr<detail::LoaderCore> core, aisopod_capability *capability) noexcept
        : core_(std::move(core)), capability_(capability) {}
    const aisopod_loader *loader() const noexcept { return detail::loader_of(core_); }

    // Declared first, destroyed last: the capability is freed before the loader it keeps alive.
    std::shared_ptr<detail::LoaderCore> core_;
    std::unique_ptr<aisopod_capability, detail::CapabilityFree> capability_;
};

/// A plugin loader (owns an aisopod_loader). Destroying it unloads every plugin still loaded, once no
/// Capability resolved from it remains. A moved-from Loader holds nothing; its calls fail with
/// AISOPOD_STATUS_NULL_ARGUMENT.
class Loader {
public:
    /// A loader for a host whose version is `host_version` (semver).
    explicit Loader(std::string_view host_version) : core_(std::make_shared<detail::LoaderCore>()) {
        detail::CString version(host_version, "aisopod_loader_new", "host_version");
        aisopod_loader *raw = nullptr;
        detail::check(aisopod_loader_new(version.c_str(), &raw), nullptr);
        core_->loader = raw;
    }
    Loader(Loader &&) noexcept = default;
    Loader &operator=(Loader &&) noexcept = default;
    Loader(const Loader &) = delete;
    Loader &operator=(const Loader &) = delete;
    ~Loader() = default;

    void add_search_path(std::string_view path) {
        check(aisopod_loader_add_search_path(get(), arg(path, "aisopod_loader_add_search_path", "path").c_str()));
    }
    void use_env_path(bool enabled) { check(aisopod_loader_use_env_path(get(), enabled)); }
    void use_default_paths(bool enabled) { check(aisopod_loader_use_default_paths(get(), enabled)); }

    /// Routes the loader's and its plugins' log messages to `callback`; an empty callback removes it. An
    /// exception the callback throws is dropped. Every callback set is kept until the loader is freed, since
    /// one being replaced may still be running on another thread: set one per loader, not one per call.
    void set_log_callback(LogCallback callback) {
        if (!callback) {
            check(aisopod_loader_set_log_callback(get(), nullptr, nullptr));
            return;
        }
        if (core_ == nullptr) check(aisopod_loader_set_log_callback(nullptr, nullptr, nullptr));
        auto owned = std::make_unique<LogCallback>(std::move(callback));
        LogCallback *userdata = owned.get();
        {
            std::lock_guard<std::mutex> lock(core_->callbacks_mutex);
            core_->callbacks.push_back(std::move(owned));
        }
        check(aisopod_loader_set_log_callback(get(), &detail::log_trampoline, userdata));
    }

    /// Registers a host extension that plugins fetch with `get_extension(host, id)`. The caller keeps
    /// `extension` valid while plugins may use it.
    void set_host_extension(std::string_view id, const void *extension) {
        check(aisopod_loader_set_host_extension(get(), arg(id, "aisopod_loader_set_host_extension", "id").c_str(),
                                                extension));
    }
    void remove_host_extension(std::string_view id) { set_host_extension(id, nullptr); }

    /// Turns the registry cache on, kept in the file `path`.
    void set_cache_path(std::string_view path) {
        check(aisopod_loader_set_cache_path(get(), arg(path, "aisopod_loader_set_cache_path", "path").c_str()));
    }
    /// Turns the registry cache on in its default file (AISOPOD_STATUS_NOT_FOUND without a home directory).
    void use_default_cache() { check(aisopod_loader_use_default_cache(get())); }
    /// Turns the registry cache off (the default).
    void disable_cache() { check(aisopod_loader_set_cache_path(get(), nullptr)); }

    /// Scans the search paths; returns how many plugins it found.
    size_t discover() {
        size_t count = 0;
        check(aisopod_loader_discover(get(), &count));
        return count;
    }

    std::vector<PluginInfo> plugins() const {
        return list<PluginInfo>(aisopod_loader_plugin_count, aisopod_loader_plugin_at);
    }

    /// The discovered plugin `id`, or nothing when the latest discovery has none.
    std::optional<PluginInfo> find(std::string_view id) const {
        aisopod_plugin_info *info = nullptr;
        aisopod_status status =
            aisopod_loader_find_plugin(get(), arg(id, "aisopod_loader_find_plugin", "id").c_str(), &info);
        if (status == AISOPOD_STATUS_NOT_FOUND) return std::nullopt;
        check(status);
        return PluginInfo(info);
    }

    std::vector<Diagnostic> diagnostics() const {
        return list<Diagnostic>(aisopod_loader_diagnostic_count, aisopod_loader_diagnostic_at);
    }

    void load(std::string_view id) { check(aisopod_loader_load(get(), arg(id, "aisopod_loader_load", "id").c_str())); }

    void init(std::string_view id, std::string_view config = {}, std::string_view data_dir = {}) {
        const char *function = "aisopod_loader_init";
        check(aisopod_loader_init(get(), arg(id, function, "id").c_str(), arg(config, function, "config").c_str(),
                                  arg(data_dir, function, "data_dir").c_str()));
    }

    /// Invokes a capability and returns everything it wrote.
    std::string invoke(std::string_view id, Kind kind, std::string_view name, std::string_view input = {}) {
        detail::StringSink sink;
        check(invoke_raw(id, kind, name, input, &sink.sink));
        return std::move(sink.out);
    }

    /// Invokes a capability, handing its output to `writer` as it comes.
    void invoke(std::string_view id, Kind kind, std::string_view name, std::string_view input, const Writer &writer) {
        detail::WriterSink sink(writer);
        sink.finish(invoke_raw(id, kind, name, input, &sink.sink), get());
    }

    /// Emits a hook event; returns how many handlers ran, and appends their output to `*output` if given.
    size_t emit(std::string_view event, std::string_view input = {}, std::string *output = nullptr) {
        detail::StringSink sink;
        size_t handled = 0;
        check(emit_raw(event, input, &sink.sink, &handled));
        if (output != nullptr) output->append(sink.out);
        return handled;
    }

    /// Emits a hook event, handing every handler's output to `writer`; returns how many handlers ran.
    size_t emit(std::string_view event, std::string_view input, const Writer &writer) {
        detail::WriterSink sink(writer);
        size_t handled = 0;
        sink.finish(emit_raw(event, input, &sink.sink, &handled), get());
        return handled;
    }

    /// Resolves a capability of an initialised plugin into a handle that calls it without lookups.
    Capability resolve(std::string_view id, Kind kind, std::string_view name) {
        const char *function = "aisopod_loader_resolve";
        aisopod_capability *raw = nullptr;
        check(aisopod_loader_resolve(get(), arg(id, function, "id").c_str(), static_cast<aisopod_capability_kind>(kind),
                                     arg(name, function, "name").c_str(), &raw));
        return Capability(core_, raw);
    }

    /// Loaded plugin `id`'s optional interface `extension_id`, or nullptr when it has none. Owned by the
    /// plugin and valid until the plugin is unloaded.
    const void *plugin_extension(std::string_view id, std::string_view extension_id) const {
        const char *function = "aisopod_loader_plugin_extension";
        const void *extension = nullptr;
        check(aisopod_loader_plugin_extension(get(), arg(id, function, "id").c_str(),
                                              arg(extension_id, function, "extension_id").c_str(), &extension));
        return extension;
    }

    /// As plugin_extension, cast to the interface type the extension id stands for.
    template <typename Interface>
    const Interface *plugin_extension_as(std::string_view id, std::string_view extension_id) const {
        return static_cast<const Interface *>(plugin_extension(id, extension_id));
    }

    PluginState state(std::string_view id) const {
        aisopod_plugin_state state = AISOPOD_PLUGIN_STATE_UNLOADED;
        check(aisopod_loader_plugin_state(get(), arg(id, "aisopod_loader_plugin_state", "id").c_str(), &state));
        return static_cast<PluginState>(state);
    }

    bool is_loaded(std::string_view id) const { return state(id) != PluginState::Unloaded; }

    void unload(std::string_view id) {
        check(aisopod_loader_unload(get(), arg(id, "aisopod_loader_unload", "id").c_str()));
    }

    /// The message of this thread's most recent failed call with this loader, "" when there was none.
    std::string last_error() const { return aisopod_loader_error_message(get()); }

    aisopod_loader *get() const noexcept { return core_ != nullptr ? core_->loader : nullptr; }

private:
    static detail::CString arg(std::string_view value, const char *function, const char *argument) {
        return detail::CString(value, function, argument);
    }

    void check(aisopod_status status) const { detail::check(status, get()); }

    aisopod_status invoke_raw(std::string_view id, Kind kind, std::string_view name, std::string_view input,
                              const aisopod_sink *sink) {
        const char *function = "aisopod_loader_invoke";
        return aisopod_loader_invoke(get(), arg(id, function, "id").c_str(), static_cast<aisopod_capability_kind>(kind),
                                     arg(name, function, "name").c_str(), detail::bytes(input), input.size(), sink);
    }

    aisopod_status emit_raw(std::string_view event, std::string_view input, const aisopod_sink *sink,
                            size_t *handled) {
        return aisopod_loader_emit(get(), arg(event, "aisopod_loader_emit", "event").c_str(), detail::bytes(input),
                                   input.size(), sink, handled);
    }

    /// Every element of a count/at pair of the C API, each wrapped in `Wrapper`.
    template <typename Wrapper, typename Raw>
    std::vector<Wrapper> list(aisopod_status (*count_fn)(const aisopod_loader *, size_t *),
                              aisopod_status (*at_fn)(const aisopod_loader *, size_t, Raw **)) const {
        size_t count = 0;
        check(count_fn(get(), &count));
        std::vector<Wrapper> out;
        out.reserve(count);
        for (size_t i = 0; i < count; i++) {
            Raw *raw = nullptr;
            aisopod_status status = at_fn(get(), i, &raw);
            if (status == AISOPOD_STATUS_OUT_OF_RANGE) break;  // a concurrent discovery shrank the list
            check(status);
            out.emplace_back(raw);
        }
        return out;
    }

    std::shared_ptr<detail::LoaderCore> core_;
};

}  // namespace aisopod

#endif  // AISOPOD_LOADER_HPP
