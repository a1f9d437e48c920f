//! `aisopod hash`: the SHA-256 of a plugin's library, printed as the manifest line that pins it.

use std::path::{Path, PathBuf};

use aisopod_loader::{Manifest, Sha256Digest, MANIFEST_FILE_NAME};

/// Hashes the library of the plugin directory `target`, or the file `target`, as the loader hashes a library
/// to check `[plugin].sha256`, and prints `sha256 = "..."`.
pub fn run(target: &Path) -> Result<u8, String> {
    let library = library_of(target)?;
    let metadata = std::fs::metadata(&library).map_err(|e| format!("{}: {e}", library.display()))?;
    // Opening a FIFO or a device would block or read forever: only a regular file is a library.
    if !metadata.is_file() {
        return Err(format!("{} is not a regular file", library.display()));
    }
    let file = std::fs::File::open(&library).map_err(|e| format!("cannot open {}: {e}", library.display()))?;
    let digest = Sha256Digest::of_file(&file).map_err(|e| format!("cannot read {}: {e}", library.display()))?;
    println!("sha256 = \"{digest}\"");
    Ok(0)
}

/// The library a directory's manifest names, or `target` itself when it is not a directory.
fn library_of(target: &Path) -> Result<PathBuf, String> {
    if !target.is_dir() {
        return Ok(target.to_path_buf());
    }
    let manifest_path = target.join(MANIFEST_FILE_NAME);
    if !manifest_path.exists() {
        return Err(format!("{} is a directory without {MANIFEST_FILE_NAME}", target.display()));
    }
    let manifest = Manifest::read(&manifest_path).map_err(|e| e.to_string())?;
    Ok(target.join(manifest.library_file_name()))
}
