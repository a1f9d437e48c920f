"""Isolated plugins, against real plugins in real helper processes: loading, calling and measuring them, a
plugin's own setting against the default and its manifest, crashes, exits and hangs in plugin code, restart
policies and resource limits.

The library finds its helper, `aisopod-plugin-host`, in the cargo build tree it was built in, where
`cargo test` puts it.
"""

import os
import time
import unittest

import aisopod_loader as aisopod
from aisopod_loader import Isolation, Kind, PluginState, Status
from support import TreeTest, add_plugin, isolated_loader, manifest


def helper_is_gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def proc_limit(pid, name):
    """Process `pid`'s soft and hard limit `name` ("Max open files", ...) from /proc/PID/limits, as strings."""
    with open(f"/proc/{pid}/limits") as limits:
        for line in limits:
            if line.startswith(name):
                soft, hard = line[len(name) :].split()[:2]
                return soft, hard
    raise AssertionError(f"/proc/{pid}/limits has no line {name!r}")


class IsolatedRunTest(TreeTest):
    def test_an_isolated_plugin_is_loaded_called_and_measured(self):
        add_plugin(self.root, "alpha")
        with isolated_loader(self.root) as loader:
            loader.set_isolation(Isolation.PROCESS)
            loader.discover()
            loader.load("alpha")
            loader.init("alpha", "{}")
            self.assertIs(loader.plugin_state("alpha"), PluginState.INITIALIZED)
            self.assertEqual(loader.invoke("alpha", Kind.TOOL, "echo", b"across"), b"across")
            with self.assertRaises(aisopod.PluginRuntimeError) as raised:
                loader.invoke("alpha", Kind.TOOL, "echo", b"fail")
            self.assertEqual(raised.exception.status, Status.PLUGIN_ERROR)
            self.assertIn("plugin 'alpha' tool 'echo' failed with code 7", raised.exception.message)
            self.assertEqual(loader.emit("ping"), aisopod.Emitted(1, b"alpha;"))
            with loader.resolve("alpha", Kind.TOOL, "echo") as echo:
                self.assertEqual(echo(b"resolved"), b"resolved")
            self.assertIsNone(loader.plugin_extension("alpha", "test.ext"), "pointers do not cross processes")

            usage = loader.plugin_usage("alpha")
            self.assertIsInstance(usage, aisopod.PluginUsage)
            self.assertGreater(usage.pid, 0)
            self.assertNotEqual(usage.pid, os.getpid())
            self.assertFalse(helper_is_gone(usage.pid))
            # init, two tool calls, the hook and the resolved call.
            self.assertGreaterEqual(usage.calls, 5, usage)
            self.assertGreater(usage.peak_rss_bytes, 0, usage)
            self.assertGreaterEqual(usage.cpu_user_us + usage.cpu_system_us, 0, usage)
            self.assertEqual(usage.restarts, 0)

            loader.unload("alpha")
            self.assertIs(loader.plugin_state("alpha"), PluginState.UNLOADED)
            self.assertTrue(helper_is_gone(usage.pid), f"the helper {usage.pid} is gone after unload")

    def test_a_plugin_s_own_setting_wins_over_the_default(self):
        for plugin_id in ("alpha", "beta"):
            add_plugin(self.root, plugin_id)
        with isolated_loader(self.root) as loader:
            loader.set_isolation(Isolation.PROCESS)
            loader.set_isolation(Isolation.NONE, plugin_id="beta")
            loader.discover()
            for plugin_id in ("alpha", "beta"):
                loader.load(plugin_id)
                loader.init(plugin_id)
            self.assertNotEqual(loader.plugin_usage("alpha").pid, os.getpid())
            with self.assertRaises(aisopod.CallerError) as raised:
                loader.plugin_usage("beta")
            self.assertEqual(raised.exception.status, Status.INVALID_ARGUMENT)
            self.assertIn("plugin 'beta' runs in the host's process", raised.exception.message)
            self.assertIsNotNone(loader.plugin_extension("beta", "test.ext"), "beta runs in this process")
            self.assertEqual(loader.emit("ping").output, b"alpha;beta;")

            with self.assertRaises(aisopod.CallerError) as raised:
                loader.plugin_usage("gamma")
            self.assertEqual(raised.exception.status, Status.NOT_LOADED)
            self.assertIn("'gamma'", raised.exception.message)

    def test_a_manifest_can_ask_for_isolation(self):
        add_plugin(self.root, "alpha", manifest("alpha", isolation='"process"'))
        with isolated_loader(self.root) as loader:
            loader.discover()
            loader.load("alpha")
            loader.init("alpha")
            self.assertEqual(loader.invoke("alpha", Kind.TOOL, "echo", "asked"), b"asked")
            self.assertNotEqual(loader.plugin_usage("alpha").pid, os.getpid())

    def test_an_isolation_must_be_one_of_the_c_api(self):
        with isolated_loader(self.root) as loader:
            with self.assertRaises(aisopod.CallerError) as raised:
                loader.set_isolation(7)
            self.assertEqual(raised.exception.status, Status.INVALID_ARGUMENT)
            self.assertIn("aisopod_loader_set_isolation", raised.exception.message)
            self.assertIn("'isolation' is 7", raised.exception.message)
            with self.assertRaises(aisopod.CallerError) as raised:
                loader.set_isolation(-1)
            self.assertIn("argument 'mode' is -1", raised.exception.message)
            for bad in ("process", True, None):
                with self.subTest(mode=bad), self.assertRaises(TypeError):
                    loader.set_isolation(bad)
            with self.assertRaises(aisopod.CallerError) as raised:
                loader.set_isolation(Isolation.PROCESS, plugin_id="al\0pha")
            self.assertIn("argument 'plugin_id' contains a NUL byte", raised.exception.message)


