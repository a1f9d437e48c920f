//! The integrity pin (`[plugin].sha256`) through the Rust API: a library that matches loads and runs, in this
//! process and in a helper; one that does not is refused before `dlopen`, with both digests named, also when it
//! was replaced after discovery; with the registry cache on, a digest is reused only while the library is
//! unchanged; and a pinned library is mapped through the descriptor it was hashed from, kept open exactly as
//! long as the library stays mapped. Digests are computed with coreutils' `sha256sum`, not with the loader.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use aisopod_loader::isolation::probe::{LoadStep, ProbeOutcome, ProbeStep};
use aisopod_loader::{CapabilityKind, Isolation, Loader, LogLevel, Status};
use common::*;

const TOOL: CapabilityKind = CapabilityKind::Tool;
/// The SHA-256 of "abc" (FIPS 180-2): a well-formed pin that no library matches.
const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

/// The SHA-256 of the file at `path`, as `sha256sum` prints it.
fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().expect("sha256sum runs");
    assert!(out.status.success(), "sha256sum {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_owned()
}

/// The test manifest for `id`, pinned to `digest`, with `extra` lines in `[plugin]`.
fn pinned_manifest(id: &str, digest: &str, extra: &str) -> String {
    manifest(id).replacen("entry_point = ", &format!("sha256 = \"{digest}\"\n{extra}entry_point = "), 1)
}

/// The test plugin `id` (built with `defines`) in `root`, pinned to its own digest, or to `digest` when given.
/// Returns its library.
fn add_pinned(root: &Path, id: &str, defines: &[&str], digest: Option<&str>, extra: &str) -> PathBuf {
    let plugin_id = format!("PLUGIN_ID=\"{id}\"");
    let library = test_plugin_library(&[&[plugin_id.as_str()], defines].concat());
    let digest = digest.map_or_else(|| sha256sum(&library), str::to_owned);
    let dir = write_plugin(root, id, &pinned_manifest(id, &digest, extra), id, Some(&library));
    dir.join(library_name(id))
}

/// A loader over `root` alone, after discovery.
fn discovered(root: &Path, expected: usize) -> Loader {
    let loader = isolated_loader("1.5.0", &[root]);
    assert_eq!(loader.discover(), expected, "{:?}", loader.discovery().diagnostics());
    loader
}

/// Whether the process has `library` mapped, as `/proc/self/maps` says.
fn is_mapped(library: &Path) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let library = library.canonicalize().unwrap();
    maps.lines().any(|line| line.ends_with(library.to_str().unwrap()))
}

/// How many of this process's descriptors are open on `library`.
fn descriptors_on(library: &Path) -> usize {
    let library = library.canonicalize().unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| *target == library)
        .count()
}

/// Records the loader's messages about pins.
fn pin_messages(loader: &Loader) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    loader.set_log_callback(Some(Arc::new(move |level, _source: &str, message: &str| {
        if level == LogLevel::Debug && message.contains("sha256") {
            sink.lock().unwrap().push(message.to_owned());
        }
    })));
    seen
}

fn load_and_unload(loader: &Loader, id: &str) {
    loader.load(id).unwrap();
    loader.init(id, "{}", Path::new("")).unwrap();
    assert_eq!(loader.invoke_to_vec(id, TOOL, "echo", b"pinned").unwrap(), b"pinned");
    loader.unload(id).unwrap();
}

#[test]
fn a_library_that_matches_its_pin_loads_and_runs() {
    let root = temp_dir("pin-match");
    let library = add_pinned(&root, "pinned", &[], None, "");
    let loader = discovered(&root, 1);
    let info = loader.discovery().find("pinned").cloned().unwrap();
    assert_eq!(info.manifest.sha256.as_ref().map(|digest| digest.to_string()), Some(sha256sum(&library)));
    load_and_unload(&loader, "pinned");
    load_and_unload(&loader, "pinned");
}

#[test]
fn a_library_that_does_not_match_is_refused_before_dlopen_naming_both_digests() {
    let root = temp_dir("pin-mismatch");
    let library = add_pinned(&root, "forged", &[], Some(ABC_SHA256), "");
    let loader = discovered(&root, 1);
    let error = loader.load("forged").unwrap_err();
    assert_eq!(error.status(), Status::IntegrityMismatch, "{error}");
    let manifest = root.join("forged/aisopod.plugin.toml");
    assert_eq!(
        error.message(),
        format!(
            "plugin 'forged': library {} does not match its pin: [plugin].sha256 in {} is {ABC_SHA256}, the \
             library's SHA-256 is {}; it was not opened",
            library.display(),
            manifest.display(),
            sha256sum(&library)
        )
    );
    assert!(!is_mapped(&library), "the refused library was mapped");
    assert_eq!(descriptors_on(&library), 0, "the refused library is still open");
    assert_eq!(loader.plugin_state("forged"), None);
}

