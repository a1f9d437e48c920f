//! The Python package in `python/`, against the real library and real plugins.
//!
//! Without Python: every function the committed header exports must be declared in the package's bindings, and
//! the package's version must be the crate's. With Python: the package is installed with pip into a fresh
//! virtual environment, and its unittest suite (`python/tests`) runs there, against the cdylib this test run
//! built and C plugins compiled here. The suite itself checks every declaration's types against the header.
//!
//! Without python3 the Python part is skipped, and says so on stderr; under `CI=true` that is a failure.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use common::*;

const HEADER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/include/aisopod_loader.h");
const PACKAGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python");
const BINDINGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/aisopod_loader/_bindings.py");
const PACKAGE_VERSION: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/aisopod_loader/_version.py");

/// Declared in the header for plugins to define; the library does not export them.
const PLUGIN_ENTRY_POINTS: [&str; 2] = ["aisopod_plugin_abi_version", "aisopod_plugin_create"];

/// The header declares 103 exported functions today; a parser that lost some would still agree with itself.
const MIN_FUNCTIONS: usize = 103;

/// The Python suite has at least this many tests; fewer means discovery lost a module.
const MIN_PYTHON_TESTS: usize = 100;

/// The test-plugin builds the Python suite uses (see `python/tests/support.py`): id and extra defines.
const TEST_PLUGINS: [(&str, &[&str]); 6] = [
    ("alpha", &[]),
    ("beta", &[]),
    ("badabi", &["ABI_VERSION=2"]),
    ("crasher", &["CTOR_ABORT"]),
    ("sleeper", &["INIT_LOOP"]),
    ("mischief", &["HANDLER_MISCHIEF"]),
];

/// The names of the top-level prototypes in `header`: a line at column 0 that is not a typedef, with an
/// `aisopod_` name right before its `(`.
fn exported_functions(header: &str) -> Vec<String> {
    header
        .lines()
        .filter(|line| line.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') && !line.starts_with("typedef"))
        .filter_map(|line| line.split_once('(').map(|(head, _)| head))
        .filter_map(|head| head.rsplit(|c: char| c.is_whitespace() || c == '*').next())
        .filter(|name| name.starts_with("aisopod_") && !PLUGIN_ENTRY_POINTS.contains(name))
        .map(str::to_owned)
        .collect()
}

/// The header's functions that `bindings` (the text of `_bindings.py`) has no entry for.
fn undeclared(header: &str, bindings: &str) -> Vec<String> {
    exported_functions(header).into_iter().filter(|name| !bindings.contains(&format!("\"{name}\": ("))).collect()
}

#[test]
fn every_exported_function_is_declared_in_the_bindings() {
    let header = std::fs::read_to_string(HEADER).unwrap();
    let bindings = std::fs::read_to_string(BINDINGS).unwrap();
    let functions = exported_functions(&header);
    assert!(functions.len() >= MIN_FUNCTIONS, "found only {} functions in the header: {functions:?}", functions.len());
    assert_eq!(undeclared(&header, &bindings), Vec::<String>::new(), "exported but missing from {BINDINGS}");

    // The same check sees an export added to the header.
    let grown = format!("{header}\naisopod_status aisopod_loader_reticulate(const struct aisopod_loader *loader);\n");
    assert_eq!(undeclared(&grown, &bindings), ["aisopod_loader_reticulate"]);
}

#[test]
fn the_package_version_is_the_crate_version() {
    let text = std::fs::read_to_string(PACKAGE_VERSION).unwrap();
    let version = text
        .lines()
        .find_map(|line| line.strip_prefix("__version__ = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no __version__ line in {PACKAGE_VERSION}"));
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
}

#[test]
fn the_python_package_installs_and_passes_its_tests() {
    let Some(python) = python3() else {
        return skip("python3 was not found on PATH");
    };
    let plugins = build_plugins();
    let library = cdylib_dir().join(library_name("aisopod_loader"));

    let started = Instant::now();
    let (interpreter, origin) = match install(&python) {
        Ok(installed) => installed,
        Err(reason) => {
            // Still run the suite, from the source tree.
            skip(&format!("the pip install check ({reason}); running the Python tests from the source tree"));
            (python.clone(), PathBuf::from(PACKAGE))
        }
    };
    let install_time = started.elapsed();

    let started = Instant::now();
    let workdir = temp_dir("python-run");
    let mut command = Command::new(&interpreter);
    command
        .args(["-m", "unittest", "discover", "-v", "-s"])
        .arg(Path::new(PACKAGE).join("tests"))
        .arg("-t")
        .arg(Path::new(PACKAGE).join("tests"))
        .current_dir(&workdir)
        .env("AISOPOD_LOADER_LIBRARY", &library)
        .env("AISOPOD_TEST_PLUGINS", &plugins)
        .env("AISOPOD_SIGN", env!("CARGO_BIN_EXE_aisopod-sign"))
        .env("AISOPOD_TEST_PACKAGE_ORIGIN", &origin)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("AISOPOD_PLUGIN_PATH");
    if origin == Path::new(PACKAGE) {
        command.env("PYTHONPATH", PACKAGE);
    } else {
        command.env_remove("PYTHONPATH");
    }
    let result = command.output().expect("python3 runs");
    let report = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "the Python tests failed:\n{report}\n{}", String::from_utf8_lossy(&result.stdout));

    let ran = report
        .lines()
        .find_map(|line| line.strip_prefix("Ran ")?.split_once(" test")?.0.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("no `Ran N tests` line:\n{report}"));
    assert!(ran >= MIN_PYTHON_TESTS, "only {ran} Python tests ran (expected at least {MIN_PYTHON_TESTS}):\n{report}");
    // A skipped test is not a silent pass: say which and why, where the test's output is not captured.
    for line in report.lines().filter(|line| line.contains("... skipped")) {
        let _ = writeln!(std::io::stderr(), "python_package: {line}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "python_package: {ran} Python tests passed against {} ({:.1}s; venv and pip install {:.1}s)",
        origin.display(),
        started.elapsed().as_secs_f64(),
        install_time.as_secs_f64()
    );
}

/// `python3`, if it runs.
fn python3() -> Option<PathBuf> {
    let output = Command::new("python3").arg("--version").output().ok()?;
    output.status.success().then(|| PathBuf::from("python3"))
}

/// Says that part of the test did not run, on stderr (uncaptured), or fails under `CI=true`, where every part
/// must run.
fn skip(reason: &str) {
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("python_package: cannot skip under CI: {reason}");
    }
    let _ = writeln!(std::io::stderr(), "python_package: SKIPPED {reason}");
}

