//! The plugin graph, from Rust: dependencies at discovery and load, init and unload order, the cascade, the
//! host's requirements, services between plugins and the lazy policy, with real test plugins.

mod common;

use std::path::Path;
use std::sync::{Arc, Barrier};

use aisopod_loader::{CapabilityKind, Loader, Status};
use common::{add_test_plugin_with, collect_warnings, manifest, temp_dir, EventLog};

/// Plugin `id` at `version`, needing `dependencies` (the body of its `[dependencies]` table).
fn add(root: &Path, id: &str, version: &str, dependencies: &str) {
    let text = format!("{}\n[dependencies]\n{dependencies}\n", manifest(id).replace("1.2.3", version));
    add_test_plugin_with(root, id, &[], &text);
}

fn loader_for(root: &Path) -> (Loader, &'static EventLog) {
    let loader = Loader::new("1.5.0").unwrap();
    loader.set_use_env_path(false);
    loader.set_use_default_paths(false);
    loader.add_search_path(root);
    let events = EventLog::leak();
    loader.set_host_extension("test.events", events.extension());
    loader.discover();
    (loader, events)
}

/// The events of one kind, in order, as "plugin" names.
fn of(events: &[String], event: &str) -> Vec<String> {
    let suffix = format!(":{event}");
    events.iter().filter_map(|e| e.strip_suffix(&suffix)).map(str::to_owned).collect()
}

fn diagnostic(loader: &Loader, id: &str) -> (Status, String) {
    let discovery = loader.discovery();
    let path = format!("/{id}/aisopod.plugin.toml");
    let found = discovery.diagnostics().iter().find(|d| d.path.to_string_lossy().ends_with(&path));
    let d = found.unwrap_or_else(|| panic!("no diagnostic for {id}: {:?}", discovery.diagnostics()));
    (d.status, d.message.clone())
}

#[test]
fn a_chain_loads_and_inits_dependencies_first_and_shuts_down_in_reverse() {
    let root = temp_dir("graph-chain");
    add(&root, "a", "1.0.0", "b = \"^1.2\"");
    add(&root, "b", "1.2.3", "c = \"1\"");
    add(&root, "c", "1.9.0", "");
    let (loader, events) = loader_for(&root);
    assert_eq!(loader.discovery().plugins().len(), 3, "{:?}", loader.discovery().diagnostics());
    loader.load("a").unwrap();
    let log = events.take();
    assert_eq!(of(&log, "create"), ["c", "b", "a"]);
    loader.set_config("c", "fail", Path::new(""));
    let e = loader.init("a", "", Path::new("")).unwrap_err();
    assert_eq!(e.status(), Status::InitFailed);
    assert!(e.message().contains("plugin 'b' needs 'c' initialized first, and its init failed"), "{e}");
    // c's init failed for this load; unload the chain and load again with a good config.
    loader.unload_cascade("c").unwrap();
    loader.set_config("c", "", Path::new(""));
    loader.load("a").unwrap();
    events.take();
    loader.init("a", "", Path::new("")).unwrap();
    assert_eq!(of(&events.take(), "init"), ["c", "b", "a"]);
    assert_eq!(loader.invoke_to_vec("a", CapabilityKind::Tool, "echo", b"hi").unwrap(), b"hi");

    let e = loader.unload("b").unwrap_err();
    assert_eq!(e.status(), Status::HasDependents);
    assert!(e.message().contains("plugin 'b' is needed by loaded plugin(s) 'a'"), "{e}");
    let e = loader.unload("c").unwrap_err();
    assert!(e.message().contains("'b', 'a'"), "{e}");
    loader.unload_cascade("b").unwrap();
    assert_eq!(of(&events.take(), "shutdown"), ["a", "b"]);
    assert!(loader.plugin_state("c").is_some());
    loader.unload("c").unwrap();
}

#[test]
fn a_diamond_loads_the_shared_dependency_once() {
    let root = temp_dir("graph-diamond");
    add(&root, "top", "1.0.0", "left = \"1\"\nright = \"1\"");
    add(&root, "left", "1.0.0", "base = \"1\"");
    add(&root, "right", "1.0.0", "base = \"1.1\"");
    add(&root, "base", "1.4.0", "");
    let (loader, events) = loader_for(&root);
    loader.load("top").unwrap();
    assert_eq!(of(&events.take(), "create"), ["base", "left", "right", "top"]);
    loader.init("top", "", Path::new("")).unwrap();
    assert_eq!(of(&events.take(), "init"), ["base", "left", "right", "top"]);
    drop(loader);
    assert_eq!(of(&events.take(), "shutdown"), ["top", "right", "left", "base"]);
}

