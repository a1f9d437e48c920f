//! One loaded plugin: the load sequence and its checks, calls into the plugin, and teardown. This module owns
//! every `unsafe` call into plugin code.
//!
//! No lock is held while plugin code runs. A call into a handler registers itself in an in-flight count while
//! holding the state lock briefly; teardown closes the plugin to new calls under the same lock, waits for the
//! count to drain, and only then calls `shutdown` and `destroy`. A thread-local depth counter marks threads
//! that are inside plugin code, so lifecycle calls made from a plugin callback fail instead of deadlocking.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use libloading::Library;
use semver::Version;

use crate::abi::{
    aisopod_capability_kind, aisopod_handler, aisopod_host, aisopod_init_context, aisopod_log_level, aisopod_plugin,
    aisopod_plugin_abi_version_fn, aisopod_plugin_create_fn, aisopod_registrar, aisopod_sink, AISOPOD_ABI_VERSION,
    AISOPOD_PLUGIN_PANICKED,
};
use crate::cache::BuildFnv;
use crate::discovery::PluginInfo;
use crate::error::{Error, Result, Status};
use crate::log::{LogLevel, Logger};
use crate::manifest::{check_capability_name, CapabilityKind, Manifest};
use crate::sync::{lock, read, write};

/// The exported symbol a plugin's ABI version is read from.
const ABI_VERSION_SYMBOL: &str = "aisopod_plugin_abi_version";
/// The exported symbol that creates a plugin.
const CREATE_SYMBOL: &str = "aisopod_plugin_create";

/// How a plugin's non-zero return code reads in a message.
fn describe_code(code: i32) -> String {
    if code == AISOPOD_PLUGIN_PANICKED {
        format!("{code} (the plugin panicked)")
    } else {
        code.to_string()
    }
}

/// What every plugin's host struct reaches: the log router and the host application's extensions.
#[derive(Default)]
pub(crate) struct HostShared {
    pub(crate) logger: Logger,
    pub(crate) extensions: RwLock<HashMap<String, ExtensionPtr>>,
}

/// A pointer owned by the host application, handed to plugins unchanged.
#[derive(Clone, Copy)]
pub(crate) struct ExtensionPtr(pub(crate) *const c_void);
// SAFETY: the loader never dereferences it; the host application, by registering it, lets plugins use it from
// any thread.
unsafe impl Send for ExtensionPtr {}
unsafe impl Sync for ExtensionPtr {}

thread_local! {
    /// How many calls into plugin code are active on this thread.
    static PLUGIN_DEPTH: Cell<u32> = const { Cell::new(0) };
    /// The registration in progress on this thread, during `register_capabilities`.
    static REGISTRATION: RefCell<Option<Registration>> = const { RefCell::new(None) };
    /// A small unique id for this thread, for re-entrancy checks on serialized plugins.
    static THREAD_TOKEN: u64 = {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        NEXT.fetch_add(1, Ordering::Relaxed)
    };
}

/// Runs `f`, which calls plugin code, with this thread marked as inside a plugin.
fn in_plugin<R>(f: impl FnOnce() -> R) -> R {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            PLUGIN_DEPTH.with(|d| d.set(d.get() - 1));
        }
    }
    PLUGIN_DEPTH.with(|d| d.set(d.get() + 1));
    let _leave = Leave;
    f()
}

/// Refuses a lifecycle call made from inside plugin code on this thread, which would deadlock.
pub(crate) fn refuse_reentry(operation: &str) -> Result<()> {
    if PLUGIN_DEPTH.with(Cell::get) > 0 {
        return Err(Error::new(
            Status::Reentrant,
            format!("{operation} was called from inside a plugin callback; lifecycle calls must come from host code"),
        ));
    }
    Ok(())
}

/// A handler as registered: the function and its userdata.
#[derive(Clone, Copy)]
struct Handler {
    function: unsafe extern "C" fn(*mut c_void, *const u8, usize, *const aisopod_sink) -> i32,
    userdata: *mut c_void,
}

/// The host block handed to one plugin, owned through a raw pointer so that moving its owner never invalidates
/// the pointer the plugin keeps.
struct HostPtr(NonNull<HostBlock>);

