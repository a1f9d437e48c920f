//! `aisopod validate` on real plugins: the C examples and the test plugin built right, then built wrong in
//! each of the ways the suite must catch, each in a child process and named by the right check.

mod support;

use std::path::Path;

use support::{aisopod, checks, code, hello_plugin, temp_dir, test_plugin};

/// Runs `validate --json` on one directory with a short step deadline; returns the exit code and the checks.
fn validate(dir: &Path, extra: &[&str]) -> (i32, Vec<(String, String, String)>) {
    let dir = dir.to_str().unwrap();
    let mut args = vec!["validate", "--json", "--timeout", "2", dir];
    args.extend_from_slice(extra);
    let output = aisopod(&args);
    let (exit, context) = code(&output);
    let mut plugins = checks(&output);
    assert_eq!(plugins.len(), 1, "{context}");
    (exit, plugins.remove(0))
}

/// Asserts the suite failed with exactly one FAIL, `check`, whose reason contains each of `words`.
fn assert_fails(dir: &Path, check: &str, words: &[&str]) {
    let (exit, checks) = validate(dir, &[]);
    assert_eq!(exit, 1, "{checks:?}");
    let failed: Vec<_> = checks.iter().filter(|c| c.1 == "FAIL").collect();
    assert_eq!(failed.len(), 1, "{checks:?}");
    assert_eq!(failed[0].0, check, "{checks:?}");
    for word in words {
        assert!(failed[0].2.contains(word), "'{word}' not in {:?}", failed[0]);
    }
}

const ALL_CHECKS: [&str; 9] = [
    "manifest",
    "abi_gate",
    "capabilities",
    "create_destroy",
    "init_empty",
    "init_sample",
    "calls",
    "get_extension",
    "shutdown_destroy",
];

#[test]
fn hello_example_passes_every_check() {
    let root = temp_dir("hello");
    let dir = hello_plugin(&root);
    let (exit, checks) = validate(&dir, &[]);
    assert_eq!(exit, 0, "{checks:?}");
    let names: Vec<&str> = checks.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, ALL_CHECKS);
    assert!(checks.iter().all(|c| c.1 != "FAIL"), "{checks:?}");
    assert!(checks.iter().any(|c| c.0 == "calls" && c.2.contains("2 calls")), "{checks:?}");
}

#[test]
fn the_test_plugin_passes_in_a_child_and_in_process() {
    let root = temp_dir("good");
    let dir = test_plugin(&root, "good", &[]);
    for extra in [&[][..], &["--in-process"][..]] {
        let (exit, checks) = validate(&dir, extra);
        assert_eq!(exit, 0, "{extra:?}: {checks:?}");
        assert_eq!(checks.len(), ALL_CHECKS.len(), "{checks:?}");
    }
}

#[test]
fn a_wrong_abi_version_fails_the_abi_gate() {
    let root = temp_dir("abi");
    assert_fails(&test_plugin(&root, "abi2", &["ABI_VERSION=2"]), "abi_gate", &["AISOPOD_STATUS_ABI_MISMATCH", "2"]);
}

#[test]
fn a_missing_create_symbol_fails_the_abi_gate() {
    let root = temp_dir("nocreate");
    let dir = test_plugin(&root, "nocreate", &["NO_CREATE_SYMBOL"]);
    assert_fails(&dir, "abi_gate", &["AISOPOD_STATUS_MISSING_SYMBOL", "aisopod_plugin_create"]);
}

#[test]
fn create_returning_null_fails_create_destroy() {
    let root = temp_dir("createnull");
    let dir = test_plugin(&root, "createnull", &["CREATE_NULL"]);
    assert_fails(&dir, "create_destroy", &["AISOPOD_STATUS_CREATE_FAILED"]);
}

#[test]
fn a_short_plugin_struct_fails_create_destroy() {
    let root = temp_dir("small");
    let dir = test_plugin(&root, "small", &["SMALL_STRUCT"]);
    assert_fails(&dir, "create_destroy", &["AISOPOD_STATUS_INVALID_PLUGIN_STRUCT"]);
}

#[test]
fn an_undeclared_capability_fails_capabilities() {
    let root = temp_dir("extra");
    let dir = test_plugin(&root, "extra", &["REGISTER_EXTRA"]);
    assert_fails(&dir, "capabilities", &["AISOPOD_STATUS_CAPABILITY_MISMATCH", "extra"]);
}

#[test]
fn a_declared_capability_never_registered_fails_capabilities() {
    let root = temp_dir("skiphook");
    let dir = test_plugin(&root, "skiphook", &["SKIP_HOOK"]);
    assert_fails(&dir, "capabilities", &["AISOPOD_STATUS_CAPABILITY_MISMATCH", "ping"]);
}

