//! Per-plugin metrics through the Rust API, with the real test plugin: calls by name, resolved and through
//! hooks are all counted; calls from many threads add up exactly; the switch applies to plugins loaded after
//! it; a reload starts the plugin's figures again; an isolated plugin's calls are counted like local ones.

mod common;

use std::path::{Path, PathBuf};

use aisopod_loader::{CapabilityKind, Isolation, Loader, Status};
use common::*;

const TOOL: CapabilityKind = CapabilityKind::Tool;

fn tree_with(name: &str, id: &str) -> (Loader, PathBuf) {
    let root = temp_dir(name);
    let dir = add_test_plugin(&root, id, &[]);
    let loader = isolated_loader("1.0.0", &[&root]);
    assert_eq!(loader.discover(), 1);
    (loader, dir)
}

fn started(loader: &Loader, id: &str) {
    loader.load(id).unwrap();
    loader.init(id, "{}", Path::new("")).unwrap();
}

#[test]
fn metrics_are_off_until_turned_on_and_say_so() {
    let (loader, _) = tree_with("metrics-off", "quiet");
    started(&loader, "quiet");
    assert!(!loader.metrics_enabled());
    let error = loader.plugin_metrics("quiet").unwrap_err();
    assert_eq!(error.status(), Status::InvalidArgument);
    assert!(error.message().contains("plugin 'quiet'"), "{}", error.message());
    assert_eq!(loader.capability_metrics("quiet", TOOL, "echo").unwrap_err().status(), Status::InvalidArgument);
}

#[test]
fn calls_by_name_resolved_and_hooks_are_counted() {
    let (loader, _) = tree_with("metrics-paths", "paths");
    loader.set_metrics(true);
    started(&loader, "paths");
    let echo = loader.resolve("paths", TOOL, "echo").unwrap();
    for _ in 0..3 {
        loader.invoke("paths", TOOL, "echo", b"x", None).unwrap();
        echo.invoke(b"x", None).unwrap();
    }
    assert_eq!(echo.invoke(b"fail", None).unwrap_err().status(), Status::PluginError);
    assert_eq!(loader.emit("ping", b"", None).unwrap(), 1);

    let tool = loader.capability_metrics("paths", TOOL, "echo").unwrap();
    assert_eq!((tool.count, tool.failures), (7, 1));
    assert!(tool.p50_ns > 0 && tool.p50_ns <= tool.p99_ns && tool.total_ns >= tool.p50_ns, "{tool:?}");
    let hook = loader.capability_metrics("paths", CapabilityKind::Hook, "ping").unwrap();
    assert_eq!((hook.count, hook.failures), (1, 0));
    let plugin = loader.plugin_metrics("paths").unwrap();
    assert_eq!((plugin.calls, plugin.failures), (8, 1));
    assert!(plugin.load_ns > 0 && plugin.init_ns > 0, "{plugin:?}");
    assert_eq!(plugin.cpu_ns, tool.cpu_ns + hook.cpu_ns);
}

#[test]
fn calls_from_many_threads_add_up_exactly() {
    let (loader, _) = tree_with("metrics-threads", "busy");
    loader.set_metrics(true);
    started(&loader, "busy");
    let echo = loader.resolve("busy", TOOL, "echo").unwrap();
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let (loader, echo) = (&loader, &echo);
            scope.spawn(move || {
                for i in 0..500 {
                    let input: &[u8] = if i % 10 == 0 { b"fail" } else { b"x" };
                    let _ = if thread % 2 == 0 {
                        echo.invoke(input, None)
                    } else {
                        loader.invoke("busy", TOOL, "echo", input, None)
                    };
                }
            });
        }
    });
    let tool = loader.capability_metrics("busy", TOOL, "echo").unwrap();
    assert_eq!((tool.count, tool.failures), (4000, 400));
}

#[test]
fn the_switch_reaches_handles_resolved_before_and_plugins_loaded_later_and_off_keeps_the_figures() {
    let root = temp_dir("metrics-switch");
    add_test_plugin(&root, "first", &[]);
    add_test_plugin(&root, "second", &[]);
    let loader = isolated_loader("1.0.0", &[&root]);
    loader.discover();
    started(&loader, "first");
    // Resolved while metrics are off, counted once they are on.
    let echo = loader.resolve("first", TOOL, "echo").unwrap();
    echo.invoke(b"x", None).unwrap();
    loader.set_metrics(true);
    echo.invoke(b"x", None).unwrap();
    assert_eq!(loader.capability_metrics("first", TOOL, "echo").unwrap().count, 1);
    started(&loader, "second");
    for (id, before) in [("first", 1), ("second", 0)] {
        loader.invoke(id, TOOL, "echo", b"x", None).unwrap();
        assert_eq!(loader.capability_metrics(id, TOOL, "echo").unwrap().count, before + 1, "{id}");
    }
    loader.set_metrics(false);
    loader.invoke("second", TOOL, "echo", b"x", None).unwrap();
    loader.set_metrics(true);
    assert_eq!(loader.capability_metrics("second", TOOL, "echo").unwrap().count, 1);
}

#[test]
fn a_reload_starts_the_figures_again() {
    let (loader, dir) = tree_with("metrics-reload", "again");
    loader.set_metrics(true);
    started(&loader, "again");
    loader.invoke("again", TOOL, "echo", b"x", None).unwrap();
    assert_eq!(loader.capability_metrics("again", TOOL, "echo").unwrap().count, 1);
    // A rebuild: a new file renamed over the library's name.
    let temporary = dir.join(".rebuilt.tmp");
    std::fs::copy(test_plugin_library(&["PLUGIN_ID=\"again\"", "ECHO_PREFIX=\"B:\""]), &temporary).unwrap();
    std::fs::rename(&temporary, dir.join(library_name("again"))).unwrap();
    loader.reload("again").unwrap();
    assert_eq!(loader.capability_metrics("again", TOOL, "echo").unwrap().count, 0);
    assert_eq!(loader.invoke_to_vec("again", TOOL, "echo", b"x").unwrap(), b"B:x");
    let after = loader.plugin_metrics("again").unwrap();
    assert_eq!(after.calls, 1, "the reloaded version is measured too: {after:?}");
    assert!(after.load_ns > 0 && after.init_ns > 0, "{after:?}");
}

#[test]
fn an_isolated_plugin_is_counted_by_name_and_resolved() {
    let (loader, _) = tree_with("metrics-isolated", "far");
    loader.set_isolation(Some("far"), Some(Isolation::Process));
    loader.set_metrics(true);
    started(&loader, "far");
    let echo = loader.resolve("far", TOOL, "echo").unwrap();
    echo.invoke(b"x", None).unwrap();
    loader.invoke("far", TOOL, "echo", b"fail", None).unwrap_err();
    let tool = loader.capability_metrics("far", TOOL, "echo").unwrap();
    assert_eq!((tool.count, tool.failures, tool.cpu_ns), (2, 1, 0));
    assert!(tool.p50_ns > 0, "{tool:?}");
    assert_eq!(loader.capability_metrics("far", TOOL, "nothing").unwrap_err().status(), Status::CapabilityNotFound);
}
