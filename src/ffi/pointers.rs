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

/// Runs `body` and writes its result through the required `*_out` parameter `out`, named `name`: NULL is
/// refused before `body` runs, and nothing is written unless `body` succeeds.
///
/// Like the exports it serves, it is not `unsafe` (see the note in `ffi/mod.rs`): it relies on their C caller's
/// contract that a non-null `*_out` parameter points to memory writable for a `T`.
pub(crate) fn write_out<T>(out: Option<NonNull<T>>, name: &str, body: impl FnOnce() -> Result<T>) -> Result<()> {
    let out = out.ok_or_else(|| null_argument(name))?;
    write_optional_out(Some(out), body)
}

/// As [`write_out`], for a `*_out` parameter the caller may leave NULL: `body` runs either way.
pub(crate) fn write_optional_out<T>(out: Option<NonNull<T>>, body: impl FnOnce() -> Result<T>) -> Result<()> {
    let value = body()?;
    if let Some(out) = out {
        // SAFETY: a non-null `*_out` parameter points to memory writable for a `T`, by every export's contract.
        unsafe { out.as_ptr().write(value) };
    }
    Ok(())
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

/// Borrows a NUL-terminated UTF-8 string argument that may be NULL, which gives `None`.
///
/// # Safety
/// As [`string`].
pub(crate) unsafe fn optional_string<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded to the caller.
    unsafe { string(ptr, name) }.map(Some)
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

/// A `CString` of a string the library hands out: a message, a validated manifest field, a path's
/// [`crate::paths::bytes`]. None of these holds a NUL; should one, it is dropped rather than cutting the string
/// short or failing a call that has nothing else wrong.
pub(crate) fn c_string(value: impl Into<Vec<u8>>) -> CString {
    CString::new(value).unwrap_or_else(|e| {
        let mut bytes = e.into_vec();
        bytes.retain(|&b| b != 0);
        CString::new(bytes).expect("NULs removed")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_null_out_parameter_is_refused_before_the_body_runs() {
        let mut ran = false;
        let result = write_out(None::<NonNull<usize>>, "count_out", || {
            ran = true;
            Ok(1)
        });
        let error = result.unwrap_err();
        assert_eq!((error.status(), error.message()), (Status::NullArgument, "argument 'count_out' is NULL"));
        assert!(!ran);
    }

    #[test]
    fn an_out_parameter_is_written_only_when_the_body_succeeds() {
        let mut out = 7usize;
        let failed = write_out(Some(NonNull::from(&mut out)), "count_out", || Err(Error::new(Status::Io, "no")));
        assert_eq!(failed.unwrap_err().status(), Status::Io);
        assert_eq!(out, 7);
        assert!(write_out(Some(NonNull::from(&mut out)), "count_out", || Ok(3)).is_ok());
        assert_eq!(out, 3);
    }

    #[test]
    fn an_optional_out_parameter_may_be_null_and_the_body_still_runs() {
        let mut ran = false;
        let result = write_optional_out(None::<NonNull<usize>>, || {
            ran = true;
            Ok(1)
        });
        assert!(result.is_ok() && ran);
        let mut out = 0usize;
        assert!(write_optional_out(Some(NonNull::from(&mut out)), || Ok(5)).is_ok());
        assert_eq!(out, 5);
    }
}
