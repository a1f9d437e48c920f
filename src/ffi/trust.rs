//! The loader's trust settings in the C API: the file-permission policy, the allow and deny lists of plugin
//! ids, and the signature policy and trusted publisher keys.

use std::ffi::c_char;

use super::loader::{aisopod_loader, with_loader};
use super::pointers::{bytes, null_argument, string};
use crate::abi::aisopod_status;
use crate::error::{Error, Status};
use crate::{FilePolicy, SignaturePolicy};

/// What discovery and loading do with a plugin file that someone else could have written: an
/// `AISOPOD_FILE_POLICY_*` value.
pub type aisopod_file_policy = u32;
/// Plugin files are not checked.
pub const AISOPOD_FILE_POLICY_OFF: aisopod_file_policy = 0;
/// An unsafe plugin file is accepted, with a warning in the log naming it, its mode and its owner.
pub const AISOPOD_FILE_POLICY_WARN: aisopod_file_policy = 1;
/// An unsafe plugin file is refused with `AISOPOD_STATUS_UNSAFE_PERMISSIONS`. The default.
pub const AISOPOD_FILE_POLICY_STRICT: aisopod_file_policy = 2;

/// Sets what the loader does with a plugin directory, manifest or library that is writable by its group or by
/// others, or owned by a user other than root and this process's effective user: such a file lets another
/// local user change the plugin's code. Under `AISOPOD_FILE_POLICY_STRICT` (the default) discovery gives an
/// unsafe directory or manifest an `AISOPOD_STATUS_UNSAFE_PERMISSIONS` diagnostic, and loading or probing a
/// plugin whose library is unsafe fails with that status; the message names the file, its mode in octal and
/// its owner. `AISOPOD_FILE_POLICY_WARN` accepts such files with a warning in the log;
/// `AISOPOD_FILE_POLICY_OFF` does not look. Applies from the next discovery, load or probe.
///
/// Returns `AISOPOD_STATUS_INVALID_ARGUMENT` for a value that is no `AISOPOD_FILE_POLICY_*`.
///
/// Ownership: borrows `loader` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_set_file_policy(
    loader: Option<&aisopod_loader>,
    policy: aisopod_file_policy,
) -> aisopod_status {
    with_loader("aisopod_loader_set_file_policy", loader, |core| {
        let policy = match policy {
            AISOPOD_FILE_POLICY_OFF => FilePolicy::Off,
            AISOPOD_FILE_POLICY_WARN => FilePolicy::Warn,
            AISOPOD_FILE_POLICY_STRICT => FilePolicy::Strict,
            other => {
                return Err(Error::new(
                    Status::InvalidArgument,
                    format!("argument 'policy' is {other}, not an AISOPOD_FILE_POLICY_* value"),
                ))
            }
        };
        core.set_file_policy(policy);
        Ok(())
    })
}

/// Adds plugin `id` to the allow list. Once the list holds an id, discovery lets in only the plugins on it:
/// every other one gets an `AISOPOD_STATUS_DENIED` diagnostic naming its id and the allow list, and loading or
/// probing it fails with that status. The deny list wins over the allow list. Applies from the next discovery,
/// load or probe; plugins loaded already stay loaded.
///
/// Returns `AISOPOD_STATUS_INVALID_ARGUMENT` for an id that no manifest could have (it must match
/// `[a-z0-9][a-z0-9._-]*`, at most `AISOPOD_ID_MAX_LEN` bytes).
///
/// Ownership: borrows `loader` and `id` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_allow(loader: Option<&aisopod_loader>, id: *const c_char) -> aisopod_status {
    with_loader("aisopod_loader_allow", loader, |core| {
        // SAFETY: the caller passes a NUL-terminated string or NULL.
        core.allow(unsafe { string(id, "id") }?)
    })
}

/// Adds plugin `id` to the deny list: discovery gives it an `AISOPOD_STATUS_DENIED` diagnostic naming its id
/// and the deny list, and loading or probing it fails with that status, whatever the allow list holds. Applies
/// from the next discovery, load or probe; a plugin loaded already stays loaded until it is unloaded.
///
/// Returns `AISOPOD_STATUS_INVALID_ARGUMENT` for an id that no manifest could have.
///
/// Ownership: borrows `loader` and `id` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_deny(loader: Option<&aisopod_loader>, id: *const c_char) -> aisopod_status {
    with_loader("aisopod_loader_deny", loader, |core| {
        // SAFETY: the caller passes a NUL-terminated string or NULL.
        core.deny(unsafe { string(id, "id") }?)
    })
}

