//! Plugins run isolated, each in a helper process of its own, through the same `Loader` calls as in-process
//! plugins: output streams back, logs reach the host, calls from several threads are in flight together, and
//! a handler that crashes, overflows its stack, exits or hangs ends only its helper, with its own status and a
//! message naming the plugin.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aisopod_loader::{CapabilityKind, Isolation, Loader, PluginState, RestartPolicy, Status};
use common::{add_test_plugin, isolated_loader, temp_dir};

const TOOL: CapabilityKind = CapabilityKind::Tool;

/// A loader over one tree with the test plugin `id` (built with HANDLER_MISCHIEF), isolated, loaded and
/// initialized.
fn isolated(name: &str, id: &str) -> Loader {
    let root = temp_dir(name);
    add_test_plugin(&root, id, &["HANDLER_MISCHIEF"]);
    let loader = isolated_loader("1.0.0", &[&root]);
    loader.set_isolation(None, Some(Isolation::Process));
    loader.set_call_timeout(None, Some(Duration::from_secs(5))).unwrap();
    assert_eq!(loader.discover(), 1);
    loader.load(id).unwrap();
    loader.init(id, "{}", Path::new("")).unwrap();
    loader
}

#[test]
fn an_isolated_plugin_runs_in_its_own_process_through_the_same_calls() {
    let loader = isolated("isolated-basic", "echo-away");
    let pid = loader.plugin_pid("echo-away").expect("a helper runs it");
    assert_ne!(pid, std::process::id() as i32);
    assert_eq!(loader.plugin_state("echo-away"), Some(PluginState::Initialized));
    assert_eq!(loader.invoke_to_vec("echo-away", TOOL, "echo", b"hello").unwrap(), b"hello");
    let big = loader.invoke_to_vec("echo-away", TOOL, "echo", b"big").unwrap();
    assert_eq!(big.len(), 65536);
    assert!(big.iter().all(|&b| b == b'x'));
    let failed = loader.invoke_to_vec("echo-away", TOOL, "echo", b"fail").unwrap_err();
    assert_eq!(failed.status(), Status::PluginError);
    assert_eq!(failed.message(), "plugin 'echo-away' tool 'echo' failed with code 7");
    let missing = loader.invoke_to_vec("echo-away", TOOL, "nope", b"").unwrap_err();
    assert_eq!(missing.status(), Status::CapabilityNotFound);

    let capability = loader.resolve("echo-away", TOOL, "echo").unwrap();
    assert_eq!(capability.invoke_to_vec(b"resolved").unwrap(), b"resolved");
    assert_eq!(loader.unload("echo-away").unwrap_err().status(), Status::Busy);
    drop(capability);

    let mut out = Vec::new();
    let ran = loader.emit("ping", b"", Some(aisopod_loader::VecSink::new(&mut out).sink())).unwrap();
    assert_eq!((ran, out.as_slice()), (1, b"echo-away;".as_slice()));
    assert!(loader.plugin_extension("echo-away", "test.ext").unwrap().is_null());
    let usage = loader.plugin_usage("echo-away").unwrap();
    assert!(usage.calls >= 6 && usage.peak_rss_bytes > 0, "{usage:?}");

    loader.unload("echo-away").unwrap();
    assert_eq!(loader.plugin_state("echo-away"), None);
    // SAFETY: signal 0 only checks whether the pid exists.
    assert_ne!(unsafe { libc::kill(pid, 0) }, 0, "the helper {pid} is gone after unload");
}

#[test]
fn the_plugins_logs_reach_the_host() {
    let loader = isolated("isolated-log", "logger");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    loader.set_log_callback(Some(Arc::new(move |level, source: &str, message: &str| {
        sink.lock().unwrap().push(format!("{level:?} {source}: {message}"));
    })));
    loader.invoke_to_vec("logger", TOOL, "echo", b"log").unwrap();
    assert!(
        lines.lock().unwrap().iter().any(|line| line == "Warn logger: echo was asked to log"),
        "{:?}",
        lines.lock().unwrap()
    );
}

#[test]
fn calls_from_several_threads_are_in_flight_together() {
    let loader = Arc::new(isolated("isolated-threads", "busy"));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let loader = loader.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let input = format!("thread {t} call {i}");
                    assert_eq!(loader.invoke_to_vec("busy", TOOL, "echo", input.as_bytes()).unwrap(), input.as_bytes());
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert!(loader.plugin_usage("busy").unwrap().calls >= 1600);
}