#[test]
fn version_conflicts_cycles_and_missing_dependencies_name_the_chain() {
    let root = temp_dir("graph-bad");
    add(&root, "old-user", "1.0.0", "base = \"^2\"");
    add(&root, "base", "1.4.0", "");
    add(&root, "above", "1.0.0", "old-user = \"1\"");
    add(&root, "ping", "1.0.0", "pong = \"1\"");
    add(&root, "pong", "1.0.0", "ping = \"1\"");
    add(&root, "rider", "1.0.0", "ping = \"1\"");
    add(&root, "lonely", "1.0.0", "nobody = \"1\"");
    add(
        &root,
        "relaxed",
        "1.0.0",
        "nobody = { version = \"1\", optional = true }\nbase = { version = \"9\", optional = true }",
    );
    let (loader, _) = loader_for(&root);
    let warnings = collect_warnings(&loader);
    loader.discover();
    let accepted: Vec<String> = loader.discovery().plugins().iter().map(|p| p.manifest.id.clone()).collect();
    assert_eq!(accepted, ["base", "relaxed"]);

    let (status, message) = diagnostic(&loader, "old-user");
    assert_eq!(status, Status::DependencyVersion);
    assert!(message.starts_with("plugin 'old-user' needs 'base' ^2 ([dependencies] in "), "{message}");
    assert!(message.contains("but 'base' is version 1.4.0"), "{message}");
    let (status, message) = diagnostic(&loader, "above");
    assert_eq!(status, Status::DependencyVersion);
    assert!(message.starts_with("plugin 'above' cannot be loaded: above -> old-user -> base: "), "{message}");
    for (id, chain) in [("ping", "ping -> pong -> ping"), ("pong", "pong -> ping -> pong")] {
        let (status, message) = diagnostic(&loader, id);
        assert_eq!(status, Status::DependencyCycle);
        assert_eq!(message, format!("plugin '{id}' cannot be loaded: {chain}: the dependencies form a cycle"));
    }
    let (status, message) = diagnostic(&loader, "rider");
    assert_eq!(
        (status, message.as_str()),
        (
            Status::DependencyCycle,
            "plugin 'rider' cannot be loaded: rider -> ping -> pong -> ping: the dependencies form a cycle"
        )
    );
    let (status, message) = diagnostic(&loader, "lonely");
    assert_eq!(status, Status::DependencyMissing);
    assert!(message.ends_with("which was not discovered"), "{message}");
    assert!(warnings.lock().unwrap().iter().any(|w| w.contains("plugin 'relaxed' needs 'base' ^9")), "{warnings:?}");

    // Loading one returns its diagnostic; the optional dependencies are left out.
    let e = loader.load("above").unwrap_err();
    assert_eq!(e.status(), Status::DependencyVersion);
    assert!(e.message().contains("above -> old-user -> base"), "{e}");
    loader.load("relaxed").unwrap();
    assert!(loader.plugin_state("base").is_none(), "an optional dependency outside its range is not loaded");
    loader.init("relaxed", "", Path::new("")).unwrap();
    assert_eq!(loader.invoke_to_vec("relaxed", CapabilityKind::Tool, "echo", b"service:nobody").unwrap(), b"null");
}

#[test]
fn the_host_requirement_sets_aside_a_plugin_and_those_that_need_it() {
    let root = temp_dir("graph-require");
    add(&root, "app", "1.0.0", "store = \"1\"");
    add(&root, "store", "1.4.0", "");
    let (loader, _) = loader_for(&root);
    assert_eq!(loader.require("store", Some("not a range")).unwrap_err().status(), Status::InvalidArgument);
    assert_eq!(loader.require("Store", Some("1")).unwrap_err().status(), Status::InvalidArgument);
    loader.require("store", Some("^2.1")).unwrap();
    // Until the next discovery, load applies it too.
    let e = loader.load("app").unwrap_err();
    assert_eq!(e.status(), Status::VersionRejected);
    assert!(e.message().contains("app -> store: plugin 'store' is version 1.4.0"), "{e}");
    assert!(e.message().contains("but the host requires ^2.1 of it"), "{e}");
    loader.discover();
    assert!(loader.discovery().plugins().is_empty());
    let (status, message) = diagnostic(&loader, "store");
    assert_eq!(status, Status::VersionRejected);
    assert!(message.starts_with("plugin 'store' is version 1.4.0 ("), "{message}");
    assert_eq!(diagnostic(&loader, "app").0, Status::VersionRejected);
    assert_eq!(loader.load("store").unwrap_err().status(), Status::VersionRejected);
    loader.require("store", None).unwrap();
    loader.discover();
    loader.load("app").unwrap();
}

