//! The loader: search configuration, discovery snapshots, and the lifecycle of loaded plugins (load, init,
//! invoke, emit, unload). This is where plugin code gets called, so this module owns every `unsafe` call into
//! a plugin and the checks that come before it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use libloading::Library;
use semver::Version;

use crate::abi::{
    aisopod_capability_kind, aisopod_handler, aisopod_host, aisopod_init_context, aisopod_log_level, aisopod_plugin,
    aisopod_plugin_abi_version_fn, aisopod_plugin_create_fn, aisopod_registrar, aisopod_sink, ABI_VERSION_SYMBOL,
    AISOPOD_ABI_VERSION, CREATE_SYMBOL,
};
use crate::discovery::{Discovery, PluginInfo, SearchConfig};
use crate::error::{Error, Result, Status};
use crate::log::{LogCallback, LogLevel, Logger};
use crate::manifest::{check_capability_name, CapabilityKind, Manifest};
use crate::sync::{lock, read, write};

/// Loads and runs plugins on behalf of one host application.
///
/// A `Loader` is `Send + Sync`: every method takes `&self` and may be called from any thread. Lifecycle
/// operations (load, init, unload) are serialized by one lock; invocations run concurrently.
pub struct Loader {
    host_version: Version,
    search: RwLock<SearchConfig>,
    discovery: RwLock<Arc<Discovery>>,
    loaded: RwLock<LoadedSet>,
    lifecycle: Mutex<()>,
    shared: Arc<HostShared>,
}

/// What every plugin's host struct reaches: the log router and the host's extensions.
#[derive(Default)]
struct HostShared {
    logger: Logger,
    extensions: RwLock<HashMap<String, ExtensionPtr>>,
}

/// A pointer owned by the host application, handed to plugins unchanged.
#[derive(Clone, Copy)]
struct ExtensionPtr(*const c_void);
// SAFETY: the loader never dereferences it; the host application promised, by registering it, that plugins
// may use it from any thread.
unsafe impl Send for ExtensionPtr {}
unsafe impl Sync for ExtensionPtr {}

/// Loaded plugins, in load order and by id.
#[derive(Default)]
struct LoadedSet {
    order: Vec<Arc<LoadedPlugin>>,
    by_id: HashMap<String, Arc<LoadedPlugin>>,
}

/// Whether a loaded plugin's `init` has succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginState {
    /// Loaded and registered, `init` not yet called or failed.
    Loaded,
    /// `init` succeeded: handlers can be invoked.
    Initialized,
}

impl Loader {
    /// Creates a loader for a host application whose version is `host_version` (semver). It searches
    /// `AISOPOD_PLUGIN_PATH` and the default paths unless told otherwise.
    pub fn new(host_version: &str) -> Result<Loader> {
        let host_version = Version::parse(host_version).map_err(|e| {
            Error::new(Status::InvalidArgument, format!("host version {host_version:?} is not a semver version: {e}"))
        })?;
        Ok(Loader {
            host_version,
            search: RwLock::new(SearchConfig::default()),
            discovery: RwLock::default(),
            loaded: RwLock::default(),
            lifecycle: Mutex::new(()),
            shared: Arc::default(),
        })
    }

    /// The host version given to [`Loader::new`].
    pub fn host_version(&self) -> &Version {
        &self.host_version
    }

    /// Appends a search path. A leading `~` is expanded at discovery.
    pub fn add_search_path(&self, path: impl Into<PathBuf>) {
        write(&self.search).host_paths.push(path.into());
    }

    /// Whether discovery reads `AISOPOD_PLUGIN_PATH` (default: yes).
    pub fn set_use_env_path(&self, enabled: bool) {
        write(&self.search).use_env = enabled;
    }

    /// Whether discovery searches the default paths (default: yes).
    pub fn set_use_default_paths(&self, enabled: bool) {
        write(&self.search).use_defaults = enabled;
    }

    /// The search paths discovery would scan now, in order.
    pub fn search_paths(&self) -> Vec<PathBuf> {
        read(&self.search).resolve()
    }

    /// Routes loader and plugin log messages to `callback` as well as to `tracing`.
    pub fn set_log_callback(&self, callback: Option<LogCallback>) {
        self.shared.logger.set_callback(callback);
    }

