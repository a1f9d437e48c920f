//! `aisopod probe`: the loader's probe of plugins, each in a helper process (`aisopod-plugin-host`), and each
//! verdict printed: status, failed step, how the helper ended, and the tail of its stderr.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aisopod_loader::isolation::ending::Ending;
use aisopod_loader::isolation::locate::{locate, HELPER_NAME, INSTALL_SUBDIR};
use aisopod_loader::isolation::probe::ProbeOutcome;
use aisopod_loader::{Loader, Manifest, Probed, Status, MANIFEST_FILE_NAME};
use serde_json::{json, Value};

use crate::{quarantine, EXIT_FAILED};

#[derive(clap::Args)]
pub struct Args {
    /// Plugin directories (holding aisopod.plugin.toml) or ids of plugins on the search paths.
    #[arg(required = true, value_name = "ID|DIR")]
    plugins: Vec<String>,
    /// Search these directories for ids instead of the loader's defaults and AISOPOD_PLUGIN_PATH; repeatable.
    #[arg(long = "path", value_name = "DIR")]
    paths: Vec<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// The host version the loader poses as.
    #[arg(long, value_name = "SEMVER", default_value = aisopod_loader::VERSION)]
    host_version: String,
    /// Call each plugin's init with this config (default: init is not called).
    #[arg(long, value_name = "CONFIG")]
    init: Option<String>,
    /// How long each plugin's probe may take, all steps together, before its helper is killed.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    timeout: f64,
    /// Record the verdicts in this registry cache's quarantine, as a host using that cache would.
    #[arg(long, value_name = "FILE")]
    cache: Option<PathBuf>,
    /// The helper executable (default: AISOPOD_HELPER, next to the library or in the build tree, then
    /// ../lib/aisopod_loader/ next to this program, where `make install` puts it).
    #[arg(long, value_name = "FILE")]
    helper: Option<PathBuf>,
}

/// What a command-line argument names.
enum Target {
    Dir(PathBuf),
    Id(String),
}

/// A plugin that is not sent to a helper, and why.
struct NotProbed {
    status: Status,
    message: String,
}

