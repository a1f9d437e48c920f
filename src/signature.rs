//! Publisher signatures: the `aisopod.plugin.sig` file format, the message a signature covers, key ids, and
//! signing and verifying with Ed25519.
//!
//! The file is three lines of ASCII, each ending in `\n`, and nothing else:
//!
//! ```text
//! aisopod-signature 1
//! key-id <16 lower-case hex digits: the first 8 bytes of the SHA-256 of the 32-byte public key>
//! signature <128 lower-case hex digits: the 64-byte Ed25519 signature>
//! ```
//!
//! The signed message is the 28 bytes `aisopod-plugin-signature-v1\0`, then the 32-byte SHA-256 of the manifest
//! file as it is on disk, then the 32-byte SHA-256 of the library: 92 bytes in all.

use std::fmt;
use std::path::Path;

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::error::{Error, Result, Status};
use crate::integrity::Sha256Digest;

/// The signature file's name in a plugin directory, next to `aisopod.plugin.toml`.
pub const SIGNATURE_FILE_NAME: &str = "aisopod.plugin.sig";

/// The most bytes a signature file may hold. A well-formed one has 183; a larger file is refused unread.
pub const SIGNATURE_FILE_MAX_BYTES: usize = 512;

/// What the signed message starts with: the format and its version, so that a signature made for anything else
/// never verifies as a plugin's.
pub const SIGNED_MESSAGE_PREFIX: &[u8; 28] = b"aisopod-plugin-signature-v1\0";

/// A public key's id: the first 8 bytes of the SHA-256 of its 32 bytes, written as 16 hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// The id of the 32-byte Ed25519 public key `public_key`.
    pub fn of(public_key: &[u8; 32]) -> KeyId {
        let digest = Sha256Digest::of(public_key);
        let mut id = [0; 8];
        id.copy_from_slice(&digest.0[..8]);
        KeyId(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// The content of a signature file.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SignatureFile {
    /// The id of the key that made the signature.
    pub key_id: KeyId,
    /// The Ed25519 signature of [`signed_message`].
    pub signature: [u8; 64],
}

/// The message a plugin's signature covers, for a manifest and a library with these digests.
pub fn signed_message(manifest: &Sha256Digest, library: &Sha256Digest) -> [u8; 92] {
    let mut message = [0; 92];
    message[..28].copy_from_slice(SIGNED_MESSAGE_PREFIX);
    message[28..60].copy_from_slice(&manifest.0);
    message[60..].copy_from_slice(&library.0);
    message
}

impl SignatureFile {
    /// Signs the manifest and library with these digests with the 32-byte Ed25519 secret key `secret`.
    pub fn sign(secret: &[u8; 32], manifest: &Sha256Digest, library: &Sha256Digest) -> SignatureFile {
        let key = SigningKey::from_bytes(secret);
        let signature = key.sign(&signed_message(manifest, library));
        SignatureFile { key_id: KeyId::of(key.verifying_key().as_bytes()), signature: signature.to_bytes() }
    }

    /// Whether this signature, by `key`, covers the manifest and library with these digests. The check is
    /// Ed25519's strict one: it also refuses the weak keys and non-canonical signatures that let one signature
    /// verify for several messages.
    pub fn verifies(&self, key: &VerifyingKey, manifest: &Sha256Digest, library: &Sha256Digest) -> bool {
        let signature = Signature::from_bytes(&self.signature);
        key.verify_strict(&signed_message(manifest, library), &signature).is_ok()
    }

    /// Reads a signature file's bytes; `path` is for messages. A malformed file is
    /// [`Status::MalformedSignature`], with a message `<path>:<line>: <why>`.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<SignatureFile> {
        let malformed = |line: usize, why: String| {
            Error::new(Status::MalformedSignature, format!("{}:{line}: {why}", path.display()))
        };
        if bytes.len() > SIGNATURE_FILE_MAX_BYTES {
            return Err(malformed(
                1,
                format!(
                    "the file is {} bytes long, more than a signature file's {SIGNATURE_FILE_MAX_BYTES}",
                    bytes.len()
                ),
            ));
        }
        let mut lines = Vec::with_capacity(3);
        let mut rest = bytes;
        // Four lines at most: the fourth, if any, is refused below.
        while !rest.is_empty() && lines.len() < 4 {
            let number = lines.len() + 1;
            let Some(end) = rest.iter().position(|&b| b == b'\n') else {
                return Err(malformed(number, "the line does not end with a newline".into()));
            };
            let line = &rest[..end];
            if let Some(at) = line.iter().position(|&b| !(b' '..=b'~').contains(&b)) {
                return Err(malformed(
                    number,
                    format!("byte {at} is {:#04x}, not a printable ASCII character", line[at]),
                ));
            }
            lines.push(std::str::from_utf8(line).expect("checked ASCII"));
            rest = &rest[end + 1..];
        }
        let field = |number: usize, name: &str| -> Result<&str> {
            let Some(line) = lines.get(number - 1) else {
                return Err(malformed(number, format!("the file ends before line {number}, `{name} ...`")));
            };
            match line.strip_prefix(name).and_then(|value| value.strip_prefix(' ')) {
                Some(value) => Ok(value),
                None => Err(malformed(number, format!("expected `{name} ...`, found {line:?}"))),
            }
        };
        let version = field(1, "aisopod-signature")?;
        if version != "1" {
            return Err(malformed(1, format!("format version {version:?}; this loader reads version 1")));
        }
        let key_id = KeyId(hex(field(2, "key-id")?).map_err(|why| malformed(2, format!("the key id {why}")))?);
        let signature = hex(field(3, "signature")?).map_err(|why| malformed(3, format!("the signature {why}")))?;
        if lines.len() > 3 {
            return Err(malformed(4, "a signature file has three lines; this one has more".into()));
        }
        Ok(SignatureFile { key_id, signature })
    }

    /// The file's text, as [`SignatureFile::parse`] reads it.
    pub fn render(&self) -> String {
        let signature: String = self.signature.iter().map(|byte| format!("{byte:02x}")).collect();
        format!("aisopod-signature 1\nkey-id {}\nsignature {signature}\n", self.key_id)
    }
}

