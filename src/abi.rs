//! Plugin ABI v1: the plain C structs and function types that a plugin implements and the host provides.
//!
//! This module owns the binary contract between the loader and every plugin, in every language. Nothing here
//! is a Rust trait object; every type is `#[repr(C)]` and every function pointer is `extern "C"`. Structs that
//! may grow in a later minor version start with `struct_size`, so a reader can tell which fields exist.
//!
//! # Threading contract
//!
//! Each function pointer below carries a tag in its documentation:
//!
//! - **[any thread]**: may be called from any thread.
//! - **[concurrent]**: may run on several threads at once; the callee must synchronise its own state.
//! - **[serialized]**: never runs concurrently with any other serialized call into the same plugin.
//! - **[lifecycle]**: called by the loader from the thread that called the matching `aisopod_loader_*`
//!   function, while the loader holds its lifecycle lock: never concurrently with another lifecycle call into
//!   any plugin of the same loader.
//!
//! Handlers are **[concurrent]** unless the manifest says `thread_safe = false`; the loader then serializes
//! every handler and `get_extension` call into that plugin behind one mutex.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void};

// `aisopod_status`: the result of a loader call, and the value a registrar returns when it refuses a
// registration. build.rs generates the enum, `ALL`, `from_u32` and `description` from the one status table,
// src/status_table.rs; cbindgen reads the same enum file for the header.
include!(concat!(env!("OUT_DIR"), "/aisopod_status.rs"));
include!(concat!(env!("OUT_DIR"), "/aisopod_status_impl.rs"));

/// The plugin ABI version this loader speaks. A plugin's `aisopod_plugin_abi_version()` must return exactly this.
pub const AISOPOD_ABI_VERSION: u32 = 1;

/// A capability kind, one of the `AISOPOD_CAPABILITY_*` constants.
///
/// It is a plain integer rather than an enum so that an out-of-range value coming from C is an error the loader
/// reports, not undefined behaviour.
pub type aisopod_capability_kind = u32;
/// A tool: a named function a host (or an agent driving it) can call with input bytes.
pub const AISOPOD_CAPABILITY_TOOL: aisopod_capability_kind = 0;
/// A command: a named action, typically bound to user input.
pub const AISOPOD_CAPABILITY_COMMAND: aisopod_capability_kind = 1;
/// A channel: a named message transport.
pub const AISOPOD_CAPABILITY_CHANNEL: aisopod_capability_kind = 2;
/// A provider: a named source of a service (a model, a store, ...).
pub const AISOPOD_CAPABILITY_PROVIDER: aisopod_capability_kind = 3;
/// A hook: a handler named by the event it listens to; `aisopod_loader_emit` calls every registered one.
pub const AISOPOD_CAPABILITY_HOOK: aisopod_capability_kind = 4;

/// A log level, one of the `AISOPOD_LOG_*` constants.
pub type aisopod_log_level = u32;
/// Something failed.
pub const AISOPOD_LOG_ERROR: aisopod_log_level = 1;
/// Something is suspicious but work goes on.
pub const AISOPOD_LOG_WARN: aisopod_log_level = 2;
/// Normal progress.
pub const AISOPOD_LOG_INFO: aisopod_log_level = 3;
/// Detail useful when debugging.
pub const AISOPOD_LOG_DEBUG: aisopod_log_level = 4;
/// Very fine-grained detail.
pub const AISOPOD_LOG_TRACE: aisopod_log_level = 5;

/// Where a handler writes its output.
///
/// The host owns the sink and whatever `context` points to. A handler may call `write` any number of times;
/// each call appends `len` bytes. The bytes are copied before `write` returns, so the plugin keeps ownership of
/// its buffer: no memory is ever freed across the boundary.
///
/// `write` returns 0 when the bytes were taken, non-zero when the host refuses more output; the handler should
/// then stop and return non-zero itself.
///
/// Threading: **[same thread, during the call]**: a sink is valid only during the handler call that received
/// it, and only on that thread. Never keep it.
#[repr(C)]
pub struct aisopod_sink {
    /// Host-owned state, passed back as the first argument of `write`.
    pub context: *mut c_void,
    /// Appends bytes to the output. Never NULL in a sink the loader passes to a handler.
    pub write: Option<unsafe extern "C" fn(context: *mut c_void, data: *const u8, len: usize) -> i32>,
}

