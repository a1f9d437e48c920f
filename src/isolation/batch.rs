//! Probing many plugins in helper processes: one helper for the whole batch, a new one after each plugin that
//! takes a helper down, and a verdict for every plugin, the culprit's included.
//!
//! Each plugin is probed with its own deadline. While it is probed, the helper reports each step as it
//! finishes, so when the plugin crashes, exits or hangs, the verdict names the step it was in: the one after
//! the last step reported. The helper's stderr is forgotten before each plugin, so the stderr tail of a
//! verdict holds only what that plugin's probe wrote.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[cfg(target_os = "linux")]
use super::child::{Child, Failure, Outcome};
use super::ending::{helper_clause, Ending};
use super::probe::{ProbeOutcome, ProbeReport, ProbeStep, StepTiming};
#[cfg(target_os = "linux")]
use super::protocol::{ErrorReply, Frame, FrameKind, ProbeProgress, ProbeRequest};
use crate::capability_kind::PerKind;
#[cfg(target_os = "linux")]
use crate::error::Result;
use crate::error::{Error, Status};

/// How long a helper is given to start and answer the handshake.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of the helper's stderr a verdict's message quotes: its last line, at most this many bytes.
const MESSAGE_STDERR_LEN: usize = 512;

/// What a batch is probed with.
#[derive(Debug, Clone)]
pub struct BatchSettings {
    /// The helper executable.
    pub helper: PathBuf,
    /// The host's version, as `Loader::new` took it.
    pub host_version: String,
    /// The config to call each plugin's `init` with, or `None` not to call it.
    pub init_config: Option<String>,
}

/// One plugin to probe.
#[derive(Debug, Clone, Copy)]
pub struct ProbeJob<'a> {
    pub plugin_id: &'a str,
    pub plugin_dir: &'a Path,
    /// How long its probe may take, all steps together.
    pub timeout: Duration,
}

/// The verdict on one plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    pub plugin_id: String,
    /// The report. When the plugin ended or hung the helper, the failed step is the step it was in, with the
    /// time it had run when the helper ended, and the status is `PluginCrashed` or `Timeout`.
    pub report: ProbeReport,
    /// How the helper ended, when this plugin ended it.
    pub ending: Option<Ending>,
    /// The last bytes the helper wrote to stderr during this plugin's probe, when this plugin ended it.
    pub stderr_tail: Vec<u8>,
}

impl Probed {
    /// The failure's status, or `Status::Ok`.
    pub fn status(&self) -> Status {
        match &self.report.outcome {
            ProbeOutcome::Ok => Status::Ok,
            ProbeOutcome::Failed { status, .. } => *status,
        }
    }
}

