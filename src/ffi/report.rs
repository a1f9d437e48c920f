//! The load report through an `aisopod_loader`: the JSON document, and freeing it.

use std::ffi::c_char;
use std::ptr::NonNull;

use super::boundary::boundary;
use super::loader::{aisopod_loader, with_loader};
use super::pointers::{c_string, write_out};
use crate::abi::aisopod_status;

/// Writes the load report of `loader` to `*json_out`: one NUL-terminated UTF-8 JSON document whose `schema`
/// field is "aisopod-loader-report/1", described field by field in `schema/aisopod-loader-report-1.schema.json`.
/// It holds the loader's settings (versions, search paths, cache path, lazy, metrics, file and signature
/// policies), every loaded plugin (state, library, isolation, generation, capabilities, the dependencies it was
/// loaded with, load and init time, and its metrics while they are on), every discovered plugin not loaded,
/// every diagnostic of the latest discovery with its `AISOPOD_STATUS_*` name, and the quarantine.
/// `AISOPOD_STATUS_NULL_ARGUMENT` when `loader` or `json_out` is NULL.
///
/// Ownership: borrows `loader` for the call; the caller owns `*json_out` and frees it with
/// `aisopod_loader_report_free`.
///
/// Thread safety: may be called from any thread, while calls run; the loader is read one part at a time, so a
/// plugin loaded or unloaded meanwhile may show in one part and not another.
#[no_mangle]
pub extern "C" fn aisopod_loader_report_json(
    loader: Option<&aisopod_loader>,
    json_out: Option<NonNull<*mut c_char>>,
) -> aisopod_status {
    with_loader("aisopod_loader_report_json", loader, |core| {
        write_out(json_out, "json_out", || Ok(c_string(core.report_json()).into_raw()))
    })
}

/// Frees a report from `aisopod_loader_report_json`. NULL does nothing.
///
/// Ownership: takes ownership of `json`; it must not be used afterwards.
///
/// Thread safety: callable from any thread; the loader that made the report need not be alive.
#[no_mangle]
pub extern "C" fn aisopod_loader_report_free(json: *mut c_char) {
    boundary("aisopod_loader_report_free", || {
        if !json.is_null() {
            // SAFETY: a non-null `json` came from `CString::into_raw` in `aisopod_loader_report_json`, and the
            // caller does not use it afterwards.
            drop(unsafe { std::ffi::CString::from_raw(json) });
        }
    })
}
