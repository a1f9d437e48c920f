//! Per-plugin metrics through an `aisopod_loader`: the switch, and the plugin and capability figures.

use std::ffi::c_char;
use std::ptr::NonNull;

use super::loader::{aisopod_loader, capability_kind, with_loader};
use super::pointers::{null_argument, string};
use crate::abi::{aisopod_capability_kind, aisopod_status};
use crate::error::{Error, Result, Status};

/// What a loaded plugin has cost since it was loaded (or reloaded), while metrics were on. Durations are in
/// nanoseconds.
///
/// It may grow: the caller sets `struct_size` to `sizeof(aisopod_plugin_metrics)` as it knows it, and the loader
/// fills the fields both know and sets `struct_size` to the size it filled.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct aisopod_plugin_metrics {
    /// Set by the caller to the size of its struct; set by the loader to the size it filled.
    pub struct_size: u32,
    /// Zero; keeps the 64-bit fields aligned on every target.
    pub reserved: u32,
    /// How long its last load took (discovery excluded, every load step included).
    pub load_ns: u64,
    /// How long its last `init` took, successful or not; 0 before the first.
    pub init_ns: u64,
    /// Calls into its capabilities, hooks included, while metrics were on.
    pub calls: u64,
    /// Those calls that failed (any status but `AISOPOD_STATUS_OK`).
    pub failures: u64,
    /// Wall-clock time spent in those calls.
    pub total_ns: u64,
    /// CPU time. In the host's process: the calling threads' CPU time inside its calls
    /// (`CLOCK_THREAD_CPUTIME_ID`), while metrics were on. Isolated: what its helper processes used, user plus
    /// system, restarts included, whether metrics were on or not (as `aisopod_loader_plugin_usage`).
    pub cpu_ns: u64,
}

/// What one capability of a loaded plugin has cost since the plugin was loaded (or reloaded), while metrics
/// were on. Durations are in nanoseconds.
///
/// Latency percentiles come from a fixed histogram of log-linear buckets (eight per power of two) and are
/// reported as the middle of their bucket: within 1/16 (6.25 %) of the true value.
///
/// It may grow, as `aisopod_plugin_metrics`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct aisopod_capability_metrics {
    /// Set by the caller to the size of its struct; set by the loader to the size it filled.
    pub struct_size: u32,
    /// Zero; keeps the 64-bit fields aligned on every target.
    pub reserved: u32,
    /// Calls, through `aisopod_loader_invoke`, `aisopod_capability_invoke` or, for hooks, `aisopod_loader_emit`.
    pub count: u64,
    /// Calls that failed (any status but `AISOPOD_STATUS_OK`).
    pub failures: u64,
    /// Wall-clock time of all calls.
    pub total_ns: u64,
    /// The median call's wall-clock time.
    pub p50_ns: u64,
    /// The 99th percentile call's wall-clock time.
    pub p99_ns: u64,
    /// The calling threads' CPU time inside the calls; 0 for an isolated plugin (see
    /// `aisopod_plugin_metrics.cpu_ns`).
    pub cpu_ns: u64,
}

/// A struct that begins with `struct_size: u32` and may grow.
trait Growable: Copy {
    fn set_size(&mut self, size: u32);
}

impl Growable for aisopod_plugin_metrics {
    fn set_size(&mut self, size: u32) {
        self.struct_size = size;
    }
}

impl Growable for aisopod_capability_metrics {
    fn set_size(&mut self, size: u32) {
        self.struct_size = size;
    }
}

/// The size of the header every sized struct begins with (`struct_size` and `reserved`).
const HEADER: usize = 8;

/// Reads the size the caller set in `*out`, refusing one too small to hold a field.
fn caller_size<T>(out: Option<NonNull<T>>, name: &str) -> Result<(NonNull<T>, usize)> {
    let out = out.ok_or_else(|| null_argument(name))?;
    // SAFETY: a non-null `*_out` argument points to a struct that begins with the `u32` size the caller set.
    let size = unsafe { out.cast::<u32>().as_ptr().read() } as usize;
    if size <= HEADER {
        return Err(Error::new(
            Status::InvalidArgument,
            format!("{name}->struct_size is {size}: set it to the size of the struct (sizeof)"),
        ));
    }
    Ok((out, size))
}

