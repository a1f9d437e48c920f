//! The loader's probing: where its helper is, how long plugin code may run there, probing plugins in helper
//! processes, and the quarantine their verdicts build.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::isolated::RestartPolicy;
use super::Loader;
use crate::cache::Cache;
use crate::discovery::{Discovery, PluginInfo};
use crate::error::{Error, Result, Status};
pub use crate::isolation::batch::Probed;
#[cfg(target_os = "linux")]
use crate::isolation::batch::{probe_batch, BatchSettings, ProbeJob};
use crate::isolation::protocol::hosting::ResourceLimits;
use crate::isolation::protocol::hosting::Sandbox;
use crate::log::LogLevel;
use crate::manifest::Isolation;
use crate::permissions::{Grant, Permissions};
#[cfg(target_os = "linux")]
use crate::plugin::{check_library, check_signature};
use crate::quarantine::{quarantines, Quarantine, Record, Verdict};
use crate::sync::{lock, read, write};

/// How long plugin code in a helper process may run for one probe or call, unless the host says otherwise.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A setting for every plugin, and the plugins that have their own.
#[derive(Debug, Clone)]
pub(crate) struct PerPlugin<T> {
    default: T,
    by_id: HashMap<String, T>,
}

impl<T: Copy> PerPlugin<T> {
    fn new(default: T) -> PerPlugin<T> {
        PerPlugin { default, by_id: HashMap::new() }
    }

    fn of(&self, id: &str) -> T {
        self.by_id.get(id).copied().unwrap_or(self.default)
    }

    fn own(&self, id: &str) -> Option<T> {
        self.by_id.get(id).copied()
    }

    /// Sets plugin `id`'s own value, or the default when `id` is `None`; `None` as the value removes the
    /// plugin's own, or restores `initial` as the default.
    fn set(&mut self, id: Option<&str>, value: Option<T>, initial: T) {
        match (id, value) {
            (Some(id), Some(value)) => {
                self.by_id.insert(id.to_owned(), value);
            }
            (Some(id), None) => {
                self.by_id.remove(id);
            }
            (None, value) => self.default = value.unwrap_or(initial),
        }
    }
}

/// The host's isolation settings, shared with the isolated plugins they apply to.
#[derive(Debug)]
pub(crate) struct IsolationSettings {
    /// The helper the host named, if any.
    pub(crate) helper_path: Option<PathBuf>,
    /// The deadline of each probe or call.
    call_timeout: PerPlugin<Duration>,
    /// Whether discovery probes the plugins it has no verdict on.
    probe_on_discover: bool,
    isolation: PerPlugin<Isolation>,
    restart: PerPlugin<RestartPolicy>,
    limits: PerPlugin<ResourceLimits>,
    sandbox: SandboxPolicy,
    /// Granted to every plugin.
    granted: Permissions,
    /// Granted to single plugins, besides.
    granted_by_id: HashMap<String, Permissions>,
}

/// Whether isolated plugins run sandboxed, and what happens where the kernel cannot sandbox them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxPolicy {
    /// No sandbox: an isolated plugin can do whatever the host's user can.
    Off,
    /// Sandboxed where the kernel can (Landlock); elsewhere loaded anyway, with a warning. The default.
    BestEffort,
    /// Sandboxed, or not loaded: `SandboxUnavailable` where the kernel cannot.
    Require,
}

impl Default for IsolationSettings {
    fn default() -> Self {
        IsolationSettings {
            helper_path: None,
            call_timeout: PerPlugin::new(DEFAULT_CALL_TIMEOUT),
            probe_on_discover: false,
            isolation: PerPlugin::new(Isolation::None),
            restart: PerPlugin::new(RestartPolicy::default()),
            limits: PerPlugin::new(ResourceLimits::default()),
            sandbox: SandboxPolicy::BestEffort,
            granted: Permissions::default(),
            granted_by_id: HashMap::new(),
        }
    }
}

impl IsolationSettings {
    pub(crate) fn call_timeout_of(&self, id: &str) -> Duration {
        self.call_timeout.of(id)
    }

    pub(crate) fn restart_policy_of(&self, id: &str) -> RestartPolicy {
        self.restart.of(id)
    }

    pub(crate) fn limits_of(&self, id: &str) -> ResourceLimits {
        self.limits.of(id)
    }

