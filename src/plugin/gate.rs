//! The checks between opening a library and trusting its vtable: the ABI version gate, `create`, the plugin
//! struct's size and mandatory functions, and the id the plugin reports.

use std::ffi::{c_char, CStr};
use std::path::Path;
use std::sync::Arc;

use libloading::Library;
use semver::Version;

use super::guard::in_plugin;
use super::host::{HostPtr, HostShared};
use super::library::symbol;
use super::live::Live;
use crate::abi::{aisopod_plugin, aisopod_plugin_abi_version_fn, aisopod_plugin_create_fn, AISOPOD_ABI_VERSION};
use crate::error::{Error, Result, Status};
use crate::manifest::{Dependency, Manifest};

/// The exported symbol a plugin's ABI version is read from.
const ABI_VERSION_SYMBOL: &str = "aisopod_plugin_abi_version";
/// The exported symbol that creates a plugin.
const CREATE_SYMBOL: &str = "aisopod_plugin_create";

/// Builds the errors of one plugin's load, each naming the plugin and its library.
pub(super) struct Culprit<'a> {
    pub(super) id: &'a str,
    pub(super) library: &'a Path,
}

impl Culprit<'_> {
    pub(super) fn error(&self, status: Status, what: impl std::fmt::Display) -> Error {
        Error::new(status, format!("plugin '{}' ({}): {what}", self.id, self.library.display()))
    }
}

/// Reads `aisopod_plugin_abi_version()` and refuses any version but [`AISOPOD_ABI_VERSION`]. This is the
/// first plugin function the loader calls; only the library's constructors ran before it.
pub(super) fn check_abi_version(library: &Library, culprit: &Culprit) -> Result<()> {
    // SAFETY: the symbol's type is fixed by every ABI version.
    let abi_version = unsafe { symbol::<aisopod_plugin_abi_version_fn>(library, ABI_VERSION_SYMBOL) }
        .map_err(|e| culprit.error(Status::MissingSymbol, e))?;
    // SAFETY: the ABI declares this function pure, without arguments.
    let found = in_plugin(|| unsafe { abi_version() });
    if found != AISOPOD_ABI_VERSION {
        return Err(culprit.error(
            Status::AbiMismatch,
            format!("{ABI_VERSION_SYMBOL} returns ABI version {found}, expected {AISOPOD_ABI_VERSION}"),
        ));
    }
    Ok(())
}

/// Gives the plugin its host block and calls `aisopod_plugin_create`. Returns the plugin's vtable, unchecked.
pub(super) fn create(
    live: &mut Live,
    dependencies: &[Dependency],
    host_version: &Version,
    shared: &Arc<HostShared>,
    culprit: &Culprit,
) -> Result<*const aisopod_plugin> {
    let library = live.library.as_ref().expect("opened before create");
    // SAFETY: the ABI version matched, so the create function has the v1 signature.
    let create = unsafe { symbol::<aisopod_plugin_create_fn>(library, CREATE_SYMBOL) }
        .map_err(|e| culprit.error(Status::MissingSymbol, e))?;
    let host = live.host.insert(HostPtr::new(culprit.id, dependencies, host_version, shared)).abi();
    // SAFETY: the host block stays allocated until after `destroy` (it lives in `live`).
    let vtable = in_plugin(|| unsafe { create(host) });
    if vtable.is_null() {
        return Err(culprit.error(Status::CreateFailed, format!("{CREATE_SYMBOL} returned NULL")));
    }
    Ok(vtable)
}

/// Checks the plugin struct's size and mandatory functions, and hands it to `live` so that a later failure
/// destroys it. A plugin without `destroy`, or too small to read, cannot be destroyed and is abandoned.
/// Returns a copy of the struct: the plugin may write to its own while its functions run.
pub(super) fn validate_struct(
    live: &mut Live,
    vtable: *const aisopod_plugin,
    culprit: &Culprit,
) -> Result<aisopod_plugin> {
    // SAFETY: a non-null result points, by the ABI, to a struct starting with a u32 `struct_size`.
    let struct_size = unsafe { std::ptr::read(vtable.cast::<u32>()) };
    let v1_size = std::mem::size_of::<aisopod_plugin>();
    if (struct_size as usize) < v1_size {
        live.abandon();
        return Err(culprit.error(
            Status::InvalidPluginStruct,
            format!("aisopod_plugin.struct_size is {struct_size}, smaller than ABI v1's {v1_size}"),
        ));
    }
    // SAFETY: the struct is at least as large as v1's.
    let plugin = unsafe { std::ptr::read(vtable) };
    let missing: Vec<&str> = [
        ("register_capabilities", plugin.register_capabilities.is_none()),
        ("init", plugin.init.is_none()),
        ("shutdown", plugin.shutdown.is_none()),
        ("destroy", plugin.destroy.is_none()),
    ]
    .into_iter()
    .filter_map(|(name, missing)| missing.then_some(name))
    .collect();
    if plugin.destroy.is_none() {
        live.abandon();
    } else {
        // Set before the remaining checks, so their failures destroy the plugin.
        live.vtable = vtable;
    }
    if !missing.is_empty() {
        return Err(culprit.error(
            Status::InvalidPluginStruct,
            format!("mandatory function pointer(s) NULL in aisopod_plugin: {}", missing.join(", ")),
        ));
    }
    Ok(plugin)
}

/// Refuses a plugin whose `aisopod_plugin.id` differs from its manifest's id.
pub(super) fn check_reported_id(reported: *const c_char, manifest: &Manifest, manifest_path: &Path) -> Result<()> {
    let expected = &manifest.id;
    if reported.is_null() {
        return Err(Error::new(Status::IdMismatch, format!("plugin '{expected}': aisopod_plugin.id is NULL")));
    }
    // SAFETY: a non-null id is a NUL-terminated string owned by the plugin, by the ABI.
    let reported = unsafe { CStr::from_ptr(reported) };
    if reported.to_bytes() != expected.as_bytes() {
        return Err(Error::new(
            Status::IdMismatch,
            format!(
                "plugin '{expected}': aisopod_plugin.id is '{}', but {} says '{expected}'",
                reported.to_string_lossy(),
                manifest_path.display()
            ),
        ));
    }
    Ok(())
}
