//! `aisopod validate`: the conformance suite on each plugin directory, by default in a child process per
//! plugin so that a crash or a hang is a FAIL naming the step, not the end of the run.
//!
//! The child is `aisopod __validate-child DIR`. It runs the suite in its own process and writes one line per
//! event on its stdout, each starting with [`MARKER`] and followed by JSON: `{"start": [check, detail]}` before
//! every step, `{"done": check}` after every check. Other lines (a plugin's own output) are passed to stderr.
//!
//! Exit codes: 0 when every check passed (warnings allowed), 1 when one failed, 2 for a usage or I/O error.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aisopod_loader::MANIFEST_FILE_NAME;
use serde::{Deserialize, Serialize};

use crate::EXIT_FAILED;
use suite::{Check, Reporter, Verdict};

mod suite;

/// What starts each protocol line; a plugin printing to stdout does not start its lines with it.
const MARKER: &str = "\u{1}aisopod-validate ";
/// How much longer steps may take under valgrind.
const VALGRIND_SLOWDOWN: u32 = 20;

#[derive(clap::Args)]
pub struct Args {
    /// Plugin directories, each holding aisopod.plugin.toml and its library.
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Run every suite in this process instead of a child process per plugin.
    #[arg(long)]
    in_process: bool,
    /// Run each suite again under valgrind, when it is installed.
    #[arg(long)]
    valgrind: bool,
    /// The deadline of one step, in seconds; a step that runs longer is killed and fails.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    timeout: f64,
    /// The host version the suite poses as (default: the lowest the plugin accepts).
    #[arg(long, value_name = "SEMVER")]
    host_version: Option<String>,
}

/// One plugin's results.
#[derive(Serialize)]
struct PluginResult {
    directory: PathBuf,
    result: Verdict,
    checks: Vec<Check>,
}

