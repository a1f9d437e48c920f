//! The `aisopod_plugin_info` handle: a discovered plugin's manifest data and paths, as C strings.

use std::ffi::{c_char, CString};
use std::sync::Arc;

use super::boundary::boundary;
use super::pointers::{c_string, free_box};
use crate::abi::aisopod_capability_kind;
use crate::paths;
use crate::{CapabilityKind, PerKind, PluginInfo};

/// A discovered plugin: an immutable snapshot of its manifest and paths.
///
/// Ownership: each handle is owned by the caller that received it and freed with `aisopod_plugin_info_free`.
/// Every string an accessor returns is owned by the handle and valid until the handle is freed.
///
/// Thread safety: a handle is immutable; its accessors may be called from any thread, concurrently.
pub struct aisopod_plugin_info {
    id: CString,
    name: CString,
    version: CString,
    description: CString,
    author: CString,
    directory: CString,
    manifest_path: CString,
    library_path: CString,
    min_host_version: Option<CString>,
    max_host_version: Option<CString>,
    license: Option<CString>,
    homepage: Option<CString>,
    repository: Option<CString>,
    sha256: Option<CString>,
    capabilities: PerKind<Vec<CString>>,
    /// `[dependencies]`: each id, requirement and whether it is optional.
    dependencies: Vec<(CString, CString, bool)>,
    thread_safe: bool,
    unload: bool,
}

impl aisopod_plugin_info {
    pub(crate) fn new_raw(info: Arc<PluginInfo>) -> *mut aisopod_plugin_info {
        let m = &info.manifest;
        let capabilities = PerKind::from_fn(|kind| m.declared(kind).iter().map(|n| c_string(n.as_str())).collect());
        Box::into_raw(Box::new(aisopod_plugin_info {
            id: c_string(m.id.as_str()),
            name: c_string(m.name.as_str()),
            version: c_string(m.version.to_string()),
            description: c_string(m.description.as_str()),
            author: c_string(m.author.as_str()),
            directory: c_string(paths::bytes(&info.directory)),
            manifest_path: c_string(paths::bytes(&info.manifest_path())),
            library_path: c_string(paths::bytes(&info.library_path())),
            min_host_version: m.min_host_version.as_ref().map(|v| c_string(v.to_string())),
            max_host_version: m.max_host_version.as_ref().map(|v| c_string(v.to_string())),
            license: m.license.as_deref().map(c_string),
            homepage: m.homepage.as_deref().map(c_string),
            repository: m.repository.as_deref().map(c_string),
            sha256: m.sha256.as_deref().map(|digest| c_string(digest.to_string())),
            capabilities,
            dependencies: m
                .dependencies
                .iter()
                .map(|d| (c_string(d.id.as_str()), c_string(d.requirement.to_string()), d.optional))
                .collect(),
            thread_safe: m.thread_safe,
            unload: m.unload,
        }))
    }
}

/// The body of export `function`: reads a string field of a possibly-NULL handle; NULL for a NULL handle.
fn field(
    function: &'static str,
    info: Option<&aisopod_plugin_info>,
    get: impl FnOnce(&aisopod_plugin_info) -> *const c_char,
) -> *const c_char {
    boundary(function, || info.map_or(std::ptr::null(), get))
}

/// Frees a plugin info handle. `aisopod_plugin_info_free(NULL)` does nothing.
///
/// Ownership: takes ownership of `info`; it must not be used afterwards, nor any string obtained from it.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_free(info: *mut aisopod_plugin_info) {
    // SAFETY: a non-null handle came from this library and is freed once, by contract.
    unsafe { free_box("aisopod_plugin_info_free", info) }
}

/// The plugin id (`[plugin].id`); NULL when `info` is NULL.
///
/// Ownership: borrows `info` for the call. The returned string is owned by `info` and valid until `info` is freed.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_id(info: Option<&aisopod_plugin_info>) -> *const c_char {
    field("aisopod_plugin_info_id", info, |i| i.id.as_ptr())
}

/// The display name (`[plugin].name`); NULL when `info` is NULL.
///
/// Ownership: borrows `info` for the call. The returned string is owned by `info` and valid until `info` is freed.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_name(info: Option<&aisopod_plugin_info>) -> *const c_char {
    field("aisopod_plugin_info_name", info, |i| i.name.as_ptr())
}

