//! Test support: real plugin directories, compiled from the repository's C test plugin and examples, and runs
//! of the real `aisopod` binary.
#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A fresh, empty directory under cargo's per-target temporary directory.
pub fn temp_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "cli-{name}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compiles C `source` into the shared library `output` against the committed header, with `defines`.
pub fn compile_shared(source: &Path, output: &Path, defines: &[&str]) {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let mut cmd = Command::new(cc);
    cmd.args(["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-shared", "-fPIC", "-O1"])
        .arg(format!("-I{}", repo().join("include").display()))
        .arg("-o")
        .arg(output)
        .arg(source);
    for define in defines {
        cmd.arg(format!("-D{define}"));
    }
    let result = cmd.output().expect("the C compiler runs");
    assert!(result.status.success(), "compiling {}: {}", source.display(), String::from_utf8_lossy(&result.stderr));
}

/// A manifest for the test plugin `id` with the capabilities it registers by default.
pub fn test_manifest(id: &str) -> String {
    format!(
        r#"[plugin]
id = "{id}"
name = "Test plugin {id}"
version = "1.2.3"
description = "A plugin built for the command line's tests."
author = "Tests"
entry_point = "{id}"

[capabilities]
tools = ["echo"]
hooks = ["ping"]

[compatibility]
min_host_version = "1.0.0"
"#
    )
}

/// `root/id`: tests/plugins/test_plugin.c built with `defines`, and its manifest.
pub fn test_plugin(root: &Path, id: &str, defines: &[&str]) -> PathBuf {
    test_plugin_with(root, id, defines, &test_manifest(id))
}

/// As [`test_plugin`], with a manifest of its own (its entry point must be `id`).
pub fn test_plugin_with(root: &Path, id: &str, defines: &[&str], manifest: &str) -> PathBuf {
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("aisopod.plugin.toml"), manifest).unwrap();
    let plugin_id = format!("PLUGIN_ID=\"{id}\"");
    let mut all = vec![plugin_id.as_str()];
    all.extend_from_slice(defines);
    compile_shared(&repo().join("tests/plugins/test_plugin.c"), &dir.join(format!("lib{id}.so")), &all);
    dir
}

/// `root/hello`: the C example plugin, c_examples/plugins/hello, built.
pub fn hello_plugin(root: &Path) -> PathBuf {
    let example = repo().join("c_examples/plugins/hello");
    let dir = root.join("hello");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(example.join("aisopod.plugin.toml"), dir.join("aisopod.plugin.toml")).unwrap();
    compile_shared(&example.join("hello.c"), &dir.join("libhello.so"), &[]);
    dir
}

/// A Zig global cache shared by every test run, so that Zig's translate-c tool is built once.
pub fn zig_global_cache() -> PathBuf {
    repo().join("target/zig-global-cache")
}

/// A cargo target directory shared by the Rust plugins the tests build.
pub fn plugin_target_dir() -> PathBuf {
    repo().join("target/cli-plugins")
}

/// Runs `aisopod` with `args`, with a cache directory of its own so that no user's quarantine shows up.
pub fn aisopod(args: &[&str]) -> Output {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-xdg-cache");
    Command::new(env!("CARGO_BIN_EXE_aisopod"))
        .args(args)
        .env("XDG_CACHE_HOME", &cache)
        .env_remove("AISOPOD_PLUGIN_PATH")
        .output()
        .expect("aisopod runs")
}

/// stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The exit code, with stdout and stderr for the assertion message.
pub fn code(output: &Output) -> (i32, String) {
    (
        output.status.code().unwrap_or(-1),
        format!("stdout:\n{}\nstderr:\n{}", stdout(output), String::from_utf8_lossy(&output.stderr)),
    )
}

/// Parses `validate --json` output: the checks of each plugin, as (check, verdict, reason).
pub fn checks(output: &Output) -> Vec<Vec<(String, String, String)>> {
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("validate --json prints JSON");
    report["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|plugin| {
            plugin["checks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    let field = |name: &str| c[name].as_str().unwrap().to_owned();
                    (field("check"), field("verdict"), field("reason"))
                })
                .collect()
        })
        .collect()
}
