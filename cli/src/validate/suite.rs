//! The conformance suite for one plugin, run through the loader's Rust API: each step is announced before it
//! starts (so that a crash or a hang can be pinned on it) and ends in one or more checks.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aisopod_loader::{CapabilityKind, Error, Isolation, Loader, Manifest, Status, MANIFEST_FILE_NAME};
use serde::{Deserialize, Serialize};

/// A step over this is a WARN: the scan limit clap-validator uses.
pub const STEP_BUDGET: Duration = Duration::from_millis(100);
/// The config of the second `init`: a small JSON object, the convention for configs.
pub const SAMPLE_CONFIG: &str = r#"{"aisopod_validate": true, "name": "sample", "values": [1, 2, 3]}"#;
/// Input that is not UTF-8: a handler must cope with bytes.
pub const INVALID_UTF8: &[u8] = b"\xff\xfe\x80not utf-8";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Check {
    pub check: String,
    pub verdict: Verdict,
    pub reason: String,
    /// How long the step took, in milliseconds (the slowest call, for steps of several calls).
    pub millis: f64,
}

/// What a running suite tells whoever runs it.
pub trait Reporter {
    /// A step starts: `check` is the check it ends in, `detail` what it is doing now.
    fn start(&mut self, check: &str, detail: &str);
    fn done(&mut self, check: Check);
}

/// What each step does, for messages naming the step a plugin died in.
pub fn describe(check: &str) -> &'static str {
    match check {
        "manifest" => "reading the manifest and discovering the plugin",
        "abi_gate" => {
            "the first load: dlopen, aisopod_plugin_abi_version, aisopod_plugin_create, register_capabilities"
        }
        "create_destroy" => "create and destroy, twice",
        "init_empty" => "init with an empty config",
        "init_sample" => "init with a sample config",
        "calls" => "calling every tool and command",
        "get_extension" => "get_extension(\"unknown\")",
        "shutdown_destroy" => "shutdown and destroy",
        _ => "the suite",
    }
}

/// Times `f`, returning its result and the time taken.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let result = f();
    (result, start.elapsed())
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

/// PASS, or WARN when `took` is over the budget.
fn pass(check: &str, reason: impl Into<String>, took: Duration) -> Check {
    let reason = reason.into();
    if took > STEP_BUDGET {
        Check {
            check: check.to_owned(),
            verdict: Verdict::Warn,
            reason: format!("{reason}; took {} ms, over the {} ms budget", millis(took), STEP_BUDGET.as_millis()),
            millis: millis(took),
        }
    } else {
        Check { check: check.to_owned(), verdict: Verdict::Pass, reason, millis: millis(took) }
    }
}

fn fail(check: &str, reason: impl Into<String>, took: Duration) -> Check {
    Check { check: check.to_owned(), verdict: Verdict::Fail, reason: reason.into(), millis: millis(took) }
}

/// "AISOPOD_STATUS_X: message".
fn explain(error: &Error) -> String {
    format!("{}: {}", aisopod_loader::status_name(error.status()), error.message())
}

/// Load failures of the ABI gate: the library, its symbols and its version.
fn is_abi_gate(status: Status) -> bool {
    matches!(
        status,
        Status::LibraryNotFound
            | Status::LibraryOutsidePluginDir
            | Status::LibraryLoad
            | Status::MissingSymbol
            | Status::AbiMismatch
            | Status::IntegrityMismatch
            | Status::Unsigned
            | Status::UnknownKey
            | Status::BadSignature
            | Status::MalformedSignature
            | Status::VersionIncompatible
            | Status::UnsafePermissions
            | Status::Io
    )
}

/// Load failures of registration: what the plugin registered against what it declared.
fn is_registration(status: Status) -> bool {
    matches!(status, Status::RegistrationFailed | Status::CapabilityMismatch)
}

/// The host version the suite poses as: `requested`, or the lowest the plugin accepts.
fn host_version(manifest: &Manifest, requested: Option<&str>) -> String {
    match (requested, &manifest.min_host_version, &manifest.max_host_version) {
        (Some(v), _, _) => v.to_owned(),
        (None, Some(min), _) => min.to_string(),
        (None, None, Some(max)) => max.to_string(),
        (None, None, None) => aisopod_loader::VERSION.to_owned(),
    }
}

