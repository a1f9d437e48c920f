//! The `aisopod_probe_results` handle: the verdicts of one `aisopod_loader_probe` call, one per plugin.

use std::ffi::{c_char, CString};
use std::ptr::NonNull;

use super::boundary::{boundary, call};
use super::last_error::NO_LOADER;
use super::pointers::{c_string, free_box, null_argument, required, write_out};
use crate::abi::{aisopod_capability_kind, aisopod_status};
use crate::capability_kind::{CapabilityKind, PerKind};
use crate::error::{Error, Result, Status};
use crate::isolation::ending::Ending;
use crate::isolation::probe::ProbeOutcome;
use crate::loader::Probed;

/// The verdicts of one probe call, in the order the plugins were probed.
///
/// Ownership: owned by the caller that received it and freed with `aisopod_probe_results_free`; every string
/// an accessor returns is owned by the handle and valid until it is freed.
///
/// Thread safety: immutable; its accessors may be called from any thread, concurrently.
pub struct aisopod_probe_results {
    verdicts: Vec<Verdict>,
}

/// One plugin's verdict, with its strings ready for C.
struct Verdict {
    plugin_id: CString,
    status: aisopod_status,
    message: CString,
    failed_step: Option<CString>,
    steps: Vec<(CString, u64)>,
    capabilities: PerKind<Vec<CString>>,
    signal: i32,
    exit_code: i32,
    stderr: CString,
}

impl aisopod_probe_results {
    pub(crate) fn new_raw(verdicts: &[Probed]) -> *mut aisopod_probe_results {
        let verdicts = verdicts.iter().map(Verdict::new).collect();
        Box::into_raw(Box::new(aisopod_probe_results { verdicts }))
    }
}

impl Verdict {
    fn new(probed: &Probed) -> Verdict {
        let report = &probed.report;
        let (failed_step, message) = match &report.outcome {
            ProbeOutcome::Ok => (None, c_string("")),
            ProbeOutcome::Failed { step, message, .. } => (Some(c_string(step.name())), c_string(message.as_str())),
        };
        let mut capabilities = PerKind::<Vec<CString>>::default();
        for (kind, names) in report.capabilities.iter() {
            capabilities[kind] = names.iter().map(|name| c_string(name.as_str())).collect();
        }
        let (signal, exit_code) = match probed.ending {
            Some(Ending::Signaled(signal)) => (signal, -1),
            Some(Ending::Exited(code)) => (0, code),
            _ => (0, -1),
        };
        Verdict {
            plugin_id: c_string(probed.plugin_id.as_str()),
            status: probed.status(),
            message,
            failed_step,
            steps: report.steps.iter().map(|timing| (c_string(timing.step.name()), timing.nanos)).collect(),
            capabilities,
            signal,
            exit_code,
            stderr: c_string(String::from_utf8_lossy(&probed.stderr_tail).into_owned()),
        }
    }
}

/// The verdict at `index`, when `results` is not NULL and `index` is in range.
fn verdict(results: Option<&aisopod_probe_results>, index: usize) -> Option<&Verdict> {
    results?.verdicts.get(index)
}

/// A string of the verdict at `index`; NULL when `results` is NULL or `index` is out of range.
fn text(
    function: &'static str,
    results: Option<&aisopod_probe_results>,
    index: usize,
    get: impl FnOnce(&Verdict) -> *const c_char,
) -> *const c_char {
    boundary(function, || verdict(results, index).map_or(std::ptr::null(), get))
}

/// Frees probe results. `aisopod_probe_results_free(NULL)` does nothing.
///
/// Ownership: takes ownership of `results`; it must not be used afterwards, nor any string obtained from it.
#[no_mangle]
pub extern "C" fn aisopod_probe_results_free(results: *mut aisopod_probe_results) {
    // SAFETY: a non-null handle came from this library and is freed once, by contract.
    unsafe { free_box("aisopod_probe_results_free", results) }
}

/// How many plugins were probed; 0 when `results` is NULL.
///
/// Ownership: borrows `results` for the call.
#[no_mangle]
pub extern "C" fn aisopod_probe_results_count(results: Option<&aisopod_probe_results>) -> usize {
    boundary("aisopod_probe_results_count", || results.map_or(0, |r| r.verdicts.len()))
}

