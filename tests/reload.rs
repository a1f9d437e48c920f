//! Hot reload through the Rust API, with real plugins rebuilt to new files: the new code replaces the old one,
//! old handles turn stale and never reach the old code, a new version that fails a load step leaves the old one
//! serving, `aisopod.state/1` carries state across, `poll_changes` reloads only what changed, and an isolated
//! plugin moves to a new helper.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use aisopod_loader::{CapabilityKind, Isolation, Loader, PluginState, Status};
use common::*;

const TOOL: CapabilityKind = CapabilityKind::Tool;

/// Builds the test plugin `id` with `defines` and puts it in `dir` as a new file renamed over the library's
/// name, as a rebuild does: a new inode, so the dynamic linker can tell it from the mapped one.
fn rebuild(dir: &Path, id: &str, defines: &[&str]) {
    let plugin_id = format!("PLUGIN_ID=\"{id}\"");
    let mut all = vec![plugin_id.as_str()];
    all.extend_from_slice(defines);
    let built = test_plugin_library(&all);
    let temporary = dir.join(".rebuilt.tmp");
    std::fs::copy(built, &temporary).unwrap();
    std::fs::rename(&temporary, dir.join(library_name(id))).unwrap();
}

/// A loader over a fresh tree holding the test plugin `id` built with `defines`, discovered; and the plugin's
/// directory.
fn tree_with(name: &str, id: &str, defines: &[&str], manifest_text: &str) -> (Loader, PathBuf) {
    let root = temp_dir(name);
    let dir = add_test_plugin_with(&root, id, defines, manifest_text);
    let loader = isolated_loader("1.0.0", &[&root]);
    assert_eq!(loader.discover(), 1);
    (loader, dir)
}

