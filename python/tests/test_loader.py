"""The Loader and its handles against real plugins: discovery, the lifecycle, errors, callbacks, misuse."""

import ctypes
import gc
import json
import os
import shutil
import subprocess
import threading
import unittest
from pathlib import Path

import aisopod_loader as aisopod
import support
from aisopod_loader import Kind, LogLevel, PluginState, Status
from support import TreeTest, add_hello, add_manifest_only, add_plugin, isolated_loader, manifest, plugins_dir


class DiscoveryTest(TreeTest):
    def test_plugin_info_properties(self):
        add_plugin(self.root, "alpha")
        with isolated_loader(self.root) as loader:
            self.assertEqual(loader.discover(), 1)
            self.assertEqual(loader.plugin_count(), 1)
            [info] = loader.plugins()
        # A snapshot: still readable after its loader is closed.
        directory = self.root / "alpha"
        self.assertEqual(info.id, "alpha")
        self.assertEqual(info.name, "Test plugin alpha")
        self.assertEqual(info.version, "1.2.3")
        self.assertEqual(info.description, "A plugin built for the loader's tests.")
        self.assertEqual(info.author, "Tests")
        self.assertEqual(Path(info.directory), directory)
        self.assertEqual(Path(info.manifest_path), directory / "aisopod.plugin.toml")
        self.assertEqual(Path(info.library_path), directory / "libalpha.so")
        self.assertEqual((info.min_host_version, info.max_host_version), ("1.0.0", "1.9.0"))
        self.assertTrue(info.thread_safe)
        self.assertTrue(info.unloadable)
        self.assertEqual(info.capabilities(Kind.TOOL), ["echo"])
        self.assertEqual(info.capabilities(Kind.HOOK), ["ping"])
        self.assertEqual(info.capabilities(Kind.COMMAND), [])
        self.assertEqual(info.capability_count(Kind.HOOK), 1)
        self.assertEqual(info.capability_count(99), 0, "an unknown kind counts nothing")
        self.assertIn("'alpha' 1.2.3", repr(info))

    def test_optional_manifest_fields(self):
        text = """[plugin]
id = "bare"
name = "Bare"
version = "2.0.0-rc.1"
entry_point = "bare"
thread_safe = false
unload = false
"""
        add_manifest_only(self.root, "bare", text)
        with isolated_loader(self.root) as loader:
            loader.discover()
            info = loader.find_plugin("bare")
        self.assertEqual((info.description, info.author), ("", ""))
        self.assertEqual(info.version, "2.0.0-rc.1")
        self.assertIsNone(info.min_host_version)
        self.assertIsNone(info.max_host_version)
        self.assertEqual((info.license, info.homepage, info.repository), (None, None, None))
        self.assertIsNone(info.sha256)
        self.assertFalse(info.thread_safe)
        self.assertFalse(info.unloadable)
        self.assertEqual(info.capabilities(Kind.TOOL), [])

    def test_metadata_fields(self):
        text = """manifest_version = 1

[plugin]
id = "described"
name = "Described"
version = "1.0.0"
entry_point = "described"
license = "MIT OR Apache-2.0"
homepage = "https://plugins.example/described"
repository = "https://git.example/described.git"
sha256 = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
x-build-id = "ignored by the loader"

[metadata]
anything = ["kept", "out", "of", "the", "loader's", "way"]
"""
        add_manifest_only(self.root, "described", text)
        with isolated_loader(self.root) as loader:
            loader.discover()
            info = loader.find_plugin("described")
        self.assertEqual(info.license, "MIT OR Apache-2.0")
        self.assertEqual(info.homepage, "https://plugins.example/described")
        self.assertEqual(info.repository, "https://git.example/described.git")
        self.assertEqual(info.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")

    def test_find_plugin_and_indexes(self):
        add_plugin(self.root, "alpha")
        add_plugin(self.root, "beta")
        with isolated_loader(self.root) as loader:
            self.assertEqual(loader.discover(), 2)
            self.assertEqual([p.id for p in loader.plugins()], ["alpha", "beta"])
            self.assertEqual(loader.plugin_at(1).id, "beta")
            self.assertEqual(loader.find_plugin("beta").name, "Test plugin beta")
            with self.assertRaises(aisopod.CallerError) as raised:
                loader.plugin_at(2)
            self.assertEqual(raised.exception.status, Status.OUT_OF_RANGE)
            with self.assertRaises(aisopod.CallerError) as raised:
                loader.plugin_at(-1)
            self.assertEqual(raised.exception.status, Status.OUT_OF_RANGE)
            with self.assertRaises(aisopod.CallerError) as raised:
                loader.find_plugin("gamma")
            self.assertEqual(raised.exception.status, Status.NOT_FOUND)
            self.assertIn("'gamma'", raised.exception.message)

    def test_a_bad_plugin_becomes_a_diagnostic(self):
        add_plugin(self.root, "alpha")
        bad_id = add_manifest_only(self.root, "bad_id", manifest("alpha").replace('id = "alpha"', 'id = "Bad Id"'))
        broken = add_manifest_only(self.root, "broken", "[plugin\nid = ")
        with isolated_loader(self.root) as loader:
            self.assertEqual(loader.discover(), 1, "the good plugin is still found")
            self.assertEqual(loader.diagnostic_count(), 2)
            diagnostics = {Path(d.path): d for d in loader.diagnostics()}
        self.assertEqual(set(diagnostics), {bad_id, broken})
        invalid = diagnostics[bad_id]
        self.assertEqual(invalid.status, Status.MANIFEST_INVALID)
        self.assertIn(str(bad_id), invalid.message)
        self.assertIn("[plugin].id", invalid.message)
        self.assertIn('"Bad Id"', invalid.message)
        self.assertIsInstance(invalid.error(), aisopod.ManifestError)
        self.assertEqual(diagnostics[broken].status, Status.MANIFEST_PARSE)
        self.assertIn(str(broken), diagnostics[broken].message)
        self.assertIn("MANIFEST_INVALID", repr(invalid))

    def test_duplicate_ids_across_search_paths(self):
        first, second = self.root / "first", self.root / "second"
        add_plugin(first, "alpha")
        add_plugin(second, "alpha")
        with isolated_loader(first, second) as loader:
            self.assertEqual(loader.discover(), 1)
            self.assertEqual(Path(loader.find_plugin("alpha").directory), first / "alpha")
            [duplicate] = loader.diagnostics()
            self.assertEqual(duplicate.status, Status.DUPLICATE_ID)
            self.assertEqual(Path(duplicate.path), second / "alpha" / "aisopod.plugin.toml")
            with self.assertRaises(aisopod.CallerError) as raised:
                loader.diagnostic_at(1)
            self.assertEqual(raised.exception.status, Status.OUT_OF_RANGE)

    def test_environment_and_default_paths(self):
        env_tree, home = self.root / "env", self.root / "home"
        add_manifest_only(env_tree, "from_env", manifest("from_env"))
        add_manifest_only(home / ".aisopod" / "plugins", "from_home", manifest("from_home"))
        saved = {k: os.environ.get(k) for k in ("AISOPOD_PLUGIN_PATH", "HOME", "XDG_DATA_HOME")}
        self.addCleanup(_restore_environment, saved)
        os.environ["AISOPOD_PLUGIN_PATH"] = str(env_tree)
        os.environ["HOME"] = str(home)
        os.environ.pop("XDG_DATA_HOME", None)

        def ids(**options):
            with aisopod.Loader("1.0.0", **options) as loader:
                loader.discover()
                return {p.id for p in loader.plugins()}

        self.assertIn("from_env", ids(use_default_paths=False))
        self.assertNotIn("from_env", ids(use_env_path=False, use_default_paths=False))
        self.assertIn("from_home", ids(use_env_path=False))
        self.assertNotIn("from_home", ids(use_env_path=False, use_default_paths=False))
        # A leading ~ in a search path expands to the home directory.
        self.assertEqual(
            ids(use_env_path=False, use_default_paths=False, search_paths=["~/.aisopod/plugins"]), {"from_home"}
        )

    def test_registry_cache_files(self):
        add_plugin(self.root / "plugins", "alpha")
        cache = self.root / "registry.bin"
        with isolated_loader(self.root / "plugins") as loader:
            loader.set_cache_path(cache)
            self.assertEqual(loader.discover(), 1)
            self.assertTrue(cache.is_file())
            self.assertEqual(loader.discover(), 1, "the second discovery reads the cache")
            loader.set_cache_path(None)
            cache.unlink()
            loader.discover()
            self.assertFalse(cache.exists(), "the cache is off again")

        saved = {"XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME")}
        self.addCleanup(_restore_environment, saved)
        os.environ["XDG_CACHE_HOME"] = str(self.root / "xdg-cache")
        with isolated_loader(self.root / "plugins") as loader:
            loader.use_default_cache()
            loader.discover()
        self.assertTrue((self.root / "xdg-cache" / "aisopod" / "registry.bin").is_file())