/// Empties the allow and deny lists, so that every plugin is let in again from the next discovery, load or
/// probe.
///
/// Ownership: borrows `loader` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_clear_lists(loader: Option<&aisopod_loader>) -> aisopod_status {
    with_loader("aisopod_loader_clear_lists", loader, |core| {
        core.clear_lists();
        Ok(())
    })
}

/// What loading does with a plugin that is unsigned or signed by a key the host does not trust: an
/// `AISOPOD_SIGNATURES_*` value.
pub type aisopod_signature_policy = u32;
/// An unsigned plugin loads; one signed by a key the host does not trust loads with a warning in the log naming
/// the plugin and the key id. The default.
pub const AISOPOD_SIGNATURES_ALLOW_UNSIGNED: aisopod_signature_policy = 0;
/// Only a plugin signed by a trusted key loads: an unsigned one is refused with `AISOPOD_STATUS_UNSIGNED`, one
/// signed by another key with `AISOPOD_STATUS_UNKNOWN_KEY`.
pub const AISOPOD_SIGNATURES_REQUIRED: aisopod_signature_policy = 1;

/// Sets what loading and probing do with a plugin whose directory has no `aisopod.plugin.sig`, or whose
/// signature names a key not passed to `aisopod_loader_trust_key`. Under either policy, a signature by a
/// trusted key that does not verify (the manifest or the library changed after signing) is refused with
/// `AISOPOD_STATUS_BAD_SIGNATURE`, and a malformed signature file with `AISOPOD_STATUS_MALFORMED_SIGNATURE`.
/// The check runs before the library is opened with `dlopen`; for an isolated plugin, in this process before
/// the helper is asked. Applies from the next load or probe.
///
/// Returns `AISOPOD_STATUS_INVALID_ARGUMENT` for a value that is no `AISOPOD_SIGNATURES_*`.
///
/// Ownership: borrows `loader` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_set_signature_policy(
    loader: Option<&aisopod_loader>,
    policy: aisopod_signature_policy,
) -> aisopod_status {
    with_loader("aisopod_loader_set_signature_policy", loader, |core| {
        let policy = match policy {
            AISOPOD_SIGNATURES_ALLOW_UNSIGNED => SignaturePolicy::AllowUnsigned,
            AISOPOD_SIGNATURES_REQUIRED => SignaturePolicy::Required,
            other => {
                return Err(Error::new(
                    Status::InvalidArgument,
                    format!("argument 'policy' is {other}, not an AISOPOD_SIGNATURES_* value"),
                ))
            }
        };
        core.set_signature_policy(policy);
        Ok(())
    })
}

/// Trusts the Ed25519 public key `public_key` (`len` bytes, which must be 32) to sign plugins, from the next
/// load or probe. Trusting a key twice changes nothing. A plugin's signature file names its key by id: the
/// first 8 bytes of the SHA-256 of the 32-byte key, in hexadecimal.
///
/// Returns `AISOPOD_STATUS_NULL_ARGUMENT` when `public_key` is NULL, and `AISOPOD_STATUS_INVALID_ARGUMENT`
/// when `len` is not 32 or the bytes are no Ed25519 public key.
///
/// Ownership: borrows `loader` and `public_key` for the call; the loader keeps its own copy of the key.
#[no_mangle]
pub extern "C" fn aisopod_loader_trust_key(
    loader: Option<&aisopod_loader>,
    public_key: *const u8,
    len: usize,
) -> aisopod_status {
    with_loader("aisopod_loader_trust_key", loader, |core| {
        if public_key.is_null() {
            return Err(null_argument("public_key"));
        }
        // SAFETY: the caller passes `len` readable bytes at `public_key`.
        let key = unsafe { bytes(public_key, len, "public_key") }?;
        let key: &[u8; 32] = key.try_into().map_err(|_| {
            Error::new(Status::InvalidArgument, format!("argument 'len' is {len}: an Ed25519 public key has 32 bytes"))
        })?;
        core.trust_key(key).map(|_| ())
    })
}
