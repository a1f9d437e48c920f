//! The panic boundary, argument checks and per-thread error messages shared by every export.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

use crate::error::{Error, Result, Status};

/// Identifies whose last error a message is: a loader's serial, or [`NO_LOADER`].
pub(crate) type ErrorKey = u64;
/// The key for failures of calls that have no loader (`aisopod_loader_new`, info and diagnostic accessors).
pub(crate) const NO_LOADER: ErrorKey = 0;

thread_local! {
    /// Each thread's last failure message, per loader. Dropped when the thread exits.
    static LAST_ERRORS: RefCell<Vec<(ErrorKey, CString)>> = const { RefCell::new(Vec::new()) };
}

fn set_last_error(key: ErrorKey, message: String) {
    let message = c_string(message);
    // During thread teardown the storage may be gone; the message is then dropped rather than panicking.
    let _ = LAST_ERRORS.try_with(|errors| {
        let mut errors = errors.borrow_mut();
        match errors.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = message,
            None => errors.push((key, message)),
        }
    });
}

/// The calling thread's last failure message for `key`, or `""`. The pointer stays valid until the next
/// failure recorded for the same key on the same thread, [`forget_last_error`] for it, or thread exit.
pub(crate) fn last_error(key: ErrorKey) -> *const c_char {
    LAST_ERRORS
        .try_with(|errors| {
            errors.borrow().iter().find(|(k, _)| *k == key).map_or(c"".as_ptr(), |(_, message)| message.as_ptr())
        })
        .unwrap_or(c"".as_ptr())
}

/// Drops the calling thread's message for `key` (when its loader is freed).
pub(crate) fn forget_last_error(key: ErrorKey) {
    let _ = LAST_ERRORS.try_with(|errors| errors.borrow_mut().retain(|(k, _)| *k != key));
}

/// Runs `body` behind the panic boundary. A failure's message, prefixed with `function`, becomes the calling
/// thread's last error for `key`.
pub(crate) fn call(function: &str, key: ErrorKey, body: impl FnOnce() -> Result<()>) -> Status {
    let error = match catch_unwind(AssertUnwindSafe(|| {
        #[cfg(test)]
        failpoint::hit(function);
        body()
    })) {
        Ok(Ok(())) => return Status::Ok,
        Ok(Err(error)) => error,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(no message)");
            Error::new(Status::Panic, format!("internal panic: {what}"))
        }
    };
    set_last_error(key, format!("{function}: {}", error.message()));
    error.status()
}

/// Runs `body` behind the panic boundary, returning `default` if it panics. For accessors that return a value.
pub(crate) fn value<T>(default: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(default)
}

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

/// A test-only failpoint: makes the next export called on this thread panic inside its panic boundary, as a
/// bug in the core would. It does not exist outside `cargo test` builds of this crate.
#[cfg(test)]
pub(crate) mod failpoint {
    use std::cell::Cell;

    thread_local! {
        static PANIC_IN: Cell<Option<&'static str>> = const { Cell::new(None) };
    }

    /// The next call of `function` on this thread panics.
    pub(crate) fn panic_in(function: &'static str) {
        PANIC_IN.with(|p| p.set(Some(function)));
    }

    pub(super) fn hit(function: &str) {
        if PANIC_IN.with(|p| p.get()) == Some(function) {
            PANIC_IN.with(|p| p.set(None));
            panic!("failpoint in {function}");
        }
    }
}