/// Calls echo with `input`, which ends the helper, and checks the status and message; then the plugin is
/// crashed, and the same loader still runs another plugin.
fn crash_case(input: &str, status: Status, message_part: &str) {
    let loader = isolated(&format!("isolated-{input}"), "victim");
    let started = Instant::now();
    let error = loader.invoke_to_vec("victim", TOOL, "echo", input.as_bytes()).unwrap_err();
    assert_eq!(error.status(), status, "{}", error.message());
    assert!(error.message().starts_with("plugin 'victim' "), "{}", error.message());
    assert!(error.message().contains(message_part), "{}", error.message());
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
    assert_eq!(loader.plugin_state("victim"), Some(PluginState::Crashed));
    let again = loader.invoke_to_vec("victim", TOOL, "echo", b"hello").unwrap_err();
    assert_eq!((again.status(), again.message()), (error.status(), error.message()));
    loader.unload("victim").unwrap();
}

#[test]
fn a_handler_that_segfaults_crashes_only_its_helper() {
    crash_case(
        "segfault",
        Status::PluginCrashed,
        "crashed during tool 'echo': its helper process was killed by signal SIGSEGV",
    );
}

#[test]
fn a_handler_that_overflows_its_stack_crashes_only_its_helper() {
    // The helper's stack guard turns the overflow into an abort with a line on stderr.
    crash_case(
        "overflow",
        Status::PluginCrashed,
        "crashed during tool 'echo': its helper process was killed by signal SIGABRT; stderr: fatal runtime error: \
         stack overflow",
    );
}

#[test]
fn a_handler_that_exits_ends_only_its_helper() {
    crash_case("exit", Status::PluginCrashed, "ended its helper process during tool 'echo': it exited with code 5");
}

#[test]
fn a_handler_that_never_returns_is_killed_at_its_deadline() {
    let root = temp_dir("isolated-hang");
    add_test_plugin(&root, "sleepy", &["HANDLER_MISCHIEF"]);
    let loader = isolated_loader("1.0.0", &[&root]);
    loader.set_isolation(Some("sleepy"), Some(Isolation::Process));
    loader.discover();
    loader.load("sleepy").unwrap();
    loader.init("sleepy", "{}", Path::new("")).unwrap();
    loader.set_call_timeout(Some("sleepy"), Some(Duration::from_millis(300))).unwrap();
    let started = Instant::now();
    let error = loader.invoke_to_vec("sleepy", TOOL, "echo", b"hang").unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
    assert_eq!(error.status(), Status::Timeout);
    assert_eq!(
        error.message(),
        "plugin 'sleepy' did not finish tool 'echo' within 300 ms: its helper process was killed"
    );
    assert_eq!(loader.plugin_state("sleepy"), Some(PluginState::Crashed));
}

#[test]
fn a_restart_policy_starts_a_crashed_plugin_again_with_its_config() {
    let loader = isolated("isolated-restart", "phoenix");
    loader.set_restart_policy(Some("phoenix"), Some(RestartPolicy { max_restarts: 1, backoff: Duration::ZERO }));
    let first = loader.plugin_pid("phoenix").unwrap();
    assert_eq!(loader.invoke_to_vec("phoenix", TOOL, "echo", b"segfault").unwrap_err().status(), Status::PluginCrashed);
    assert_eq!(loader.invoke_to_vec("phoenix", TOOL, "echo", b"back").unwrap(), b"back");
    assert_ne!(loader.plugin_pid("phoenix").unwrap(), first);
    assert_eq!(loader.plugin_state("phoenix"), Some(PluginState::Initialized));
    assert_eq!(loader.plugin_usage("phoenix").unwrap().restarts, 1);
    assert_eq!(loader.invoke_to_vec("phoenix", TOOL, "echo", b"segfault").unwrap_err().status(), Status::PluginCrashed);
    let error = loader.invoke_to_vec("phoenix", TOOL, "echo", b"again").unwrap_err();
    assert_eq!(error.status(), Status::PluginCrashed, "only one restart: {}", error.message());
}

