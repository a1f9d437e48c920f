//! The loader: search configuration, discovery snapshots, and the set of loaded plugins with their lifecycle
//! (load, init, invoke, emit, unload). Calls into plugin code live in `plugin/`; probing in helper processes
//! and the quarantine in `probing.rs`; the file policy, the allow and deny lists and the signature settings in `trust.rs`.

use std::collections::HashMap;
use std::ffi::c_void;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use semver::Version;

use crate::abi::aisopod_sink;
use crate::cache::BuildFnv;
use crate::discovery::{Discovery, PluginInfo, Requirements, SearchConfig};
use crate::error::{Error, Result, Status};
use crate::integrity::VerifiedDigests;
use crate::log::LogCallback;
use crate::manifest::CapabilityKind;
use crate::manifest::Isolation;
use crate::plugin::{refuse_reentry, ExtensionPtr, HostShared, LoadContext, LoadedPlugin, Resolved};
use crate::quarantine::Quarantine;
use crate::sync::{lock, read, write};
use crate::trust::Trust;

mod graph;
mod isolated;
mod lazy;
mod metrics;
use isolated::IsolatedPlugin;
mod probing;
mod reload;
mod report;
mod trust;
pub use isolated::{PluginUsage, RestartPolicy};
pub use probing::{Probed, SandboxPolicy, DEFAULT_CALL_TIMEOUT};
pub use reload::PolledChanges;
pub use report::REPORT_SCHEMA;

/// Loads and runs plugins on behalf of one host application.
///
/// A `Loader` is `Send + Sync`: every method takes `&self` and may be called from any thread. Lifecycle
/// operations (load, init, unload) are serialized by one lock; invocations run concurrently.
pub struct Loader {
    host_version: Version,
    search: RwLock<SearchConfig>,
    cache_path: RwLock<Option<PathBuf>>,
    discovery: RwLock<Arc<Discovery>>,
    loaded: RwLock<LoadedSet>,
    lifecycle: Mutex<()>,
    shared: Arc<HostShared>,
    isolation: Arc<RwLock<probing::IsolationSettings>>,
    quarantine: Mutex<Quarantine>,
    trust: RwLock<Trust>,
    /// Library digests that matched a pin, by library identity; used only while the registry cache is on.
    verified: VerifiedDigests,
    /// The versions the host accepts of some plugins (`require`).
    requirements: RwLock<Requirements>,
    /// The configs the host set ahead for plugins the loader initializes on its own (`set_config`).
    configs: RwLock<HashMap<String, (String, PathBuf), BuildFnv>>,
    /// The lazy policy (`set_lazy`).
    lazy: std::sync::atomic::AtomicBool,
    /// First-use loads that failed since the last discovery.
    lazy_failures: lazy::LazyFailures,
    /// The last generation a load gave out: every load of a plugin, reloads included, gets the next one.
    generations: std::sync::atomic::AtomicU64,
    /// The metrics switch (`set_metrics`), which each loaded plugin has a copy of.
    metrics: std::sync::atomic::AtomicBool,
}

/// Loaded plugins, in load order (which puts every plugin after its dependencies) and by id, with the
/// dependencies each was loaded with.
#[derive(Default)]
struct LoadedSet {
    order: Vec<Hosted>,
    by_id: HashMap<String, Hosted, BuildFnv>,
    /// For each loaded plugin, the dependencies it was loaded with: those loaded then, in manifest order.
    bound: HashMap<String, Vec<String>, BuildFnv>,
    /// For each loaded plugin that others were loaded with, how many: most plugins have none, and their unload
    /// looks no further.
    needed_by: HashMap<String, usize, BuildFnv>,
    /// What a reload needs of each loaded plugin: its last successful `init`, and its files' stamps.
    reloads: HashMap<String, reload::Record, BuildFnv>,
}

/// A loaded plugin, in this process or in a helper process.
#[derive(Clone)]
enum Hosted {
    Local(Arc<LoadedPlugin>),
    Isolated(Arc<IsolatedPlugin>),
}