/// Writes the fields of `value` that fit in the caller's `size` bytes at `out`, and the size written.
fn fill<T: Growable>(out: NonNull<T>, size: usize, mut value: T) {
    let size = size.min(std::mem::size_of::<T>());
    value.set_size(size as u32);
    // SAFETY: the caller's struct is `size` bytes or more, writable, by the contract; `value` is `size` bytes or
    // more; the two do not overlap.
    unsafe { std::ptr::copy_nonoverlapping((&value as *const T).cast::<u8>(), out.as_ptr().cast::<u8>(), size) };
}

/// Turns metrics on or off (default: off) for every plugin loaded now or later, in this process or isolated.
/// They are off by default because measuring reads two clocks around every call (for an in-process call, the
/// thread CPU clock is a system call): while they are off, a call through an `aisopod_capability` costs one
/// more load and branch, and nothing else. Turning them off keeps what was counted; turning them on again adds
/// to it. A reload or an unload resets a plugin's metrics.
///
/// Ownership: borrows `loader` for the call.
///
/// Thread safety: may be called from any thread, while calls run; a call already running when the switch
/// changes may or may not be counted.
#[no_mangle]
pub extern "C" fn aisopod_loader_set_metrics(loader: Option<&aisopod_loader>, enabled: bool) -> aisopod_status {
    with_loader("aisopod_loader_set_metrics", loader, |core| {
        core.set_metrics(enabled);
        Ok(())
    })
}

/// Writes what loaded plugin `id` has cost to `*metrics_out`, whose `struct_size` the caller sets first.
/// Returns `AISOPOD_STATUS_INVALID_ARGUMENT` while metrics are off (see `aisopod_loader_set_metrics`) or when
/// `struct_size` is too small, and `AISOPOD_STATUS_NOT_LOADED` when `id` is not loaded; the message names the
/// plugin.
///
/// Ownership: borrows `loader`, `id` and `metrics_out` for the call.
///
/// Thread safety: may be called from any thread, while calls run; the figures are read one at a time, so those
/// of calls still running may be partly counted.
#[no_mangle]
pub extern "C" fn aisopod_loader_plugin_metrics(
    loader: Option<&aisopod_loader>,
    id: *const c_char,
    metrics_out: Option<NonNull<aisopod_plugin_metrics>>,
) -> aisopod_status {
    with_loader("aisopod_loader_plugin_metrics", loader, |core| {
        // SAFETY: the caller passes a NUL-terminated string or NULL.
        let id = unsafe { string(id, "id") }?;
        let (out, size) = caller_size(metrics_out, "metrics_out")?;
        let metrics = core.plugin_metrics(id)?;
        let value = aisopod_plugin_metrics {
            struct_size: 0,
            reserved: 0,
            load_ns: metrics.load_ns,
            init_ns: metrics.init_ns,
            calls: metrics.calls,
            failures: metrics.failures,
            total_ns: metrics.total_ns,
            cpu_ns: metrics.cpu_ns,
        };
        fill(out, size, value);
        Ok(())
    })
}

/// Writes what capability `name` of `kind` of loaded plugin `id` has cost to `*metrics_out`, whose
/// `struct_size` the caller sets first. Returns `AISOPOD_STATUS_INVALID_ARGUMENT` while metrics are off or when
/// `struct_size` is too small, `AISOPOD_STATUS_NOT_LOADED` when `id` is not loaded, and
/// `AISOPOD_STATUS_CAPABILITY_NOT_FOUND` when it registered no such capability; the message names the plugin.
///
/// Ownership: borrows `loader`, `id`, `name` and `metrics_out` for the call.
///
/// Thread safety: as `aisopod_loader_plugin_metrics`.
#[no_mangle]
pub extern "C" fn aisopod_loader_capability_metrics(
    loader: Option<&aisopod_loader>,
    id: *const c_char,
    kind: aisopod_capability_kind,
    name: *const c_char,
    metrics_out: Option<NonNull<aisopod_capability_metrics>>,
) -> aisopod_status {
    with_loader("aisopod_loader_capability_metrics", loader, |core| {
        // SAFETY (both): the caller passes NUL-terminated strings or NULL.
        let id = unsafe { string(id, "id") }?;
        let name = unsafe { string(name, "name") }?;
        let kind = capability_kind(kind)?;
        let (out, size) = caller_size(metrics_out, "metrics_out")?;
        let metrics = core.capability_metrics(id, kind, name)?;
        let value = aisopod_capability_metrics {
            struct_size: 0,
            reserved: 0,
            count: metrics.count,
            failures: metrics.failures,
            total_ns: metrics.total_ns,
            p50_ns: metrics.p50_ns,
            p99_ns: metrics.p99_ns,
            cpu_ns: metrics.cpu_ns,
        };
        fill(out, size, value);
        Ok(())
    })
}
