"""Per-plugin metrics against the real test plugin: off by default, then calls by name, resolved and through
hooks counted with their failures and latency, in this process and isolated, and reset by an unload."""

import aisopod_loader as aisopod
from aisopod_loader import Isolation, Kind, Status
from support import TreeTest, add_plugin, isolated_loader


class MetricsTest(TreeTest):
    def test_metrics_are_off_until_turned_on(self):
        add_plugin(self.root, "alpha")
        with isolated_loader(self.root) as loader:
            loader.discover()
            loader.load("alpha")
            with self.assertRaises(aisopod.CallerError) as raised:
                loader.plugin_metrics("alpha")
            self.assertEqual(raised.exception.status, Status.INVALID_ARGUMENT)
            self.assertIn("plugin 'alpha'", str(raised.exception))

    def test_calls_are_counted_with_failures_and_latency(self):
        add_plugin(self.root, "alpha")
        with isolated_loader(self.root) as loader:
            loader.discover()
            loader.set_metrics(True)
            loader.load("alpha")
            loader.init("alpha", "{}")
            with loader.resolve("alpha", Kind.TOOL, "echo") as echo:
                for _ in range(3):
                    loader.invoke("alpha", Kind.TOOL, "echo", b"x")
                    echo.invoke(b"x")
                with self.assertRaises(aisopod.PluginRuntimeError):
                    echo.invoke(b"fail")
            loader.emit("ping")
            tool = loader.capability_metrics("alpha", Kind.TOOL, "echo")
            self.assertIsInstance(tool, aisopod.CapabilityMetrics)
            self.assertEqual((tool.count, tool.failures), (7, 1))
            self.assertTrue(0 < tool.p50_ns <= tool.p99_ns <= tool.total_ns, tool)
            plugin = loader.plugin_metrics("alpha")
            self.assertIsInstance(plugin, aisopod.PluginMetrics)
            self.assertEqual((plugin.calls, plugin.failures), (8, 1))
            self.assertGreater(plugin.load_ns, 0)
            self.assertGreater(plugin.init_ns, 0)
            with self.assertRaises(aisopod.CallerError) as raised:
                loader.capability_metrics("alpha", Kind.TOOL, "nothing")
            self.assertEqual(raised.exception.status, Status.CAPABILITY_NOT_FOUND)
            loader.unload("alpha")
            with self.assertRaises(aisopod.CallerError) as raised:
                loader.plugin_metrics("alpha")
            self.assertEqual(raised.exception.status, Status.NOT_LOADED)
            loader.load("alpha")
            self.assertEqual(loader.plugin_metrics("alpha").calls, 0, "a new load starts from zero")

    def test_an_isolated_plugin_is_counted(self):
        add_plugin(self.root, "alpha")
        with isolated_loader(self.root) as loader:
            loader.set_isolation(Isolation.PROCESS)
            loader.set_metrics()
            loader.discover()
            loader.load("alpha")
            loader.init("alpha", "{}")
            loader.invoke("alpha", Kind.TOOL, "echo", b"x")
            tool = loader.capability_metrics("alpha", Kind.TOOL, "echo")
            self.assertEqual((tool.count, tool.failures, tool.cpu_ns), (1, 0, 0))
            self.assertGreater(tool.p50_ns, 0)
