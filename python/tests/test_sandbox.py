"""The sandbox of isolated plugins, against the test plugin built as "mischief" in real helper processes: a
sandboxed plugin reads and writes only what its manifest's `[permissions]` declares and the loader grants, and
opens sockets and runs programs only when both allow it. A refused attempt fails inside the plugin, with
"Permission denied" from Landlock or "Operation not permitted" from seccomp, and the plugin goes on.

The refusals need Landlock; on a kernel without it they are skipped, saying so. What the C API refuses, and
what `SandboxPolicy.REQUIRE` does on either kind of kernel, is checked everywhere.
"""

import ctypes
import sys
import unittest
from pathlib import Path

import aisopod_loader as aisopod
from aisopod_loader import Isolation, Kind, Permission, PluginState, SandboxPolicy, Status
from support import TreeTest, add_plugin, isolated_loader, manifest

DENIED_BY_LANDLOCK = b"Permission denied"
DENIED_BY_SECCOMP = b"Operation not permitted"

#: `landlock_create_ruleset`: new system calls have one number on every Linux architecture.
SYS_LANDLOCK_CREATE_RULESET = 444
#: Its flag that asks only for the ABI version.
LANDLOCK_CREATE_RULESET_VERSION = 1


def landlock_abi():
    """The running kernel's Landlock ABI version, or 0 without Landlock."""
    if not sys.platform.startswith("linux"):
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(
        ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET),
        ctypes.c_void_p(None),
        ctypes.c_size_t(0),
        ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION),
    )
    return max(abi, 0)


NO_LANDLOCK = "landlock_create_ruleset says this kernel has no Landlock, so the sandbox cannot restrict files"


def toml_string(path):
    """`path` as a TOML basic string."""
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


class SandboxedTest(TreeTest):
    """`self.granted` and `self.secret`, directories with a file each outside the plugin's directory, and
    "mischief" in `self.root / "plugins"`, declaring what each test asks for."""

    def setUp(self):
        super().setUp()
        self.granted = self.root / "granted"
        self.secret = self.root / "secret"
        for directory in (self.granted, self.secret):
            directory.mkdir()
            (directory / "file").write_text("content")

    def loader(self, permissions, policy=SandboxPolicy.REQUIRE):
        """A loader that runs "mischief" isolated under `policy`, its manifest's `[permissions]` holding
        `permissions` (TOML lines)."""
        add_plugin(self.root / "plugins", "mischief", manifest("mischief") + "\n[permissions]\n" + permissions)
        loader = isolated_loader(self.root / "plugins")
        self.addCleanup(loader.close)
        loader.set_isolation(Isolation.PROCESS, plugin_id="mischief")
        loader.set_sandbox_policy(policy)
        self.assertEqual(loader.discover(), 1)
        return loader

    def reload(self, loader):
        """Loads and initializes "mischief" afresh: grants and the policy apply from a plugin's next load."""
        if loader.plugin_state("mischief") is not PluginState.UNLOADED:
            loader.unload("mischief")
        loader.load("mischief")
        loader.init("mischief", "{}")

    def attempt(self, loader, what):
        """What "mischief" answers when asked to try `what`: b"ok", or the error's text."""
        return loader.invoke("mischief", Kind.TOOL, "echo", what)