    /// Registers a host extension that plugins can fetch by `id` through `aisopod_host.get_extension`.
    /// A null `extension` removes it. The pointer stays owned by the caller, who keeps it valid while any
    /// plugin may use it.
    pub fn set_host_extension(&self, id: &str, extension: *const c_void) {
        let mut extensions = write(&self.shared.extensions);
        if extension.is_null() {
            extensions.remove(id);
        } else {
            extensions.insert(id.to_owned(), ExtensionPtr(extension));
        }
    }

    /// Scans the search paths and replaces the previous discovery result. Returns the number of plugins
    /// found. Loaded plugins are unaffected.
    pub fn discover(&self) -> usize {
        let paths = self.search_paths();
        let discovery = Arc::new(Discovery::scan(&paths, &self.shared.logger));
        let count = discovery.plugins().len();
        *write(&self.discovery) = discovery;
        count
    }

    /// The latest discovery result.
    pub fn discovery(&self) -> Arc<Discovery> {
        read(&self.discovery).clone()
    }

    /// The state of a loaded plugin, or `None` when `id` is not loaded.
    pub fn plugin_state(&self, id: &str) -> Option<PluginState> {
        let plugin = read(&self.loaded).by_id.get(id).cloned()?;
        let initialized = read(&plugin.state).initialized;
        Some(if initialized { PluginState::Initialized } else { PluginState::Loaded })
    }

    /// Loads the discovered plugin `id`: checks the host version, resolves and checks the library path, opens
    /// it, checks the ABI version, creates the plugin, validates its struct and registers its capabilities.
    /// On any failure everything done so far is undone.
    pub fn load(&self, id: &str) -> Result<()> {
        let _lifecycle = lock(&self.lifecycle);
        if read(&self.loaded).by_id.contains_key(id) {
            return Err(Error::new(Status::AlreadyLoaded, format!("plugin '{id}' is already loaded")));
        }
        let info = self.discovery().find(id).cloned().ok_or_else(|| {
            Error::new(Status::NotFound, format!("no discovered plugin has id '{id}' (discover first?)"))
        })?;
        let plugin = Arc::new(LoadedPlugin::load(info, &self.host_version, &self.shared)?);
        let mut loaded = write(&self.loaded);
        loaded.by_id.insert(id.to_owned(), plugin.clone());
        loaded.order.push(plugin);
        Ok(())
    }

    /// Calls the loaded plugin's `init` with `config` (UTF-8, JSON by convention) and `data_dir` (may be
    /// empty). Handlers can be invoked only after this succeeds.
    pub fn init(&self, id: &str, config: &str, data_dir: &Path) -> Result<()> {
        let _lifecycle = lock(&self.lifecycle);
        self.get_loaded(id)?.init(config, data_dir)
    }

    /// Calls handler `name` of `kind` in plugin `id` with `input`, writing output to `sink` (discarded when
    /// `None`).
    pub fn invoke(
        &self,
        id: &str,
        kind: CapabilityKind,
        name: &str,
        input: &[u8],
        sink: Option<&aisopod_sink>,
    ) -> Result<()> {
        self.get_loaded(id)?.call(kind, name, input, sink)
    }

    /// Like [`Loader::invoke`], collecting the output into a vector.
    pub fn invoke_to_vec(&self, id: &str, kind: CapabilityKind, name: &str, input: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.invoke(id, kind, name, input, Some(&vec_sink(&mut out)))?;
        Ok(out)
    }