class CrashTest(TreeTest):
    """The test plugin built as "mischief": its echo handler segfaults, exits or hangs on request."""

    def mischief(self, loader):
        add_plugin(self.root, "mischief")
        loader.set_isolation(Isolation.PROCESS, plugin_id="mischief")
        loader.discover()
        loader.load("mischief")
        loader.init("mischief", "{}")
        self.assertEqual(loader.invoke("mischief", Kind.TOOL, "echo", b"calm"), b"calm")

    def assert_crash(self, loader, data, status, message):
        with self.assertRaises(aisopod.PluginRuntimeError) as raised:
            loader.invoke("mischief", Kind.TOOL, "echo", data)
        self.assertEqual(raised.exception.status, status, raised.exception.message)
        self.assertIn(message, raised.exception.message)
        return raised.exception

    def test_a_segfault_ends_only_the_helper(self):
        add_plugin(self.root, "alpha")
        with isolated_loader(self.root) as loader:
            self.mischief(loader)
            loader.load("alpha")
            loader.init("alpha")
            first = self.assert_crash(
                loader,
                b"segfault",
                Status.PLUGIN_CRASHED,
                "plugin 'mischief' crashed during tool 'echo': its helper process was killed by signal SIGSEGV",
            )
            self.assertIs(loader.plugin_state("mischief"), PluginState.CRASHED)
            self.assertEqual(loader.plugin_usage("mischief").pid, 0)
            again = self.assert_crash(loader, b"calm", Status.PLUGIN_CRASHED, "SIGSEGV")
            self.assertEqual(again.message, first.message, "a crashed plugin repeats its crash")
            self.assertEqual(loader.invoke("alpha", Kind.TOOL, "echo", b"still here"), b"still here")
            loader.unload("mischief")
            self.assertIs(loader.plugin_state("mischief"), PluginState.UNLOADED)

    def test_an_exit_ends_only_the_helper(self):
        with isolated_loader(self.root) as loader:
            self.mischief(loader)
            self.assert_crash(
                loader,
                b"exit",
                Status.PLUGIN_CRASHED,
                "plugin 'mischief' ended its helper process during tool 'echo': it exited with code 5",
            )
            self.assertIs(loader.plugin_state("mischief"), PluginState.CRASHED)

    def test_a_hang_is_killed_at_its_deadline(self):
        with isolated_loader(self.root) as loader:
            self.mischief(loader)
            loader.set_call_timeout(300, plugin_id="mischief")
            started = time.monotonic()
            self.assert_crash(
                loader,
                b"hang",
                Status.TIMEOUT,
                "plugin 'mischief' did not finish tool 'echo' within 300 ms: its helper process was killed",
            )
            self.assertLess(time.monotonic() - started, 5)
            self.assertIs(loader.plugin_state("mischief"), PluginState.CRASHED)

    def test_a_restart_policy_starts_a_crashed_plugin_again(self):
        with isolated_loader(self.root) as loader:
            self.mischief(loader)
            loader.set_restart_policy(1, 0, plugin_id="mischief")
            first = loader.plugin_usage("mischief").pid
            self.assert_crash(loader, b"segfault", Status.PLUGIN_CRASHED, "SIGSEGV")
            self.assertEqual(loader.invoke("mischief", Kind.TOOL, "echo", b"back"), b"back")
            self.assertIs(loader.plugin_state("mischief"), PluginState.INITIALIZED)
            usage = loader.plugin_usage("mischief")
            self.assertEqual(usage.restarts, 1)
            self.assertNotIn(usage.pid, (0, first))
            self.assertTrue(helper_is_gone(first))
            self.assert_crash(loader, b"segfault", Status.PLUGIN_CRASHED, "SIGSEGV")
            self.assert_crash(loader, b"calm", Status.PLUGIN_CRASHED, "SIGSEGV")
            self.assertEqual(loader.plugin_usage("mischief").restarts, 1, "only one restart")

    def test_a_restart_waits_for_its_backoff(self):
        with isolated_loader(self.root) as loader:
            self.mischief(loader)
            loader.set_restart_policy(3, 1500)
            self.assert_crash(loader, b"segfault", Status.PLUGIN_CRASHED, "SIGSEGV")
            crashed = time.monotonic()
            self.assert_crash(loader, b"calm", Status.PLUGIN_CRASHED, "SIGSEGV")
            self.assertLess(time.monotonic() - crashed, 1.5, "the call came before the backoff was over")
            time.sleep(1.6)
            self.assertEqual(loader.invoke("mischief", Kind.TOOL, "echo", b"later"), b"later")
            self.assertEqual(loader.plugin_usage("mischief").restarts, 1)

    def test_a_restart_policy_must_fit_the_c_api(self):
        with isolated_loader(self.root) as loader:
            for argument, args in (("max_restarts", (-1, 0)), ("backoff_ms", (1, 2**32))):
                with self.subTest(argument=argument):
                    with self.assertRaises(aisopod.CallerError) as raised:
                        loader.set_restart_policy(*args)
                    self.assertEqual(raised.exception.status, Status.INVALID_ARGUMENT)
                    self.assertIn(f"argument '{argument}'", raised.exception.message)
            loader.set_restart_policy(2**32 - 1, 2**32 - 1)
            for bad in (1.5, "1", False):
                with self.subTest(max_restarts=bad), self.assertRaises(TypeError):
                    loader.set_restart_policy(bad, 0)