def _restore_environment(saved):
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


class LifecycleTest(TreeTest):
    def setUp(self):
        super().setUp()
        add_plugin(self.root, "alpha")
        add_plugin(self.root, "beta")
        add_plugin(self.root, "badabi")
        self.loader = isolated_loader(self.root)
        self.addCleanup(self.loader.close)
        self.assertEqual(self.loader.discover(), 3)

    def start(self, plugin_id):
        self.loader.load(plugin_id)
        self.loader.init(plugin_id, "{}")

    def test_round_trip(self):
        loader = self.loader
        self.assertEqual(loader.plugin_state("alpha"), PluginState.UNLOADED)
        loader.load("alpha")
        self.assertEqual(loader.plugin_state("alpha"), PluginState.LOADED)
        loader.init("alpha", json.dumps({"greeting": "hi"}), self.root / "data")
        self.assertEqual(loader.plugin_state("alpha"), PluginState.INITIALIZED)
        self.assertEqual(loader.invoke("alpha", Kind.TOOL, "echo", b"hello"), b"hello")
        self.assertEqual(loader.invoke("alpha", Kind.TOOL, "echo", "h\u00e9llo"), "h\u00e9llo".encode())
        self.assertEqual(loader.invoke("alpha", Kind.TOOL, "echo", bytearray(b"\x00\xff")), b"\x00\xff")
        self.assertEqual(loader.invoke("alpha", Kind.TOOL, "echo", memoryview(b"view")), b"view")
        self.assertEqual(loader.invoke("alpha", Kind.TOOL, "echo"), b"")
        big = bytes(range(256)) * 4096
        self.assertEqual(loader.invoke("alpha", int(Kind.TOOL), "echo", big), big)
        loader.unload("alpha")
        self.assertEqual(loader.plugin_state("alpha"), PluginState.UNLOADED)
        # The same id loads again.
        self.start("alpha")
        self.assertEqual(loader.invoke("alpha", Kind.TOOL, "echo", b"again"), b"again")

    def test_init_defaults(self):
        self.loader.load("alpha")
        self.loader.init("alpha")
        self.assertEqual(self.loader.invoke("alpha", Kind.TOOL, "echo", b"x"), b"x")

    def test_errors_carry_status_and_a_message_naming_the_plugin(self):
        loader = self.loader
        with self.assertRaises(aisopod.CallerError) as raised:
            loader.load("missing")
        error = raised.exception
        self.assertEqual(error.status, Status.NOT_FOUND)
        self.assertEqual(error.status_name, "AISOPOD_STATUS_NOT_FOUND")
        self.assertTrue(error.message.startswith("aisopod_loader_load: "), error.message)
        self.assertIn("'missing'", error.message)
        self.assertEqual(str(error), f"AISOPOD_STATUS_NOT_FOUND (5): {error.message}")
        self.assertEqual(loader.error_message(), error.message)

        with self.assertRaises(aisopod.PluginLoadError) as raised:
            loader.load("badabi")
        self.assertEqual(raised.exception.status, Status.ABI_MISMATCH)
        self.assertIn("'badabi'", raised.exception.message)
        self.assertIn("ABI version 2, expected 1", raised.exception.message)
        self.assertEqual(loader.plugin_state("badabi"), PluginState.UNLOADED, "a failed load leaves nothing")

        with self.assertRaises(aisopod.CallerError) as raised:
            loader.invoke("alpha", Kind.TOOL, "echo", b"x")
        self.assertEqual(raised.exception.status, Status.NOT_LOADED)
        self.assertIn("'alpha'", raised.exception.message)

        loader.load("alpha")
        with self.assertRaises(aisopod.CallerError) as raised:
            loader.load("alpha")
        self.assertEqual(raised.exception.status, Status.ALREADY_LOADED)
        with self.assertRaises(aisopod.CallerError) as raised:
            loader.invoke("alpha", Kind.TOOL, "echo", b"x")
        self.assertEqual(raised.exception.status, Status.NOT_INITIALIZED)

        with self.assertRaises(aisopod.PluginRuntimeError) as raised:
            loader.init("alpha", "fail")
        self.assertEqual(raised.exception.status, Status.INIT_FAILED)
        self.assertIn("'alpha'", raised.exception.message)
        self.assertIn("3", raised.exception.message)

        self.start("beta")
        with self.assertRaises(aisopod.PluginRuntimeError) as raised:
            loader.invoke("beta", Kind.TOOL, "echo", b"fail")
        self.assertEqual(raised.exception.status, Status.PLUGIN_ERROR)
        self.assertIn("'beta'", raised.exception.message)
        self.assertIn("echo", raised.exception.message)
        self.assertIn("7", raised.exception.message)

        with self.assertRaises(aisopod.CallerError) as raised:
            loader.invoke("beta", Kind.COMMAND, "echo", b"x")
        self.assertEqual(raised.exception.status, Status.CAPABILITY_NOT_FOUND)
        with self.assertRaises(aisopod.CallerError) as raised:
            loader.invoke("beta", 42, "echo", b"x")
        self.assertEqual(raised.exception.status, Status.INVALID_ARGUMENT)
        self.assertIn("'kind' is 42", raised.exception.message)

    def test_host_version_checks(self):
        with self.assertRaises(aisopod.CallerError) as raised:
            aisopod.Loader("not semver")
        self.assertEqual(raised.exception.status, Status.INVALID_ARGUMENT)
        self.assertIn('"not semver"', raised.exception.message)
        with isolated_loader(self.root, host_version="2.0.0") as loader:
            loader.discover()
            with self.assertRaises(aisopod.ManifestError) as raised:
                loader.load("alpha")
        self.assertEqual(raised.exception.status, Status.VERSION_INCOMPATIBLE)
        self.assertIn("'alpha'", raised.exception.message)

    def test_bad_arguments_name_the_argument(self):
        with self.assertRaises(aisopod.CallerError) as raised:
            self.loader.load("al\0pha")
        self.assertEqual(raised.exception.status, Status.INVALID_ARGUMENT)
        self.assertEqual(raised.exception.message, "Loader.load: argument 'plugin_id' contains a NUL byte at offset 2")
        with self.assertRaises(aisopod.CallerError) as raised:
            self.loader.add_search_path(b"/tmp/\xff")
        self.assertEqual(raised.exception.status, Status.INVALID_UTF8)
        self.assertIn("'path'", raised.exception.message)
        with self.assertRaises(aisopod.CallerError) as raised:
            self.loader.load("\ud800")
        self.assertEqual(raised.exception.status, Status.INVALID_UTF8)
        with self.assertRaises(TypeError):
            self.loader.load(7)
        with self.assertRaises(TypeError):
            self.loader.invoke("alpha", Kind.TOOL, "echo", 7)

    def test_emit_reaches_every_initialized_plugin_in_load_order(self):
        self.start("beta")
        self.start("alpha")
        emitted = self.loader.emit("ping")
        self.assertEqual(emitted, aisopod.Emitted(handled=2, output=b"beta;alpha;"))
        self.assertEqual(self.loader.emit("no_such_event", b"data"), (0, b""))
        self.loader.unload("beta")
        self.assertEqual(self.loader.emit("ping"), (1, b"alpha;"))

    def test_resolved_capability(self):
        self.start("alpha")
        with self.loader.resolve("alpha", Kind.TOOL, "echo") as echo:
            self.assertEqual(echo.invoke(b"direct"), b"direct")
            self.assertEqual(echo(b"call"), b"call")
            self.assertEqual((echo.plugin_id, echo.kind, echo.name), ("alpha", Kind.TOOL, "echo"))
            with self.assertRaises(aisopod.PluginRuntimeError) as raised:
                echo(b"fail")
            self.assertEqual(raised.exception.status, Status.PLUGIN_ERROR)
            self.assertIn("'alpha'", raised.exception.message)
            with self.assertRaises(aisopod.CallerError) as raised:
                self.loader.unload("alpha")
            self.assertEqual(raised.exception.status, Status.BUSY)
        self.assertTrue(echo.closed)
        self.loader.unload("alpha")
        with self.assertRaises(aisopod.ClosedError):
            echo(b"after close")
        with self.assertRaises(aisopod.CallerError) as raised:
            self.loader.resolve("alpha", Kind.TOOL, "echo")
        self.assertEqual(raised.exception.status, Status.NOT_LOADED)
        self.start("alpha")
        with self.assertRaises(aisopod.CallerError) as raised:
            self.loader.resolve("alpha", Kind.TOOL, "nope")
        self.assertEqual(raised.exception.status, Status.CAPABILITY_NOT_FOUND)
        self.assertIn("nope", raised.exception.message)

    def test_closing_the_loader_closes_its_capabilities_first(self):
        self.start("alpha")
        echo = self.loader.resolve("alpha", Kind.TOOL, "echo")
        self.loader.close()
        self.assertTrue(echo.closed)
        with self.assertRaises(aisopod.ClosedError):
            echo(b"x")

    def test_concurrent_invocations_and_thread_local_errors(self):
        self.start("alpha")
        echo = self.loader.resolve("alpha", Kind.TOOL, "echo")
        self.addCleanup(echo.close)
        failures = []

        def work(index):
            try:
                for round_ in range(100):
                    payload = f"{index}:{round_}".encode()
                    if self.loader.invoke("alpha", Kind.TOOL, "echo", payload) != payload:
                        failures.append(("invoke", index, round_))
                    if echo(payload) != payload:
                        failures.append(("capability", index, round_))
                    try:
                        self.loader.load(f"missing{index}")
                    except aisopod.CallerError as e:
                        # Each thread sees its own message.
                        if f"'missing{index}'" not in e.message:
                            failures.append(("message", index, e.message))
            except BaseException as e:  # noqa: B036
                failures.append(("raised", index, repr(e)))

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(failures, [])