impl HostPtr {
    fn new(plugin_id: &str, host_version: &Version, shared: &Arc<HostShared>) -> HostPtr {
        HostPtr(NonNull::from(Box::leak(HostBlock::new(plugin_id, host_version, shared))))
    }

    /// The pointer to give the plugin: it covers the whole block, whose first field is the ABI struct.
    fn abi(&self) -> *const aisopod_host {
        self.0.as_ptr().cast()
    }
}

impl Drop for HostPtr {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `Box::leak` in `new` and is dropped once, after the plugin's `destroy`.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

/// Serializes the calls into a `thread_safe = false` plugin, and refuses same-thread re-entry, which would
/// otherwise deadlock.
struct Serial {
    lock: Mutex<()>,
    owner: AtomicU64,
}

/// One loaded plugin.
pub(crate) struct LoadedPlugin {
    info: Arc<PluginInfo>,
    /// Held only briefly, never while plugin code runs.
    live: RwLock<Live>,
    /// Calls running in the plugin. Counted without a lock; teardown sets `closing`, then waits on `drained`
    /// for the count to reach zero, and the call that brings it there wakes it.
    in_flight: AtomicUsize,
    closing: std::sync::atomic::AtomicBool,
    drain_lock: Mutex<()>,
    drained: Condvar,
    serial: Option<Serial>,
    /// Resolved capability handles alive; unload refuses while there are any.
    pins: AtomicUsize,
}

/// What a loaded plugin holds until teardown.
struct Live {
    plugin_id: String,
    /// Null once the plugin is closed to new calls.
    vtable: *const aisopod_plugin,
    handlers: [HashMap<String, Handler, BuildFnv>; 5],
    initialized: bool,
    init_failed: bool,
    library: Option<Library>,
    /// Outlives `destroy`: the plugin may use the host pointer until then.
    host: Option<HostPtr>,
}

// SAFETY: the raw pointers point into the plugin's library and data, which the ABI's threading contract lets
// the loader use from any thread; the in-flight count, the state lock and `Serial` enforce the rest of it.
unsafe impl Send for Live {}
unsafe impl Sync for Live {}

/// The parts of a closed plugin that teardown still has to release, taken out of `Live` under its lock.
struct Closing {
    plugin_id: String,
    vtable: *const aisopod_plugin,
    initialized: bool,
    library: Option<Library>,
    host: Option<HostPtr>,
}

impl Live {
    fn open_vtable(&self) -> Result<*const aisopod_plugin> {
        if self.vtable.is_null() {
            Err(Error::new(Status::NotLoaded, format!("plugin '{}' is not loaded", self.plugin_id)))
        } else {
            Ok(self.vtable)
        }
    }

