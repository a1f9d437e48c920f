//! Publisher signatures as the host trusts them: its signature policy, its trusted keys, and the check of one
//! plugin's signature file against both, before the library is opened with `dlopen`.

use std::io::Read as _;
use std::path::Path;
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;

use crate::discovery::PluginInfo;
use crate::error::{Error, Result, Status};
use crate::integrity::Sha256Digest;
use crate::log::{LogLevel, Logger};
use crate::manifest::{Manifest, MANIFEST_MAX_BYTES};
use crate::open_file::{self, OpenError};
use crate::signature::{KeyId, SignatureFile, SIGNATURE_FILE_MAX_BYTES, SIGNATURE_FILE_NAME};

/// What the loader does with a plugin that is unsigned, or signed by a key it does not trust. A signature by a
/// trusted key that does not verify, and a malformed signature file, are refused under both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignaturePolicy {
    /// An unsigned plugin loads; one signed by an unknown key loads with a warning in the log. The default:
    /// a plugin ecosystem starts unsigned, and a host that ships keys turns [`SignaturePolicy::Required`] on.
    #[default]
    AllowUnsigned,
    /// Only a plugin signed by a trusted key, whose signature verifies, loads: an unsigned one is
    /// `Status::Unsigned`, one signed by another key `Status::UnknownKey`.
    Required,
}

/// The host's signature settings, as one load applies them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Signatures {
    pub(crate) policy: SignaturePolicy,
    /// Shared with the loader until the next key is added: a load clones the settings, not the keys.
    keys: Arc<Vec<(KeyId, VerifyingKey)>>,
}

impl Signatures {
    /// Trusts the Ed25519 public key `public_key`, and returns its id. Trusting a key twice changes nothing.
    /// Bytes that are no point on the curve are `Status::InvalidArgument`.
    pub(crate) fn trust(&mut self, public_key: &[u8; 32]) -> Result<KeyId> {
        let key = VerifyingKey::from_bytes(public_key)
            .map_err(|_| Error::new(Status::InvalidArgument, "argument 'public_key' is not an Ed25519 public key"))?;
        let id = KeyId::of(public_key);
        if !self.keys.iter().any(|(_, known)| known == &key) {
            Arc::make_mut(&mut self.keys).push((id, key));
        }
        Ok(id)
    }

    /// Checks `info`'s signature file under the policy. `library_digest` gives the SHA-256 of the library as it
    /// is open for `dlopen`, and is called only when a trusted key's signature is to be verified.
    pub(crate) fn check(
        &self,
        info: &PluginInfo,
        library_digest: impl FnOnce() -> Result<Sha256Digest>,
        logger: &Logger,
    ) -> Result<()> {
        let id = &info.manifest.id;
        let path = info.directory.join(SIGNATURE_FILE_NAME);
        let Some(bytes) = read_capped(&path, SIGNATURE_FILE_MAX_BYTES as u64, id)? else {
            return match self.policy {
                SignaturePolicy::AllowUnsigned => Ok(()),
                SignaturePolicy::Required => Err(Error::new(
                    Status::Unsigned,
                    format!(
                        "plugin '{id}' is unsigned: {} does not exist, and the signature policy requires a signature \
                         by a trusted key; it was not opened",
                        path.display()
                    ),
                )),
            };
        };
        let signature = SignatureFile::parse(&bytes, &path).map_err(|e| {
            Error::new(
                e.status(),
                format!("plugin '{id}': malformed signature file {}; it was not opened", e.message()),
            )
        })?;
        let key_id = signature.key_id;
        let Some((_, key)) = self.keys.iter().find(|(known, _)| *known == key_id) else {
            let message =
                format!("plugin '{id}' is signed by key {key_id}, which the host does not trust ({})", path.display());
            return match self.policy {
                SignaturePolicy::AllowUnsigned => {
                    logger.log(LogLevel::Warn, &format!("{message}; loaded, since unsigned plugins are allowed"));
                    Ok(())
                }
                SignaturePolicy::Required => {
                    Err(Error::new(Status::UnknownKey, format!("{message}; it was not opened")))
                }
            };
        };
        let manifest_path = info.manifest_path();
        let manifest_bytes = read_capped(&manifest_path, MANIFEST_MAX_BYTES, id)?.ok_or_else(|| {
            Error::new(Status::Io, format!("plugin '{id}': manifest {} is gone", manifest_path.display()))
        })?;
        let manifest_digest = Sha256Digest::of(&manifest_bytes);
        let library = library_digest()?;
        if !signature.verifies(key, &manifest_digest, &library) {
            return Err(Error::new(
                Status::BadSignature,
                format!(
                    "plugin '{id}': the signature by key {key_id} in {} does not verify: the manifest {} (SHA-256 \
                     {manifest_digest}) or the library (SHA-256 {library}) is not what was signed; it was not opened",
                    path.display(),
                    manifest_path.display()
                ),
            ));
        }
        // The loader acts on the manifest it read at discovery: the signed bytes must say the same.
        let signed = Manifest::parse_bytes(&manifest_bytes, &manifest_path).ok();
        if signed.is_none_or(|signed| without_warnings(&signed) != without_warnings(&info.manifest)) {
            return Err(Error::new(
                Status::BadSignature,
                format!(
                    "plugin '{id}': the signature by key {key_id} covers manifest {} as it is now, which is not the \
                     manifest discovery read; discover again; it was not opened",
                    manifest_path.display()
                ),
            ));
        }
        logger.log(
            LogLevel::Debug,
            &format!("plugin '{id}': signed by trusted key {key_id}, and the signature verifies"),
        );
        Ok(())
    }
}

fn without_warnings(manifest: &Manifest) -> Manifest {
    Manifest { warnings: Vec::new(), ..manifest.clone() }
}

/// The bytes of the regular file at `path`, `None` when there is no such file; one longer than `cap` is read
/// only as far as `cap + 1` bytes, for the parser to refuse.
fn read_capped(path: &Path, cap: u64, id: &str) -> Result<Option<Vec<u8>>> {
    let failed = |why: String| Error::new(Status::Io, format!("plugin '{id}': {} {why}", path.display()));
    let (file, _) = match open_file::open_regular(path) {
        Ok(opened) => opened,
        Err(OpenError::Missing(_)) => return Ok(None),
        Err(OpenError::WrongKind(kind)) => {
            return Err(failed(format!("is {}, not a regular file", kind.with_article())))
        }
        Err(OpenError::Failed(e)) => {
            return Err(failed(format!("cannot be opened: {}", crate::io_error::describe(&e))))
        }
    };
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| failed(format!("cannot be read: {}", crate::io_error::describe(&e))))?;
    Ok(Some(bytes))
}
