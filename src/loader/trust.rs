//! The loader's trust settings: the file-permission policy, the allow and deny lists, and the signature policy
//! and trusted keys, set by the host and applied from the next discovery, load or probe.

use super::Loader;
use crate::discovery::PluginInfo;
use crate::error::Result;
use crate::signature::KeyId;
use crate::sync::{read, write};
use crate::trust::{FilePolicy, List, SignaturePolicy, Signatures, Trust};

impl Loader {
    /// Sets what discovery and loading do with a plugin directory, manifest or library that someone other than
    /// root and this process's user could have written (default: [`FilePolicy::Strict`], refuse it). Applies
    /// from the next discovery (directories and manifests) and the next load or probe (libraries).
    pub fn set_file_policy(&self, policy: FilePolicy) {
        write(&self.trust).files = policy;
    }

    /// The file policy in force.
    pub fn file_policy(&self) -> FilePolicy {
        read(&self.trust).files
    }

    /// Adds `id` to the allow list: once it holds an id, only the plugins on it are discovered and loaded, and
    /// the others get a `Status::Denied` diagnostic. An id no manifest could have is refused with
    /// `Status::InvalidArgument`.
    pub fn allow(&self, id: &str) -> Result<()> {
        write(&self.trust).lists.add(List::Allow, id)
    }

    /// Adds `id` to the deny list: that plugin gets a `Status::Denied` diagnostic at discovery and its load or
    /// probe fails with `Status::Denied`, whatever the allow list says. An id no manifest could have is refused
    /// with `Status::InvalidArgument`.
    pub fn deny(&self, id: &str) -> Result<()> {
        write(&self.trust).lists.add(List::Deny, id)
    }

    /// Empties both lists: every plugin is let in again.
    pub fn clear_lists(&self) {
        write(&self.trust).lists.clear();
    }

    /// Sets what loading and probing do with a plugin that is unsigned or signed by a key the host does not
    /// trust (default: [`SignaturePolicy::AllowUnsigned`]). A signature by a trusted key that does not verify is
    /// refused under every policy. Applies from the next load or probe.
    pub fn set_signature_policy(&self, policy: SignaturePolicy) {
        write(&self.trust).signatures.policy = policy;
    }

    /// The signature policy in force.
    pub fn signature_policy(&self) -> SignaturePolicy {
        read(&self.trust).signatures.policy
    }

    /// Trusts the Ed25519 public key `public_key` to sign plugins, from the next load or probe, and returns its
    /// id, the one signature files name. Bytes that are no Ed25519 public key are `Status::InvalidArgument`.
    pub fn trust_key(&self, public_key: &[u8; 32]) -> Result<KeyId> {
        write(&self.trust).signatures.trust(public_key)
    }

    /// The signature settings one load or probe applies.
    pub(crate) fn signatures(&self) -> Signatures {
        read(&self.trust).signatures.clone()
    }

    /// The settings one discovery applies.
    pub(crate) fn trust(&self) -> Trust {
        read(&self.trust).clone()
    }

    /// The `Status::Denied` error when the lists, as they are now, keep `info` out.
    pub(crate) fn check_lists(&self, info: &PluginInfo) -> Result<()> {
        let trust = read(&self.trust);
        if trust.lists.lets_all_in() {
            return Ok(());
        }
        match trust.lists.refusal(&info.manifest.id, &info.manifest_path()) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}
