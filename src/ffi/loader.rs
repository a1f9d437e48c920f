//! The `aisopod_loader` handle: creation, freeing, error messages and search configuration. Discovery and the
//! plugin lifecycle through it live in `discovery.rs` and `lifecycle.rs`.

use std::ffi::{c_char, c_void};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::boundary::{boundary, call};
use super::last_error::{self, ErrorKey, NO_LOADER};
use super::pointers::{c_string, free_box, required, string, write_out};
use crate::abi::{aisopod_capability_kind, aisopod_log_level, aisopod_status};
use crate::error::{Error, Result, Status};
use crate::{CapabilityKind, Loader};

/// A plugin loader: its search paths, its latest discovery result and its loaded plugins.
///
/// Thread safety: a loader may be shared by any number of threads; every function taking a loader may be
/// called concurrently with every other, except `aisopod_loader_free`, which must be the last call.
pub struct aisopod_loader {
    serial: ErrorKey,
    core: Loader,
}

/// A host log callback: `level` is an `AISOPOD_LOG_*` value, `source` is "loader" or a plugin id, `message`
/// the text. Both strings are borrowed for the call only.
///
/// Threading: called from any thread, possibly concurrently, including threads that plugins start.
pub type aisopod_log_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: aisopod_log_level,
        source: *const c_char,
        message: *const c_char,
    ),
>;

static NEXT_SERIAL: AtomicU64 = AtomicU64::new(NO_LOADER + 1);

fn key(loader: Option<&aisopod_loader>) -> ErrorKey {
    loader.map_or(NO_LOADER, |l| l.serial)
}

impl aisopod_loader {
    /// The key this loader's error messages are kept under.
    pub(crate) fn serial(&self) -> ErrorKey {
        self.serial
    }
}

impl Drop for aisopod_loader {
    /// Drops the freeing thread's last error message for this loader, before the core unloads the plugins.
    fn drop(&mut self) {
        last_error::forget(self.serial);
    }
}

/// Runs `body` with the checked loader, behind the panic boundary.
pub(crate) fn with_loader(
    function: &'static str,
    loader: Option<&aisopod_loader>,
    body: impl FnOnce(&Loader) -> Result<()>,
) -> aisopod_status {
    call(function, key(loader), || body(&required(loader, "loader")?.core))
}

pub(crate) fn capability_kind(kind: aisopod_capability_kind) -> Result<CapabilityKind> {
    CapabilityKind::from_abi(kind).ok_or_else(|| {
        Error::new(Status::InvalidArgument, format!("argument 'kind' is {kind}, not an AISOPOD_CAPABILITY_* value"))
    })
}

/// Creates a loader for a host application whose version is `host_version` (semver, e.g. "1.4.0"); plugin
/// manifests' `[compatibility]` ranges are checked against it.
///
/// A new loader searches `AISOPOD_PLUGIN_PATH` and the default paths; see `aisopod_loader_use_env_path` and
/// `aisopod_loader_use_default_paths`.
///
/// Returns `AISOPOD_STATUS_NULL_ARGUMENT`, `AISOPOD_STATUS_INVALID_UTF8` or `AISOPOD_STATUS_INVALID_ARGUMENT`
/// (not semver) on bad input; `aisopod_loader_error_message(NULL)` then gives the message.
///
/// Ownership: borrows `host_version` for the call. The caller owns `*loader_out` and frees it with
/// `aisopod_loader_free`.
#[no_mangle]
pub extern "C" fn aisopod_loader_new(
    host_version: *const c_char,
    loader_out: Option<NonNull<*mut aisopod_loader>>,
) -> aisopod_status {
    call("aisopod_loader_new", NO_LOADER, || {
        write_out(loader_out, "loader_out", || {
            // SAFETY: the caller passes a NUL-terminated string or NULL.
            let host_version = unsafe { string(host_version, "host_version") }?;
            let core = Loader::new(host_version)?;
            let serial = NEXT_SERIAL.fetch_add(1, Ordering::Relaxed);
            Ok(Box::into_raw(Box::new(aisopod_loader { serial, core })))
        })
    })
}

/// Frees a loader: unloads every plugin still loaded (shutdown, destroy, close, most recent first) and
/// releases all memory. A plugin that an `aisopod_capability` still pins stays loaded until that handle is
/// freed; the loader's log callback and host extensions are no longer used from this call on.
/// `aisopod_loader_free(NULL)` does nothing.
///
/// Ownership: takes ownership of `loader`; it must not be used afterwards. Every `aisopod_plugin_info`,
/// `aisopod_diagnostic` and `aisopod_capability` obtained from it stays valid until freed on its own.
///
/// Thread safety: must not run concurrently with any other call on the same loader.
#[no_mangle]
pub extern "C" fn aisopod_loader_free(loader: *mut aisopod_loader) {
    // SAFETY: a non-null loader came from `aisopod_loader_new` and is freed once, by contract.
    unsafe { free_box("aisopod_loader_free", loader) }
}

/// Returns the message of the most recent failed call made **on this thread** with **this loader**, or ""
/// when there was none. Successful calls do not clear it. With `loader` NULL, returns the message of this
/// thread's most recent failed call that had no loader: `aisopod_loader_new`, or a call given a NULL loader
/// or a NULL capability. (Accessors that return a value directly, such as `aisopod_plugin_info_id`, report
/// nothing: their documented default is the whole answer.)
///
/// Ownership: borrows `loader` for the call. The returned string is owned by the library and valid until the next
/// failure on this thread with the same loader, until this thread frees the loader, or until this thread exits;
/// copy it to keep it.
///
/// Thread safety: callable from any thread; each thread sees only its own messages.
#[no_mangle]
pub extern "C" fn aisopod_loader_error_message(loader: Option<&aisopod_loader>) -> *const c_char {
    boundary("aisopod_loader_error_message", || last_error::get(key(loader)))
}

