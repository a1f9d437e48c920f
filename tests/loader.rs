//! The loader driven through its Rust API, against real C plugins compiled for each case.

mod common;

use std::path::Path;
use std::sync::Arc;

use aisopod_loader::{CapabilityKind, Loader, PluginState, Status};
use common::*;

/// A loader that searches only `root`, with the event recorder installed.
fn loader_for(root: &Path) -> (Loader, &'static EventLog) {
    let loader = isolated_loader("1.5.0", &[root]);
    let events = EventLog::leak();
    loader.set_host_extension("test.events", events.extension());
    (loader, events)
}

fn load_error(loader: &Loader, id: &str) -> aisopod_loader::Error {
    loader.load(id).expect_err("load should fail")
}

fn assert_error(error: &aisopod_loader::Error, status: Status, needles: &[&str]) {
    assert_eq!(error.status(), status, "{error}");
    for needle in needles {
        assert!(error.message().contains(needle), "message lacks {needle:?}: {error}");
    }
}

#[test]
fn full_lifecycle_in_order() {
    let root = temp_dir("lifecycle");
    add_test_plugin(&root, "alpha", &[]);
    let (loader, events) = loader_for(&root);

    assert_eq!(loader.discover(), 1);
    let discovery = loader.discovery();
    let info = discovery.find("alpha").unwrap();
    assert_eq!(info.manifest.name, "Test plugin alpha");
    assert_eq!(info.manifest.declared(CapabilityKind::Tool), ["echo"]);
    assert!(discovery.diagnostics().is_empty(), "{:?}", discovery.diagnostics());

    loader.load("alpha").unwrap();
    assert_eq!(loader.plugin_state("alpha"), Some(PluginState::Loaded));
    assert_error(
        &loader.invoke_to_vec("alpha", CapabilityKind::Tool, "echo", b"x").unwrap_err(),
        Status::NotInitialized,
        &["alpha"],
    );
    loader.init("alpha", "{}", Path::new("/tmp")).unwrap();
    assert_eq!(loader.plugin_state("alpha"), Some(PluginState::Initialized));
    assert_error(&loader.init("alpha", "{}", Path::new("")).unwrap_err(), Status::AlreadyInitialized, &["alpha"]);

    assert_eq!(loader.invoke_to_vec("alpha", CapabilityKind::Tool, "echo", b"hi there").unwrap(), b"hi there");
    assert_eq!(loader.invoke_to_vec("alpha", CapabilityKind::Tool, "echo", b"").unwrap(), b"");
    assert_error(
        &loader.invoke_to_vec("alpha", CapabilityKind::Tool, "nope", b"").unwrap_err(),
        Status::CapabilityNotFound,
        &["alpha", "tool 'nope'"],
    );
    assert_error(
        &loader.invoke_to_vec("alpha", CapabilityKind::Command, "echo", b"").unwrap_err(),
        Status::CapabilityNotFound,
        &["command 'echo'"],
    );

    let mut out = Vec::new();
    assert_eq!(loader.emit("ping", b"", Some(aisopod_loader::VecSink::new(&mut out).sink())).unwrap(), 1);
    assert_eq!(out, b"alpha;");
    assert_eq!(loader.emit("no-such-event", b"", None).unwrap(), 0);

    loader.unload("alpha").unwrap();
    assert_eq!(loader.plugin_state("alpha"), None);
    assert_eq!(
        events.take(),
        ["alpha:create", "alpha:register", "alpha:init", "alpha:shutdown", "alpha:destroy", "alpha:dlclose"]
    );
    assert_error(&loader.unload("alpha").unwrap_err(), Status::NotLoaded, &["alpha"]);
    assert_error(
        &loader.invoke_to_vec("alpha", CapabilityKind::Tool, "echo", b"").unwrap_err(),
        Status::NotLoaded,
        &["alpha"],
    );

    // Unload then reload works, and creates a fresh instance.
    loader.load("alpha").unwrap();
    loader.init("alpha", "", Path::new("")).unwrap();
    assert_eq!(loader.invoke_to_vec("alpha", CapabilityKind::Tool, "echo", b"again").unwrap(), b"again");
    assert_error(&load_error(&loader, "alpha"), Status::AlreadyLoaded, &["alpha"]);
    drop(loader);
    assert_eq!(
        events.take(),
        ["alpha:create", "alpha:register", "alpha:init", "alpha:shutdown", "alpha:destroy", "alpha:dlclose"]
    );
}

