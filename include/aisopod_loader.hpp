// aisopod_loader.hpp: a header-only C++17 wrapper over the C API in aisopod_loader.h.
//
// Handles are owned by RAII objects and freed in their destructors; every failing call throws
// aisopod::Error, which carries the status and the loader's message. Thread safety is that of the C API: a
// Loader may be used from several threads at once (but not destroyed while in use); PluginInfo and
// Diagnostic are immutable snapshots.
#ifndef AISOPOD_LOADER_HPP
#define AISOPOD_LOADER_HPP

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "aisopod_loader.h"

namespace aisopod {

/// A failed call: the status and the full message.
class Error : public std::runtime_error {
public:
    Error(aisopod_status status, const std::string &message) : std::runtime_error(message), status_(status) {}
    aisopod_status status() const noexcept { return status_; }

private:
    aisopod_status status_;
};

namespace detail {
inline std::string str(const char *s) { return s != nullptr ? std::string(s) : std::string(); }

inline void check(aisopod_status status, const aisopod_loader *loader) {
    if (status != AISOPOD_STATUS_OK) throw Error(status, aisopod_loader_error_message(loader));
}

/// An aisopod_sink appending to a std::string. Never lets an exception cross into C.
struct StringSink {
    std::string out;
    aisopod_sink sink{this, &StringSink::write};

    static int32_t write(void *context, const uint8_t *data, size_t len) noexcept {
        try {
            static_cast<StringSink *>(context)->out.append(reinterpret_cast<const char *>(data), len);
            return 0;
        } catch (...) {
            return 1;
        }
    }
};

struct InfoFree {
    void operator()(aisopod_plugin_info *p) const noexcept { aisopod_plugin_info_free(p); }
};
struct DiagnosticFree {
    void operator()(aisopod_diagnostic *p) const noexcept { aisopod_diagnostic_free(p); }
};
struct LoaderFree {
    void operator()(aisopod_loader *p) const noexcept { aisopod_loader_free(p); }
};
}  // namespace detail

/// The capability kinds, as the C constants.
enum class Kind : aisopod_capability_kind {
    Tool = AISOPOD_CAPABILITY_TOOL,
    Command = AISOPOD_CAPABILITY_COMMAND,
    Channel = AISOPOD_CAPABILITY_CHANNEL,
    Provider = AISOPOD_CAPABILITY_PROVIDER,
    Hook = AISOPOD_CAPABILITY_HOOK,
};

/// A discovered plugin (owns an aisopod_plugin_info).
class PluginInfo {
public:
    explicit PluginInfo(aisopod_plugin_info *info) : info_(info) {}
    std::string id() const { return detail::str(aisopod_plugin_info_id(info_.get())); }
    std::string name() const { return detail::str(aisopod_plugin_info_name(info_.get())); }
    std::string version() const { return detail::str(aisopod_plugin_info_version(info_.get())); }
    std::string description() const { return detail::str(aisopod_plugin_info_description(info_.get())); }
    std::string author() const { return detail::str(aisopod_plugin_info_author(info_.get())); }
    std::string directory() const { return detail::str(aisopod_plugin_info_directory(info_.get())); }
    std::string library_path() const { return detail::str(aisopod_plugin_info_library_path(info_.get())); }
    bool thread_safe() const { return aisopod_plugin_info_thread_safe(info_.get()); }
    std::vector<std::string> capabilities(Kind kind) const {
        auto k = static_cast<aisopod_capability_kind>(kind);
        std::vector<std::string> names(aisopod_plugin_info_capability_count(info_.get(), k));
        for (size_t i = 0; i < names.size(); i++) names[i] = detail::str(aisopod_plugin_info_capability_at(info_.get(), k, i));
        return names;
    }
    const aisopod_plugin_info *get() const noexcept { return info_.get(); }

private:
    std::unique_ptr<aisopod_plugin_info, detail::InfoFree> info_;
};

/// A refused discovery candidate (owns an aisopod_diagnostic).
class Diagnostic {
public:
    explicit Diagnostic(aisopod_diagnostic *d) : d_(d) {}
    aisopod_status status() const { return aisopod_diagnostic_status(d_.get()); }
    std::string path() const { return detail::str(aisopod_diagnostic_path(d_.get())); }
    std::string message() const { return detail::str(aisopod_diagnostic_message(d_.get())); }

private:
    std::unique_ptr<aisopod_diagnostic, detail::DiagnosticFree> d_;
};

/// A plugin loader (owns an aisopod_loader; destroying it unloads every plugin still loaded).
class Loader {
public:
    explicit Loader(const std::string &host_version) {
        aisopod_loader *raw = nullptr;
        detail::check(aisopod_loader_new(host_version.c_str(), &raw), nullptr);
        loader_.reset(raw);
    }