/// The id of the `index`-th plugin probed; NULL when `results` is NULL or `index` is out of range.
///
/// Ownership: borrows `results` for the call. The returned string is owned by `results` and valid until
/// `results` is freed.
#[no_mangle]
pub extern "C" fn aisopod_probe_results_plugin_id(
    results: Option<&aisopod_probe_results>,
    index: usize,
) -> *const c_char {
    text("aisopod_probe_results_plugin_id", results, index, |v| v.plugin_id.as_ptr())
}

/// The verdict on the `index`-th plugin: `AISOPOD_STATUS_OK` when every step passed; otherwise the failure,
/// such as `AISOPOD_STATUS_PLUGIN_CRASHED` (a signal or `exit()` ended its helper process),
/// `AISOPOD_STATUS_TIMEOUT` (it did not finish within its deadline and its helper was killed),
/// `AISOPOD_STATUS_ABI_MISMATCH` or `AISOPOD_STATUS_INIT_FAILED`. `AISOPOD_STATUS_NULL_ARGUMENT` when
/// `results` is NULL, `AISOPOD_STATUS_OUT_OF_RANGE` when `index` is out of range.
///
/// Ownership: borrows `results` for the call.
#[no_mangle]
pub extern "C" fn aisopod_probe_results_status(
    results: Option<&aisopod_probe_results>,
    index: usize,
) -> aisopod_status {
    boundary("aisopod_probe_results_status", || match results {
        None => aisopod_status::NullArgument,
        Some(results) => results.verdicts.get(index).map_or(aisopod_status::OutOfRange, |v| v.status),
    })
}

/// The failure's message, naming the plugin, the step and, for a crash, the signal or exit code and the last
/// line of the helper's stderr; "" when the plugin passed. NULL when `results` is NULL or `index` is out of
/// range.
///
/// Ownership: borrows `results` for the call. The returned string is owned by `results` and valid until
/// `results` is freed.
#[no_mangle]
pub extern "C" fn aisopod_probe_results_message(
    results: Option<&aisopod_probe_results>,
    index: usize,
) -> *const c_char {
    text("aisopod_probe_results_message", results, index, |v| v.message.as_ptr())
}

/// The name of the step the `index`-th plugin failed in ("manifest", "dlopen", "create", "init", ...; the
/// README lists them), or NULL when it passed, when `results` is NULL or when `index` is out of range.
///
/// Ownership: borrows `results` for the call. The returned string is owned by `results` and valid until
/// `results` is freed.
#[no_mangle]
pub extern "C" fn aisopod_probe_results_failed_step(
    results: Option<&aisopod_probe_results>,
    index: usize,
) -> *const c_char {
    text("aisopod_probe_results_failed_step", results, index, |v| {
        v.failed_step.as_ref().map_or(std::ptr::null(), |step| step.as_ptr())
    })
}

/// How many steps of the `index`-th plugin's probe ran, the failed one included; 0 when `results` is NULL or
/// `index` is out of range.
///
/// Ownership: borrows `results` for the call.
#[no_mangle]
pub extern "C" fn aisopod_probe_results_step_count(results: Option<&aisopod_probe_results>, index: usize) -> usize {
    boundary("aisopod_probe_results_step_count", || verdict(results, index).map_or(0, |v| v.steps.len()))
}

/// Writes the name of step `step` of the `index`-th plugin's probe, in the order the steps ran, to
/// `*name_out`, and how long it took in nanoseconds (monotonic clock) to `*nanos_out`. For a step a crash or
/// a deadline ended, the time is how long it ran until then. Returns `AISOPOD_STATUS_OUT_OF_RANGE` when
/// `index` or `step` is out of range.
///
/// Ownership: borrows `results`, `name_out` and `nanos_out` for the call. `*name_out` is owned by `results`
/// and valid until `results` is freed.
#[no_mangle]
pub extern "C" fn aisopod_probe_results_step_at(
    results: Option<&aisopod_probe_results>,
    index: usize,
    step: usize,
    name_out: Option<NonNull<*const c_char>>,
    nanos_out: Option<NonNull<u64>>,
) -> aisopod_status {
    call("aisopod_probe_results_step_at", NO_LOADER, || {
        let results = required(results, "results")?;
        let (name_out, nanos_out) =
            (name_out.ok_or_else(|| null_argument("name_out"))?, nanos_out.ok_or_else(|| null_argument("nanos_out"))?);
        let verdict =
            results.verdicts.get(index).ok_or_else(|| out_of_range("index", index, results.verdicts.len()))?;
        let (name, nanos) = verdict.steps.get(step).ok_or_else(|| out_of_range("step", step, verdict.steps.len()))?;
        write_out(Some(name_out), "name_out", || Ok(name.as_ptr()))?;
        write_out(Some(nanos_out), "nanos_out", || Ok(*nanos))
    })
}