/// `N` bytes from exactly `2 * N` lower-case hexadecimal digits. The error completes a sentence naming the
/// field.
pub fn hex<const N: usize>(text: &str) -> std::result::Result<[u8; N], String> {
    if let Some((at, c)) = text.char_indices().find(|(_, c)| !matches!(c, '0'..='9' | 'a'..='f')) {
        return Err(format!("has {c:?} at byte {at}, which is not a lower-case hexadecimal digit"));
    }
    if text.len() != 2 * N {
        return Err(format!("is {} hexadecimal digits long, not {}", text.len(), 2 * N));
    }
    let mut bytes = [0; N];
    for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let digit = |c: u8| (c as char).to_digit(16).expect("checked above") as u8;
        *byte = digit(pair[0]) << 4 | digit(pair[1]);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "p/aisopod.plugin.sig";

    fn example() -> SignatureFile {
        SignatureFile::sign(&[7; 32], &Sha256Digest::of(b"manifest"), &Sha256Digest::of(b"library"))
    }

    fn refusal(text: &str) -> String {
        let error = SignatureFile::parse(text.as_bytes(), Path::new(PATH)).unwrap_err();
        assert_eq!(error.status(), Status::MalformedSignature, "{error}");
        error.message().strip_prefix("p/aisopod.plugin.sig:").expect("names the file").to_string()
    }

    #[test]
    fn a_signature_file_round_trips_and_verifies_only_what_was_signed() {
        let file = example();
        let text = file.render();
        assert_eq!(text.len(), 183);
        assert_eq!(SignatureFile::parse(text.as_bytes(), Path::new(PATH)).unwrap(), file);
        let key = SigningKey::from_bytes(&[7; 32]).verifying_key();
        assert_eq!(file.key_id, KeyId::of(key.as_bytes()));
        let (manifest, library) = (Sha256Digest::of(b"manifest"), Sha256Digest::of(b"library"));
        assert!(file.verifies(&key, &manifest, &library));
        assert!(!file.verifies(&key, &library, &manifest));
        assert!(!file.verifies(&key, &Sha256Digest::of(b"manifest "), &library));
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        assert!(!file.verifies(&other, &manifest, &library));
    }

    #[test]
    fn the_signed_message_is_the_prefix_then_both_digests() {
        let message = signed_message(&Sha256Digest([1; 32]), &Sha256Digest([2; 32]));
        assert_eq!(&message[..28], b"aisopod-plugin-signature-v1\0");
        assert_eq!((message[28], message[59], message[60], message[91]), (1, 1, 2, 2));
    }

    #[test]
    fn a_key_id_is_the_start_of_the_keys_sha256() {
        // SHA-256 of 32 zero bytes is 66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925.
        assert_eq!(KeyId::of(&[0; 32]).to_string(), "66687aadf862bd77");
    }

    #[test]
    fn a_malformed_file_is_refused_naming_the_line_and_what_is_wrong() {
        let good = example().render();
        let lines: Vec<&str> = good.lines().collect();
        let cases = [
            (String::new(), "1: the file ends before line 1, `aisopod-signature ...`"),
            ("aisopod-signature 1".to_string(), "1: the line does not end with a newline"),
            ("aisopod-signature 2\n".to_string(), "1: format version \"2\"; this loader reads version 1"),
            ("aisopod-signature  1\n".to_string(), "1: format version \" 1\"; this loader reads version 1"),
            ("aisopod-signature 1\r\n".to_string(), "1: byte 19 is 0x0d, not a printable ASCII character"),
            (format!("{}\n", lines[0]), "2: the file ends before line 2, `key-id ...`"),
            (format!("{}\nkeyid 00\n", lines[0]), "2: expected `key-id ...`, found \"keyid 00\""),
            (format!("{}\nkey-id 0011\n", lines[0]), "2: the key id is 4 hexadecimal digits long, not 16"),
            (
                format!("{}\nkey-id 00112233445566AA\n", lines[0]),
                "2: the key id has 'A' at byte 14, which is not a lower-case hexadecimal digit",
            ),
            (format!("{}\n{}\n", lines[0], lines[1]), "3: the file ends before line 3, `signature ...`"),
            (
                format!("{}\n{}\nsignature {}\n", lines[0], lines[1], "0".repeat(127)),
                "3: the signature is 127 hexadecimal digits long, not 128",
            ),
            (format!("{good}\n"), "4: a signature file has three lines; this one has more"),
            (format!("{good}extra"), "4: the line does not end with a newline"),
            ("x".repeat(513), "1: the file is 513 bytes long, more than a signature file's 512"),
        ];
        for (text, why) in cases {
            assert_eq!(refusal(&text), why, "{text:?}");
        }
    }
}
