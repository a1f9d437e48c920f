// aisopod_loader.hpp: a header-only C++17 wrapper over the whole C API in aisopod_loader.h.
//
// Every host function of the C API has a counterpart here (a test fails when one has none):
//  - handles are move-only RAII objects: Loader, PluginInfo, Diagnostic, Capability, QuarantineEntry;
//  - probe verdicts are copied out of their C handle into plain ProbeVerdict values, and resource limits and
//    usage are the plain ResourceLimits and PluginUsage values, and metrics the plain PluginMetrics and
//    CapabilityMetrics values;
//  - the C API's enumerations are enum classes: Kind, LogLevel, PluginState, Isolation, Permission and
//    SandboxPolicy;
//  - every failing call throws aisopod::Error, carrying the status and the loader's message;
//  - strings are taken as std::string_view; one holding a NUL byte is refused with
//    AISOPOD_STATUS_INVALID_ARGUMENT, since C would silently cut it short;
//  - callbacks into C++ (the log callback, output writers) never let an exception cross into C: a writer's
//    exception is rethrown once the C call has returned, a log callback's is dropped.
// The plugin side of the header (aisopod_plugin_abi_version, aisopod_plugin_create and the ABI structs) is
// for plugins and has no wrapper.
//
// Thread safety is that of the C API: a Loader may be used from several threads at once (but not destroyed
// or moved while in use); PluginInfo, Diagnostic and QuarantineEntry are immutable snapshots; a Capability
// may be invoked from several threads at once.
#ifndef AISOPOD_LOADER_HPP
#define AISOPOD_LOADER_HPP

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
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

/// Every capability kind, in the order of the C constants.
inline constexpr std::array<Kind, 5> all_kinds{Kind::Tool, Kind::Command, Kind::Channel, Kind::Provider, Kind::Hook};

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
    /// An isolated plugin whose helper process crashed, exited or missed a deadline. Calls fail until it is
    /// started again (see Loader::set_restart_policy) or unloaded.
    Crashed = AISOPOD_PLUGIN_STATE_CRASHED,
};

/// Where a plugin's code runs, as the C constants.
enum class Isolation : aisopod_isolation {
    /// In the host's process (the default).
    None = AISOPOD_ISOLATION_NONE,
    /// In a helper process of its own: a crash, exit() or hang in its code ends only that process.
    Process = AISOPOD_ISOLATION_PROCESS,
};

/// A kind of permission a host grants isolated plugins, as the C constants. A sandboxed plugin gets what its
/// manifest's `[permissions]` table declares, within what it was granted.
enum class Permission : aisopod_permission {
    /// Reading a path and everything below it.
    Read = AISOPOD_PERMISSION_READ,
    /// Reading, writing, creating and removing in a path and everything below it.
    Write = AISOPOD_PERMISSION_WRITE,
    /// Opening sockets and connecting them.
    Network = AISOPOD_PERMISSION_NETWORK,
    /// Starting programs and processes.
    Subprocess = AISOPOD_PERMISSION_SUBPROCESS,
};

/// Whether isolated plugins run sandboxed, as the C constants.
enum class SandboxPolicy : aisopod_sandbox_policy {
    /// No sandbox: an isolated plugin can do whatever the host's user can.
    Off = AISOPOD_SANDBOX_OFF,
    /// Sandboxed where the kernel can (Linux with Landlock); elsewhere loaded anyway, with a warning in the
    /// log. The default.
    BestEffort = AISOPOD_SANDBOX_BEST_EFFORT,
    /// Sandboxed, or not loaded: AISOPOD_STATUS_SANDBOX_UNAVAILABLE where the kernel cannot.
    Require = AISOPOD_SANDBOX_REQUIRE,
};

/// What discovery and loading do with a plugin file someone else could have written, as the C constants.
enum class FilePolicy : aisopod_file_policy {
    /// Not checked.
    Off = AISOPOD_FILE_POLICY_OFF,
    /// Accepted, with a warning in the log.
    Warn = AISOPOD_FILE_POLICY_WARN,
    /// Refused with AISOPOD_STATUS_UNSAFE_PERMISSIONS (the default).
    Strict = AISOPOD_FILE_POLICY_STRICT,
};

