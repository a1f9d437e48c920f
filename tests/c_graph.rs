//! The plugin graph from a real C host (`tests/hosts/graph_host.c`): chain and diamond dependencies, a
//! version conflict, a cycle, a missing optional dependency, a host requirement, the cascade unload, a
//! service call between plugins, a reload of a dependency with its dependant, and a lazy first call from 8 threads at once; then the same under valgrind.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// Plugin `id` at `version`, needing `dependencies` (the body of its `[dependencies]` table), built with
/// `defines`.
fn add(root: &Path, id: &str, version: &str, dependencies: &str, defines: &[&str]) {
    let text = format!("{}\n[dependencies]\n{dependencies}\n", manifest(id).replace("1.2.3", version));
    add_test_plugin_with(root, id, defines, &text);
}

fn tree(work: &Path) -> PathBuf {
    let tree = work.join("plugins");
    add(&tree, "a", "1.0.0", "b = \"^1.2\"", &[]);
    add(&tree, "b", "1.2.3", "c = \"1\"", &[]);
    add(&tree, "c", "1.9.0", "", &[]);
    add(&tree, "top", "1.0.0", "left = \"1\"\nright = \"1\"", &[]);
    add(&tree, "left", "1.0.0", "base = \"1\"", &[]);
    add(&tree, "right", "1.0.0", "base = \"1.1\"", &[]);
    add(&tree, "base", "1.4.0", "", &[]);
    add(&tree, "old-user", "1.0.0", "base = \"^2\"", &[]);
    add(&tree, "above", "1.0.0", "old-user = \"1\"", &[]);
    add(&tree, "ping", "1.0.0", "pong = \"1\"", &[]);
    add(&tree, "pong", "1.0.0", "ping = \"1\"", &[]);
    add(&tree, "lonely", "1.0.0", "nobody = \"1\"", &[]);
    add(&tree, "relaxed", "1.0.0", "nobody = { version = \"1\", optional = true }", &[]);
    add(&tree, "user", "1.0.0", "provider = \"1\"", &[]);
    add(&tree, "provider", "1.0.0", "", &[]);
    add(&tree, "app", "1.0.0", "store = \"1\"", &[]);
    add(&tree, "store", "1.4.0", "", &[]);
    // Its init takes 100 ms: the other first calls arrive while it is loaded but not started.
    add(&tree, "lazy-app", "1.0.0", "lazy-base = \"1\"", &["INIT_SLEEP_MS=100"]);
    add(&tree, "lazy-base", "1.0.0", "", &[]);
    add(&tree, "lazy-broken", "1.0.0", "", &["ABI_VERSION=2"]);
    tree
}

#[test]
fn a_c_host_loads_the_graph_in_order_and_refuses_bad_graphs_by_chain() {
    let work = temp_dir("c-graph");
    let tree = tree(&work);
    let host = build_c_host("tests/hosts/graph_host.c", &work.join("graph_host"), &["-g", "-pthread"]);
    let (stdout, _) = host_passed(Command::new(&host).arg(&tree).output().unwrap());
    for line in [
        "ok: the plugin info of a lists b ^1.2, required",
        "ok: the plugin info of relaxed lists nobody, optional",
        "ok: chain: load a creates c, b, a in that order",
        "ok: chain: init a inits c, b, a in that order",
        "ok: chain: unload b is refused, naming a: aisopod_loader_unload: plugin 'b' is needed by loaded plugin(s) 'a'",
        "ok: diamond: base is created once, first (base left right top )",
        "ok: conflict, one step away: plugin 'above' cannot be loaded: above -> old-user -> base: ",
        "ok: cycle: plugin 'ping' cannot be loaded: ping -> pong -> ping: the dependencies form a cycle",
        "ok: a missing optional dependency: its interface is NULL (null)",
        "ok: services: user reads provider's interface through the host (42)",
        "ok: reload: user, which needs provider, was loaded again after it (provider user ; generation",
        "ok: reload: the new user reads the new provider's interface (42)",
        "ok: require: store is set aside, naming both versions: plugin 'store' is version 1.4.0",
        "ok: lazy: 8 first calls at once all answered (8)",
        "ok: lazy: the plugin and its dependency were created once (lazy-base lazy-app )",
        "ok: lazy: a first call that fails returns the load's status and message: aisopod_loader_invoke: plugin 'lazy-broken'",
    ] {
        assert!(stdout.contains(line), "no line `{line}` in:\n{stdout}");
    }
}

#[test]
fn the_graph_host_is_clean_under_valgrind() {
    let work = temp_dir("c-graph-valgrind");
    let tree = tree(&work);
    let host = build_c_host("tests/hosts/graph_host.c", &work.join("graph_host"), &["-g", "-pthread"]);
    host_passes_under_valgrind(&host, &[&tree]);
}