/// The plugin's semver version (`[plugin].version`), normalised; NULL when `info` is NULL.
///
/// Ownership: borrows `info` for the call. The returned string is owned by `info` and valid until `info` is freed.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_version(info: Option<&aisopod_plugin_info>) -> *const c_char {
    field("aisopod_plugin_info_version", info, |i| i.version.as_ptr())
}

/// The description (`[plugin].description`), "" when absent; NULL when `info` is NULL.
///
/// Ownership: borrows `info` for the call. The returned string is owned by `info` and valid until `info` is freed.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_description(info: Option<&aisopod_plugin_info>) -> *const c_char {
    field("aisopod_plugin_info_description", info, |i| i.description.as_ptr())
}

/// The author (`[plugin].author`), "" when absent; NULL when `info` is NULL.
///
/// Ownership: borrows `info` for the call. The returned string is owned by `info` and valid until `info` is freed.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_author(info: Option<&aisopod_plugin_info>) -> *const c_char {
    field("aisopod_plugin_info_author", info, |i| i.author.as_ptr())
}

/// The plugin directory, as found under its search path; NULL when `info` is NULL.
///
/// Ownership: borrows `info` for the call. The returned string is owned by `info` and valid until `info` is freed.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_directory(info: Option<&aisopod_plugin_info>) -> *const c_char {
    field("aisopod_plugin_info_directory", info, |i| i.directory.as_ptr())
}

/// The manifest's path; NULL when `info` is NULL.
///
/// Ownership: borrows `info` for the call. The returned string is owned by `info` and valid until `info` is freed.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_manifest_path(info: Option<&aisopod_plugin_info>) -> *const c_char {
    field("aisopod_plugin_info_manifest_path", info, |i| i.manifest_path.as_ptr())
}

/// The library path the loader will open (`<directory>/lib<entry_point>.so` on Linux); it may not exist. NULL when
/// `info` is NULL.
///
/// Ownership: borrows `info` for the call. The returned string is owned by `info` and valid until `info` is freed.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_library_path(info: Option<&aisopod_plugin_info>) -> *const c_char {
    field("aisopod_plugin_info_library_path", info, |i| i.library_path.as_ptr())
}

/// `[compatibility].min_host_version`, normalised; NULL when absent or when `info` is NULL.
///
/// Ownership: borrows `info` for the call. The returned string is owned by `info` and valid until `info` is freed.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_min_host_version(info: Option<&aisopod_plugin_info>) -> *const c_char {
    field("aisopod_plugin_info_min_host_version", info, |i| optional(&i.min_host_version))
}

/// `[compatibility].max_host_version`, normalised; NULL when absent or when `info` is NULL.
///
/// Ownership: borrows `info` for the call. The returned string is owned by `info` and valid until `info` is freed.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_max_host_version(info: Option<&aisopod_plugin_info>) -> *const c_char {
    field("aisopod_plugin_info_max_host_version", info, |i| optional(&i.max_host_version))
}

/// `[plugin].thread_safe`: whether handlers may run concurrently. False when `info` is NULL.
///
/// Ownership: borrows `info` for the call.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_thread_safe(info: Option<&aisopod_plugin_info>) -> bool {
    boundary("aisopod_plugin_info_thread_safe", || info.is_some_and(|i| i.thread_safe))
}

/// `[plugin].unload`: whether unloading closes the library (false keeps it resident). False when `info` is
/// NULL.
///
/// Ownership: borrows `info` for the call.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_unloadable(info: Option<&aisopod_plugin_info>) -> bool {
    boundary("aisopod_plugin_info_unloadable", || info.is_some_and(|i| i.unload))
}

/// The plugin's license (`[plugin].license`, an SPDX expression such as "MIT OR Apache-2.0"); NULL when
/// absent or when `info` is NULL.
///
/// Ownership: borrows `info` for the call. The returned string is owned by `info` and valid until `info` is freed.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_license(info: Option<&aisopod_plugin_info>) -> *const c_char {
    field("aisopod_plugin_info_license", info, |i| optional(&i.license))
}

/// The plugin's home page (`[plugin].homepage`, an absolute URL); NULL when absent or when `info` is NULL.
///
/// Ownership: borrows `info` for the call. The returned string is owned by `info` and valid until `info` is freed.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_homepage(info: Option<&aisopod_plugin_info>) -> *const c_char {
    field("aisopod_plugin_info_homepage", info, |i| optional(&i.homepage))
}

