//! `aisopod new` for each language: the directory builds with its own build script, with no edits, and passes
//! `aisopod validate`; and the Zig and Rust examples pass too. Zig builds through `python3 -m ziglang`, which
//! `make deps` installs; Zig's global cache and the Rust target directory are shared between runs.

mod support;

use std::path::Path;
use std::process::Command;

use support::{aisopod, code, plugin_target_dir, repo, temp_dir, zig_global_cache};

/// Runs `command`, failing the test with its output when it fails.
fn run(mut command: Command) {
    let output = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?}:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `make` in `dir`, with the shared caches.
fn make(dir: &Path) {
    let mut command = Command::new("make");
    command
        .arg("-C")
        .arg(dir)
        .arg("PROFILE=dev")
        .env("CARGO_TARGET_DIR", plugin_target_dir())
        .env("ZIG_GLOBAL_CACHE_DIR", zig_global_cache());
    run(command);
}

/// Asserts `aisopod validate` passes on `dir`, every check run.
fn assert_validates(dir: &Path) {
    let output = aisopod(&["validate", dir.to_str().unwrap()]);
    let (exit, context) = code(&output);
    assert_eq!(exit, 0, "{context}");
    assert!(context.contains("PASS shutdown_destroy"), "{context}");
}

fn new_plugin(lang: &str) {
    let root = temp_dir(&format!("new-{lang}"));
    let name = format!("fresh_{lang}");
    let (exit, context) = code(&aisopod(&["new", "--lang", lang, &name, "--dir", root.to_str().unwrap()]));
    assert_eq!(exit, 0, "{context}");
    let dir = root.join(&name);
    assert!(dir.join("aisopod.plugin.toml").is_file());
    make(&dir);
    assert!(dir.join(format!("lib{name}.so")).is_file());
    assert_validates(&dir);
}

#[test]
fn new_c_plugin_builds_and_validates() {
    new_plugin("c");
}

#[test]
fn new_zig_plugin_builds_and_validates() {
    new_plugin("zig");
}

#[test]
fn new_rust_plugin_builds_and_validates() {
    new_plugin("rust");
}

#[test]
fn new_refuses_a_bad_name_and_an_existing_directory() {
    let root = temp_dir("new-bad");
    let (exit, context) = code(&aisopod(&["new", "--lang", "c", "Bad-Name", "--dir", root.to_str().unwrap()]));
    assert_eq!(exit, 2, "{context}");
    assert!(context.contains("'Bad-Name'"), "{context}");
    std::fs::create_dir_all(root.join("taken")).unwrap();
    let (exit, context) = code(&aisopod(&["new", "--lang", "c", "taken", "--dir", root.to_str().unwrap()]));
    assert_eq!(exit, 2, "{context}");
    assert!(context.contains("already exists"), "{context}");
}

#[test]
fn zig_example_validates() {
    let out = temp_dir("zig-example").join("zig_hello");
    let mut command = Command::new("sh");
    command
        .arg(repo().join("c_examples/plugins/zig_hello/build.sh"))
        .arg(&out)
        .env("ZIG_GLOBAL_CACHE_DIR", zig_global_cache());
    run(command);
    assert_validates(&out);
}

#[test]
fn rust_example_validates() {
    let example = repo().join("c_examples/plugins/rust_hello");
    let mut command = Command::new(env!("CARGO"));
    command
        .args(["build", "--quiet", "--manifest-path"])
        .arg(example.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(plugin_target_dir());
    run(command);
    let dir = temp_dir("rust-example").join("rust_hello");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(example.join("aisopod.plugin.toml"), dir.join("aisopod.plugin.toml")).unwrap();
    std::fs::copy(plugin_target_dir().join("debug/librust_hello.so"), dir.join("librust_hello.so")).unwrap();
    assert_validates(&dir);
}
