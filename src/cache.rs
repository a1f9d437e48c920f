//! The registry cache: validated manifests saved to one file, keyed by manifest path and by the identity of
//! both the manifest and the library (device, inode, size, modification time in ns). A discovery of an
//! unchanged tree then only stats files.
//!
//! The file is never trusted blindly: it starts with a magic, its format version, the loader version and the
//! ABI version, and ends with a checksum of everything before it; a file that fails any check is ignored and
//! rebuilt. It is replaced atomically (written to a temporary file, then renamed), so processes sharing it
//! never see a torn file.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use semver::Version;

use crate::abi::AISOPOD_ABI_VERSION;
use crate::capability_kind::{CapabilityKind, PerKind};
use crate::file_stamp::FileStamp;
use crate::io_error;
use crate::manifest::Manifest;
use crate::open_file::{self, OpenError};

const MAGIC: &[u8; 8] = b"AISOPODC";
const FORMAT_VERSION: u32 = 1;

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
}

impl Cache {
    /// The slot for a manifest path, if the cache has one.
    pub(crate) fn get(&self, manifest_path: &Path) -> Option<&Slot> {
        let key = path_bytes(manifest_path);
        self.index.get(&checksum(key)).filter(|slot| &self.bytes[slot.path.0..slot.path.1] == key)
    }

