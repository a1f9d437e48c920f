//! Isolation through an `aisopod_loader`: the helper process, deadlines, probing plugins in it, the quarantine,
//! and running plugins isolated (where, restarts, limits and usage).

use std::ffi::c_char;
use std::path::PathBuf;
use std::ptr::NonNull;
use std::time::Duration;

use super::loader::{aisopod_loader, with_loader};
use super::pointers::{string, write_optional_out, write_out};
use super::probe_results::aisopod_probe_results;
use super::quarantine_entry::aisopod_quarantine_entry;
use crate::abi::aisopod_status;
use crate::error::{Error, Result, Status};
use crate::{Grant, Isolation, ResourceLimits, RestartPolicy, SandboxPolicy};

/// Names the helper executable, `aisopod-plugin-host`, that probes (and isolated plugins) run in; that path
/// alone is then tried. NULL goes back to looking for it: `AISOPOD_HELPER` (ignored when the process runs
/// setuid or setgid), then `<libdir>/aisopod_loader/aisopod-plugin-host` next to this library, then the cargo
/// build tree it was built in.
///
/// Ownership: borrows `loader` and `path` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_set_helper_path(
    loader: Option<&aisopod_loader>,
    path: *const c_char,
) -> aisopod_status {
    with_loader("aisopod_loader_set_helper_path", loader, |core| {
        let path = if path.is_null() {
            None
        } else {
            // SAFETY: the caller passes a NUL-terminated string.
            Some(PathBuf::from(unsafe { string(path, "path") }?))
        };
        core.set_helper_path(path);
        Ok(())
    })
}

/// Sets how long plugin code in a helper process may run for one probe (all its steps) or one call into an
/// isolated plugin (`load`, `init`, a handler, a hook, `unload`) of plugin `id`, or of every plugin without its
/// own deadline when `id` is NULL. Past it, the helper is killed, with the code still running in it, and the
/// probe or call gives `AISOPOD_STATUS_TIMEOUT`. `timeout_ms` 0 removes the plugin's own deadline, or, with a NULL `id`,
/// restores the default of 10000 ms.
///
/// Ownership: borrows `loader` and `id` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_set_call_timeout(
    loader: Option<&aisopod_loader>,
    id: *const c_char,
    timeout_ms: u32,
) -> aisopod_status {
    with_loader("aisopod_loader_set_call_timeout", loader, |core| {
        // SAFETY: the caller passes a NUL-terminated string or NULL.
        let id = if id.is_null() { None } else { Some(unsafe { string(id, "id") }?) };
        let timeout = (timeout_ms > 0).then(|| Duration::from_millis(u64::from(timeout_ms)));
        core.set_call_timeout(id, timeout)
    })
}

/// Whether `aisopod_loader_discover` probes, in a helper process, each plugin it finds that has not been
/// probed since its library last changed, and sets aside the ones that get quarantined. Off by default. It
/// costs one helper start plus a load and unload of each new or changed plugin in the helper, at each
/// discovery that finds one; unchanged plugins cost a `stat`.
///
/// Ownership: borrows `loader` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_set_probe_on_discover(
    loader: Option<&aisopod_loader>,
    enabled: bool,
) -> aisopod_status {
    with_loader("aisopod_loader_set_probe_on_discover", loader, |core| {
        core.set_probe_on_discover(enabled);
        Ok(())
    })
}

