//! `AISOPOD_LOG` from a real C host (`tests/hosts/log_host.c`): with no log callback, the variable sends the
//! loader's and plugins' log lines at or above its level to stderr, one line each; unset or empty sends
//! nothing; an unknown value is reported once and reads as warn; a callback set by the host wins.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

const PLUGIN_LINE: &str = "[warn] talker: echo was asked to log\n";
const LOADER_LINE: &str = "[debug] loader: skipping search path ";

fn setup() -> (PathBuf, PathBuf) {
    static BUILT: std::sync::OnceLock<(PathBuf, PathBuf)> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let work = temp_dir("c-log");
            let tree = work.join("plugins");
            add_test_plugin(&tree, "talker", &["HANDLER_MISCHIEF"]);
            (build_c_host("tests/hosts/log_host.c", &work.join("log_host"), &["-g"]), tree)
        })
        .clone()
}

/// The host's stderr, run with `AISOPOD_LOG` set to `level` (removed when `None`).
fn stderr_with(level: Option<&str>, extra: &[&str]) -> String {
    let (host, tree) = setup();
    let mut command = Command::new(&host);
    command.arg(&tree).args(extra);
    match level {
        Some(level) => command.env("AISOPOD_LOG", level),
        None => command.env_remove("AISOPOD_LOG"),
    };
    host_passed(command.output().unwrap()).1
}

#[test]
fn unset_or_empty_sends_nothing_to_stderr() {
    assert_eq!(stderr_with(None, &[]), "");
    assert_eq!(stderr_with(Some(""), &[]), "");
}

#[test]
fn a_level_lets_through_its_own_lines_and_more_severe_ones() {
    let warn = stderr_with(Some("warn"), &[]);
    assert_eq!(warn, PLUGIN_LINE, "warn shows the plugin's warning and nothing below it");
    let debug = stderr_with(Some("debug"), &[]);
    assert!(debug.contains(PLUGIN_LINE) && debug.contains(LOADER_LINE), "{debug}");
    assert!(debug.lines().all(|line| line.starts_with('[')), "one line per message:\n{debug}");
    assert_eq!(stderr_with(Some("error"), &[]), "", "error hides warnings");
}

#[test]
fn an_unknown_value_is_reported_once_and_reads_as_warn() {
    let stderr = stderr_with(Some("loud"), &[]);
    let complaint = "[warn] loader: AISOPOD_LOG=\"loud\" is not one of error, warn, info, debug, trace; using warn\n";
    assert_eq!(stderr, format!("{complaint}{PLUGIN_LINE}"));
}

#[test]
fn a_host_callback_wins_over_the_variable() {
    let (host, tree) = setup();
    let out = Command::new(&host).arg(&tree).arg("callback").env("AISOPOD_LOG", "trace").output().unwrap();
    let (stdout, stderr) = host_passed(out);
    assert!(stdout.contains("ok: the callback heard talker 1 time(s)"), "{stdout}");
    assert_eq!(stderr, "");
}
