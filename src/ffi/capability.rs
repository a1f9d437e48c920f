//! The `aisopod_capability` handle: a resolved capability, called with no lookup and no lock.

use std::ffi::c_char;
use std::ptr::NonNull;

use super::boundary::call;
use super::last_error::{ErrorKey, NO_LOADER};
use super::loader::{aisopod_loader, capability_kind, with_loader};
use super::pointers::{bytes, free_box, required, string, write_out};
use crate::abi::{aisopod_capability_kind, aisopod_sink, aisopod_status};
use crate::Capability;

/// A resolved capability of a loaded, initialised plugin.
///
/// Ownership: owned by the caller that resolved it and freed with `aisopod_capability_free`. It keeps its
/// plugin loaded: while it lives, `aisopod_loader_unload` of that plugin fails with `AISOPOD_STATUS_BUSY`. It
/// may outlive its loader: the plugin then stays loaded (without the loader's log callback and host
/// extensions) until the handle is freed, and `aisopod_capability_free` shuts it down, destroys it and closes
/// its library. After `aisopod_loader_reload` of its plugin it is stale: `aisopod_capability_invoke` returns
/// `AISOPOD_STATUS_STALE` and calls nothing, and the replaced version stays mapped until the handle is freed.
///
/// Thread safety: may be invoked from any number of threads at once, unless the plugin's manifest says
/// `thread_safe = false`, in which case calls run one at a time.
pub struct aisopod_capability {
    /// The loader's error key: failures are reported through `aisopod_loader_error_message(loader)`.
    serial: ErrorKey,
    capability: Capability,
}

/// Resolves the capability `name` of `kind` in the initialised plugin `id` and writes a new handle to
/// `*capability_out`. Calling through the handle skips the id and name lookups and takes no lock.
///
/// Ownership: borrows `loader`, `id` and `name` for the call. The caller owns `*capability_out` and frees it with
/// `aisopod_capability_free`, before or after freeing the loader.
#[no_mangle]
pub extern "C" fn aisopod_loader_resolve(
    loader: Option<&aisopod_loader>,
    id: *const c_char,
    kind: aisopod_capability_kind,
    name: *const c_char,
    capability_out: Option<NonNull<*mut aisopod_capability>>,
) -> aisopod_status {
    with_loader("aisopod_loader_resolve", loader, |core| {
        write_out(capability_out, "capability_out", || {
            // SAFETY (both): the caller passes NUL-terminated strings or NULL.
            let id = unsafe { string(id, "id") }?;
            let name = unsafe { string(name, "name") }?;
            let capability = core.resolve(id, capability_kind(kind)?, name)?;
            let serial = loader.map(aisopod_loader::serial).unwrap_or_default();
            let handle = Box::new(aisopod_capability { serial, capability });
            Ok(Box::into_raw(handle))
        })
    })
}

/// Calls the resolved capability with `input_len` bytes at `input` (NULL allowed when `input_len` is 0),
/// writing its output to `sink` (NULL discards it). As `aisopod_loader_invoke`, without the lookups.
/// Failures are reported through `aisopod_loader_error_message` of the capability's loader.
///
/// Ownership: borrows `capability`, `input` and `sink` for the call; the sink receives bytes it must copy.
#[no_mangle]
pub extern "C" fn aisopod_capability_invoke(
    capability: Option<&aisopod_capability>,
    input: *const u8,
    input_len: usize,
    sink: Option<&aisopod_sink>,
) -> aisopod_status {
    let key = capability.map_or(NO_LOADER, |c| c.serial);
    call("aisopod_capability_invoke", key, || {
        let capability = required(capability, "capability")?;
        // SAFETY: the caller passes `input_len` readable bytes at `input`, or NULL with 0.
        let input = unsafe { bytes(input, input_len, "input") }?;
        capability.capability.invoke(input, sink)
    })
}

/// Frees a capability handle, letting its plugin be unloaded again. `aisopod_capability_free(NULL)` does
/// nothing.
///
/// Ownership: takes ownership of `capability`; it must not be used afterwards.
#[no_mangle]
pub extern "C" fn aisopod_capability_free(capability: *mut aisopod_capability) {
    // SAFETY: a non-null handle came from `aisopod_loader_resolve` and is freed once, by contract.
    unsafe { free_box("aisopod_capability_free", capability) }
}
