//! The cache file's binary format: a header (magic, format, loader and ABI versions), the entries, and a
//! checksum; encoding entries, and decoding a file with every check a file read from disk needs.

use std::collections::HashMap;
use std::path::Path;

use semver::{Version, VersionReq};

use super::{BuildFnv, Cache, Entry, Slot};
use crate::abi::AISOPOD_ABI_VERSION;
use crate::capability_kind::{CapabilityKind, PerKind};
use crate::error::Status;
use crate::file_stamp::FileStamp;
use crate::integrity::Sha256Digest;
use crate::manifest::{Dependency, Isolation, Manifest};
use crate::paths;
use crate::quarantine::{Quarantine, Record, Verdict};

const MAGIC: &[u8; 8] = b"AISOPODC";
/// 2: license, homepage, repository and warnings after the host bounds. 3: the quarantine after the entries,
/// `isolation` in the flags byte (bits 2-3), `[permissions]` after the warnings, and the `sha256` pin after
/// `[permissions]`.
const FORMAT_VERSION: u32 = 4;

/// A 64-bit checksum, eight bytes at a time: enough to tell a torn or corrupted file from a whole one (it
/// guards against accidents, not against someone forging a cache).
pub(super) fn checksum(bytes: &[u8]) -> u64 {
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

pub(super) fn encode<'a>(entries: impl Iterator<Item = (&'a Path, &'a Entry)>, quarantine: &Quarantine) -> Vec<u8> {
    encode_as(crate::VERSION, AISOPOD_ABI_VERSION, entries, quarantine)
}

/// Encodes as if written by loader `version` speaking `abi`.
fn encode_as<'a>(
    version: &str,
    abi: u32,
    entries: impl Iterator<Item = (&'a Path, &'a Entry)>,
    quarantine: &Quarantine,
) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(64 * 1024));
    w.0.extend_from_slice(MAGIC);
    w.u32(FORMAT_VERSION);
    w.str(version);
    w.u32(abi);
    let entries: Vec<_> = entries.collect();
    w.u32(entries.len() as u32);
    for (path, entry) in entries {
        w.bytes(paths::bytes(path));
        w.stamp(Some(entry.manifest_stamp));
        w.stamp(entry.library_stamp);
        let m = &entry.manifest;
        for text in [&m.id, &m.name, &m.description, &m.author, &m.entry_point] {
            w.str(text);
        }
        w.str(&m.version.to_string());
        let isolation = match m.isolation {
            None => 0,
            Some(Isolation::None) => 1,
            Some(Isolation::Process) => 2,
        };
        w.0.push(u8::from(m.thread_safe) | u8::from(m.unload) << 1 | isolation << 2);
        for list in m.capabilities.values() {
            w.strings(list);
        }
        for bound in [&m.min_host_version, &m.max_host_version] {
            w.str(&bound.as_ref().map_or(String::new(), Version::to_string));
        }
        for optional in [&m.license, &m.homepage, &m.repository] {
            w.strings(optional.as_slice());
        }
        w.strings(&m.warnings);
        match &m.permissions {
            None => w.0.push(0),
            Some(permissions) => {
                w.0.push(1 | u8::from(permissions.network) << 1 | u8::from(permissions.subprocess) << 2);
                for list in [&permissions.read, &permissions.write] {
                    w.u32(list.len() as u32);
                    for path in list {
                        w.bytes(paths::bytes(path));
                    }
                }
            }
        }
        match &m.sha256 {
            None => w.0.push(0),
            Some(digest) => {
                w.0.push(1);
                w.0.extend_from_slice(&digest.0);
            }
        }
        w.u32(m.dependencies.len() as u32);
        for dependency in &m.dependencies {
            w.str(&dependency.id);
            w.str(&dependency.requirement.to_string());
            w.0.push(u8::from(dependency.optional));
        }
    }
    w.u32(quarantine.records().len() as u32);
    for record in quarantine.records() {
        w.bytes(paths::bytes(&record.library));
        w.stamp(Some(record.stamp));
        w.str(&record.plugin_id);
        w.u64(record.since);
        match &record.verdict {
            None => w.u32(0),
            Some(verdict) => {
                w.u32(verdict.status as u32);
                w.str(&verdict.reason);
            }
        }
    }
    let sum = checksum(&w.0);
    w.0.extend_from_slice(&sum.to_le_bytes());
    w.0
}