/// Probes discovered plugins in a helper process, one after another: each is loaded (its constructors run),
/// passes the ABI gate, is created and registers its capabilities; `init` is called with `init_config` when it
/// is not NULL; then it is shut down, destroyed and unloaded. No plugin code runs in the calling process. A
/// plugin that crashes, exits or overruns its deadline ends only its helper; the next plugin gets a new one.
///
/// `ids` lists `id_count` plugin ids; `ids` NULL with `id_count` 0 probes every plugin the latest discovery
/// accepted. Writes one verdict per plugin, in order, to `*results_out`. A plugin that crashed, exited,
/// hung or failed the ABI gate is quarantined (see `aisopod_loader_quarantine_at`).
///
/// Returns `AISOPOD_STATUS_OK` when every plugin was probed, whatever the verdicts;
/// `AISOPOD_STATUS_NOT_FOUND` when an id was not discovered; `AISOPOD_STATUS_HELPER_UNAVAILABLE` or
/// `AISOPOD_STATUS_HELPER_MISMATCH` when the helper cannot be used. It blocks for up to the sum of the plugins'
/// deadlines.
///
/// Ownership: borrows `loader`, `ids` and `init_config` for the call. The caller owns `*results_out` and frees
/// it with `aisopod_probe_results_free`.
#[no_mangle]
pub extern "C" fn aisopod_loader_probe(
    loader: Option<&aisopod_loader>,
    ids: *const *const c_char,
    id_count: usize,
    init_config: *const c_char,
    results_out: Option<NonNull<*mut aisopod_probe_results>>,
) -> aisopod_status {
    with_loader("aisopod_loader_probe", loader, |core| {
        write_out(results_out, "results_out", || {
            let ids = id_list(ids, id_count)?;
            let ids = match ids {
                Some(ids) => ids,
                None => core.discovery().plugins().iter().map(|info| info.manifest.id.clone()).collect(),
            };
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            // SAFETY: the caller passes a NUL-terminated string or NULL.
            let config =
                if init_config.is_null() { None } else { Some(unsafe { string(init_config, "init_config") }?) };
            Ok(aisopod_probe_results::new_raw(&core.probe(&ids, config)?))
        })
    })
}

/// The ids of an `ids`, `id_count` pair, or `None` for NULL and 0 (every plugin).
fn id_list(ids: *const *const c_char, id_count: usize) -> Result<Option<Vec<String>>> {
    if ids.is_null() {
        return match id_count {
            0 => Ok(None),
            n => Err(Error::new(Status::NullArgument, format!("argument 'ids' is NULL, with an id_count of {n}"))),
        };
    }
    (0..id_count)
        .map(|i| {
            // SAFETY: the caller passes an array of `id_count` pointers, each a NUL-terminated string.
            let id = unsafe { *ids.add(i) };
            if id.is_null() {
                return Err(Error::new(Status::NullArgument, format!("argument 'ids[{i}]' is NULL")));
            }
            // SAFETY: as above.
            Ok(unsafe { string(id, "ids") }?.to_owned())
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// Writes the number of quarantined libraries to `*count_out`. Quarantine entries are kept in the registry
/// cache, when one is set, and loaded from it at discovery; one expires when its library, the loader or the
/// ABI version changes.
///
/// Ownership: borrows `loader` and `count_out` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_quarantine_count(
    loader: Option<&aisopod_loader>,
    count_out: Option<NonNull<usize>>,
) -> aisopod_status {
    with_loader("aisopod_loader_quarantine_count", loader, |core| {
        write_out(count_out, "count_out", || Ok(core.quarantine().len()))
    })
}

/// Writes a new handle on the `index`-th quarantined library, oldest first, to `*entry_out`. Returns
/// `AISOPOD_STATUS_OUT_OF_RANGE` past the end.
///
/// Ownership: borrows `loader` for the call. The caller owns `*entry_out` and frees it with
/// `aisopod_quarantine_entry_free`; it stays valid after the quarantine changes or the loader is freed.
#[no_mangle]
pub extern "C" fn aisopod_loader_quarantine_at(
    loader: Option<&aisopod_loader>,
    index: usize,
    entry_out: Option<NonNull<*mut aisopod_quarantine_entry>>,
) -> aisopod_status {
    with_loader("aisopod_loader_quarantine_at", loader, |core| {
        write_out(entry_out, "entry_out", || {
            let quarantine = core.quarantine();
            let record = quarantine.get(index).ok_or_else(|| {
                Error::new(
                    Status::OutOfRange,
                    format!("index {index} is past the {} quarantined libraries", quarantine.len()),
                )
            })?;
            Ok(aisopod_quarantine_entry::new_raw(record))
        })
    })
}

/// Lifts the quarantine of plugin `id`, or of every plugin when `id` is NULL, here and in the registry cache.
/// Writes how many entries were lifted to `*cleared_out` when it is not NULL. Plugins that discovery set aside
/// can be loaded at once, and are listed again from the next discovery on.
///
/// Ownership: borrows `loader`, `id` and `cleared_out` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_quarantine_clear(
    loader: Option<&aisopod_loader>,
    id: *const c_char,
    cleared_out: Option<NonNull<usize>>,
) -> aisopod_status {
    with_loader("aisopod_loader_quarantine_clear", loader, |core| {
        // SAFETY: the caller passes a NUL-terminated string or NULL.
        let id = if id.is_null() { None } else { Some(unsafe { string(id, "id") }?) };
        write_optional_out(cleared_out, || core.clear_quarantine(id))
    })
}

/// Where a plugin's code runs: an `AISOPOD_ISOLATION_*` value.
pub type aisopod_isolation = u32;
/// In the host's process (the default).
pub const AISOPOD_ISOLATION_NONE: aisopod_isolation = 0;
/// In a helper process of its own: a crash, `exit()` or hang in its code ends only that process.
pub const AISOPOD_ISOLATION_PROCESS: aisopod_isolation = 1;

/// Sets where plugin `id` runs from its next load, or, when `id` is NULL, where every plugin without its own
/// setting runs. A manifest's `isolation = "process"` applies to a plugin the host gave no setting of its own,
/// whatever the default (a manifest can ask for more isolation, never for less).
///
/// An isolated plugin is loaded, initialized and called through the same functions. Its output reaches the
/// caller's sink on the calling thread as it comes; its log messages reach the log callback on the thread of
/// a call into it. Calls from several threads are in flight together. A crash, `exit()` or missed deadline
/// (`aisopod_loader_set_call_timeout`) fails the call with `AISOPOD_STATUS_PLUGIN_CRASHED` or
/// `AISOPOD_STATUS_TIMEOUT` and puts the plugin in `AISOPOD_PLUGIN_STATE_CRASHED`; the host goes on.
/// `aisopod_loader_plugin_extension` returns NULL for it, and its `get_extension` sees no host extension:
/// pointers do not cross processes.
///
/// Returns `AISOPOD_STATUS_INVALID_ARGUMENT` for a value that is no `AISOPOD_ISOLATION_*`.
///
/// Ownership: borrows `loader` and `id` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_set_isolation(
    loader: Option<&aisopod_loader>,
    id: *const c_char,
    isolation: aisopod_isolation,
) -> aisopod_status {
    with_loader("aisopod_loader_set_isolation", loader, |core| {
        // SAFETY: the caller passes a NUL-terminated string or NULL.
        let id = if id.is_null() { None } else { Some(unsafe { string(id, "id") }?) };
        let isolation = match isolation {
            AISOPOD_ISOLATION_NONE => Isolation::None,
            AISOPOD_ISOLATION_PROCESS => Isolation::Process,
            other => {
                return Err(Error::new(
                    Status::InvalidArgument,
                    format!("argument 'isolation' is {other}, not an AISOPOD_ISOLATION_* value"),
                ))
            }
        };
        core.set_isolation(id, Some(isolation));
        Ok(())
    })
}