#[test]
fn a_library_replaced_between_discovery_and_load_is_refused() {
    let root = temp_dir("pin-replaced");
    let library = add_pinned(&root, "swapped", &[], None, "");
    let original = std::fs::read(&library).unwrap();
    let other = std::fs::read(test_plugin_library(&["PLUGIN_ID=\"swapped\"", "SKIP_HOOK"])).unwrap();
    assert_ne!(original, other);
    let loader = discovered(&root, 1);

    // Renamed over the library: a new file at the same path.
    let staged = root.join("staged.so");
    std::fs::write(&staged, &other).unwrap();
    std::fs::rename(&staged, &library).unwrap();
    let error = loader.load("swapped").unwrap_err();
    assert_eq!(error.status(), Status::IntegrityMismatch, "{error}");
    assert!(error.message().contains(&sha256sum(&library)), "{error}");

    // Written over in place: the same file, new bytes.
    std::fs::write(&library, &original).unwrap();
    load_and_unload(&loader, "swapped");
    let inode = std::fs::metadata(&library).unwrap().ino();
    std::fs::write(&library, &other).unwrap();
    assert_eq!(std::fs::metadata(&library).unwrap().ino(), inode);
    assert_eq!(loader.load("swapped").unwrap_err().status(), Status::IntegrityMismatch);

    // The right bytes again: it loads, without a new discovery.
    std::fs::write(&library, &original).unwrap();
    load_and_unload(&loader, "swapped");
}

#[test]
fn with_the_cache_on_an_unchanged_library_is_hashed_once() {
    let work = temp_dir("pin-cache");
    let root = work.join("plugins");
    let library = add_pinned(&root, "cached", &[], None, "");
    let loader = isolated_loader("1.5.0", &[&root]);
    loader.set_cache_path(Some(work.join("registry.bin")));
    let messages = pin_messages(&loader);
    assert_eq!(loader.discover(), 1);
    let take = || std::mem::take(&mut *messages.lock().unwrap());
    let hashed = |messages: &[String]| messages.len() == 1 && messages[0].contains("matches its sha256 (hashed");
    let reused = |messages: &[String]| messages.len() == 1 && messages[0].contains("not hashed again");

    load_and_unload(&loader, "cached");
    assert!(hashed(&take()), "the first load hashes");
    load_and_unload(&loader, "cached");
    let second = take();
    assert!(reused(&second), "{second:?}");
    assert!(second[0].contains(&format!("library {} is unchanged", library.display())), "{second:?}");

    // The same bytes written again: the file changed, so it is hashed again.
    let original = std::fs::read(&library).unwrap();
    std::fs::write(&library, &original).unwrap();
    load_and_unload(&loader, "cached");
    assert!(hashed(&take()), "a rewritten library is hashed again");
    load_and_unload(&loader, "cached");
    assert!(reused(&take()));

    // Other bytes of the same size, with the modification time set back: the status-change time still
    // tells, and the library is hashed and refused.
    let modified = std::fs::metadata(&library).unwrap().modified().unwrap();
    let mut forged = original.clone();
    let last = forged.len() - 1;
    forged[last] ^= 0xff;
    std::fs::write(&library, &forged).unwrap();
    std::fs::File::options().write(true).open(&library).unwrap().set_modified(modified).unwrap();
    assert_eq!(std::fs::metadata(&library).unwrap().modified().unwrap(), modified);
    let error = loader.load("cached").unwrap_err();
    assert_eq!(error.status(), Status::IntegrityMismatch, "{error}");
}

#[test]
fn without_the_cache_every_load_hashes() {
    let root = temp_dir("pin-no-cache");
    add_pinned(&root, "uncached", &[], None, "");
    let loader = discovered(&root, 1);
    let messages = pin_messages(&loader);
    load_and_unload(&loader, "uncached");
    load_and_unload(&loader, "uncached");
    let messages = messages.lock().unwrap();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages.iter().all(|m| m.contains("matches its sha256 (hashed")), "{messages:?}");
}