fn out_of_range(what: &str, index: usize, len: usize) -> Error {
    Error::new(Status::OutOfRange, format!("argument '{what}' is {index}, past the {len} there are"))
}

/// How many capabilities of `kind` (an `AISOPOD_CAPABILITY_*` value) the `index`-th plugin registered in its
/// probe; 0 when it failed before registering, when `results` is NULL, `index` is out of range or `kind` is
/// unknown.
///
/// Ownership: borrows `results` for the call.
#[no_mangle]
pub extern "C" fn aisopod_probe_results_capability_count(
    results: Option<&aisopod_probe_results>,
    index: usize,
    kind: aisopod_capability_kind,
) -> usize {
    boundary("aisopod_probe_results_capability_count", || {
        match (verdict(results, index), CapabilityKind::from_abi(kind)) {
            (Some(v), Some(kind)) => v.capabilities[kind].len(),
            _ => 0,
        }
    })
}

/// The `capability`-th name of `kind` the `index`-th plugin registered, in byte order; NULL when `results` is
/// NULL, `kind` is unknown or an index is out of range.
///
/// Ownership: borrows `results` for the call. The returned string is owned by `results` and valid until
/// `results` is freed.
#[no_mangle]
pub extern "C" fn aisopod_probe_results_capability_at(
    results: Option<&aisopod_probe_results>,
    index: usize,
    kind: aisopod_capability_kind,
    capability: usize,
) -> *const c_char {
    text("aisopod_probe_results_capability_at", results, index, |v| {
        CapabilityKind::from_abi(kind)
            .and_then(|kind| v.capabilities[kind].get(capability))
            .map_or(std::ptr::null(), |name| name.as_ptr())
    })
}

/// How the `index`-th plugin ended its helper process, when it did: writes the number of the signal that
/// killed it (0 when none) to `*signal_out` and its exit code (-1 when it did not exit) to `*exit_code_out`.
/// Both are 0 and -1 for a plugin that passed, failed in an orderly way, or hung (its helper was killed at the
/// deadline; the status is `AISOPOD_STATUS_TIMEOUT`). Returns `AISOPOD_STATUS_OUT_OF_RANGE` when `index` is out
/// of range.
///
/// Ownership: borrows `results`, `signal_out` and `exit_code_out` for the call.
#[no_mangle]
pub extern "C" fn aisopod_probe_results_ending(
    results: Option<&aisopod_probe_results>,
    index: usize,
    signal_out: Option<NonNull<i32>>,
    exit_code_out: Option<NonNull<i32>>,
) -> aisopod_status {
    call("aisopod_probe_results_ending", NO_LOADER, || {
        let results = required(results, "results")?;
        let (signal_out, exit_code_out) = (
            signal_out.ok_or_else(|| null_argument("signal_out"))?,
            exit_code_out.ok_or_else(|| null_argument("exit_code_out"))?,
        );
        let verdict = ending_of(results, index)?;
        write_out(Some(signal_out), "signal_out", || Ok(verdict.0))?;
        write_out(Some(exit_code_out), "exit_code_out", || Ok(verdict.1))
    })
}

fn ending_of(results: &aisopod_probe_results, index: usize) -> Result<(i32, i32)> {
    let verdict = results.verdicts.get(index).ok_or_else(|| out_of_range("index", index, results.verdicts.len()))?;
    Ok((verdict.signal, verdict.exit_code))
}

/// The last 4 KiB the helper process wrote to stderr while the `index`-th plugin ended it (invalid UTF-8 and
/// NUL bytes replaced); "" when the plugin did not end its helper. NULL when `results` is NULL or `index` is
/// out of range.
///
/// Ownership: borrows `results` for the call. The returned string is owned by `results` and valid until
/// `results` is freed.
#[no_mangle]
pub extern "C" fn aisopod_probe_results_stderr(results: Option<&aisopod_probe_results>, index: usize) -> *const c_char {
    text("aisopod_probe_results_stderr", results, index, |v| v.stderr.as_ptr())
}