/// What loading does with a plugin that is unsigned or signed by a key the host does not trust, as the C
/// constants. A trusted key's signature that does not verify is refused under both.
enum class SignaturePolicy : aisopod_signature_policy {
    /// Unsigned plugins load; one signed by an unknown key loads with a warning in the log (the default).
    AllowUnsigned = AISOPOD_SIGNATURES_ALLOW_UNSIGNED,
    /// Only plugins signed by a trusted key load: AISOPOD_STATUS_UNSIGNED or AISOPOD_STATUS_UNKNOWN_KEY otherwise.
    Required = AISOPOD_SIGNATURES_REQUIRED,
};

/// Resource limits of an isolated plugin's helper process, set when it starts; 0 is no limit.
struct ResourceLimits {
    /// RLIMIT_AS: the address space, in bytes. Past it, allocations fail.
    uint64_t address_space_bytes = 0;
    /// RLIMIT_CPU: CPU time, in seconds. Past it, the helper gets SIGXCPU, which ends it: a crash (the hard
    /// limit is a second more).
    uint64_t cpu_seconds = 0;
    /// RLIMIT_NOFILE: open descriptors. Past it, opening files fails.
    uint64_t open_files = 0;
};

/// What an isolated plugin's helper processes have used since it was loaded, restarts included.
struct PluginUsage {
    std::chrono::microseconds cpu_user{};
    std::chrono::microseconds cpu_system{};
    /// The largest resident set any of its helper processes reached, in bytes.
    uint64_t peak_rss_bytes = 0;
    /// Calls made into it: init, handler calls and hooks that ran.
    uint64_t calls = 0;
    /// How many times it was started again after a crash.
    uint32_t restarts = 0;
    /// The process id of its helper, or 0 while none runs (it crashed).
    int32_t pid = 0;
};

/// What a loaded plugin has cost since it was loaded (or reloaded), while metrics were on.
struct PluginMetrics {
    /// How long its last load took, and its last init.
    std::chrono::nanoseconds load{};
    std::chrono::nanoseconds init{};
    /// Calls into its capabilities, hooks included, and those that failed.
    uint64_t calls = 0;
    uint64_t failures = 0;
    /// Wall-clock time spent in those calls.
    std::chrono::nanoseconds total{};
    /// In this process, the calling threads' CPU time inside its calls; isolated, its helper processes' CPU time.
    std::chrono::nanoseconds cpu{};
};

/// What one capability of a loaded plugin has cost since the plugin was loaded (or reloaded), while metrics
/// were on. The percentiles are within 1/16 of the true value.
struct CapabilityMetrics {
    uint64_t count = 0;
    uint64_t failures = 0;
    std::chrono::nanoseconds total{};
    std::chrono::nanoseconds p50{};
    std::chrono::nanoseconds p99{};
    /// The calling threads' CPU time inside the calls; zero for an isolated plugin.
    std::chrono::nanoseconds cpu{};
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
struct ProbeResultsFree {
    void operator()(aisopod_probe_results *p) const noexcept { aisopod_probe_results_free(p); }
};
struct QuarantineEntryFree {
    void operator()(aisopod_quarantine_entry *p) const noexcept { aisopod_quarantine_entry_free(p); }
};

/// A duration as the C API takes it, in the argument `argument`: whole milliseconds, 0 to UINT32_MAX.
inline uint32_t milliseconds(std::chrono::milliseconds duration, const char *function, const char *argument) {
    if (duration.count() < 0 || duration.count() > static_cast<std::chrono::milliseconds::rep>(UINT32_MAX))
        throw Error(AISOPOD_STATUS_INVALID_ARGUMENT, std::string(function) + ": " + argument + " " +
                                                         std::to_string(duration.count()) +
                                                         " is outside 0 to 4294967295");
    return static_cast<uint32_t>(duration.count());
}

/// A deadline as the C API takes it.
inline uint32_t timeout_ms(std::chrono::milliseconds timeout, const char *function) {
    return milliseconds(timeout, function, "timeout_ms");
}

inline aisopod_resource_limits c_limits(const ResourceLimits &limits) noexcept {
    return {limits.address_space_bytes, limits.cpu_seconds, limits.open_files};
}
}  // namespace detail

