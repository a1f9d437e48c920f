"""Probing in helper processes and the quarantine, against real plugins: one that passes, one whose constructor
aborts, one that fails the ABI gate and one whose init never returns.

The library finds its helper, `aisopod-plugin-host`, in the cargo build tree it was built in, where
`cargo test` puts it.
"""

import signal
import time
import unittest

import aisopod_loader as aisopod
from aisopod_loader import Kind, Status
from support import TreeTest, add_plugin, isolated_loader

#: Every step of a probe that runs `init`, in order.
ALL_STEPS = [
    "manifest",
    "host version",
    "library path",
    "ELF header",
    "integrity",
    "signature",
    "dlopen",
    "ABI gate",
    "create",
    "plugin struct",
    "plugin id",
    "registration",
    "init",
    "unload",
]


def step_names(verdict):
    return [name for name, _ in verdict.steps]


class ProbeTest(TreeTest):
    def test_a_good_plugin_passes_every_step(self):
        add_plugin(self.root, "alpha")
        with isolated_loader(self.root) as loader:
            loader.discover()
            [verdict] = loader.probe(["alpha"], init_config="{}")
            self.assertEqual(loader.quarantine(), [])
        self.assertIsInstance(verdict, aisopod.ProbeVerdict)
        self.assertEqual(verdict.plugin_id, "alpha")
        self.assertIs(verdict.status, Status.OK)
        self.assertTrue(verdict.passed)
        self.assertIsNone(verdict.error())
        self.assertEqual((verdict.message, verdict.failed_step), ("", None))
        self.assertEqual(step_names(verdict), ALL_STEPS)
        for name, nanos in verdict.steps:
            self.assertIsInstance(nanos, int, name)
            self.assertGreaterEqual(nanos, 0, name)
        self.assertGreater(sum(nanos for _, nanos in verdict.steps), 0)
        self.assertEqual(
            verdict.capabilities,
            {Kind.TOOL: ["echo"], Kind.COMMAND: [], Kind.CHANNEL: [], Kind.PROVIDER: [], Kind.HOOK: ["ping"]},
        )
        self.assertEqual((verdict.signal, verdict.exit_code, verdict.stderr), (0, -1, ""))

    def test_without_an_init_config_init_is_not_probed(self):
        add_plugin(self.root, "alpha")
        with isolated_loader(self.root) as loader:
            loader.discover()
            [verdict] = loader.probe(["alpha"])
        self.assertTrue(verdict.passed)
        self.assertEqual(step_names(verdict), [step for step in ALL_STEPS if step != "init"])

    def test_none_probes_every_discovered_plugin_in_order_and_an_empty_list_none(self):
        for plugin_id in ("beta", "alpha"):
            add_plugin(self.root, plugin_id)
        with isolated_loader(self.root) as loader:
            self.assertEqual(loader.discover(), 2)
            discovered = [info.id for info in loader.plugins()]
            verdicts = loader.probe()
            self.assertEqual([v.plugin_id for v in verdicts], discovered)
            self.assertTrue(all(v.passed for v in verdicts), verdicts)
            self.assertEqual([v.plugin_id for v in loader.probe(("beta", b"alpha"))], ["beta", "alpha"])
            self.assertEqual(loader.probe([]), [])

    def test_a_crashing_constructor_is_named_and_quarantined(self):
        add_plugin(self.root, "alpha")
        library = add_plugin(self.root, "crasher") / "libcrasher.so"
        with isolated_loader(self.root) as loader:
            self.assertEqual(loader.discover(), 2)
            before = int(time.time())
            alpha, crash = loader.probe(["alpha", "crasher"], init_config="")
            after = int(time.time())
            self.assertTrue(alpha.passed)
            self.assertIs(crash.status, Status.PLUGIN_CRASHED)
            self.assertFalse(crash.passed)
            self.assertEqual(crash.failed_step, "dlopen")
            self.assertEqual(step_names(crash), ALL_STEPS[: ALL_STEPS.index("dlopen") + 1])
            self.assertEqual(
                crash.message,
                "plugin 'crasher' crashed during dlopen: its helper process was killed by signal SIGABRT; "
                "stderr: test plugin: constructor aborting",
            )
            self.assertEqual((crash.signal, crash.exit_code), (signal.SIGABRT, -1))
            self.assertIn("constructor aborting", crash.stderr)
            self.assertEqual(crash.capabilities[Kind.TOOL], [])
            error = crash.error()
            self.assertIsInstance(error, aisopod.PluginRuntimeError)
            self.assertEqual(error.status, Status.PLUGIN_CRASHED)

            [entry] = loader.quarantine()
            self.assertIsInstance(entry, aisopod.QuarantineEntry)
            self.assertEqual(entry.plugin_id, "crasher")
            self.assertEqual(entry.library_path, str(library))
            self.assertIs(entry.status, Status.PLUGIN_CRASHED)
            self.assertEqual(entry.reason, crash.message)
            self.assertIsInstance(entry.since, int)
            self.assertTrue(before - 1 <= entry.since <= after + 1, (before, entry.since, after))

            # Refused by load, set aside by discovery, until it is cleared.
            with self.assertRaises(aisopod.ManifestError) as raised:
                loader.load("crasher")
            self.assertEqual(raised.exception.status, Status.QUARANTINED)
            self.assertIn("plugin 'crasher' is quarantined since", raised.exception.message)
            self.assertEqual(loader.discover(), 1)
            [diagnostic] = loader.diagnostics()
            self.assertEqual(diagnostic.status, Status.QUARANTINED)
            self.assertIn("crasher", diagnostic.message)

            self.assertEqual(loader.clear_quarantine("alpha"), 0)
            self.assertEqual(loader.clear_quarantine("crasher"), 1)
            self.assertEqual(loader.quarantine(), [])
            self.assertEqual(loader.clear_quarantine(), 0)
            self.assertEqual(loader.discover(), 2)

    def test_the_abi_gate_quarantines_without_a_crash(self):
        add_plugin(self.root, "badabi")
        with isolated_loader(self.root) as loader:
            loader.discover()
            [verdict] = loader.probe(["badabi"])
            self.assertIs(verdict.status, Status.ABI_MISMATCH)
            self.assertEqual(verdict.failed_step, "ABI gate")
            self.assertIn("badabi", verdict.message)
            self.assertEqual((verdict.signal, verdict.exit_code, verdict.stderr), (0, -1, ""))
            self.assertEqual([(e.plugin_id, e.status) for e in loader.quarantine()], [("badabi", Status.ABI_MISMATCH)])
            self.assertEqual(loader.clear_quarantine(), 1)

    def test_probing_at_discovery_sets_a_crasher_aside(self):
        add_plugin(self.root, "alpha")
        add_plugin(self.root, "crasher")
        with isolated_loader(self.root) as loader:
            loader.set_probe_on_discover(True)
            self.assertEqual(loader.discover(), 1)
            self.assertEqual([info.id for info in loader.plugins()], ["alpha"])
            self.assertEqual([e.plugin_id for e in loader.quarantine()], ["crasher"])
            loader.set_probe_on_discover(False)
            loader.clear_quarantine()
            self.assertEqual(loader.discover(), 2, "without probing, discovery does not run the crasher")
            self.assertEqual(loader.quarantine(), [])