/// The plugin's source repository (`[plugin].repository`, an absolute URL); NULL when absent or when `info` is
/// NULL.
///
/// Ownership: borrows `info` for the call. The returned string is owned by `info` and valid until `info` is freed.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_repository(info: Option<&aisopod_plugin_info>) -> *const c_char {
    field("aisopod_plugin_info_repository", info, |i| optional(&i.repository))
}

/// The library's integrity pin (`[plugin].sha256`): its SHA-256 digest as 64 lower-case hexadecimal digits,
/// which `aisopod_loader_load` checks before it opens the library; NULL when the manifest pins none or when
/// `info` is NULL.
///
/// Ownership: borrows `info` for the call. The returned string is owned by `info` and valid until `info` is freed.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_sha256(info: Option<&aisopod_plugin_info>) -> *const c_char {
    field("aisopod_plugin_info_sha256", info, |i| optional(&i.sha256))
}

/// An optional field's pointer: NULL when the manifest has no such field.
fn optional(value: &Option<CString>) -> *const c_char {
    value.as_ref().map_or(std::ptr::null(), |v| v.as_ptr())
}

/// The number of capabilities of `kind` (an `AISOPOD_CAPABILITY_*` value) the manifest declares; 0 when
/// `info` is NULL or `kind` is unknown.
///
/// Ownership: borrows `info` for the call.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_capability_count(
    info: Option<&aisopod_plugin_info>,
    kind: aisopod_capability_kind,
) -> usize {
    boundary("aisopod_plugin_info_capability_count", || match (info, CapabilityKind::from_abi(kind)) {
        (Some(info), Some(kind)) => info.capabilities[kind].len(),
        _ => 0,
    })
}

/// The `index`-th declared capability name of `kind`, in manifest order; NULL when `info` is NULL, `kind` is
/// unknown or `index` is out of range.
///
/// Ownership: borrows `info` for the call. The returned string is owned by `info` and valid until `info` is freed.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_capability_at(
    info: Option<&aisopod_plugin_info>,
    kind: aisopod_capability_kind,
    index: usize,
) -> *const c_char {
    field("aisopod_plugin_info_capability_at", info, |info| {
        CapabilityKind::from_abi(kind)
            .and_then(|kind| info.capabilities[kind].get(index))
            .map_or(std::ptr::null(), |name| name.as_ptr())
    })
}

/// The number of plugins the manifest's `[dependencies]` names; 0 when `info` is NULL.
///
/// Ownership: borrows `info` for the call.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_dependency_count(info: Option<&aisopod_plugin_info>) -> usize {
    boundary("aisopod_plugin_info_dependency_count", || info.map_or(0, |info| info.dependencies.len()))
}

/// The id of the `index`-th plugin `[dependencies]` names, in manifest order; NULL when `info` is NULL or
/// `index` is out of range.
///
/// Ownership: borrows `info` for the call. The returned string is owned by `info` and valid until `info` is freed.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_dependency_id(info: Option<&aisopod_plugin_info>, index: usize) -> *const c_char {
    field("aisopod_plugin_info_dependency_id", info, |info| {
        info.dependencies.get(index).map_or(std::ptr::null(), |(id, _, _)| id.as_ptr())
    })
}

/// The semver requirement on the `index`-th plugin `[dependencies]` names, as the loader reads it (`"1.2"` is
/// `"^1.2"`); NULL when `info` is NULL or `index` is out of range.
///
/// Ownership: borrows `info` for the call. The returned string is owned by `info` and valid until `info` is freed.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_dependency_requirement(
    info: Option<&aisopod_plugin_info>,
    index: usize,
) -> *const c_char {
    field("aisopod_plugin_info_dependency_requirement", info, |info| {
        info.dependencies.get(index).map_or(std::ptr::null(), |(_, requirement, _)| requirement.as_ptr())
    })
}

/// Whether the `index`-th plugin `[dependencies]` names is optional; false when `info` is NULL or `index` is out
/// of range.
///
/// Ownership: borrows `info` for the call.
#[no_mangle]
pub extern "C" fn aisopod_plugin_info_dependency_optional(info: Option<&aisopod_plugin_info>, index: usize) -> bool {
    boundary("aisopod_plugin_info_dependency_optional", || {
        info.and_then(|info| info.dependencies.get(index)).is_some_and(|(_, _, optional)| *optional)
    })
}