/// Sets how isolated plugin `id` (or every plugin without its own policy, when `id` is NULL) is started again
/// after a crash: the next call after at least `backoff_ms`, doubled after each restart, starts a new helper,
/// loads the plugin and calls `init` with the config it last succeeded with; at most `max_restarts` times over
/// one load. The call that found the plugin crashed fails with the crash's status. The default is no restart.
///
/// Ownership: borrows `loader` and `id` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_set_restart_policy(
    loader: Option<&aisopod_loader>,
    id: *const c_char,
    max_restarts: u32,
    backoff_ms: u32,
) -> aisopod_status {
    with_loader("aisopod_loader_set_restart_policy", loader, |core| {
        // SAFETY: the caller passes a NUL-terminated string or NULL.
        let id = if id.is_null() { None } else { Some(unsafe { string(id, "id") }?) };
        let policy = RestartPolicy { max_restarts, backoff: Duration::from_millis(u64::from(backoff_ms)) };
        core.set_restart_policy(id, Some(policy));
        Ok(())
    })
}

/// Resource limits of an isolated plugin's helper process, set with `setrlimit` before the plugin is loaded.
/// 0 is no limit.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct aisopod_resource_limits {
    /// `RLIMIT_AS`: the address space, in bytes. Past it, allocations fail.
    pub address_space_bytes: u64,
    /// `RLIMIT_CPU`: CPU time, in seconds. Past it, the helper gets `SIGXCPU`, which ends it: a crash (the
    /// hard limit is one second more, where the kernel sends `SIGKILL`).
    pub cpu_seconds: u64,
    /// `RLIMIT_NOFILE`: open descriptors. Past it, opening files fails.
    pub open_files: u64,
}

