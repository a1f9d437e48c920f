//! The integrity pin: a plugin library's SHA-256 digest as the manifest gives it, hashing an open library, and
//! the digests already verified, kept by the library's identity so that an unchanged library is not hashed
//! twice.

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, Metadata};
use std::io;

use sha2::{Digest as _, Sha256};

use crate::cache::BuildFnv;
use crate::file_stamp::FileStamp;
use crate::sync::lock;

/// A SHA-256 digest: 32 bytes, written as 64 lower-case hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// Reads 64 hexadecimal digits, of either case. The error says what is wrong, for a message that names the
    /// field and its value.
    pub fn from_hex(text: &str) -> Result<Sha256Digest, String> {
        if let Some((at, c)) = text.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
            return Err(format!("has {c:?} at byte {at}, which is not a hexadecimal digit"));
        }
        if text.len() != 64 {
            return Err(format!("is {} hexadecimal digits long, not 64", text.len()));
        }
        let mut bytes = [0; 32];
        for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
            let digit = |c: u8| (c as char).to_digit(16).expect("checked above") as u8;
            *byte = digit(pair[0]) << 4 | digit(pair[1]);
        }
        Ok(Sha256Digest(bytes))
    }

    /// The SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Sha256Digest {
        Sha256Digest(Sha256::digest(bytes).into())
    }

    /// The SHA-256 of everything in `file`, from its start, as the loader hashes a library to check its pin.
    pub fn of_file(file: &File) -> io::Result<Sha256Digest> {
        hash_file(file, file.metadata()?.len())
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({self})")
    }
}

/// How much of the library one read takes: large enough that the system calls cost nothing next to the
/// hashing, small enough to stay in the L2 cache.
const CHUNK: usize = 256 * 1024;

/// The SHA-256 of everything in `file`, read from offset 0 whatever the file position is (so the caller's
/// other reads of the same descriptor need not be undone), to the end, however long it has become.
#[cfg(unix)]
pub(crate) fn hash_file(file: &File, size_hint: u64) -> io::Result<Sha256Digest> {
    use std::os::unix::fs::FileExt;
    let mut buffer = vec![0; usize::try_from(size_hint).unwrap_or(CHUNK).clamp(1, CHUNK)];
    let mut hasher = Sha256::new();
    let mut offset = 0u64;
    loop {
        match file.read_at(&mut buffer, offset) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buffer[..n]);
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Sha256Digest(hasher.finalize().into()))
}

#[cfg(not(unix))]
pub(crate) fn hash_file(file: &File, size_hint: u64) -> io::Result<Sha256Digest> {
    use std::io::{Read, Seek};
    let mut file = file;
    file.rewind()?;
    let mut buffer = vec![0; usize::try_from(size_hint).unwrap_or(CHUNK).clamp(1, CHUNK)];
    let mut hasher = Sha256::new();
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buffer[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Sha256Digest(hasher.finalize().into()))
}

/// What tells an unchanged library from a changed one: its [`FileStamp`] (device, inode, size, modification
/// time) and its status-change time. The modification time alone can be set back by whoever may write the
/// file (`touch -d`); the status-change time cannot, since the kernel sets it on every write and every
/// change of the times themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LibraryIdentity {
    pub(crate) stamp: FileStamp,
    pub(crate) ctime_ns: i64,
}

impl LibraryIdentity {
    #[cfg(unix)]
    pub(crate) fn of(metadata: &Metadata) -> LibraryIdentity {
        use std::os::unix::fs::MetadataExt;
        let ctime_ns = metadata.ctime().saturating_mul(1_000_000_000).saturating_add(metadata.ctime_nsec());
        LibraryIdentity { stamp: FileStamp::of(metadata), ctime_ns }
    }

    #[cfg(not(unix))]
    pub(crate) fn of(metadata: &Metadata) -> LibraryIdentity {
        LibraryIdentity { stamp: FileStamp::of(metadata), ctime_ns: 0 }
    }
}

/// A file: its device and inode.
type FileId = (u64, u64);