class DeadlineTest(TreeTest):
    def test_a_plugin_deadline_and_the_default_one_end_a_hung_init(self):
        add_plugin(self.root, "sleeper")
        with isolated_loader(self.root) as loader:
            loader.discover()
            loader.set_call_timeout(300, plugin_id="sleeper")
            started = time.monotonic()
            [verdict] = loader.probe(["sleeper"], init_config="")
            self.assertLess(time.monotonic() - started, 5)
            self.assertIs(verdict.status, Status.TIMEOUT)
            self.assertEqual(verdict.failed_step, "init")
            self.assertEqual(
                verdict.message, "plugin 'sleeper' did not finish init within 300 ms: its helper process was killed"
            )
            self.assertEqual((verdict.signal, verdict.exit_code), (0, -1))
            self.assertEqual([(e.plugin_id, e.status) for e in loader.quarantine()], [("sleeper", Status.TIMEOUT)])
            loader.clear_quarantine()

            # Without its own deadline, the one for every plugin applies.
            loader.set_call_timeout(0, plugin_id="sleeper")
            loader.set_call_timeout(200)
            [verdict] = loader.probe(["sleeper"], init_config="")
            self.assertIs(verdict.status, Status.TIMEOUT)
            self.assertIn("within 200 ms", verdict.message)
            loader.set_call_timeout(0)

    def test_a_deadline_must_fit_the_c_api(self):
        with isolated_loader(self.root) as loader:
            for bad in (-1, 2**32):
                with self.subTest(timeout_ms=bad):
                    with self.assertRaises(aisopod.CallerError) as raised:
                        loader.set_call_timeout(bad)
                    self.assertEqual(raised.exception.status, Status.INVALID_ARGUMENT)
                    self.assertIn("'timeout_ms'", raised.exception.message)
            loader.set_call_timeout(2**32 - 1)
            for bad in (1.5, "100", True):
                with self.subTest(timeout_ms=bad), self.assertRaises(TypeError):
                    loader.set_call_timeout(bad)


