"""The load report against the real test plugin: parsed from `Loader.report`, with a loaded plugin and its
metrics, a discovered plugin left unloaded, and a refused candidate's diagnostic by its stable status name."""

from support import TreeTest, add_manifest_only, add_plugin, isolated_loader
from aisopod_loader import Kind, Status


class ReportTest(TreeTest):
    def test_the_report_names_what_was_loaded_found_and_refused(self):
        add_plugin(self.root, "alpha")
        add_plugin(self.root, "beta")
        add_manifest_only(self.root, "broken", "[plugin]\nid = 'broken'\n")
        with isolated_loader(self.root, host_version="1.4.0") as loader:
            loader.discover()
            loader.set_metrics(True)
            loader.load("alpha")
            loader.init("alpha", "{}")
            loader.invoke("alpha", Kind.TOOL, "echo", b"x")
            report = loader.report()
        self.assertEqual(report["schema"], "aisopod-loader-report/1")
        self.assertEqual(report["loader"]["host_version"], "1.4.0")
        self.assertEqual(report["loader"]["search_paths"], [str(self.root)])
        self.assertTrue(report["loader"]["metrics"])
        [alpha] = report["loaded"]
        self.assertEqual(alpha["id"], "alpha")
        self.assertEqual(alpha["state"], "AISOPOD_PLUGIN_STATE_INITIALIZED")
        capabilities = {"tools": ["echo"], "commands": [], "channels": [], "providers": [], "hooks": ["ping"]}
        self.assertEqual(alpha["capabilities"], capabilities)
        echo = [c for c in alpha["metrics"]["capabilities"] if c["name"] == "echo"]
        self.assertEqual([(c["kind"], c["calls"], c["failures"]) for c in echo], [("tool", 1, 0)])
        self.assertEqual([p["id"] for p in report["discovered"]], ["beta"])
        [diagnostic] = report["diagnostics"]
        self.assertEqual(diagnostic["status"], "AISOPOD_STATUS_MANIFEST_PARSE")
        self.assertEqual(diagnostic["code"], Status.MANIFEST_PARSE)
        self.assertTrue(diagnostic["path"].endswith("broken/aisopod.plugin.toml"), diagnostic)
        self.assertEqual(report["quarantine"], [])