class ReloadTest(TreeTest):
    def setUp(self):
        super().setUp()
        self.directory = add_plugin(self.root, "alpha")
        self.loader = isolated_loader(self.root)
        self.addCleanup(self.loader.close)
        self.assertEqual(self.loader.discover(), 1)
        self.loader.load("alpha")
        self.loader.init("alpha", "{}")

    def replace_library(self, built_for):
        """Puts the test plugin built for `built_for` in alpha's place, as a new file renamed over the old one."""
        temporary = self.directory / ".new.so"
        shutil.copyfile(plugins_dir() / "lib" / f"lib{built_for}.so", temporary)
        os.replace(temporary, self.directory / "libalpha.so")

    def test_reload_raises_the_generation_and_turns_old_handles_stale(self):
        loader = self.loader
        self.assertEqual(loader.plugin_generation("alpha"), 1)
        capability = loader.resolve("alpha", Kind.TOOL, "echo")
        self.addCleanup(capability.close)
        self.replace_library("alpha")
        loader.reload("alpha")
        self.assertEqual(loader.plugin_generation("alpha"), 2)
        with self.assertRaises(aisopod.CallerError) as raised:
            capability.invoke(b"x")
        self.assertEqual(raised.exception.status, Status.STALE)
        self.assertIn("generation 1, and the plugin was reloaded as generation 2", str(raised.exception))
        with loader.resolve("alpha", Kind.TOOL, "echo") as fresh:
            self.assertEqual(fresh.invoke(b"x"), b"x")
        self.assertEqual(loader.poll_changes(), 0)

    def test_a_failed_reload_keeps_the_old_version(self):
        self.replace_library("badabi")
        with self.assertRaises(aisopod.PluginLoadError) as raised:
            self.loader.poll_changes()
        self.assertEqual(raised.exception.status, Status.ABI_MISMATCH)
        self.assertIn("reload failed, the old version keeps running", str(raised.exception))
        self.assertEqual(self.loader.invoke("alpha", Kind.TOOL, "echo", b"x"), b"x")
        self.assertEqual(self.loader.plugin_generation("alpha"), 1)
        self.assertEqual(self.loader.poll_changes(), 0)


