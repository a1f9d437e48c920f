//! The probe: one plugin directory taken through its manifest, the load sequence, an optional `init` and
//! teardown, with each step timed, in whatever process calls it. The helper calls it in its own process, so that
//! a plugin that crashes, exits or hangs takes only the helper with it.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::capability_kind::PerKind;
use crate::discovery::PluginInfo;
use crate::error::{Error, Result, Status};
use crate::loader::parse_host_version;
use crate::manifest::{Manifest, MANIFEST_FILE_NAME};
pub use crate::plugin::LoadStep;
use crate::plugin::{HostShared, LoadContext, LoadedPlugin};

/// One step of a probe: reading the manifest, a step of the load sequence, `init`, or unloading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProbeStep {
    /// Reading and validating `aisopod.plugin.toml`.
    Manifest,
    /// A step of the load sequence, as `Loader::load` runs it.
    Load(LoadStep),
    /// `init`, with the probe's config, when asked for.
    Init,
    /// `shutdown` (after a successful `init`), `destroy` and `dlclose`.
    Unload,
}

impl ProbeStep {
    /// The step a probe runs after `self`, when `self` succeeded: `init` only when the probe calls it.
    pub fn next(self, with_init: bool) -> Option<ProbeStep> {
        let at = ProbeStep::ALL.iter().position(|&step| step == self)?;
        ProbeStep::ALL[at + 1..].iter().copied().find(|&step| with_init || step != ProbeStep::Init)
    }

    /// Every step, in the order a probe runs them.
    pub const ALL: [ProbeStep; LoadStep::ALL.len() + 3] = {
        let mut all = [ProbeStep::Manifest; LoadStep::ALL.len() + 3];
        let mut i = 0;
        while i < LoadStep::ALL.len() {
            all[i + 1] = ProbeStep::Load(LoadStep::ALL[i]);
            i += 1;
        }
        all[LoadStep::ALL.len() + 1] = ProbeStep::Init;
        all[LoadStep::ALL.len() + 2] = ProbeStep::Unload;
        all
    };

    /// The wire code of the `ProbeReport` frame: 1 for the manifest, 2 to 10 for the first nine load steps
    /// (one more than the step's value), 11 for `init`, 12 for unloading, then load steps added later, whatever
    /// their place in the sequence: 13 for the integrity check, 14 for the signature check. A code is never
    /// changed or reused.
    pub const fn code(self) -> u16 {
        match self {
            ProbeStep::Manifest => 1,
            ProbeStep::Load(LoadStep::Integrity) => 13,
            ProbeStep::Load(LoadStep::Signature) => 14,
            ProbeStep::Load(step) => 1 + step as u16,
            ProbeStep::Init => 11,
            ProbeStep::Unload => 12,
        }
    }

    /// The step whose wire code is `code`.
    pub fn from_code(code: u16) -> Option<ProbeStep> {
        ProbeStep::ALL.into_iter().find(|step| step.code() == code)
    }

    /// The step's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            ProbeStep::Manifest => "manifest",
            ProbeStep::Load(step) => step.name(),
            ProbeStep::Init => "init",
            ProbeStep::Unload => "unload",
        }
    }
}

impl fmt::Display for ProbeStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A step that ran, and how long it took on the monotonic clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepTiming {
    pub step: ProbeStep,
    pub nanos: u64,
}

/// How a probe ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// Every step asked for succeeded.
    Ok,
    /// `step` failed with `status`; `message` names the plugin and what went wrong.
    Failed { step: ProbeStep, status: Status, message: String },
}

/// What a probe found: its outcome, the steps that ran with their durations, and the capabilities the plugin
/// registered (empty unless registration succeeded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    pub outcome: ProbeOutcome,
    /// In the order they ran; a failed step is the last load step listed (an `Unload` may follow a failed
    /// `Init`).
    pub steps: Vec<StepTiming>,
    /// Names by kind, sorted.
    pub capabilities: PerKind<Vec<String>>,
}

impl ProbeReport {
    /// Whether the probe succeeded.
    pub fn is_ok(&self) -> bool {
        self.outcome == ProbeOutcome::Ok
    }

    /// How long `step` took, if it ran.
    pub fn duration(&self, step: ProbeStep) -> Option<Duration> {
        self.steps.iter().find(|timing| timing.step == step).map(|timing| Duration::from_nanos(timing.nanos))
    }
}

