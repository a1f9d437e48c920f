//! The `aisopod_diagnostic` handle: one candidate that discovery refused.

use std::ffi::{c_char, CString};

use super::boundary::boundary;
use super::pointers::{c_string, free_box};
use crate::abi::aisopod_status;
use crate::paths;
use crate::Diagnostic;

/// A refused discovery candidate: the path at fault, a status and a message.
///
/// Ownership: owned by the caller that received it and freed with `aisopod_diagnostic_free`; every string an
/// accessor returns is owned by the handle and valid until it is freed.
///
/// Thread safety: immutable; its accessors may be called from any thread, concurrently.
pub struct aisopod_diagnostic {
    path: CString,
    status: aisopod_status,
    message: CString,
}

impl aisopod_diagnostic {
    pub(crate) fn new_raw(diagnostic: &Diagnostic) -> *mut aisopod_diagnostic {
        Box::into_raw(Box::new(aisopod_diagnostic {
            path: c_string(paths::bytes(&diagnostic.path)),
            status: diagnostic.status,
            message: c_string(diagnostic.message.as_str()),
        }))
    }
}

/// Frees a diagnostic. `aisopod_diagnostic_free(NULL)` does nothing.
///
/// Ownership: takes ownership of `diagnostic`; it must not be used afterwards, nor any string obtained from it.
#[no_mangle]
pub extern "C" fn aisopod_diagnostic_free(diagnostic: *mut aisopod_diagnostic) {
    // SAFETY: a non-null handle came from this library and is freed once, by contract.
    unsafe { free_box("aisopod_diagnostic_free", diagnostic) }
}

/// The path of the refused candidate's manifest; NULL when `diagnostic` is NULL.
///
/// Ownership: borrows `diagnostic` for the call. The returned string is owned by `diagnostic` and valid until
/// `diagnostic` is freed.
#[no_mangle]
pub extern "C" fn aisopod_diagnostic_path(diagnostic: Option<&aisopod_diagnostic>) -> *const c_char {
    boundary("aisopod_diagnostic_path", || diagnostic.map_or(std::ptr::null(), |d| d.path.as_ptr()))
}

/// Why the candidate was refused; `AISOPOD_STATUS_NULL_ARGUMENT` when `diagnostic` is NULL.
///
/// Ownership: borrows `diagnostic` for the call.
#[no_mangle]
pub extern "C" fn aisopod_diagnostic_status(diagnostic: Option<&aisopod_diagnostic>) -> aisopod_status {
    boundary("aisopod_diagnostic_status", || diagnostic.map_or(aisopod_status::NullArgument, |d| d.status))
}

/// The full message, naming the file and field; NULL when `diagnostic` is NULL.
///
/// Ownership: borrows `diagnostic` for the call. The returned string is owned by `diagnostic` and valid until
/// `diagnostic` is freed.
#[no_mangle]
pub extern "C" fn aisopod_diagnostic_message(diagnostic: Option<&aisopod_diagnostic>) -> *const c_char {
    boundary("aisopod_diagnostic_message", || diagnostic.map_or(std::ptr::null(), |d| d.message.as_ptr()))
}