class ExtensionTest(TreeTest):
    def test_host_and_plugin_extensions(self):
        add_plugin(self.root, "alpha")
        events = support.TestEvents()
        with isolated_loader(self.root) as loader:
            loader.set_host_extension("test.events", events)
            loader.discover()
            loader.load("alpha")
            loader.init("alpha", "{}")
            address = loader.plugin_extension("alpha", "test.ext")
            self.assertIsNotNone(address)
            self.assertEqual(ctypes.c_int.from_address(address).value, 42)
            self.assertIsNone(loader.plugin_extension("alpha", "no.such.extension"))
            loader.unload("alpha")
            self.assertEqual(
                events.events,
                ["alpha:create", "alpha:register", "alpha:init", "alpha:shutdown", "alpha:destroy", "alpha:dlclose"],
            )
            with self.assertRaises(aisopod.CallerError) as raised:
                loader.plugin_extension("alpha", "test.ext")
            self.assertEqual(raised.exception.status, Status.NOT_LOADED)
            # Removed: a plugin loaded now does not see it.
            loader.set_host_extension("test.events", None)
            events.events.clear()
            loader.load("alpha")
            loader.unload("alpha")
            self.assertEqual(events.events, [])
        with self.assertRaises(TypeError):
            isolated_loader(self.root).set_host_extension("x", "not a ctypes object")

    def test_lifecycle_calls_from_a_plugin_callback_are_refused(self):
        add_plugin(self.root, "alpha")
        loader = isolated_loader(self.root)
        self.addCleanup(loader.close)
        seen = []

        def from_inside_the_handler():
            for attempt in (lambda: loader.unload("alpha"), loader.close):
                try:
                    attempt()
                except aisopod.Error as e:
                    seen.append(e.status)

        loader.set_host_extension("test.callback", support.TestCallback(from_inside_the_handler))
        loader.discover()
        loader.load("alpha")
        loader.init("alpha")
        self.assertEqual(loader.invoke("alpha", Kind.TOOL, "echo", b"callback"), b"callback")
        self.assertEqual(seen, [Status.REENTRANT, Status.REENTRANT])
        self.assertEqual(loader.plugin_state("alpha"), PluginState.INITIALIZED)
        self.assertFalse(loader.closed)

    def test_close_is_refused_while_another_thread_calls_in(self):
        add_plugin(self.root, "alpha")
        loader = isolated_loader(self.root)
        self.addCleanup(loader.close)
        inside, release = threading.Event(), threading.Event()

        def hold_the_call():
            inside.set()
            release.wait(30)

        loader.set_host_extension("test.callback", support.TestCallback(hold_the_call))
        loader.discover()
        loader.load("alpha")
        loader.init("alpha")
        echo = loader.resolve("alpha", Kind.TOOL, "echo")
        results = []
        caller = threading.Thread(target=lambda: results.append(echo(b"callback")))
        caller.start()
        self.assertTrue(inside.wait(30))
        try:
            for close in (echo.close, loader.close):
                with self.assertRaises(aisopod.CallerError) as raised:
                    close()
                self.assertEqual(raised.exception.status, Status.BUSY)
                self.assertIn("1 other thread(s)", raised.exception.message)
        finally:
            release.set()
            caller.join()
        self.assertEqual(results, [b"callback"])
        loader.close()
        self.assertTrue(echo.closed)


