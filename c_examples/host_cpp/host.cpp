// host_cpp: the C host's job in C++, through the RAII wrapper include/aisopod_loader.hpp. It discovers the
// plugins under the directories given, prints them and the diagnostics, loads and initialises each (printing
// their log lines), invokes every tool with "world", emits "on_start", and unloads everything. Exit status 0
// when all of that worked.
//
// usage: host_cpp PLUGIN_DIR...
#include <cstdio>
#include <iostream>

#include "aisopod_loader.hpp"

int main(int argc, char **argv) {
    if (argc < 2) {
        std::cerr << "usage: " << argv[0] << " PLUGIN_DIR...\n";
        return 2;
    }
    int failures = 0;
    try {
        aisopod::Loader loader("1.0.0");
        loader.use_default_paths(false);
        loader.set_log_callback([](aisopod::LogLevel, std::string_view source, std::string_view message) {
            std::cout << "log [" << source << "] " << message << "\n";
        });
        for (int i = 1; i < argc; i++) loader.add_search_path(argv[i]);
        std::cout << "aisopod-loader " << aisopod::version() << " (C++ host)\n";
        std::cout << "discovered " << loader.discover() << " plugin(s)\n";
        for (const auto &d : loader.diagnostics())
            std::cout << "diagnostic [" << aisopod_status_str(d.status()) << "] " << d.message() << "\n";

        auto plugins = loader.plugins();
        for (const auto &plugin : plugins) {
            std::cout << "plugin " << plugin.id() << " " << plugin.version() << ": " << plugin.name() << "\n";
            try {
                loader.load(plugin.id());
                loader.init(plugin.id(), "{}");
                for (const auto &tool : plugin.capabilities(aisopod::Kind::Tool))
                    std::cout << "tool " << plugin.id() << "/" << tool << " -> "
                              << loader.invoke(plugin.id(), aisopod::Kind::Tool, tool, "world") << "\n";
            } catch (const aisopod::Error &e) {
                std::cerr << "plugin " << plugin.id() << " failed: " << aisopod_status_str(e.status()) << ": "
                          << e.what() << "\n";
                failures++;
            }
        }
        std::string hooks;
        size_t handled = loader.emit("on_start", {}, &hooks);
        std::cout << "hook on_start fired in " << handled << " plugin(s)\n";
        for (const auto &plugin : plugins) {
            if (loader.is_loaded(plugin.id())) {
                loader.unload(plugin.id());
                std::cout << "unloaded " << plugin.id() << "\n";
            }
        }
        // A failure is an exception carrying the status and the message that names the culprit.
        try {
            loader.load("no-such-plugin");
        } catch (const aisopod::Error &e) {
            std::cout << "expected error: " << e.what() << "\n";
        }
    } catch (const aisopod::Error &e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    std::cout << "done: " << failures << " failure(s)\n";
    return failures == 0 ? 0 : 1;
}
