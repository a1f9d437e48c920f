//! The file policy and the allow and deny lists from Rust, on real trees: unsafe plugin directories and manifests
//! at discovery (with and without the registry cache), unsafe libraries at load in this process, in a helper
//! process and at probe, a symlinked library behind a writable directory, a file owned by another user, and
//! plugins kept out by id.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use aisopod_loader::{FilePolicy, Isolation, Loader, Status};
use common::*;

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A loader over `tree` whose warnings are collected in the vector it returns.
fn loader_with_warnings(tree: &Path) -> (Loader, Arc<Mutex<Vec<String>>>) {
    let loader = isolated_loader("1.0.0", &[tree]);
    let warnings = collect_warnings(&loader);
    (loader, warnings)
}

/// The status and message of the diagnostic whose path is `path`.
fn diagnostic(loader: &Loader, path: &Path) -> Option<(Status, String)> {
    let discovery = loader.discovery();
    let found = discovery.diagnostics().iter().find(|d| d.path == path).map(|d| (d.status, d.message.clone()));
    found
}

#[test]
fn discovery_refuses_unsafe_directories_and_manifests_under_strict_warns_under_warn_and_ignores_them_off() {
    let tree = temp_dir("trust-discovery");
    add_test_plugin(&tree, "good", &[]);
    let dir = add_test_plugin(&tree, "gw-dir", &[]);
    set_mode(&dir, 0o775);
    let manifest = add_test_plugin(&tree, "ww-manifest", &[]).join("aisopod.plugin.toml");
    set_mode(&manifest, 0o666);
    // A directory without a manifest is nobody's plugin: not looked at, whatever its mode.
    let stray = tree.join("stray");
    std::fs::create_dir(&stray).unwrap();
    set_mode(&stray, 0o777);

    let (loader, warnings) = loader_with_warnings(&tree);
    assert_eq!(loader.file_policy(), FilePolicy::Strict, "strict is the default");
    assert_eq!(loader.discover(), 1);
    let (status, message) = diagnostic(&loader, &dir.join("aisopod.plugin.toml")).expect("gw-dir is a diagnostic");
    assert_eq!(status, Status::UnsafePermissions);
    assert!(
        message.starts_with(&format!(
            "{}: the plugin directory is writable by its group (mode 0775, owner uid ",
            dir.display()
        )),
        "{message}"
    );
    assert!(message.ends_with("the strict file policy refuses it (chmod g-w would make it safe)"), "{message}");
    let (status, message) = diagnostic(&loader, &manifest).expect("ww-manifest is a diagnostic");
    assert_eq!(status, Status::UnsafePermissions);
    assert!(
        message.starts_with(&format!(
            "{}: the manifest is writable by its group and by others (mode 0666,",
            manifest.display()
        )),
        "{message}"
    );
    assert_eq!(loader.discovery().diagnostics().len(), 2, "{:?}", loader.discovery().diagnostics());
    assert_eq!(loader.load("gw-dir").unwrap_err().status(), Status::NotFound, "a refused candidate has no id");
    assert!(warnings.lock().unwrap().is_empty());

    loader.set_file_policy(FilePolicy::Warn);
    assert_eq!(loader.discover(), 3);
    assert!(loader.discovery().diagnostics().is_empty());
    let logged = warnings.lock().unwrap().clone();
    assert_eq!(logged.len(), 2, "{logged:?}");
    assert!(logged[0].starts_with(&format!("{}: the plugin directory is writable by its group", dir.display())));
    assert!(logged[1].starts_with(&format!("{}: the manifest is writable", manifest.display())));
    assert!(logged.iter().all(|w| w.ends_with("; accepted, since the file policy is warn")), "{logged:?}");
    loader.load("gw-dir").unwrap();
    loader.unload("gw-dir").unwrap();

    warnings.lock().unwrap().clear();
    loader.set_file_policy(FilePolicy::Off);
    assert_eq!(loader.discover(), 3);
    assert!(warnings.lock().unwrap().is_empty(), "off looks at nothing");
}

