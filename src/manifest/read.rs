//! Reading a manifest file: a regular file only, opened without blocking, in one bounded read of at most
//! [`MANIFEST_MAX_BYTES`], with the identity of the file read for the registry cache.

use std::fs::{File, Metadata};
use std::io::Read as _;
use std::path::Path;

use super::{Manifest, MANIFEST_MAX_BYTES};
use crate::error::{Error, Result, Status};
use crate::file_stamp::FileStamp;
use crate::io_error;
use crate::open_file::{self, OpenError};

impl Manifest {
    /// Reads and validates the manifest at `path`, refusing files over [`MANIFEST_MAX_BYTES`].
    pub fn read(path: &Path) -> Result<Manifest> {
        match Manifest::read_stamped(path)? {
            Some((manifest, _)) => Ok(manifest),
            None => {
                let why = io_error::describe(&std::io::ErrorKind::NotFound.into());
                Err(Error::new(Status::Io, format!("{}: cannot read manifest: {why}", path.display())))
            }
        }
    }

    /// Reads and validates the manifest at `path`, with the identity of the file it read. `Ok(None)` when
    /// there is no manifest there (the path or its directory does not exist, or is not a directory).
    pub(crate) fn read_stamped(path: &Path) -> Result<Option<(Manifest, FileStamp)>> {
        Manifest::read_opened(open_file::open_regular(path), path)
    }

    /// As [`Manifest::read_stamped`], for a file the caller opened (or failed to open) at `path`.
    pub(crate) fn read_opened(
        opened: std::result::Result<(File, Metadata), OpenError>,
        path: &Path,
    ) -> Result<Option<(Manifest, FileStamp)>> {
        let io_error = |e: std::io::Error| {
            Error::new(Status::Io, format!("{}: cannot read manifest: {}", path.display(), io_error::describe(&e)))
        };
        let (mut file, metadata) = match opened {
            Ok(opened) => opened,
            // No manifest, or a directory entry that is not a directory: not a candidate. A manifest that is a
            // dangling symlink is a broken candidate, though, worth a diagnostic.
            Err(OpenError::Missing(e)) => {
                return match std::fs::symlink_metadata(path) {
                    Ok(_) => Err(io_error(e)),
                    Err(_) => Ok(None),
                };
            }
            Err(OpenError::WrongKind(kind)) => {
                let message = format!("{}: manifest is {}, not a regular file", path.display(), kind.with_article());
                return Err(Error::new(Status::Io, message));
            }
            Err(OpenError::Failed(e)) => return Err(io_error(e)),
        };
        if metadata.len() > MANIFEST_MAX_BYTES {
            return Err(too_large(path, metadata.len()));
        }
        // One read of the size fstat gave, plus one byte to notice a file that grew meanwhile; a short read
        // of a regular file is its end. Never past the cap.
        let mut bytes = vec![0; metadata.len() as usize + 1];
        let mut filled = 0;
        loop {
            match file.read(&mut bytes[filled..]) {
                Ok(0) => break,
                Ok(n) => {
                    filled += n;
                    if filled == bytes.len() {
                        if filled as u64 > MANIFEST_MAX_BYTES {
                            return Err(too_large(path, filled as u64));
                        }
                        bytes.resize(bytes.len() * 2, 0);
                    } else {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(e)),
            }
        }
        bytes.truncate(filled);
        Ok(Some((Manifest::parse_bytes(&bytes, path)?, FileStamp::of(&metadata))))
    }
}

fn too_large(path: &Path, len: u64) -> Error {
    Error::new(
        Status::ManifestTooLarge,
        format!("{}: manifest is {len} bytes, over the {MANIFEST_MAX_BYTES}-byte limit", path.display()),
    )
}