#[test]
fn a_failing_init_fails_init_empty() {
    let root = temp_dir("initfails");
    let dir = test_plugin(&root, "initfails", &["INIT_FAILS"]);
    assert_fails(&dir, "init_empty", &["AISOPOD_STATUS_INIT_FAILED", "3"]);
}

#[test]
fn a_crash_in_init_fails_init_empty_naming_the_signal() {
    let root = temp_dir("segv");
    let dir = test_plugin(&root, "segv", &["INIT_SEGFAULT"]);
    assert_fails(&dir, "init_empty", &["SIGSEGV", "init with an empty config"]);
}

#[test]
fn a_hang_in_init_is_killed_at_the_deadline() {
    let root = temp_dir("loop");
    let dir = test_plugin(&root, "loop", &["INIT_LOOP"]);
    let started = std::time::Instant::now();
    assert_fails(&dir, "init_empty", &["timed out", "init with an empty config", "killed"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
}

#[test]
fn an_exit_in_create_fails_naming_the_step() {
    let root = temp_dir("exit");
    let dir = test_plugin(&root, "exiting", &["CREATE_EXIT"]);
    assert_fails(&dir, "abi_gate", &["exit", "aisopod_plugin_create"]);
}

#[test]
fn a_manifest_the_loader_refuses_fails_manifest() {
    let root = temp_dir("badmanifest");
    let dir = root.join("badmanifest");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("aisopod.plugin.toml"), "[plugin]\nid = \"badmanifest\"\n").unwrap();
    assert_fails(&dir, "manifest", &["AISOPOD_STATUS_MANIFEST_PARSE", "name"]);
}

#[test]
fn one_failure_among_several_plugins_exits_1_and_reports_each() {
    let root = temp_dir("several");
    let good = test_plugin(&root, "fine", &[]);
    let bad = test_plugin(&root, "broken", &["ABI_VERSION=2"]);
    let output = aisopod(&["validate", good.to_str().unwrap(), bad.to_str().unwrap()]);
    let (exit, context) = code(&output);
    assert_eq!(exit, 1, "{context}");
    let text = support::stdout(&output);
    assert!(text.contains("fine: PASS"), "{context}");
    assert!(text.contains("broken: FAIL"), "{context}");
    assert!(text.contains("FAIL abi_gate"), "{context}");
    assert!(text.contains("2 plugin(s): 1 passed, 1 failed"), "{context}");
}

#[test]
fn in_process_reports_the_same_failure() {
    let root = temp_dir("inproc");
    let dir = test_plugin(&root, "inproc", &["REGISTER_EXTRA"]);
    let (exit, checks) = validate(&dir, &["--in-process"]);
    assert_eq!(exit, 1);
    assert!(checks.iter().any(|c| c.0 == "capabilities" && c.1 == "FAIL"), "{checks:?}");
}

#[test]
fn usage_errors_exit_2() {
    let root = temp_dir("usage");
    let (exit, context) = code(&aisopod(&["validate", root.join("nothing").to_str().unwrap()]));
    assert_eq!(exit, 2, "{context}");
    assert!(context.contains("no aisopod.plugin.toml"), "{context}");
    let (exit, context) = code(&aisopod(&["validate"]));
    assert_eq!(exit, 2, "{context}");
    let dir = test_plugin(&root, "usage", &[]);
    let (exit, context) = code(&aisopod(&["validate", "--timeout", "0", dir.to_str().unwrap()]));
    assert_eq!(exit, 2, "{context}");
    let (exit, context) = code(&aisopod(&["validate", "--host-version", "one", dir.to_str().unwrap()]));
    assert_eq!(exit, 2, "{context}");
    assert!(context.contains("--host-version one"), "{context}");
}

#[test]
fn valgrind_runs_the_suite_again_or_says_it_is_skipped() {
    let root = temp_dir("valgrind");
    let dir = test_plugin(&root, "vg", &[]);
    let (exit, checks) = validate(&dir, &["--valgrind"]);
    assert_eq!(exit, 0, "{checks:?}");
    let last = checks.last().unwrap();
    assert_eq!(last.0, "valgrind", "{checks:?}");
    let installed = std::process::Command::new("valgrind").arg("--version").output().is_ok_and(|o| o.status.success());
    if installed {
        assert_eq!(last.1, "PASS", "{last:?}");
    } else {
        assert_eq!((last.1.as_str(), last.2.as_str()), ("WARN", "skipped: valgrind is not installed"));
    }
}