/// Digests the loader has computed for libraries, by identity: one per file (device and inode), replaced when
/// the file changes, so the map grows only with the number of different files loaded.
#[derive(Debug, Default)]
pub(crate) struct VerifiedDigests {
    by_file: std::sync::Mutex<HashMap<FileId, (LibraryIdentity, Sha256Digest), BuildFnv>>,
}

impl VerifiedDigests {
    /// The digest computed for the file with `identity`, if it has not changed since.
    pub(crate) fn get(&self, identity: &LibraryIdentity) -> Option<Sha256Digest> {
        let by_file = lock(&self.by_file);
        match by_file.get(&(identity.stamp.dev, identity.stamp.ino)) {
            Some((known, digest)) if known == identity => Some(*digest),
            _ => None,
        }
    }

    /// Remembers that the file with `identity` hashes to `digest`.
    pub(crate) fn insert(&self, identity: LibraryIdentity, digest: Sha256Digest) {
        lock(&self.by_file).insert((identity.stamp.dev, identity.stamp.ino), (identity, digest));
    }

    /// How many files have a digest.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        lock(&self.by_file).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_read_and_print_as_sha256sum_does() {
        // The digest of "abc", from FIPS 180-2.
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(Sha256Digest::of(b"abc").to_string(), abc);
        assert_eq!(Sha256Digest::from_hex(abc).unwrap(), Sha256Digest::of(b"abc"));
        assert_eq!(Sha256Digest::from_hex(&abc.to_uppercase()).unwrap(), Sha256Digest::of(b"abc"));
    }

    #[test]
    fn malformed_digests_are_refused_with_the_reason() {
        assert_eq!(Sha256Digest::from_hex("abc").unwrap_err(), "is 3 hexadecimal digits long, not 64");
        assert_eq!(Sha256Digest::from_hex("").unwrap_err(), "is 0 hexadecimal digits long, not 64");
        let with_g = format!("{}g", "0".repeat(63));
        assert_eq!(
            Sha256Digest::from_hex(&with_g).unwrap_err(),
            "has 'g' at byte 63, which is not a hexadecimal digit"
        );
        let prefixed = format!("sha256:{}", "0".repeat(64));
        assert_eq!(
            Sha256Digest::from_hex(&prefixed).unwrap_err(),
            "has 's' at byte 0, which is not a hexadecimal digit"
        );
        assert!(Sha256Digest::from_hex(&"0".repeat(65)).is_err());
    }

    #[test]
    fn a_file_hashes_from_its_start_whatever_its_position() {
        use std::io::{Read, Write};
        let path = std::env::temp_dir().join(format!("aisopod-hash-{}", std::process::id()));
        let content: Vec<u8> = (0..CHUNK * 2 + 77).map(|i| (i * 31 % 251) as u8).collect();
        File::create(&path).unwrap().write_all(&content).unwrap();
        let mut file = File::open(&path).unwrap();
        let mut skipped = [0; 100];
        file.read_exact(&mut skipped).unwrap();
        assert_eq!(hash_file(&file, 10).unwrap(), Sha256Digest::of(&content));
        assert_eq!(hash_file(&file, content.len() as u64).unwrap(), Sha256Digest::of(&content));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_verified_digest_holds_only_for_the_identity_it_was_computed_for() {
        let stamp = FileStamp { dev: 1, ino: 2, size: 3, mtime_ns: 4 };
        let identity = LibraryIdentity { stamp, ctime_ns: 5 };
        let verified = VerifiedDigests::default();
        verified.insert(identity, Sha256Digest::of(b"a"));
        assert_eq!(verified.get(&identity), Some(Sha256Digest::of(b"a")));
        let touched = LibraryIdentity { ctime_ns: 6, ..identity };
        let rewritten = LibraryIdentity { stamp: FileStamp { mtime_ns: 9, ..stamp }, ..identity };
        assert_eq!((verified.get(&touched), verified.get(&rewritten)), (None, None));
        verified.insert(touched, Sha256Digest::of(b"b"));
        assert_eq!((verified.get(&identity), verified.len()), (None, 1));
    }
}