/// The code a plugin SDK returns from a handler, `init` or `register_capabilities` when plugin code panicked
/// or threw. The loader names it in its message; plugins written by hand should not use it for anything else.
pub const AISOPOD_PLUGIN_PANICKED: i32 = i32::MIN;

/// A capability handler.
///
/// `userdata` is the pointer given at registration. `input` points to `input_len` bytes owned by the caller and
/// valid during the call; it is never NULL, even when `input_len` is 0. `sink` is never NULL. Returns 0 on
/// success; any other value is a plugin-defined error code that the host sees as `AISOPOD_STATUS_PLUGIN_ERROR`.
///
/// Threading: **[any thread] [concurrent]**, or **[serialized]** when the manifest says `thread_safe = false`.
/// Never called before `init` has returned 0, nor after `shutdown` has started.
pub type aisopod_handler = Option<
    unsafe extern "C" fn(userdata: *mut c_void, input: *const u8, input_len: usize, sink: *const aisopod_sink) -> i32,
>;

/// The registrar passed to `register_capabilities`.
///
/// The loader owns it; it is valid only during the `register_capabilities` call.
#[repr(C)]
pub struct aisopod_registrar {
    /// `sizeof(aisopod_registrar)` as the loader knows it.
    pub struct_size: u32,
    /// Zero. Makes explicit the padding that 64-bit targets put after `struct_size`, so the layout is the same
    /// with or without it and `-Wpadded` stays quiet; absent on 32-bit targets, which have no padding there.
    #[cfg(target_pointer_width = "64")]
    pub reserved: u32,
    /// Reserved for the loader; NULL in ABI v1. Pass the registrar itself to `register_capability`.
    pub context: *mut c_void,
    /// Registers one capability of `kind` (an `AISOPOD_CAPABILITY_*` value) under `name` (NUL-terminated UTF-8,
    /// copied by the loader). `userdata` is passed back to `handler` unchanged and stays owned by the plugin.
    ///
    /// Returns 0 when accepted. A non-zero return is an `aisopod_status` value saying why it was refused (an
    /// unknown kind, a NULL or invalid name, a NULL handler, a name registered twice, a call from outside
    /// `register_capabilities`); the load then fails with `AISOPOD_STATUS_REGISTRATION_FAILED` naming the
    /// capability.
    ///
    /// Threading: **[lifecycle]**: only from inside `register_capabilities`, on that thread.
    pub register_capability: Option<
        unsafe extern "C" fn(
            registrar: *const aisopod_registrar,
            kind: aisopod_capability_kind,
            name: *const c_char,
            handler: aisopod_handler,
            userdata: *mut c_void,
        ) -> i32,
    >,
}

/// What `init` receives.
///
/// The loader owns it and every pointer in it; all are valid only during the `init` call. Copy what you keep.
#[repr(C)]
pub struct aisopod_init_context {
    /// `sizeof(aisopod_init_context)` as the loader knows it.
    pub struct_size: u32,
    /// Zero. Makes explicit the padding that 64-bit targets put after `struct_size`, so the layout is the same
    /// with or without it and `-Wpadded` stays quiet; absent on 32-bit targets, which have no padding there.
    #[cfg(target_pointer_width = "64")]
    pub reserved: u32,
    /// The host's configuration for this plugin: UTF-8 (JSON by convention), NUL-terminated, never NULL.
    pub config: *const c_char,
    /// The length of `config` in bytes, without the terminating NUL.
    pub config_len: usize,
    /// A directory the plugin may keep data in: NUL-terminated, never NULL; empty when the host gave none.
    pub data_dir: *const c_char,
}