    /// Closes the plugin to new calls and takes what teardown releases.
    fn close(&mut self) -> Closing {
        self.handlers = Default::default();
        Closing {
            plugin_id: std::mem::take(&mut self.plugin_id),
            vtable: std::mem::replace(&mut self.vtable, std::ptr::null()),
            initialized: std::mem::take(&mut self.initialized),
            library: self.library.take(),
            host: self.host.take(),
        }
    }
}

impl Drop for Live {
    /// Tears down a plugin whose load failed part-way (nothing else can be running in it).
    fn drop(&mut self) {
        self.close().finish(&Logger::default());
    }
}

impl Closing {
    /// Calls `shutdown` (when initialized) and `destroy`, then closes the library and frees the host block.
    fn finish(mut self, logger: &Logger) {
        if !self.vtable.is_null() {
            let vtable = self.vtable;
            // SAFETY: the vtable passed validation and no other call into the plugin is running or can start.
            in_plugin(|| unsafe {
                if self.initialized {
                    if let Some(shutdown) = (*vtable).shutdown {
                        shutdown(vtable);
                    }
                }
                if let Some(destroy) = (*vtable).destroy {
                    destroy(vtable);
                }
            });
        }
        if let Some(library) = self.library.take() {
            if let Err(e) = library.close() {
                logger.log(LogLevel::Warn, &format!("plugin '{}': closing its library failed: {e}", self.plugin_id));
            }
        }
        drop(self.host.take());
    }
}

/// Libraries and host blocks of plugins that could not be destroyed (their struct was unusable). The plugin
/// may still run code that uses them, so they are kept for the life of the process.
static ABANDONED: Mutex<Vec<(Library, HostPtr)>> = Mutex::new(Vec::new());
// SAFETY (for the static above): nothing in it is ever used again; it only keeps memory mapped and allocated.
unsafe impl Send for HostPtr {}

impl LoadedPlugin {
    /// Runs the load sequence, in the documented order, for `info`.
    pub(crate) fn load(
        info: Arc<PluginInfo>,
        host_version: &Version,
        shared: &Arc<HostShared>,
    ) -> Result<LoadedPlugin> {
        let manifest = &info.manifest;
        let id = manifest.id.as_str();
        manifest.check_host_version(host_version, &info.manifest_path())?;
        let library_path = resolve_library(&info)?;
        let library = open_library(&library_path, !manifest.unload).map_err(|e| {
            Error::new(Status::LibraryLoad, format!("plugin '{id}': cannot load {}: {e}", library_path.display()))
        })?;
        let refuse = |status: Status, what: String| {
            Error::new(status, format!("plugin '{id}' ({}): {what}", library_path.display()))
        };
        // From here on, dropping `live` tears down whatever exists so far.
        let mut live = Live {
            plugin_id: id.to_owned(),
            vtable: std::ptr::null(),
            handlers: Default::default(),
            initialized: false,
            init_failed: false,
            library: Some(library),
            host: None,
        };
        let library = live.library.as_ref().expect("just set");

        // SAFETY: the symbol's type is fixed by ABI v1.
        let abi_version = unsafe { symbol::<aisopod_plugin_abi_version_fn>(library, ABI_VERSION_SYMBOL) }
            .map_err(|e| refuse(Status::MissingSymbol, e))?;
        // SAFETY: ABI v1 declares this function pure, without arguments.
        let found = in_plugin(|| unsafe { abi_version() });
        if found != AISOPOD_ABI_VERSION {
            return Err(refuse(
                Status::AbiMismatch,
                format!("{ABI_VERSION_SYMBOL} returns ABI version {found}, expected {AISOPOD_ABI_VERSION}"),
            ));
        }
        // SAFETY: the ABI version matched, so the create function has the v1 signature.
        let create = unsafe { symbol::<aisopod_plugin_create_fn>(library, CREATE_SYMBOL) }
            .map_err(|e| refuse(Status::MissingSymbol, e))?;

        let host = live.host.insert(HostPtr::new(id, host_version, shared)).abi();
        // SAFETY: the host block stays allocated until after `destroy` (it lives in `live`).
        let vtable = in_plugin(|| unsafe { create(host) });
        if vtable.is_null() {
            return Err(refuse(Status::CreateFailed, format!("{CREATE_SYMBOL} returned NULL")));
        }
        // SAFETY: a non-null result points, by the ABI, to a struct starting with a u32 `struct_size`.
        let struct_size = unsafe { std::ptr::read(vtable.cast::<u32>()) };
        let v1_size = std::mem::size_of::<aisopod_plugin>();
        if (struct_size as usize) < v1_size {
            abandon(&mut live);
            return Err(refuse(
                Status::InvalidPluginStruct,
                format!("aisopod_plugin.struct_size is {struct_size}, smaller than ABI v1's {v1_size}"),
            ));
        }
        // A copy: the plugin may write to its own struct while its functions run.
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
            abandon(&mut live);
        } else {
            // Set before the remaining checks, so their failures destroy the plugin.
            live.vtable = vtable;
        }
        if !missing.is_empty() {
            return Err(refuse(
                Status::InvalidPluginStruct,
                format!("mandatory function pointer(s) NULL in aisopod_plugin: {}", missing.join(", ")),
            ));
        }
        check_reported_id(plugin.id, manifest, &info.manifest_path())?;
        live.handlers = register(plugin.register_capabilities.expect("checked above"), vtable, &info)?;
        let serial = (!manifest.thread_safe).then(|| Serial { lock: Mutex::new(()), owner: AtomicU64::new(0) });
        Ok(LoadedPlugin {
            info,
            live: RwLock::new(live),
            in_flight: AtomicUsize::new(0),
            closing: std::sync::atomic::AtomicBool::new(false),
            drain_lock: Mutex::new(()),
            drained: Condvar::new(),
            serial,
            pins: AtomicUsize::new(0),
        })
    }

