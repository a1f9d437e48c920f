//! The publisher's side of signatures: making a key pair, signing a plugin directory and verifying its
//! signature file, as `aisopod-sign` and `aisopod sign` do. Each step returns the line to print on success, or a
//! [`Failure`] with the exit status and a message naming the file at fault.
//!
//! `keygen` draws a 32-byte Ed25519 secret key from `/dev/urandom` and writes it, and its public key, each as
//! 64 lower-case hexadecimal digits and a newline; the secret key file is created with mode 0600. Neither file
//! may exist already. `sign` reads the plugin's `aisopod.plugin.toml` and the library it names, and writes
//! `aisopod.plugin.sig` next to the manifest (replacing one that is there), covering both as they are now.
//! `verify` checks that signature file against a public key, as the loader does.

use std::fs;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use crate::integrity::Sha256Digest;
use crate::manifest::{Manifest, MANIFEST_FILE_NAME};
use crate::signature::{hex, KeyId, SignatureFile, SIGNATURE_FILE_MAX_BYTES, SIGNATURE_FILE_NAME};

/// Exit status: the plugin is unsigned, signed by another key, or its signature does not verify.
pub const EXIT_REJECTED: u8 = 1;
/// Exit status: bad arguments.
pub const EXIT_USAGE: u8 = 2;
/// Exit status: a file cannot be read or written, or is malformed (a key, a manifest, a signature file).
pub const EXIT_FILE: u8 = 3;

/// Why a step stops: the exit status and the message for standard error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub exit_status: u8,
    pub message: String,
}

impl Failure {
    fn new(exit_status: u8, message: String) -> Failure {
        Failure { exit_status, message }
    }
}

fn io_failure(path: &Path, what: &str, e: io::Error) -> Failure {
    Failure::new(EXIT_FILE, format!("cannot {what} {}: {e}", path.display()))
}

/// Makes a key pair: the secret key in a new file `secret_path` (mode 0600), the public key in a new file
/// `public_path`.
pub fn keygen(secret_path: &Path, public_path: &Path) -> Result<String, Failure> {
    let mut secret = [0u8; 32];
    let random = Path::new("/dev/urandom");
    fs::File::open(random)
        .and_then(|mut file| file.read_exact(&mut secret))
        .map_err(|e| io_failure(random, "read", e))?;
    let public = ed25519_public_key(&secret);
    write_new(secret_path, &format!("{}\n", to_hex(&secret)), 0o600)?;
    secret.fill(0);
    write_new(public_path, &format!("{}\n", to_hex(&public)), 0o644)?;
    Ok(format!(
        "key {}: secret key in {}, public key in {}",
        KeyId::of(&public),
        secret_path.display(),
        public_path.display()
    ))
}

/// Signs the plugin in `dir` with the secret key in `secret_path`, writing `dir/aisopod.plugin.sig`.
pub fn sign(secret_path: &Path, dir: &Path) -> Result<String, Failure> {
    let mut secret = read_key(secret_path, "secret")?;
    let (manifest, library) = digests(dir)?;
    let signature = SignatureFile::sign(&secret, &manifest, &library);
    secret.fill(0);
    let path = dir.join(SIGNATURE_FILE_NAME);
    fs::write(&path, signature.render()).map_err(|e| io_failure(&path, "write", e))?;
    Ok(format!("signed {} with key {}: wrote {}", dir.display(), signature.key_id, path.display()))
}

/// Checks the signature file of the plugin in `dir` against the public key in `public_path`.
pub fn verify(public_path: &Path, dir: &Path) -> Result<String, Failure> {
    let public = read_key(public_path, "public")?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&public)
        .map_err(|_| Failure::new(EXIT_FILE, format!("{} holds no Ed25519 public key", public_path.display())))?;
    let path = dir.join(SIGNATURE_FILE_NAME);
    let bytes = match fs::File::open(&path) {
        Ok(file) => {
            let mut bytes = Vec::new();
            file.take(SIGNATURE_FILE_MAX_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| io_failure(&path, "read", e))?;
            bytes
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Failure::new(
                EXIT_REJECTED,
                format!("{} is unsigned: {} does not exist", dir.display(), path.display()),
            ))
        }
        Err(e) => return Err(io_failure(&path, "open", e)),
    };
    let signature =
        SignatureFile::parse(&bytes, &path).map_err(|e| Failure::new(EXIT_FILE, e.message().to_string()))?;
    let id = KeyId::of(&public);
    if signature.key_id != id {
        return Err(Failure::new(
            EXIT_REJECTED,
            format!("{} is signed by key {}, not by key {id}", dir.display(), signature.key_id),
        ));
    }
    let (manifest, library) = digests(dir)?;
    if !signature.verifies(&key, &manifest, &library) {
        return Err(Failure::new(
            EXIT_REJECTED,
            format!(
                "the signature by key {id} in {} does not verify: the manifest or the library changed since signing",
                path.display()
            ),
        ));
    }
    Ok(format!("{}: the signature by key {id} verifies", dir.display()))
}

/// The SHA-256 of the plugin's manifest file and of the library it names.
fn digests(dir: &Path) -> Result<(Sha256Digest, Sha256Digest), Failure> {
    let manifest_path = dir.join(MANIFEST_FILE_NAME);
    let bytes = fs::read(&manifest_path).map_err(|e| io_failure(&manifest_path, "read", e))?;
    let manifest =
        Manifest::parse_bytes(&bytes, &manifest_path).map_err(|e| Failure::new(EXIT_FILE, e.message().to_string()))?;
    let library_path: PathBuf = dir.join(manifest.library_file_name());
    let file = fs::File::open(&library_path).map_err(|e| io_failure(&library_path, "open", e))?;
    let library = Sha256Digest::of_file(&file).map_err(|e| io_failure(&library_path, "read", e))?;
    Ok((Sha256Digest::of(&bytes), library))
}

/// A key file's 32 bytes: 64 lower-case hexadecimal digits, then a newline or nothing.
fn read_key(path: &Path, kind: &str) -> Result<[u8; 32], Failure> {
    let text = fs::read_to_string(path).map_err(|e| io_failure(path, "read", e))?;
    let digits = text.strip_suffix('\n').unwrap_or(&text);
    hex::<32>(digits).map_err(|why| Failure::new(EXIT_FILE, format!("{}: the {kind} key {why}", path.display())))
}

/// The Ed25519 public key of `secret`.
fn ed25519_public_key(secret: &[u8; 32]) -> [u8; 32] {
    ed25519_dalek::SigningKey::from_bytes(secret).verifying_key().to_bytes()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Writes `text` to a new file at `path` with `mode`; an existing file is left alone and is an error.
fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), Failure> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(|e| io_failure(path, "create", e))?;
    file.write_all(text.as_bytes()).map_err(|e| io_failure(path, "write", e))
}
