//! Probing plugins: in this process with `isolation::probe::probe`, and in the helper process over a real
//! socketpair, including plugins that abort, exit, crash or hang the helper. Every wait has a deadline.

mod common;
mod plugin_host_harness;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aisopod_loader::isolation::helper::HelperExit;
use aisopod_loader::isolation::probe::{probe, LoadStep, ProbeOutcome, ProbeReport, ProbeStep, StepTiming};
use aisopod_loader::isolation::protocol::{ErrorCode, Frame, FrameKind, ProbeProgress, ProbeRequest};
use aisopod_loader::{CapabilityKind, PerKind, Status};
use common::{add_test_plugin, isolated_loader, plugin_with_missing_dependency, temp_dir};
use plugin_host_harness::{error_reply, Helper, Received};

const HOST_VERSION: &str = "1.0.0";

/// The capabilities the test plugin registers without switches.
fn test_plugin_capabilities() -> PerKind<Vec<String>> {
    let mut capabilities = PerKind::<Vec<String>>::default();
    capabilities[CapabilityKind::Tool] = vec!["echo".to_owned()];
    capabilities[CapabilityKind::Hook] = vec!["ping".to_owned()];
    capabilities
}

fn steps(report: &ProbeReport) -> Vec<ProbeStep> {
    report.steps.iter().map(|timing| timing.step).collect()
}

/// Every step a successful probe runs, without `init` or with it.
fn all_steps(with_init: bool) -> Vec<ProbeStep> {
    ProbeStep::ALL.into_iter().filter(|&step| with_init || step != ProbeStep::Init).collect()
}

fn failure(report: &ProbeReport) -> (ProbeStep, Status, &str) {
    match &report.outcome {
        ProbeOutcome::Failed { step, status, message } => (*step, *status, message.as_str()),
        ProbeOutcome::Ok => panic!("the probe succeeded: {report:?}"),
    }
}

#[test]
fn probing_a_good_plugin_in_process_runs_every_step_and_matches_what_the_loader_registers() {
    let root = temp_dir("probe-good");
    let dir = add_test_plugin(&root, "good", &[]);
    let report = probe(&dir, HOST_VERSION, None);
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(steps(&report), all_steps(false));
    assert!(report.steps.iter().all(|timing| timing.nanos > 0), "a step took no time: {report:?}");
    assert!(report.duration(ProbeStep::Load(LoadStep::Dlopen)).unwrap() > Duration::ZERO);
    assert_eq!(report.capabilities, test_plugin_capabilities());

    // The loader registers the same capabilities: each resolves, and nothing else of any kind does.
    let loader = isolated_loader(HOST_VERSION, &[&root]);
    assert_eq!(loader.discover(), 1);
    loader.load("good").unwrap();
    loader.init("good", "", Path::new("")).unwrap();
    for (kind, names) in report.capabilities.iter() {
        for name in names {
            loader.resolve("good", kind, name).unwrap_or_else(|e| panic!("{kind} '{name}': {e}"));
        }
        let other = loader.resolve("good", kind, "not-registered").err().expect("not registered");
        assert_eq!(other.status(), Status::CapabilityNotFound);
    }
    assert_eq!(loader.invoke_to_vec("good", CapabilityKind::Tool, "echo", b"hi").unwrap(), b"hi");
    loader.unload("good").unwrap();

    let with_init = probe(&dir, HOST_VERSION, Some("{}"));
    assert!(with_init.is_ok(), "{with_init:?}");
    assert_eq!(steps(&with_init), all_steps(true));
}