    /// The manifest of a slot this cache returned.
    pub(crate) fn manifest(&self, slot: &Slot) -> Option<Manifest> {
        Reader { bytes: &self.bytes, at: slot.manifest_at }.manifest()
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
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
    pub(crate) fn save<'a>(path: &Path, entries: impl Iterator<Item = (&'a Path, &'a Entry)>) -> Result<(), String> {
        let bytes = encode(entries);
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

/// A 64-bit checksum, eight bytes at a time: enough to tell a torn or corrupted file from a whole one (it
/// guards against accidents, not against someone forging a cache).
fn checksum(bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ bytes.len() as u64;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        hash = (hash ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    }
    for &b in chunks.remainder() {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash ^ (hash >> 32)
}

fn encode<'a>(entries: impl Iterator<Item = (&'a Path, &'a Entry)>) -> Vec<u8> {
    encode_as(crate::VERSION, AISOPOD_ABI_VERSION, entries)
}

/// Encodes as if written by loader `version` speaking `abi`.
fn encode_as<'a>(version: &str, abi: u32, entries: impl Iterator<Item = (&'a Path, &'a Entry)>) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(64 * 1024));
    w.0.extend_from_slice(MAGIC);
    w.u32(FORMAT_VERSION);
    w.str(version);
    w.u32(abi);
    let entries: Vec<_> = entries.collect();
    w.u32(entries.len() as u32);
    for (path, entry) in entries {
        w.bytes(path_bytes(path));
        w.stamp(Some(entry.manifest_stamp));
        w.stamp(entry.library_stamp);
        let m = &entry.manifest;
        for text in [&m.id, &m.name, &m.description, &m.author, &m.entry_point] {
            w.str(text);
        }
        w.str(&m.version.to_string());
        w.0.push(u8::from(m.thread_safe) | u8::from(m.unload) << 1);
        for list in m.capabilities.values() {
            w.u32(list.len() as u32);
            for name in list {
                w.str(name);
            }
        }
        for bound in [&m.min_host_version, &m.max_host_version] {
            w.str(&bound.as_ref().map_or(String::new(), Version::to_string));
        }
    }
    let sum = checksum(&w.0);
    w.0.extend_from_slice(&sum.to_le_bytes());
    w.0
}

fn decode(bytes: Vec<u8>) -> Result<Cache, String> {
    if bytes.len() < MAGIC.len() + 8 || !bytes.starts_with(MAGIC) {
        return Err("not a registry cache (bad magic)".into());
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    if checksum(body).to_le_bytes() != sum {
        return Err("corrupt or truncated (checksum mismatch)".into());
    }
    let mut r = Reader { bytes: body, at: MAGIC.len() };
    let truncated = || "truncated".to_string();
    let format = r.u32().ok_or_else(truncated)?;
    if format != FORMAT_VERSION {
        return Err(format!("format version {format}, this loader writes {FORMAT_VERSION}"));
    }
    let loader_version = r.str().ok_or_else(truncated)?;
    if loader_version != crate::VERSION {
        return Err(format!("written by loader {loader_version}, this is {}", crate::VERSION));
    }
    let abi = r.u32().ok_or_else(truncated)?;
    if abi != AISOPOD_ABI_VERSION {
        return Err(format!("written for ABI {abi}, this loader speaks {AISOPOD_ABI_VERSION}"));
    }
    let count = r.u32().ok_or_else(truncated)? as usize;
    let mut index = HashMap::with_capacity_and_hasher(count.min(1 << 20), BuildFnv);
    for _ in 0..count {
        let slot = r.slot().ok_or("malformed entry")?;
        index.insert(checksum(&body[slot.path.0..slot.path.1]), slot);
    }
    if r.at != body.len() {
        return Err("malformed (trailing bytes)".into());
    }
    Ok(Cache { bytes, index })
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

#[cfg(unix)]
fn path_bytes(path: &Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes()
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> &[u8] {
    path.to_str().unwrap_or("").as_bytes()
}

struct Writer(Vec<u8>);

impl Writer {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn stamp(&mut self, stamp: Option<FileStamp>) {
        match stamp {
            None => self.0.push(0),
            Some(s) => {
                self.0.push(1);
                for v in [s.dev, s.ino, s.size, s.mtime_ns as u64] {
                    self.u64(v);
                }
            }
        }
    }
}

/// Bounds-checked reads: every getter returns `None` past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }
    fn str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes()?).ok()
    }
    fn string(&mut self) -> Option<String> {
        self.str().map(str::to_owned)
    }
    fn stamp(&mut self) -> Option<Option<FileStamp>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(FileStamp {
                dev: self.u64()?,
                ino: self.u64()?,
                size: self.u64()?,
                mtime_ns: self.u64()? as i64,
            })),
            _ => None,
        }
    }
    fn version(&mut self) -> Option<Option<Version>> {
        match self.str()? {
            "" => Some(None),
            text => Version::parse(text).ok().map(Some),
        }
    }
    /// An entry's path and stamps; skips over its manifest without decoding it (a manifest that does not
    /// decode when used is a cache miss).
    fn slot(&mut self) -> Option<Slot> {
        let len = self.u32()? as usize;
        let path = (self.at, self.at.checked_add(len)?);
        self.take(len)?;
        let manifest_stamp = self.stamp()??;
        let library_stamp = self.stamp()?;
        let manifest_at = self.at;
        for _ in 0..6 {
            self.bytes()?;
        }
        self.u8()?;
        for _ in 0..CapabilityKind::COUNT {
            for _ in 0..self.u32()? {
                self.bytes()?;
            }
        }
        self.bytes()?;
        self.bytes()?;
        Some(Slot { manifest_stamp, library_stamp, path, manifest_at })
    }

    fn manifest(&mut self) -> Option<Manifest> {
        let (id, name, description, author, entry_point) =
            (self.string()?, self.string()?, self.string()?, self.string()?, self.string()?);
        let version = Version::parse(self.str()?).ok()?;
        let flags = self.u8()?;
        let mut capabilities: PerKind<Vec<String>> = PerKind::default();
        for (_, list) in capabilities.iter_mut() {
            let count = self.u32()? as usize;
            // Each name takes at least 4 bytes: a count larger than what is left is corrupt.
            if count > self.bytes.len().saturating_sub(self.at) / 4 {
                return None;
            }
            *list = (0..count).map(|_| self.string()).collect::<Option<_>>()?;
        }
        let (min_host_version, max_host_version) = (self.version()?, self.version()?);
        Some(Manifest {
            id,
            name,
            version,
            description,
            author,
            entry_point,
            thread_safe: flags & 1 != 0,
            unload: flags & 2 != 0,
            capabilities,
            min_host_version,
            max_host_version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (PathBuf, Entry) {
        let manifest = Manifest::parse_str(
            "[plugin]\nid = \"a\"\nname = \"A\"\nversion = \"1.2.3-rc.1+b5\"\nentry_point = \"a\"\nunload = false\n\
             [capabilities]\ntools = [\"t1\", \"t2\"]\nhooks = [\"h\"]\n[compatibility]\nmax_host_version = \"2.0.0\"\n",
            Path::new("m"),
        )
        .unwrap();
        let stamp = FileStamp { dev: 1, ino: 2, size: 3, mtime_ns: -4 };
        (PathBuf::from("/p/a/aisopod.plugin.toml"), Entry { manifest_stamp: stamp, library_stamp: None, manifest })
    }

    #[test]
    fn entries_round_trip() {
        let (path, entry) = sample();
        let bytes = encode(std::iter::once((path.as_path(), &entry)));
        let cache = decode(bytes).unwrap();
        let slot = cache.get(&path).unwrap();
        assert_eq!(cache.manifest(slot).unwrap(), entry.manifest);
        assert_eq!(slot.manifest_stamp, entry.manifest_stamp);
        assert_eq!(slot.library_stamp, None);
        assert!(cache.get(Path::new("/p/b/aisopod.plugin.toml")).is_none());
    }

    #[test]
    fn caches_of_other_loader_or_abi_versions_are_refused() {
        let (path, entry) = sample();
        let other_loader = encode_as("9.9.9", AISOPOD_ABI_VERSION, std::iter::once((path.as_path(), &entry)));
        assert_eq!(decode(other_loader).unwrap_err(), format!("written by loader 9.9.9, this is {}", crate::VERSION));
        let other_abi = encode_as(crate::VERSION, AISOPOD_ABI_VERSION + 1, std::iter::once((path.as_path(), &entry)));
        assert!(decode(other_abi).unwrap_err().starts_with("written for ABI 2"));
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_refused() {
        let (path, entry) = sample();
        let bytes = encode(std::iter::once((path.as_path(), &entry)));
        for len in 0..bytes.len() {
            assert!(decode(bytes[..len].to_vec()).is_err(), "truncated to {len}");
        }
        for at in 0..bytes.len() {
            let mut corrupt = bytes.clone();
            corrupt[at] ^= 0x40;
            assert!(decode(corrupt).is_err(), "flipped byte {at}");
        }
    }
}