impl LoadedSet {
    /// Records the dependencies `id` is bound to, in place of those it was.
    fn set_bound(&mut self, id: &str, bound: Vec<String>) {
        for dependency in &bound {
            *self.needed_by.entry(dependency.clone()).or_default() += 1;
        }
        let old = self.bound.insert(id.to_owned(), bound);
        self.release(old);
    }

    /// Forgets the dependencies `id` was bound to.
    fn forget_bound(&mut self, id: &str) {
        let old = self.bound.remove(id);
        self.release(old);
    }

    /// Counts out the dependencies a plugin is no longer bound to.
    fn release(&mut self, bound: Option<Vec<String>>) {
        for dependency in bound.unwrap_or_default() {
            if let Some(count) = self.needed_by.get_mut(&dependency) {
                *count -= 1;
                if *count == 0 {
                    self.needed_by.remove(&dependency);
                }
            }
        }
    }
}

impl Hosted {
    fn same(&self, other: &Hosted) -> bool {
        match (self, other) {
            (Hosted::Local(a), Hosted::Local(b)) => Arc::ptr_eq(a, b),
            (Hosted::Isolated(a), Hosted::Isolated(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    fn info(&self) -> &Arc<PluginInfo> {
        match self {
            Hosted::Local(plugin) => &plugin.info,
            Hosted::Isolated(plugin) => &plugin.info,
        }
    }

    /// Calls `init`, timing it for the plugin's metrics.
    fn init(&self, config: &str, data_dir: &Path) -> Result<()> {
        let started = std::time::Instant::now();
        let result = match self {
            Hosted::Local(plugin) => plugin.init(config, data_dir),
            Hosted::Isolated(plugin) => plugin.init(config, data_dir),
        };
        self.metrics().set_init(started.elapsed());
        result
    }

    fn is_initialized(&self) -> bool {
        match self {
            Hosted::Local(plugin) => plugin.is_initialized(),
            Hosted::Isolated(plugin) => plugin.is_initialized(),
        }
    }

    fn teardown(&self) -> Result<()> {
        match self {
            Hosted::Local(plugin) => plugin.teardown(),
            Hosted::Isolated(plugin) => plugin.teardown(),
        }
    }

    fn is_pinned(&self) -> bool {
        match self {
            Hosted::Local(plugin) => plugin.is_pinned(),
            Hosted::Isolated(plugin) => plugin.pins.load(std::sync::atomic::Ordering::Relaxed) > 0,
        }
    }

    fn call_hook(&self, event: &str, input: &[u8], sink: Option<&aisopod_sink>) -> Result<bool> {
        match self {
            Hosted::Local(plugin) => plugin.call_hook(event, input, sink),
            Hosted::Isolated(plugin) => plugin.call_hook(event, input, sink),
        }
    }
}

/// A resolved capability of a loaded plugin: calling it costs one indirect call plus a status check.
///
/// It keeps its plugin loaded: while it lives, [`Loader::unload`] of that plugin fails with `Status::Busy`,
/// and a plugin whose [`Loader`] is dropped first stays loaded until its last capability is dropped, which
/// then shuts it down, destroys it and closes its library.
pub struct Capability {
    target: Target,
}

enum Target {
    Local(Resolved),
    Isolated(IsolatedCapability),
}

/// A resolved capability of an isolated plugin: the plugin, pinned, and the handler's kind and name.
struct IsolatedCapability {
    plugin: Arc<IsolatedPlugin>,
    kind: CapabilityKind,
    name: Box<str>,
}

impl Drop for IsolatedCapability {
    fn drop(&mut self) {
        self.plugin.pins.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Capability {
    /// Calls the handler with `input`, writing output to `sink` (discarded when `None`).
    #[inline]
    pub fn invoke(&self, input: &[u8], sink: Option<&aisopod_sink>) -> Result<()> {
        match &self.target {
            Target::Local(resolved) => resolved.invoke(input, sink),
            Target::Isolated(capability) => capability.plugin.call(capability.kind, &capability.name, input, sink),
        }
    }

    /// Like [`Capability::invoke`], collecting the output into a vector.
    pub fn invoke_to_vec(&self, input: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.invoke(input, Some(VecSink::new(&mut out).sink()))?;
        Ok(out)
    }
}

/// An [`aisopod_sink`] that appends to a vector, which it borrows for its whole life.
pub struct VecSink<'a> {
    sink: aisopod_sink,
    _out: PhantomData<&'a mut Vec<u8>>,
}

impl<'a> VecSink<'a> {
    /// A sink appending to `out`.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        unsafe extern "C" fn append(context: *mut c_void, data: *const u8, len: usize) -> i32 {
            if len == 0 {
                return 0;
            }
            if data.is_null() {
                return 1;
            }
            let appended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                // SAFETY: `context` is the vector `VecSink` borrows mutably for its whole life; the plugin passes
                // `len` readable bytes at `data`.
                let out = unsafe { &mut *context.cast::<Vec<u8>>() };
                out.extend_from_slice(unsafe { std::slice::from_raw_parts(data, len) });
            }));
            i32::from(appended.is_err())
        }
        VecSink { sink: aisopod_sink { context: (out as *mut Vec<u8>).cast(), write: Some(append) }, _out: PhantomData }
    }

