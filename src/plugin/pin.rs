//! The integrity step: the open library's SHA-256 against the manifest's `[plugin].sha256`, before `dlopen`,
//! and the reuse of a digest verified earlier for a library that has not changed since; and the library's
//! digest for the signature step, from the same descriptor.

use std::time::Instant;

use super::library::OpenLibrary;
use crate::discovery::PluginInfo;
use crate::error::{Error, Result, Status};
use crate::integrity::{hash_file, LibraryIdentity, Sha256Digest, VerifiedDigests};
use crate::log::{LogLevel, Logger};

/// Checks the open library against the manifest's pin, when it has one. With `verified` (the registry cache is
/// on), a library whose identity has a verified digest is not hashed again, and one that is hashed and matches
/// is remembered, provided it did not change while it was read.
pub(super) fn check(
    info: &PluginInfo,
    library: &OpenLibrary,
    verified: Option<&VerifiedDigests>,
    logger: &Logger,
) -> Result<()> {
    let Some(expected) = info.manifest.sha256.as_deref().copied() else { return Ok(()) };
    let id = &info.manifest.id;
    let identity = LibraryIdentity::of(&library.metadata);
    if verified.and_then(|verified| verified.get(&identity)) == Some(expected) {
        let message = format!(
            "plugin '{id}': library {} is unchanged since it matched its sha256 (same device, inode, size, \
             modification and status-change times): not hashed again",
            library.path.display()
        );
        logger.log(LogLevel::Debug, &message);
        library.digest.set(Some(expected));
        return Ok(());
    }
    let started = Instant::now();
    let found = hash_file(&library.file, library.metadata.len()).map_err(|e| {
        Error::new(
            Status::LibraryLoad,
            format!(
                "plugin '{id}': cannot read library {} to check its sha256: {}",
                library.path.display(),
                crate::io_error::describe(&e)
            ),
        )
    })?;
    library.digest.set(Some(found));
    if found != expected {
        return Err(Error::new(
            Status::IntegrityMismatch,
            format!(
                "plugin '{id}': library {} does not match its pin: [plugin].sha256 in {} is {expected}, the \
                 library's SHA-256 is {found}; it was not opened",
                library.path.display(),
                info.manifest_path().display()
            ),
        ));
    }
    let took = started.elapsed();
    logger.log(
        LogLevel::Debug,
        &format!(
            "plugin '{id}': library {} matches its sha256 (hashed {} bytes in {} µs)",
            library.path.display(),
            library.metadata.len(),
            took.as_micros()
        ),
    );
    if let Some(verified) = verified {
        // A library written to while it was read may hash to anything: remembered only if it did not change.
        if library.file.metadata().is_ok_and(|now| LibraryIdentity::of(&now) == identity) {
            verified.insert(identity, found);
        }
    }
    Ok(())
}

/// The SHA-256 of the open library, for the signature step: the one the integrity step computed or reused, or
/// one verified before for a library that has not changed since, or else hashed now from the descriptor.
pub(super) fn digest(
    info: &PluginInfo,
    library: &OpenLibrary,
    verified: Option<&VerifiedDigests>,
) -> Result<Sha256Digest> {
    if let Some(digest) = library.digest.get() {
        return Ok(digest);
    }
    let identity = LibraryIdentity::of(&library.metadata);
    if let Some(digest) = verified.and_then(|verified| verified.get(&identity)) {
        return Ok(digest);
    }
    let digest = hash_file(&library.file, library.metadata.len()).map_err(|e| {
        Error::new(
            Status::LibraryLoad,
            format!(
                "plugin '{}': cannot read library {} to check its signature: {}",
                info.manifest.id,
                library.path.display(),
                crate::io_error::describe(&e)
            ),
        )
    })?;
    library.digest.set(Some(digest));
    Ok(digest)
}
