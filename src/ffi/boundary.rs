//! The panic boundary every export runs behind: a panic becomes the fallback value of the export's return type,
//! the process does not abort, and the library stays usable.

use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::last_error::{self, ErrorKey};
use crate::abi::aisopod_status;
use crate::error::{Error, Result};

/// What an export returns in place of its result when its body panicked. Every return type of the C API has
/// one, so no export picks its own.
pub(crate) trait PanicFallback {
    /// The fallback, given the panic's message (`internal panic: ...`), which only a `Result` keeps.
    fn on_panic(message: String) -> Self;
}

impl PanicFallback for aisopod_status {
    fn on_panic(_: String) -> Self {
        aisopod_status::Panic
    }
}

/// A static empty string: the caller may read it like any string the call returns, and must not free it.
impl PanicFallback for *const c_char {
    fn on_panic(_: String) -> Self {
        c"".as_ptr()
    }
}

impl PanicFallback for bool {
    fn on_panic(_: String) -> Self {
        false
    }
}

impl PanicFallback for usize {
    fn on_panic(_: String) -> Self {
        0
    }
}

impl PanicFallback for () {
    fn on_panic(_: String) -> Self {}
}

/// A status-returning call's body: the panic becomes an `AISOPOD_STATUS_PANIC` error with its message, which
/// [`call`] records like any other failure.
impl<T> PanicFallback for Result<T> {
    fn on_panic(message: String) -> Self {
        Err(Error::new(aisopod_status::Panic, message))
    }
}

/// Runs `body`, the whole of export `function`, and returns its result, or `R`'s fallback if it panics.
pub(crate) fn boundary<R: PanicFallback>(function: &'static str, body: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(|| {
        #[cfg(test)]
        failpoint::hit(function);
        body()
    }))
    .unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        // A caught panic is a bug in the library. A status-returning call reports it to its caller; a value
        // can carry no message, so the trace is where any panic is seen.
        tracing::error!(function, "internal panic: {what}");
        R::on_panic(format!("internal panic: {what}"))
    })
}

/// Runs `body`, the whole of status-returning export `function`, behind the [`boundary`]. A failure's message,
/// panics' included, prefixed with `function`, becomes the calling thread's last error for `key`.
pub(crate) fn call(function: &'static str, key: ErrorKey, body: impl FnOnce() -> Result<()>) -> aisopod_status {
    match boundary(function, body) {
        Ok(()) => aisopod_status::Ok,
        Err(error) => {
            last_error::set(key, format!("{function}: {}", error.message()));
            error.status()
        }
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