    /// Calls the hook handler for `event` in every initialized plugin that registered one, in load order,
    /// with the same input and sink. Every such handler runs even when one fails. Returns how many ran, or
    /// the first failure.
    pub fn emit(&self, event: &str, input: &[u8], sink: Option<&aisopod_sink>) -> Result<usize> {
        let plugins = read(&self.loaded).order.clone();
        let mut ran = 0;
        let mut first_error = None;
        for plugin in plugins {
            match plugin.call_hook(event, input, sink) {
                Ok(true) => ran += 1,
                Ok(false) => {}
                Err(e) => {
                    ran += 1;
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(ran), Err)
    }

    /// Asks loaded plugin `id` for its optional interface `extension_id`. Returns null when it has none.
    pub fn plugin_extension(&self, id: &str, extension_id: &str) -> Result<*const c_void> {
        self.get_loaded(id)?.extension(extension_id)
    }

    /// Unloads plugin `id`: waits for its running handlers, then calls `shutdown` (if `init` succeeded),
    /// `destroy`, and closes the library. The same id can be loaded again afterwards.
    pub fn unload(&self, id: &str) -> Result<()> {
        let _lifecycle = lock(&self.lifecycle);
        let plugin = {
            let mut loaded = write(&self.loaded);
            let plugin = loaded.by_id.remove(id).ok_or_else(|| not_loaded(id))?;
            loaded.order.retain(|p| !Arc::ptr_eq(p, &plugin));
            plugin
        };
        write(&plugin.state).teardown(&self.shared.logger);
        Ok(())
    }

    fn get_loaded(&self, id: &str) -> Result<Arc<LoadedPlugin>> {
        read(&self.loaded).by_id.get(id).cloned().ok_or_else(|| not_loaded(id))
    }
}

impl Drop for Loader {
    /// Unloads every plugin still loaded, most recently loaded first.
    fn drop(&mut self) {
        let loaded = std::mem::take(&mut *write(&self.loaded));
        for plugin in loaded.order.iter().rev() {
            write(&plugin.state).teardown(&self.shared.logger);
        }
    }
}

fn not_loaded(id: &str) -> Error {
    Error::new(Status::NotLoaded, format!("plugin '{id}' is not loaded"))
}

/// A sink that appends to `out`.
pub fn vec_sink(out: &mut Vec<u8>) -> aisopod_sink {
    unsafe extern "C" fn append(context: *mut c_void, data: *const u8, len: usize) -> i32 {
        // SAFETY: `context` is the `&mut Vec<u8>` given to `vec_sink`, alive for the sink's use; the plugin
        // passes `len` readable bytes at `data`.
        let out = unsafe { &mut *(context as *mut Vec<u8>) };
        if len > 0 {
            out.extend_from_slice(unsafe { std::slice::from_raw_parts(data, len) });
        }
        0
    }
    aisopod_sink { context: out as *mut Vec<u8> as *mut c_void, write: Some(append) }
}

/// The sink used when the caller gives none: it accepts and discards everything.
fn discard_sink() -> aisopod_sink {
    unsafe extern "C" fn discard(_: *mut c_void, _: *const u8, _: usize) -> i32 {
        0
    }
    aisopod_sink { context: std::ptr::null_mut(), write: Some(discard) }
}

/// A handler as registered: the function and its userdata.
#[derive(Clone, Copy)]
struct Handler {
    function: unsafe extern "C" fn(*mut c_void, *const u8, usize, *const aisopod_sink) -> i32,
    userdata: *mut c_void,
}

/// One loaded plugin. Its `state` lock is read-held by every call into the plugin and write-held by init and
/// teardown, so teardown waits for running handlers and no handler starts after it.
struct LoadedPlugin {
    info: Arc<PluginInfo>,
    state: RwLock<Live>,
    /// Held around every handler and extension call when the manifest says `thread_safe = false`.
    serial: Option<Mutex<()>>,
}

/// The parts of a loaded plugin that teardown releases, in the order it releases them.
struct Live {
    plugin_id: String,
    vtable: *const aisopod_plugin,
    handlers: [HashMap<String, Handler>; 5],
    initialized: bool,
    library: Option<Library>,
    /// Outlives `destroy`: the plugin may keep the host pointer until then.
    host: Option<Box<HostBlock>>,
}

// SAFETY: the raw pointers in `Live` point into the plugin's library and data, which the ABI's threading
// contract lets the loader use from any thread; the `state` lock and `serial` mutex enforce the rest of it.
unsafe impl Send for Live {}
unsafe impl Sync for Live {}

impl LoadedPlugin {
    fn load(info: Arc<PluginInfo>, host_version: &Version, shared: &Arc<HostShared>) -> Result<LoadedPlugin> {
        let manifest = &info.manifest;
        let id = manifest.id.as_str();
        manifest.check_host_version(host_version, &info.manifest_path)?;
        let library_path = resolve_library(&info)?;
        let library = open_library(&library_path, !manifest.unload).map_err(|e| {
            Error::new(Status::LibraryLoad, format!("plugin '{id}': cannot load {}: {e}", library_path.display()))
        })?;
        // From here on, dropping `live` tears down whatever exists so far.
        let mut live = Live {
            plugin_id: id.to_owned(),
            vtable: std::ptr::null(),
            handlers: Default::default(),
            initialized: false,
            library: Some(library),
            host: None,
        };
        let library = live.library.as_ref().expect("just set");

        // SAFETY: the symbol's type is fixed by ABI v1; a library exporting it with another type breaks the ABI.
        let abi_version =
            unsafe { symbol::<aisopod_plugin_abi_version_fn>(library, ABI_VERSION_SYMBOL, id, &library_path)? };
        // SAFETY: ABI v1 declares this function pure, with no arguments.
        let found = unsafe { abi_version() };
        if found != AISOPOD_ABI_VERSION {
            return Err(Error::new(
                Status::AbiMismatch,
                format!(
                    "plugin '{id}': {} returns ABI version {found}, expected {AISOPOD_ABI_VERSION} ({})",
                    ABI_VERSION_SYMBOL,
                    library_path.display()
                ),
            ));
        }
        // SAFETY: as above; the ABI version check passed, so the create function has the v1 signature.
        let create = unsafe { symbol::<aisopod_plugin_create_fn>(library, CREATE_SYMBOL, id, &library_path)? };

        let host = live.host.insert(HostBlock::new(id, host_version, shared));
        // SAFETY: the host struct is valid and stays so until after `destroy` (it lives in `live`).
        let vtable = unsafe { create(&host.abi) };
        if vtable.is_null() {
            return Err(Error::new(Status::CreateFailed, format!("plugin '{id}': {CREATE_SYMBOL} returned NULL")));
        }
        // SAFETY: `vtable` is non-null and, by the ABI, points to a struct starting with a u32 `struct_size`.
        let struct_size = unsafe { std::ptr::read(vtable as *const u32) };
        let v1_size = std::mem::size_of::<aisopod_plugin>();
        if (struct_size as usize) < v1_size {
            // Nothing past `struct_size` can be trusted, not even `destroy`: the plugin leaks what it created.
            return Err(Error::new(
                Status::InvalidPluginStruct,
                format!("plugin '{id}': aisopod_plugin.struct_size is {struct_size}, smaller than ABI v1's {v1_size}"),
            ));
        }
        // SAFETY: the struct is at least as large as v1's.
        let plugin = unsafe { &*vtable };
        if plugin.destroy.is_some() {
            live.vtable = vtable;
        }
        let missing: Vec<&str> = [
            ("register_capabilities", plugin.register_capabilities.is_none()),
            ("init", plugin.init.is_none()),
            ("shutdown", plugin.shutdown.is_none()),
            ("destroy", plugin.destroy.is_none()),
        ]
        .into_iter()
        .filter_map(|(name, missing)| missing.then_some(name))
        .collect();
        if !missing.is_empty() {
            return Err(Error::new(
                Status::InvalidPluginStruct,
                format!("plugin '{id}': mandatory function pointer(s) NULL in aisopod_plugin: {}", missing.join(", ")),
            ));
        }
        check_reported_id(plugin.id, manifest, &info.manifest_path)?;
        live.handlers = register(plugin, vtable, manifest, &info)?;
        Ok(LoadedPlugin { serial: (!manifest.thread_safe).then(|| Mutex::new(())), state: RwLock::new(live), info })
    }

    fn id(&self) -> &str {
        &self.info.manifest.id
    }

    fn init(&self, config: &str, data_dir: &Path) -> Result<()> {
        let id = self.id();
        let mut live = write(&self.state);
        let vtable = live.vtable()?;
        if live.initialized {
            return Err(Error::new(Status::AlreadyInitialized, format!("plugin '{id}' is already initialized")));
        }
        let config_c = CString::new(config).map_err(|_| {
            Error::new(Status::InvalidArgument, format!("config for plugin '{id}' contains a NUL byte"))
        })?;
        let data_dir_c = path_to_cstring(data_dir).ok_or_else(|| {
            Error::new(Status::InvalidArgument, format!("data directory for plugin '{id}' contains a NUL byte"))
        })?;
        let context = aisopod_init_context {
            struct_size: std::mem::size_of::<aisopod_init_context>() as u32,
            config: config_c.as_ptr(),
            config_len: config.len(),
            data_dir: data_dir_c.as_ptr(),
        };
        // SAFETY: `vtable` was validated at load and stays valid until teardown, which needs the write lock we
        // hold; `init` is mandatory; `context` outlives the call.
        let code = unsafe { ((*vtable).init.expect("validated at load"))(vtable, &context) };
        if code != 0 {
            return Err(Error::new(Status::InitFailed, format!("plugin '{id}': init returned {code}")));
        }
        live.initialized = true;
        Ok(())
    }

    fn call(&self, kind: CapabilityKind, name: &str, input: &[u8], sink: Option<&aisopod_sink>) -> Result<()> {
        let live = read(&self.state);
        live.vtable()?;
        if !live.initialized {
            return Err(Error::new(Status::NotInitialized, format!("plugin '{}' is not initialized", self.id())));
        }
        let handler = *live.handlers[kind.index()].get(name).ok_or_else(|| {
            Error::new(Status::CapabilityNotFound, format!("plugin '{}' has no {kind} '{name}'", self.id()))
        })?;
        self.run(&handler, kind, name, input, sink)
    }

    /// Runs this plugin's hook for `event`, if it has one and is initialized. Returns whether it ran.
    fn call_hook(&self, event: &str, input: &[u8], sink: Option<&aisopod_sink>) -> Result<bool> {
        let live = read(&self.state);
        if live.vtable.is_null() || !live.initialized {
            return Ok(false);
        }
        match live.handlers[CapabilityKind::Hook.index()].get(event) {
            Some(handler) => self.run(handler, CapabilityKind::Hook, event, input, sink).map(|()| true),
            None => Ok(false),
        }
    }

    /// Calls `handler`; the caller holds the state read lock.
    fn run(
        &self,
        handler: &Handler,
        kind: CapabilityKind,
        name: &str,
        input: &[u8],
        sink: Option<&aisopod_sink>,
    ) -> Result<()> {
        let discard = discard_sink();
        let sink = match sink {
            Some(s) if s.write.is_some() => s,
            _ => &discard,
        };
        let _serial = self.serial.as_ref().map(lock);
        // SAFETY: the handler was registered by this plugin, which stays loaded while we hold the state lock;
        // `input` and `sink` outlive the call; the slice pointer is non-null even when empty.
        let code = unsafe { (handler.function)(handler.userdata, input.as_ptr(), input.len(), sink) };
        if code != 0 {
            return Err(Error::new(
                Status::PluginError,
                format!("plugin '{}' {kind} '{name}' failed with code {code}", self.id()),
            ));
        }
        Ok(())
    }

    fn extension(&self, extension_id: &str) -> Result<*const c_void> {
        let live = read(&self.state);
        let vtable = live.vtable()?;
        let Ok(extension_id) = CString::new(extension_id) else {
            return Ok(std::ptr::null());
        };
        // SAFETY: the vtable is valid while we hold the state lock.
        let Some(get_extension) = (unsafe { (*vtable).get_extension }) else {
            return Ok(std::ptr::null());
        };
        let _serial = self.serial.as_ref().map(lock);
        // SAFETY: as above; the id string outlives the call.
        Ok(unsafe { get_extension(vtable, extension_id.as_ptr()) })
    }
}

impl Live {
    fn vtable(&self) -> Result<*const aisopod_plugin> {
        if self.vtable.is_null() {
            Err(not_loaded(&self.plugin_id))
        } else {
            Ok(self.vtable)
        }
    }

    /// Shuts down (when initialized) and destroys the plugin, then closes its library. Idempotent.
    fn teardown(&mut self, logger: &Logger) {
        let vtable = std::mem::replace(&mut self.vtable, std::ptr::null());
        if !vtable.is_null() {
            // SAFETY: the vtable passed validation (destroy is non-null, shutdown too once registration ran)
            // and is used here for the last time.
            unsafe {
                if self.initialized {
                    if let Some(shutdown) = (*vtable).shutdown {
                        shutdown(vtable);
                    }
                }
                if let Some(destroy) = (*vtable).destroy {
                    destroy(vtable);
                }
            }
        }
        self.initialized = false;
        self.handlers = Default::default();
        if let Some(library) = self.library.take() {
            if let Err(e) = library.close() {
                logger.log(LogLevel::Warn, &format!("plugin '{}': closing its library failed: {e}", self.plugin_id));
            }
        }
        self.host = None;
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        // Teardown normally happens under the loader's logger; a failed load only needs a silent one.
        self.teardown(&Logger::default());
    }
}

/// Resolves the library path through symlinks and refuses one outside the plugin directory.
fn resolve_library(info: &PluginInfo) -> Result<PathBuf> {
    let id = &info.manifest.id;
    let directory = info.directory.canonicalize().map_err(|e| {
        Error::new(
            Status::Io,
            format!("plugin '{id}': cannot resolve plugin directory {}: {e}", info.directory.display()),
        )
    })?;
    let library = info.library_path.canonicalize().map_err(|e| {
        let status = if e.kind() == std::io::ErrorKind::NotFound { Status::LibraryNotFound } else { Status::Io };
        Error::new(
            status,
            format!(
                "plugin '{id}': library {} (from [plugin].entry_point in {}): {e}",
                info.library_path.display(),
                info.manifest_path.display()
            ),
        )
    })?;
    if !library.starts_with(&directory) {
        return Err(Error::new(
            Status::LibraryOutsidePluginDir,
            format!(
                "plugin '{id}': library {} resolves to {}, outside the plugin directory {}",
                info.library_path.display(),
                library.display(),
                directory.display()
            ),
        ));
    }
    if !library.is_file() {
        return Err(Error::new(
            Status::LibraryLoad,
            format!("plugin '{id}': library {} is not a regular file", library.display()),
        ));
    }
    Ok(library)
}

/// Opens a library with `RTLD_NOW | RTLD_LOCAL`, plus `RTLD_NODELETE` when it must stay resident.
#[cfg(unix)]
fn open_library(path: &Path, resident: bool) -> std::result::Result<Library, libloading::Error> {
    use libloading::os::unix::{Library as UnixLibrary, RTLD_LOCAL, RTLD_NOW};
    #[cfg(target_vendor = "apple")]
    const RTLD_NODELETE: std::ffi::c_int = 0x80;
    #[cfg(not(target_vendor = "apple"))]
    const RTLD_NODELETE: std::ffi::c_int = 0x1000;
    let flags = RTLD_NOW | RTLD_LOCAL | if resident { RTLD_NODELETE } else { 0 };
    // SAFETY: running the library's initialisers is what loading a plugin means; the path was checked.
    unsafe { UnixLibrary::open(Some(path), flags) }.map(Library::from)
}

#[cfg(windows)]
fn open_library(path: &Path, _resident: bool) -> std::result::Result<Library, libloading::Error> {
    // SAFETY: as on Unix.
    unsafe { Library::new(path) }
}

/// Looks up `name` in `library`.
///
/// # Safety
/// `T` must be the symbol's real type.
unsafe fn symbol<T: Copy>(library: &Library, name: &str, id: &str, path: &Path) -> Result<T> {
    let mut c_name = name.as_bytes().to_vec();
    c_name.push(0);
    // SAFETY: forwarded to the caller.
    let symbol = unsafe { library.get::<T>(&c_name) }.map_err(|_| {
        Error::new(Status::MissingSymbol, format!("plugin '{id}': {} does not export {name}", path.display()))
    })?;
    Ok(*symbol)
}

fn check_reported_id(reported: *const c_char, manifest: &Manifest, manifest_path: &Path) -> Result<()> {
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

/// The state `register_capability` writes to during `register_capabilities`.
struct Registration {
    handlers: [HashMap<String, Handler>; 5],
    refused: Vec<String>,
}

impl Registration {
    fn add(
        &mut self,
        kind: aisopod_capability_kind,
        name: *const c_char,
        handler: aisopod_handler,
        userdata: *mut c_void,
    ) -> Status {
        let Some(kind) = CapabilityKind::from_abi(kind) else {
            self.refused.push(format!("unknown capability kind {kind}"));
            return Status::InvalidArgument;
        };
        if name.is_null() {
            self.refused.push(format!("a {kind} with a NULL name"));
            return Status::NullArgument;
        }
        // SAFETY: a non-null name is NUL-terminated, by the ABI.
        let Ok(name) = unsafe { CStr::from_ptr(name) }.to_str() else {
            self.refused.push(format!("a {kind} whose name is not UTF-8"));
            return Status::InvalidUtf8;
        };
        if let Err(why) = check_capability_name(name) {
            self.refused.push(format!("{kind} '{name}': {why}"));
            return Status::InvalidArgument;
        }
        let Some(function) = handler else {
            self.refused.push(format!("{kind} '{name}' with a NULL handler"));
            return Status::NullArgument;
        };
        if self.handlers[kind.index()].contains_key(name) {
            self.refused.push(format!("{kind} '{name}' registered twice"));
            return Status::InvalidArgument;
        }
        self.handlers[kind.index()].insert(name.to_owned(), Handler { function, userdata });
        Status::Ok
    }
}

unsafe extern "C" fn register_capability(
    registrar: *const aisopod_registrar,
    kind: aisopod_capability_kind,
    name: *const c_char,
    handler: aisopod_handler,
    userdata: *mut c_void,
) -> i32 {
    let status = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the registrar is the loader's, alive during `register_capabilities`, and its context is the
        // `RefCell<Registration>` on `register`'s stack.
        let Some(registrar) = (unsafe { registrar.as_ref() }) else { return Status::NullArgument };
        let cell = unsafe { &*(registrar.context as *const RefCell<Registration>) };
        match cell.try_borrow_mut() {
            Ok(mut registration) => registration.add(kind, name, handler, userdata),
            Err(_) => Status::InvalidArgument,
        }
    }));
    status.unwrap_or(Status::Panic) as i32
}

