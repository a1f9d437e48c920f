//! The registry cache: a warm discovery of an unchanged tree takes manifests from the cache; a changed,
//! added or removed plugin is picked up; a corrupt, truncated or unwritable cache is ignored and rebuilt with a
//! diagnostic. (A cache from another loader or ABI version is refused too: see the unit tests in
//! `src/cache.rs`, which can write one.)

mod common;

use std::path::{Path, PathBuf};

use aisopod_loader::{Loader, Status};
use common::*;

fn cached_loader(root: &Path, cache: &Path) -> Loader {
    let loader = isolated_loader("1.5.0", &[root]);
    loader.set_cache_path(Some(cache.to_path_buf()));
    loader
}

fn ids(loader: &Loader) -> Vec<String> {
    loader.discovery().plugins().iter().map(|p| format!("{} {}", p.manifest.id, p.manifest.version)).collect()
}

fn cache_diagnostics(loader: &Loader, cache: &Path) -> Vec<String> {
    loader.discovery().diagnostics().iter().filter(|d| d.path == cache).map(|d| d.message.clone()).collect()
}

fn tree(name: &str) -> (PathBuf, PathBuf) {
    let root = temp_dir(name);
    let cache = temp_dir(&format!("{name}-cache")).join("registry.bin");
    for id in ["a", "b", "c"] {
        write_plugin(&root, id, &manifest(id), id, None);
        std::fs::write(root.join(id).join(library_name(id)), id).unwrap();
    }
    (root, cache)
}

#[test]
fn unchanged_changed_added_and_removed_plugins() {
    let (root, cache) = tree("cache-changes");
    let loader = cached_loader(&root, &cache);
    assert_eq!(loader.discover(), 3);
    assert!(cache.exists(), "the first discovery writes the cache");
    let written = std::fs::metadata(&cache).unwrap().modified().unwrap();

    // Unchanged: served from the cache, and the cache is not rewritten.
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(loader.discover(), 3);
    assert_eq!(std::fs::metadata(&cache).unwrap().modified().unwrap(), written);
    assert!(cache_diagnostics(&loader, &cache).is_empty());

    // Changed manifest: the new version shows.
    std::fs::write(root.join("b/aisopod.plugin.toml"), manifest("b").replace("1.2.3", "2.0.0")).unwrap();
    // Added plugin.
    write_plugin(&root, "d", &manifest("d"), "d", None);
    // Removed plugin.
    std::fs::remove_dir_all(root.join("c")).unwrap();
    assert_eq!(loader.discover(), 3);
    assert_eq!(ids(&loader), ["a 1.2.3", "b 2.0.0", "d 1.2.3"]);

    // A fresh loader (another process, say) reads the same cache and agrees.
    let other = cached_loader(&root, &cache);
    assert_eq!(other.discover(), 3);
    assert_eq!(ids(&other), ["a 1.2.3", "b 2.0.0", "d 1.2.3"]);

    // A manifest that turns bad is refused even though the cache knew a good one.
    std::fs::write(root.join("a/aisopod.plugin.toml"), "[plugin]\n").unwrap();
    assert_eq!(loader.discover(), 2);
    assert!(loader.discovery().diagnostics().iter().any(|d| d.status == Status::ManifestParse));
}

#[test]
fn a_replaced_library_invalidates_the_entry() {
    let (root, cache) = tree("cache-library");
    let loader = cached_loader(&root, &cache);
    assert_eq!(loader.discover(), 3);
    // Same manifest, new library: the entry must be re-validated (and the cache rewritten with the new stamp).
    std::fs::write(root.join("a").join(library_name("a")), "a newer library").unwrap();
    let before = std::fs::read(&cache).unwrap();
    assert_eq!(loader.discover(), 3);
    assert_ne!(std::fs::read(&cache).unwrap(), before);
}

