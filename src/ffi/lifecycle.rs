//! The plugin lifecycle through an `aisopod_loader`: load, init, invoke, emit, extensions, state and unload.

use std::ffi::{c_char, c_void};
use std::path::Path;
use std::ptr::NonNull;

use super::loader::{aisopod_loader, capability_kind, with_loader};
use super::pointers::{bytes, string, write_optional_out, write_out};
use crate::abi::{aisopod_capability_kind, aisopod_sink, aisopod_status};
use crate::PluginState;

/// The state of a plugin as `aisopod_loader_plugin_state` reports it.
pub type aisopod_plugin_state = u32;
/// Not loaded (discovered or not).
pub const AISOPOD_PLUGIN_STATE_UNLOADED: aisopod_plugin_state = 0;
/// Loaded and registered; `init` has not succeeded.
pub const AISOPOD_PLUGIN_STATE_LOADED: aisopod_plugin_state = 1;
/// Initialized: its capabilities can be invoked.
pub const AISOPOD_PLUGIN_STATE_INITIALIZED: aisopod_plugin_state = 2;
/// Isolated, and its helper process crashed, exited or was killed at a deadline: calls fail with the crash's
/// status (`AISOPOD_STATUS_PLUGIN_CRASHED` or `AISOPOD_STATUS_TIMEOUT`) until its restart policy starts it
/// again or it is unloaded.
pub const AISOPOD_PLUGIN_STATE_CRASHED: aisopod_plugin_state = 3;

/// Loads the discovered plugin `id`, in this order: checks the host version against the manifest's range;
/// resolves the library path and refuses one outside the plugin directory; reads its ELF header and refuses a
/// library for another machine or a file that is no shared object; `dlopen`s it with `RTLD_NOW | RTLD_LOCAL`,
/// **which runs the library's constructors** (ELF `.init_array`, `__attribute__((constructor))`, C++ static
/// initialisers) before any further check can; calls `aisopod_plugin_abi_version`, the first plugin function
/// called, and refuses a mismatch; only then calls `aisopod_plugin_create`; validates the returned struct;
/// calls `register_capabilities` and checks the registrations against the manifest. On any failure everything
/// done so far is undone and the status names the failing step. Only another process protects the host from a
/// constructor that crashes or hangs.
///
/// Ownership: borrows `loader` and `id` for the call. The loaded plugin belongs to the loader until
/// `aisopod_loader_unload` or `aisopod_loader_free`.
///
/// Thread safety: lifecycle calls (load, init, unload) on one loader are serialized internally.
#[no_mangle]
pub extern "C" fn aisopod_loader_load(loader: Option<&aisopod_loader>, id: *const c_char) -> aisopod_status {
    with_loader("aisopod_loader_load", loader, |core| {
        // SAFETY: the caller passes a NUL-terminated string or NULL.
        core.load(unsafe { string(id, "id") }?)
    })
}

/// Calls loaded plugin `id`'s `init` with `config` (UTF-8, JSON by convention; NULL means "") and `data_dir`
/// (NULL means "", no data directory). Capabilities can be invoked only after this returns
/// `AISOPOD_STATUS_OK`. Init runs at most once per load: a plugin whose init failed stays loaded but refuses a
/// second init with `AISOPOD_STATUS_INIT_FAILED`; unload it and load it again to retry.
///
/// Must not be called from inside a plugin callback (`AISOPOD_STATUS_REENTRANT`); nor may load and unload.
///
/// Ownership: borrows `loader`, `id`, `config` and `data_dir` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_init(
    loader: Option<&aisopod_loader>,
    id: *const c_char,
    config: *const c_char,
    data_dir: *const c_char,
) -> aisopod_status {
    with_loader("aisopod_loader_init", loader, |core| {
        // SAFETY (all three): the caller passes NUL-terminated strings or NULL.
        let id = unsafe { string(id, "id") }?;
        let config = if config.is_null() { "" } else { unsafe { string(config, "config") }? };
        let data_dir = if data_dir.is_null() { "" } else { unsafe { string(data_dir, "data_dir") }? };
        core.init(id, config, Path::new(data_dir))
    })
}

/// Calls the capability `name` of `kind` (an `AISOPOD_CAPABILITY_*` value) in the initialized plugin `id`,
/// with `input_len` bytes at `input` (NULL allowed when `input_len` is 0). The handler writes its output to
/// `sink`; a NULL sink, or one whose `write` is NULL, discards it. A handler's non-zero return gives
/// `AISOPOD_STATUS_PLUGIN_ERROR` with the code in the message.
///
/// Ownership: borrows `loader`, `id`, `name`, `input` and `sink` for the call; the sink receives bytes it must
/// copy.
///
/// Thread safety: any number of invocations may run at once, on any threads, unless the plugin's manifest says
/// `thread_safe = false`, in which case calls into that plugin run one at a time.
#[no_mangle]
pub extern "C" fn aisopod_loader_invoke(
    loader: Option<&aisopod_loader>,
    id: *const c_char,
    kind: aisopod_capability_kind,
    name: *const c_char,
    input: *const u8,
    input_len: usize,
    sink: Option<&aisopod_sink>,
) -> aisopod_status {
    with_loader("aisopod_loader_invoke", loader, |core| {
        // SAFETY (all three): the caller passes NUL-terminated strings or NULL, and `input_len` bytes at `input`.
        let id = unsafe { string(id, "id") }?;
        let name = unsafe { string(name, "name") }?;
        let input = unsafe { bytes(input, input_len, "input") }?;
        core.invoke(id, capability_kind(kind)?, name, input, sink)
    })
}