/// What the host gives a plugin: passed to `aisopod_plugin_create` and valid until `destroy` returns.
///
/// The loader owns it. Each loaded plugin gets its own host struct, so a plugin may keep the pointer for its
/// whole life.
#[repr(C)]
pub struct aisopod_host {
    /// `sizeof(aisopod_host)` as the loader knows it. Later minor versions only append fields.
    pub struct_size: u32,
    /// `AISOPOD_ABI_VERSION` of the loader.
    pub abi_version: u32,
    /// The host application's semver version, NUL-terminated.
    pub host_version: *const c_char,
    /// Logs `message` (NUL-terminated UTF-8, copied) at `level` (an `AISOPOD_LOG_*` value), attributed to this
    /// plugin. Never NULL.
    ///
    /// Threading: **[any thread] [concurrent]**, from create until destroy returns, including from threads the
    /// plugin started itself.
    pub log: Option<unsafe extern "C" fn(host: *const aisopod_host, level: aisopod_log_level, message: *const c_char)>,
    /// Returns the host extension registered under `id` (NUL-terminated), or NULL when the host has none.
    /// The returned pointer is owned by the host application. Never NULL itself.
    ///
    /// Threading: **[any thread] [concurrent]**.
    pub get_extension: Option<unsafe extern "C" fn(host: *const aisopod_host, id: *const c_char) -> *const c_void>,
    /// Returns the optional interface `extension_id` (NUL-terminated) of the plugin `dependency_id`
    /// (NUL-terminated): what that plugin's own `get_extension` returns. NULL when this plugin's manifest does not
    /// name `dependency_id` in `[dependencies]` (the loader logs a warning saying so), when that plugin is not
    /// loaded in this process (an optional dependency that is missing, or a plugin either side of a process
    /// boundary) or its version is outside the declared range, and when it has no such interface. The returned
    /// pointer is owned by the dependency and stays valid until this plugin is destroyed: a dependency stays
    /// loaded while a plugin that needs it is loaded, and is reloaded only after it. Never NULL itself.
    ///
    /// Appended in a minor revision of ABI v1: a plugin reads it only when `struct_size` covers it, that is
    /// when `struct_size >= offsetof(aisopod_host, get_dependency_extension) + sizeof(void *)`.
    ///
    /// Threading: **[any thread] [concurrent]**, from create until destroy returns; serialized with the
    /// dependency's other calls when its manifest says `thread_safe = false`.
    pub get_dependency_extension: Option<
        unsafe extern "C" fn(
            host: *const aisopod_host,
            dependency_id: *const c_char,
            extension_id: *const c_char,
        ) -> *const c_void,
    >,
}

/// The plugin's vtable, returned by `aisopod_plugin_create`.
///
/// The plugin owns it and everything it points to; it must stay valid until `destroy` returns. Every function
/// takes the plugin struct itself first.
#[repr(C)]
pub struct aisopod_plugin {
    /// `sizeof(aisopod_plugin)` as the plugin was compiled. The loader refuses a struct smaller than v1's.
    pub struct_size: u32,
    /// Zero. Makes explicit the padding that 64-bit targets put after `struct_size`, so the layout is the same
    /// with or without it and `-Wpadded` stays quiet; absent on 32-bit targets, which have no padding there.
    #[cfg(target_pointer_width = "64")]
    pub reserved: u32,
    /// Plugin-owned state, for the plugin's own use.
    pub plugin_data: *mut c_void,
    /// The plugin's id, NUL-terminated; must equal `id` in its `aisopod.plugin.toml`.
    pub id: *const c_char,
    /// Registers every capability the manifest declares, through `registrar`. Returns 0 on success. Mandatory.
    ///
    /// Threading: **[lifecycle]**: exactly once, right after create, on the same thread.
    pub register_capabilities:
        Option<unsafe extern "C" fn(plugin: *const aisopod_plugin, registrar: *const aisopod_registrar) -> i32>,
    /// Starts the plugin with the host's configuration. Returns 0 on success. Mandatory.
    ///
    /// Threading: **[lifecycle]**: at most once per load, before any handler runs.
    pub init: Option<unsafe extern "C" fn(plugin: *const aisopod_plugin, context: *const aisopod_init_context) -> i32>,
    /// Stops the plugin. Called only when `init` succeeded, after every handler call has returned; no handler
    /// runs after it starts. Mandatory.
    ///
    /// Threading: **[lifecycle]**.
    pub shutdown: Option<unsafe extern "C" fn(plugin: *const aisopod_plugin)>,
    /// Frees the plugin struct and everything the plugin allocated. The last call into the plugin before the
    /// library is closed. Mandatory.
    ///
    /// Threading: **[lifecycle]**.
    pub destroy: Option<unsafe extern "C" fn(plugin: *const aisopod_plugin)>,
    /// Returns the optional interface registered under `id` (NUL-terminated), or NULL. The returned pointer is
    /// owned by the plugin and valid until `destroy`. May itself be NULL when the plugin has no extensions.
    ///
    /// Threading: **[any thread] [concurrent]**, or **[serialized]** when `thread_safe = false`.
    pub get_extension: Option<unsafe extern "C" fn(plugin: *const aisopod_plugin, id: *const c_char) -> *const c_void>,
}