#[cfg(target_os = "linux")]
/// Probes every job in order, in as few helpers as the plugins allow: a plugin that crashes, exits or hangs
/// its helper gets that verdict, and the next job starts a new helper. Fails only when the first helper
/// cannot be started or refuses the handshake; a later helper that cannot start gives its error as the
/// verdict of every job left.
pub fn probe_batch(settings: &BatchSettings, jobs: &[ProbeJob<'_>]) -> Result<Vec<Probed>> {
    let mut verdicts = Vec::with_capacity(jobs.len());
    let mut child: Option<Child> = None;
    for (at, job) in jobs.iter().enumerate() {
        let running = match child.take() {
            Some(running) => running,
            None => match Child::spawn(&settings.helper, Instant::now() + START_TIMEOUT) {
                Ok(started) => started,
                Err(failure) if at == 0 => return Err(failure.error),
                Err(failure) => {
                    verdicts.extend(jobs[at..].iter().map(|job| helper_failed(job, &failure.error)));
                    return Ok(verdicts);
                }
            },
        };
        let (verdict, survivor) = probe_one(running, settings, job);
        verdicts.push(verdict);
        child = survivor;
    }
    if let Some(child) = child {
        child.shutdown(Instant::now() + START_TIMEOUT);
    }
    Ok(verdicts)
}

#[cfg(target_os = "linux")]
/// Probes one plugin in `child`; returns the verdict, and the child when it is still of use.
fn probe_one(mut child: Child, settings: &BatchSettings, job: &ProbeJob<'_>) -> (Probed, Option<Child>) {
    let request = ProbeRequest {
        plugin_dir: job.plugin_dir.to_path_buf(),
        host_version: settings.host_version.clone(),
        init_config: settings.init_config.clone(),
    };
    let payload = match request.encode() {
        Ok(payload) => payload,
        Err(e) => {
            let error = Error::new(Status::InvalidArgument, format!("plugin '{}': {e}", job.plugin_id));
            return (failed_before_start(job, ProbeStep::Manifest, &error), Some(child));
        }
    };
    child.clear_stderr_tail();
    let started = Instant::now();
    let mut progress: Vec<StepTiming> = Vec::new();
    let mut last_finished = started;
    let mut on_frame = |frame: &Frame| {
        if frame.kind != FrameKind::PROBE_PROGRESS {
            return false;
        }
        if let Ok(ProbeProgress(step)) = ProbeProgress::decode(&frame.payload) {
            progress.push(step);
            last_finished = Instant::now();
        }
        true
    };
    let reply = child.request_with(FrameKind::PROBE, &payload, started + job.timeout, &mut on_frame);
    match reply {
        Ok(frame) if frame.kind == FrameKind::PROBE_REPORT => {
            let verdict = match ProbeReport::decode(&frame.payload) {
                Ok(report) => Probed { plugin_id: job.plugin_id.to_owned(), report, ending: None, stderr_tail: vec![] },
                Err(e) => helper_failed(job, &Error::new(Status::HelperFailed, format!("the helper sent {e}"))),
            };
            (verdict, Some(child))
        }
        Ok(frame) => {
            let why = match ErrorReply::decode(&frame.payload) {
                Some(reply) if frame.kind == FrameKind::ERROR => reply.message,
                _ => format!("the helper answered a Probe with {}", frame.kind),
            };
            (helper_failed(job, &Error::new(Status::HelperFailed, why)), Some(child))
        }
        Err(failure) => {
            let in_step = progress
                .last()
                .map_or(Some(ProbeStep::Manifest), |timing| timing.step.next(settings.init_config.is_some()));
            let ran_for = last_finished.elapsed();
            (died(job, progress, in_step.unwrap_or(ProbeStep::Unload), ran_for, failure), None)
        }
    }
}

#[cfg(target_os = "linux")]
/// The verdict on a plugin whose probe ended the helper (or made the loader kill it) during `step`.
fn died(
    job: &ProbeJob<'_>,
    mut steps: Vec<StepTiming>,
    step: ProbeStep,
    ran_for: Duration,
    failure: Failure,
) -> Probed {
    let Failure { error, outcome, ended_on_its_own } = failure;
    let id = job.plugin_id;
    let Some(Outcome { ending, stderr_tail, .. }) = outcome else { return helper_failed(job, &error) };
    let (status, what) = match ending {
        Ending::TimedOut(_) if error.status() == Status::Timeout => (
            Status::Timeout,
            format!("did not finish {step} within {} ms: its helper process was killed", job.timeout.as_millis()),
        ),
        Ending::Exited(_) if ended_on_its_own => {
            (Status::PluginCrashed, format!("ended its helper process during {step}: it {ending}"))
        }
        Ending::Signaled(_) | Ending::Lost if ended_on_its_own || matches!(ending, Ending::Lost) => {
            (Status::PluginCrashed, format!("crashed during {step}: {}", helper_clause(ending)))
        }
        _ => return helper_failed(job, &error),
    };
    let mut message = format!("plugin '{id}' {what}");
    if let Some(line) = last_line(&stderr_tail) {
        message.push_str("; stderr: ");
        message.push_str(&line);
    }
    steps.push(StepTiming { step, nanos: u64::try_from(ran_for.as_nanos()).unwrap_or(u64::MAX) });
    let report = ProbeReport {
        outcome: ProbeOutcome::Failed { step, status, message },
        steps,
        capabilities: PerKind::default(),
    };
    Probed { plugin_id: id.to_owned(), report, ending: Some(ending), stderr_tail }
}

#[cfg(target_os = "linux")]
/// The last non-empty line of `tail`, at most [`MESSAGE_STDERR_LEN`] bytes of its end, as text.
fn last_line(tail: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(tail);
    let line = text.lines().rev().map(str::trim).find(|line| !line.is_empty())?;
    let mut start = line.len().saturating_sub(MESSAGE_STDERR_LEN);
    while !line.is_char_boundary(start) {
        start += 1;
    }
    Some(line[start..].to_owned())
}

#[cfg(target_os = "linux")]
/// The verdict on a plugin whose probe failed for a reason of the helper's, not of the plugin's.
fn helper_failed(job: &ProbeJob<'_>, error: &Error) -> Probed {
    let error = Error::new(error.status(), format!("plugin '{}' was not probed: {}", job.plugin_id, error.message()));
    failed_before_start(job, ProbeStep::Manifest, &error)
}

#[cfg(target_os = "linux")]
/// A verdict of failure at `step` for a probe that did not run.
fn failed_before_start(job: &ProbeJob<'_>, step: ProbeStep, error: &Error) -> Probed {
    let outcome = ProbeOutcome::Failed { step, status: error.status(), message: error.message().to_owned() };
    Probed {
        plugin_id: job.plugin_id.to_owned(),
        report: ProbeReport { outcome, steps: vec![StepTiming { step, nanos: 0 }], capabilities: PerKind::default() },
        ending: None,
        stderr_tail: Vec::new(),
    }
}