pub fn run(args: &Args) -> Result<u8, String> {
    if !(args.timeout > 0.0 && args.timeout.is_finite()) {
        return Err(format!("--timeout {}: must be a positive number of seconds", args.timeout));
    }
    let loader = Loader::new(&args.host_version).map_err(|e| format!("--host-version {}: {e}", args.host_version))?;
    loader
        .set_call_timeout(None, Some(Duration::from_secs_f64(args.timeout)))
        .map_err(|e| format!("--timeout {}: {e}", args.timeout))?;
    let targets: Vec<Target> = args.plugins.iter().map(|arg| target(arg)).collect::<Result<_, _>>()?;
    let has_ids = targets.iter().any(|t| matches!(t, Target::Id(_)));
    let use_defaults = args.paths.is_empty() && has_ids;
    loader.set_use_default_paths(use_defaults);
    loader.set_use_env_path(use_defaults);
    for target in &targets {
        if let Target::Dir(dir) = target {
            if let Some(parent) = dir.parent().filter(|p| !loader.search_paths().iter().any(|s| s == p)) {
                loader.add_search_path(parent.to_path_buf());
            }
        }
    }
    for path in &args.paths {
        loader.add_search_path(path.clone());
    }
    match &args.cache {
        Some(cache) => {
            quarantine::discover_with_quarantine_of(&loader, cache)?;
            loader.set_cache_path(Some(cache.clone()));
        }
        None => {
            loader.discover();
        }
    }
    let installed_tried = set_helper(&loader, args.helper.as_deref());

    let resolved: Vec<Result<String, NotProbed>> = targets.iter().map(|t| resolve(&loader, t)).collect();
    let mut ids: Vec<&str> = Vec::new();
    for id in resolved.iter().filter_map(|r| r.as_ref().ok()) {
        if !ids.contains(&id.as_str()) {
            ids.push(id);
        }
    }
    let verdicts = if ids.is_empty() {
        Vec::new()
    } else {
        loader.probe(&ids, args.init.as_deref()).map_err(|e| {
            let mut message = format!("{}: {}", aisopod_loader::status_name(e.status()), e.message());
            if let (Status::HelperUnavailable, Some(tried)) = (e.status(), &installed_tried) {
                message.push_str(&format!("; beside aisopod: {tried}"));
            }
            message
        })?
    };
    let results: Vec<(String, Value)> = args
        .plugins
        .iter()
        .zip(&resolved)
        .map(|(arg, resolution)| match resolution {
            Ok(id) => {
                let verdict = verdicts.iter().find(|v| &v.plugin_id == id).expect("one verdict per id probed");
                (arg.clone(), verdict_json(verdict))
            }
            Err(not) => (
                arg.clone(),
                json!({ "plugin_id": Value::Null, "probed": false, "status": aisopod_loader::status_name(not.status),
                        "message": not.message }),
            ),
        })
        .collect();
    let all_passed = results.iter().all(|(_, v)| v["status"] == aisopod_loader::status_name(Status::Ok));
    if args.json {
        let report = json!({
            "host_version": args.host_version,
            "plugins": results.iter().map(|(arg, v)| {
                let mut v = v.clone();
                v["argument"] = json!(arg);
                v
            }).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
    } else {
        for (arg, verdict) in &results {
            print_text(arg, verdict);
        }
    }
    Ok(if all_passed { 0 } else { EXIT_FAILED })
}

/// A directory when `arg` holds a manifest, else an id.
fn target(arg: &str) -> Result<Target, String> {
    let path = Path::new(arg);
    if path.join(MANIFEST_FILE_NAME).is_file() {
        return path.canonicalize().map(Target::Dir).map_err(|e| format!("{arg}: {e}"));
    }
    if path.is_dir() {
        return Err(format!("{arg} is a directory without {MANIFEST_FILE_NAME}"));
    }
    Ok(Target::Id(arg.to_owned()))
}

/// The id to probe for `target`, or why it cannot be probed: discovery refused it, or found another plugin of
/// its id first.
fn resolve(loader: &Loader, target: &Target) -> Result<String, NotProbed> {
    let discovery = loader.discovery();
    let found = |id: &str| {
        if let Some((_, error)) = discovery.find_unresolved(id) {
            return Some(Err(NotProbed { status: error.status(), message: error.message().to_owned() }));
        }
        discovery.find(id).or_else(|| discovery.find_quarantined(id)).or_else(|| discovery.find_denied(id)).map(Ok)
    };
    match target {
        Target::Id(id) => match found(id) {
            Some(Ok(_)) => Ok(id.clone()),
            Some(Err(not)) => Err(not),
            None => {
                let searched: Vec<String> = loader.search_paths().iter().map(|p| p.display().to_string()).collect();
                Err(NotProbed {
                    status: Status::NotFound,
                    message: format!("no plugin has id '{id}' on the search paths ({})", searched.join(":")),
                })
            }
        },
        Target::Dir(dir) => {
            let manifest = Manifest::read(&dir.join(MANIFEST_FILE_NAME))
                .map_err(|e| NotProbed { status: e.status(), message: e.message().to_owned() })?;
            match found(&manifest.id) {
                Some(Ok(info)) if info.directory == *dir => Ok(manifest.id),
                Some(Ok(info)) => Err(NotProbed {
                    status: Status::NotFound,
                    message: format!(
                        "{} holds plugin '{}', but the one in {} comes first on the search paths",
                        dir.display(),
                        manifest.id,
                        info.directory.display()
                    ),
                }),
                Some(Err(not)) => Err(not),
                None => Err(discovery.diagnostics().iter().find(|d| d.path.starts_with(dir)).map_or_else(
                    || NotProbed {
                        status: Status::NotFound,
                        message: format!("discovery did not find plugin '{}' in {}", manifest.id, dir.display()),
                    },
                    |d| NotProbed { status: d.status, message: d.message.clone() },
                )),
            }
        }
    }
}

/// Names the helper installed next to this program (`<prefix>/bin/aisopod` and
/// `<prefix>/lib/aisopod_loader/aisopod-plugin-host`) when the loader's own search would not find one. Returns
/// the places tried there when none had it, for the error.
fn set_helper(loader: &Loader, given: Option<&Path>) -> Option<String> {
    if let Some(helper) = given {
        loader.set_helper_path(Some(helper.to_path_buf()));
        return None;
    }
    if locate(None).is_ok() {
        return None;
    }
    let prefix = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.parent()?.to_path_buf()))?;
    let installed: Vec<PathBuf> =
        ["lib", "lib64"].iter().map(|lib| prefix.join(lib).join(INSTALL_SUBDIR).join(HELPER_NAME)).collect();
    match installed.iter().find(|path| path.is_file()) {
        Some(helper) => {
            loader.set_helper_path(Some(helper.clone()));
            None
        }
        None => {
            let shown: Vec<String> = installed.iter().map(|p| format!("{} (not there)", p.display())).collect();
            Some(shown.join(", "))
        }
    }
}