class SandboxRefusalTest(SandboxedTest):
    def setUp(self):
        super().setUp()
        if not landlock_abi():
            self.skipTest(NO_LANDLOCK)

    def test_a_sandboxed_plugin_reads_only_what_it_declares_and_is_granted(self):
        loader = self.loader(f"read = [{toml_string(self.granted)}, {toml_string(self.secret)}]")
        loader.grant(Permission.READ, self.granted, plugin_id="mischief")
        self.reload(loader)
        self.assertEqual(self.attempt(loader, f"read:{self.granted}/file"), b"ok")
        self.assertEqual(self.attempt(loader, f"read:{self.secret}/file"), DENIED_BY_LANDLOCK, "declared only")
        self.assertEqual(self.attempt(loader, "read:/etc/hostname"), DENIED_BY_LANDLOCK, "neither")
        self.assertEqual(self.attempt(loader, f"write:{self.granted}/new"), DENIED_BY_LANDLOCK, "read only")
        self.assertFalse((self.granted / "new").exists())
        # The refusals failed inside the plugin, which goes on.
        self.assertEqual(self.attempt(loader, "calm"), b"calm")
        self.assertIs(loader.plugin_state("mischief"), PluginState.INITIALIZED)

        # Its own grant taken back, the declaration alone gives nothing.
        loader.revoke_grants("mischief")
        self.reload(loader)
        self.assertEqual(self.attempt(loader, f"read:{self.granted}/file"), DENIED_BY_LANDLOCK)

    def test_writes_need_a_declared_and_granted_write_path(self):
        out = self.root / "out"
        out.mkdir()
        loader = self.loader(f"write = [{toml_string(out)}]")
        # Granted to every plugin, on a tree holding the declared path: a pathlib.Path will do.
        loader.grant(Permission.WRITE, self.root)
        self.reload(loader)
        self.assertEqual(self.attempt(loader, f"write:{out}/made"), b"ok")
        self.assertTrue((out / "made").exists())
        self.assertEqual(self.attempt(loader, f"read:{out}/made"), b"ok", "a write grant covers reading")
        self.assertEqual(self.attempt(loader, f"write:{self.secret}/made"), DENIED_BY_LANDLOCK, "not declared")
        self.assertFalse((self.secret / "made").exists())

        loader.revoke_grants()
        self.reload(loader)
        self.assertEqual(self.attempt(loader, f"write:{out}/again"), DENIED_BY_LANDLOCK)
        self.assertFalse((out / "again").exists())

    def test_sockets_and_programs_need_the_declaration_and_the_grant(self):
        loader = self.loader("network = true\nsubprocess = true")
        self.reload(loader)
        self.assertEqual(self.attempt(loader, "socket"), DENIED_BY_SECCOMP, "declared, not granted")
        self.assertEqual(self.attempt(loader, "exec"), DENIED_BY_SECCOMP)

        loader.grant(Permission.NETWORK)
        loader.grant(Permission.SUBPROCESS, plugin_id="mischief")
        self.reload(loader)
        self.assertEqual(self.attempt(loader, "socket"), b"ok")
        self.assertEqual(self.attempt(loader, "exec"), b"ok")

        # Its own grant taken back; the one to every plugin stays.
        loader.revoke_grants("mischief")
        self.reload(loader)
        self.assertEqual(self.attempt(loader, "socket"), b"ok")
        self.assertEqual(self.attempt(loader, "exec"), DENIED_BY_SECCOMP)

    def test_granted_but_not_declared_is_refused(self):
        loader = self.loader("")
        loader.grant(Permission.READ, self.root)
        loader.grant(Permission.NETWORK)
        loader.grant(Permission.SUBPROCESS)
        self.reload(loader)
        self.assertEqual(self.attempt(loader, f"read:{self.granted}/file"), DENIED_BY_LANDLOCK)
        self.assertEqual(self.attempt(loader, "socket"), DENIED_BY_SECCOMP)
        self.assertEqual(self.attempt(loader, "exec"), DENIED_BY_SECCOMP)

    def test_the_sandbox_can_be_turned_off(self):
        loader = self.loader("", policy=SandboxPolicy.OFF)
        self.reload(loader)
        self.assertEqual(self.attempt(loader, f"read:{self.secret}/file"), b"ok")
        self.assertEqual(self.attempt(loader, "socket"), b"ok")
        self.assertEqual(self.attempt(loader, "exec"), b"ok")

        loader.set_sandbox_policy(SandboxPolicy.BEST_EFFORT)
        self.reload(loader)
        self.assertEqual(self.attempt(loader, f"read:{self.secret}/file"), DENIED_BY_LANDLOCK, "the default")