    fn id(&self) -> &str {
        &self.info.manifest.id
    }

    /// Whether `init` has succeeded.
    pub(crate) fn is_initialized(&self) -> bool {
        read(&self.live).initialized
    }

    /// Calls `init`. The caller holds the loader's lifecycle lock, so no teardown runs meanwhile.
    pub(crate) fn init(&self, config: &str, data_dir: &Path) -> Result<()> {
        let id = self.id();
        let vtable = {
            let live = read(&self.live);
            let vtable = live.open_vtable()?;
            if live.initialized {
                return Err(Error::new(Status::AlreadyInitialized, format!("plugin '{id}' is already initialized")));
            }
            if live.init_failed {
                return Err(Error::new(
                    Status::InitFailed,
                    format!("plugin '{id}': init already failed for this load; unload it and load it again"),
                ));
            }
            vtable
        };
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
        // SAFETY: `vtable` was validated at load and stays valid: teardown needs the lifecycle lock the caller
        // holds. `init` is mandatory. `context` outlives the call.
        let code = in_plugin(|| unsafe { ((*vtable).init.expect("validated at load"))(vtable, &context) });
        let mut live = write(&self.live);
        if code != 0 {
            live.init_failed = true;
            return Err(Error::new(
                Status::InitFailed,
                format!("plugin '{id}': init returned {}", describe_code(code)),
            ));
        }
        live.initialized = true;
        Ok(())
    }

    /// Calls handler `name` of `kind`.
    pub(crate) fn call(
        &self,
        kind: CapabilityKind,
        name: &str,
        input: &[u8],
        sink: Option<&aisopod_sink>,
    ) -> Result<()> {
        let handler = {
            let live = read(&self.live);
            let handler = self.handler(&live, kind, name)?;
            self.enter();
            handler
        };
        let _exit = InFlight(self);
        self.run(&handler, kind, name, input, sink)
    }

    /// Calls this plugin's hook for `event`, if it has one and is initialized. Returns whether it ran.
    pub(crate) fn call_hook(&self, event: &str, input: &[u8], sink: Option<&aisopod_sink>) -> Result<bool> {
        let handler = {
            let live = read(&self.live);
            if live.vtable.is_null() || !live.initialized {
                return Ok(false);
            }
            let Some(handler) = live.handlers[CapabilityKind::Hook.index()].get(event).copied() else {
                return Ok(false);
            };
            self.enter();
            handler
        };
        let _exit = InFlight(self);
        self.run(&handler, CapabilityKind::Hook, event, input, sink).map(|()| true)
    }

    /// Asks the plugin for its optional interface `extension_id`; null when it has none.
    pub(crate) fn extension(&self, extension_id: &str) -> Result<*const c_void> {
        let vtable = {
            let live = read(&self.live);
            let vtable = live.open_vtable()?;
            self.enter();
            vtable
        };
        let _exit = InFlight(self);
        let Ok(extension_id) = CString::new(extension_id) else {
            return Ok(std::ptr::null());
        };
        // SAFETY: the vtable stays valid while this call is in flight.
        let Some(get_extension) = (unsafe { (*vtable).get_extension }) else {
            return Ok(std::ptr::null());
        };
        let _serial = self.serialize()?;
        // SAFETY: as above; the id string outlives the call.
        Ok(in_plugin(|| unsafe { get_extension(vtable, extension_id.as_ptr()) }))
    }

    /// The handler `name` of `kind`, if the plugin is open and initialized. The caller holds the state lock.
    fn handler(&self, live: &Live, kind: CapabilityKind, name: &str) -> Result<Handler> {
        live.open_vtable()?;
        if !live.initialized {
            return Err(Error::new(Status::NotInitialized, format!("plugin '{}' is not initialized", self.id())));
        }
        live.handlers[kind.index()].get(name).copied().ok_or_else(|| {
            Error::new(Status::CapabilityNotFound, format!("plugin '{}' has no {kind} '{name}'", self.id()))
        })
    }

    /// Resolves handler `name` of `kind` into a handle that calls it without a lookup or a lock. The plugin
    /// cannot be unloaded while the handle lives.
    pub(crate) fn resolve(self: &Arc<Self>, kind: CapabilityKind, name: &str) -> Result<Resolved> {
        let live = read(&self.live);
        let handler = self.handler(&live, kind, name)?;
        // Counted under the state lock, which teardown takes to check the count.
        self.pins.fetch_add(1, Ordering::Relaxed);
        Ok(Resolved { plugin: self.clone(), handler, kind, name: name.into() })
    }