/// Runs the suite on the plugin directory `dir`, stopping at the first failure that leaves nothing to test.
pub fn run(dir: &Path, requested_host: Option<&str>, out: &mut dyn Reporter) {
    out.start("manifest", describe("manifest"));
    let ((loader, id, manifest), took) = match timed(|| discover(dir, requested_host)) {
        (Ok(found), took) => (found, took),
        (Err(reason), took) => return out.done(fail("manifest", reason, took)),
    };
    let declared: Vec<String> = manifest
        .capabilities
        .iter()
        .filter(|(_, names)| !names.is_empty())
        .map(|(kind, names)| format!("{} {}", kind.manifest_key(), names.join(", ")))
        .collect();
    out.done(pass("manifest", format!("{id} {} discovered", manifest.version), took));

    out.start("abi_gate", describe("abi_gate"));
    let (loaded, took) = timed(|| loader.load(&id));
    if let Err(e) = loaded {
        if is_abi_gate(e.status()) {
            return out.done(fail("abi_gate", explain(&e), took));
        }
        out.done(pass("abi_gate", "the library opens and speaks ABI v1", took));
        let check = if is_registration(e.status()) { "capabilities" } else { "create_destroy" };
        return out.done(fail(check, explain(&e), took));
    }
    out.done(pass("abi_gate", "the library opens and speaks ABI v1", took));
    out.done(pass("capabilities", format!("registered as declared: {}", declared.join("; ")), Duration::ZERO));

    out.start("create_destroy", describe("create_destroy"));
    let mut slowest = Duration::ZERO;
    for (round, call) in [(1, "destroy"), (2, "create"), (2, "destroy")] {
        out.start("create_destroy", &format!("{call} #{round}"));
        let (result, took) = timed(|| if call == "create" { loader.load(&id) } else { loader.unload(&id) });
        slowest = slowest.max(took);
        if let Err(e) = result {
            return out.done(fail("create_destroy", format!("{call} #{round}: {}", explain(&e)), took));
        }
    }
    out.done(pass("create_destroy", "created and destroyed twice", slowest));

    let data_dir = std::env::temp_dir().join(format!("aisopod-validate-{}-{id}", std::process::id()));
    let _ = std::fs::create_dir_all(&data_dir);
    for (check, config) in [("init_empty", ""), ("init_sample", SAMPLE_CONFIG)] {
        out.start(check, describe(check));
        let (result, took) = timed(|| loader.load(&id).and_then(|()| loader.init(&id, config, &data_dir)));
        if let Err(e) = result {
            let _ = std::fs::remove_dir_all(&data_dir);
            return out.done(fail(check, explain(&e), took));
        }
        if check == "init_empty" {
            out.start(check, "shutdown and destroy after init with an empty config");
            if let Err(e) = loader.unload(&id) {
                let _ = std::fs::remove_dir_all(&data_dir);
                return out.done(fail(check, format!("unload after init: {}", explain(&e)), took));
            }
        }
        let what = if config.is_empty() { "an empty config".to_owned() } else { format!("config {config}") };
        out.done(pass(check, format!("init returned 0 with {what}"), took));
    }
    let _ = std::fs::remove_dir_all(&data_dir);

    out.start("calls", describe("calls"));
    match calls(&loader, &id, &manifest, out) {
        Ok((reason, took)) => out.done(pass("calls", reason, took)),
        Err(check) => return out.done(check),
    }

    out.start("get_extension", describe("get_extension"));
    let (extension, took) = timed(|| loader.plugin_extension(&id, "unknown"));
    match extension {
        Ok(pointer) if pointer.is_null() => {
            out.done(pass("get_extension", "get_extension(\"unknown\") returned NULL", took))
        }
        Ok(pointer) => {
            out.done(fail("get_extension", format!("get_extension(\"unknown\") returned {pointer:p}, not NULL"), took))
        }
        Err(e) => out.done(fail("get_extension", explain(&e), took)),
    }

    out.start("shutdown_destroy", describe("shutdown_destroy"));
    let (result, took) = timed(|| loader.unload(&id));
    match result {
        Ok(()) => out.done(pass("shutdown_destroy", "shutdown and destroy returned", took)),
        Err(e) => out.done(fail("shutdown_destroy", explain(&e), took)),
    }
}