class SandboxPolicyTest(SandboxedTest):
    def test_require_loads_only_where_the_kernel_can_sandbox(self):
        loader = self.loader("")
        if landlock_abi():
            self.reload(loader)
            self.assertEqual(self.attempt(loader, f"read:{self.secret}/file"), DENIED_BY_LANDLOCK)
            return
        with self.assertRaises(aisopod.HelperError) as raised:
            loader.load("mischief")
        self.assertEqual(raised.exception.status, Status.SANDBOX_UNAVAILABLE)
        self.assertIn("aisopod_loader_load", raised.exception.message)
        self.assertIn("mischief", raised.exception.message)
        self.assertIs(loader.plugin_state("mischief"), PluginState.UNLOADED)

    def test_grants_must_fit_the_c_api(self):
        loader = isolated_loader(self.root)
        self.addCleanup(loader.close)
        refused = (
            ((Permission.READ, "relative/dir"), "argument 'path' is relative/dir, not an absolute path"),
            ((Permission.WRITE,), "argument 'path' is NULL"),
            ((Permission.NETWORK, "/tmp"), "argument 'path' is /tmp; this permission takes none"),
            ((Permission.SUBPROCESS, Path("/usr/bin")), "argument 'path' is /usr/bin; this permission takes none"),
            ((9,), "argument 'permission' is 9, not an AISOPOD_PERMISSION_* value"),
            ((-1,), "Loader.grant: argument 'permission' is -1"),
            ((Permission.READ, "/tmp\0x"), "Loader.grant: argument 'path' contains a NUL byte at offset 4"),
        )
        for args, message in refused:
            with self.subTest(args=args):
                with self.assertRaises(aisopod.CallerError) as raised:
                    loader.grant(*args)
                self.assertEqual(raised.exception.status, Status.INVALID_ARGUMENT)
                self.assertIn(message, raised.exception.message)
        with self.assertRaises(aisopod.CallerError) as raised:
            loader.grant(Permission.READ, "/tmp", plugin_id="mis\0chief")
        self.assertIn("argument 'plugin_id' contains a NUL byte", raised.exception.message)
        for bad in ("read", True, None, 1.0):
            with self.subTest(permission=bad), self.assertRaises(TypeError):
                loader.grant(bad, "/tmp")
        # Grants and their revocation for ids not (yet) discovered are kept, not refused.
        loader.grant(Permission.READ, b"/tmp", plugin_id="later")
        loader.revoke_grants("later")
        loader.revoke_grants()

    def test_a_policy_must_be_one_of_the_c_api(self):
        loader = isolated_loader(self.root)
        self.addCleanup(loader.close)
        with self.assertRaises(aisopod.CallerError) as raised:
            loader.set_sandbox_policy(9)
        self.assertEqual(raised.exception.status, Status.INVALID_ARGUMENT)
        self.assertIn("aisopod_loader_set_sandbox_policy: argument 'policy' is 9", raised.exception.message)
        with self.assertRaises(aisopod.CallerError) as raised:
            loader.set_sandbox_policy(2**32)
        self.assertIn("argument 'policy' is 4294967296", raised.exception.message)
        for bad in ("off", False, None):
            with self.subTest(policy=bad), self.assertRaises(TypeError):
                loader.set_sandbox_policy(bad)
        for policy in SandboxPolicy:
            loader.set_sandbox_policy(policy)

    def test_a_closed_loader_refuses_every_sandbox_call(self):
        loader = isolated_loader(self.root)
        loader.close()
        calls = {
            "set_sandbox_policy": lambda: loader.set_sandbox_policy(SandboxPolicy.OFF),
            "grant": lambda: loader.grant(Permission.NETWORK),
            "revoke_grants": loader.revoke_grants,
        }
        for name, call in calls.items():
            with self.subTest(call=name), self.assertRaises(aisopod.ClosedError):
                call()


if __name__ == "__main__":
    unittest.main()