#[test]
fn an_in_process_probe_names_the_failing_step_its_status_and_the_plugin() {
    let root = temp_dir("probe-failures");
    let abi = add_test_plugin(&root, "wrong-abi", &["ABI_VERSION=99"]);
    let report = probe(&abi, HOST_VERSION, None);
    let (step, status, message) = failure(&report);
    assert_eq!((step, status), (ProbeStep::Load(LoadStep::AbiGate), Status::AbiMismatch), "{message}");
    assert!(message.contains("plugin 'wrong-abi'") && message.contains("returns ABI version 99"), "{message}");
    let up_to_the_gate = all_steps(false).into_iter().take_while(|&step| step <= ProbeStep::Load(LoadStep::AbiGate));
    assert_eq!(steps(&report), up_to_the_gate.collect::<Vec<_>>(), "the steps up to the ABI gate ran, no more");
    assert_eq!(report.capabilities, PerKind::default());

    let init_fails = add_test_plugin(&root, "init-fails", &[]);
    let report = probe(&init_fails, HOST_VERSION, Some("fail"));
    let (step, status, message) = failure(&report);
    assert_eq!((step, status, message), (ProbeStep::Init, Status::InitFailed, "plugin 'init-fails': init returned 3"));
    assert_eq!(steps(&report), all_steps(true), "a failed init is still unloaded");
    assert_eq!(report.capabilities, test_plugin_capabilities());

    let report = probe(&init_fails, "1.5", None);
    let (step, status, message) = failure(&report);
    assert_eq!((step, status), (ProbeStep::Load(LoadStep::HostVersion), Status::InvalidArgument), "{message}");
    assert!(message.starts_with("host version \"1.5\" is not a semver version"), "{message}");

    let report = probe(&init_fails, "2.0.0", None);
    assert_eq!(failure(&report).1, Status::VersionIncompatible, "{report:?}");

    let report = probe(&root.join("nothing-here"), HOST_VERSION, None);
    let (step, status, message) = failure(&report);
    assert_eq!((step, status), (ProbeStep::Manifest, Status::Io), "{message}");
    assert!(message.contains("nothing-here/aisopod.plugin.toml: cannot read manifest"), "{message}");
    assert_eq!(steps(&report), [ProbeStep::Manifest]);
}

/// A helper past its handshake.
fn ready_helper(name: &str) -> Helper {
    let mut helper = Helper::start(name);
    helper.handshake();
    helper
}

fn request(dir: &Path, init_config: Option<&str>) -> ProbeRequest {
    ProbeRequest {
        plugin_dir: dir.to_path_buf(),
        host_version: HOST_VERSION.to_owned(),
        init_config: init_config.map(str::to_owned),
    }
}

/// Reads the `ProbeProgress` frames of request `request_id` and then its reply, or `None` when the channel
/// closes first; returns the steps the progress frames named, and the reply.
fn progress_then_reply(helper: &mut Helper, request_id: u64) -> (Vec<StepTiming>, Option<Frame>) {
    let mut progress = Vec::new();
    loop {
        let Some(frame) = helper.receive_or_closed() else { return (progress, None) };
        assert_eq!(frame.request_id, request_id, "{frame:?}");
        if frame.kind != FrameKind::PROBE_PROGRESS {
            return (progress, Some(frame));
        }
        progress.push(ProbeProgress::decode(&frame.payload).unwrap().0);
    }
}

/// Reads the progress and the report of request `request_id`, and checks that the progress frames named
/// exactly the steps the report lists, with the same timings.
fn report_of(helper: &mut Helper, request_id: u64) -> ProbeReport {
    let (progress, reply) = progress_then_reply(helper, request_id);
    let reply = reply.expect("the helper closed the channel before its report");
    assert_eq!(reply.kind, FrameKind::PROBE_REPORT, "{reply:?}");
    let report = ProbeReport::decode(&reply.payload).unwrap();
    assert_eq!(progress, report.steps);
    report
}

/// Asks the helper to probe `dir` as request `request_id` and returns its report.
fn probe_in_helper(helper: &mut Helper, request_id: u64, dir: &Path, init_config: Option<&str>) -> ProbeReport {
    helper.send(&request(dir, init_config).frame(request_id).unwrap());
    report_of(helper, request_id)
}

