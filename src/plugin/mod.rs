//! One loaded plugin: the load sequence, step by step, and teardown. The steps live in their own files:
//!
//! - [`library`]: find the library inside the plugin directory, open it, and `dlopen` it (which runs its
//!   constructors);
//! - [`pin`]: the integrity check against the manifest's `sha256`, and [`names`]: the names pinned libraries
//!   go by in the dynamic linker; the signature check is the host's (`crate::trust`), on the same descriptor;
//! - [`gate`]: the ABI version gate, `create`, and the plugin struct and id checks;
//! - [`registration`]: `register_capabilities` and the check against the manifest;
//! - [`host`]: the host struct each plugin receives;
//! - [`guard`]: in-flight counting, serialization and re-entrancy refusal;
//! - [`live`]: what a loaded plugin holds, and teardown;
//! - [`call`] and [`resolved`]: calls into the plugin, by name or through a resolved handle.
//!
//! No lock is held while plugin code runs. A call into a handler registers itself in an in-flight count while
//! holding the state lock briefly; teardown closes the plugin to new calls under the same lock, waits for the
//! count to drain, and only then calls `shutdown` and `destroy`. A thread-local depth counter marks threads
//! that are inside plugin code, so lifecycle calls made from a plugin callback fail instead of deadlocking.

mod call;
#[cfg(all(unix, not(target_vendor = "apple")))]
mod elf;
mod gate;
mod generation;
mod guard;
mod host;
mod library;
mod live;
#[cfg(target_os = "linux")]
mod names;
mod pin;
mod registration;
mod resolved;
mod state;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use semver::Version;

use self::gate::Culprit;
pub(crate) use self::generation::Generation;
pub(crate) use self::guard::refuse_reentry;
use self::guard::{InFlightCount, Serial};
pub(crate) use self::host::{ExtensionPtr, HostShared};
use self::live::Live;
pub(crate) use self::resolved::Resolved;
use crate::abi::AISOPOD_PLUGIN_PANICKED;
use crate::capability_kind::PerKind;
use crate::discovery::PluginInfo;
use crate::error::{Error, Result, Status};
use crate::integrity::VerifiedDigests;
use crate::metrics::PluginStats;
use crate::sync::{read, write};
use crate::trust::{FilePolicy, Signatures};

/// One loaded plugin.
pub(crate) struct LoadedPlugin {
    pub(crate) info: Arc<PluginInfo>,
    /// Held only briefly, never while plugin code runs.
    live: RwLock<Live>,
    in_flight: InFlightCount,
    /// Present when the manifest says `thread_safe = false`.
    serial: Option<Serial>,
    /// Resolved capability handles alive; unload refuses while there are any.
    pins: AtomicUsize,
    /// The stamp of the library file it was loaded from, taken from the descriptor the load opened.
    pub(crate) library_stamp: crate::file_stamp::FileStamp,
    /// The dependencies it was loaded with that run in this process: it may call into them until it is torn
    /// down, so they outlive it. Declared after `live`, so they are dropped after it is torn down.
    pub(crate) dependencies: std::sync::Mutex<Vec<Arc<LoadedPlugin>>>,
    /// Which load of the plugin this is, and whether a reload replaced it.
    pub(crate) generation: Generation,
    /// What its calls cost, while metrics are on.
    pub(crate) metrics: PluginStats,
}