#[test]
fn a_plugin_from_the_registry_cache_is_checked_again_after_a_chmod() {
    let work = temp_dir("trust-cache");
    let tree = work.join("plugins");
    let dir = add_test_plugin(&tree, "cached", &[]);
    let manifest = dir.join("aisopod.plugin.toml");
    let cache = work.join("registry.bin");
    let loader = isolated_loader("1.0.0", &[&tree]);
    loader.set_cache_path(Some(cache.clone()));
    assert_eq!(loader.discover(), 1);
    let written = std::fs::metadata(&cache).unwrap().modified().unwrap();

    // chmod changes the ctime; the cache keys on the mtime, which stays, so the entry still matches.
    let mtime = std::fs::metadata(&manifest).unwrap().modified().unwrap();
    set_mode(&manifest, 0o646);
    assert_eq!(std::fs::metadata(&manifest).unwrap().modified().unwrap(), mtime);
    assert_eq!(loader.discover(), 0);
    let (status, message) = diagnostic(&loader, &manifest).expect("a diagnostic");
    assert_eq!(status, Status::UnsafePermissions);
    assert!(message.contains("the manifest is writable by others (mode 0646"), "{message}");

    set_mode(&manifest, 0o644);
    assert_eq!(loader.discover(), 1, "{:?}", loader.discovery().diagnostics());
    set_mode(&dir, 0o757);
    assert_eq!(loader.discover(), 0);
    let (status, message) = diagnostic(&loader, &manifest).expect("a diagnostic");
    assert_eq!(status, Status::UnsafePermissions);
    assert!(message.contains("the plugin directory is writable by others (mode 0757"), "{message}");
    set_mode(&dir, 0o755);
    assert_eq!(loader.discover(), 1);
    // The entry was read from the cache each time the plugin was accepted: the file was left alone or rewritten
    // to the same content, and the manifest was never changed.
    assert!(std::fs::metadata(&cache).unwrap().modified().unwrap() >= written);
}

#[test]
fn an_unsafe_library_is_refused_in_this_process_in_a_helper_and_at_probe() {
    let tree = temp_dir("trust-library");
    add_test_plugin(&tree, "good", &[]);
    let dir = add_test_plugin(&tree, "gw-lib", &[]);
    let library = dir.join(library_name("gw-lib"));
    set_mode(&library, 0o775);
    let (loader, warnings) = loader_with_warnings(&tree);
    assert_eq!(loader.discover(), 2, "discovery does not look at libraries");

    let error = loader.load("gw-lib").unwrap_err();
    assert_eq!(error.status(), Status::UnsafePermissions);
    let expected =
        format!("plugin 'gw-lib': {}: the library is writable by its group (mode 0775, owner uid ", library.display());
    assert!(error.message().starts_with(&expected), "{}", error.message());

    loader.set_isolation(Some("gw-lib"), Some(Isolation::Process));
    let isolated = loader.load("gw-lib").unwrap_err();
    assert_eq!(isolated, error, "the host refuses it before a helper is asked to load it");

    let verdicts = loader.probe(&["good", "gw-lib"], None).unwrap();
    assert_eq!(verdicts[0].status(), Status::Ok);
    assert_eq!(verdicts[1].status(), Status::UnsafePermissions);
    assert_eq!(verdicts[1].plugin_id, "gw-lib");
    assert!(verdicts[1]
        .report
        .duration(aisopod_loader::isolation::probe::ProbeStep::Load(
            aisopod_loader::isolation::probe::LoadStep::LibraryPath
        ))
        .is_some());
    assert!(loader.quarantine().is_empty(), "a refusal is no verdict on the code: nothing is quarantined");

    loader.set_file_policy(FilePolicy::Warn);
    loader.load("gw-lib").unwrap();
    loader.init("gw-lib", "{}", Path::new("")).unwrap();
    assert_eq!(loader.invoke_to_vec("gw-lib", aisopod_loader::CapabilityKind::Tool, "echo", b"hi").unwrap(), b"hi");
    loader.unload("gw-lib").unwrap();
    let logged = warnings.lock().unwrap().clone();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].starts_with(&expected) && logged[0].ends_with("accepted, since the file policy is warn"));

    loader.set_file_policy(FilePolicy::Off);
    loader.set_isolation(Some("gw-lib"), None);
    loader.load("gw-lib").unwrap();
    loader.unload("gw-lib").unwrap();
    assert_eq!(warnings.lock().unwrap().len(), 1);
}

