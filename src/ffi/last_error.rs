//! Each thread's last failure message, per loader: what `aisopod_loader_error_message` returns.

use std::cell::RefCell;
use std::ffi::{c_char, CString};

use super::pointers::c_string;

/// Identifies whose last error a message is: a loader's serial, or [`NO_LOADER`].
pub(crate) type ErrorKey = u64;
/// The key for failures of calls that have no loader (`aisopod_loader_new`, calls given a NULL loader or a
/// NULL capability).
pub(crate) const NO_LOADER: ErrorKey = 0;

thread_local! {
    /// Each thread's last failure message, per loader. Dropped when the thread exits.
    static LAST_ERRORS: RefCell<Vec<(ErrorKey, CString)>> = const { RefCell::new(Vec::new()) };
}

/// Makes `message` the calling thread's last failure message for `key`.
pub(crate) fn set(key: ErrorKey, message: String) {
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
/// failure recorded for the same key on the same thread, [`forget`] for it, or thread exit.
pub(crate) fn get(key: ErrorKey) -> *const c_char {
    LAST_ERRORS
        .try_with(|errors| {
            errors.borrow().iter().find(|(k, _)| *k == key).map_or(c"".as_ptr(), |(_, message)| message.as_ptr())
        })
        .unwrap_or(c"".as_ptr())
}

/// Drops the calling thread's message for `key` (when its loader is freed).
pub(crate) fn forget(key: ErrorKey) {
    let _ = LAST_ERRORS.try_with(|errors| errors.borrow_mut().retain(|(k, _)| *k != key));
}
