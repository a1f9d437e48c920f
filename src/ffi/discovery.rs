//! Discovery through an `aisopod_loader`: the scan, and the plugins and diagnostics it found.

use std::ffi::c_char;
use std::ptr::NonNull;

use super::diagnostic::aisopod_diagnostic;
use super::loader::{aisopod_loader, with_loader};
use super::plugin_info::aisopod_plugin_info;
use super::pointers::{string, write_optional_out, write_out};
use crate::abi::aisopod_status;
use crate::error::{Error, Result, Status};

/// Scans the search paths, replacing the previous discovery result. Runs no plugin code. A bad candidate does
/// not fail the scan; it becomes a diagnostic (`aisopod_loader_diagnostic_at`). Then checks the plugin graph: a
/// plugin outside the host's requirement (`aisopod_loader_require`), or whose `[dependencies]` are missing, of a
/// version outside the range or lead back to it, is set aside with a diagnostic naming the chain, and so are the
/// plugins that need it. Loaded plugins are unaffected.
///
/// Writes the number of plugins found to `*count_out` when `count_out` is not NULL.
///
/// Ownership: borrows `loader` and `count_out` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_discover(
    loader: Option<&aisopod_loader>,
    count_out: Option<NonNull<usize>>,
) -> aisopod_status {
    with_loader("aisopod_loader_discover", loader, |core| write_optional_out(count_out, || Ok(core.discover())))
}

/// Writes the number of plugins the latest discovery found to `*count_out`.
///
/// Ownership: borrows `loader` and `count_out` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_plugin_count(
    loader: Option<&aisopod_loader>,
    count_out: Option<NonNull<usize>>,
) -> aisopod_status {
    with_loader("aisopod_loader_plugin_count", loader, |core| {
        write_out(count_out, "count_out", || Ok(core.discovery().plugins().len()))
    })
}

/// Writes a new handle on the `index`-th discovered plugin (search-path order) to `*info_out`. Returns
/// `AISOPOD_STATUS_OUT_OF_RANGE` past the end.
///
/// Ownership: borrows `loader` for the call. The caller owns `*info_out` and frees it with
/// `aisopod_plugin_info_free`; it stays valid after a new discovery or after the loader is freed.
#[no_mangle]
pub extern "C" fn aisopod_loader_plugin_at(
    loader: Option<&aisopod_loader>,
    index: usize,
    info_out: Option<NonNull<*mut aisopod_plugin_info>>,
) -> aisopod_status {
    with_loader("aisopod_loader_plugin_at", loader, |core| {
        write_out(info_out, "info_out", || {
            let discovery = core.discovery();
            let info = item_at(discovery.plugins(), index, "discovered plugins")?;
            Ok(aisopod_plugin_info::new_raw(info.clone()))
        })
    })
}

/// Writes a new handle on the discovered plugin with `id` to `*info_out`. Returns `AISOPOD_STATUS_NOT_FOUND`
/// when the latest discovery has no such plugin.
///
/// Ownership: borrows `loader` and `id` for the call. The caller owns `*info_out` and frees it with
/// `aisopod_plugin_info_free`; it stays valid after a new discovery or after the loader is freed.
#[no_mangle]
pub extern "C" fn aisopod_loader_find_plugin(
    loader: Option<&aisopod_loader>,
    id: *const c_char,
    info_out: Option<NonNull<*mut aisopod_plugin_info>>,
) -> aisopod_status {
    with_loader("aisopod_loader_find_plugin", loader, |core| {
        write_out(info_out, "info_out", || {
            // SAFETY: the caller passes a NUL-terminated string or NULL.
            let id = unsafe { string(id, "id") }?;
            let info = core
                .discovery()
                .find(id)
                .cloned()
                .ok_or_else(|| Error::new(Status::NotFound, format!("no discovered plugin has id '{id}'")))?;
            Ok(aisopod_plugin_info::new_raw(info))
        })
    })
}

/// Writes the number of diagnostics (refused candidates) of the latest discovery to `*count_out`.
///
/// Ownership: borrows `loader` and `count_out` for the call.
#[no_mangle]
pub extern "C" fn aisopod_loader_diagnostic_count(
    loader: Option<&aisopod_loader>,
    count_out: Option<NonNull<usize>>,
) -> aisopod_status {
    with_loader("aisopod_loader_diagnostic_count", loader, |core| {
        write_out(count_out, "count_out", || Ok(core.discovery().diagnostics().len()))
    })
}

/// Writes a new handle on the `index`-th diagnostic of the latest discovery to `*diagnostic_out`. Returns
/// `AISOPOD_STATUS_OUT_OF_RANGE` past the end.
///
/// Ownership: borrows `loader` for the call. The caller owns `*diagnostic_out` and frees it with
/// `aisopod_diagnostic_free`; it stays valid after a new discovery or after the loader is freed.
#[no_mangle]
pub extern "C" fn aisopod_loader_diagnostic_at(
    loader: Option<&aisopod_loader>,
    index: usize,
    diagnostic_out: Option<NonNull<*mut aisopod_diagnostic>>,
) -> aisopod_status {
    with_loader("aisopod_loader_diagnostic_at", loader, |core| {
        write_out(diagnostic_out, "diagnostic_out", || {
            let discovery = core.discovery();
            let diagnostic = item_at(discovery.diagnostics(), index, "diagnostics")?;
            Ok(aisopod_diagnostic::new_raw(diagnostic))
        })
    })
}

/// The `index`-th of `items` (the `what` of the latest discovery), or `AISOPOD_STATUS_OUT_OF_RANGE` naming how
/// many there are.
fn item_at<'a, T>(items: &'a [T], index: usize, what: &str) -> Result<&'a T> {
    items
        .get(index)
        .ok_or_else(|| Error::new(Status::OutOfRange, format!("index {index} is past the {} {what}", items.len())))
}