/// Reads the manifest in `dir` and discovers it with a loader searching only `dir`'s parent, in this process.
fn discover(dir: &Path, requested_host: Option<&str>) -> Result<(Loader, String, Manifest), String> {
    let dir: PathBuf = dir.canonicalize().map_err(|e| format!("{}: {e}", dir.display()))?;
    let manifest = Manifest::read(&dir.join(MANIFEST_FILE_NAME)).map_err(|e| explain(&e))?;
    let loader = Loader::new(&host_version(&manifest, requested_host)).map_err(|e| explain(&e))?;
    loader.set_use_default_paths(false);
    loader.set_use_env_path(false);
    loader.add_search_path(dir.parent().unwrap_or(Path::new("/")));
    loader.set_isolation(Some(&manifest.id), Some(Isolation::None));
    loader.discover();
    let discovery = loader.discovery();
    let same_dir = |other: &Path| other.canonicalize().is_ok_and(|other| other == dir);
    if let Some(info) = discovery.find(&manifest.id) {
        if same_dir(&info.directory) {
            let id = manifest.id.clone();
            return Ok((loader, id, manifest));
        }
        return Err(format!(
            "discovery took plugin '{}' from {}, not from {}",
            manifest.id,
            info.directory.display(),
            dir.display()
        ));
    }
    match discovery.diagnostics().iter().find(|d| d.path.starts_with(&dir) || same_dir(&d.path)) {
        Some(d) => Err(format!("{}: {}", aisopod_loader::status_name(d.status), d.message)),
        None => Err(format!("discovery did not find plugin '{}' in {}", manifest.id, dir.display())),
    }
}

/// Calls every tool and command with an empty input and with invalid UTF-8. A plugin error code is an answer;
/// anything else (a crash in an isolated run, a panic caught by an SDK) fails.
fn calls(loader: &Loader, id: &str, manifest: &Manifest, out: &mut dyn Reporter) -> Result<(String, Duration), Check> {
    let mut slowest = Duration::ZERO;
    let mut count = 0;
    let mut errors = Vec::new();
    for kind in [CapabilityKind::Tool, CapabilityKind::Command] {
        for name in manifest.declared(kind) {
            for (input, label) in [(&b""[..], "empty input"), (INVALID_UTF8, "invalid UTF-8")] {
                let detail = format!("{kind} {name}, {label}");
                out.start("calls", &detail);
                let (result, took) = timed(|| loader.invoke_to_vec(id, kind, name, input));
                slowest = slowest.max(took);
                count += 1;
                match result {
                    Ok(_) => {}
                    Err(e) if e.status() == Status::PluginError => errors.push(format!("{detail}: {}", e.message())),
                    Err(e) => return Err(fail("calls", format!("{detail}: {}", explain(&e)), took)),
                }
            }
        }
    }
    let mut reason = format!("{count} calls returned");
    if !errors.is_empty() {
        reason.push_str(&format!(" ({} with a plugin error code: {})", errors.len(), errors.join("; ")));
    }
    Ok((reason, slowest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_over_the_budget_is_a_warning_that_says_so() {
        let slow = pass("init_empty", "init returned 0", Duration::from_millis(150));
        assert_eq!(slow.verdict, Verdict::Warn);
        assert_eq!(slow.reason, "init returned 0; took 150 ms, over the 100 ms budget");
        let quick = pass("init_empty", "init returned 0", Duration::from_millis(99));
        assert_eq!((quick.verdict, quick.reason.as_str()), (Verdict::Pass, "init returned 0"));
    }

    #[test]
    fn verdicts_order_pass_warn_fail() {
        let worst = [Verdict::Warn, Verdict::Pass, Verdict::Fail].into_iter().max();
        assert_eq!(worst, Some(Verdict::Fail));
        assert!(Verdict::Pass < Verdict::Warn);
    }
}