/// One entry of a manifest's `[dependencies]`: the plugin's id, the semver requirement on it as the loader reads
/// it ("1.2" is "^1.2"), and whether the plugin loads without it.
struct Dependency {
    std::string id;
    std::string requirement;
    bool optional;
};

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
    /// `[plugin].sha256`, the library's integrity pin (64 lower-case hex digits), or nothing when the manifest
    /// pins none.
    std::optional<std::string> sha256() const { return detail::optional_str(aisopod_plugin_info_sha256(get())); }
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

    /// The plugins the manifest's `[dependencies]` names, in manifest order.
    std::vector<Dependency> dependencies() const {
        std::vector<Dependency> dependencies(aisopod_plugin_info_dependency_count(get()));
        for (size_t i = 0; i < dependencies.size(); i++) {
            dependencies[i] = {detail::str(aisopod_plugin_info_dependency_id(get(), i)),
                               detail::str(aisopod_plugin_info_dependency_requirement(get(), i)),
                               aisopod_plugin_info_dependency_optional(get(), i)};
        }
        return dependencies;
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

/// One step of a probe and how long it ran; for the step a crash or a deadline ended, until then.
struct ProbeStep {
    std::string name;
    std::chrono::nanoseconds duration{};
};

/// The verdict on one probed plugin, copied out of the C API's aisopod_probe_results.
struct ProbeVerdict {
    std::string plugin_id;
    /// AISOPOD_STATUS_OK when every step passed; else the failure, such as AISOPOD_STATUS_PLUGIN_CRASHED or
    /// AISOPOD_STATUS_TIMEOUT.
    aisopod_status status = AISOPOD_STATUS_OK;
    /// The failure's message, naming the plugin and the step; "" when the plugin passed.
    std::string message;
    /// The step it failed in ("dlopen", "init", ...), or nothing when it passed.
    std::optional<std::string> failed_step;
    /// The steps that ran, in order, the failed one included.
    std::vector<ProbeStep> steps;
    /// The capabilities it registered, by kind, each in byte order; every kind is present.
    std::map<Kind, std::vector<std::string>> capabilities;
    /// The signal that killed its helper process, 0 when none.
    int32_t signal = 0;
    /// Its helper process's exit code, -1 when it did not exit.
    int32_t exit_code = -1;
    /// The last 4 KiB its helper process wrote to stderr when the plugin ended it; "" otherwise.
    std::string stderr_tail;

    bool passed() const noexcept { return status == AISOPOD_STATUS_OK; }
};

/// A quarantined library (owns an aisopod_quarantine_entry): its plugin, the probe's failure and when. It
/// stays valid after the quarantine changes and after its Loader is gone.
class QuarantineEntry {
public:
    /// Takes ownership of `entry`.
    explicit QuarantineEntry(aisopod_quarantine_entry *entry) noexcept : e_(entry) {}

    /// The plugin's id, as its manifest gave it when it was probed.
    std::string plugin_id() const { return detail::str(aisopod_quarantine_entry_plugin_id(get())); }
    std::string library_path() const { return detail::str(aisopod_quarantine_entry_library_path(get())); }
    /// The probe's failure: PLUGIN_CRASHED, TIMEOUT, ABI_MISMATCH or MISSING_SYMBOL.
    aisopod_status status() const noexcept { return aisopod_quarantine_entry_status(get()); }
    /// The probe's failure message, naming the plugin and the step.
    std::string reason() const { return detail::str(aisopod_quarantine_entry_reason(get())); }
    /// When the library was quarantined, to the second.
    std::chrono::system_clock::time_point since() const {
        int64_t seconds = 0;
        detail::check(aisopod_quarantine_entry_since(get(), &seconds), nullptr);
        return std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
    }

    const aisopod_quarantine_entry *get() const noexcept { return e_.get(); }

private:
    std::unique_ptr<aisopod_quarantine_entry, detail::QuarantineEntryFree> e_;
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

    /// What discovery and loading do with a plugin directory, manifest or library that is writable by its group
    /// or others, or owned by a user other than root and this process's: FilePolicy::Strict (the default)
    /// refuses it with AISOPOD_STATUS_UNSAFE_PERMISSIONS, Warn logs a warning, Off does not look.
    void set_file_policy(FilePolicy policy) {
        check(aisopod_loader_set_file_policy(get(), static_cast<aisopod_file_policy>(policy)));
    }
    /// Adds `id` to the allow list: once it holds an id, every plugin not on it is kept out
    /// (AISOPOD_STATUS_DENIED, at discovery as a diagnostic and at load and probe).
    void allow(std::string_view id) {
        check(aisopod_loader_allow(get(), arg(id, "aisopod_loader_allow", "id").c_str()));
    }
    /// Adds `id` to the deny list, which wins over the allow list.
    void deny(std::string_view id) { check(aisopod_loader_deny(get(), arg(id, "aisopod_loader_deny", "id").c_str())); }
    /// Empties the allow and deny lists: every plugin is let in again.
    void clear_lists() { check(aisopod_loader_clear_lists(get())); }

    /// What loading and probing do with a plugin without aisopod.plugin.sig, or signed by a key not passed to
    /// trust_key(): SignaturePolicy::AllowUnsigned (the default) loads it, Required refuses it
    /// (AISOPOD_STATUS_UNSIGNED, AISOPOD_STATUS_UNKNOWN_KEY).
    void set_signature_policy(SignaturePolicy policy) {
        check(aisopod_loader_set_signature_policy(get(), static_cast<aisopod_signature_policy>(policy)));
    }
    /// Trusts the Ed25519 public key of `len` bytes at `public_key` (32, or AISOPOD_STATUS_INVALID_ARGUMENT) to
    /// sign plugins. The loader keeps its own copy.
    void trust_key(const uint8_t *public_key, std::size_t len) {
        check(aisopod_loader_trust_key(get(), public_key, len));
    }
    /// Trusts the 32-byte Ed25519 public key `public_key` to sign plugins.
    void trust_key(const std::array<uint8_t, 32> &public_key) { trust_key(public_key.data(), public_key.size()); }

    /// Names the helper executable, aisopod-plugin-host, that probes and isolated plugins run in; that path
    /// alone is then tried.
    void set_helper_path(std::string_view path) {
        check(aisopod_loader_set_helper_path(get(), arg(path, "aisopod_loader_set_helper_path", "path").c_str()));
    }
    /// Goes back to looking for the helper: AISOPOD_HELPER, next to the library, then the cargo build tree.
    void clear_helper_path() { check(aisopod_loader_set_helper_path(get(), nullptr)); }

    /// How long one probe of a plugin without its own deadline, or one call into it when it runs isolated, may
    /// run (default 10 s); 0 restores the default. Past it, the helper is killed and the verdict, or the call,
    /// is AISOPOD_STATUS_TIMEOUT.
    void set_call_timeout(std::chrono::milliseconds timeout) {
        const char *function = "aisopod_loader_set_call_timeout";
        check(aisopod_loader_set_call_timeout(get(), nullptr, detail::timeout_ms(timeout, function)));
    }
    /// Plugin `id`'s own deadline; 0 removes it.
    void set_call_timeout(std::string_view id, std::chrono::milliseconds timeout) {
        const char *function = "aisopod_loader_set_call_timeout";
        check(aisopod_loader_set_call_timeout(get(), arg(id, function, "id").c_str(),
                                              detail::timeout_ms(timeout, function)));
    }

    /// Where every plugin without its own setting runs, from its next load. A manifest's
    /// `isolation = "process"` applies to a plugin given no setting of its own, whatever this default.
    /// An isolated plugin is loaded, initialized and called through the same calls; a crash, exit() or
    /// missed deadline in its code fails the call with AISOPOD_STATUS_PLUGIN_CRASHED or
    /// AISOPOD_STATUS_TIMEOUT and leaves it PluginState::Crashed, and this process goes on.
    /// plugin_extension() gives nullptr for it: pointers do not cross processes.
    void set_isolation(Isolation isolation) {
        check(aisopod_loader_set_isolation(get(), nullptr, static_cast<aisopod_isolation>(isolation)));
    }
    /// Where plugin `id` runs from its next load, whatever the default and its manifest say.
    void set_isolation(std::string_view id, Isolation isolation) {
        check(aisopod_loader_set_isolation(get(), arg(id, "aisopod_loader_set_isolation", "id").c_str(),
                                           static_cast<aisopod_isolation>(isolation)));
    }

    /// How an isolated plugin without its own policy is started again after a crash: the next call after at
    /// least `backoff`, doubled after each restart, starts a new helper, loads the plugin and calls init with
    /// the config it last succeeded with; at most `max_restarts` times over one load. The call that finds it
    /// crashed fails with the crash's status. The default is no restart (`max_restarts` 0).
    void set_restart_policy(uint32_t max_restarts, std::chrono::milliseconds backoff) {
        const char *function = "aisopod_loader_set_restart_policy";
        check(aisopod_loader_set_restart_policy(get(), nullptr, max_restarts,
                                                detail::milliseconds(backoff, function, "backoff_ms")));
    }
    /// Isolated plugin `id`'s own restart policy.
    void set_restart_policy(std::string_view id, uint32_t max_restarts, std::chrono::milliseconds backoff) {
        const char *function = "aisopod_loader_set_restart_policy";
        check(aisopod_loader_set_restart_policy(get(), arg(id, function, "id").c_str(), max_restarts,
                                                detail::milliseconds(backoff, function, "backoff_ms")));
    }

    /// The resource limits of every isolated plugin's helper process without limits of its own, applied
    /// when it starts: at load and at each restart.
    void set_resource_limits(const ResourceLimits &limits) {
        aisopod_resource_limits c = detail::c_limits(limits);
        check(aisopod_loader_set_resource_limits(get(), nullptr, &c));
    }
    /// Isolated plugin `id`'s own resource limits.
    void set_resource_limits(std::string_view id, const ResourceLimits &limits) {
        aisopod_resource_limits c = detail::c_limits(limits);
        check(aisopod_loader_set_resource_limits(get(), arg(id, "aisopod_loader_set_resource_limits", "id").c_str(),
                                                 &c));
    }
    /// Restores the default limits: none.
    void clear_resource_limits() { check(aisopod_loader_set_resource_limits(get(), nullptr, nullptr)); }
    /// Removes plugin `id`'s own limits; the default applies to it again.
    void clear_resource_limits(std::string_view id) {
        check(aisopod_loader_set_resource_limits(get(), arg(id, "aisopod_loader_set_resource_limits", "id").c_str(),
                                                 nullptr));
    }

    /// Whether isolated plugins run sandboxed, from their next load (default SandboxPolicy::BestEffort). The
    /// sandbox lets a plugin read its own directory and the system's libraries, and what it declares and is
    /// granted (grant()); it refuses everything else inside the plugin with EACCES or EPERM: other files,
    /// sockets, new programs and processes, and signals to processes outside it.
    void set_sandbox_policy(SandboxPolicy policy) {
        check(aisopod_loader_set_sandbox_policy(get(), static_cast<aisopod_sandbox_policy>(policy)));
    }

    /// Grants every plugin `permission` from its next load: Permission::Read and Permission::Write on the
    /// absolute `path` and everything below it (a granted write path covers reading); Network and Subprocess
    /// take no path. A sandboxed plugin gets what its manifest declares within what it was granted: a
    /// declared path inside a granted one, the network or subprocesses when both declare and grant them.
    /// Grants do nothing for plugins in this process or with the sandbox off. Throws
    /// AISOPOD_STATUS_INVALID_ARGUMENT for a relative path, or a path missing or given where it does not fit.
    void grant(Permission permission, std::optional<std::string_view> path = std::nullopt) {
        grant_raw(nullptr, permission, path);
    }
    /// Grants plugin `id` `permission`, besides what every plugin is granted.
    void grant(std::string_view id, Permission permission, std::optional<std::string_view> path = std::nullopt) {
        grant_raw(arg(id, "aisopod_loader_grant", "id").c_str(), permission, path);
    }
    /// Takes back the grants made to every plugin (plugins' own grants stay), from each plugin's next load.
    void revoke_grants() { check(aisopod_loader_revoke_grants(get(), nullptr)); }
    /// Takes back every grant made to plugin `id` alone, from its next load.
    void revoke_grants(std::string_view id) {
        check(aisopod_loader_revoke_grants(get(), arg(id, "aisopod_loader_revoke_grants", "id").c_str()));
    }

    /// What loaded isolated plugin `id` has used. Throws AISOPOD_STATUS_NOT_LOADED when it is not loaded,
    /// and AISOPOD_STATUS_INVALID_ARGUMENT when it runs in this process, where its use cannot be told apart.
    PluginUsage plugin_usage(std::string_view id) const {
        aisopod_plugin_usage c{};
        check(aisopod_loader_plugin_usage(get(), arg(id, "aisopod_loader_plugin_usage", "id").c_str(), &c));
        PluginUsage usage;
        usage.cpu_user = std::chrono::microseconds(static_cast<std::chrono::microseconds::rep>(c.cpu_user_us));
        usage.cpu_system = std::chrono::microseconds(static_cast<std::chrono::microseconds::rep>(c.cpu_system_us));
        usage.peak_rss_bytes = c.peak_rss_bytes;
        usage.calls = c.calls;
        usage.restarts = c.restarts;
        usage.pid = c.pid;
        return usage;
    }

    /// Turns per-plugin metrics on or off (off by default: measuring reads two clocks around every call), for
    /// every plugin loaded now or later. A reload or an unload resets a plugin's metrics.
    void set_metrics(bool enabled) { check(aisopod_loader_set_metrics(get(), enabled)); }

    /// What loaded plugin `id` has cost. Throws AISOPOD_STATUS_INVALID_ARGUMENT while metrics are off, and
    /// AISOPOD_STATUS_NOT_LOADED when it is not loaded.
    PluginMetrics plugin_metrics(std::string_view id) const {
        aisopod_plugin_metrics c{};
        c.struct_size = sizeof c;
        check(aisopod_loader_plugin_metrics(get(), arg(id, "aisopod_loader_plugin_metrics", "id").c_str(), &c));
        PluginMetrics metrics;
        metrics.load = ns(c.load_ns);
        metrics.init = ns(c.init_ns);
        metrics.calls = c.calls;
        metrics.failures = c.failures;
        metrics.total = ns(c.total_ns);
        metrics.cpu = ns(c.cpu_ns);
        return metrics;
    }

    /// What capability `name` of `kind` of loaded plugin `id` has cost. Throws as plugin_metrics(), and
    /// AISOPOD_STATUS_CAPABILITY_NOT_FOUND when the plugin registered no such capability.
    CapabilityMetrics capability_metrics(std::string_view id, Kind kind, std::string_view name) const {
        const char *function = "aisopod_loader_capability_metrics";
        aisopod_capability_metrics c{};
        c.struct_size = sizeof c;
        check(aisopod_loader_capability_metrics(get(), arg(id, function, "id").c_str(),
                                                static_cast<aisopod_capability_kind>(kind),
                                                arg(name, function, "name").c_str(), &c));
        CapabilityMetrics metrics;
        metrics.count = c.count;
        metrics.failures = c.failures;
        metrics.total = ns(c.total_ns);
        metrics.p50 = ns(c.p50_ns);
        metrics.p99 = ns(c.p99_ns);
        metrics.cpu = ns(c.cpu_ns);
        return metrics;
    }

    /// The load report, a JSON document in schema "aisopod-loader-report/1"
    /// (schema/aisopod-loader-report-1.schema.json): settings, loaded and discovered plugins, diagnostics by
    /// status name, quarantine. Parse it with the JSON library of your choice.
    std::string report_json() const {
        char *raw = nullptr;
        check(aisopod_loader_report_json(get(), &raw));
        std::unique_ptr<char, void (*)(char *)> owned(raw, aisopod_loader_report_free);
        return std::string(owned.get());
    }

    /// Whether discover() probes new and changed plugins in a helper process and sets aside the ones that
    /// get quarantined (off by default).
    void set_probe_on_discover(bool enabled) { check(aisopod_loader_set_probe_on_discover(get(), enabled)); }

    /// Probes the discovered plugins `ids`, in order, each in a helper process: load, ABI gate, create,
    /// registration, `init` with `init_config` when given, then shutdown and unload. No plugin code runs in
    /// this process. A plugin that crashes, exits, hangs or fails the ABI gate is quarantined. Throws when an
    /// id was not discovered or the helper cannot be used; otherwise one verdict per id, whatever they say.
    std::vector<ProbeVerdict> probe(const std::vector<std::string> &ids,
                                    std::optional<std::string_view> init_config = std::nullopt) {
        const char *function = "aisopod_loader_probe";
        std::vector<detail::CString> owned;
        owned.reserve(ids.size());
        std::vector<const char *> pointers;
        pointers.reserve(ids.size());
        for (const auto &id : ids) {
            owned.push_back(arg(id, function, "ids"));
            pointers.push_back(owned.back().c_str());
        }
        return probe_raw(pointers.data(), pointers.size(), init_config);
    }
    /// As probe(ids, init_config), for every plugin the latest discovery accepted.
    std::vector<ProbeVerdict> probe_all(std::optional<std::string_view> init_config = std::nullopt) {
        return probe_raw(nullptr, 0, init_config);
    }

    /// The quarantined libraries, oldest first.
    std::vector<QuarantineEntry> quarantine() const {
        return list<QuarantineEntry>(aisopod_loader_quarantine_count, aisopod_loader_quarantine_at);
    }
    /// Lifts every quarantine, here and in the registry cache; returns how many entries were lifted.
    size_t clear_quarantine() {
        size_t cleared = 0;
        check(aisopod_loader_quarantine_clear(get(), nullptr, &cleared));
        return cleared;
    }
    /// Lifts plugin `id`'s quarantine; returns how many entries were lifted.
    size_t clear_quarantine(std::string_view id) {
        size_t cleared = 0;
        check(aisopod_loader_quarantine_clear(get(), arg(id, "aisopod_loader_quarantine_clear", "id").c_str(),
                                              &cleared));
        return cleared;
    }

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
    /// Unloads the loaded plugins that depend on `id`, most recently loaded first, then `id`. Throws
    /// AISOPOD_STATUS_BUSY, unloading nothing, while a Capability of any of them lives.
    void unload_cascade(std::string_view id) {
        check(aisopod_loader_unload_cascade(get(), arg(id, "aisopod_loader_unload_cascade", "id").c_str()));
    }

    /// Accepts only the versions of plugin `id` that the semver `requirement` matches ("^2.1"), from the next
    /// discovery and load; std::nullopt removes the requirement. Throws AISOPOD_STATUS_INVALID_ARGUMENT for a
    /// malformed id or requirement.
    void require(std::string_view id, std::optional<std::string_view> requirement) {
        const char *function = "aisopod_loader_require";
        std::optional<detail::CString> c_requirement;
        if (requirement) c_requirement.emplace(*requirement, function, "requirement");
        check(aisopod_loader_require(get(), arg(id, function, "id").c_str(),
                                     c_requirement ? c_requirement->c_str() : nullptr));
    }

    /// The config and data directory the loader gives plugin `id`'s init when it initializes the plugin on its
    /// own: as a dependency of a plugin init() starts, or on first use under the lazy policy.
    void set_config(std::string_view id, std::string_view config = {}, std::string_view data_dir = {}) {
        const char *function = "aisopod_loader_set_config";
        check(aisopod_loader_set_config(get(), arg(id, function, "id").c_str(), arg(config, function, "config").c_str(),
                                        arg(data_dir, function, "data_dir").c_str()));
    }

    /// Whether invoke(), resolve() and emit() load and initialize a discovered plugin, with its dependencies,
    /// on its first use (off by default).
    void set_lazy(bool lazy) { check(aisopod_loader_set_lazy(get(), lazy)); }

    /// Reloads plugin `id` from its directory (aisopod_loader_reload): the new version passes every load step
    /// while the old one keeps running, then takes its place with the old one's config. Capabilities of the old
    /// version then throw AISOPOD_STATUS_STALE; resolve them again.
    void reload(std::string_view id) {
        check(aisopod_loader_reload(get(), arg(id, "aisopod_loader_reload", "id").c_str()));
    }

    /// Reloads every loaded plugin whose manifest or library changed (aisopod_loader_poll_changes) and returns
    /// how many it reloaded; throws the first failure after trying them all.
    size_t poll_changes() {
        size_t reloaded = 0;
        check(aisopod_loader_poll_changes(get(), &reloaded));
        return reloaded;
    }

    /// The generation of plugin `id`'s current version: every load and reload takes the next number, from 1.
    uint64_t generation(std::string_view id) const {
        uint64_t generation = 0;
        check(aisopod_loader_plugin_generation(get(), arg(id, "aisopod_loader_plugin_generation", "id").c_str(),
                                               &generation));
        return generation;
    }

    /// The message of this thread's most recent failed call with this loader, "" when there was none.
    std::string last_error() const { return aisopod_loader_error_message(get()); }

    aisopod_loader *get() const noexcept { return core_ != nullptr ? core_->loader : nullptr; }

private:
    static std::chrono::nanoseconds ns(uint64_t value) {
        return std::chrono::nanoseconds(static_cast<std::chrono::nanoseconds::rep>(value));
    }

    static detail::CString arg(std::string_view value, const char *function, const char *argument) {
        return detail::CString(value, function, argument);
    }

    void check(aisopod_status status) const { detail::check(status, get()); }

    void grant_raw(const char *id, Permission permission, std::optional<std::string_view> path) {
        std::optional<detail::CString> c_path;
        if (path) c_path.emplace(*path, "aisopod_loader_grant", "path");
        check(aisopod_loader_grant(get(), id, static_cast<aisopod_permission>(permission),
                                   c_path ? c_path->c_str() : nullptr));
    }

    aisopod_status invoke_raw(std::string_view id, Kind kind, std::string_view name, std::string_view input,
                              const aisopod_sink *sink) {
        const char *function = "aisopod_loader_invoke";
        return aisopod_loader_invoke(get(), arg(id, function, "id").c_str(), static_cast<aisopod_capability_kind>(kind),
                                     arg(name, function, "name").c_str(), detail::bytes(input), input.size(), sink);
    }

    std::vector<ProbeVerdict> probe_raw(const char *const *ids, size_t count,
                                        std::optional<std::string_view> init_config) {
        std::optional<detail::CString> config;
        if (init_config) config.emplace(*init_config, "aisopod_loader_probe", "init_config");
        aisopod_probe_results *raw = nullptr;
        check(aisopod_loader_probe(get(), ids, count, config ? config->c_str() : nullptr, &raw));
        std::unique_ptr<aisopod_probe_results, detail::ProbeResultsFree> results(raw);
        std::vector<ProbeVerdict> verdicts(aisopod_probe_results_count(raw));
        for (size_t i = 0; i < verdicts.size(); i++) verdicts[i] = verdict(raw, i);
        return verdicts;
    }

    /// The `index`-th verdict of `results`. Failures of the accessors are filed under no loader.
    static ProbeVerdict verdict(const aisopod_probe_results *results, size_t index) {
        ProbeVerdict v;
        v.plugin_id = detail::str(aisopod_probe_results_plugin_id(results, index));
        v.status = aisopod_probe_results_status(results, index);
        v.message = detail::str(aisopod_probe_results_message(results, index));
        v.failed_step = detail::optional_str(aisopod_probe_results_failed_step(results, index));
        size_t steps = aisopod_probe_results_step_count(results, index);
        for (size_t step = 0; step < steps; step++) {
            const char *name = nullptr;
            uint64_t nanos = 0;
            detail::check(aisopod_probe_results_step_at(results, index, step, &name, &nanos), nullptr);
            v.steps.push_back({detail::str(name), std::chrono::nanoseconds(static_cast<int64_t>(nanos))});
        }
        for (Kind kind : all_kinds) {
            auto k = static_cast<aisopod_capability_kind>(kind);
            std::vector<std::string> names(aisopod_probe_results_capability_count(results, index, k));
            for (size_t i = 0; i < names.size(); i++)
                names[i] = detail::str(aisopod_probe_results_capability_at(results, index, k, i));
            v.capabilities[kind] = std::move(names);
        }
        detail::check(aisopod_probe_results_ending(results, index, &v.signal, &v.exit_code), nullptr);
        v.stderr_tail = detail::str(aisopod_probe_results_stderr(results, index));
        return v;
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
