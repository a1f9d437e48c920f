//! The example C host (`c_examples/host/host.c`), compiled and linked against the built cdylib, run over a
//! plugin tree holding the hello example, a test plugin and a broken candidate.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn build_host(out: &Path) -> PathBuf {
    build_c_host("c_examples/host/host.c", &out.join("host"), &[])
}

#[test]
fn c_host_discovers_loads_invokes_and_unloads() {
    let work = temp_dir("c-host");
    let tree = work.join("plugins");
    add_hello_plugin(&tree);
    add_test_plugin(&tree, "alpha", &[]);
    write_plugin(&tree, "broken", "[plugin]\nid = \"broken\"\n", "broken", None);

    let host = build_host(&work);
    let output = Command::new(&host).arg(&tree).env_remove("AISOPOD_PLUGIN_PATH").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "host failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    for expected in [
        &format!("aisopod-loader {v} (header {v}, ABI 1)", v = env!("CARGO_PKG_VERSION")),
        "discovered 2 plugin(s)",
        "diagnostic [the manifest could not be parsed] ",
        "broken/aisopod.plugin.toml:1: missing field `name`",
        "plugin hello 1.0.0",
        "  name: Hello",
        "  description: Greets whoever calls its tool and counts the hook events it sees.",
        "  license: MIT OR Apache-2.0",
        "  tool: greet",
        "  hook: on_start",
        "log [hello] hello: init with config {\"greeting\": \"hi\"}",
        "tool hello/greet -> Hello, world!",
        "tool alpha/echo -> world",
        "hook on_start fired in 1 plugin(s):\n  hello saw on_start #1\n",
        "log [hello] hello: shutdown",
        "unloaded hello",
        "unloaded alpha",
        "done: 0 failure(s)",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
}

#[test]
fn c_host_reports_usage_without_arguments() {
    let work = temp_dir("c-host-usage");
    let output = Command::new(build_host(&work)).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("usage:"));
}
