"""The plugin graph on real plugin trees: a dependency loaded first and refused to unload while needed, the
cascade, a host requirement a plugin does not meet, and the lazy policy's first call."""

import unittest

import aisopod_loader as aisopod
from aisopod_loader import Kind, PluginState, Status
from support import TreeTest, add_plugin, isolated_loader, manifest


class GraphTest(TreeTest):
    def setUp(self):
        super().setUp()
        add_plugin(self.root, "alpha", manifest("alpha") + '\n[dependencies]\nbeta = "^1.2"\n')
        add_plugin(self.root, "beta")

    def test_a_dependency_loads_first_and_stays_while_needed(self):
        with isolated_loader(self.root) as loader:
            self.assertEqual(loader.discover(), 2)
            [alpha] = [info for info in loader.plugins() if info.id == "alpha"]
            self.assertEqual(alpha.dependencies, [aisopod.Dependency("beta", "^1.2", False)])
            loader.load("alpha")
            self.assertIs(loader.plugin_state("beta"), PluginState.LOADED)
            loader.set_config("beta", "{}")
            loader.init("alpha")
            self.assertIs(loader.plugin_state("beta"), PluginState.INITIALIZED)
            with self.assertRaises(aisopod.CallerError) as raised:
                loader.unload("beta")
            self.assertIs(raised.exception.status, Status.HAS_DEPENDENTS)
            self.assertIn("plugin 'beta' is needed by loaded plugin(s) 'alpha'", raised.exception.message)
            loader.unload_cascade("beta")
            self.assertIs(loader.plugin_state("alpha"), PluginState.UNLOADED)

    def test_a_host_requirement_sets_aside_the_plugin_and_what_needs_it(self):
        with isolated_loader(self.root) as loader:
            loader.require("beta", ">=2")
            self.assertEqual(loader.discover(), 0)
            statuses = {diagnostic.status for diagnostic in loader.diagnostics()}
            self.assertEqual(statuses, {Status.VERSION_REJECTED})
            messages = " | ".join(diagnostic.message for diagnostic in loader.diagnostics())
            self.assertIn("plugin 'alpha' cannot be loaded: alpha -> beta: plugin 'beta' is version 1.2.3", messages)
            with self.assertRaises(aisopod.CallerError) as raised:
                loader.require("beta", "two")
            self.assertIs(raised.exception.status, Status.INVALID_ARGUMENT)
            loader.require("beta", None)
            self.assertEqual(loader.discover(), 2)

    def test_the_first_call_under_the_lazy_policy_loads_the_plugin_and_its_dependency(self):
        with isolated_loader(self.root) as loader:
            loader.discover()
            loader.set_lazy()
            self.assertEqual(loader.invoke("alpha", Kind.TOOL, "echo", b"first"), b"first")
            self.assertIs(loader.plugin_state("beta"), PluginState.INITIALIZED)
            loader.set_lazy(False)
            with self.assertRaises(aisopod.CallerError) as raised:
                loader.invoke("gamma", Kind.TOOL, "echo", b"x")
            self.assertIs(raised.exception.status, Status.NOT_LOADED)


if __name__ == "__main__":
    unittest.main()
