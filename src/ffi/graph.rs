//! The plugin graph through an `aisopod_loader`: the host's requirements on plugin versions, the configs of
//! plugins the loader initializes on its own, and the unload that takes a plugin's dependents with it.

use std::ffi::c_char;
use std::path::Path;

use super::loader::{aisopod_loader, with_loader};
use super::pointers::{optional_string, string};
use crate::abi::aisopod_status;

/// Accepts only the versions of plugin `id` that `requirement` matches: a semver requirement as Cargo reads
/// one (`"^2.1"`, `">=1.4, <3"`; `"2.1"` means `"^2.1"`). From the next discovery, a plugin outside it is set
/// aside with an `AISOPOD_STATUS_VERSION_REJECTED` diagnostic naming both versions, and so are the plugins
/// that need it; from the next load, loading it fails with the same status. A NULL `requirement` removes
/// the requirement on `id`. A malformed id or requirement is `AISOPOD_STATUS_INVALID_ARGUMENT`.
///
/// Ownership: borrows `loader`, `id` and `requirement` for the call; the loader keeps a copy.
#[no_mangle]
pub extern "C" fn aisopod_loader_require(
    loader: Option<&aisopod_loader>,
    id: *const c_char,
    requirement: *const c_char,
) -> aisopod_status {
    with_loader("aisopod_loader_require", loader, |core| {
        // SAFETY (both): the caller passes NUL-terminated strings or NULL.
        let id = unsafe { string(id, "id") }?;
        let requirement = unsafe { optional_string(requirement, "requirement") }?;
        core.require(id, requirement)
    })
}

/// Sets the `config` (UTF-8, JSON by convention; NULL means "") and `data_dir` (NULL means "", no data
/// directory) that the loader gives plugin `id`'s `init` when it initializes the plugin on its own: as a
/// dependency of a plugin the host initializes with `aisopod_loader_init`, or on its first use under the lazy
/// policy. Without one, such an `init` gets "" and no data directory. `id` need not be discovered yet.
/// Replaces an earlier config for `id`; the plugin's current state is unaffected.
///
/// Ownership: borrows `loader`, `id`, `config` and `data_dir` for the call; the loader keeps copies.
#[no_mangle]
pub extern "C" fn aisopod_loader_set_config(
    loader: Option<&aisopod_loader>,
    id: *const c_char,
    config: *const c_char,
    data_dir: *const c_char,
) -> aisopod_status {
    with_loader("aisopod_loader_set_config", loader, |core| {
        // SAFETY (all three): the caller passes NUL-terminated strings or NULL.
        let id = unsafe { string(id, "id") }?;
        let config = unsafe { optional_string(config, "config") }?.unwrap_or("");
        let data_dir = unsafe { optional_string(data_dir, "data_dir") }?.unwrap_or("");
        core.set_config(id, config, Path::new(data_dir));
        Ok(())
    })
}

/// Unloads the loaded plugins that depend on plugin `id`, directly or not, most recently loaded first, each as
/// `aisopod_loader_unload` does, then `id` itself. Refused with `AISOPOD_STATUS_BUSY`, unloading nothing, while
/// `aisopod_capability` handles of any of them are alive.
///
/// Ownership: borrows `loader` and `id` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_unload_cascade(loader: Option<&aisopod_loader>, id: *const c_char) -> aisopod_status {
    with_loader("aisopod_loader_unload_cascade", loader, |core| {
        // SAFETY: the caller passes a NUL-terminated string or NULL.
        core.unload_cascade(unsafe { string(id, "id") }?)
    })
}

/// Turns the lazy policy on (`lazy` true) or off (the default). With it on, `aisopod_loader_invoke`,
/// `aisopod_loader_resolve` and `aisopod_loader_emit` load a discovered plugin that is not loaded yet, with its
/// dependencies, and initialize it with the config set by `aisopod_loader_set_config`, on its first use; until
/// then its capabilities are known from its manifest alone (`aisopod_plugin_info_capability_*`) and its library
/// is not opened. Concurrent first calls load the plugin once. A first use that fails returns the load's (or
/// init's) own status and message, and so does every later use until the next discovery or a new config for
/// the plugin. A plugin the host loads itself with `aisopod_loader_load` is left to the host to initialize.
///
/// Ownership: borrows `loader` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_set_lazy(loader: Option<&aisopod_loader>, lazy: bool) -> aisopod_status {
    with_loader("aisopod_loader_set_lazy", loader, |core| {
        core.set_lazy(lazy);
        Ok(())
    })
}