class ProbeErrorTest(TreeTest):
    def test_an_unknown_id_probes_nothing(self):
        add_plugin(self.root, "alpha")
        with isolated_loader(self.root) as loader:
            loader.discover()
            with self.assertRaises(aisopod.CallerError) as raised:
                loader.probe(["alpha", "ghost"])
            self.assertEqual(raised.exception.status, Status.NOT_FOUND)
            self.assertIn("aisopod_loader_probe", raised.exception.message)
            self.assertIn("'ghost'", raised.exception.message)

    def test_bad_ids_are_refused_before_the_call(self):
        with isolated_loader(self.root) as loader:
            with self.assertRaises(TypeError):
                loader.probe("alpha")
            with self.assertRaises(aisopod.CallerError) as raised:
                loader.probe(["al\0pha"])
            self.assertEqual(raised.exception.status, Status.INVALID_ARGUMENT)
            self.assertIn("argument 'ids' contains a NUL byte at offset 2", raised.exception.message)

    def test_a_helper_path_that_does_not_exist_is_named(self):
        add_plugin(self.root, "alpha")
        missing = self.root / "no-such-helper"
        with isolated_loader(self.root) as loader:
            loader.discover()
            loader.set_helper_path(missing)
            with self.assertRaises(aisopod.HelperError) as raised:
                loader.probe(["alpha"])
            self.assertEqual(raised.exception.status, Status.HELPER_UNAVAILABLE)
            self.assertIn(str(missing), raised.exception.message)
            loader.set_helper_path(None)
            [verdict] = loader.probe(["alpha"])
            self.assertTrue(verdict.passed)

    def test_a_closed_loader_refuses_every_probe_call(self):
        loader = isolated_loader(self.root)
        loader.close()
        calls = {
            "probe": lambda: loader.probe(),
            "quarantine": loader.quarantine,
            "clear_quarantine": loader.clear_quarantine,
            "set_helper_path": lambda: loader.set_helper_path(None),
            "set_call_timeout": lambda: loader.set_call_timeout(100),
            "set_probe_on_discover": lambda: loader.set_probe_on_discover(True),
        }
        for name, call in calls.items():
            with self.subTest(call=name), self.assertRaises(aisopod.ClosedError):
                call()


if __name__ == "__main__":
    unittest.main()
