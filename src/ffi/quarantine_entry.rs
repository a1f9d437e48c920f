//! The `aisopod_quarantine_entry` handle: one quarantined library, why and since when.

use std::ffi::{c_char, CString};
use std::ptr::NonNull;

use super::boundary::{boundary, call};
use super::last_error::NO_LOADER;
use super::pointers::{c_string, free_box, required, write_out};
use crate::abi::aisopod_status;
use crate::paths;
use crate::QuarantineRecord;

/// A quarantined library: the plugin it belongs to, the probe's failure status and message, and when.
///
/// Ownership: owned by the caller that received it and freed with `aisopod_quarantine_entry_free`; every
/// string an accessor returns is owned by the handle and valid until it is freed.
///
/// Thread safety: immutable; its accessors may be called from any thread, concurrently.
pub struct aisopod_quarantine_entry {
    plugin_id: CString,
    library_path: CString,
    status: aisopod_status,
    reason: CString,
    since: i64,
}

impl aisopod_quarantine_entry {
    pub(crate) fn new_raw(record: &QuarantineRecord) -> *mut aisopod_quarantine_entry {
        let (status, reason) = record
            .verdict
            .as_ref()
            .map_or((aisopod_status::Ok, ""), |verdict| (verdict.status, verdict.reason.as_str()));
        Box::into_raw(Box::new(aisopod_quarantine_entry {
            plugin_id: c_string(record.plugin_id.as_str()),
            library_path: c_string(paths::bytes(&record.library)),
            status,
            reason: c_string(reason),
            since: i64::try_from(record.since).unwrap_or(i64::MAX),
        }))
    }
}

/// Frees a quarantine entry. `aisopod_quarantine_entry_free(NULL)` does nothing.
///
/// Ownership: takes ownership of `entry`; it must not be used afterwards, nor any string obtained from it.
#[no_mangle]
pub extern "C" fn aisopod_quarantine_entry_free(entry: *mut aisopod_quarantine_entry) {
    // SAFETY: a non-null handle came from this library and is freed once, by contract.
    unsafe { free_box("aisopod_quarantine_entry_free", entry) }
}

/// The id of the quarantined plugin, as its manifest gave it when it was probed; NULL when `entry` is NULL.
///
/// Ownership: borrows `entry` for the call. The returned string is owned by `entry` and valid until `entry` is
/// freed.
#[no_mangle]
pub extern "C" fn aisopod_quarantine_entry_plugin_id(entry: Option<&aisopod_quarantine_entry>) -> *const c_char {
    boundary("aisopod_quarantine_entry_plugin_id", || entry.map_or(std::ptr::null(), |e| e.plugin_id.as_ptr()))
}

/// The quarantined library's path; NULL when `entry` is NULL.
///
/// Ownership: borrows `entry` for the call. The returned string is owned by `entry` and valid until `entry` is
/// freed.
#[no_mangle]
pub extern "C" fn aisopod_quarantine_entry_library_path(entry: Option<&aisopod_quarantine_entry>) -> *const c_char {
    boundary("aisopod_quarantine_entry_library_path", || entry.map_or(std::ptr::null(), |e| e.library_path.as_ptr()))
}

/// The probe's failure: `AISOPOD_STATUS_PLUGIN_CRASHED`, `AISOPOD_STATUS_TIMEOUT`,
/// `AISOPOD_STATUS_ABI_MISMATCH` or `AISOPOD_STATUS_MISSING_SYMBOL`; `AISOPOD_STATUS_NULL_ARGUMENT` when
/// `entry` is NULL.
///
/// Ownership: borrows `entry` for the call.
#[no_mangle]
pub extern "C" fn aisopod_quarantine_entry_status(entry: Option<&aisopod_quarantine_entry>) -> aisopod_status {
    boundary("aisopod_quarantine_entry_status", || entry.map_or(aisopod_status::NullArgument, |e| e.status))
}

/// The probe's failure message, naming the plugin and the step; NULL when `entry` is NULL.
///
/// Ownership: borrows `entry` for the call. The returned string is owned by `entry` and valid until `entry` is
/// freed.
#[no_mangle]
pub extern "C" fn aisopod_quarantine_entry_reason(entry: Option<&aisopod_quarantine_entry>) -> *const c_char {
    boundary("aisopod_quarantine_entry_reason", || entry.map_or(std::ptr::null(), |e| e.reason.as_ptr()))
}

/// Writes when the library was quarantined, in seconds since the Unix epoch (UTC), to `*seconds_out`.
///
/// Ownership: borrows `entry` and `seconds_out` for the call.
#[no_mangle]
pub extern "C" fn aisopod_quarantine_entry_since(
    entry: Option<&aisopod_quarantine_entry>,
    seconds_out: Option<NonNull<i64>>,
) -> aisopod_status {
    call("aisopod_quarantine_entry_since", NO_LOADER, || {
        let entry = required(entry, "entry")?;
        write_out(seconds_out, "seconds_out", || Ok(entry.since))
    })
}