/// The type of the `aisopod_plugin_abi_version` export. Pure: no side effects, callable from any thread.
pub type aisopod_plugin_abi_version_fn = unsafe extern "C" fn() -> u32;

/// The type of the `aisopod_plugin_create` export: returns the plugin's vtable, or NULL on failure.
///
/// Threading: **[lifecycle]**: once per load.
pub type aisopod_plugin_create_fn = unsafe extern "C" fn(host: *const aisopod_host) -> *const aisopod_plugin;

/// The id of the optional state extension, [`aisopod_state_v1`], which a plugin returns from its
/// `get_extension` to carry its state across a hot reload (`aisopod_loader_reload`). The header's macro of the
/// same name is written in `cbindgen.toml`, beside the other string macros; `tests/reload.rs` checks they agree.
pub const AISOPOD_STATE_EXTENSION: &str = "aisopod.state/1";

/// The optional state extension, fetched with the plugin's `get_extension(plugin, AISOPOD_STATE_EXTENSION)`:
/// how a plugin hands its state from the version a reload replaces to the version that replaces it.
///
/// The plugin owns the struct; it must stay valid until the plugin's `destroy` returns. A reload calls the old
/// version's `save` after closing it to new calls and before its `shutdown`, and the new version's `restore`
/// after its `init` succeeded, before any handler of the new version runs. A plugin in a helper process
/// (isolation) gets neither: its state does not cross the process boundary.
#[repr(C)]
pub struct aisopod_state_v1 {
    /// `sizeof(aisopod_state_v1)` as the plugin was compiled. The loader ignores a struct smaller than v1's.
    pub struct_size: u32,
    /// Zero. Makes explicit the padding that 64-bit targets put after `struct_size`, so the layout is the same
    /// with or without it and `-Wpadded` stays quiet; absent on 32-bit targets, which have no padding there.
    #[cfg(target_pointer_width = "64")]
    pub reserved: u32,
    /// Writes the plugin's state to `sink`, in any number of writes, in a format of the plugin's choosing.
    /// Returns 0 on success; any other value drops what was written, and the new version starts without it.
    /// May be NULL when the plugin only restores.
    ///
    /// The loader owns `sink`, valid only during the call. Called only when `init` succeeded, once no call by
    /// name can start and those running have returned; a call through a resolved capability handle that
    /// started before the reload may still be running (unless the manifest says `thread_safe = false`).
    ///
    /// Threading: **[lifecycle]**.
    pub save: Option<unsafe extern "C" fn(plugin: *const aisopod_plugin, sink: *const aisopod_sink) -> i32>,
    /// Reads back `len` bytes at `data`, which the previous version's `save` wrote (possibly an older build's
    /// format: check it). Returns 0 on success; any other value is logged as a warning naming the plugin and
    /// the code, and the plugin stays initialized. May be NULL when the plugin only saves.
    ///
    /// The loader owns `data`, valid only during the call; `data` is never NULL, even when `len` is 0. Called
    /// only when `init` of the new version succeeded, before any of its handlers runs.
    ///
    /// Threading: **[lifecycle]**.
    pub restore: Option<unsafe extern "C" fn(plugin: *const aisopod_plugin, data: *const u8, len: usize) -> i32>,
}