#[test]
fn unloading_an_uninitialized_plugin_skips_shutdown() {
    let root = temp_dir("no-init");
    add_test_plugin(&root, "beta", &[]);
    let (loader, events) = loader_for(&root);
    loader.discover();
    loader.load("beta").unwrap();
    loader.unload("beta").unwrap();
    assert_eq!(events.take(), ["beta:create", "beta:register", "beta:destroy", "beta:dlclose"]);
}

#[test]
fn abi_mismatch_is_refused_before_create() {
    let root = temp_dir("abi");
    add_test_plugin(&root, "future", &["ABI_VERSION=2"]);
    let (loader, events) = loader_for(&root);
    loader.discover();
    let e = load_error(&loader, "future");
    assert_error(&e, Status::AbiMismatch, &["'future'", "ABI version 2", "expected 1", "aisopod_plugin_abi_version"]);
    assert_eq!(events.take(), Vec::<String>::new(), "no plugin code beyond the ABI query ran");
}

#[test]
fn missing_symbols_are_named() {
    let root = temp_dir("symbols");
    add_test_plugin(&root, "noabi", &["NO_ABI_SYMBOL"]);
    add_test_plugin(&root, "nocreate", &["NO_CREATE_SYMBOL"]);
    let (loader, _) = loader_for(&root);
    loader.discover();
    assert_error(&load_error(&loader, "noabi"), Status::MissingSymbol, &["'noabi'", "aisopod_plugin_abi_version"]);
    assert_error(&load_error(&loader, "nocreate"), Status::MissingSymbol, &["'nocreate'", "aisopod_plugin_create"]);
}

#[test]
fn host_version_outside_range_is_refused_before_the_library_is_touched() {
    let root = temp_dir("versions");
    // No library at all: the version check must come first.
    write_plugin(
        &root,
        "old",
        &manifest("old").replace("min_host_version = \"1.0.0\"", "min_host_version = \"1.6.0\""),
        "old",
        None,
    );
    write_plugin(
        &root,
        "new",
        &manifest("new").replace("max_host_version = \"1.9.0\"", "max_host_version = \"1.4.9\""),
        "new",
        None,
    );
    let (loader, _) = loader_for(&root);
    assert_eq!(loader.discover(), 2);
    assert_error(
        &load_error(&loader, "old"),
        Status::VersionIncompatible,
        &["'old'", ">= 1.6.0", "min_host_version", "1.5.0"],
    );
    assert_error(&load_error(&loader, "new"), Status::VersionIncompatible, &["'new'", "<= 1.4.9", "max_host_version"]);
}