/// Calls the plugin's `register_capabilities` and checks the result against the manifest.
fn register(
    plugin: &aisopod_plugin,
    vtable: *const aisopod_plugin,
    manifest: &Manifest,
    info: &PluginInfo,
) -> Result<[HashMap<String, Handler>; 5]> {
    let id = &manifest.id;
    let cell = RefCell::new(Registration { handlers: Default::default(), refused: Vec::new() });
    let registrar = aisopod_registrar {
        struct_size: std::mem::size_of::<aisopod_registrar>() as u32,
        context: &cell as *const RefCell<Registration> as *mut c_void,
        register_capability: Some(register_capability),
    };
    // SAFETY: validated non-null at load; the registrar and its context outlive the call.
    let code = unsafe { (plugin.register_capabilities.expect("validated"))(vtable, &registrar) };
    let registration = cell.into_inner();
    if !registration.refused.is_empty() {
        return Err(Error::new(
            Status::RegistrationFailed,
            format!("plugin '{id}': registration refused: {}", registration.refused.join("; ")),
        ));
    }
    if code != 0 {
        return Err(Error::new(
            Status::RegistrationFailed,
            format!("plugin '{id}': register_capabilities returned {code}"),
        ));
    }
    let mut problems = Vec::new();
    for kind in CapabilityKind::ALL {
        let declared = manifest.declared(kind);
        let registered = &registration.handlers[kind.index()];
        let key = kind.manifest_key();
        let mut undeclared: Vec<&String> = registered.keys().filter(|name| !declared.contains(name)).collect();
        undeclared.sort();
        for name in undeclared {
            problems.push(format!("registered {kind} '{name}', which [capabilities].{key} does not declare"));
        }
        for name in declared.iter().filter(|name| !registered.contains_key(*name)) {
            problems.push(format!("declares {kind} '{name}' in [capabilities].{key} but never registered it"));
        }
    }
    if !problems.is_empty() {
        return Err(Error::new(
            Status::CapabilityMismatch,
            format!("plugin '{id}' ({}): {}", info.manifest_path.display(), problems.join("; ")),
        ));
    }
    Ok(registration.handlers)
}