/// Emits hook `event`: calls the hook handler registered under `event` by every initialized plugin, in load
/// order, with the same input and sink (see `aisopod_loader_invoke`). Every handler runs even when one fails;
/// the first failure is returned. Writes how many handlers ran to `*handled_out` on success, when not NULL.
///
/// Ownership: borrows `loader`, `event`, `input`, `sink` and `handled_out` for the call; the sink receives bytes it
/// must copy.
#[no_mangle]
pub extern "C" fn aisopod_loader_emit(
    loader: Option<&aisopod_loader>,
    event: *const c_char,
    input: *const u8,
    input_len: usize,
    sink: Option<&aisopod_sink>,
    handled_out: Option<NonNull<usize>>,
) -> aisopod_status {
    with_loader("aisopod_loader_emit", loader, |core| {
        write_optional_out(handled_out, || {
            // SAFETY (both): as in `aisopod_loader_invoke`.
            let event = unsafe { string(event, "event") }?;
            let input = unsafe { bytes(input, input_len, "input") }?;
            core.emit(event, input, sink)
        })
    })
}

/// Writes loaded plugin `id`'s optional interface `extension_id` (from its `get_extension`) to
/// `*extension_out`, NULL when it has none.
///
/// Ownership: borrows `loader`, `id`, `extension_id` and `extension_out` for the call. `*extension_out` is owned by
/// the plugin and valid until the plugin is unloaded.
#[no_mangle]
pub extern "C" fn aisopod_loader_plugin_extension(
    loader: Option<&aisopod_loader>,
    id: *const c_char,
    extension_id: *const c_char,
    extension_out: Option<NonNull<*const c_void>>,
) -> aisopod_status {
    with_loader("aisopod_loader_plugin_extension", loader, |core| {
        write_out(extension_out, "extension_out", || {
            // SAFETY (both): the caller passes NUL-terminated strings or NULL.
            let id = unsafe { string(id, "id") }?;
            let extension_id = unsafe { string(extension_id, "extension_id") }?;
            core.plugin_extension(id, extension_id)
        })
    })
}

/// Writes the state of plugin `id` (an `AISOPOD_PLUGIN_STATE_*` value) to `*state_out`. An id that is not
/// loaded, discovered or not, is `AISOPOD_PLUGIN_STATE_UNLOADED`.
///
/// Ownership: borrows `loader`, `id` and `state_out` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_plugin_state(
    loader: Option<&aisopod_loader>,
    id: *const c_char,
    state_out: Option<NonNull<aisopod_plugin_state>>,
) -> aisopod_status {
    with_loader("aisopod_loader_plugin_state", loader, |core| {
        write_out(state_out, "state_out", || {
            // SAFETY: the caller passes a NUL-terminated string or NULL.
            let id = unsafe { string(id, "id") }?;
            let state = match core.plugin_state(id) {
                None => AISOPOD_PLUGIN_STATE_UNLOADED,
                Some(PluginState::Loaded) => AISOPOD_PLUGIN_STATE_LOADED,
                Some(PluginState::Initialized) => AISOPOD_PLUGIN_STATE_INITIALIZED,
                Some(PluginState::Crashed) => AISOPOD_PLUGIN_STATE_CRASHED,
            };
            Ok(state)
        })
    })
}

/// Unloads plugin `id`: waits for its running handlers, calls `shutdown` (if init succeeded), then `destroy`,
/// then closes the library (a plugin whose manifest says `unload = false` stays mapped). The same id can be
/// loaded again afterwards. Refused with `AISOPOD_STATUS_BUSY` while `aisopod_capability` handles of the
/// plugin are alive, and with `AISOPOD_STATUS_HAS_DEPENDENTS`, naming them, while loaded plugins depend on it
/// (`aisopod_loader_unload_cascade` unloads those first).
///
/// Ownership: borrows `loader` and `id` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_unload(loader: Option<&aisopod_loader>, id: *const c_char) -> aisopod_status {
    with_loader("aisopod_loader_unload", loader, |core| {
        // SAFETY: the caller passes a NUL-terminated string or NULL.
        core.unload(unsafe { string(id, "id") }?)
    })
}