#[test]
fn a_pinned_library_is_mapped_through_a_descriptor_kept_while_it_is_mapped() {
    let root = temp_dir("pin-descriptor");
    let unloadable = add_pinned(&root, "comes-and-goes", &[], None, "");
    let resident = add_pinned(&root, "stays", &[], None, "unload = false\n");
    let unpinned = add_test_plugin(&root, "unpinned", &[]).join(library_name("unpinned"));
    let loader = discovered(&root, 3);

    loader.load("comes-and-goes").unwrap();
    assert_eq!(descriptors_on(&unloadable), 1, "the descriptor dlopen opened the library through");
    assert!(is_mapped(&unloadable));
    loader.unload("comes-and-goes").unwrap();
    assert_eq!(descriptors_on(&unloadable), 0, "closed once the library is unmapped");
    assert!(!is_mapped(&unloadable));

    loader.load("stays").unwrap();
    loader.unload("stays").unwrap();
    assert!(is_mapped(&resident), "unload = false keeps the library mapped");
    assert_eq!(descriptors_on(&resident), 1, "and the descriptor that names it");

    // Other pinned plugins opened after it are themselves, whatever descriptor they get.
    load_and_unload(&loader, "comes-and-goes");
    loader.load("unpinned").unwrap();
    assert_eq!(descriptors_on(&unpinned), 0, "an unpinned library is opened by its path");
    loader.unload("unpinned").unwrap();
    load_and_unload(&loader, "stays");
    assert_eq!(descriptors_on(&resident), 1, "loading it again reuses the mapping and its name");
}

#[test]
fn a_pinned_plugin_is_checked_in_its_helper_process_too() {
    let root = temp_dir("pin-isolated");
    add_pinned(&root, "away", &[], None, "");
    let forged = add_pinned(&root, "forged-away", &[], Some(ABC_SHA256), "");
    let loader = discovered(&root, 2);
    loader.set_isolation(None, Some(Isolation::Process));
    load_and_unload(&loader, "away");
    let error = loader.load("forged-away").unwrap_err();
    assert_eq!(error.status(), Status::IntegrityMismatch, "{error}");
    assert!(error.message().contains(&format!("the library's SHA-256 is {}", sha256sum(&forged))), "{error}");

    let probed = loader.probe(&["away", "forged-away"], None).unwrap();
    assert_eq!(probed[0].status(), Status::Ok);
    assert!(probed[0].report.duration(ProbeStep::Load(LoadStep::Integrity)).is_some());
    match &probed[1].report.outcome {
        ProbeOutcome::Failed { step, status, .. } => {
            assert_eq!((*step, *status), (ProbeStep::Load(LoadStep::Integrity), Status::IntegrityMismatch))
        }
        ProbeOutcome::Ok => panic!("the forged library passed its probe"),
    }
    assert!(loader.quarantine().is_empty(), "a mismatch is refused, not quarantined");
}

#[test]
fn a_pinned_library_cannot_find_dependencies_through_origin_and_the_message_says_why() {
    let work = temp_dir("pin-origin");
    let root = work.join("plugins");
    let dir = root.join("needs-sibling");
    std::fs::create_dir_all(&dir).unwrap();
    let dep_source = work.join("sibling.c");
    std::fs::write(&dep_source, "int aisopod_sibling(void) { return 1; }\n").unwrap();
    let out =
        c_compiler().args(["-shared", "-fPIC", "-o"]).arg(dir.join("libaisopod_sibling.so")).arg(&dep_source).output();
    assert!(out.unwrap().status.success());
    let library = dir.join(library_name("needs-sibling"));
    let out = c_compiler()
        .args(["-std=c11", "-shared", "-fPIC", "-DPLUGIN_ID=\"needs-sibling\""])
        .arg(format!("-I{MANIFEST_DIR}/include"))
        .arg("-o")
        .arg(&library)
        .arg(Path::new(MANIFEST_DIR).join("tests/plugins/test_plugin.c"))
        .args(["-Wl,--no-as-needed", "-Wl,-rpath,$ORIGIN"])
        .arg(format!("-L{}", dir.display()))
        .arg("-laisopod_sibling")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let manifest_path = dir.join("aisopod.plugin.toml");

    std::fs::write(&manifest_path, manifest("needs-sibling")).unwrap();
    let loader = discovered(&root, 1);
    load_and_unload(&loader, "needs-sibling");

    std::fs::write(&manifest_path, pinned_manifest("needs-sibling", &sha256sum(&library), "")).unwrap();
    assert_eq!(loader.discover(), 1);
    let error = loader.load("needs-sibling").unwrap_err();
    assert_eq!(error.status(), Status::LibraryLoad, "{error}");
    assert!(
        error.message().contains(&format!(
            "plugin 'needs-sibling': cannot load {}: it needs libaisopod_sibling.so (DT_NEEDED)",
            library.display()
        )) && error.message().contains(
            "its run path ($ORIGIN) uses $ORIGIN, which for a library pinned with [plugin].sha256 names \
             /proc/self/fd, not the plugin directory"
        ),
        "{error}"
    );
    assert!(!error.message().contains("/proc/self/fd/"), "the message names the library by its path: {error}");
}