    /// The sandbox isolated plugin `info` runs in: what it declares within what the host grants it; `None` when
    /// the host turned the sandbox off.
    pub(crate) fn sandbox_of(&self, info: &PluginInfo) -> Option<Sandbox> {
        if self.sandbox == SandboxPolicy::Off {
            return None;
        }
        let mut granted = self.granted.clone();
        if let Some(own) = self.granted_by_id.get(&info.manifest.id) {
            granted.read.extend(own.read.iter().cloned());
            granted.write.extend(own.write.iter().cloned());
            granted.network |= own.network;
            granted.subprocess |= own.subprocess;
        }
        let declared = info.manifest.permissions.as_deref().cloned().unwrap_or_default();
        Some(Sandbox {
            require: self.sandbox == SandboxPolicy::Require,
            permissions: declared.intersect(&granted, &info.directory),
        })
    }

    /// Where plugin `id`, whose manifest asks for `requested` (if anything), runs: the host's setting for that
    /// plugin when it has one; otherwise the stronger of the manifest's request and the host's default, so
    /// that a manifest can ask for more isolation, never for less.
    pub(crate) fn isolation_of(&self, id: &str, requested: Option<Isolation>) -> Isolation {
        match self.isolation.own(id) {
            Some(own) => own,
            None => requested.map_or(self.isolation.default, |requested| requested.max(self.isolation.default)),
        }
    }
}

impl Loader {
    /// Names the helper executable, `aisopod-plugin-host`, to use instead of looking for it (`None`: look for
    /// it again: `AISOPOD_HELPER`, then next to this library, then the build tree).
    pub fn set_helper_path(&self, path: Option<PathBuf>) {
        write(&self.isolation).helper_path = path;
    }

    /// Sets where plugin `id` runs when it is next loaded, or where every plugin without its own setting runs
    /// when `id` is `None`. `None` as the mode removes the plugin's own setting, or restores the default,
    /// `Isolation::None`. A manifest's `isolation = "process"` applies unless the host set the plugin's own.
    pub fn set_isolation(&self, id: Option<&str>, isolation: Option<Isolation>) {
        write(&self.isolation).isolation.set(id, isolation, Isolation::None);
    }

    /// Where plugin `id`, as discovered, would run if loaded now.
    pub fn isolation_of(&self, id: &str) -> Isolation {
        let requested = self.discovery().find(id).and_then(|info| info.manifest.isolation);
        read(&self.isolation).isolation_of(id, requested)
    }

    /// Sets how a crashed isolated plugin `id` (or every plugin without its own policy, when `id` is `None`)
    /// is started again. `None` removes the plugin's own policy, or restores the default: no restarts.
    pub fn set_restart_policy(&self, id: Option<&str>, policy: Option<RestartPolicy>) {
        write(&self.isolation).restart.set(id, policy, RestartPolicy::default());
    }

    /// Grants `grant` to plugin `id`, or to every plugin when `id` is `None`, from its next load. A sandboxed
    /// plugin gets what its manifest's `[permissions]` declares, within what it was granted.
    pub fn grant(&self, id: Option<&str>, grant: Grant) {
        let mut settings = write(&self.isolation);
        match id {
            Some(id) => settings.granted_by_id.entry(id.to_owned()).or_default().add(grant),
            None => settings.granted.add(grant),
        }
    }

    /// Takes back every grant of plugin `id`, or the grants to every plugin when `id` is `None`.
    pub fn revoke_grants(&self, id: Option<&str>) {
        let mut settings = write(&self.isolation);
        match id {
            Some(id) => {
                settings.granted_by_id.remove(id);
            }
            None => settings.granted = Permissions::default(),
        }
    }

    /// Sets whether isolated plugins run sandboxed, from their next load (default: `SandboxPolicy::BestEffort`).
    pub fn set_sandbox_policy(&self, policy: SandboxPolicy) {
        write(&self.isolation).sandbox = policy;
    }

    /// Sets the resource limits of the helper process of isolated plugin `id` (or of every plugin without its
    /// own, when `id` is `None`), applied when it next starts. `None` removes the plugin's own limits, or
    /// restores the default: no limits.
    pub fn set_resource_limits(&self, id: Option<&str>, limits: Option<ResourceLimits>) {
        write(&self.isolation).limits.set(id, limits, ResourceLimits::default());
    }

    /// Sets the deadline of each probe (and each call into an isolated plugin) of plugin `id`, or of every
    /// plugin without its own when `id` is `None`. `None` as the timeout removes the plugin's own deadline, or
    /// restores the default of [`DEFAULT_CALL_TIMEOUT`]. A zero timeout is refused.
    pub fn set_call_timeout(&self, id: Option<&str>, timeout: Option<Duration>) -> Result<()> {
        if timeout == Some(Duration::ZERO) {
            return Err(Error::new(Status::InvalidArgument, "a call timeout must be longer than 0 ms"));
        }
        write(&self.isolation).call_timeout.set(id, timeout, DEFAULT_CALL_TIMEOUT);
        Ok(())
    }

