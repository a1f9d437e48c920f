//! The C API: thin `extern "C"` functions over the core, one file per handle type. Each function converts its
//! arguments, calls the core inside a panic boundary and maps the result to an [`aisopod_status`]; none holds
//! loader logic.
//!
//! Conventions, the same on every function:
//! - A function that can fail returns an `aisopod_status` and writes its result through a trailing `*_out`
//!   parameter, only on success.
//! - Every pointer argument is checked: NULL gives `AISOPOD_STATUS_NULL_ARGUMENT`, or the documented default
//!   for functions that return a value directly.
//! - Strings passed in are NUL-terminated UTF-8 and borrowed for the duration of the call only.
//! - A panic inside the library is caught at the export: a status-returning function returns
//!   `AISOPOD_STATUS_PANIC` with a message; any other returns its type's fallback (an empty static string,
//!   false, 0).
//!
//! [`aisopod_status`]: crate::abi::aisopod_status
#![allow(non_camel_case_types)]
// These functions are the C API: their callers are C programs, bound by the pointer contract each function
// documents. Marking them `unsafe` would change nothing for those callers; Rust code uses the safe core.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

mod boundary;
pub mod capability;
pub mod diagnostic;
pub mod discovery;
pub mod graph;
pub mod isolation;
mod last_error;
pub mod lifecycle;
pub mod loader;
pub mod metrics;
pub mod plugin_info;
mod pointers;
pub mod probe_results;
pub mod quarantine_entry;
pub mod reload;
pub mod report;
pub mod status;
pub mod trust;

#[cfg(test)]
mod tests;