#[test]
fn the_helper_probes_a_good_plugin_with_and_without_init() {
    let root = temp_dir("helper-probe-good");
    let dir = add_test_plugin(&root, "good", &[]);
    let mut helper = ready_helper("probe-good");
    let report = probe_in_helper(&mut helper, 1, &dir, None);
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(steps(&report), all_steps(false));
    assert!(report.steps.iter().all(|timing| timing.nanos > 0), "{report:?}");
    assert_eq!(report.capabilities, test_plugin_capabilities());

    let report = probe_in_helper(&mut helper, 2, &dir, Some("{\"verbose\": true}"));
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(steps(&report), all_steps(true));
    helper.close();
    assert_eq!(helper.expect_exit(HelperExit::Closed), "");
}

#[test]
fn one_helper_probes_a_batch_of_plugins_in_sequence() {
    let root = temp_dir("helper-probe-batch");
    let ids = ["first", "second", "third"];
    let dirs: Vec<PathBuf> = ids.iter().map(|id| add_test_plugin(&root, id, &[])).collect();
    let mut helper = ready_helper("probe-batch");
    // All three requests are written before any report is read.
    for (i, dir) in dirs.iter().enumerate() {
        helper.send(&request(dir, Some("")).frame(10 + i as u64).unwrap());
    }
    for (i, id) in ids.iter().enumerate() {
        let report = report_of(&mut helper, 10 + i as u64);
        assert!(report.is_ok(), "{id}: {report:?}");
        assert_eq!(report.capabilities, test_plugin_capabilities());
    }
    helper.close();
    helper.expect_exit(HelperExit::Closed);
}

#[test]
fn the_helper_reports_a_bad_abi_version_and_carries_on() {
    let root = temp_dir("helper-probe-abi");
    let bad = add_test_plugin(&root, "old-abi", &["ABI_VERSION=0"]);
    let good = add_test_plugin(&root, "good", &[]);
    let mut helper = ready_helper("probe-abi");
    let report = probe_in_helper(&mut helper, 1, &bad, None);
    let (step, status, message) = failure(&report);
    assert_eq!((step, status), (ProbeStep::Load(LoadStep::AbiGate), Status::AbiMismatch), "{message}");
    assert!(message.starts_with("plugin 'old-abi' ("), "{message}");
    assert!(message.contains("aisopod_plugin_abi_version returns ABI version 0"), "{message}");
    assert!(probe_in_helper(&mut helper, 2, &good, None).is_ok());
    helper.close();
    helper.expect_exit(HelperExit::Closed);
}

#[test]
fn a_missing_dt_needed_library_fails_the_dlopen_step_naming_it() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let root = temp_dir("helper-probe-needed");
    let dir = plugin_with_missing_dependency(&root, "needy").join("needy");
    let mut helper = ready_helper("probe-needed");
    let report = probe_in_helper(&mut helper, 1, &dir, None);
    let (step, status, message) = failure(&report);
    assert_eq!((step, status), (ProbeStep::Load(LoadStep::Dlopen), Status::LibraryLoad), "{message}");
    assert!(message.starts_with("plugin 'needy': cannot load "), "{message}");
    assert!(
        message.contains("it needs libaisopod_gone.so (DT_NEEDED), which the dynamic linker cannot find"),
        "{message}"
    );
    helper.close();
    helper.expect_exit(HelperExit::Closed);
}

/// Probes the test plugin built with `switch` in a fresh helper, and checks that the helper sends no report
/// and closes the channel: the plugin took it down. The progress it sent first ends just before `dies_in`.
fn probe_that_kills_the_helper(name: &str, switch: &str, init_config: Option<&str>, dies_in: ProbeStep) -> Helper {
    let root = temp_dir(name);
    let dir = add_test_plugin(&root, name, &[switch]);
    let mut helper = ready_helper(name);
    helper.send(&request(&dir, init_config).frame(1).unwrap());
    let (progress, reply) = progress_then_reply(&mut helper, 1);
    assert_eq!(reply, None, "the helper should have died before replying");
    let last = progress.last().expect("the manifest step finished").step;
    assert_eq!(last.next(init_config.is_some()), Some(dies_in), "{progress:?}");
    helper
}