class LogTest(TreeTest):
    def test_the_callback_receives_loader_and_plugin_messages(self):
        add_hello(self.root)
        lines = []
        with isolated_loader(self.root, self.root / "missing") as loader:
            loader.set_log_callback(lambda level, source, message: lines.append((level, source, message)))
            loader.discover()
            loader.load("hello")
            loader.init("hello", '{"greeting": "hi"}')
            loader.unload("hello")
            loader.set_log_callback(None)
            loader.load("hello")
            loader.init("hello", "{}")
        self.assertIn((LogLevel.INFO, "hello", 'hello: init with config {"greeting": "hi"}'), lines)
        self.assertIn((LogLevel.INFO, "hello", "hello: shutdown"), lines)
        skipped = [m for level, source, m in lines if source == "loader" and level == LogLevel.DEBUG]
        self.assertTrue(any(str(self.root / "missing") in m for m in skipped), lines)
        self.assertNotIn((LogLevel.INFO, "hello", "hello: init with config {}"), lines, "removed callback")
        self.assertTrue(all(isinstance(level, LogLevel) for level, _, _ in lines))

    def test_an_exception_in_the_callback_stays_in_python(self):
        add_hello(self.root)

        def broken(level, source, message):
            raise RuntimeError(f"broken callback saw {source}")

        with isolated_loader(self.root) as loader:
            loader.set_log_callback(broken)
            loader.discover()
            loader.load("hello")
            with self.assertLogs("aisopod_loader", "ERROR") as logs:
                loader.init("hello", "{}")
            self.assertEqual(loader.invoke("hello", Kind.TOOL, "greet", b"world"), b"Hello, world!")
            with self.assertLogs("aisopod_loader", "ERROR"):
                loader.close()
        self.assertIn("RuntimeError: broken callback saw hello", "\n".join(logs.output))
        with self.assertRaises(TypeError):
            isolated_loader(self.root).set_log_callback("not callable")


