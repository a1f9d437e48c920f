"""The file policy and the allow and deny lists, on real plugin trees: a group-writable plugin directory, a
manifest writable by others and a group-writable library under each policy; plugins kept out by id; and
publisher signatures, made by the `aisopod-sign` binary cargo built next to the library."""

import os
import subprocess
import tempfile
import unittest
from pathlib import Path

import aisopod_loader as aisopod
from aisopod_loader import FilePolicy, LogLevel, SignaturePolicy, Status
from support import TreeTest, add_plugin, isolated_loader, sign_tool


class FilePolicyTest(TreeTest):
    def setUp(self):
        super().setUp()
        # Only alpha and beta are ever loaded here; the other two builds are only discovered.
        add_plugin(self.root, "alpha")
        self.gw_dir = add_plugin(self.root, "badabi")
        os.chmod(self.gw_dir, 0o775)
        self.ww_manifest = add_plugin(self.root, "crasher") / "aisopod.plugin.toml"
        os.chmod(self.ww_manifest, 0o646)
        self.gw_lib = add_plugin(self.root, "beta") / "libbeta.so"
        os.chmod(self.gw_lib, 0o775)

    def test_strict_is_the_default_and_names_each_file_its_mode_and_owner(self):
        with isolated_loader(self.root) as loader:
            self.assertEqual(loader.discover(), 2)
            diagnostics = {d.path: (d.status, d.message) for d in loader.diagnostics()}
            gw_dir_manifest = str(self.gw_dir / "aisopod.plugin.toml")
            self.assertEqual(sorted(diagnostics), sorted([gw_dir_manifest, str(self.ww_manifest)]))
            status, message = diagnostics[gw_dir_manifest]
            self.assertIs(status, Status.UNSAFE_PERMISSIONS)
            expected = f"{self.gw_dir}: the plugin directory is writable by its group (mode 0775, owner uid "
            self.assertIn(expected, message)
            status, message = diagnostics[str(self.ww_manifest)]
            self.assertIs(status, Status.UNSAFE_PERMISSIONS)
            self.assertIn(f"{self.ww_manifest}: the manifest is writable by others (mode 0646,", message)
            with self.assertRaises(aisopod.ManifestError) as raised:
                loader.load("beta")
            self.assertIs(raised.exception.status, Status.UNSAFE_PERMISSIONS)
            expected = f"plugin 'beta': {self.gw_lib}: the library is writable by its group"
            self.assertIn(expected, str(raised.exception))
            self.assertIn("(chmod g-w would make it safe)", str(raised.exception))

    def test_warn_accepts_with_a_warning_per_file_and_off_looks_at_nothing(self):
        warnings = []
        with isolated_loader(self.root) as loader:
            def on_log(level, source, message):
                if level == LogLevel.WARN:
                    warnings.append(message)

            loader.set_log_callback(on_log)
            loader.set_file_policy(FilePolicy.WARN)
            self.assertEqual(loader.discover(), 4)
            self.assertEqual(len(warnings), 2, warnings)
            loader.load("beta")
            loader.unload("beta")
            self.assertEqual(len(warnings), 3, warnings)
            self.assertTrue(all(w.endswith("accepted, since the file policy is warn") for w in warnings), warnings)
            self.assertIn(f"{self.gw_lib}: the library is writable by its group (mode 0775", warnings[2])
            loader.set_file_policy(FilePolicy.OFF)
            self.assertEqual(loader.discover(), 4)
            self.assertEqual(len(warnings), 3)

    def test_a_value_outside_the_enum_is_refused(self):
        with isolated_loader(self.root) as loader:
            with self.assertRaises(aisopod.CallerError) as raised:
                loader.set_file_policy(7)
            self.assertIs(raised.exception.status, Status.INVALID_ARGUMENT)
            self.assertIn("'policy' is 7", raised.exception.message)
            with self.assertRaises(TypeError):
                loader.set_file_policy("strict")


class ListsTest(TreeTest):
    def test_denied_and_unlisted_plugins_are_diagnostics_and_refused_at_load(self):
        add_plugin(self.root, "alpha")
        beta = add_plugin(self.root, "beta")
        with isolated_loader(self.root) as loader:
            loader.deny("beta")
            self.assertEqual(loader.discover(), 1)
            [diagnostic] = loader.diagnostics()
            self.assertIs(diagnostic.status, Status.DENIED)
            denied = f"{beta}/aisopod.plugin.toml: plugin 'beta' is on the host's deny list"
            self.assertEqual(diagnostic.message, denied)
            with self.assertRaises(aisopod.ManifestError) as raised:
                loader.load("beta")
            self.assertIs(raised.exception.status, Status.DENIED)
            loader.clear_lists()
            loader.allow("beta")
            self.assertEqual(loader.discover(), 1)
            [diagnostic] = loader.diagnostics()
            self.assertIn("plugin 'alpha' is not on the host's allow list ('beta')", diagnostic.message)
            loader.load("beta")
            loader.unload("beta")
            with self.assertRaises(aisopod.CallerError) as raised:
                loader.allow("Alpha")
            self.assertIs(raised.exception.status, Status.INVALID_ARGUMENT)
            self.assertIn('"Alpha", which is no plugin id', raised.exception.message)


class SignatureTest(TreeTest):
    def setUp(self):
        super().setUp()
        tool = str(sign_tool())
        keys = tempfile.TemporaryDirectory(prefix="aisopod-python-keys-")
        self.addCleanup(keys.cleanup)
        secret, public = Path(keys.name) / "key.secret", Path(keys.name) / "key.public"
        subprocess.run([tool, "keygen", str(secret), str(public)], check=True, capture_output=True)
        self.public_key = bytes.fromhex(public.read_text().strip())
        add_plugin(self.root, "alpha")
        add_plugin(self.root, "beta")
        subprocess.run([tool, "sign", str(secret), str(self.root / "alpha")], check=True, capture_output=True)

    def test_a_signed_plugin_loads_and_an_unsigned_one_only_while_allowed(self):
        with isolated_loader(self.root) as loader:
            loader.trust_key(self.public_key)
            self.assertEqual(loader.discover(), 2)
            loader.load("beta")
            loader.unload("beta")
            loader.set_signature_policy(SignaturePolicy.REQUIRED)
            loader.load("alpha")
            loader.unload("alpha")
            with self.assertRaises(aisopod.PluginLoadError) as raised:
                loader.load("beta")
            self.assertIs(raised.exception.status, Status.UNSIGNED)
            self.assertIn("plugin 'beta' is unsigned", raised.exception.message)

    def test_a_key_must_have_32_bytes_and_a_policy_be_known(self):
        with isolated_loader(self.root) as loader:
            with self.assertRaises(aisopod.CallerError) as raised:
                loader.trust_key(self.public_key[:31])
            self.assertIs(raised.exception.status, Status.INVALID_ARGUMENT)
            self.assertIn("argument 'len' is 31", raised.exception.message)
            with self.assertRaises(TypeError):
                loader.trust_key("not bytes")
            with self.assertRaises(aisopod.CallerError) as raised:
                loader.set_signature_policy(7)
            self.assertIn("not an AISOPOD_SIGNATURES_* value", raised.exception.message)


if __name__ == "__main__":
    unittest.main()