/// One step of [`LoadedPlugin::load`], named as the README's "Loading, step by step" numbers them (the
/// README's step 8 is split here into the struct check and the id check).
///
/// A step's value names it for good: in the C header, and, plus one, in the helper protocol's step codes. A step
/// added later takes the next free value, wherever it runs, so that no value changes; [`LoadStep::ALL`] and
/// the order (`Ord`) are the order a load runs the steps in.
#[repr(u16)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoadStep {
    /// 1. The host version is inside the manifest's `[compatibility]` range.
    HostVersion = 1,
    /// 2. The library resolves to a regular file inside the plugin directory, which the file policy trusts,
    ///    and is opened.
    LibraryPath = 2,
    /// 3. Its ELF header, read from the open file, names a shared library for this machine.
    ElfHeader = 3,
    /// 4. The open file's SHA-256 is the manifest's `[plugin].sha256`, when it gives one.
    Integrity = 10,
    /// 4. (continued) The plugin's signature, of its manifest and of the open file, under the signature policy.
    Signature = 11,
    /// 5. `dlopen`, which runs the library's constructors.
    Dlopen = 4,
    /// 6. `aisopod_plugin_abi_version`, the ABI gate.
    AbiGate = 5,
    /// 7. `aisopod_plugin_create`.
    Create = 6,
    /// 8. The plugin struct's size and mandatory functions.
    PluginStruct = 7,
    /// 8. (continued) The id the plugin reports is its manifest's.
    PluginId = 8,
    /// 9. `register_capabilities`, checked against the manifest.
    Registration = 9,
}

impl LoadStep {
    /// Every step, in the order a load runs them.
    pub const ALL: [LoadStep; 11] = [
        LoadStep::HostVersion,
        LoadStep::LibraryPath,
        LoadStep::ElfHeader,
        LoadStep::Integrity,
        LoadStep::Signature,
        LoadStep::Dlopen,
        LoadStep::AbiGate,
        LoadStep::Create,
        LoadStep::PluginStruct,
        LoadStep::PluginId,
        LoadStep::Registration,
    ];

    /// The step's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            LoadStep::HostVersion => "host version",
            LoadStep::LibraryPath => "library path",
            LoadStep::ElfHeader => "ELF header",
            LoadStep::Integrity => "integrity",
            LoadStep::Signature => "signature",
            LoadStep::Dlopen => "dlopen",
            LoadStep::AbiGate => "ABI gate",
            LoadStep::Create => "create",
            LoadStep::PluginStruct => "plugin struct",
            LoadStep::PluginId => "plugin id",
            LoadStep::Registration => "registration",
        }
    }

    /// Where the step is in [`LoadStep::ALL`].
    fn position(self) -> usize {
        LoadStep::ALL.iter().position(|&step| step == self).expect("every step is in ALL")
    }
}

impl Ord for LoadStep {
    /// The order a load runs the steps in, which is not the order of their values.
    fn cmp(&self, other: &LoadStep) -> std::cmp::Ordering {
        self.position().cmp(&other.position())
    }
}

impl PartialOrd for LoadStep {
    fn partial_cmp(&self, other: &LoadStep) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Sees each load step that ran, with how long it took, the failing one included.
pub(crate) type LoadObserver<'a> = &'a mut dyn FnMut(LoadStep, Duration);

/// Runs load steps, timing them only when someone observes: the normal load reads no clock.
struct Steps<'a> {
    observer: Option<LoadObserver<'a>>,
}

impl Steps<'_> {
    #[inline]
    fn run<T>(&mut self, step: LoadStep, body: impl FnOnce() -> Result<T>) -> Result<T> {
        match self.observer.as_deref_mut() {
            None => body(),
            Some(observer) => {
                let started = Instant::now();
                let result = body();
                observer(step, started.elapsed());
                result
            }
        }
    }
}

/// The file policy's part of step 2, for a plugin about to be loaded or probed in a helper process: the helper
/// is told nothing of the policy, so the host checks the library before it sends the plugin there (and logs
/// the warning, under warn). Any other failure of steps 1 and 2 is left to the helper, which reports it in
/// its own order, as a load in this process would.
pub(crate) fn check_library(
    info: &PluginInfo,
    host_version: &Version,
    files: FilePolicy,
    shared: &HostShared,
) -> Result<()> {
    if files == FilePolicy::Off || info.manifest.check_host_version(host_version, &info.manifest_path()).is_err() {
        return Ok(());
    }
    match library::resolve(info, files, &shared.logger) {
        Err(error) if error.status() == Status::UnsafePermissions => Err(error),
        _ => Ok(()),
    }
}