/// Appends a directory to search. A leading `~` expands to the home directory at discovery. Host paths are
/// searched after `AISOPOD_PLUGIN_PATH` and before the defaults.
///
/// Ownership: borrows `loader` and `path` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_add_search_path(
    loader: Option<&aisopod_loader>,
    path: *const c_char,
) -> aisopod_status {
    with_loader("aisopod_loader_add_search_path", loader, |core| {
        // SAFETY: the caller passes a NUL-terminated string or NULL.
        let path = unsafe { string(path, "path") }?;
        core.add_search_path(path);
        Ok(())
    })
}

/// Sets whether discovery reads `AISOPOD_PLUGIN_PATH` (default: true). The variable is never read in a
/// setuid or setgid process.
///
/// Ownership: borrows `loader` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_use_env_path(loader: Option<&aisopod_loader>, enabled: bool) -> aisopod_status {
    with_loader("aisopod_loader_use_env_path", loader, |core| {
        core.set_use_env_path(enabled);
        Ok(())
    })
}

/// Sets whether discovery searches the default paths (default: true): `~/.aisopod/plugins`,
/// `$XDG_DATA_HOME/aisopod/plugins` (or `~/.local/share/aisopod/plugins`), `/usr/local/lib/aisopod/plugins`,
/// `/usr/lib/aisopod/plugins`.
///
/// Ownership: borrows `loader` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_use_default_paths(loader: Option<&aisopod_loader>, enabled: bool) -> aisopod_status {
    with_loader("aisopod_loader_use_default_paths", loader, |core| {
        core.set_use_default_paths(enabled);
        Ok(())
    })
}

/// Routes the loader's and its plugins' log messages to `callback`; NULL removes it.
///
/// Ownership: borrows `loader` for the call, and `userdata` until the loader is freed: a callback being replaced
/// may still be running on another thread when this returns.
#[no_mangle]
pub extern "C" fn aisopod_loader_set_log_callback(
    loader: Option<&aisopod_loader>,
    callback: aisopod_log_callback,
    userdata: *mut c_void,
) -> aisopod_status {
    struct Userdata(*mut c_void);
    // SAFETY: the caller promises `userdata` may be used from any thread (documented above).
    unsafe impl Send for Userdata {}
    unsafe impl Sync for Userdata {}
    impl Userdata {
        // A method, so the closure captures the whole Send + Sync wrapper rather than its raw-pointer field.
        fn get(&self) -> *mut c_void {
            self.0
        }
    }
    with_loader("aisopod_loader_set_log_callback", loader, |core| {
        let userdata = Userdata(userdata);
        core.set_log_callback(callback.map(|callback| {
            Arc::new(move |level: crate::LogLevel, source: &str, message: &str| {
                let source = c_string(source);
                let message = c_string(message);
                // SAFETY: the host's callback, with strings valid for the call.
                unsafe { callback(userdata.get(), level as aisopod_log_level, source.as_ptr(), message.as_ptr()) };
            }) as crate::LogCallback
        }));
        Ok(())
    })
}

/// Registers a host extension that plugins fetch with `aisopod_host.get_extension(host, id)`; a NULL
/// `extension` removes it.
///
/// Ownership: borrows `loader` and `id` for the call, and `extension` for as long as plugins may use it: until the
/// loader is freed, or until the extension is removed and no plugin holds it.
#[no_mangle]
pub extern "C" fn aisopod_loader_set_host_extension(
    loader: Option<&aisopod_loader>,
    id: *const c_char,
    extension: *const c_void,
) -> aisopod_status {
    with_loader("aisopod_loader_set_host_extension", loader, |core| {
        // SAFETY: the caller passes a NUL-terminated string or NULL.
        let id = unsafe { string(id, "id") }?;
        core.set_host_extension(id, extension);
        Ok(())
    })
}

/// Turns the registry cache on, kept in the file `path`, or off when `path` is NULL (the default). With the
/// cache, discovering an unchanged plugin only stats its manifest and library. A cache file that is corrupt,
/// truncated, from another loader version or unwritable is ignored and rebuilt, with a diagnostic. Use one
/// cache file per host configuration.
///
/// Ownership: borrows `loader` and `path` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_set_cache_path(
    loader: Option<&aisopod_loader>,
    path: *const c_char,
) -> aisopod_status {
    with_loader("aisopod_loader_set_cache_path", loader, |core| {
        let path = if path.is_null() {
            None
        } else {
            // SAFETY: the caller passes a NUL-terminated string.
            let path = Path::new(unsafe { string(path, "path") }?);
            Some(crate::expand_tilde(path).unwrap_or_else(|| path.to_path_buf()))
        };
        core.set_cache_path(path);
        Ok(())
    })
}

/// Turns the registry cache on in its default file, `$XDG_CACHE_HOME/aisopod/registry.bin` (or
/// `~/.cache/aisopod/registry.bin`). Returns `AISOPOD_STATUS_NOT_FOUND` when no home directory is known.
///
/// Ownership: borrows `loader` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_use_default_cache(loader: Option<&aisopod_loader>) -> aisopod_status {
    with_loader("aisopod_loader_use_default_cache", loader, |core| {
        let path = crate::default_cache_path().ok_or_else(|| {
            Error::new(Status::NotFound, "no cache directory: neither XDG_CACHE_HOME nor a home directory is known")
        })?;
        core.set_cache_path(Some(path));
        Ok(())
    })
}
