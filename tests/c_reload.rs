//! Hot reload from a real C host (`tests/hosts/reload_host.c`): plugins rebuilt with other `-D` switches to new
//! files, which the host renames over the loaded libraries before reloading. Also under valgrind.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// Builds the test plugin `id` with `defines` into a new file `work/<name>`, for the host to rename.
fn rebuilt(work: &Path, name: &str, id: &str, defines: &[&str]) -> String {
    let output = work.join(name);
    let plugin_id = format!("PLUGIN_ID=\"{id}\"");
    let all: Vec<&str> = std::iter::once(plugin_id.as_str()).chain(defines.iter().copied()).collect();
    compile_shared(&Path::new(MANIFEST_DIR).join("tests/plugins/test_plugin.c"), &output, &all);
    output.display().to_string()
}

/// The host and its arguments: the tree, then the rebuilt libraries it renames into place.
fn setup(name: &str) -> (PathBuf, Vec<String>) {
    let work = temp_dir(name);
    let tree = work.join("plugins");
    for id in ["r", "pa", "pb"] {
        add_test_plugin(&tree, id, &["ECHO_PREFIX=\"A:\""]);
    }
    let counter_manifest = manifest("counter").replace(r#"tools = ["echo"]"#, r#"tools = ["echo", "count"]"#);
    add_test_plugin_with(&tree, "counter", &["STATE_COUNTER"], &counter_manifest);
    let args = vec![
        tree.display().to_string(),
        rebuilt(&work, "r-b.so", "r", &["ECHO_PREFIX=\"B:\""]),
        rebuilt(&work, "r-abi2.so", "r", &["ECHO_PREFIX=\"B:\"", "ABI_VERSION=2"]),
        rebuilt(&work, "counter-b.so", "counter", &["STATE_COUNTER", "ECHO_PREFIX=\"B:\""]),
        rebuilt(&work, "pb-b.so", "pb", &["ECHO_PREFIX=\"B:\""]),
    ];
    let host = build_c_host("tests/hosts/reload_host.c", &work.join("reload_host"), &["-g"]);
    (host, args)
}

#[test]
fn a_c_host_reloads_rebuilt_plugins_and_old_handles_turn_stale() {
    let (host, args) = setup("c-reload");
    let (stdout, _) = host_passed(Command::new(&host).args(&args).output().unwrap());
    for line in [
        "ok: the handle answers A: A:x",
        "ok: its reload fails the ABI gate: the plugin speaks another ABI version",
        "ok: the old version still answers A: A:x",
        "ok: the old handle is stale and ran nothing: the capability handle belongs to a plugin version a reload \
         replaced",
        "ok: a new resolve answers B: B:x",
        "ok: the new version restored the count its old version saved: 4",
        "ok: the next poll reloads one plugin (1)",
        "ok: pa was left alone: A:x",
    ] {
        assert!(stdout.contains(line), "no line `{line}` in:\n{stdout}");
    }
}

#[test]
fn the_reload_host_is_clean_under_valgrind() {
    let (host, args) = setup("c-reload-valgrind");
    let args: Vec<&Path> = args.iter().map(Path::new).collect();
    host_passes_under_valgrind(&host, &args);
}