pub fn run(args: &Args) -> Result<u8, String> {
    for dir in &args.dirs {
        if !dir.join(MANIFEST_FILE_NAME).is_file() {
            return Err(format!("{}: no {MANIFEST_FILE_NAME} there", dir.display()));
        }
    }
    if !(args.timeout > 0.0 && args.timeout.is_finite()) {
        return Err(format!("--timeout {}: must be a positive number of seconds", args.timeout));
    }
    if let Some(version) = &args.host_version {
        aisopod_loader::Loader::new(version).map_err(|e| format!("--host-version {version}: {e}"))?;
    }
    let deadline = Duration::from_secs_f64(args.timeout);
    let progress = if std::io::stdout().is_terminal() && !args.json {
        indicatif::ProgressBar::new(args.dirs.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut results = Vec::new();
    for dir in &args.dirs {
        progress.set_message(dir.display().to_string());
        let mut checks = if args.in_process {
            let mut collected = Collected::default();
            suite::run(dir, args.host_version.as_deref(), &mut collected);
            collected.checks
        } else {
            in_child(dir, args.host_version.as_deref(), deadline, None)?
        };
        if args.valgrind {
            checks.push(under_valgrind(dir, args.host_version.as_deref(), deadline)?);
        }
        let result = checks.iter().map(|c| c.verdict).max().unwrap_or(Verdict::Fail);
        let plugin = PluginResult { directory: dir.clone(), result, checks };
        if !args.json {
            progress.suspend(|| print_text(&plugin));
        }
        results.push(plugin);
        progress.inc(1);
    }
    progress.finish_and_clear();
    let failed = results.iter().filter(|r| r.result == Verdict::Fail).count();
    if args.json {
        let overall = if failed > 0 { Verdict::Fail } else { Verdict::Pass };
        let report = serde_json::json!({ "result": overall, "plugins": results });
        println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
    } else {
        println!("{} plugin(s): {} passed, {failed} failed", results.len(), results.len() - failed);
    }
    Ok(if failed > 0 { EXIT_FAILED } else { 0 })
}

fn print_text(plugin: &PluginResult) {
    println!("{}: {}", plugin.directory.display(), plugin.result.name());
    for c in &plugin.checks {
        println!("  {} {:<16} {:>8.2} ms  {}", c.verdict.name(), c.check, c.millis, c.reason);
    }
}

/// Checks collected in this process.
#[derive(Default)]
struct Collected {
    checks: Vec<Check>,
}

impl Reporter for Collected {
    fn start(&mut self, _check: &str, _detail: &str) {}
    fn done(&mut self, check: Check) {
        self.checks.push(check);
    }
}

/// The child's reporter: one protocol line per event, flushed at once, so that the parent knows the step a
/// crash happened in.
struct Lines;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Event {
    Start(String, String),
    Done(Check),
}

impl Lines {
    fn send(&self, event: &Event) {
        let mut out = std::io::stdout().lock();
        let line = serde_json::to_string(event).expect("events serialize");
        // The child's stdout is the parent's pipe: if it is gone, so is anyone to report to.
        let _ = writeln!(out, "{MARKER}{line}").and_then(|()| out.flush());
    }
}

impl Reporter for Lines {
    fn start(&mut self, check: &str, detail: &str) {
        self.send(&Event::Start(check.to_owned(), detail.to_owned()));
    }
    fn done(&mut self, check: Check) {
        self.send(&Event::Done(check));
    }
}

/// The hidden `__validate-child` command.
pub fn child_main(dir: &Path, host_version: Option<&str>) -> Result<u8, String> {
    suite::run(dir, host_version, &mut Lines);
    Ok(0)
}

/// Runs the suite on `dir` in a child process (under `wrapper`, such as valgrind, when given), killing it when
/// a step outlives `deadline`.
fn in_child(
    dir: &Path,
    host_version: Option<&str>,
    deadline: Duration,
    wrapper: Option<&[&str]>,
) -> Result<Vec<Check>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the aisopod executable: {e}"))?;
    let mut command = match wrapper {
        Some([program, args @ ..]) => {
            let mut command = Command::new(program);
            command.args(args).arg(&exe);
            command
        }
        _ => Command::new(&exe),
    };
    command.arg("__validate-child").arg(dir);
    if let Some(version) = host_version {
        command.arg("--host-version").arg(version);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", command.get_program().to_string_lossy()))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let (sender, events) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).split(b'\n') {
            let Ok(line) = line else { break };
            let text = String::from_utf8_lossy(&line);
            match text.find(MARKER).and_then(|at| serde_json::from_str::<Event>(&text[at + MARKER.len()..]).ok()) {
                Some(event) => {
                    if sender.send(event).is_err() {
                        break;
                    }
                }
                None => eprintln!("{text}"),
            }
        }
    });
    let mut checks = Vec::new();
    let mut current: Option<(String, String)> = None;
    let mut step_start = Instant::now();
    let mut step_deadline = step_start + deadline;
    let timed_out = loop {
        let left = step_deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(Event::Start(check, detail)) => {
                current = Some((check, detail));
                step_start = Instant::now();
                step_deadline = step_start + deadline;
            }
            Ok(Event::Done(check)) => {
                current = None;
                checks.push(check);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => break true,
            Err(mpsc::RecvTimeoutError::Disconnected) => break false,
        }
    };
    if timed_out {
        let _ = child.kill();
    }
    let status = child.wait().map_err(|e| format!("waiting for the child process: {e}"))?;
    let _ = reader.join();
    let (check, detail) = current.unwrap_or_else(|| ("suite".to_owned(), "between steps".to_owned()));
    let failure = if timed_out {
        Some(format!(
            "timed out: no progress for {:.1} s during {detail}; the child process was killed",
            deadline.as_secs_f64()
        ))
    } else if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
        Some(format!("crashed with signal {signal} ({}) during {detail}", signal_name(signal)))
    } else if !status.success() {
        Some(format!("the child process exited with {status} during {detail}"))
    } else if check != "suite" {
        Some(format!("the child process ended during {detail} without reporting its result"))
    } else {
        None
    };
    if let Some(reason) = failure {
        let millis = (step_start.elapsed().as_secs_f64() * 1e5).round() / 100.0;
        checks.push(Check { check, verdict: Verdict::Fail, reason, millis });
    }
    Ok(checks)
}

/// The suite again under valgrind, as one check: FAIL when valgrind reports an error or a check fails there.
fn under_valgrind(dir: &Path, host_version: Option<&str>, deadline: Duration) -> Result<Check, String> {
    let installed = Command::new("valgrind").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !installed.is_ok_and(|s| s.success()) {
        return Ok(Check {
            check: "valgrind".to_owned(),
            verdict: Verdict::Warn,
            reason: "skipped: valgrind is not installed".to_owned(),
            millis: 0.0,
        });
    }
    let start = Instant::now();
    let wrapper = ["valgrind", "--quiet", "--error-exitcode=99", "--trace-children=no"];
    let checks = in_child(dir, host_version, deadline * VALGRIND_SLOWDOWN, Some(&wrapper))?;
    let millis = start.elapsed().as_secs_f64() * 1000.0;
    let failed: Vec<String> =
        checks.iter().filter(|c| c.verdict == Verdict::Fail).map(|c| format!("{}: {}", c.check, c.reason)).collect();
    Ok(if failed.is_empty() {
        Check {
            check: "valgrind".to_owned(),
            verdict: Verdict::Pass,
            reason: "the suite ran clean under valgrind".to_owned(),
            millis,
        }
    } else {
        Check {
            check: "valgrind".to_owned(),
            verdict: Verdict::Fail,
            reason: format!("under valgrind: {}", failed.join("; ")),
            millis,
        }
    })
}

/// The usual name of a signal that ends a crashed plugin.
fn signal_name(signal: i32) -> &'static str {
    match signal {
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        31 => "SIGSYS",
        _ => "an unexpected signal",
    }
}
