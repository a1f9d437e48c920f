//! The host struct each plugin receives (`aisopod_host`): its memory, and the `log` and `get_extension`
//! callbacks plugins call through it.

use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::{Arc, RwLock, Weak};

use semver::Version;

use super::LoadedPlugin;
use crate::abi::{aisopod_host, aisopod_log_level, AISOPOD_ABI_VERSION};
use crate::log::{LogLevel, Logger};
use crate::manifest::Dependency;
use crate::sync::read;

/// What every plugin's host struct reaches: the log router, the host application's extensions, and the
/// plugins loaded in this process, whose interfaces the plugins that depend on them may fetch.
#[derive(Default)]
pub(crate) struct HostShared {
    pub(crate) logger: Logger,
    pub(crate) extensions: RwLock<HashMap<String, ExtensionPtr>>,
    /// The plugins loaded in this process, by id; kept by the loader as it loads, reloads and unloads them.
    pub(crate) services: RwLock<HashMap<String, Weak<LoadedPlugin>>>,
}

/// A pointer owned by the host application, handed to plugins unchanged.
#[derive(Clone, Copy)]
pub(crate) struct ExtensionPtr(pub(crate) *const c_void);
// SAFETY: the loader never dereferences it; the host application, by registering it, lets plugins use it from
// any thread.
unsafe impl Send for ExtensionPtr {}
unsafe impl Sync for ExtensionPtr {}

/// The host block handed to one plugin, owned through a raw pointer so that moving its owner never invalidates
/// the pointer the plugin keeps.
pub(super) struct HostPtr(NonNull<HostBlock>);

// SAFETY: the block is immutable after creation except through its own locks, and is freed once, by `Drop`.
unsafe impl Send for HostPtr {}

impl HostPtr {
    /// The host block of plugin `plugin_id`, which may fetch the interfaces of `dependencies`.
    pub(super) fn new(
        plugin_id: &str,
        dependencies: &[Dependency],
        host_version: &Version,
        shared: &Arc<HostShared>,
    ) -> HostPtr {
        HostPtr(NonNull::from(Box::leak(HostBlock::new(plugin_id, dependencies, host_version, shared))))
    }

    /// The pointer to give the plugin: it covers the whole block, whose first field is the ABI struct.
    pub(super) fn abi(&self) -> *const aisopod_host {
        self.0.as_ptr().cast()
    }

    /// The log router this plugin's messages go to.
    pub(super) fn logger(&self) -> &Logger {
        // SAFETY: the block lives as long as `self`.
        unsafe { &self.0.as_ref().shared.logger }
    }
}

impl Drop for HostPtr {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `Box::leak` in `new` and is dropped once, after the plugin's `destroy`.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

/// A plugin's host struct and what its callbacks need. `abi` comes first in a `repr(C)` struct, so the
/// pointer the plugin hands back, which covers the whole block, can be cast back to it.
#[repr(C)]
struct HostBlock {
    abi: aisopod_host,
    plugin_id: String,
    /// The plugin's `[dependencies]`: the plugins whose interfaces it may fetch, and the versions that will do.
    dependencies: Vec<Dependency>,
    host_version: CString,
    shared: Arc<HostShared>,
}

impl HostBlock {
    fn new(
        plugin_id: &str,
        dependencies: &[Dependency],
        host_version: &Version,
        shared: &Arc<HostShared>,
    ) -> Box<HostBlock> {
        let host_version = CString::new(host_version.to_string()).expect("semver has no NUL");
        Box::new(HostBlock {
            abi: aisopod_host {
                struct_size: std::mem::size_of::<aisopod_host>() as u32,
                abi_version: AISOPOD_ABI_VERSION,
                host_version: host_version.as_ptr(),
                log: Some(host_log),
                get_extension: Some(host_get_extension),
                get_dependency_extension: Some(host_get_dependency_extension),
            },
            plugin_id: plugin_id.to_owned(),
            dependencies: dependencies.to_vec(),
            host_version,
            shared: shared.clone(),
        })
    }

    /// # Safety
    /// `host` is null or the pointer [`HostPtr::abi`] gave a plugin that has not been destroyed yet.
    unsafe fn from_abi<'a>(host: *const aisopod_host) -> Option<&'a HostBlock> {
        // SAFETY: forwarded to the caller.
        unsafe { host.cast::<HostBlock>().as_ref() }
    }

    /// Interface `extension_id` of dependency `dependency_id`, when this plugin declares it and it is loaded here
    /// in a version the declaration accepts; otherwise `None`, logged.
    fn dependency_extension(&self, dependency_id: &str, extension_id: &str) -> Option<*const c_void> {
        let logger = &self.shared.logger;
        let plugin_id = &self.plugin_id;
        let asked = format!("plugin '{plugin_id}' asked for interface '{extension_id}' of plugin '{dependency_id}'");
        let Some(declared) = self.dependencies.iter().find(|d| d.id == dependency_id) else {
            let message = format!("{asked}, which its [dependencies] do not name: it gets NULL");
            logger.log(LogLevel::Warn, &message);
            return None;
        };
        let Some(dependency) = read(&self.shared.services).get(dependency_id).and_then(Weak::upgrade) else {
            logger.log(LogLevel::Debug, &format!("{asked}, which is not loaded in this process: it gets NULL"));
            return None;
        };
        let version = &dependency.info.manifest.version;
        if !declared.requirement.matches(version) {
            let requirement = &declared.requirement;
            let message = format!("{asked}, which is version {version}, outside the {requirement} it declares: NULL");
            logger.log(LogLevel::Warn, &message);
            return None;
        }
        dependency.extension(extension_id).ok().filter(|extension| !extension.is_null())
    }
}

unsafe extern "C" fn host_log(host: *const aisopod_host, level: aisopod_log_level, message: *const c_char) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the plugin passes back the host struct it was given, by the ABI.
        let Some(block) = (unsafe { HostBlock::from_abi(host) }) else { return };
        if message.is_null() {
            return;
        }
        // SAFETY: a non-null message is NUL-terminated, by the ABI.
        let message = unsafe { CStr::from_ptr(message) }.to_string_lossy();
        block.shared.logger.log_from(LogLevel::from_abi(level), &block.plugin_id, &message);
    }));
}

unsafe extern "C" fn host_get_extension(host: *const aisopod_host, id: *const c_char) -> *const c_void {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: as in `host_log`.
        let block = unsafe { HostBlock::from_abi(host) }?;
        if id.is_null() {
            return None;
        }
        // SAFETY: a non-null id is NUL-terminated, by the ABI.
        let id = unsafe { CStr::from_ptr(id) }.to_str().ok()?;
        read(&block.shared.extensions).get(id).map(|e| e.0)
    }))
    .ok()
    .flatten()
    .unwrap_or(std::ptr::null())
}

unsafe extern "C" fn host_get_dependency_extension(
    host: *const aisopod_host,
    dependency_id: *const c_char,
    extension_id: *const c_char,
) -> *const c_void {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: as in `host_log`.
        let block = unsafe { HostBlock::from_abi(host) }?;
        if dependency_id.is_null() || extension_id.is_null() {
            return None;
        }
        // SAFETY: non-null ids are NUL-terminated, by the ABI.
        let dependency_id = unsafe { CStr::from_ptr(dependency_id) }.to_str().ok()?;
        let extension_id = unsafe { CStr::from_ptr(extension_id) }.to_str().ok()?;
        block.dependency_extension(dependency_id, extension_id)
    }))
    .ok()
    .flatten()
    .unwrap_or(std::ptr::null())
}
