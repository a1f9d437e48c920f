#!/usr/bin/env python3
"""A Python host: discovers the plugins under a directory, loads and initialises each one, calls each of its
tools with "world", fires the on_start hook, and unloads them all.

usage: host.py PLUGIN_DIR
"""

import sys

import aisopod_loader as aisopod


def log(level, source, message):
    if level <= aisopod.LogLevel.INFO:
        print(f"log [{source}] {message}")


def main(plugin_dir):
    print(f"aisopod-loader {aisopod.version()}")
    with aisopod.Loader("1.0.0", search_paths=[plugin_dir], use_env_path=False, use_default_paths=False) as loader:
        loader.set_log_callback(log)
        loader.discover()
        for refused in loader.diagnostics():
            print(f"refused {refused.path}: {refused.message}")
        for plugin in loader.plugins():
            print(f"plugin {plugin.id} {plugin.version}: {plugin.description}")
            loader.load(plugin.id)
            loader.init(plugin.id, '{"greeting": "hi"}')
            for tool in plugin.capabilities(aisopod.Kind.TOOL):
                output = loader.invoke(plugin.id, aisopod.Kind.TOOL, tool, b"world")
                print(f"tool {plugin.id}/{tool} -> {output.decode()}")
        handled, output = loader.emit("on_start")
        print(f"hook on_start fired in {handled} plugin(s): {output.decode()}")
    # Leaving the block unloaded every plugin and freed the loader.


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except aisopod.Error as e:
        sys.exit(f"error: {e}")