pub(super) fn decode(bytes: Vec<u8>) -> Result<Cache, String> {
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
    let records = r.u32().ok_or_else(truncated)? as usize;
    // Each record takes at least 41 bytes: a count larger than what is left is corrupt.
    if records > (body.len() - r.at) / 41 {
        return Err("malformed quarantine".into());
    }
    let records = (0..records).map(|_| r.record()).collect::<Option<Vec<_>>>().ok_or("malformed quarantine record")?;
    if r.at != body.len() {
        return Err("malformed (trailing bytes)".into());
    }
    Ok(Cache { bytes, index, quarantine: Quarantine::from_records(records) })
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
    /// A count, then each string: a list, or an optional value as a list of at most one.
    fn strings(&mut self, list: &[String]) {
        self.u32(list.len() as u32);
        for s in list {
            self.str(s);
        }
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
pub(super) struct Reader<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) at: usize,
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
            self.skip_strings()?;
        }
        self.bytes()?;
        self.bytes()?;
        // license, homepage, repository, warnings
        for _ in 0..4 {
            self.skip_strings()?;
        }
        if self.u8()? & 1 != 0 {
            self.skip_strings()?;
            self.skip_strings()?;
        }
        self.sha256()?;
        // [dependencies]: id, requirement, optional flag each.
        for _ in 0..self.u32()? {
            self.bytes()?;
            self.bytes()?;
            self.u8()?;
        }
        Some(Slot { manifest_stamp, library_stamp, path, manifest_at })
    }

    /// One quarantine record.
    fn record(&mut self) -> Option<Record> {
        let library = paths::from_bytes(self.bytes()?);
        let stamp = self.stamp()??;
        let plugin_id = self.string()?;
        let since = self.u64()?;
        let verdict = match self.u32()? {
            0 => None,
            status => Some(Verdict { status: Status::from_u32(status)?, reason: self.string()? }),
        };
        Some(Record { library, stamp, plugin_id, since, verdict })
    }

    /// `[permissions]`: a flags byte (bit 0: the table is there; 1: network; 2: subprocess), then the read and
    /// write paths when it is there.
    fn permissions(&mut self) -> Option<Option<Box<crate::permissions::Permissions>>> {
        let flags = self.u8()?;
        if flags & 1 == 0 {
            return Some(None);
        }
        let mut paths = || -> Option<Vec<std::path::PathBuf>> {
            let count = self.u32()? as usize;
            if count > self.bytes.len().saturating_sub(self.at) / 4 {
                return None;
            }
            (0..count).map(|_| self.bytes().map(paths::from_bytes)).collect()
        };
        let (read, write) = (paths()?, paths()?);
        let permissions =
            crate::permissions::Permissions { read, write, network: flags & 2 != 0, subprocess: flags & 4 != 0 };
        Some(Some(Box::new(permissions)))
    }

    /// The `sha256` pin: a presence byte, then the 32 bytes of the digest when there is one.
    fn sha256(&mut self) -> Option<Option<Sha256Digest>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(Sha256Digest(self.take(32)?.try_into().ok()?))),
            _ => None,
        }
    }

    fn skip_strings(&mut self) -> Option<()> {
        for _ in 0..self.u32()? {
            self.bytes()?;
        }
        Some(())
    }

    fn strings(&mut self) -> Option<Vec<String>> {
        let count = self.u32()? as usize;
        // Each string takes at least 4 bytes: a count larger than what is left is corrupt.
        if count > self.bytes.len().saturating_sub(self.at) / 4 {
            return None;
        }
        (0..count).map(|_| self.string()).collect()
    }

    /// An optional string, written as a list of at most one; read without building the list.
    fn optional(&mut self) -> Option<Option<String>> {
        match self.u32()? {
            0 => Some(None),
            1 => self.string().map(Some),
            _ => None,
        }
    }

    pub(super) fn manifest(&mut self) -> Option<Manifest> {
        let (id, name, description, author, entry_point) =
            (self.string()?, self.string()?, self.string()?, self.string()?, self.string()?);
        let version = Version::parse(self.str()?).ok()?;
        let flags = self.u8()?;
        let mut capabilities: PerKind<Vec<String>> = PerKind::default();
        for (_, list) in capabilities.iter_mut() {
            *list = self.strings()?;
        }
        let (min_host_version, max_host_version) = (self.version()?, self.version()?);
        let (license, homepage, repository) = (self.optional()?, self.optional()?, self.optional()?);
        Some(Manifest {
            id,
            name,
            version,
            description,
            author,
            entry_point,
            isolation: match flags >> 2 & 3 {
                0 => None,
                1 => Some(Isolation::None),
                2 => Some(Isolation::Process),
                _ => return None,
            },
            thread_safe: flags & 1 != 0,
            unload: flags & 2 != 0,
            capabilities,
            min_host_version,
            max_host_version,
            license,
            homepage,
            repository,
            warnings: self.strings()?,
            permissions: self.permissions()?,
            sha256: self.sha256()?.map(Box::new),
            dependencies: self.dependencies()?,
        })
    }

    fn dependencies(&mut self) -> Option<Vec<Dependency>> {
        let count = self.u32()? as usize;
        let mut dependencies = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            let id = self.string()?;
            let requirement = VersionReq::parse(self.str()?).ok()?;
            let optional = match self.u8()? {
                0 => false,
                1 => true,
                _ => return None,
            };
            dependencies.push(Dependency { id, requirement, optional });
        }
        Some(dependencies)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn sample() -> (PathBuf, Entry) {
        let manifest = Manifest::parse_str(
            "manifest_version = 2\n[plugin]\nid = \"a\"\nname = \"A\"\nversion = \"1.2.3-rc.1+b5\"\nentry_point = \"a\"\n\
             unload = false\nisolation = \"process\"\nlicense = \"MIT\"\nrepository = \"https://example.org/a\"\nsandbox = true\n\
             sha256 = \"BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD\"\n\
             [capabilities]\ntools = [\"t1\", \"t2\"]\nhooks = [\"h\"]\n[compatibility]\nmax_host_version = \"2.0.0\"\n\
             [permissions]\nread = [\"data\", \"/etc/a\"]\nwrite = [\"/tmp/a\"]\nnetwork = true\n\
             [dependencies]\nb = \"1.2\"\n\"c.d\" = { version = \">=2, <4\", optional = true }\n",
            Path::new("m"),
        )
        .unwrap();
        assert_eq!(
            (manifest.license.as_deref(), manifest.homepage.as_deref(), manifest.warnings.len()),
            (Some("MIT"), None, 1)
        );
        assert_eq!(manifest.sha256.as_deref(), Some(&Sha256Digest::of(b"abc")));
        let stamp = FileStamp { dev: 1, ino: 2, size: 3, mtime_ns: -4 };
        (PathBuf::from("/p/a/aisopod.plugin.toml"), Entry { manifest_stamp: stamp, library_stamp: None, manifest })
    }

    /// A quarantined library and one whose probe passed.
    fn quarantine() -> Quarantine {
        let record = |library: &str, plugin_id: &str, verdict| Record {
            library: PathBuf::from(library),
            stamp: FileStamp { dev: 5, ino: 6, size: 7, mtime_ns: 8 },
            plugin_id: plugin_id.to_owned(),
            since: 1_795_750_812,
            verdict,
        };
        let crashed = Verdict { status: Status::PluginCrashed, reason: "plugin 'a' crashed".to_owned() };
        Quarantine::from_records(vec![record("/p/a/liba.so", "a", Some(crashed)), record("/p/b/libb.so", "b", None)])
    }

    #[test]
    fn entries_round_trip() {
        let (path, entry) = sample();
        let bytes = encode(std::iter::once((path.as_path(), &entry)), &quarantine());
        let cache = decode(bytes).unwrap();
        assert_eq!(cache.quarantine, quarantine());
        let slot = cache.get(&path).unwrap();
        assert_eq!(cache.manifest(slot).unwrap(), entry.manifest);
        assert_eq!(slot.manifest_stamp, entry.manifest_stamp);
        assert_eq!(slot.library_stamp, None);
        assert!(cache.get(Path::new("/p/b/aisopod.plugin.toml")).is_none());
    }

    #[test]
    fn caches_of_other_loader_or_abi_versions_are_refused() {
        let (path, entry) = sample();
        let other_loader =
            encode_as("9.9.9", AISOPOD_ABI_VERSION, std::iter::once((path.as_path(), &entry)), &quarantine());
        assert_eq!(decode(other_loader).unwrap_err(), format!("written by loader 9.9.9, this is {}", crate::VERSION));
        let other_abi = encode_as(
            crate::VERSION,
            AISOPOD_ABI_VERSION + 1,
            std::iter::once((path.as_path(), &entry)),
            &quarantine(),
        );
        assert!(decode(other_abi).unwrap_err().starts_with("written for ABI 2"));
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_refused() {
        let (path, entry) = sample();
        let bytes = encode(std::iter::once((path.as_path(), &entry)), &quarantine());
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
