//! The loader's trust settings in the C API: the file-permission policy and the allow and deny lists of plugin
//! ids.

use std::ffi::c_char;

use super::loader::{aisopod_loader, with_loader};
use super::pointers::string;
use crate::abi::aisopod_status;
use crate::error::{Error, Status};
use crate::FilePolicy;

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