/// Records the steps of one probe and its first failure, and tells an observer of each step as it finishes.
struct Recorder<'a> {
    steps: Vec<StepTiming>,
    failure: Option<(ProbeStep, Error)>,
    observer: &'a mut dyn FnMut(StepTiming),
}

impl Recorder<'_> {
    fn record(&mut self, step: ProbeStep, took: Duration) {
        let timing = StepTiming { step, nanos: u64::try_from(took.as_nanos()).unwrap_or(u64::MAX) };
        self.steps.push(timing);
        (self.observer)(timing);
    }

    /// Runs `body` as `step`, recording its duration and, when it fails, the failure.
    fn run<T>(&mut self, step: ProbeStep, body: impl FnOnce() -> Result<T>) -> Option<T> {
        let started = Instant::now();
        let result = body();
        self.record(step, started.elapsed());
        self.keep(step, result)
    }

    fn keep<T>(&mut self, step: ProbeStep, result: Result<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.failure.get_or_insert((step, error));
                None
            }
        }
    }

    fn report(self, capabilities: PerKind<Vec<String>>) -> ProbeReport {
        let outcome = match self.failure {
            None => ProbeOutcome::Ok,
            Some((step, error)) => {
                ProbeOutcome::Failed { step, status: error.status(), message: error.message().to_owned() }
            }
        };
        ProbeReport { outcome, steps: self.steps, capabilities }
    }
}

/// Probes the plugin in `plugin_dir` in this process: reads its manifest, runs the load sequence as
/// `Loader::load` does for a host of version `host_version`, calls `init` with `init_config` (and an empty data
/// directory) when it is given, then unloads the plugin. Each step that ran is timed, the failing one included.
///
/// Plugin code runs here: a plugin that crashes or exits takes this process with it, and one that hangs hangs
/// it. That is why the helper process calls this, not the host.
pub fn probe(plugin_dir: &Path, host_version: &str, init_config: Option<&str>) -> ProbeReport {
    probe_observed(plugin_dir, host_version, init_config, &mut |_| {})
}

/// As [`probe`], calling `observer` with each step's timing as soon as the step has finished, so that a
/// process watching the probe from outside knows how far it got if plugin code ends this process.
pub fn probe_observed(
    plugin_dir: &Path,
    host_version: &str,
    init_config: Option<&str>,
    observer: &mut dyn FnMut(StepTiming),
) -> ProbeReport {
    let mut recorder = Recorder { steps: Vec::new(), failure: None, observer };
    let no_capabilities = PerKind::<Vec<String>>::default;
    let Some(info) = recorder.run(ProbeStep::Manifest, || read_plugin(plugin_dir)) else {
        return recorder.report(no_capabilities());
    };
    let host_version = match parse_host_version(host_version) {
        Ok(version) => version,
        Err(error) => {
            recorder.record(ProbeStep::Load(LoadStep::HostVersion), Duration::ZERO);
            recorder.keep::<()>(ProbeStep::Load(LoadStep::HostVersion), Err(error));
            return recorder.report(no_capabilities());
        }
    };
    let shared = Arc::<HostShared>::default();
    // The loader checks the library under its file policy, and the signature, before it asks for a probe.
    let loaded =
        LoadedPlugin::load_observed(info, &LoadContext::in_helper(&host_version, &shared), &mut |step, took| {
            recorder.record(ProbeStep::Load(step), took)
        });
    let failed_step = recorder.steps.last().map_or(ProbeStep::Load(LoadStep::HostVersion), |timing| timing.step);
    let Some(plugin) = recorder.keep(failed_step, loaded) else {
        return recorder.report(no_capabilities());
    };
    let capabilities = plugin.registered_capabilities();
    if let Some(config) = init_config {
        recorder.run(ProbeStep::Init, || plugin.init(config, Path::new("")));
    }
    recorder.run(ProbeStep::Unload, || plugin.teardown());
    recorder.report(capabilities)
}

/// The plugin described by `plugin_dir/aisopod.plugin.toml`, as discovery would accept it.
pub(crate) fn read_plugin(plugin_dir: &Path) -> Result<Arc<PluginInfo>> {
    let manifest = Manifest::read(&plugin_dir.join(MANIFEST_FILE_NAME))?;
    Ok(Arc::new(PluginInfo { manifest, directory: plugin_dir.to_path_buf() }))
}
