//! Test support: temporary plugin trees holding real shared libraries compiled from C with the `cc` crate's
//! compiler detection, and a recorder for the lifecycle events the test plugin reports.
#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

pub const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// A fresh, empty directory under cargo's per-target temporary directory.
pub fn temp_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{name}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The C compiler `cc` finds for this target.
pub fn c_compiler() -> Command {
    compiler(false)
}

/// The C (or, with `cpp`, the C++) compiler `cc` finds for this target.
pub fn compiler(cpp: bool) -> Command {
    let target = env!("AISOPOD_BUILD_TARGET");
    cc::Build::new()
        .cargo_metadata(false)
        .target(target)
        .host(target)
        .opt_level(1)
        .debug(false)
        .cpp(cpp)
        .get_compiler()
        .to_command()
}

/// Compiles `source` to an object file next to it, against the committed headers, with strict warnings (C11,
/// or C++17 when `cpp`) and `extra` flags; fails the test on any warning.
pub fn compile_object(source: &Path, cpp: bool, extra: &[&str]) {
    let mut cmd = compiler(cpp);
    cmd.args([if cpp { "-std=c++17" } else { "-std=c11" }, "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-c"])
        .args(extra)
        .arg(format!("-I{MANIFEST_DIR}/include"))
        .arg("-o")
        .arg(source.with_extension("o"))
        .arg(source);
    let result = cmd.output().unwrap();
    assert!(result.status.success(), "{}: {}", source.display(), String::from_utf8_lossy(&result.stderr));
}

/// The platform's shared-library file name for a stem.
pub fn library_name(stem: &str) -> String {
    format!("{}{stem}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX)
}

/// Compiles `source` into a shared library at `output`, against the committed header only.
pub fn compile_shared(source: &Path, output: &Path, defines: &[&str]) {
    let mut cmd = c_compiler();
    cmd.args(["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-shared", "-fPIC"]);
    if cfg!(target_os = "linux") {
        // Proves a plugin needs nothing from the loader at link time.
        cmd.arg("-Wl,--no-undefined");
    }
    cmd.arg(format!("-I{MANIFEST_DIR}/include")).arg("-o").arg(output).arg(source);
    for define in defines {
        cmd.arg(format!("-D{define}"));
    }
    let result = cmd.output().expect("the C compiler runs");
    assert!(result.status.success(), "compiling {}: {}", source.display(), String::from_utf8_lossy(&result.stderr));
}

/// The test plugin compiled with `defines`, built once per test process and per set of defines.
pub fn test_plugin_library(defines: &[&str]) -> PathBuf {
    static CACHE: OnceLock<Mutex<HashMap<Vec<String>, PathBuf>>> = OnceLock::new();
    let key: Vec<String> = defines.iter().map(|d| d.to_string()).collect();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(path) = cache.get(&key) {
        return path.clone();
    }
    let dir = temp_dir("lib");
    let output = dir.join(library_name("test"));
    compile_shared(&Path::new(MANIFEST_DIR).join("tests/plugins/test_plugin.c"), &output, defines);
    cache.insert(key, output.clone());
    output
}

/// A manifest for the test plugin with `id` and the capabilities it registers by default.
pub fn manifest(id: &str) -> String {
    format!(
        r#"[plugin]
id = "{id}"
name = "Test plugin {id}"
version = "1.2.3"
description = "A plugin built for the loader's tests."
author = "Tests"
entry_point = "{id}"

[capabilities]
tools = ["echo"]
hooks = ["ping"]

[compatibility]
min_host_version = "1.0.0"
max_host_version = "1.9.0"
"#
    )
}

/// Writes a plugin directory `root/<dir_name>` with `manifest_text` and, when given, a copy of `library` named
/// after the manifest's entry point `entry`.
pub fn write_plugin(root: &Path, dir_name: &str, manifest_text: &str, entry: &str, library: Option<&Path>) -> PathBuf {
    let dir = root.join(dir_name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("aisopod.plugin.toml"), manifest_text).unwrap();
    if let Some(library) = library {
        // A copy, not a link: each plugin gets its own inode, so the dynamic linker loads it separately.
        std::fs::copy(library, dir.join(library_name(entry))).unwrap();
    }
    dir
}

/// A plugin `id` built from the test plugin with `defines` (PLUGIN_ID is added) and the default manifest.
pub fn add_test_plugin(root: &Path, id: &str, defines: &[&str]) -> PathBuf {
    add_test_plugin_with(root, id, defines, &manifest(id))
}

/// As [`add_test_plugin`], with a custom manifest (its entry point must be `id`).
pub fn add_test_plugin_with(root: &Path, id: &str, defines: &[&str], manifest_text: &str) -> PathBuf {
    let plugin_id = format!("PLUGIN_ID=\"{id}\"");
    let mut all = vec![plugin_id.as_str()];
    all.extend_from_slice(defines);
    let library = test_plugin_library(&all);
    write_plugin(root, id, manifest_text, id, Some(&library))
}

/// Builds the hello example plugin (`c_examples/plugins/hello`) into `root/hello`.
pub fn add_hello_plugin(root: &Path) -> PathBuf {
    let example = Path::new(MANIFEST_DIR).join("c_examples/plugins/hello");
    let dir = root.join("hello");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(example.join("aisopod.plugin.toml"), dir.join("aisopod.plugin.toml")).unwrap();
    compile_shared(&example.join("hello.c"), &dir.join(library_name("hello")), &[]);
    dir
}

/// The `test.events` host extension the test plugin records lifecycle events through.
#[repr(C)]
pub struct TestEvents {
    context: *mut c_void,
    record: unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char),
}

