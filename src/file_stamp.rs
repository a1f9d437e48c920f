//! The identity of a file (device, inode, size, modification time in ns), by which the registry cache tells
//! an unchanged manifest or library from a changed one.

use std::fs::Metadata;

/// The identity of a file as far as the registry cache is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) size: u64,
    pub(crate) mtime_ns: i64,
}

impl FileStamp {
    #[cfg(unix)]
    pub(crate) fn of(metadata: &Metadata) -> FileStamp {
        use std::os::unix::fs::MetadataExt;
        FileStamp::from_parts(metadata.dev(), metadata.ino(), metadata.size(), metadata.mtime(), metadata.mtime_nsec())
    }

    #[cfg(not(unix))]
    pub(crate) fn of(metadata: &Metadata) -> FileStamp {
        let mtime_ns = metadata
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i64);
        FileStamp { dev: 0, ino: 0, size: metadata.len(), mtime_ns }
    }

    pub(crate) fn from_parts(dev: u64, ino: u64, size: u64, mtime_s: i64, mtime_nsec: i64) -> FileStamp {
        FileStamp { dev, ino, size, mtime_ns: mtime_s.saturating_mul(1_000_000_000).saturating_add(mtime_nsec) }
    }
}