    /// The deadline of a probe or call of plugin `id`.
    pub fn call_timeout(&self, id: &str) -> Duration {
        read(&self.isolation).call_timeout_of(id)
    }

    /// Whether discovery probes, in helper processes, every plugin it finds that has no verdict yet (new, or
    /// changed since its last probe). Off by default: it costs a helper start, plus a load and unload of each
    /// such plugin in the helper, at every discovery that finds new or changed plugins.
    pub fn set_probe_on_discover(&self, enabled: bool) {
        write(&self.isolation).probe_on_discover = enabled;
    }

    /// Probes the discovered plugins `ids`, in order, in helper processes: each is loaded, created,
    /// registered, given `init` with `init_config` when it is given, shut down, destroyed and unloaded there.
    /// Returns one verdict per id. A plugin that crashes, exits, hangs or fails the ABI gate is quarantined;
    /// one that passes is remembered as passed; both are saved in the registry cache when one is set.
    ///
    /// Fails, probing nothing, when an id was not discovered, the allow or deny list keeps one out
    /// (`Status::Denied`: probing runs its code), or the helper cannot be found, started or spoken to. A plugin
    /// whose library the file policy refuses is not sent to a helper: its verdict is that refusal.
    pub fn probe(&self, ids: &[&str], init_config: Option<&str>) -> Result<Vec<Probed>> {
        let discovery = self.discovery();
        let infos = ids
            .iter()
            .map(|id| {
                let info = discovered(&discovery, id).ok_or_else(|| {
                    Error::new(Status::NotFound, format!("no discovered plugin has id '{id}' (discover first?)"))
                })?;
                self.check_lists(&info)?;
                Ok(info)
            })
            .collect::<Result<Vec<_>>>()?;
        self.probe_infos(&infos, init_config)
    }

    /// The quarantined libraries, in the order they were quarantined.
    pub fn quarantine(&self) -> Vec<Record> {
        lock(&self.quarantine).quarantined().cloned().collect()
    }

    /// Lifts the quarantine of plugin `id`, or of every plugin when `None`, here and in the registry cache.
    /// Returns how many were lifted. Plugins set aside by the latest discovery come back at the next one.
    pub fn clear_quarantine(&self, id: Option<&str>) -> Result<usize> {
        let mut quarantine = lock(&self.quarantine);
        let cleared = quarantine.clear(id);
        if cleared > 0 {
            self.save_quarantine(&quarantine)?;
        }
        Ok(cleared)
    }

    /// The error refusing to load `info` when its library is quarantined now.
    pub(crate) fn check_quarantine(&self, info: &PluginInfo) -> Result<()> {
        let quarantine = lock(&self.quarantine);
        if quarantine.records().is_empty() {
            return Ok(());
        }
        match quarantine.current(&info.library_path(), None) {
            Some(record) if record.verdict.is_some() => Err(record.error()),
            _ => Ok(()),
        }
    }

    /// Scans with the quarantine, then, when the host asked for it, probes what has no verdict yet and sets
    /// aside what that quarantines.
    pub(crate) fn scan(&self, paths: &[PathBuf], cache_path: Option<&Path>) -> Discovery {
        let mut discovery = self.scan_and_probe(paths, cache_path);
        discovery.resolve_graph(&read(&self.requirements), &self.shared.logger);
        discovery
    }

    /// Discovery, then the probe of the plugins it found when the host asks for one.
    fn scan_and_probe(&self, paths: &[PathBuf], cache_path: Option<&Path>) -> Discovery {
        let mut discovery = {
            let mut quarantine = lock(&self.quarantine);
            Discovery::scan_quarantined(paths, &self.shared.logger, cache_path, &mut quarantine, &self.trust())
        };
        if !read(&self.isolation).probe_on_discover {
            return discovery;
        }
        let unprobed: Vec<Arc<PluginInfo>> = {
            let quarantine = lock(&self.quarantine);
            discovery
                .plugins()
                .iter()
                .filter(|info| quarantine.current(&info.library_path(), None).is_none())
                .cloned()
                .collect()
        };
        if unprobed.is_empty() {
            return discovery;
        }
        match self.probe_infos(&unprobed, None) {
            Ok(verdicts) => {
                for verdict in verdicts.iter().filter(|verdict| quarantines(verdict.status())) {
                    let info = discovery.find(&verdict.plugin_id).cloned();
                    let record =
                        info.and_then(|info| lock(&self.quarantine).current(&info.library_path(), None).cloned());
                    if let Some(record) = record {
                        discovery.set_aside(&verdict.plugin_id, record.error());
                    }
                }
            }
            Err(error) => {
                let message = format!("plugins were not probed: {}", error.message());
                self.shared.logger.log(LogLevel::Warn, &message);
                discovery.add_diagnostic(PathBuf::new(), Error::new(error.status(), message));
            }
        }
        discovery
    }