#[test]
fn bad_manifests_become_diagnostics_and_the_scan_goes_on() {
    let root = temp_dir("manifests");
    add_test_plugin(&root, "good", &[]);
    let cases: &[(&str, String, Status, &[&str])] = &[
        (
            "a-unknown",
            manifest("a-unknown").replace("author =", "colour = \"red\"\nauthor ="),
            Status::ManifestParse,
            &["colour", ":6:"],
        ),
        (
            "b-badid",
            manifest("b-badid").replace("id = \"b-badid\"", "id = \"Bad Id\""),
            Status::ManifestInvalid,
            &["[plugin].id", ":2:"],
        ),
        ("c-semver", manifest("c-semver").replace("1.2.3", "one"), Status::ManifestInvalid, &["[plugin].version"]),
        (
            "d-missing",
            manifest("d-missing").replace("name = \"Test plugin d-missing\"\n", ""),
            Status::ManifestParse,
            &["`name`"],
        ),
        (
            "e-range",
            manifest("e-range").replace("\"1.9.0\"", "\"0.9.0\""),
            Status::ManifestInvalid,
            &["max_host_version", "min_host_version"],
        ),
        ("f-toml", "[plugin\nid = ".to_string(), Status::ManifestParse, &["f-toml/aisopod.plugin.toml:1"]),
        (
            "g-entry",
            manifest("g-entry").replace("entry_point = \"g-entry\"", "entry_point = \"../x\""),
            Status::ManifestInvalid,
            &["[plugin].entry_point"],
        ),
    ];
    for (dir, text, _, _) in cases {
        write_plugin(&root, dir, text, dir, None);
    }
    std::fs::create_dir_all(root.join("h-dir/aisopod.plugin.toml")).unwrap();
    std::fs::create_dir_all(root.join("i-not-a-plugin")).unwrap();
    std::fs::write(root.join("j-large.toml"), "not a directory").unwrap();
    write_plugin(&root, "k-big", &format!("{}#{}\n", manifest("k-big"), "x".repeat(70_000)), "k-big", None);

    let (loader, _) = loader_for(&root);
    assert_eq!(loader.discover(), 1);
    let discovery = loader.discovery();
    assert_eq!(discovery.plugins()[0].manifest.id, "good");
    let diagnostics = discovery.diagnostics();
    assert_eq!(diagnostics.len(), cases.len() + 2, "{diagnostics:#?}");
    for ((dir, _, status, needles), diagnostic) in cases.iter().zip(diagnostics) {
        assert_eq!(diagnostic.status, *status, "{dir}: {diagnostic:?}");
        assert!(diagnostic.path.ends_with(format!("{dir}/aisopod.plugin.toml")), "{dir}: {diagnostic:?}");
        assert!(diagnostic.message.contains(&format!("{dir}/aisopod.plugin.toml")), "{dir}: {diagnostic:?}");
        for needle in *needles {
            assert!(diagnostic.message.contains(needle), "{dir} lacks {needle:?}: {}", diagnostic.message);
        }
    }
    let dir_case = &diagnostics[cases.len()];
    assert_eq!(dir_case.status, Status::Io, "{dir_case:?}");
    assert!(dir_case.message.contains("is a directory"), "{dir_case:?}");
    let big = &diagnostics[cases.len() + 1];
    assert_eq!(big.status, Status::ManifestTooLarge, "{big:?}");
    assert!(big.message.contains("65536"), "{big:?}");

    // The good plugin still loads after all that.
    loader.load("good").unwrap();
}

#[test]
fn duplicate_ids_first_in_search_path_order_wins() {
    let first = temp_dir("dup-first");
    let second = temp_dir("dup-second");
    add_test_plugin(&first, "twin", &[]);
    add_test_plugin(&second, "twin", &[]);
    let loader = isolated_loader("1.5.0", &[&first, &second]);
    assert_eq!(loader.discover(), 1);
    let discovery = loader.discovery();
    assert!(discovery.find("twin").unwrap().directory.starts_with(&first));
    let [diagnostic] = discovery.diagnostics() else { panic!("{:?}", discovery.diagnostics()) };
    assert_eq!(diagnostic.status, Status::DuplicateId);
    assert!(diagnostic.path.starts_with(&second));
    assert!(
        diagnostic.message.contains("'twin'") && diagnostic.message.contains(&*first.to_string_lossy()),
        "{diagnostic:?}"
    );
}