/// The signature step, for a plugin about to be loaded or probed in a helper process: the helper is told
/// nothing of the host's keys, so the host checks the signature first, of the library it finds and opens here
/// (the helper opens the library again: what it maps is not this descriptor). A failure of steps 1 and 2 is
/// left to the helper, which reports it in its own order.
pub(crate) fn check_signature(
    info: &PluginInfo,
    host_version: &Version,
    signatures: &Signatures,
    shared: &HostShared,
) -> Result<()> {
    if info.manifest.check_host_version(host_version, &info.manifest_path()).is_err() {
        return Ok(());
    }
    let Ok(opened) = library::find_and_open(info, FilePolicy::Off, &shared.logger) else { return Ok(()) };
    signatures.check(info, || pin::digest(info, &opened, None), &shared.logger)
}

/// What a load needs besides the plugin: the host's version and shared state, and the checks it applies.
#[derive(Clone, Copy)]
pub(crate) struct LoadContext<'a> {
    pub(crate) host_version: &'a Version,
    pub(crate) shared: &'a Arc<HostShared>,
    /// The file policy the library is checked under.
    pub(crate) files: FilePolicy,
    /// The signature settings, or `None` in a helper process, whose host checked the signature.
    pub(crate) signatures: Option<&'a Signatures>,
    /// Digests verified before, reused for unchanged libraries (only while the registry cache is on).
    pub(crate) verified: Option<&'a VerifiedDigests>,
}

impl<'a> LoadContext<'a> {
    /// A load in a helper process: no file policy and no signature check, which the host made, and no digests.
    pub(crate) fn in_helper(host_version: &'a Version, shared: &'a Arc<HostShared>) -> LoadContext<'a> {
        LoadContext { host_version, shared, files: FilePolicy::Off, signatures: None, verified: None }
    }
}

impl LoadedPlugin {
    /// Runs the load sequence for `info`, in the documented order, under `context`. A failing step undoes every
    /// step before it.
    pub(crate) fn load(info: Arc<PluginInfo>, context: &LoadContext<'_>) -> Result<LoadedPlugin> {
        LoadedPlugin::load_with(info, context, None, false)
    }

    /// [`LoadedPlugin::load`], telling `observer` each step that ran and how long it took.
    pub(crate) fn load_observed(
        info: Arc<PluginInfo>,
        context: &LoadContext<'_>,
        observer: LoadObserver<'_>,
    ) -> Result<LoadedPlugin> {
        LoadedPlugin::load_with(info, context, Some(observer), false)
    }

    /// [`LoadedPlugin::load`] of a new version of a plugin whose old version is still mapped: the library is
    /// opened through its descriptor, so that the dynamic linker maps the new file instead of handing back the
    /// old mapping it has under the same path (see [`names`]).
    pub(crate) fn load_beside_old(info: Arc<PluginInfo>, context: &LoadContext<'_>) -> Result<LoadedPlugin> {
        LoadedPlugin::load_with(info, context, None, true)
    }