class ResourceLimitsTest(TreeTest):
    def test_limits_apply_when_the_helper_starts(self):
        add_plugin(self.root, "alpha")
        with isolated_loader(self.root) as loader:
            loader.set_isolation(Isolation.PROCESS)
            loader.discover()
            # With a single descriptor the helper cannot open the library.
            loader.set_resource_limits(open_files=1, plugin_id="alpha")
            with self.assertRaises(aisopod.Error) as raised:
                loader.load("alpha")
            self.assertEqual(raised.exception.status, Status.LIBRARY_LOAD)
            self.assertIn("alpha", raised.exception.message)
            self.assertIn("Too many open files", raised.exception.message)
            self.assertIs(loader.plugin_state("alpha"), PluginState.UNLOADED)

            # Its own limits removed, the default ones apply.
            loader.clear_resource_limits("alpha")
            loader.set_resource_limits(address_space_bytes=4 << 30, cpu_seconds=60, open_files=256)
            loader.load("alpha")
            pid = loader.plugin_usage("alpha").pid
            self.assertEqual(proc_limit(pid, "Max open files"), ("256", "256"))
            # The CPU hard limit is a second above the soft one: SIGXCPU at the soft limit names the reason.
            self.assertEqual(proc_limit(pid, "Max cpu time"), ("60", "61"))
            self.assertEqual(proc_limit(pid, "Max address space"), (str(4 << 30),) * 2)
            loader.init("alpha")
            self.assertEqual(loader.invoke("alpha", Kind.TOOL, "echo", b"limited"), b"limited")
            loader.unload("alpha")

            # A plugin's own limits win over the default; clearing the default leaves no limit.
            loader.set_resource_limits(open_files=128, plugin_id="alpha")
            loader.load("alpha")
            pid = loader.plugin_usage("alpha").pid
            self.assertEqual(proc_limit(pid, "Max open files"), ("128", "128"))
            self.assertEqual(proc_limit(pid, "Max cpu time"), ("unlimited", "unlimited"))
            loader.unload("alpha")

            loader.clear_resource_limits("alpha")
            loader.clear_resource_limits()
            loader.load("alpha")
            pid = loader.plugin_usage("alpha").pid
            self.assertEqual(proc_limit(pid, "Max cpu time"), ("unlimited", "unlimited"))
            self.assertEqual(proc_limit(pid, "Max address space"), ("unlimited", "unlimited"))
            self.assertEqual(proc_limit(pid, "Max open files"), proc_limit(os.getpid(), "Max open files"))

    def test_limits_must_fit_the_c_api(self):
        with isolated_loader(self.root) as loader:
            for argument in ("address_space_bytes", "cpu_seconds", "open_files"):
                for bad in (-1, 2**64):
                    with self.subTest(argument=argument, value=bad):
                        with self.assertRaises(aisopod.CallerError) as raised:
                            loader.set_resource_limits(**{argument: bad})
                        self.assertEqual(raised.exception.status, Status.INVALID_ARGUMENT)
                        self.assertIn(f"argument '{argument}' is {bad}", raised.exception.message)
                with self.subTest(argument=argument, value="1"), self.assertRaises(TypeError):
                    loader.set_resource_limits(**{argument: "1"})
            loader.set_resource_limits(2**64 - 1, 2**64 - 1, 2**64 - 1, plugin_id="alpha")
            loader.clear_resource_limits("alpha")

    def test_a_closed_loader_refuses_every_isolation_call(self):
        loader = isolated_loader(self.root)
        loader.close()
        calls = {
            "set_isolation": lambda: loader.set_isolation(Isolation.PROCESS),
            "set_restart_policy": lambda: loader.set_restart_policy(1, 0),
            "set_resource_limits": lambda: loader.set_resource_limits(open_files=8),
            "clear_resource_limits": loader.clear_resource_limits,
            "plugin_usage": lambda: loader.plugin_usage("alpha"),
        }
        for name, call in calls.items():
            with self.subTest(call=name), self.assertRaises(aisopod.ClosedError):
                call()


if __name__ == "__main__":
    unittest.main()