    /// Closes the plugin to new calls, waits for running ones, then shuts it down, destroys it and closes its
    /// library. The caller holds the loader's lifecycle lock. Unless `force`, refuses while resolved handles
    /// exist, since they call the plugin without checking.
    pub(crate) fn teardown(&self, logger: &Logger, force: bool) -> Result<()> {
        let closing = {
            let mut live = write(&self.live);
            let pins = self.pins.load(Ordering::Relaxed);
            if pins > 0 && !force {
                return Err(Error::new(
                    Status::Busy,
                    format!(
                        "plugin '{}' has {pins} resolved capability handle(s); free them before unloading",
                        self.id()
                    ),
                ));
            }
            live.close()
        };
        // Sequentially consistent with the exits' decrement and load of `closing`: either an exit sees
        // `closing` and wakes us, or we see its decrement.
        self.closing.store(true, Ordering::SeqCst);
        let mut guard = lock(&self.drain_lock);
        while self.in_flight.load(Ordering::SeqCst) > 0 {
            guard = self.drained.wait(guard).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        drop(guard);
        closing.finish(logger);
        Ok(())
    }

    /// Counts a call in; the caller holds the state read lock, so teardown cannot miss it.
    fn enter(&self) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
    }

    fn serialize(&self) -> Result<Option<SerialGuard<'_>>> {
        let Some(serial) = &self.serial else { return Ok(None) };
        let me = THREAD_TOKEN.with(|t| *t);
        if serial.owner.load(Ordering::Acquire) == me {
            return Err(Error::new(
                Status::Reentrant,
                format!("plugin '{}' has thread_safe = false and was re-entered from its own callback", self.id()),
            ));
        }
        let guard = lock(&serial.lock);
        serial.owner.store(me, Ordering::Release);
        Ok(Some(SerialGuard { serial, _guard: guard }))
    }

    /// Calls `handler`, which is counted in flight.
    fn run(
        &self,
        handler: &Handler,
        kind: CapabilityKind,
        name: &str,
        input: &[u8],
        sink: Option<&aisopod_sink>,
    ) -> Result<()> {
        let sink = match sink {
            Some(s) if s.write.is_some() => s,
            _ => &DISCARD.0,
        };
        let _serial = self.serialize()?;
        // SAFETY: the handler was registered by this plugin, which stays loaded while the call is in flight;
        // `input` and `sink` outlive the call; a slice pointer is non-null even when empty.
        let code = in_plugin(|| unsafe { (handler.function)(handler.userdata, input.as_ptr(), input.len(), sink) });
        if code != 0 {
            return Err(self.handler_failed(kind, name, code));
        }
        Ok(())
    }

    #[cold]
    fn handler_failed(&self, kind: CapabilityKind, name: &str, code: i32) -> Error {
        Error::new(
            Status::PluginError,
            format!("plugin '{}' {kind} '{name}' failed with code {}", self.id(), describe_code(code)),
        )
    }
}

/// A resolved capability: the plugin, pinned, and its handler.
pub(crate) struct Resolved {
    plugin: Arc<LoadedPlugin>,
    handler: Handler,
    kind: CapabilityKind,
    name: Box<str>,
}

// SAFETY: the handler may be called from any thread by the ABI's threading contract; `Serial` covers
// `thread_safe = false` plugins.
unsafe impl Send for Resolved {}
unsafe impl Sync for Resolved {}

impl Resolved {
    /// Calls the handler: no lookup, no lock (unless the plugin is serialized), no allocation.
    ///
    /// The re-entrancy mark `run` sets is not needed here: no loader lock is held and the plugin is pinned,
    /// so a lifecycle call from inside the handler cannot deadlock on this call.
    #[inline]
    pub(crate) fn invoke(&self, input: &[u8], sink: Option<&aisopod_sink>) -> Result<()> {
        if self.plugin.serial.is_some() {
            return self.plugin.run(&self.handler, self.kind, &self.name, input, sink);
        }
        let sink = match sink {
            Some(sink) if sink.write.is_some() => sink,
            _ => &DISCARD.0,
        };
        // SAFETY: the plugin is pinned (it cannot be unloaded while this handle lives) and initialized; the
        // handler's contract allows concurrent calls; `input` and `sink` outlive the call.
        let code = unsafe { (self.handler.function)(self.handler.userdata, input.as_ptr(), input.len(), sink) };
        if code == 0 {
            Ok(())
        } else {
            Err(self.plugin.handler_failed(self.kind, &self.name, code))
        }
    }
}