/// Recorded events, as "plugin:event" strings.
pub struct EventLog {
    events: Mutex<Vec<String>>,
    extension: TestEvents,
}

impl EventLog {
    /// A log that lives for the rest of the process: libraries may report `dlclose` as late as process exit.
    pub fn leak() -> &'static EventLog {
        unsafe extern "C" fn record(context: *mut c_void, plugin: *const c_char, event: *const c_char) {
            let log = unsafe { &*(context as *const EventLog) };
            let plugin = unsafe { CStr::from_ptr(plugin) }.to_string_lossy();
            let event = unsafe { CStr::from_ptr(event) }.to_string_lossy();
            log.events.lock().unwrap().push(format!("{plugin}:{event}"));
        }
        let log = Box::leak(Box::new(EventLog {
            events: Mutex::new(Vec::new()),
            extension: TestEvents { context: std::ptr::null_mut(), record },
        }));
        log.extension.context = log as *mut EventLog as *mut c_void;
        log
    }

    /// The pointer to register as the `test.events` host extension.
    pub fn extension(&'static self) -> *const c_void {
        &self.extension as *const TestEvents as *const c_void
    }

    /// Takes the events recorded so far.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }
}

// SAFETY: the log is only touched through its mutex.
unsafe impl Sync for EventLog {}
unsafe impl Send for EventLog {}

/// Builds a Rust plugin crate (relative to the repository) and returns its library. All Rust plugins share
/// one target directory, so each builds once.
pub fn build_rust_plugin(crate_dir: &str, name: &str) -> PathBuf {
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rust-plugins");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = Path::new(MANIFEST_DIR).join(crate_dir).join("Cargo.toml");
    let result = Command::new(cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .output()
        .expect("cargo runs");
    assert!(result.status.success(), "building {crate_dir}: {}", String::from_utf8_lossy(&result.stderr));
    target_dir.join("debug").join(library_name(name))
}

/// The directory holding the cdylib that this test run built (`target/<profile>/deps`).
pub fn cdylib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap().to_path_buf();
    assert!(deps.join(library_name("aisopod_loader")).exists(), "no cdylib in {}", deps.display());
    deps
}

/// Compiles a C host (`source`, relative to the repository) against the cdylib this test run built.
pub fn build_c_host(source: &str, output: &Path, extra_flags: &[&str]) -> PathBuf {
    let lib_dir = cdylib_dir();
    let mut cmd = c_compiler();
    cmd.args(["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"])
        .args(extra_flags)
        .arg(format!("-I{MANIFEST_DIR}/include"))
        .arg("-o")
        .arg(output)
        .arg(Path::new(MANIFEST_DIR).join(source))
        .arg(format!("-L{}", lib_dir.display()))
        .arg("-laisopod_loader")
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()));
    if cfg!(target_os = "linux") {
        // DT_RPATH rather than DT_RUNPATH: it wins over the LD_LIBRARY_PATH cargo sets, which also lists
        // target/<profile>, where an older copy of the library may sit.
        cmd.arg("-Wl,--disable-new-dtags");
    }
    let result = cmd.output().unwrap();
    assert!(result.status.success(), "building {source}: {}", String::from_utf8_lossy(&result.stderr));
    output.to_path_buf()
}

/// A loader for host version `host_version` that searches exactly `search_paths`: neither
/// `AISOPOD_PLUGIN_PATH` nor the default paths, so no plugin of the machine's leaks into a test.
pub fn isolated_loader(host_version: &str, search_paths: &[&Path]) -> aisopod_loader::Loader {
    let loader = aisopod_loader::Loader::new(host_version).unwrap();
    loader.set_use_env_path(false);
    loader.set_use_default_paths(false);
    for path in search_paths {
        loader.add_search_path(path);
    }
    loader
}