class MisuseTest(TreeTest):
    def test_a_closed_loader_raises_closed_error(self):
        add_plugin(self.root, "alpha")
        loader = isolated_loader(self.root)
        loader.discover()
        loader.close()
        self.assertTrue(loader.closed)
        loader.close()  # twice: nothing
        calls = {
            "add_search_path": lambda: loader.add_search_path(self.root),
            "use_env_path": lambda: loader.use_env_path(False),
            "use_default_paths": lambda: loader.use_default_paths(False),
            "set_cache_path": lambda: loader.set_cache_path(None),
            "use_default_cache": loader.use_default_cache,
            "set_log_callback": lambda: loader.set_log_callback(None),
            "set_host_extension": lambda: loader.set_host_extension("x", None),
            "discover": loader.discover,
            "plugin_count": loader.plugin_count,
            "plugin_at": lambda: loader.plugin_at(0),
            "find_plugin": lambda: loader.find_plugin("alpha"),
            "plugins": loader.plugins,
            "diagnostic_count": loader.diagnostic_count,
            "diagnostic_at": lambda: loader.diagnostic_at(0),
            "diagnostics": loader.diagnostics,
            "load": lambda: loader.load("alpha"),
            "init": lambda: loader.init("alpha"),
            "invoke": lambda: loader.invoke("alpha", Kind.TOOL, "echo"),
            "emit": lambda: loader.emit("ping"),
            "plugin_extension": lambda: loader.plugin_extension("alpha", "test.ext"),
            "plugin_state": lambda: loader.plugin_state("alpha"),
            "unload": lambda: loader.unload("alpha"),
            "resolve": lambda: loader.resolve("alpha", Kind.TOOL, "echo"),
            "error_message": loader.error_message,
        }
        for name, call in calls.items():
            with self.subTest(method=name):
                with self.assertRaises(aisopod.ClosedError) as raised:
                    call()
                error = raised.exception
                self.assertIsInstance(error, ValueError)
                self.assertEqual(error.status, Status.NULL_ARGUMENT)
                self.assertIn("is closed", error.message)
        self.assertIn("closed", repr(loader))

    def test_closed_info_and_diagnostic_handles(self):
        add_plugin(self.root, "alpha")
        add_manifest_only(self.root, "broken", "not toml [")
        with isolated_loader(self.root) as loader:
            loader.discover()
            with loader.find_plugin("alpha") as info, loader.diagnostic_at(0) as diagnostic:
                self.assertEqual(info.id, "alpha")
                self.assertEqual(diagnostic.status, Status.MANIFEST_PARSE)
        for handle, reads in (
            (info, ("id", "name", "version", "library_path", "thread_safe", "min_host_version")),
            (diagnostic, ("path", "status", "message")),
        ):
            self.assertTrue(handle.closed)
            handle.close()  # twice: nothing
            for read in reads:
                with self.subTest(handle=type(handle).__name__, read=read):
                    with self.assertRaises(aisopod.ClosedError) as raised:
                        getattr(handle, read)
                    self.assertIn(
                        f"{type(handle).__name__}.{read}: the {type(handle).__name__} is closed", str(raised.exception)
                    )
        with self.assertRaises(aisopod.ClosedError):
            info.capabilities(Kind.TOOL)
        self.assertIn("closed", repr(info))

    def test_the_garbage_collector_frees_an_unclosed_loader_once(self):
        add_plugin(self.root, "alpha")
        events = support.TestEvents()
        loader = isolated_loader(self.root)
        loader.set_host_extension("test.events", events)
        loader.discover()
        loader.load("alpha")
        loader.init("alpha")
        echo = loader.resolve("alpha", Kind.TOOL, "echo")
        del loader
        gc.collect()
        self.assertNotIn("alpha:destroy", events.events, "the open capability keeps its loader alive")
        self.assertEqual(echo(b"x"), b"x")
        del echo
        gc.collect()
        self.assertEqual(events.events[-3:], ["alpha:shutdown", "alpha:destroy", "alpha:dlclose"])
        self.assertEqual(events.events.count("alpha:destroy"), 1)


