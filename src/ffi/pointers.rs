//! Every pointer that crosses the C API: arguments checked and borrowed, `*_out` parameters written, handles
//! freed, strings handed out as C strings.

use std::ffi::{c_char, CStr, CString};
use std::ptr::NonNull;

use super::boundary::boundary;
use crate::error::{Error, Result, Status};

/// A failure for a NULL required argument.
pub(crate) fn null_argument(name: &str) -> Error {
    Error::new(Status::NullArgument, format!("argument '{name}' is NULL"))
}

/// Checks a required reference argument.
pub(crate) fn required<'a, T>(value: Option<&'a T>, name: &str) -> Result<&'a T> {
    value.ok_or_else(|| null_argument(name))
}

/// Checks an out-pointer argument.
pub(crate) fn out_ptr<T>(out: Option<NonNull<T>>, name: &str) -> Result<NonNull<T>> {
    out.ok_or_else(|| null_argument(name))
}

/// Borrows a NUL-terminated UTF-8 string argument.
///
/// # Safety
/// A non-null `ptr` points to a NUL-terminated string valid for the call.
pub(crate) unsafe fn string<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(null_argument(name));
    }
    // SAFETY: forwarded to the caller.
    unsafe { CStr::from_ptr(ptr) }.to_str().map_err(|e| {
        Error::new(
            Status::InvalidUtf8,
            format!("argument '{name}' is not UTF-8 (invalid byte at offset {})", e.valid_up_to()),
        )
    })
}

/// Borrows a byte-buffer argument; NULL is allowed when `len` is 0.
///
/// # Safety
/// A non-null `ptr` points to `len` readable bytes valid for the call.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize, name: &str) -> Result<&'a [u8]> {
    match (ptr.is_null(), len) {
        (true, 0) => Ok(&[]),
        (true, _) => Err(null_argument(name)),
        // SAFETY: forwarded to the caller.
        (false, _) => Ok(unsafe { std::slice::from_raw_parts(ptr, len) }),
    }
}

/// The body of every `_free` function: drops the boxed handle `handle`, behind the panic boundary of export
/// `function`. NULL does nothing.
///
/// # Safety
/// A non-null `handle` came from `Box::into_raw` of a `Box<T>` and is not used afterwards.
pub(crate) unsafe fn free_box<T>(function: &'static str, handle: *mut T) {
    boundary(function, || {
        if !handle.is_null() {
            // SAFETY: forwarded to the caller.
            drop(unsafe { Box::from_raw(handle) });
        }
    })
}

/// A `CString` of a string known to hold no NUL (validated manifest fields, paths).
pub(crate) fn c_string(value: impl Into<Vec<u8>>) -> CString {
    CString::new(value).unwrap_or_else(|e| {
        let mut bytes = e.into_vec();
        bytes.retain(|&b| b != 0);
        CString::new(bytes).expect("NULs removed")
    })
}

/// A `CString` of a path.
pub(crate) fn path_string(path: &std::path::Path) -> CString {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        c_string(path.as_os_str().as_bytes())
    }
    #[cfg(not(unix))]
    {
        c_string(path.to_string_lossy().into_owned())
    }
}