fn verdict_json(verdict: &Probed) -> Value {
    let (failed_step, message) = match &verdict.report.outcome {
        ProbeOutcome::Ok => (None, None),
        ProbeOutcome::Failed { step, message, .. } => (Some(step.name()), Some(message.as_str())),
    };
    let (signal, exit_code, timed_out) = match verdict.ending {
        Some(Ending::Signaled(signal)) => (Some(signal), None, false),
        Some(Ending::Exited(code)) => (None, Some(code), false),
        Some(Ending::TimedOut(_)) => (None, None, true),
        Some(Ending::Lost) | None => (None, None, false),
    };
    json!({
        "plugin_id": verdict.plugin_id,
        "probed": true,
        "status": aisopod_loader::status_name(verdict.status()),
        "failed_step": failed_step,
        "message": message,
        "signal": signal,
        "signal_name": signal.and_then(aisopod_loader::isolation::ending::signal_name),
        "exit_code": exit_code,
        "timed_out": timed_out,
        "ending": verdict.ending.map(|e| e.to_string()),
        "stderr_tail": String::from_utf8_lossy(&verdict.stderr_tail),
        "steps": verdict.report.steps.iter().map(|t| json!({ "step": t.step.name(), "nanos": t.nanos })).collect::<Vec<_>>(),
        "capabilities": verdict.report.capabilities.iter()
            .filter(|(_, names)| !names.is_empty())
            .map(|(kind, names)| (kind.manifest_key().to_owned(), json!(names)))
            .collect::<serde_json::Map<String, Value>>(),
    })
}

fn print_text(arg: &str, verdict: &Value) {
    let status = verdict["status"].as_str().unwrap_or("?");
    let id = verdict["plugin_id"].as_str().unwrap_or(arg);
    println!("{id}: {status}");
    if verdict["probed"] == false {
        println!("  not probed: {}", verdict["message"].as_str().unwrap_or(""));
        return;
    }
    let steps: Vec<&str> =
        verdict["steps"].as_array().into_iter().flatten().filter_map(|s| s["step"].as_str()).collect();
    println!("  steps: {}", steps.join(", "));
    if let Some(step) = verdict["failed_step"].as_str() {
        println!("  failed step: {step}");
    }
    if let Some(ending) = verdict["ending"].as_str() {
        println!("  helper: {ending}");
    }
    if let Some(message) = verdict["message"].as_str() {
        println!("  message: {message}");
    }
    let tail = verdict["stderr_tail"].as_str().unwrap_or("");
    if !tail.is_empty() {
        println!("  stderr:");
        for line in tail.lines() {
            println!("    {line}");
        }
    }
}