class StatusTest(unittest.TestCase):
    def test_status_str_describes_every_status(self):
        for status in Status:
            with self.subTest(status=status.c_name):
                self.assertNotEqual(aisopod.status_str(status), "unknown status")
        self.assertEqual(aisopod.status_str(Status.OK), "success")
        self.assertEqual(aisopod.status_str(7777), "unknown status")

    def test_each_range_has_its_class(self):
        expected = {
            Status.NULL_ARGUMENT: aisopod.CallerError,
            Status.BUSY: aisopod.CallerError,
            Status.IO: aisopod.ManifestError,
            Status.VERSION_INCOMPATIBLE: aisopod.ManifestError,
            Status.LIBRARY_NOT_FOUND: aisopod.PluginLoadError,
            Status.CAPABILITY_MISMATCH: aisopod.PluginLoadError,
            Status.INIT_FAILED: aisopod.PluginRuntimeError,
            Status.PLUGIN_ERROR: aisopod.PluginRuntimeError,
            Status.TIMEOUT: aisopod.PluginRuntimeError,
            Status.QUARANTINED: aisopod.ManifestError,
            Status.HELPER_UNAVAILABLE: aisopod.HelperError,
            Status.HELPER_FAILED: aisopod.HelperError,
            Status.PANIC: aisopod.InternalError,
        }
        for status, cls in expected.items():
            with self.subTest(status=status.c_name):
                self.assertIs(type(aisopod._errors.error_for(status, "m")), cls)
        unknown = aisopod._errors.error_for(1234, "from a newer library")
        self.assertIs(type(unknown), aisopod.InternalError)
        self.assertEqual(unknown.status_name, "AISOPOD_STATUS_1234")


class ExampleTest(TreeTest):
    def test_the_readme_host_runs(self):
        add_hello(self.root)
        example = support.REPOSITORY / "python" / "examples" / "host.py"
        result = subprocess.run(
            [support.python(), str(example), str(self.root)], capture_output=True, text=True, timeout=60
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(
            result.stdout.splitlines(),
            [
                f"aisopod-loader {aisopod.__version__}",
                "plugin hello 1.0.0: Greets whoever calls its tool and counts the hook events it sees.",
                'log [hello] hello: init with config {"greeting": "hi"}',
                "tool hello/greet -> Hello, world!",
                "hook on_start fired in 1 plugin(s): hello saw on_start #1",
                "log [hello] hello: shutdown",
            ],
        )


if __name__ == "__main__":
    unittest.main()