/// A manifest that also declares the state counter's tool "count".
fn counter_manifest(id: &str) -> String {
    manifest(id).replace(r#"tools = ["echo"]"#, r#"tools = ["echo", "count"]"#)
}

#[test]
fn a_reload_runs_the_rebuilt_code_and_old_handles_turn_stale() {
    let (loader, dir) = tree_with("reload-basic", "rb", &["ECHO_PREFIX=\"A:\""], &manifest("rb"));
    let events = EventLog::leak();
    loader.set_host_extension("test.events", events.extension());
    loader.load("rb").unwrap();
    loader.init("rb", "{}", Path::new("")).unwrap();
    let old = loader.resolve("rb", TOOL, "echo").unwrap();
    assert_eq!(old.invoke_to_vec(b"x").unwrap(), b"A:x");
    assert_eq!(loader.plugin_generation("rb").unwrap(), 1);
    events.take();

    rebuild(&dir, "rb", &["ECHO_PREFIX=\"B:\""]);
    loader.reload("rb").unwrap();

    // The new version was created and initialized; the old one, pinned by `old`, was not shut down yet.
    assert_eq!(events.take(), ["rb:create", "rb:register", "rb:init"]);
    assert_eq!(loader.plugin_generation("rb").unwrap(), 2);
    assert_eq!(loader.plugin_state("rb"), Some(PluginState::Initialized));
    let stale = old.invoke_to_vec(b"x").unwrap_err();
    assert_eq!(stale.status(), Status::Stale);
    assert_eq!(
        stale.message(),
        "plugin 'rb' tool 'echo': this handle belongs to generation 1, and the plugin was reloaded as generation \
         2; resolve it again"
    );
    assert_eq!(loader.invoke_to_vec("rb", TOOL, "echo", b"x").unwrap(), b"B:x");
    let new = loader.resolve("rb", TOOL, "echo").unwrap();
    assert_eq!(new.invoke_to_vec(b"y").unwrap(), b"B:y");
    assert!(events.take().is_empty());

    // Freeing the last handle of the old version tears it down; the new one is untouched.
    drop(old);
    assert_eq!(events.take(), ["rb:shutdown", "rb:destroy", "rb:dlclose"]);
    assert_eq!(new.invoke_to_vec(b"z").unwrap(), b"B:z");
    assert_eq!(loader.unload("rb").unwrap_err().status(), Status::Busy);
    drop(new);
    loader.unload("rb").unwrap();
    assert_eq!(events.take(), ["rb:shutdown", "rb:destroy", "rb:dlclose"]);
}

#[test]
fn an_unpinned_old_version_is_torn_down_before_the_new_one_starts() {
    let (loader, dir) = tree_with("reload-order", "ro", &["ECHO_PREFIX=\"A:\""], &manifest("ro"));
    let events = EventLog::leak();
    loader.set_host_extension("test.events", events.extension());
    loader.load("ro").unwrap();
    loader.init("ro", "{}", Path::new("")).unwrap();
    events.take();
    rebuild(&dir, "ro", &["ECHO_PREFIX=\"B:\""]);
    loader.reload("ro").unwrap();
    assert_eq!(
        events.take(),
        ["ro:create", "ro:register", "ro:shutdown", "ro:destroy", "ro:dlclose", "ro:init"],
        "the new version loads first, the old one stops, then the new one starts"
    );
    assert_eq!(loader.invoke_to_vec("ro", TOOL, "echo", b"x").unwrap(), b"B:x");
}

#[test]
fn a_new_version_that_fails_the_abi_gate_leaves_the_old_one_serving() {
    let (loader, dir) = tree_with("reload-abi", "ra", &["ECHO_PREFIX=\"A:\""], &manifest("ra"));
    loader.load("ra").unwrap();
    loader.init("ra", "{}", Path::new("")).unwrap();
    let handle = loader.resolve("ra", TOOL, "echo").unwrap();
    rebuild(&dir, "ra", &["ECHO_PREFIX=\"B:\"", "ABI_VERSION=2"]);
    let failed = loader.reload("ra").unwrap_err();
    assert_eq!(failed.status(), Status::AbiMismatch);
    assert!(
        failed.message().starts_with("plugin 'ra': reload failed, the old version keeps running: plugin 'ra'"),
        "{}",
        failed.message()
    );
    assert_eq!(handle.invoke_to_vec(b"x").unwrap(), b"A:x");
    assert_eq!(loader.invoke_to_vec("ra", TOOL, "echo", b"x").unwrap(), b"A:x");
    assert_eq!(loader.plugin_generation("ra").unwrap(), 1);
    // A fixed build then reloads.
    rebuild(&dir, "ra", &["ECHO_PREFIX=\"C:\""]);
    drop(handle);
    loader.reload("ra").unwrap();
    assert_eq!(loader.invoke_to_vec("ra", TOOL, "echo", b"x").unwrap(), b"C:x");
    assert_eq!(loader.plugin_generation("ra").unwrap(), 2);
}

#[test]
fn a_manifest_that_changed_its_id_is_refused_and_the_old_version_keeps_running() {
    let (loader, dir) = tree_with("reload-id", "ri", &[], &manifest("ri"));
    loader.load("ri").unwrap();
    loader.init("ri", "{}", Path::new("")).unwrap();
    std::fs::write(
        dir.join("aisopod.plugin.toml"),
        manifest("other").replace("entry_point = \"other\"", "entry_point = \"ri\""),
    )
    .unwrap();
    let failed = loader.reload("ri").unwrap_err();
    assert_eq!(failed.status(), Status::ManifestInvalid);
    assert!(
        failed.message().contains("the manifest now says id 'other'; a reload keeps the id"),
        "{}",
        failed.message()
    );
    assert_eq!(loader.invoke_to_vec("ri", TOOL, "echo", b"x").unwrap(), b"x");
}

#[test]
fn the_state_extension_carries_the_count_across_a_reload() {
    let (loader, dir) = tree_with("reload-state", "rs", &["STATE_COUNTER"], &counter_manifest("rs"));
    let events = EventLog::leak();
    loader.set_host_extension("test.events", events.extension());
    loader.load("rs").unwrap();
    loader.init("rs", "{}", Path::new("")).unwrap();
    for expected in ["1", "2", "3"] {
        assert_eq!(loader.invoke_to_vec("rs", TOOL, "count", b"").unwrap(), expected.as_bytes());
    }
    events.take();
    rebuild(&dir, "rs", &["STATE_COUNTER", "ECHO_PREFIX=\"B:\""]);
    loader.reload("rs").unwrap();
    let seen = events.take();
    let position =
        |event: &str| seen.iter().position(|e| e == event).unwrap_or_else(|| panic!("no {event} in {seen:?}"));
    assert!(position("rs:save") < position("rs:shutdown"), "{seen:?}");
    assert!(position("rs:init") < position("rs:restore"), "{seen:?}");
    assert_eq!(loader.invoke_to_vec("rs", TOOL, "echo", b"x").unwrap(), b"B:x");
    assert_eq!(loader.invoke_to_vec("rs", TOOL, "count", b"").unwrap(), b"4");
}

#[test]
fn a_plugin_never_initialized_is_not_initialized_after_a_reload() {
    let (loader, dir) = tree_with("reload-uninit", "ru", &[], &manifest("ru"));
    loader.load("ru").unwrap();
    rebuild(&dir, "ru", &["ECHO_PREFIX=\"B:\""]);
    loader.reload("ru").unwrap();
    assert_eq!(loader.plugin_state("ru"), Some(PluginState::Loaded));
    // The config of the first successful init is the one a later reload uses.
    loader.init("ru", "{}", Path::new("")).unwrap();
    rebuild(&dir, "ru", &["ECHO_PREFIX=\"C:\""]);
    loader.reload("ru").unwrap();
    assert_eq!(loader.plugin_state("ru"), Some(PluginState::Initialized));
    assert_eq!(loader.invoke_to_vec("ru", TOOL, "echo", b"x").unwrap(), b"C:x");
}

#[test]
fn a_new_version_whose_init_fails_stays_loaded_and_says_the_old_one_is_gone() {
    let (loader, dir) = tree_with("reload-init", "rf", &[], &manifest("rf"));
    loader.load("rf").unwrap();
    loader.init("rf", "{}", Path::new("")).unwrap();
    rebuild(&dir, "rf", &["INIT_FAILS"]);
    let failed = loader.reload("rf").unwrap_err();
    assert_eq!(failed.status(), Status::InitFailed);
    assert_eq!(
        failed.message(),
        "plugin 'rf': the old version is gone, and the new one (generation 2) did not start: plugin 'rf': init \
         returned 3"
    );
    assert_eq!(loader.plugin_state("rf"), Some(PluginState::Loaded));
    assert_eq!(loader.plugin_generation("rf").unwrap(), 2);
    loader.unload("rf").unwrap();
}

#[test]
fn reloading_a_plugin_that_is_not_loaded_says_so() {
    let (loader, _) = tree_with("reload-none", "rn", &[], &manifest("rn"));
    let failed = loader.reload("rn").unwrap_err();
    assert_eq!((failed.status(), failed.message()), (Status::NotLoaded, "plugin 'rn' is not loaded"));
    assert_eq!(loader.plugin_generation("rn").unwrap_err().status(), Status::NotLoaded);
}

#[test]
fn poll_changes_reloads_only_the_plugin_whose_library_changed() {
    let root = temp_dir("reload-poll");
    add_test_plugin(&root, "pa", &["ECHO_PREFIX=\"A:\""]);
    let changed = add_test_plugin(&root, "pb", &["ECHO_PREFIX=\"A:\""]);
    let loader = isolated_loader("1.0.0", &[&root]);
    assert_eq!(loader.discover(), 2);
    for id in ["pa", "pb"] {
        loader.load(id).unwrap();
        loader.init(id, "{}", Path::new("")).unwrap();
    }
    let polled = loader.poll_changes().unwrap();
    assert!(polled.reloaded.is_empty() && polled.failed.is_empty(), "{polled:?}");

    rebuild(&changed, "pb", &["ECHO_PREFIX=\"B:\""]);
    let polled = loader.poll_changes().unwrap();
    assert_eq!(polled.reloaded, ["pb"]);
    assert!(polled.failed.is_empty(), "{polled:?}");
    assert_eq!(loader.invoke_to_vec("pa", TOOL, "echo", b"x").unwrap(), b"A:x");
    assert_eq!(loader.invoke_to_vec("pb", TOOL, "echo", b"x").unwrap(), b"B:x");
    assert_eq!((loader.plugin_generation("pa").unwrap(), loader.plugin_generation("pb").unwrap()), (1, 3));
    assert!(loader.poll_changes().unwrap().reloaded.is_empty());

    // A broken build fails once and is not tried again until the files change again; the load order stays.
    rebuild(&changed, "pb", &["ABI_VERSION=2"]);
    let polled = loader.poll_changes().unwrap();
    assert!(polled.reloaded.is_empty());
    assert_eq!(polled.first_failure().map(|e| e.status()), Some(Status::AbiMismatch));
    assert!(loader.poll_changes().unwrap().failed.is_empty());
    let mut out = Vec::new();
    loader.emit("ping", b"", Some(aisopod_loader::VecSink::new(&mut out).sink())).unwrap();
    assert_eq!(out, b"pa;pb;");
}

#[test]
fn an_isolated_plugin_reloads_into_a_new_helper_and_its_old_handles_turn_stale() {
    let (loader, dir) = tree_with("reload-isolated", "iso", &["ECHO_PREFIX=\"A:\""], &manifest("iso"));
    loader.set_isolation(None, Some(Isolation::Process));
    loader.set_call_timeout(None, Some(Duration::from_secs(5))).unwrap();
    loader.load("iso").unwrap();
    loader.init("iso", "{}", Path::new("")).unwrap();
    let old_pid = loader.plugin_pid("iso").expect("a helper runs it");
    let old = loader.resolve("iso", TOOL, "echo").unwrap();
    assert_eq!(old.invoke_to_vec(b"x").unwrap(), b"A:x");

    // A new version that fails keeps the old helper.
    rebuild(&dir, "iso", &["ABI_VERSION=2"]);
    assert_eq!(loader.reload("iso").unwrap_err().status(), Status::AbiMismatch);
    assert_eq!(loader.plugin_pid("iso"), Some(old_pid));
    assert_eq!(old.invoke_to_vec(b"x").unwrap(), b"A:x");

    rebuild(&dir, "iso", &["ECHO_PREFIX=\"B:\""]);
    drop(old);
    loader.reload("iso").unwrap();
    let new_pid = loader.plugin_pid("iso").expect("a new helper runs it");
    assert_ne!(new_pid, old_pid);
    assert_eq!(loader.invoke_to_vec("iso", TOOL, "echo", b"x").unwrap(), b"B:x");
    // The old helper, unpinned, was stopped.
    assert!(!Path::new(&format!("/proc/{old_pid}")).exists() || is_zombie_or_gone(old_pid));

    let pinned = loader.resolve("iso", TOOL, "echo").unwrap();
    rebuild(&dir, "iso", &["ECHO_PREFIX=\"C:\""]);
    loader.reload("iso").unwrap();
    assert_eq!(pinned.invoke_to_vec(b"x").unwrap_err().status(), Status::Stale);
    assert_eq!(loader.invoke_to_vec("iso", TOOL, "echo", b"x").unwrap(), b"C:x");
    assert_eq!(loader.plugin_generation("iso").unwrap(), 3);
}

fn is_zombie_or_gone(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| stat.contains(") Z "))
}

#[test]
fn the_header_names_the_state_extension_as_the_rust_constant_does() {
    let header = std::fs::read_to_string(Path::new(MANIFEST_DIR).join("include/aisopod_loader.h")).unwrap();
    let define = format!("#define AISOPOD_STATE_EXTENSION \"{}\"", aisopod_loader::abi::AISOPOD_STATE_EXTENSION);
    assert!(header.contains(&define), "no `{define}` in the header");
}
