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
use super::ending::{plugin_ended, Ending};
use super::probe::{ProbeOutcome, ProbeReport, ProbeStep, StepTiming};
#[cfg(target_os = "linux")]
use super::protocol::hosting::CallResult;
#[cfg(target_os = "linux")]
use super::protocol::{Decoder, ErrorReply, Frame, FrameKind, ProbeProgress, ProbeRequest};
use crate::capability_kind::PerKind;
#[cfg(target_os = "linux")]
use crate::error::Result;
use crate::error::{Error, Status};

/// How long a helper is given to start and answer the handshake.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

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
    let mut child: Option<Prober> = None;
    for (at, job) in jobs.iter().enumerate() {
        let running = match child.take() {
            Some(running) => running,
            None => match Prober::start(&settings.helper) {
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
    if let Some(prober) = child {
        prober.child.shutdown(Instant::now() + START_TIMEOUT);
    }
    Ok(verdicts)
}

/// A helper that probes, and the pipe it writes probe progress to, which the loader reads only after each
/// probe: a batch's progress then costs no wake-up.
#[cfg(target_os = "linux")]
struct Prober {
    child: Child,
    /// The pipe's read end, non-blocking, and what was read of it; `None` when the helper could not take the
    /// pipe, and sends progress on the channel.
    progress: Option<(std::os::fd::OwnedFd, Decoder)>,
}

#[cfg(target_os = "linux")]
impl Prober {
    fn start(helper: &Path) -> std::result::Result<Prober, Failure> {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        let deadline = Instant::now() + START_TIMEOUT;
        let mut child = Child::spawn(helper, deadline)?;
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two descriptors into the array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Ok(Prober { child, progress: None });
        }
        // SAFETY: pipe2 just made both; nothing else owns them.
        let (read_end, write_end) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: fcntl on a descriptor we own.
        unsafe { libc::fcntl(read_end.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        let taken = child.request_passing(FrameKind::PROGRESS_PIPE, write_end.as_raw_fd(), deadline)?;
        let accepted = taken.kind == FrameKind::RESULT
            && CallResult::decode(&taken.payload).is_ok_and(|result| result.status == Status::Ok);
        Ok(Prober { child, progress: accepted.then(|| (read_end, Decoder::new())) })
    }

    /// The progress frames the pipe holds now.
    fn drain_progress(&mut self) -> Vec<StepTiming> {
        use std::os::fd::AsRawFd;
        let Some((read_end, decoder)) = self.progress.as_mut() else { return Vec::new() };
        let mut steps = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            // SAFETY: reads into a valid buffer of the given length; the pipe is non-blocking.
            let rc = unsafe { libc::read(read_end.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len()) };
            if rc <= 0 {
                return steps;
            }
            let mut input = &buffer[..rc as usize];
            while let Ok(Some(frame)) = decoder.decode(&mut input) {
                if let Ok(ProbeProgress(step)) = ProbeProgress::decode(&frame.payload) {
                    steps.push(step);
                }
            }
        }
    }
}

#[cfg(target_os = "linux")]
/// Probes one plugin in `prober`; returns the verdict, and the prober when it is still of use.
fn probe_one(mut prober: Prober, settings: &BatchSettings, job: &ProbeJob<'_>) -> (Probed, Option<Prober>) {
    let request = ProbeRequest {
        plugin_dir: job.plugin_dir.to_path_buf(),
        host_version: settings.host_version.clone(),
        init_config: settings.init_config.clone(),
    };
    let payload = match request.encode() {
        Ok(payload) => payload,
        Err(e) => {
            let error = Error::new(Status::InvalidArgument, format!("plugin '{}': {e}", job.plugin_id));
            return (failed_before_start(job, ProbeStep::Manifest, &error), Some(prober));
        }
    };
    prober.drain_progress();
    prober.child.clear_stderr_tail();
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
    let reply = prober.child.request_with(FrameKind::PROBE, &payload, started + job.timeout, &mut on_frame);
    let mut from_pipe = prober.drain_progress();
    if !from_pipe.is_empty() {
        // Finished steps' durations, not the moments they finished, came through the pipe.
        let finished: u64 = from_pipe.iter().map(|timing| timing.nanos).sum();
        last_finished = started + Duration::from_nanos(finished);
        progress.append(&mut from_pipe);
    }
    match reply {
        Ok(frame) if frame.kind == FrameKind::PROBE_REPORT => {
            let verdict = match ProbeReport::decode(&frame.payload) {
                Ok(report) => Probed { plugin_id: job.plugin_id.to_owned(), report, ending: None, stderr_tail: vec![] },
                Err(e) => helper_failed(job, &Error::new(Status::HelperFailed, format!("the helper sent {e}"))),
            };
            (verdict, Some(prober))
        }
        Ok(frame) => {
            let why = match ErrorReply::decode(&frame.payload) {
                Some(reply) if frame.kind == FrameKind::ERROR => reply.message,
                _ => format!("the helper answered a Probe with {}", frame.kind),
            };
            (helper_failed(job, &Error::new(Status::HelperFailed, why)), Some(prober))
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
    let timed_out = matches!(ending, Ending::TimedOut(_)) && error.status() == Status::Timeout;
    let by_plugin = timed_out
        || matches!(ending, Ending::Lost)
        || (ended_on_its_own && matches!(ending, Ending::Exited(_) | Ending::Signaled(_)));
    if !by_plugin {
        return helper_failed(job, &error);
    }
    let (status, message) = plugin_ended(id, step.name(), ending, timed_out.then_some(job.timeout), &stderr_tail);
    steps.push(StepTiming { step, nanos: u64::try_from(ran_for.as_nanos()).unwrap_or(u64::MAX) });
    let report = ProbeReport {
        outcome: ProbeOutcome::Failed { step, status, message },
        steps,
        capabilities: PerKind::default(),
    };
    Probed { plugin_id: id.to_owned(), report, ending: Some(ending), stderr_tail }
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