#[test]
fn a_constructor_that_aborts_kills_the_helper_with_sigabrt() {
    let mut helper = probe_that_kills_the_helper("ctor-abort", "CTOR_ABORT", None, ProbeStep::Load(LoadStep::Dlopen));
    helper.expect_signal(libc::SIGABRT);
}

#[test]
fn create_calling_exit_3_makes_the_helper_exit_3() {
    let mut helper = probe_that_kills_the_helper("create-exit", "CREATE_EXIT", None, ProbeStep::Load(LoadStep::Create));
    assert_eq!(helper.wait(), 3, "stderr: {}", helper.stderr_text());
}

#[test]
fn init_that_segfaults_kills_the_helper_with_sigsegv() {
    let mut helper = probe_that_kills_the_helper("init-segfault", "INIT_SEGFAULT", Some(""), ProbeStep::Init);
    helper.expect_signal(libc::SIGSEGV);
}

#[test]
fn init_that_never_returns_leaves_the_probe_unanswered_until_the_host_kills_the_helper() {
    let root = temp_dir("init-loop");
    let dir = add_test_plugin(&root, "init-loop", &["INIT_LOOP"]);
    let mut helper = ready_helper("init-loop");
    let started = Instant::now();
    helper.send(&request(&dir, Some("")).frame(1).unwrap());
    let deadline = started + Duration::from_millis(1500);
    let mut last_progress = None;
    loop {
        match helper.receive_until(deadline) {
            Received::Frame(frame) if frame.kind == FrameKind::PROBE_PROGRESS => {
                last_progress = Some(ProbeProgress::decode(&frame.payload).unwrap().0.step);
            }
            other => {
                assert_eq!(other, Received::TimedOut);
                break;
            }
        }
    }
    assert_eq!(last_progress.and_then(|step| step.next(true)), Some(ProbeStep::Init), "the helper is stuck in init");
    // SAFETY: signalling our own child, which has not been reaped, so the pid is still ours.
    assert_eq!(unsafe { libc::kill(helper.pid, libc::SIGKILL) }, 0);
    helper.expect_signal(libc::SIGKILL);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());

    // Without init, the same plugin probes fine: only its init hangs.
    let mut helper = ready_helper("init-loop-no-init");
    assert!(probe_in_helper(&mut helper, 2, &dir, None).is_ok());
}

#[test]
fn a_malformed_probe_payload_gets_an_error_naming_the_field_and_the_helper_carries_on() {
    let root = temp_dir("helper-probe-malformed");
    let dir = add_test_plugin(&root, "good", &[]);
    let mut helper = ready_helper("probe-malformed");
    let mut payload = request(&dir, None).encode().unwrap();
    payload[0] = 2;
    helper.send(&Frame::new(FrameKind::PROBE, 7, payload));
    let reply = helper.receive();
    assert_eq!(reply.request_id, 7);
    let error = error_reply(&reply);
    assert_eq!(error.code, ErrorCode::BAD_PAYLOAD);
    assert_eq!(error.message, "request 7: a Probe (0x0020) payload is malformed: the init flag is 2, neither 0 nor 1");

    helper.send(&Frame::new(FrameKind::PROBE, 8, [1, 0, 5, 0, 9]));
    let error = error_reply(&helper.receive());
    assert_eq!(
        error.message,
        "request 8: a Probe (0x0020) payload is malformed: it ends after 5 bytes, inside the plugin directory's length (bytes 4 to 8)"
    );

    assert!(probe_in_helper(&mut helper, 9, &dir, None).is_ok());
    helper.close();
    helper.expect_exit(HelperExit::Closed);
}
