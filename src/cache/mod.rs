//! The registry cache: validated manifests saved to one file, keyed by manifest path and by the identity of
//! both the manifest and the library (device, inode, size, modification time in ns), and the quarantine. A
//! discovery of an unchanged tree then only stats files.
//!
//! The file is never trusted blindly: it starts with a magic, its format version, the loader version and the
//! ABI version, and ends with a checksum of everything before it; a file that fails any check is ignored and
//! rebuilt. It is replaced atomically (written to a temporary file, then renamed), so processes sharing it
//! never see a torn file.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use crate::file_stamp::FileStamp;
use crate::io_error;
use crate::manifest::Manifest;
use crate::open_file::{self, OpenError};
use crate::paths;
use crate::quarantine::Quarantine;

mod format;
use format::{checksum, decode, encode, Reader};

/// One cached plugin.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) manifest_stamp: FileStamp,
    /// `None` when the library did not exist.
    pub(crate) library_stamp: Option<FileStamp>,
    pub(crate) manifest: Manifest,
}

/// A cached plugin as found in the file: its stamps, and where its manifest starts, decoded only on use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub(crate) manifest_stamp: FileStamp,
    pub(crate) library_stamp: Option<FileStamp>,
    path: (usize, usize),
    manifest_at: usize,
}

/// A cache file, checked and indexed by manifest path; manifests are decoded only when used.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    bytes: Vec<u8>,
    /// FNV-1a of a manifest path's bytes -> its slot. A collision only costs a cache miss.
    index: HashMap<u64, Slot, BuildFnv>,
    /// The quarantine kept in the file.
    pub(crate) quarantine: Quarantine,
}

impl Cache {
    /// The slot for a manifest path, if the cache has one.
    pub(crate) fn get(&self, manifest_path: &Path) -> Option<&Slot> {
        let key = paths::bytes(manifest_path);
        self.index.get(&checksum(key)).filter(|slot| &self.bytes[slot.path.0..slot.path.1] == key)
    }

    /// The manifest of a slot this cache returned.
    pub(crate) fn manifest(&self, slot: &Slot) -> Option<Manifest> {
        Reader { bytes: &self.bytes, at: slot.manifest_at }.manifest()
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Every entry whose manifest still decodes, with its manifest path.
    pub(crate) fn entries(&self) -> Vec<(PathBuf, Entry)> {
        self.index
            .values()
            .filter_map(|slot| {
                let manifest = self.manifest(slot)?;
                let path = paths::from_bytes(&self.bytes[slot.path.0..slot.path.1]);
                Some((path, Entry { manifest_stamp: slot.manifest_stamp, library_stamp: slot.library_stamp, manifest }))
            })
            .collect()
    }

    /// Rewrites the file at `path` with its entries as they are and `quarantine` in place of its own. A file
    /// that is missing or fails a check is written with no entries.
    pub(crate) fn save_quarantine(path: &Path, quarantine: &Quarantine) -> Result<(), String> {
        let entries = match Cache::load(path) {
            Loaded::Usable(cache, _) => cache.entries(),
            Loaded::Unusable(why) => {
                return Err(format!("the registry cache {} is not written: {why}", path.display()))
            }
        };
        Cache::save(path, entries.iter().map(|(p, e)| (p.as_path(), e)), quarantine)
    }

    /// Reads the cache at `path`, which must be a regular file or nothing. A missing file is an empty cache;
    /// one that fails a check is ignored and rebuilt; a path that is not a regular file is neither read nor
    /// written.
    pub(crate) fn load(path: &Path) -> Loaded {
        let mut file = match open_file::open_regular(path) {
            Ok((file, _)) => file,
            Err(OpenError::Missing(_)) => return Loaded::Usable(Cache::default(), None),
            Err(OpenError::WrongKind(kind)) => {
                return Loaded::Unusable(format!("it is {}, not a regular file", kind.with_article()))
            }
            Err(OpenError::Failed(e)) => {
                return Loaded::Usable(Cache::default(), Some(format!("cannot read it: {}", io_error::describe(&e))))
            }
        };
        let mut bytes = Vec::new();
        if let Err(e) = file.read_to_end(&mut bytes) {
            return Loaded::Usable(Cache::default(), Some(format!("cannot read it: {}", io_error::describe(&e))));
        }
        match decode(bytes) {
            Ok(cache) => Loaded::Usable(cache, None),
            Err(why) => Loaded::Usable(Cache::default(), Some(why)),
        }
    }

    /// Writes `entries` to `path` atomically (temporary file, then rename).
    pub(crate) fn save<'a>(
        path: &Path,
        entries: impl Iterator<Item = (&'a Path, &'a Entry)>,
        quarantine: &Quarantine,
    ) -> Result<(), String> {
        let bytes = encode(entries, quarantine);
        let describe = |e: std::io::Error| io_error::describe(&e);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {}", parent.display(), describe(e)))?;
        }
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(format!(".{}.tmp", std::process::id()));
        let temporary = PathBuf::from(temporary);
        // A leftover of this process id is replaced; creating anew never opens what is there (a FIFO would block).
        let _ = std::fs::remove_file(&temporary);
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
            .and_then(|mut file| file.write_all(&bytes));
        written.map_err(|e| format!("cannot write {}: {}", temporary.display(), describe(e)))?;
        std::fs::rename(&temporary, path).map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            format!("cannot replace {}: {}", path.display(), describe(e))
        })
    }
}

/// What reading a cache file gave.
pub(crate) enum Loaded {
    /// A cache to use, and to rewrite when discovery finds changes; with the reason when the file was ignored.
    Usable(Cache, Option<String>),
    /// The path is not a regular file: the cache is off for this discovery. The reason says what the path is.
    Unusable(String),
}

/// FNV-1a as a `HashMap` hasher: for short keys (ids, paths, hashes) it is several times cheaper than the
/// default SipHash, and these maps hold no attacker-chosen keys that could collide on purpose to any harm.
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct BuildFnv;

pub(crate) struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = bytes.iter().fold(self.0, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
    }
}

impl std::hash::BuildHasher for BuildFnv {
    type Hasher = Fnv;
    fn build_hasher(&self) -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}
