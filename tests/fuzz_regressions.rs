//! Replays the fuzz regression inputs in `fuzz/regressions/<target>/` through the same invariant checks as
//! the fuzz targets in `fuzz/`, so that every input found once keeps being checked on the stable toolchain.

#[path = "../fuzz/src/checks.rs"]
mod checks;

use std::path::{Path, PathBuf};

/// Runs `check` on every file in `fuzz/regressions/<target>`, reporting every failing file at the end.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display())).path())
        .filter(|path| path.is_file() && !path.file_name().is_some_and(|n| n.as_encoded_bytes().starts_with(b".")))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no regression inputs", dir.display());

    let mut failures = Vec::new();
    for file in &files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            failures.push(file.display().to_string());
        }
    }
    assert!(failures.is_empty(), "{} of {} {target} inputs failed: {failures:#?}", failures.len(), files.len());
}

#[test]
fn manifest_regressions() {
    replay("manifest", checks::check_manifest);
}

#[test]
fn discovery_regressions() {
    replay("discovery", checks::check_discovery);
}

#[test]
fn frame_regressions() {
    replay("frame", checks::check_frame);
}

#[test]
fn signature_regressions() {
    replay("signature", checks::check_signature);
}