#[test]
fn capability_mismatches_are_named_both_ways() {
    let root = temp_dir("caps");
    add_test_plugin(&root, "extra", &["REGISTER_EXTRA"]);
    add_test_plugin(&root, "lazy", &["SKIP_HOOK"]);
    add_test_plugin(&root, "twice", &["REGISTER_TWICE"]);
    let (loader, events) = loader_for(&root);
    loader.discover();
    assert_error(
        &load_error(&loader, "extra"),
        Status::CapabilityMismatch,
        &["'extra'", "registered command 'extra'", "[capabilities].commands"],
    );
    assert_error(
        &load_error(&loader, "lazy"),
        Status::CapabilityMismatch,
        &["'lazy'", "declares hook 'ping'", "never registered"],
    );
    assert_error(
        &load_error(&loader, "twice"),
        Status::RegistrationFailed,
        &["'twice'", "tool 'echo' registered twice"],
    );
    // Each failed load destroyed the plugin and closed its library.
    let events = events.take();
    for id in ["extra", "lazy", "twice"] {
        let mine: Vec<&str> = events.iter().filter_map(|e| e.strip_prefix(&format!("{id}:"))).collect();
        assert_eq!(mine, ["create", "register", "destroy", "dlclose"], "{id}");
    }
}

#[test]
fn invalid_plugin_structs_are_refused() {
    let root = temp_dir("structs");
    add_test_plugin(&root, "nullcreate", &["CREATE_NULL"]);
    add_test_plugin(&root, "small", &["SMALL_STRUCT"]);
    add_test_plugin(&root, "noshutdown", &["NULL_SHUTDOWN"]);
    let liar = test_plugin_library(&["PLUGIN_ID=\"someone-else\""]);
    write_plugin(&root, "liar", &manifest("liar"), "liar", Some(&liar));
    let (loader, events) = loader_for(&root);
    loader.discover();
    assert_error(
        &load_error(&loader, "nullcreate"),
        Status::CreateFailed,
        &["'nullcreate'", "aisopod_plugin_create returned NULL"],
    );
    assert_error(&load_error(&loader, "small"), Status::InvalidPluginStruct, &["'small'", "struct_size is 8"]);
    assert_error(&load_error(&loader, "noshutdown"), Status::InvalidPluginStruct, &["'noshutdown'", "shutdown"]);
    assert_error(&load_error(&loader, "liar"), Status::IdMismatch, &["'liar'", "'someone-else'"]);
    let events = events.take();
    assert!(events.contains(&"noshutdown:destroy".to_string()), "{events:?}");
    assert!(events.contains(&"someone-else:destroy".to_string()), "{events:?}");
    // Every library that could be destroyed was closed again.
    for id in ["nullcreate", "noshutdown", "someone-else"] {
        assert!(events.contains(&format!("{id}:dlclose")), "{id}: {events:?}");
    }
    // A plugin whose struct is unusable cannot be destroyed, so its library is never unmapped.
    assert!(!events.contains(&"small:dlclose".to_string()), "{events:?}");
}

#[test]
fn library_file_problems_are_refused() {
    let root = temp_dir("libs");
    let outside = temp_dir("libs-outside");
    let real = test_plugin_library(&["PLUGIN_ID=\"escape\""]);
    std::fs::copy(&real, outside.join(library_name("escape"))).unwrap();
    let dir = write_plugin(&root, "escape", &manifest("escape"), "escape", None);
    std::os::unix::fs::symlink(outside.join(library_name("escape")), dir.join(library_name("escape"))).unwrap();
    write_plugin(&root, "absent", &manifest("absent"), "absent", None);
    let text = write_plugin(&root, "text", &manifest("text"), "text", None);
    std::fs::write(text.join(library_name("text")), "this is not a library\n").unwrap();
    let (loader, _) = loader_for(&root);
    loader.discover();
    assert_error(
        &load_error(&loader, "escape"),
        Status::LibraryOutsidePluginDir,
        &["'escape'", "outside the plugin directory"],
    );
    assert_error(&load_error(&loader, "absent"), Status::LibraryNotFound, &["'absent'", &library_name("absent")]);
    assert_error(&load_error(&loader, "text"), Status::LibraryLoad, &["'text'", &library_name("text")]);
}