    void add_search_path(const std::string &path) { check(aisopod_loader_add_search_path(get(), path.c_str())); }
    void use_env_path(bool enabled) { check(aisopod_loader_use_env_path(get(), enabled)); }
    void use_default_paths(bool enabled) { check(aisopod_loader_use_default_paths(get(), enabled)); }

    size_t discover() {
        size_t count = 0;
        check(aisopod_loader_discover(get(), &count));
        return count;
    }

    std::vector<PluginInfo> plugins() const {
        return list<PluginInfo>(aisopod_loader_plugin_count, aisopod_loader_plugin_at);
    }

    std::optional<PluginInfo> find(const std::string &id) const {
        aisopod_plugin_info *info = nullptr;
        aisopod_status status = aisopod_loader_find_plugin(get(), id.c_str(), &info);
        if (status == AISOPOD_STATUS_NOT_FOUND) return std::nullopt;
        check(status);
        return PluginInfo(info);
    }

    std::vector<Diagnostic> diagnostics() const {
        return list<Diagnostic>(aisopod_loader_diagnostic_count, aisopod_loader_diagnostic_at);
    }

    void load(const std::string &id) { check(aisopod_loader_load(get(), id.c_str())); }

    void init(const std::string &id, const std::string &config = "", const std::string &data_dir = "") {
        check(aisopod_loader_init(get(), id.c_str(), config.c_str(), data_dir.c_str()));
    }

    /// Invokes a capability and returns everything it wrote.
    std::string invoke(const std::string &id, Kind kind, const std::string &name, std::string_view input = {}) {
        detail::StringSink sink;
        check(aisopod_loader_invoke(get(), id.c_str(), static_cast<aisopod_capability_kind>(kind), name.c_str(),
                                    reinterpret_cast<const uint8_t *>(input.data()), input.size(), &sink.sink));
        return sink.out;
    }

    /// Emits a hook event; returns how many handlers ran, and appends their output to `*output` if given.
    size_t emit(const std::string &event, std::string_view input = {}, std::string *output = nullptr) {
        detail::StringSink sink;
        size_t handled = 0;
        check(aisopod_loader_emit(get(), event.c_str(), reinterpret_cast<const uint8_t *>(input.data()), input.size(),
                                  &sink.sink, &handled));
        if (output != nullptr) output->append(sink.out);
        return handled;
    }

    bool is_loaded(const std::string &id) const {
        aisopod_plugin_state state = AISOPOD_PLUGIN_STATE_UNLOADED;
        check(aisopod_loader_plugin_state(get(), id.c_str(), &state));
        return state != AISOPOD_PLUGIN_STATE_UNLOADED;
    }

    void unload(const std::string &id) { check(aisopod_loader_unload(get(), id.c_str())); }

    aisopod_loader *get() const noexcept { return loader_.get(); }

private:
    void check(aisopod_status status) const { detail::check(status, get()); }

    /// Every element of a count/at pair of the C API, each wrapped in `Wrapper`.
    template <typename Wrapper, typename Raw>
    std::vector<Wrapper> list(aisopod_status (*count_fn)(const aisopod_loader *, size_t *),
                              aisopod_status (*at_fn)(const aisopod_loader *, size_t, Raw **)) const {
        size_t count = 0;
        check(count_fn(get(), &count));
        std::vector<Wrapper> out;
        for (size_t i = 0; i < count; i++) {
            Raw *raw = nullptr;
            aisopod_status status = at_fn(get(), i, &raw);
            if (status == AISOPOD_STATUS_OUT_OF_RANGE) break;  // a concurrent discovery shrank the list
            check(status);
            out.emplace_back(raw);
        }
        return out;
    }

    std::unique_ptr<aisopod_loader, detail::LoaderFree> loader_;
};

/// The library's run-time version.
inline std::string version() { return aisopod_loader_version(); }

}  // namespace aisopod

#endif  // AISOPOD_LOADER_HPP