#[test]
fn calls_into_a_thread_safe_isolated_plugin_run_at_the_same_time() {
    // Each "meet" call waits for the other to be running too: they pass only if both are in flight at once.
    let loader = Arc::new(isolated("isolated-meet", "meeting"));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let loader = loader.clone();
            std::thread::spawn(move || loader.invoke_to_vec("meeting", TOOL, "echo", b"meet"))
        })
        .collect();
    for thread in threads {
        thread.join().unwrap().expect("both calls ran at once");
    }
}

#[test]
fn a_plugin_that_is_not_thread_safe_stays_serialized_when_isolated() {
    let root = temp_dir("isolated-serial");
    let text =
        common::manifest("serial").replace("entry_point = \"serial\"", "entry_point = \"serial\"\nthread_safe = false");
    // DETECT_OVERLAP: echo fails with code 99 when two calls overlap.
    common::add_test_plugin_with(&root, "serial", &["DETECT_OVERLAP"], &text);
    let loader = Arc::new(isolated_loader("1.0.0", &[&root]));
    loader.set_isolation(Some("serial"), Some(Isolation::Process));
    loader.discover();
    loader.load("serial").unwrap();
    loader.init("serial", "{}", Path::new("")).unwrap();
    assert!(loader.plugin_pid("serial").is_some());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let loader = loader.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let input = format!("{t}/{i}");
                    assert_eq!(
                        loader.invoke_to_vec("serial", TOOL, "echo", input.as_bytes()).unwrap(),
                        input.as_bytes()
                    );
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
}

#[test]
fn a_manifest_can_ask_for_isolation_and_the_hosts_setting_for_the_plugin_wins() {
    let root = temp_dir("isolated-manifest");
    for id in ["asks", "overruled"] {
        let text = common::manifest(id)
            .replace(&format!("entry_point = \"{id}\""), &format!("entry_point = \"{id}\"\nisolation = \"process\""));
        common::add_test_plugin_with(&root, id, &[], &text);
    }
    let loader = isolated_loader("1.0.0", &[&root]);
    loader.set_isolation(Some("overruled"), Some(Isolation::None));
    loader.discover();
    assert_eq!(loader.isolation_of("asks"), Isolation::Process);
    assert_eq!(loader.isolation_of("overruled"), Isolation::None);
    loader.load("asks").unwrap();
    loader.load("overruled").unwrap();
    assert!(loader.plugin_pid("asks").is_some());
    assert!(loader.plugin_pid("overruled").is_none());
}

#[test]
fn resource_limits_are_set_on_the_helper_and_a_cpu_limit_ends_a_spinning_handler() {
    let root = temp_dir("isolated-limits");
    add_test_plugin(&root, "limited", &["HANDLER_MISCHIEF"]);
    let loader = isolated_loader("1.0.0", &[&root]);
    loader.set_isolation(None, Some(Isolation::Process));
    let limits = aisopod_loader::ResourceLimits { address_space: 4 << 30, cpu_seconds: 1, open_files: 64 };
    loader.set_resource_limits(Some("limited"), Some(limits));
    loader.discover();
    loader.load("limited").unwrap();
    loader.init("limited", "{}", Path::new("")).unwrap();
    let pid = loader.plugin_pid("limited").unwrap();
    // The kernel's own view of the helper's limits.
    let table = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let row = |name: &str| {
        let line = table.lines().find(|line| line.starts_with(name)).unwrap_or_else(|| panic!("{table}"));
        // "Max cpu time   <soft>   <hard>   <units>"
        let mut values: Vec<&str> = line.split_whitespace().rev().skip(1).take(2).collect();
        values.reverse();
        values.join(" ")
    };
    assert_eq!(row("Max cpu time"), "1 2", "a second more for the hard limit: SIGXCPU comes first");
    assert_eq!(row("Max open files"), "64 64");
    assert_eq!(row("Max address space"), format!("{0} {0}", 4u64 << 30));

    let started = Instant::now();
    let error = loader.invoke_to_vec("limited", TOOL, "echo", b"spin").unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
    assert_eq!(error.status(), Status::PluginCrashed, "{}", error.message());
    assert!(error.message().contains("killed by signal SIGXCPU"), "{}", error.message());
    let usage = loader.plugin_usage("limited").unwrap();
    assert!(usage.user_micros + usage.system_micros >= 900_000, "the helper spun about a second: {usage:?}");
}