/// The sink used when the caller gives none: it accepts and discards everything.
struct SharedSink(aisopod_sink);
// SAFETY: its context is null and its function keeps no state.
unsafe impl Sync for SharedSink {}
static DISCARD: SharedSink = SharedSink(aisopod_sink { context: std::ptr::null_mut(), write: Some(discard) });

unsafe extern "C" fn discard(_: *mut c_void, _: *const u8, _: usize) -> i32 {
    0
}

impl Drop for Resolved {
    fn drop(&mut self) {
        self.plugin.pins.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts a call out when dropped, waking a waiting teardown.
struct InFlight<'a>(&'a LoadedPlugin);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 && self.0.closing.load(Ordering::SeqCst) {
            // Taking the lock orders this wake-up after teardown's check, so it cannot be lost.
            let _guard = lock(&self.0.drain_lock);
            self.0.drained.notify_all();
        }
    }
}

struct SerialGuard<'a> {
    serial: &'a Serial,
    _guard: std::sync::MutexGuard<'a, ()>,
}

impl Drop for SerialGuard<'_> {
    fn drop(&mut self) {
        self.serial.owner.store(0, Ordering::Release);
    }
}

/// Keeps a plugin that cannot be destroyed mapped, with its host block, for the life of the process.
fn abandon(live: &mut Live) {
    if let (Some(library), Some(host)) = (live.library.take(), live.host.take()) {
        lock(&ABANDONED).push((library, host));
    }
}

/// Finds the library and refuses one that resolves outside the plugin directory.
///
/// `entry_point` holds no path separator and no `..`, so the library's directory entry sits in the plugin
/// directory by construction; only a symlink there can lead elsewhere. A regular file is therefore accepted
/// after one `lstat`, and only a symlink pays for resolving both paths.
fn resolve_library(info: &PluginInfo) -> Result<PathBuf> {
    let id = &info.manifest.id;
    let path = info.library_path();
    let not_found = |e: std::io::Error| {
        let status = if e.kind() == std::io::ErrorKind::NotFound { Status::LibraryNotFound } else { Status::Io };
        Error::new(
            status,
            format!(
                "plugin '{id}': library {} (from [plugin].entry_point in {}): {e}",
                path.display(),
                info.manifest_path().display()
            ),
        )
    };
    let entry = std::fs::symlink_metadata(&path).map_err(not_found)?;
    let not_a_file = |library: &Path| {
        Error::new(Status::LibraryLoad, format!("plugin '{id}': library {} is not a regular file", library.display()))
    };
    if entry.file_type().is_symlink() {
        let directory = info.directory.canonicalize().map_err(|e| {
            Error::new(
                Status::Io,
                format!("plugin '{id}': cannot resolve plugin directory {}: {e}", info.directory.display()),
            )
        })?;
        let target = path.canonicalize().map_err(not_found)?;
        if !target.starts_with(&directory) {
            return Err(Error::new(
                Status::LibraryOutsidePluginDir,
                format!(
                    "plugin '{id}': library {} resolves to {}, outside the plugin directory {}",
                    path.display(),
                    target.display(),
                    directory.display()
                ),
            ));
        }
        if !target.is_file() {
            return Err(not_a_file(&target));
        }
        Ok(target)
    } else if entry.is_file() {
        Ok(path)
    } else {
        Err(not_a_file(&path))
    }
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
    in_plugin(|| unsafe { UnixLibrary::open(Some(path), flags) }).map(Library::from)
}

#[cfg(windows)]
fn open_library(path: &Path, _resident: bool) -> std::result::Result<Library, libloading::Error> {
    // SAFETY: as on Unix.
    in_plugin(|| unsafe { Library::new(path) })
}