/// Sets the resource limits of isolated plugin `id`'s helper process (or of every plugin without its own, when
/// `id` is NULL), applied when the helper starts: at load and at each restart. NULL `limits` removes the
/// plugin's own limits, or, with a NULL `id`, restores the default: no limits.
///
/// Ownership: borrows `loader`, `id` and `limits` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_set_resource_limits(
    loader: Option<&aisopod_loader>,
    id: *const c_char,
    limits: Option<&aisopod_resource_limits>,
) -> aisopod_status {
    with_loader("aisopod_loader_set_resource_limits", loader, |core| {
        // SAFETY: the caller passes a NUL-terminated string or NULL.
        let id = if id.is_null() { None } else { Some(unsafe { string(id, "id") }?) };
        let limits = limits.map(|limits| ResourceLimits {
            address_space: limits.address_space_bytes,
            cpu_seconds: limits.cpu_seconds,
            open_files: limits.open_files,
        });
        core.set_resource_limits(id, limits);
        Ok(())
    })
}

/// What an isolated plugin's helper processes have used since it was loaded, restarts included.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct aisopod_plugin_usage {
    /// CPU time in user mode, in microseconds.
    pub cpu_user_us: u64,
    /// CPU time in the kernel, in microseconds.
    pub cpu_system_us: u64,
    /// The largest resident set any of its helper processes reached, in bytes.
    pub peak_rss_bytes: u64,
    /// Calls made into it: `init`, handler calls and hooks that ran.
    pub calls: u64,
    /// How many times it was started again after a crash.
    pub restarts: u32,
    /// The process id of its helper, or 0 while none runs (it crashed).
    pub pid: i32,
}

/// Writes what isolated plugin `id` has used to `*usage_out`. Returns `AISOPOD_STATUS_NOT_LOADED` when it is
/// not loaded, and `AISOPOD_STATUS_INVALID_ARGUMENT` when it runs in the host's process, where its use cannot
/// be told from the host's.
///
/// Ownership: borrows `loader`, `id` and `usage_out` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_plugin_usage(
    loader: Option<&aisopod_loader>,
    id: *const c_char,
    usage_out: Option<NonNull<aisopod_plugin_usage>>,
) -> aisopod_status {
    with_loader("aisopod_loader_plugin_usage", loader, |core| {
        write_out(usage_out, "usage_out", || {
            // SAFETY: the caller passes a NUL-terminated string or NULL.
            let id = unsafe { string(id, "id") }?;
            let usage = core.plugin_usage(id)?;
            Ok(aisopod_plugin_usage {
                cpu_user_us: usage.user_micros,
                cpu_system_us: usage.system_micros,
                peak_rss_bytes: usage.peak_rss_bytes,
                calls: usage.calls,
                restarts: usage.restarts,
                pid: core.plugin_pid(id).unwrap_or(0),
            })
        })
    })
}

/// One kind of permission a host grants: an `AISOPOD_PERMISSION_*` value.
pub type aisopod_permission = u32;
/// Reading a path and everything below it.
pub const AISOPOD_PERMISSION_READ: aisopod_permission = 0;
/// Reading, writing, creating and removing in a path and everything below it.
pub const AISOPOD_PERMISSION_WRITE: aisopod_permission = 1;
/// Opening sockets and connecting them.
pub const AISOPOD_PERMISSION_NETWORK: aisopod_permission = 2;
/// Starting programs and processes.
pub const AISOPOD_PERMISSION_SUBPROCESS: aisopod_permission = 3;