#[test]
fn init_and_handler_failures_are_reported() {
    let root = temp_dir("runtime");
    add_test_plugin(&root, "gamma", &[]);
    let (loader, _) = loader_for(&root);
    loader.discover();
    loader.load("gamma").unwrap();
    assert_error(
        &loader.init("gamma", "fail", Path::new("")).unwrap_err(),
        Status::InitFailed,
        &["'gamma'", "returned 3"],
    );
    assert_eq!(loader.plugin_state("gamma"), Some(PluginState::Loaded));
    // init runs at most once per load: after a failure, the plugin must be loaded again.
    assert_error(
        &loader.init("gamma", "ok", Path::new("")).unwrap_err(),
        Status::InitFailed,
        &["'gamma'", "already failed"],
    );
    loader.unload("gamma").unwrap();
    loader.load("gamma").unwrap();
    loader.init("gamma", "ok", Path::new("")).unwrap();
    assert_error(
        &loader.invoke_to_vec("gamma", CapabilityKind::Tool, "echo", b"fail").unwrap_err(),
        Status::PluginError,
        &["'gamma'", "tool 'echo'", "code 7"],
    );
    // The plugin keeps working after a handler error.
    assert_eq!(loader.invoke_to_vec("gamma", CapabilityKind::Tool, "echo", b"ok").unwrap(), b"ok");
}

