"""What the tests share: the real library and real plugins that `cargo test --test python_package` builds, and
temporary plugin trees made from them.

The cargo test passes, through the environment:
  AISOPOD_LOADER_LIBRARY  the libaisopod_loader.so it built;
  AISOPOD_TEST_PLUGINS    a directory holding `lib/lib<id>.so`, the C test plugin (tests/plugins/test_plugin.c)
                          compiled for each id below, and `hello/`, the example plugin with its manifest;
  AISOPOD_SIGN            the aisopod-sign binary it built.
"""

import ctypes
import os
import shutil
import sys
import tempfile
import unittest
from pathlib import Path

import aisopod_loader as aisopod

REPOSITORY = Path(__file__).resolve().parents[2]
HEADER = Path(os.environ.get("AISOPOD_LOADER_HEADER", REPOSITORY / "include" / "aisopod_loader.h"))

#: Test-plugin builds: the id compiled in, and what else is switched on.
#:   alpha, beta   the default behaviour (tool "echo", hook "ping");
#:   badabi        aisopod_plugin_abi_version returns 2;
#:   crasher       a constructor aborts, so dlopen never returns: only ever probed, in a helper process;
#:   sleeper       init never returns: only ever probed, with a short deadline;
#:   mischief      tool "echo" segfaults, exits or hangs on the inputs "segfault", "exit" and "hang", and tries
#:                 "read:<path>", "write:<path>", "socket" and "exec", answering "ok" or the error's text: only
#:                 ever run isolated.
TEST_PLUGIN_IDS = ("alpha", "beta", "badabi", "crasher", "sleeper", "mischief")


def _required(variable: str) -> Path:
    value = os.environ.get(variable)
    if not value:
        raise RuntimeError(
            f"{variable} is not set: these tests use the library and plugins that "
            "`cargo test --test python_package` builds; run them through it"
        )
    return Path(value)


def library_path() -> Path:
    return _required(aisopod.ENV_VAR)


def sign_tool() -> Path:
    return _required("AISOPOD_SIGN")


def plugins_dir() -> Path:
    return _required("AISOPOD_TEST_PLUGINS")


def manifest(plugin_id: str, **plugin_fields: str) -> str:
    """The test plugin's manifest, as tests/common/mod.rs writes it; `plugin_fields` adds raw `[plugin]` lines."""
    extra = "".join(f"{key} = {value}\n" for key, value in plugin_fields.items())
    return f"""[plugin]
id = "{plugin_id}"
name = "Test plugin {plugin_id}"
version = "1.2.3"
description = "A plugin built for the loader's tests."
author = "Tests"
entry_point = "{plugin_id}"
{extra}
[capabilities]
tools = ["echo"]
hooks = ["ping"]

[compatibility]
min_host_version = "1.0.0"
max_host_version = "1.9.0"
"""


def add_plugin(root: Path, plugin_id: str, manifest_text: str = "", directory: str = "") -> Path:
    """`root/<directory or id>` with the manifest and a copy of the test plugin built for `plugin_id`.

    A copy, not a link: each plugin gets its own inode, so the dynamic linker loads each separately."""
    target = root / (directory or plugin_id)
    target.mkdir(parents=True, exist_ok=True)
    (target / "aisopod.plugin.toml").write_text(manifest_text or manifest(plugin_id))
    shutil.copyfile(plugins_dir() / "lib" / f"lib{plugin_id}.so", target / f"lib{plugin_id}.so")
    return target


def add_manifest_only(root: Path, directory: str, manifest_text: str) -> Path:
    target = root / directory
    target.mkdir(parents=True, exist_ok=True)
    path = target / "aisopod.plugin.toml"
    path.write_text(manifest_text)
    return path


def add_hello(root: Path) -> Path:
    return Path(shutil.copytree(plugins_dir() / "hello", root / "hello"))


def isolated_loader(*search_paths: Path, host_version: str = "1.0.0") -> aisopod.Loader:
    """A loader that searches exactly `search_paths`: no plugin of the machine leaks into a test."""
    return aisopod.Loader(host_version, search_paths=search_paths, use_env_path=False, use_default_paths=False)


class TestEvents(ctypes.Structure):
    """The `test.events` host extension the test plugin records its lifecycle through."""

    RECORD = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p)
    _fields_ = [("context", ctypes.c_void_p), ("record", RECORD)]

    def __init__(self) -> None:
        self.events = []

        def record(context, plugin, event):
            self.events.append(f"{plugin.decode()}:{event.decode()}")

        self._record = self.RECORD(record)
        super().__init__(None, self._record)


class TestCallback(ctypes.Structure):
    """The `test.callback` host extension the echo handler calls for the input "callback"."""

    CALL = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
    _fields_ = [("context", ctypes.c_void_p), ("call", CALL)]

    def __init__(self, function) -> None:
        def call(context):
            function()

        self._call = self.CALL(call)
        super().__init__(None, self._call)


class TreeTest(unittest.TestCase):
    """A test with a fresh temporary directory, `self.root`."""

    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="aisopod-python-")
        self.root = Path(self._tmp.name)
        self.addCleanup(self._tmp.cleanup)


def python() -> str:
    return sys.executable
