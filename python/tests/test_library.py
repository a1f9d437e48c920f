"""Finding and opening libaisopod_loader: the order documented in `open_library`, and errors that say what was
tried."""

import ctypes.util
import os
import subprocess
import tempfile
import unittest
from pathlib import Path

import aisopod_loader as aisopod
import support
from aisopod_loader import _library


def run_python(code, env):
    """Runs `code` in a fresh interpreter, so that the process-wide cache of opened libraries starts empty."""
    return subprocess.run([support.python(), "-c", code], env=env, capture_output=True, text=True, timeout=60)


def clean_environment():
    env = dict(os.environ)
    for variable in (aisopod.ENV_VAR, "LD_LIBRARY_PATH"):
        env.pop(variable, None)
    return env


class LibraryTest(unittest.TestCase):
    def test_the_package_under_test_is_the_copy_meant(self):
        # The cargo test installs the package into a virtual environment and says where; the suite must not
        # import the source tree by accident.
        origin = str(Path(os.environ["AISOPOD_TEST_PACKAGE_ORIGIN"]).resolve())
        package = str(Path(aisopod.__file__).resolve())
        self.assertEqual(os.path.commonpath([origin, package]), origin, package)

    def test_the_environment_variable_names_the_library(self):
        library = aisopod.open_library()
        self.assertEqual(library.path, str(support.library_path()))
        self.assertIs(aisopod.open_library(), library, "opened once per location")
        self.assertEqual(library.version, aisopod.__version__)
        self.assertEqual(aisopod.version(), aisopod.__version__)

    def test_an_explicit_path_wins_over_the_environment(self):
        missing = "/nonexistent/libaisopod_loader.so"
        with self.assertRaises(aisopod.LoaderLibraryError) as raised:
            aisopod.open_library(missing)
        message = str(raised.exception)
        self.assertIn(f"the path given ({missing})", message)
        self.assertIn("No such file", message)
        with self.assertRaises(aisopod.LoaderLibraryError):
            aisopod.Loader("1.0.0", library=missing)

    def test_a_bad_environment_variable_is_an_error_naming_it(self):
        env = clean_environment()
        env[aisopod.ENV_VAR] = "/nonexistent/libaisopod_loader.so"
        result = run_python("import aisopod_loader as a; a.Loader('1.0.0')", env)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("LoaderLibraryError", result.stderr)
        self.assertIn(f"${aisopod.ENV_VAR} (/nonexistent/libaisopod_loader.so)", result.stderr)

    def test_a_library_that_is_not_the_loader_is_refused_by_symbol(self):
        # A real shared library without the C API: the test plugin exports only the plugin entry points.
        plugin = support.plugins_dir() / "lib" / "libalpha.so"
        with self.assertRaises(aisopod.LoaderLibraryError) as raised:
            aisopod.open_library(plugin)
        self.assertIn(str(plugin), str(raised.exception))
        self.assertIn("does not export aisopod_", str(raised.exception))

    def test_the_search_finds_the_development_name_on_ld_library_path(self):
        env = clean_environment()
        env["LD_LIBRARY_PATH"] = str(support.library_path().parent)
        result = run_python("import aisopod_loader as a; l = a.open_library(); print(l.path, l.version)", env)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split(), ["libaisopod_loader.so", aisopod.__version__])

    def test_the_search_tries_the_installed_name_first(self):
        with tempfile.TemporaryDirectory() as directory:
            installed = Path(directory) / "libaisopod_loader.so.0"
            installed.symlink_to(support.library_path())
            # Both names are on the path; the installed one is tried first.
            (Path(directory) / "libaisopod_loader.so").symlink_to(support.library_path())
            env = clean_environment()
            env["LD_LIBRARY_PATH"] = directory
            result = run_python("import aisopod_loader as a; print(a.open_library().path)", env)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), "libaisopod_loader.so.0")

    def test_a_failed_search_lists_every_attempt(self):
        if ctypes.util.find_library("aisopod_loader"):
            self.skipTest("this machine has libaisopod_loader installed, so the search cannot fail")
        result = run_python("import aisopod_loader as a; a.open_library()", clean_environment())
        self.assertNotEqual(result.returncode, 0)
        for attempt in (
            "the dynamic linker's search for libaisopod_loader.so.0: libaisopod_loader.so.0: cannot open",
            'ctypes.util.find_library("aisopod_loader"): found nothing',
            "the dynamic linker's search for libaisopod_loader.so: libaisopod_loader.so: cannot open",
            aisopod.ENV_VAR,
        ):
            self.assertIn(attempt, result.stderr)

    def test_compatible_versions(self):
        self.assertTrue(_library.compatible("0.1.0", "0.1.7"))
        self.assertFalse(_library.compatible("0.1.0", "0.2.0"), "0.x minors may break the C API")
        self.assertTrue(_library.compatible("1.2.0", "1.4.1"))
        self.assertFalse(_library.compatible("1.2.0", "1.1.0"), "older than the package")
        self.assertFalse(_library.compatible("1.2.0", "2.0.0"))
        self.assertTrue(_library.compatible("0.1.0", "0.1.0-rc.1+build"))


if __name__ == "__main__":
    unittest.main()