/// A plugin's host struct and what its callbacks need. `abi` comes first, so a `*const aisopod_host` the
/// plugin hands back is a `*const HostBlock`.
#[repr(C)]
struct HostBlock {
    abi: aisopod_host,
    plugin_id: String,
    host_version: CString,
    shared: Arc<HostShared>,
}

impl HostBlock {
    fn new(plugin_id: &str, host_version: &Version, shared: &Arc<HostShared>) -> Box<HostBlock> {
        let host_version = CString::new(host_version.to_string()).expect("semver has no NUL");
        Box::new(HostBlock {
            abi: aisopod_host {
                struct_size: std::mem::size_of::<aisopod_host>() as u32,
                abi_version: AISOPOD_ABI_VERSION,
                host_version: host_version.as_ptr(),
                log: Some(host_log),
                get_extension: Some(host_get_extension),
            },
            plugin_id: plugin_id.to_owned(),
            host_version,
            shared: shared.clone(),
        })
    }

    /// # Safety
    /// `host` is null or a host struct the loader handed to a plugin that is still loaded.
    unsafe fn from_abi<'a>(host: *const aisopod_host) -> Option<&'a HostBlock> {
        // SAFETY: forwarded to the caller; `abi` is the first field of a `repr(C)` struct.
        unsafe { (host as *const HostBlock).as_ref() }
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

#[cfg(unix)]
fn path_to_cstring(path: &Path) -> Option<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes()).ok()
}

#[cfg(not(unix))]
fn path_to_cstring(path: &Path) -> Option<CString> {
    CString::new(path.to_string_lossy().into_owned()).ok()
}