#[test]
fn a_plugin_calls_a_dependency_through_the_host_and_keeps_it_past_its_loader() {
    let root = temp_dir("graph-service");
    add(&root, "user", "1.0.0", "provider = \"1\"");
    add(&root, "provider", "1.0.0", "");
    add(&root, "stranger", "1.0.0", "");
    let (loader, events) = loader_for(&root);
    let warnings = collect_warnings(&loader);
    loader.load("stranger").unwrap();
    loader.load("user").unwrap();
    loader.init("user", "", Path::new("")).unwrap();
    let call = |input: &[u8]| loader.invoke_to_vec("user", CapabilityKind::Tool, "echo", input).unwrap();
    assert_eq!(call(b"service:provider"), b"42");
    assert_eq!(call(b"service:stranger"), b"null");
    let logged = warnings.lock().unwrap().clone();
    assert!(
        logged.iter().any(|w| w.contains(
            "plugin 'user' asked for interface 'test.ext' of plugin 'stranger', which its [dependencies] do not name"
        )),
        "{logged:?}"
    );
    // A capability that outlives the loader keeps its plugin, and the plugin keeps its dependency.
    let capability = loader.resolve("user", CapabilityKind::Tool, "echo").unwrap();
    drop(loader);
    assert_eq!(of(&events.take(), "destroy"), ["stranger"]);
    assert_eq!(capability.invoke_to_vec(b"service:provider").unwrap(), b"42");
    drop(capability);
    assert_eq!(of(&events.take(), "shutdown"), ["user", "provider"]);
}

#[test]
fn lazy_first_calls_from_eight_threads_load_the_plugin_and_its_dependency_once() {
    let root = temp_dir("graph-lazy");
    // app's init takes 100 ms: the other first calls arrive while it is loaded but not started.
    let text = format!("{}\n[dependencies]\nbase = \"1\"\n", manifest("app"));
    add_test_plugin_with(&root, "app", &["INIT_SLEEP_MS=100"], &text);
    add(&root, "base", "1.0.0", "");
    // A library that fails the ABI gate.
    let text = manifest("broken");
    add_test_plugin_with(&root, "broken", &["ABI_VERSION=2"], &text);
    let (loader, events) = loader_for(&root);
    loader.set_lazy(true);
    loader.set_config("app", "fail", Path::new(""));
    let e = loader.invoke_to_vec("app", CapabilityKind::Tool, "echo", b"x").unwrap_err();
    assert_eq!(e.status(), Status::InitFailed, "{e}");
    assert!(loader.plugin_state("app").is_none() && loader.plugin_state("base").is_none());
    // Remembered until a new config (or discovery).
    assert_eq!(loader.invoke_to_vec("app", CapabilityKind::Tool, "echo", b"x").unwrap_err(), e);
    loader.set_config("app", "{}", Path::new(""));
    events.take();

    let loader = Arc::new(loader);
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (loader, barrier) = (loader.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let input = format!("call {i}");
                loader
                    .invoke_to_vec("app", CapabilityKind::Tool, "echo", input.as_bytes())
                    .map(|out| out == input.as_bytes())
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), Ok(true));
    }
    let log = events.take();
    assert_eq!(of(&log, "create"), ["base", "app"]);
    assert_eq!(of(&log, "init"), ["base", "app"]);

    let e = loader.resolve("broken", CapabilityKind::Tool, "echo").err().unwrap();
    assert_eq!(e.status(), Status::AbiMismatch);
    assert!(e.message().contains("plugin 'broken'") && e.message().contains("returns ABI version 2"), "{e}");
    // emit loads the plugins that declare the hook; the broken one is the first failure, the others run.
    add(&root, "listener", "1.0.0", "");
    loader.discover();
    let e = loader.emit("ping", b"", None).unwrap_err();
    assert_eq!(e.status(), Status::AbiMismatch);
    assert_eq!(loader.plugin_state("listener"), Some(aisopod_loader::PluginState::Initialized));
}