/// Grants `permission` to plugin `id`, or to every plugin when `id` is NULL, from its next load. `path` names
/// the path for `AISOPOD_PERMISSION_READ` and `_WRITE` and must be NULL for the others.
///
/// A sandboxed isolated plugin gets what its manifest's `[permissions]` table declares, within what it was
/// granted: a declared path inside a granted one (a granted write path covers reading), the network or
/// subprocesses when both declare and grant them. Anything else it tries fails inside the plugin with
/// `EACCES` or `EPERM`. Grants do nothing for plugins in the host's process or with the sandbox off.
///
/// Returns `AISOPOD_STATUS_INVALID_ARGUMENT` for an unknown permission, a missing or extra `path`, or a
/// relative path.
///
/// Ownership: borrows `loader`, `id` and `path` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_grant(
    loader: Option<&aisopod_loader>,
    id: *const c_char,
    permission: aisopod_permission,
    path: *const c_char,
) -> aisopod_status {
    with_loader("aisopod_loader_grant", loader, |core| {
        // SAFETY: the caller passes NUL-terminated strings or NULL.
        let id = if id.is_null() { None } else { Some(unsafe { string(id, "id") }?) };
        let path = if path.is_null() { None } else { Some(PathBuf::from(unsafe { string(path, "path") }?)) };
        let invalid = |why: String| Error::new(Status::InvalidArgument, why);
        let grant = match (permission, path) {
            (AISOPOD_PERMISSION_READ | AISOPOD_PERMISSION_WRITE, None) => {
                return Err(invalid("argument 'path' is NULL: reading and writing are granted for a path".into()))
            }
            (AISOPOD_PERMISSION_READ | AISOPOD_PERMISSION_WRITE, Some(path)) if !path.is_absolute() => {
                return Err(invalid(format!("argument 'path' is {}, not an absolute path", path.display())))
            }
            (AISOPOD_PERMISSION_READ, Some(path)) => Grant::Read(path),
            (AISOPOD_PERMISSION_WRITE, Some(path)) => Grant::Write(path),
            (AISOPOD_PERMISSION_NETWORK | AISOPOD_PERMISSION_SUBPROCESS, Some(path)) => {
                return Err(invalid(format!("argument 'path' is {}; this permission takes none", path.display())))
            }
            (AISOPOD_PERMISSION_NETWORK, None) => Grant::Network,
            (AISOPOD_PERMISSION_SUBPROCESS, None) => Grant::Subprocess,
            (other, _) => {
                return Err(invalid(format!("argument 'permission' is {other}, not an AISOPOD_PERMISSION_* value")))
            }
        };
        core.grant(id, grant);
        Ok(())
    })
}

/// Takes back every grant made to plugin `id`, or the grants made to every plugin when `id` is NULL, from the
/// plugin's next load.
///
/// Ownership: borrows `loader` and `id` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_revoke_grants(loader: Option<&aisopod_loader>, id: *const c_char) -> aisopod_status {
    with_loader("aisopod_loader_revoke_grants", loader, |core| {
        // SAFETY: the caller passes a NUL-terminated string or NULL.
        let id = if id.is_null() { None } else { Some(unsafe { string(id, "id") }?) };
        core.revoke_grants(id);
        Ok(())
    })
}

/// Whether isolated plugins run sandboxed: an `AISOPOD_SANDBOX_*` value.
pub type aisopod_sandbox_policy = u32;
/// No sandbox: an isolated plugin can do whatever the host's user can.
pub const AISOPOD_SANDBOX_OFF: aisopod_sandbox_policy = 0;
/// Sandboxed where the kernel can (Linux with Landlock); elsewhere loaded anyway, with a warning in the log.
/// The default.
pub const AISOPOD_SANDBOX_BEST_EFFORT: aisopod_sandbox_policy = 1;
/// Sandboxed, or not loaded: `AISOPOD_STATUS_SANDBOX_UNAVAILABLE` where the kernel cannot.
pub const AISOPOD_SANDBOX_REQUIRE: aisopod_sandbox_policy = 2;

/// Sets whether isolated plugins run sandboxed, from their next load. The sandbox lets a plugin read its own
/// directory and the system's libraries, and what it declares and is granted (`aisopod_loader_grant`); it
/// refuses everything else with `EACCES` or `EPERM`: other files, sockets, new programs and processes, and
/// signals to processes outside it. The README's "Trust" section lists it all.
///
/// Returns `AISOPOD_STATUS_INVALID_ARGUMENT` for a value that is no `AISOPOD_SANDBOX_*`.
///
/// Ownership: borrows `loader` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_set_sandbox_policy(
    loader: Option<&aisopod_loader>,
    policy: aisopod_sandbox_policy,
) -> aisopod_status {
    with_loader("aisopod_loader_set_sandbox_policy", loader, |core| {
        let policy = match policy {
            AISOPOD_SANDBOX_OFF => SandboxPolicy::Off,
            AISOPOD_SANDBOX_BEST_EFFORT => SandboxPolicy::BestEffort,
            AISOPOD_SANDBOX_REQUIRE => SandboxPolicy::Require,
            other => {
                return Err(Error::new(
                    Status::InvalidArgument,
                    format!("argument 'policy' is {other}, not an AISOPOD_SANDBOX_* value"),
                ))
            }
        };
        core.set_sandbox_policy(policy);
        Ok(())
    })
}
