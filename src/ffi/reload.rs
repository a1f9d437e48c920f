//! Hot reload through an `aisopod_loader`: reloading one plugin, polling for changed plugins, and generations.

use std::ffi::c_char;
use std::ptr::NonNull;

use super::loader::{aisopod_loader, with_loader};
use super::pointers::{string, write_out};
use crate::abi::aisopod_status;

/// Reloads loaded plugin `id` from its directory, in this order: reads its manifest again (its id must not
/// change) and runs every check and step `aisopod_loader_load` runs (allow and deny lists, quarantine, file
/// policy, pin, signature, then steps 1 to 9) on the new version **while the old one keeps running**; the
/// library is opened through `/proc/self/fd/N`, so a rebuilt file is mapped afresh beside the old one. Any
/// failure up to here leaves the old version as it was, and returns the failing step's status with a message
/// "plugin 'x': reload failed, the old version keeps running: ...". Then it commits: the old version is closed
/// to calls by name (running ones finish first), saves its state when it exports `aisopod.state/1`, and is shut
/// down, destroyed and closed, at once or, while `aisopod_capability` handles pin it, when the last of them is
/// freed; the new version takes its place in load order, gets the next generation, is initialized with the
/// config and data directory of the old one's last successful `aisopod_loader_init` (not at all when it had
/// none), and restores the saved state. A failing `init` leaves the new version loaded but not initialized and
/// returns `AISOPOD_STATUS_INIT_FAILED`, saying the old version is gone.
///
/// From the commit on, calls through the old version's handles return `AISOPOD_STATUS_STALE` without running
/// plugin code; a call through one that had already started finishes on the old code, which stays mapped until
/// the handle is freed. A library rewritten in place (same inode) cannot be told from the mapped one: rebuild
/// to a new file and rename it over the old name.
///
/// Must not be called from inside a plugin callback (`AISOPOD_STATUS_REENTRANT`).
///
/// Ownership: borrows `loader` and `id` for the call.
///
/// Thread safety: a lifecycle call, serialized with load, init and unload.
#[no_mangle]
pub extern "C" fn aisopod_loader_reload(loader: Option<&aisopod_loader>, id: *const c_char) -> aisopod_status {
    with_loader("aisopod_loader_reload", loader, |core| {
        // SAFETY: the caller passes a NUL-terminated string or NULL.
        core.reload(unsafe { string(id, "id") }?)
    })
}

/// Reloads, in load order, each loaded plugin whose manifest or library changed (device, inode, size or
/// modification time, from one `stat` of each) since it was loaded or last reloaded, as `aisopod_loader_reload`
/// does. It polls: it starts no thread and watches nothing between calls.
///
/// When every reload succeeds (or nothing changed) it returns `AISOPOD_STATUS_OK`. When one fails it goes on
/// with the others and returns the first failure's status (its message is the loader's error message); a
/// plugin whose reload failed keeps its old version and is not tried again until its files change again. In
/// both cases it writes the number of plugins it reloaded to `*reloaded_out` when that is not NULL: unlike
/// other functions, also on that failure (but not on a NULL loader or a re-entrant call).
///
/// Must not be called from inside a plugin callback (`AISOPOD_STATUS_REENTRANT`).
///
/// Ownership: borrows `loader` and `reloaded_out` for the call.
///
/// Thread safety: a lifecycle call, serialized with load, init and unload.
#[no_mangle]
pub extern "C" fn aisopod_loader_poll_changes(
    loader: Option<&aisopod_loader>,
    reloaded_out: Option<NonNull<usize>>,
) -> aisopod_status {
    with_loader("aisopod_loader_poll_changes", loader, |core| {
        let polled = core.poll_changes()?;
        if let Some(out) = reloaded_out {
            // SAFETY: a non-null `reloaded_out` points to a writable `size_t`, by this function's contract.
            unsafe { out.as_ptr().write(polled.reloaded.len()) };
        }
        match polled.failed.into_iter().next() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    })
}

/// Writes the generation of loaded plugin `id` to `*generation_out`: the number of the load that gave it its
/// current version. Every load and every successful reload through this loader takes the next number, from 1,
/// so a reload always raises it. `AISOPOD_STATUS_NOT_LOADED` when `id` is not loaded.
///
/// Ownership: borrows `loader`, `id` and `generation_out` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_plugin_generation(
    loader: Option<&aisopod_loader>,
    id: *const c_char,
    generation_out: Option<NonNull<u64>>,
) -> aisopod_status {
    with_loader("aisopod_loader_plugin_generation", loader, |core| {
        write_out(generation_out, "generation_out", || {
            // SAFETY: the caller passes a NUL-terminated string or NULL.
            core.plugin_generation(unsafe { string(id, "id") }?)
        })
    })
}