#[test]
fn a_reload_takes_the_dependants_down_first_and_loads_them_again_after() {
    let root = temp_dir("graph-reload");
    add(&root, "user", "1.0.0", "provider = \"1\"");
    add(&root, "provider", "1.0.0", "");
    let (loader, events) = loader_for(&root);
    loader.load("user").unwrap();
    loader.init("user", "{}", Path::new("")).unwrap();
    // The dependant reloads alone, bound to the same dependency.
    loader.reload("user").unwrap();
    let call = |input: &[u8]| loader.invoke_to_vec("user", CapabilityKind::Tool, "echo", input);
    assert_eq!(call(b"service:provider").unwrap(), b"42");
    events.take();

    // The dependency reloads with its dependant: the dependant goes first and comes back last. A handle of the
    // old dependant keeps it, and so the old dependency, mapped until it is freed.
    let stale = loader.resolve("user", CapabilityKind::Tool, "echo").unwrap();
    let (user, provider) = (loader.plugin_generation("user").unwrap(), loader.plugin_generation("provider").unwrap());
    loader.reload("provider").unwrap();
    let log = events.take();
    assert_eq!(of(&log, "create"), ["provider", "user"], "{log:?}");
    assert_eq!(of(&log, "init"), ["provider", "user"], "{log:?}");
    assert!(of(&log, "shutdown").is_empty(), "the old versions wait for the handle: {log:?}");
    assert!(loader.plugin_generation("provider").unwrap() > provider);
    assert!(loader.plugin_generation("user").unwrap() > user);
    assert_eq!(call(b"service:provider").unwrap(), b"42");
    assert_eq!(stale.invoke_to_vec(b"x").unwrap_err().status(), Status::Stale);
    drop(stale);
    assert_eq!(of(&events.take(), "shutdown"), ["user", "provider"]);

    // A new version that needs a plugin not loaded is refused, and the old one keeps running.
    // (The manifest alone: a library rewritten in place while it is mapped would crash the process.)
    let text = format!("{}\n[dependencies]\nprovider = \"1\"\nabsent = \"1\"\n", manifest("user"));
    std::fs::write(root.join("user/aisopod.plugin.toml"), text).unwrap();
    let e = loader.reload("user").unwrap_err();
    assert_eq!(e.status(), Status::DependencyMissing);
    assert!(
        e.message().contains("the old version keeps running: plugin 'user' needs 'absent' ^1, which is not loaded"),
        "{e}"
    );
    assert_eq!(call(b"x").unwrap(), b"x");
    // Reloading the dependency then cannot bring the dependant back: it is unloaded, and the error says so.
    let e = loader.reload("provider").unwrap_err();
    assert_eq!(e.status(), Status::DependencyMissing);
    assert!(e.message().starts_with("plugin 'user' needs 'provider', and loading it again after the reload of 'provider' failed, so it is unloaded: "), "{e}");
    assert!(loader.plugin_state("user").is_none());
    assert_eq!(loader.plugin_state("provider"), Some(aisopod_loader::PluginState::Initialized));
}

#[test]
fn isolated_plugins_follow_the_graph_but_share_no_interfaces() {
    let root = temp_dir("graph-isolated");
    add(&root, "user", "1.0.0", "provider = \"1\"");
    add(&root, "provider", "1.0.0", "");
    let loader = common::isolated_loader("1.5.0", &[&root]);
    loader.set_isolation(None, Some(aisopod_loader::Isolation::Process));
    loader.discover();
    loader.set_lazy(true);
    // The first call starts both, each in a helper of its own, the dependency first.
    let call = |input: &[u8]| loader.invoke_to_vec("user", CapabilityKind::Tool, "echo", input);
    assert_eq!(call(b"lazy").unwrap(), b"lazy");
    let (user, provider) = (loader.plugin_pid("user").unwrap(), loader.plugin_pid("provider").unwrap());
    assert_ne!(user, provider);
    assert_eq!(loader.plugin_state("provider"), Some(aisopod_loader::PluginState::Initialized));
    // An interface is a pointer into one process: none crosses to another.
    assert_eq!(call(b"service:provider").unwrap(), b"null");
    assert_eq!(loader.unload("provider").unwrap_err().status(), Status::HasDependents);
    // A reload of the dependency starts both again, in new helpers.
    loader.reload("provider").unwrap();
    assert_ne!(loader.plugin_pid("provider").unwrap(), provider);
    assert_ne!(loader.plugin_pid("user").unwrap(), user);
    assert_eq!(call(b"again").unwrap(), b"again");
    loader.unload_cascade("provider").unwrap();
    assert!(loader.plugin_state("user").is_none() && loader.plugin_state("provider").is_none());
}

#[test]
fn polling_reloads_a_changed_dependant_once_with_its_changed_dependency() {
    let root = temp_dir("graph-poll");
    add(&root, "user", "1.0.0", "provider = \"1\"");
    add(&root, "provider", "1.0.0", "");
    let (loader, events) = loader_for(&root);
    loader.load("user").unwrap();
    loader.init("user", "{}", Path::new("")).unwrap();
    // Both manifests change (the manifests alone: a library rewritten in place would crash the process).
    for id in ["user", "provider"] {
        let path = root.join(id).join("aisopod.plugin.toml");
        let text = std::fs::read_to_string(&path).unwrap().replace("A plugin built", "A plugin rebuilt");
        std::fs::write(&path, text).unwrap();
    }
    events.take();
    let polled = loader.poll_changes().unwrap();
    assert_eq!(polled.reloaded, ["provider", "user"]);
    assert!(polled.failed.is_empty(), "{:?}", polled.failed);
    assert_eq!(of(&events.take(), "create"), ["provider", "user"], "user is loaded again once, after provider");
    assert_eq!(loader.invoke_to_vec("user", CapabilityKind::Tool, "echo", b"service:provider").unwrap(), b"42");
    assert!(loader.poll_changes().unwrap().reloaded.is_empty());
}