/// Looks up `name` in `library`; the error names the symbol and carries the dynamic linker's reason.
///
/// # Safety
/// `T` must be the symbol's real type.
unsafe fn symbol<T: Copy>(library: &Library, name: &str) -> std::result::Result<T, String> {
    let mut c_name = name.as_bytes().to_vec();
    c_name.push(0);
    // SAFETY: forwarded to the caller.
    match unsafe { library.get::<T>(&c_name) } {
        Ok(symbol) => Ok(*symbol),
        Err(e) => Err(format!("does not export {name} ({e})")),
    }
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

/// What `register_capability` collects during `register_capabilities`.
#[derive(Default)]
struct Registration {
    handlers: [HashMap<String, Handler, BuildFnv>; 5],
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
        let kind_name = CapabilityKind::from_abi(kind)
            .map_or_else(|| format!("capability of unknown kind {kind}"), |k| k.to_string());
        if name.is_null() {
            self.refused.push(format!("a {kind_name} with a NULL name"));
            return Status::NullArgument;
        }
        // SAFETY: a non-null name is NUL-terminated, by the ABI.
        let Ok(name) = unsafe { CStr::from_ptr(name) }.to_str() else {
            self.refused.push(format!("a {kind_name} whose name is not UTF-8"));
            return Status::InvalidUtf8;
        };
        let Some(kind) = CapabilityKind::from_abi(kind) else {
            self.refused.push(format!("'{name}', a {kind_name}"));
            return Status::InvalidArgument;
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

/// The registrar's function. It ignores the registrar pointer and uses this thread's registration, so a
/// registrar kept past `register_capabilities`, or used from another thread, is refused instead of touching
/// freed memory.
unsafe extern "C" fn register_capability(
    _registrar: *const aisopod_registrar,
    kind: aisopod_capability_kind,
    name: *const c_char,
    handler: aisopod_handler,
    userdata: *mut c_void,
) -> i32 {
    let status = catch_unwind(AssertUnwindSafe(|| {
        REGISTRATION
            .try_with(|registration| match registration.try_borrow_mut().as_deref_mut() {
                Ok(Some(registration)) => registration.add(kind, name, handler, userdata),
                _ => Status::InvalidArgument,
            })
            .unwrap_or(Status::InvalidArgument)
    }));
    status.unwrap_or(Status::Panic) as i32
}

/// Calls `register_capabilities` and checks the registrations against the manifest.
fn register(
    register_capabilities: unsafe extern "C" fn(*const aisopod_plugin, *const aisopod_registrar) -> i32,
    vtable: *const aisopod_plugin,
    info: &PluginInfo,
) -> Result<[HashMap<String, Handler, BuildFnv>; 5]> {
    let manifest = &info.manifest;
    let id = &manifest.id;
    let registrar = aisopod_registrar {
        struct_size: std::mem::size_of::<aisopod_registrar>() as u32,
        context: std::ptr::null_mut(),
        register_capability: Some(register_capability),
    };
    REGISTRATION.with(|r| *r.borrow_mut() = Some(Registration::default()));
    // SAFETY: the vtable was validated; the registrar outlives the call.
    let code = in_plugin(|| unsafe { register_capabilities(vtable, &registrar) });
    let registration = REGISTRATION.with(|r| r.borrow_mut().take()).unwrap_or_default();
    if !registration.refused.is_empty() {
        return Err(Error::new(
            Status::RegistrationFailed,
            format!("plugin '{id}': registration refused: {}", registration.refused.join("; ")),
        ));
    }
    if code != 0 {
        return Err(Error::new(
            Status::RegistrationFailed,
            format!("plugin '{id}': register_capabilities returned {}", describe_code(code)),
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
            format!("plugin '{id}' ({}): {}", info.manifest_path().display(), problems.join("; ")),
        ));
    }
    Ok(registration.handlers)
}

/// A plugin's host struct and what its callbacks need. `abi` comes first in a `repr(C)` struct, so the
/// pointer the plugin hands back, which covers the whole block, can be cast back to it.
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
    /// `host` is null or the pointer [`HostPtr::abi`] gave a plugin that has not been destroyed yet.
    unsafe fn from_abi<'a>(host: *const aisopod_host) -> Option<&'a HostBlock> {
        // SAFETY: forwarded to the caller.
        unsafe { host.cast::<HostBlock>().as_ref() }
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