#[test]
fn thread_unsafe_plugins_are_serialized() {
    let root = temp_dir("serial");
    let text = manifest("serial").replace("entry_point = \"serial\"", "entry_point = \"serial\"\nthread_safe = false");
    add_test_plugin_with(&root, "serial", &["DETECT_OVERLAP"], &text);
    let (loader, _) = loader_for(&root);
    loader.discover();
    loader.load("serial").unwrap();
    loader.init("serial", "", Path::new("")).unwrap();
    let loader = Arc::new(loader);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let loader = loader.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let input = format!("{t}-{i}");
                    // The plugin returns 99 if it ever sees two calls at once.
                    let out = loader.invoke_to_vec("serial", CapabilityKind::Tool, "echo", input.as_bytes()).unwrap();
                    assert_eq!(out, input.as_bytes());
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn resident_plugins_survive_unload_and_reload() {
    let root = temp_dir("resident");
    let text = manifest("stay").replace("entry_point = \"stay\"", "entry_point = \"stay\"\nunload = false");
    add_test_plugin_with(&root, "stay", &[], &text);
    let (loader, events) = loader_for(&root);
    loader.discover();
    loader.load("stay").unwrap();
    loader.unload("stay").unwrap();
    assert_eq!(events.take(), ["stay:create", "stay:register", "stay:destroy"], "the library stays mapped");
    loader.load("stay").unwrap();
    loader.init("stay", "", Path::new("")).unwrap();
    assert_eq!(loader.invoke_to_vec("stay", CapabilityKind::Tool, "echo", b"still here").unwrap(), b"still here");
}

#[test]
fn extensions_pass_both_ways() {
    let root = temp_dir("ext");
    add_test_plugin(&root, "delta", &[]);
    let (loader, events) = loader_for(&root);
    loader.discover();
    loader.load("delta").unwrap();
    // The plugin found the host's test.events extension: it recorded its creation through it.
    assert_eq!(events.take(), ["delta:create", "delta:register"]);
    let ext = loader.plugin_extension("delta", "test.ext").unwrap();
    assert_eq!(unsafe { *(ext as *const i32) }, 42);
    assert!(loader.plugin_extension("delta", "other").unwrap().is_null());
    assert_eq!(loader.plugin_extension("nobody", "test.ext").unwrap_err().status(), Status::NotLoaded);
}

#[test]
fn hooks_fire_in_load_order_and_skip_uninitialized_plugins() {
    let root = temp_dir("hooks");
    for id in ["h1", "h2", "h3"] {
        add_test_plugin(&root, id, &[]);
    }
    let (loader, _) = loader_for(&root);
    assert_eq!(loader.discover(), 3);
    for id in ["h3", "h1", "h2"] {
        loader.load(id).unwrap();
    }
    loader.init("h3", "", Path::new("")).unwrap();
    loader.init("h2", "", Path::new("")).unwrap();
    let mut out = Vec::new();
    assert_eq!(loader.emit("ping", b"", Some(aisopod_loader::VecSink::new(&mut out).sink())).unwrap(), 2);
    assert_eq!(out, b"h3;h2;");
}

#[test]
fn missing_search_directories_are_skipped_with_a_debug_log() {
    let root = temp_dir("missing");
    add_test_plugin(&root, "epsilon", &[]);
    let logs = Arc::new(std::sync::Mutex::new(Vec::new()));
    let loader = isolated_loader("1.5.0", &[]);
    let sink = logs.clone();
    loader.set_log_callback(Some(Arc::new(move |level, source: &str, message: &str| {
        sink.lock().unwrap().push(format!("{level:?} {source} {message}"));
    })));
    loader.add_search_path(root.join("does-not-exist"));
    loader.add_search_path(&root);
    assert_eq!(loader.discover(), 1);
    assert!(loader.discovery().diagnostics().is_empty());
    let logs = logs.lock().unwrap();
    assert!(
        logs.iter().any(|l| l.starts_with("Debug loader skipping search path") && l.contains("does-not-exist")),
        "{logs:?}"
    );
}

#[test]
fn bad_host_version_is_refused() {
    let e = Loader::new("1.0").err().expect("not semver");
    assert_error(&e, Status::InvalidArgument, &["\"1.0\""]);
}

/// What the `test.callback` extension runs from inside the echo handler: calls back into the loader.
struct Reentry {
    loader: *const Loader,
    id: &'static str,
    results: std::sync::Mutex<Vec<Result<Vec<u8>, Status>>>,
}

#[repr(C)]
struct TestCallback {
    context: *mut std::ffi::c_void,
    call: unsafe extern "C" fn(*mut std::ffi::c_void),
}

unsafe extern "C" fn reenter(context: *mut std::ffi::c_void) {
    let reentry = unsafe { &*(context as *const Reentry) };
    let loader = unsafe { &*reentry.loader };
    let mut results = reentry.results.lock().unwrap();
    results.push(loader.unload(reentry.id).map(|()| Vec::new()).map_err(|e| e.status()));
    results.push(loader.load("other").map(|()| Vec::new()).map_err(|e| e.status()));
    results.push(loader.invoke_to_vec(reentry.id, CapabilityKind::Tool, "echo", b"inner").map_err(|e| e.status()));
}

fn reentry_results(id: &'static str, thread_safe: bool) -> Vec<Result<Vec<u8>, Status>> {
    let root = temp_dir("reentry");
    let text = manifest(id)
        .replace(&format!("entry_point = \"{id}\""), &format!("entry_point = \"{id}\"\nthread_safe = {thread_safe}"));
    add_test_plugin_with(&root, id, &[], &text);
    let (loader, _) = loader_for(&root);
    let reentry = Box::new(Reentry { loader: &loader, id, results: Default::default() });
    let callback = Box::new(TestCallback { context: &*reentry as *const Reentry as *mut _, call: reenter });
    loader.set_host_extension("test.callback", &*callback as *const TestCallback as *const std::ffi::c_void);
    loader.discover();
    loader.load(id).unwrap();
    loader.init(id, "", Path::new("")).unwrap();
    assert_eq!(loader.invoke_to_vec(id, CapabilityKind::Tool, "echo", b"callback").unwrap(), b"callback");
    loader.unload(id).unwrap();
    let results = std::mem::take(&mut *reentry.results.lock().unwrap());
    results
}

#[test]
fn lifecycle_calls_from_inside_a_plugin_are_refused_instead_of_deadlocking() {
    let results = reentry_results("rho", true);
    assert_eq!(results, [Err(Status::Reentrant), Err(Status::Reentrant), Ok(b"inner".to_vec())]);
}

#[test]
fn a_serialized_plugin_reentering_itself_is_refused_instead_of_deadlocking() {
    let results = reentry_results("sigma", false);
    assert_eq!(results, [Err(Status::Reentrant), Err(Status::Reentrant), Err(Status::Reentrant)]);
}

#[test]
fn resolved_capabilities_pin_their_plugin() {
    let root = temp_dir("resolve");
    add_test_plugin(&root, "tau", &[]);
    let (loader, _) = loader_for(&root);
    loader.discover();
    loader.load("tau").unwrap();
    assert_error(
        &loader.resolve("tau", CapabilityKind::Tool, "echo").err().unwrap(),
        Status::NotInitialized,
        &["'tau'"],
    );
    loader.init("tau", "", Path::new("")).unwrap();
    assert_error(
        &loader.resolve("tau", CapabilityKind::Tool, "nope").err().unwrap(),
        Status::CapabilityNotFound,
        &["'nope'"],
    );
    let echo = loader.resolve("tau", CapabilityKind::Tool, "echo").unwrap();
    assert_eq!(echo.invoke_to_vec(b"fast").unwrap(), b"fast");
    assert_error(&echo.invoke_to_vec(b"fail").unwrap_err(), Status::PluginError, &["'tau'", "tool 'echo'", "code 7"]);
    assert_error(&loader.unload("tau").unwrap_err(), Status::Busy, &["'tau'", "1 resolved capability handle"]);
    // Still loaded and working after the refused unload.
    assert_eq!(echo.invoke_to_vec(b"still").unwrap(), b"still");
    drop(echo);
    loader.unload("tau").unwrap();
}

/// Discovery never blocks on, or reads, a file that is not a regular file: a FIFO, a socket or a device as a
/// manifest each become a diagnostic naming the file and what it is; a FIFO among the plugin directories is
/// not a candidate. Each scan runs under a 10 s limit, so a regression fails rather than hangs.
#[test]
fn special_files_as_manifests_are_refused_without_blocking() {
    let root = temp_dir("special-manifests");
    add_test_plugin(&root, "good", &[]);
    for dir in ["a-fifo", "b-socket", "c-device"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    make_fifo(&root.join("a-fifo/aisopod.plugin.toml"));
    let _socket = std::os::unix::net::UnixListener::bind(root.join("b-socket/aisopod.plugin.toml")).unwrap();
    std::os::unix::fs::symlink("/dev/null", root.join("c-device/aisopod.plugin.toml")).unwrap();
    make_fifo(&root.join("d-fifo-entry"));

    let loader = Arc::new(isolated_loader("1.5.0", &[&root]));
    let scanning = loader.clone();
    assert_eq!(within_10_seconds("discovery", move || scanning.discover()), 1);
    let discovery = loader.discovery();
    assert_eq!(discovery.plugins()[0].manifest.id, "good");
    let expected = [
        ("a-fifo", "is a FIFO, not a regular file"),
        ("b-socket", "is a socket, not a regular file"),
        ("c-device", "is a character device, not a regular file"),
    ];
    let diagnostics = discovery.diagnostics();
    assert_eq!(diagnostics.len(), expected.len(), "{diagnostics:#?}");
    for ((dir, needle), diagnostic) in expected.iter().zip(diagnostics) {
        assert_eq!(diagnostic.status, Status::Io, "{diagnostic:?}");
        assert!(diagnostic.path.ends_with(format!("{dir}/aisopod.plugin.toml")), "{diagnostic:?}");
        assert!(
            diagnostic.message.contains(&format!("{dir}/aisopod.plugin.toml: manifest {needle}")),
            "{diagnostic:?}"
        );
    }

    // Reading one directly does not block either.
    let fifo = root.join("a-fifo/aisopod.plugin.toml");
    let error = within_10_seconds("Manifest::read", move || aisopod_loader::Manifest::read(&fifo)).unwrap_err();
    assert_error(&error, Status::Io, &["a-fifo/aisopod.plugin.toml", "is a FIFO, not a regular file"]);
}

#[test]
fn a_fifo_as_search_path_is_refused_without_blocking() {
    let root = temp_dir("special-search-path");
    add_test_plugin(&root, "good", &[]);
    let fifo = temp_dir("special-search-path-fifo").join("plugins");
    make_fifo(&fifo);
    let file = fifo.with_file_name("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let loader = Arc::new(isolated_loader("1.5.0", &[&fifo, &file, &root]));
    let scanning = loader.clone();
    assert_eq!(within_10_seconds("discovery", move || scanning.discover()), 1);
    let discovery = loader.discovery();
    let messages: Vec<(&Path, Status, &str)> =
        discovery.diagnostics().iter().map(|d| (d.path.as_path(), d.status, d.message.as_str())).collect();
    assert_eq!(
        messages,
        [
            (
                fifo.as_path(),
                Status::Io,
                format!("{}: search path is a FIFO, not a directory", fifo.display()).as_str()
            ),
            (
                file.as_path(),
                Status::Io,
                format!("{}: search path is a regular file, not a directory", file.display()).as_str()
            ),
        ]
    );
}

/// Messages about files word the system's error as `strerror` does, without Rust's "(os error N)".
#[test]
fn io_errors_are_worded_for_c_users() {
    let root = temp_dir("io-wording");
    add_test_plugin(&root, "good", &[]);
    std::fs::create_dir_all(root.join("dangling")).unwrap();
    std::os::unix::fs::symlink(root.join("nowhere"), root.join("dangling/aisopod.plugin.toml")).unwrap();
    let loader = isolated_loader("1.5.0", &[&root]);
    assert_eq!(loader.discover(), 1);
    let discovery = loader.discovery();
    let [diagnostic] = discovery.diagnostics() else { panic!("{:?}", discovery.diagnostics()) };
    assert_eq!(diagnostic.status, Status::Io);
    assert_eq!(
        diagnostic.message,
        format!(
            "{}: cannot read manifest: No such file or directory",
            root.join("dangling/aisopod.plugin.toml").display()
        )
    );
    let error = aisopod_loader::Manifest::read(&root.join("absent/aisopod.plugin.toml")).unwrap_err();
    assert!(error.message().ends_with(": cannot read manifest: No such file or directory"), "{error}");
    assert!(!error.message().contains("os error"), "{error}");
}

/// A manifest newer than this loader reads is discovered, loaded and run: the keys this loader does not know
/// are ignored, each with a warning in the log naming the line and both versions. `[metadata]` and `x-` keys are
/// ignored silently, and `license` is kept.
#[test]
fn a_newer_manifest_is_loaded_with_its_unknown_keys_logged() {
    let root = temp_dir("newer-manifest");
    let text = format!(
        "manifest_version = 2\n{}[quotas]\ncpu = 1\n\n[metadata]\ncategory = \"tests\"\n",
        manifest("later")
            .replace("author = \"Tests\"", "author = \"Tests\"\nlicense = \"MIT\"\nsandbox = \"strict\"\nx-note = 1")
    );
    add_test_plugin_with(&root, "later", &[], &text);
    let (loader, _) = loader_for(&root);
    let warnings = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = warnings.clone();
    loader.set_log_callback(Some(Arc::new(move |level, _: &str, message: &str| {
        if level == aisopod_loader::LogLevel::Warn {
            sink.lock().unwrap().push(message.to_owned());
        }
    })));
    assert_eq!(loader.discover(), 1, "{:?}", loader.discovery().diagnostics());
    let discovery = loader.discovery();
    let manifest = &discovery.find("later").unwrap().manifest;
    assert_eq!(manifest.license.as_deref(), Some("MIT"));
    let path = root.join("later/aisopod.plugin.toml");
    let note = "(manifest_version 2 is newer than 1, the newest this loader reads)";
    let expected = [
        format!("{}:9: ignored unknown field `sandbox` in table [plugin] {note}", path.display()),
        format!("{}:20: ignored unknown table [quotas] {note}", path.display()),
    ];
    assert_eq!(manifest.warnings, expected);
    assert_eq!(*warnings.lock().unwrap(), expected);

    loader.load("later").unwrap();
    loader.init("later", "", Path::new("")).unwrap();
    assert_eq!(
        loader.invoke_to_vec("later", CapabilityKind::Tool, "echo", b"from the future").unwrap(),
        b"from the future"
    );
    loader.unload("later").unwrap();
}