#[test]
fn a_symlinked_library_behind_a_writable_directory_is_refused() {
    let tree = temp_dir("trust-symlink");
    let dir = add_test_plugin(&tree, "linked", &[]);
    let lib_dir = dir.join("lib");
    std::fs::create_dir(&lib_dir).unwrap();
    let name = library_name("linked");
    std::fs::rename(dir.join(&name), lib_dir.join(&name)).unwrap();
    std::os::unix::fs::symlink(Path::new("lib").join(&name), dir.join(&name)).unwrap();
    set_mode(&lib_dir, 0o777);
    let loader = isolated_loader("1.0.0", &[&tree]);
    loader.discover();
    let error = loader.load("linked").unwrap_err();
    assert_eq!(error.status(), Status::UnsafePermissions);
    let directory = lib_dir.canonicalize().unwrap();
    assert!(
        error.message().starts_with(&format!(
            "plugin 'linked': {}: the directory holding the library is writable by its group and by others (mode 0777",
            directory.display()
        )),
        "{}",
        error.message()
    );
    set_mode(&lib_dir, 0o755);
    set_mode(&lib_dir.join(&name), 0o646);
    let error = loader.load("linked").unwrap_err();
    assert!(error.message().contains("/lib/liblinked.so: the library is writable by others"), "{}", error.message());
    set_mode(&lib_dir.join(&name), 0o755);
    loader.load("linked").unwrap();
    loader.unload("linked").unwrap();
}

#[test]
fn a_manifest_owned_by_another_user_is_refused() {
    // SAFETY: geteuid takes no arguments and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if uid != 0 {
        eprintln!("skipped: only root can give a file to another user (this runs as uid {uid})");
        return;
    }
    let tree = temp_dir("trust-owner");
    let manifest = add_test_plugin(&tree, "owned", &[]).join("aisopod.plugin.toml");
    std::os::unix::fs::chown(&manifest, Some(65534), None).unwrap();
    let loader = isolated_loader("1.0.0", &[&tree]);
    assert_eq!(loader.discover(), 0);
    let (status, message) = diagnostic(&loader, &manifest).expect("a diagnostic");
    assert_eq!(status, Status::UnsafePermissions);
    assert!(
        message.contains("the manifest is owned by uid 65534") && message.contains("(chown root would make it safe)"),
        "{message}"
    );
}

#[test]
fn the_lists_keep_plugins_out_at_discovery_load_and_probe_by_name() {
    let tree = temp_dir("trust-lists");
    add_test_plugin(&tree, "alpha", &[]);
    add_test_plugin(&tree, "beta", &[]);
    let loader = isolated_loader("1.0.0", &[&tree]);
    let manifest = |id: &str| tree.join(id).join("aisopod.plugin.toml");

    loader.deny("beta").unwrap();
    assert_eq!(loader.discover(), 1);
    let denied = format!("{}: plugin 'beta' is on the host's deny list", manifest("beta").display());
    assert_eq!(diagnostic(&loader, &manifest("beta")), Some((Status::Denied, denied.clone())));
    let error = loader.load("beta").unwrap_err();
    assert_eq!((error.status(), error.message()), (Status::Denied, denied.as_str()));
    let error = loader.probe(&["alpha", "beta"], None).unwrap_err();
    assert_eq!(error.status(), Status::Denied, "probing runs the plugin's code: nothing is probed");

    loader.allow("beta").unwrap();
    loader.allow("gamma").unwrap();
    assert_eq!(loader.discover(), 0, "on both lists, beta is denied; alpha is not on the allow list");
    let unlisted =
        format!("{}: plugin 'alpha' is not on the host's allow list ('beta', 'gamma')", manifest("alpha").display());
    assert_eq!(diagnostic(&loader, &manifest("alpha")), Some((Status::Denied, unlisted)));
    assert_eq!(diagnostic(&loader, &manifest("beta")).unwrap().0, Status::Denied);

    // The lists apply at load as they are then: no new discovery is needed either way.
    loader.clear_lists();
    loader.load("alpha").unwrap();
    loader.deny("alpha").unwrap();
    assert_eq!(loader.load("beta").map_err(|e| e.status()), Ok(()));
    loader.unload("alpha").unwrap();
    assert_eq!(loader.load("alpha").unwrap_err().status(), Status::Denied, "a loaded plugin stayed loaded until now");
    loader.unload("beta").unwrap();

    for bad in ["", "Alpha", "a/b", &"x".repeat(65)] {
        let error = loader.allow(bad).unwrap_err();
        assert_eq!(error.status(), Status::InvalidArgument, "{bad:?}");
        assert!(error.message().starts_with(&format!("argument 'id' is {bad:?}, which is no plugin id: it ")));
    }
}