    /// The ABI sink, to pass to [`Loader::invoke`] or [`Loader::emit`].
    pub fn sink(&self) -> &aisopod_sink {
        &self.sink
    }
}

/// Whether a loaded plugin's `init` has succeeded, or its process has crashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginState {
    /// Loaded and registered, `init` not yet called or failed.
    Loaded,
    /// `init` succeeded: handlers can be invoked.
    Initialized,
    /// An isolated plugin whose helper process crashed, exited or was killed at a deadline, and has not been
    /// started again: calls fail with the crash's status until its restart policy starts it, or it is
    /// unloaded.
    Crashed,
}

impl Loader {
    /// Creates a loader for a host application whose version is `host_version` (semver). It searches
    /// `AISOPOD_PLUGIN_PATH` and the default paths unless told otherwise.
    pub fn new(host_version: &str) -> Result<Loader> {
        let host_version = parse_host_version(host_version)?;
        Ok(Loader {
            host_version,
            search: RwLock::new(SearchConfig::default()),
            cache_path: RwLock::default(),
            discovery: RwLock::default(),
            loaded: RwLock::default(),
            lifecycle: Mutex::new(()),
            shared: Arc::default(),
            isolation: Arc::default(),
            quarantine: Mutex::default(),
            trust: RwLock::default(),
            verified: VerifiedDigests::default(),
            requirements: RwLock::default(),
            configs: RwLock::default(),
            lazy: Default::default(),
            lazy_failures: Default::default(),
            generations: Default::default(),
            metrics: Default::default(),
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

    /// Turns the registry cache on (with the file to keep it in) or off (`None`, the default). With it,
    /// discovery of an unchanged plugin only stats its manifest and library. Use one cache file per host
    /// configuration: each discovery rewrites it with what that discovery found.
    pub fn set_cache_path(&self, path: Option<PathBuf>) {
        *write(&self.cache_path) = path;
    }

    /// The registry cache file in use, if any.
    pub fn cache_path(&self) -> Option<PathBuf> {
        read(&self.cache_path).clone()
    }

    /// Scans the search paths and replaces the previous discovery result, then checks the plugin graph: a
    /// plugin whose version the host does not accept ([`Loader::require`]), or whose dependencies are missing,
    /// of a version outside the range or lead back to it, is set aside with a diagnostic naming the chain, and
    /// so are the plugins that need it. Returns the number of plugins found. Loaded plugins are unaffected;
    /// first uses that failed under the lazy policy are tried again.
    pub fn discover(&self) -> usize {
        let paths = self.search_paths();
        let cache_path = self.cache_path();
        let discovery = Arc::new(self.scan(&paths, cache_path.as_deref()));
        let count = discovery.plugins().len();
        *write(&self.discovery) = discovery;
        lock(&self.lazy_failures).clear();
        count
    }

    /// The latest discovery result.
    pub fn discovery(&self) -> Arc<Discovery> {
        read(&self.discovery).clone()
    }

    /// The state of a loaded plugin, or `None` when `id` is not loaded.
    pub fn plugin_state(&self, id: &str) -> Option<PluginState> {
        let plugin = read(&self.loaded).by_id.get(id).cloned()?;
        Some(match plugin {
            Hosted::Local(plugin) if plugin.is_initialized() => PluginState::Initialized,
            Hosted::Local(_) => PluginState::Loaded,
            Hosted::Isolated(plugin) if plugin.crash().is_some() => PluginState::Crashed,
            Hosted::Isolated(plugin) if plugin.is_initialized() => PluginState::Initialized,
            Hosted::Isolated(_) => PluginState::Loaded,
        })
    }

    /// Loads the discovered plugin `id`, after those of its `[dependencies]` that are not loaded yet, each after
    /// its own. For each plugin: refuses it when the allow or deny list keeps it out, it is quarantined, or its
    /// version is outside the host's requirement; then checks the host version, resolves the library path and
    /// checks it under the file policy, opens it, checks the ABI version, creates the plugin, validates its
    /// struct and registers its capabilities. On any failure everything done so far is undone, the
    /// dependencies this call loaded included.
    pub fn load(&self, id: &str) -> Result<()> {
        refuse_reentry("load")?;
        let _lifecycle = lock(&self.lifecycle);
        if read(&self.loaded).by_id.contains_key(id) {
            return Err(Error::new(Status::AlreadyLoaded, format!("plugin '{id}' is already loaded")));
        }
        self.forget_lazy_failure(id);
        self.load_with_dependencies(id).map(drop)
    }

    /// Load steps 1 to 9 of `info`'s plugin, after the allow and deny lists and the quarantine let it in, in
    /// this process or in a helper; `beside_old` when a reload loads it while its old version is mapped. Its
    /// dependencies are loaded.
    fn open_plugin(&self, info: Arc<PluginInfo>, beside_old: bool) -> Result<Hosted> {
        self.check_lists(&info)?;
        self.check_quarantine(&info)?;
        let id = info.manifest.id.as_str();
        let isolation = read(&self.isolation).isolation_of(id, info.manifest.isolation);
        let files = self.file_policy();
        let signatures = self.signatures();
        let started = std::time::Instant::now();
        let plugin = match isolation {
            Isolation::None => {
                // The registry cache is the host's consent to tell an unchanged file by its identity.
                let verified = read(&self.cache_path).is_some().then_some(&self.verified);
                let context = LoadContext {
                    host_version: &self.host_version,
                    shared: &self.shared,
                    files,
                    signatures: Some(&signatures),
                    verified,
                };
                Hosted::Local(Arc::new(if beside_old {
                    LoadedPlugin::load_beside_old(info, &context)?
                } else {
                    LoadedPlugin::load(info, &context)?
                }))
            }
            Isolation::Process => Hosted::Isolated(Arc::new(IsolatedPlugin::load(
                info,
                &self.host_version.to_string(),
                &self.isolation,
                &self.shared,
                files,
                signatures,
            )?)),
        };
        plugin.metrics().set_load(started.elapsed());
        Ok(plugin)
    }

    /// Records `plugin` as loaded under `id`, with the dependencies it was loaded with, and gives it the next
    /// generation.
    fn add_loaded(&self, id: &str, plugin: Hosted, bound: Vec<String>) {
        let stamps = reload::Stamps::at_load(&plugin);
        plugin.generation().set(self.next_generation());
        let mut loaded = write(&self.loaded);
        loaded.reloads.insert(id.to_owned(), reload::Record { init: None, stamps });
        self.place(&mut loaded, id, &plugin, bound);
        loaded.by_id.insert(id.to_owned(), plugin.clone());
        loaded.order.push(plugin);
    }

    /// Binds `plugin`, about to be recorded under `id`, to its dependencies: it keeps those in this process
    /// loaded, plugins may fetch its interfaces, and its metrics follow the loader's switch.
    fn place(&self, loaded: &mut LoadedSet, id: &str, plugin: &Hosted, bound: Vec<String>) {
        self.switch_metrics_of(plugin);
        match plugin {
            Hosted::Local(local) => {
                let dependencies = bound.iter().filter_map(|d| match loaded.by_id.get(d) {
                    Some(Hosted::Local(dependency)) => Some(dependency.clone()),
                    _ => None,
                });
                *lock(&local.dependencies) = dependencies.collect();
                write(&self.shared.services).insert(id.to_owned(), Arc::downgrade(local));
            }
            Hosted::Isolated(_) => {
                write(&self.shared.services).remove(id);
            }
        }
        loaded.set_bound(id, bound);
    }

    /// Remembers the config of loaded plugin `id`'s successful `init`, which a reload gives its new version.
    fn record_init(&self, id: &str, config: &str, data_dir: &Path) {
        if let Some(record) = write(&self.loaded).reloads.get_mut(id) {
            record.init = Some((config.to_owned(), data_dir.to_path_buf()));
        }
    }

    /// Forgets loaded plugin `id`, returning it.
    fn remove_loaded(&self, id: &str) -> Option<Hosted> {
        write(&self.shared.services).remove(id);
        let mut loaded = write(&self.loaded);
        let plugin = loaded.by_id.remove(id)?;
        loaded.order.retain(|p| !p.same(&plugin));
        loaded.forget_bound(id);
        loaded.reloads.remove(id);
        Some(plugin)
    }

    /// Calls the loaded plugin's `init` with `config` (UTF-8, JSON by convention) and `data_dir` (may be
    /// empty), after initializing those of its dependencies that are not initialized yet, each after its own,
    /// with the configs set for them with [`Loader::set_config`]. Handlers can be invoked only after this
    /// succeeds.
    pub fn init(&self, id: &str, config: &str, data_dir: &Path) -> Result<()> {
        refuse_reentry("init")?;
        let _lifecycle = lock(&self.lifecycle);
        let plugin = self.get_loaded(id)?;
        self.init_dependencies(id)?;
        plugin.init(config, data_dir)?;
        self.record_init(id, config, data_dir);
        Ok(())
    }

    /// Calls handler `name` of `kind` in plugin `id` with `input`, writing output to `sink` (discarded when
    /// `None`). Under the lazy policy, a discovered plugin is loaded and initialized first.
    pub fn invoke(
        &self,
        id: &str,
        kind: CapabilityKind,
        name: &str,
        input: &[u8],
        sink: Option<&aisopod_sink>,
    ) -> Result<()> {
        match self.get_or_load(id)? {
            Hosted::Local(plugin) => plugin.call(kind, name, input, sink),
            Hosted::Isolated(plugin) => plugin.call(kind, name, input, sink),
        }
    }

    /// Like [`Loader::invoke`], collecting the output into a vector.
    pub fn invoke_to_vec(&self, id: &str, kind: CapabilityKind, name: &str, input: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.invoke(id, kind, name, input, Some(VecSink::new(&mut out).sink()))?;
        Ok(out)
    }

    /// Calls the hook handler for `event` in every initialized plugin that registered one, in load order,
    /// with the same input and sink. Every such handler runs even when one fails. Returns how many ran, or
    /// the first failure. Under the lazy policy, the discovered plugins that declare a hook for `event` are
    /// loaded and initialized first; one that fails is the first failure, and the others run.
    pub fn emit(&self, event: &str, input: &[u8], sink: Option<&aisopod_sink>) -> Result<usize> {
        let mut first_error = self.load_hooks_on_first_use(event);
        let plugins = read(&self.loaded).order.clone();
        let mut ran = 0;
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

    /// Resolves handler `name` of `kind` in the initialized plugin `id` into a [`Capability`], which calls it
    /// with no lookup and no lock. The plugin cannot be unloaded (`Status::Busy`) while the capability lives.
    /// Under the lazy policy, a discovered plugin is loaded and initialized first.
    pub fn resolve(&self, id: &str, kind: CapabilityKind, name: &str) -> Result<Capability> {
        let target = match self.get_or_load(id)? {
            Hosted::Local(plugin) => Target::Local(plugin.resolve(kind, name)?),
            Hosted::Isolated(plugin) => {
                plugin.check_handler(kind, name)?;
                plugin.pins.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Target::Isolated(IsolatedCapability { plugin, kind, name: name.into() })
            }
        };
        Ok(Capability { target })
    }

    /// Asks loaded plugin `id` for its optional interface `extension_id`. Returns null when it has none, and
    /// always for an isolated plugin: its interfaces are pointers into another process.
    pub fn plugin_extension(&self, id: &str, extension_id: &str) -> Result<*const c_void> {
        match self.get_loaded(id)? {
            Hosted::Local(plugin) => plugin.extension(extension_id),
            Hosted::Isolated(_) => Ok(std::ptr::null()),
        }
    }

    /// What isolated plugin `id`'s helper processes have used since it was loaded, restarts included.
    /// `NotLoaded` when it is not loaded; `InvalidArgument` when it runs in this process, where its use
    /// cannot be told from the host's.
    pub fn plugin_usage(&self, id: &str) -> Result<PluginUsage> {
        match self.get_loaded(id)? {
            Hosted::Isolated(plugin) => Ok(plugin.usage()),
            Hosted::Local(_) => Err(Error::new(
                Status::InvalidArgument,
                format!("plugin '{id}' runs in the host's process, where its resource use cannot be told apart"),
            )),
        }
    }

    /// The process id of isolated plugin `id`'s helper, while it runs.
    pub fn plugin_pid(&self, id: &str) -> Option<i32> {
        match self.get_loaded(id).ok()? {
            Hosted::Isolated(plugin) => plugin.pid(),
            Hosted::Local(_) => None,
        }
    }

    fn get_loaded(&self, id: &str) -> Result<Hosted> {
        read(&self.loaded).by_id.get(id).cloned().ok_or_else(|| not_loaded(id))
    }
}

impl Drop for Loader {
    /// Unloads every plugin still loaded, most recently loaded first. A plugin that capabilities still pin
    /// stays loaded until the last of them is dropped; from now on it sees no host log callback and no host
    /// extensions, which belong to the host application's use of this loader.
    fn drop(&mut self) {
        let loaded = std::mem::take(&mut *write(&self.loaded));
        // A plugin stays while a capability pins it, and so do its dependencies, which it may still call into: the
        // last plugin to go takes them with it.
        let mut kept: Vec<&str> = Vec::new();
        for plugin in loaded.order.iter().rev() {
            let id = plugin.info().manifest.id.as_str();
            let needed = kept.iter().any(|keeper| loaded.bound.get(*keeper).is_some_and(|b| b.iter().any(|d| d == id)));
            if plugin.is_pinned() || needed {
                kept.push(id);
            } else {
                // Only a pin can refuse, and a pin cannot appear: resolving needs this loader.
                let _ = plugin.teardown();
            }
        }
        self.shared.logger.set_callback(None);
        write(&self.shared.extensions).clear();
    }
}

/// A host application's version, which must be semver; the error is `InvalidArgument` naming the text.
pub(crate) fn parse_host_version(host_version: &str) -> Result<Version> {
    Version::parse(host_version).map_err(|e| {
        Error::new(Status::InvalidArgument, format!("host version {host_version:?} is not a semver version: {e}"))
    })
}

fn not_loaded(id: &str) -> Error {
    Error::new(Status::NotLoaded, format!("plugin '{id}' is not loaded"))
}