    fn load_with(
        info: Arc<PluginInfo>,
        context: &LoadContext<'_>,
        observer: Option<LoadObserver<'_>>,
        beside_old: bool,
    ) -> Result<LoadedPlugin> {
        let LoadContext { host_version, shared, files, signatures, verified } = *context;
        let mut steps = Steps { observer };
        let manifest = &info.manifest;
        let id = manifest.id.as_str();
        // 1. The host version is inside the manifest's [compatibility] range.
        steps.run(LoadStep::HostVersion, || manifest.check_host_version(host_version, &info.manifest_path()))?;
        // 2. The library resolves to a regular file inside the plugin directory, which the file policy trusts,
        // opened once for what follows.
        let opened = steps.run(LoadStep::LibraryPath, || library::find_and_open(&info, files, &shared.logger))?;
        let library_path = opened.path.clone();
        let library_stamp = crate::file_stamp::FileStamp::of(&opened.metadata);
        let culprit = Culprit { id, library: &library_path };
        // 3. Its ELF header names a shared library for this machine. No plugin code has run so far.
        steps.run(LoadStep::ElfHeader, || library::check_format(id, &opened))?;
        // 4. The open file is the one the manifest pins, if it pins one.
        steps.run(LoadStep::Integrity, || pin::check(&info, &opened, verified, &shared.logger))?;
        // 4. (continued) The signature covers the manifest and the open file, and its key is trusted.
        steps.run(LoadStep::Signature, || match signatures {
            Some(signatures) => signatures.check(&info, || pin::digest(&info, &opened, verified), &shared.logger),
            None => Ok(()),
        })?;
        // 5. dlopen, of that same file when it is pinned: the library's constructors run here. From now on,
        // dropping `live` undoes the load.
        let pinned = manifest.sha256.is_some();
        let through_descriptor = pinned || beside_old;
        let library =
            steps.run(LoadStep::Dlopen, || library::open(id, opened, !manifest.unload, through_descriptor))?;
        let mut live = Live::opened(id, library);
        // 6. The ABI gate: the first plugin function called.
        steps.run(LoadStep::AbiGate, || {
            gate::check_abi_version(live.library.as_ref().expect("just opened"), &culprit)
        })?;
        // 7. create, with the plugin's own host struct.
        let vtable = steps.run(LoadStep::Create, || {
            gate::create(&mut live, &manifest.dependencies, host_version, shared, &culprit)
        })?;
        // 8. The plugin struct: size and mandatory functions.
        let plugin = steps.run(LoadStep::PluginStruct, || gate::validate_struct(&mut live, vtable, &culprit))?;
        // 8. (continued) The id the plugin reports is its manifest's.
        steps.run(LoadStep::PluginId, || gate::check_reported_id(plugin.id, manifest, &info.manifest_path()))?;
        // 9. Registration, checked against the manifest's declarations.
        let register_capabilities = plugin.register_capabilities.expect("validated");
        live.handlers =
            steps.run(LoadStep::Registration, || registration::register(register_capabilities, vtable, &info))?;
        Ok(LoadedPlugin {
            metrics: PluginStats::default(),
            library_stamp,
            serial: (!manifest.thread_safe).then(Serial::default),
            info,
            live: RwLock::new(live),
            in_flight: InFlightCount::default(),
            pins: AtomicUsize::new(0),
            dependencies: Default::default(),
            generation: Generation::default(),
        })
    }

    /// The names of the capabilities the plugin registered, by kind, sorted. Empty once it is torn down.
    pub(crate) fn registered_capabilities(&self) -> PerKind<Vec<String>> {
        let live = read(&self.live);
        PerKind::from_fn(|kind| {
            let mut names: Vec<String> = live.handlers[kind].keys().cloned().collect();
            names.sort();
            names
        })
    }

    fn id(&self) -> &str {
        &self.info.manifest.id
    }

    /// Whether `init` has succeeded.
    pub(crate) fn is_initialized(&self) -> bool {
        read(&self.live).initialized
    }

    /// Whether resolved capability handles keep this plugin loaded.
    pub(crate) fn is_pinned(&self) -> bool {
        self.pins.load(Ordering::Relaxed) > 0
    }

    /// Closes the plugin to new calls, waits for running ones, then shuts it down, destroys it and closes its
    /// library. The caller holds the loader's lifecycle lock. Refuses while resolved handles exist, since they
    /// call the plugin without checking.
    pub(crate) fn teardown(&self) -> Result<()> {
        let closing = {
            let mut live = write(&self.live);
            let pins = self.pins.load(Ordering::Relaxed);
            if pins > 0 {
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
        self.in_flight.drain();
        closing.finish();
        Ok(())
    }
}

/// How a plugin's non-zero return code reads in a message.
fn describe_code(code: i32) -> String {
    if code == AISOPOD_PLUGIN_PANICKED {
        format!("{code} (the plugin panicked)")
    } else {
        code.to_string()
    }
}