/// Runs `f` on a thread of its own and returns its result, failing if it takes more than 10 s: a call that
/// blocks for good (on a FIFO, say) then fails its test instead of hanging the test run.
pub fn within_10_seconds<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    use std::sync::mpsc::RecvTimeoutError;
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(f());
    });
    match result.recv_timeout(std::time::Duration::from_secs(10)) {
        Ok(value) => value,
        Err(RecvTimeoutError::Timeout) => panic!("{what} did not finish within 10 s"),
        Err(RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

/// Creates a FIFO at `path`.
pub fn make_fifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a NUL-terminated path; mkfifo touches nothing else.
    let rc = unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) };
    assert_eq!(rc, 0, "mkfifo {}: {}", path.display(), std::io::Error::last_os_error());
}

/// Under `dir`: the test plugin `id` linked against `libaisopod_gone.so`, which is then removed, in the plugin
/// tree `dir/plugins`, which it returns.
pub fn plugin_with_missing_dependency(dir: &Path, id: &str) -> PathBuf {
    let dep_source = dir.join("gone.c");
    std::fs::write(&dep_source, "int aisopod_gone(void) { return 1; }\n").unwrap();
    let dep = dir.join("libaisopod_gone.so");
    let out = c_compiler().args(["-shared", "-fPIC", "-o"]).arg(&dep).arg(&dep_source).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let library = dir.join(library_name(id));
    let out = c_compiler()
        .args(["-std=c11", "-shared", "-fPIC"])
        .arg(format!("-I{MANIFEST_DIR}/include"))
        .arg(format!("-DPLUGIN_ID=\"{id}\""))
        .arg("-o")
        .arg(&library)
        .arg(Path::new(MANIFEST_DIR).join("tests/plugins/test_plugin.c"))
        .arg("-Wl,--no-as-needed")
        .arg(format!("-L{}", dir.display()))
        .arg("-laisopod_gone")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_file(&dep).unwrap();
    let tree = dir.join("plugins");
    write_plugin(&tree, id, &manifest(id), id, Some(&library));
    tree
}

/// Under `work`: a plugin tree `plugins` with "good" and one test plugin per way of taking a process down at
/// load or `init` ("ctor-abort", "create-exit", "init-segfault", "init-loop") or failing the ABI gate
/// ("wrong-abi"), plus `extra` plugins (id, switches); and, in a tree of its own, "needy", whose `DT_NEEDED`
/// library is missing. Returns both trees.
pub fn misbehaving_plugins(work: &Path, extra: &[(&str, &[&str])]) -> (PathBuf, PathBuf) {
    let tree = work.join("plugins");
    add_test_plugin(&tree, "good", &[]);
    let misbehaving: [(&str, &[&str]); 5] = [
        ("ctor-abort", &["CTOR_ABORT"]),
        ("create-exit", &["CREATE_EXIT"]),
        ("init-segfault", &["INIT_SEGFAULT"]),
        ("init-loop", &["INIT_LOOP"]),
        ("wrong-abi", &["ABI_VERSION=99"]),
    ];
    for (id, switches) in misbehaving.iter().chain(extra) {
        add_test_plugin(&tree, id, switches);
    }
    let needy_work = work.join("needy");
    std::fs::create_dir_all(&needy_work).unwrap();
    (tree, plugin_with_missing_dependency(&needy_work, "needy"))
}

/// Checks that a C test host (see `tests/hosts/host_checks.h`) exited 0 and printed "0 failure(s)" last;
/// returns its stdout and stderr.
pub fn host_passed(out: std::process::Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "the host failed ({:?}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.ends_with("0 failure(s)\n"), "{stdout}");
    (stdout, stderr)
}

/// Runs `host` with `args` under valgrind's memcheck (no error, nothing definitely lost, or exit code 99),
/// checks that it passed as [`host_passed`] does and that valgrind reported no error, and prints valgrind's
/// summary. Says so and does nothing when valgrind is not installed.
pub fn host_passes_under_valgrind(host: &Path, args: &[&Path]) {
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("skipped: valgrind is not installed");
        return;
    }
    let out = Command::new("valgrind")
        .args(["--leak-check=full", "--errors-for-leak-kinds=definite", "--error-exitcode=99"])
        .arg(host)
        .args(args)
        .output()
        .unwrap();
    let (_, stderr) = host_passed(out);
    let summary: Vec<&str> =
        stderr.lines().filter(|l| l.contains("ERROR SUMMARY") || l.contains("definitely lost")).collect();
    eprintln!("{}", summary.join("\n"));
    assert!(stderr.contains("ERROR SUMMARY: 0 errors"), "{stderr}");
}

/// Collects the warnings `loader` logs from now on, through its log callback.
pub fn collect_warnings(loader: &aisopod_loader::Loader) -> std::sync::Arc<Mutex<Vec<String>>> {
    let warnings = std::sync::Arc::new(Mutex::new(Vec::new()));
    let sink = warnings.clone();
    loader.set_log_callback(Some(std::sync::Arc::new(move |level, _: &str, message: &str| {
        if level == aisopod_loader::LogLevel::Warn {
            sink.lock().unwrap().push(message.to_owned());
        }
    })));
    warnings
}