/// The plugin directory the Python suite reads: `lib/lib<id>.so` for each test-plugin build, and `hello/`.
fn build_plugins() -> PathBuf {
    let root = temp_dir("python-plugins");
    let lib = root.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    for (id, extra) in TEST_PLUGINS {
        let mut defines = vec![format!("PLUGIN_ID=\"{id}\"")];
        defines.extend(extra.iter().map(|d| d.to_string()));
        let defines: Vec<&str> = defines.iter().map(String::as_str).collect();
        std::fs::copy(test_plugin_library(&defines), lib.join(library_name(id))).unwrap();
    }
    add_hello_plugin(&root);
    root
}

/// Installs a copy of `python/` with pip into a new virtual environment; returns its interpreter and its root.
/// Uses the interpreter's own setuptools when it has one recent enough (no network), or else lets pip fetch it.
fn install(python: &Path) -> Result<(PathBuf, PathBuf), String> {
    let venv = temp_dir("python-venv");
    // --system-site-packages: the interpreter's setuptools serves the build without a download. --without-pip:
    // installing pip into the environment takes longer than everything else here; the interpreter's own pip
    // installs into it with `--python` (pip 22.3 and later).
    run(Command::new(python).args(["-m", "venv", "--system-site-packages", "--without-pip"]).arg(&venv))
        .map_err(|e| format!("`python3 -m venv` failed: {e}"))?;
    let interpreter = venv.join("bin/python");
    let mut pip = Command::new(python);
    pip.args(["-m", "pip", "--python"]).arg(&interpreter);
    if run(Command::new(python).args(["-m", "pip", "--python"]).arg(&interpreter).arg("--version")).is_err() {
        // An older pip: give the environment its own.
        run(Command::new(&interpreter).args(["-m", "ensurepip", "--default-pip"]))
            .map_err(|e| format!("no pip for the virtual environment (python3-venv may be missing): {e}"))?;
        pip = Command::new(&interpreter);
        pip.args(["-m", "pip"]);
    }
    // A copy, so that the build's `build/` and `*.egg-info` stay out of the source tree.
    let source = temp_dir("python-source").join("python");
    copy_tree(Path::new(PACKAGE), &source);

    let offline =
        Command::new(&interpreter).args(["-c", BUILD_BACKEND_PROBE]).output().is_ok_and(|o| o.status.success());
    pip.args(["install", "--quiet", "--disable-pip-version-check"]);
    if offline {
        pip.args(["--no-build-isolation", "--no-index"]);
    }
    let output = pip.arg(&source).output().map_err(|e| format!("pip did not run: {e}"))?;
    assert!(
        output.status.success(),
        "pip install {} failed:\n{}{}",
        source.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((interpreter, venv))
}

/// Exits 0 when the interpreter can build the package offline: setuptools 61 or later (`[project]` tables),
/// and before 70.1 the `wheel` package, which those releases need for `bdist_wheel`.
const BUILD_BACKEND_PROBE: &str = "import sys, setuptools
version = tuple(int(part) for part in setuptools.__version__.split('.')[:2])
if version < (61, 0):
    sys.exit(1)
if version < (70, 1):
    import wheel
";

fn run(command: &mut Command) -> Result<Output, String> {
    let output = command.output().map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

/// Copies the package's files, leaving out what builds and test runs leave behind.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == "build" || name == "__pycache__" || name.ends_with(".egg-info") {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to.join(&*name));
        } else {
            std::fs::copy(entry.path(), to.join(&*name)).unwrap();
        }
    }
}