#[test]
fn bad_caches_are_ignored_and_rebuilt() {
    let (root, cache) = tree("cache-bad");
    assert_eq!(cached_loader(&root, &cache).discover(), 3);
    let good = std::fs::read(&cache).unwrap();
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0xFF;
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("truncated", good[..good.len() / 3].to_vec(), "checksum mismatch"),
        ("corrupt", flipped, "checksum mismatch"),
        ("not a cache", b"hello, world, this is not a cache".to_vec(), "bad magic"),
        ("empty", Vec::new(), "bad magic"),
    ];
    for (name, bytes, why) in cases {
        std::fs::write(&cache, &bytes).unwrap();
        let loader = cached_loader(&root, &cache);
        assert_eq!(loader.discover(), 3, "{name}");
        let diagnostics = cache_diagnostics(&loader, &cache);
        assert_eq!(diagnostics.len(), 1, "{name}: {diagnostics:?}");
        assert!(
            diagnostics[0].contains("registry cache ignored and rebuilt") && diagnostics[0].contains(why),
            "{name}: {diagnostics:?}"
        );
        // Rebuilt: the next loader finds a valid cache again.
        let next = cached_loader(&root, &cache);
        assert_eq!(next.discover(), 3, "{name}");
        assert!(cache_diagnostics(&next, &cache).is_empty(), "{name} was not rebuilt");
    }
}

#[test]
fn an_unwritable_cache_is_a_diagnostic_not_a_failure() {
    let (root, _) = tree("cache-unwritable");
    // A cache path under a regular file can never be created, whoever runs the test.
    let blocker = temp_dir("cache-blocker").join("file");
    std::fs::write(&blocker, "").unwrap();
    let cache = blocker.join("registry.bin");
    let loader = cached_loader(&root, &cache);
    assert_eq!(loader.discover(), 3);
    let diagnostics = cache_diagnostics(&loader, &cache);
    assert!(diagnostics.len() == 1 && diagnostics[0].contains("registry cache not written"), "{diagnostics:?}");
}

/// A cache path that is a FIFO is neither read nor written (reading would block, and renaming over it would
/// replace it): discovery goes on without a cache, with a diagnostic and a logged warning naming what it is.
#[test]
fn a_fifo_as_cache_is_ignored_without_blocking() {
    use std::os::unix::fs::FileTypeExt;
    let (root, cache) = tree("cache-fifo");
    make_fifo(&cache);
    let loader = std::sync::Arc::new(cached_loader(&root, &cache));
    let warnings = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = warnings.clone();
    loader.set_log_callback(Some(std::sync::Arc::new(move |level, _: &str, message: &str| {
        if level == aisopod_loader::LogLevel::Warn {
            sink.lock().unwrap().push(message.to_owned());
        }
    })));
    for _ in 0..2 {
        let scanning = loader.clone();
        assert_eq!(within_10_seconds("discovery", move || scanning.discover()), 3);
        let expected = format!(
            "{}: registry cache ignored, neither read nor written: it is a FIFO, not a regular file",
            cache.display()
        );
        assert_eq!(cache_diagnostics(&loader, &cache), std::slice::from_ref(&expected));
        assert_eq!(warnings.lock().unwrap().drain(..).collect::<Vec<_>>(), [expected]);
        assert!(std::fs::metadata(&cache).unwrap().file_type().is_fifo(), "the FIFO was replaced");
    }
}

/// `license`, `homepage`, `repository` and the warnings of a newer manifest survive the cache: a loader that
/// takes the plugin from the cache sees the same manifest and logs the same warnings.
#[test]
fn cached_entries_keep_metadata_and_warnings() {
    let (root, cache) = tree("cache-metadata");
    let text = format!(
        "manifest_version = 2\n{}",
        manifest("a").replace(
            "author = \"Tests\"",
            "author = \"Tests\"\nlicense = \"Apache-2.0\"\nhomepage = \"https://example.org/a\"\nfuture = true"
        )
    );
    std::fs::write(root.join("a/aisopod.plugin.toml"), text).unwrap();
    let first = cached_loader(&root, &cache);
    assert_eq!(first.discover(), 3);
    let written = std::fs::read(&cache).unwrap();
    let fresh = first.discovery().find("a").unwrap().manifest.clone();
    assert_eq!((fresh.license.as_deref(), fresh.warnings.len()), (Some("Apache-2.0"), 1));

    let second = cached_loader(&root, &cache);
    let warnings = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = warnings.clone();
    second.set_log_callback(Some(std::sync::Arc::new(move |level, _: &str, message: &str| {
        if level == aisopod_loader::LogLevel::Warn {
            sink.lock().unwrap().push(message.to_owned());
        }
    })));
    assert_eq!(second.discover(), 3);
    assert_eq!(std::fs::read(&cache).unwrap(), written, "an unchanged tree rewrote the cache");
    assert_eq!(second.discovery().find("a").unwrap().manifest, fresh);
    assert_eq!(*warnings.lock().unwrap(), fresh.warnings);
}