    #[cfg(target_os = "linux")]
    fn probe_infos(&self, infos: &[Arc<PluginInfo>], init_config: Option<&str>) -> Result<Vec<Probed>> {
        let helper = crate::isolation::locate::locate(read(&self.isolation).helper_path.as_deref())?;
        let settings = BatchSettings {
            helper: helper.path,
            host_version: self.host_version.to_string(),
            init_config: init_config.map(str::to_owned),
        };
        // The helper loads what it is sent without checking who could have written it, or who signed it: the host
        // checks first.
        let files = self.file_policy();
        let signatures = self.signatures();
        let refusals: Vec<Option<Probed>> = infos
            .iter()
            .map(|info| {
                use crate::isolation::probe::LoadStep;
                let (host_version, shared) = (&self.host_version, &self.shared);
                match check_library(info, host_version, files, shared) {
                    Err(error) => Some(refused(info, LoadStep::LibraryPath, &error)),
                    Ok(()) => check_signature(info, host_version, &signatures, shared)
                        .err()
                        .map(|error| refused(info, LoadStep::Signature, &error)),
                }
            })
            .collect();
        let probed: Vec<&Arc<PluginInfo>> =
            infos.iter().zip(&refusals).filter(|(_, refusal)| refusal.is_none()).map(|(info, _)| info).collect();
        let jobs: Vec<ProbeJob<'_>> = probed
            .iter()
            .map(|info| ProbeJob {
                plugin_id: &info.manifest.id,
                plugin_dir: &info.directory,
                timeout: self.call_timeout(&info.manifest.id),
            })
            .collect();
        let verdicts = probe_batch(&settings, &jobs)?;
        let mut quarantine = lock(&self.quarantine);
        for (info, verdict) in probed.iter().zip(&verdicts) {
            let library = info.library_path();
            let status = verdict.status();
            let judged = match &verdict.report.outcome {
                crate::isolation::probe::ProbeOutcome::Failed { message, .. } if quarantines(status) => {
                    Some(Some(Verdict { status, reason: message.clone() }))
                }
                crate::isolation::probe::ProbeOutcome::Ok => Some(None),
                crate::isolation::probe::ProbeOutcome::Failed { .. } => None,
            };
            match judged.and_then(|verdict| Record::new(&library, &info.manifest.id, verdict)) {
                Some(record) => quarantine.insert(record),
                None => {
                    quarantine.clear_library(&library);
                }
            }
        }
        if let Err(error) = self.save_quarantine(&quarantine) {
            self.shared.logger.log(LogLevel::Warn, error.message());
        }
        let mut verdicts = verdicts.into_iter();
        Ok(refusals.into_iter().filter_map(|refusal| refusal.or_else(|| verdicts.next())).collect())
    }

    #[cfg(not(target_os = "linux"))]
    fn probe_infos(&self, _infos: &[Arc<PluginInfo>], _init_config: Option<&str>) -> Result<Vec<Probed>> {
        Err(Error::new(Status::HelperUnavailable, "probing in a helper process is only available on Linux"))
    }

    /// Writes `quarantine` into the registry cache, when one is set.
    fn save_quarantine(&self, quarantine: &Quarantine) -> Result<()> {
        match self.cache_path() {
            Some(path) => Cache::save_quarantine(&path, quarantine).map_err(|why| {
                Error::new(Status::Io, format!("{}: the quarantine was not saved: {why}", path.display()))
            }),
            None => Ok(()),
        }
    }
}

/// The plugin `id` of `discovery`, set aside or not.
pub(crate) fn discovered(discovery: &Discovery, id: &str) -> Option<Arc<PluginInfo>> {
    discovery.find(id).or_else(|| discovery.find_quarantined(id)).or_else(|| discovery.find_denied(id)).cloned()
}

/// The verdict on `info` when the host refused to send it to a helper: `error`, at load step `step`.
#[cfg(target_os = "linux")]
fn refused(info: &PluginInfo, step: crate::isolation::probe::LoadStep, error: &Error) -> Probed {
    use crate::isolation::probe::{ProbeOutcome, ProbeReport, ProbeStep, StepTiming};
    let step = ProbeStep::Load(step);
    let outcome = ProbeOutcome::Failed { step, status: error.status(), message: error.message().to_owned() };
    Probed {
        plugin_id: info.manifest.id.clone(),
        report: ProbeReport { outcome, steps: vec![StepTiming { step, nanos: 0 }], capabilities: Default::default() },
        ending: None,
        stderr_tail: Vec::new(),
    }
}
