//! `aisopod list`: one discovery, printed: the plugins found and the candidates refused.

use std::path::PathBuf;

use aisopod_loader::{Loader, Manifest, PluginInfo};
use serde_json::{json, Value};

/// Runs discovery on `paths` (the loader's defaults and `AISOPOD_PLUGIN_PATH` when empty) and prints it.
/// Exit code 0 whenever discovery ran, whatever it refused: refusals are its output.
pub fn run(paths: &[PathBuf], json_output: bool) -> Result<u8, String> {
    let loader = new_loader(paths)?;
    loader.discover();
    let discovery = loader.discovery();
    let report = json!({
        "search_paths": loader.search_paths(),
        "plugins": discovery.plugins().iter().map(|info| plugin_json(info)).collect::<Vec<_>>(),
        "diagnostics": discovery.diagnostics().iter().map(|d| json!({
            "path": d.path,
            "status": aisopod_loader::status_name(d.status),
            "message": d.message,
        })).collect::<Vec<_>>(),
    });
    if json_output {
        println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
        return Ok(0);
    }
    let searched: Vec<String> = loader.search_paths().iter().map(|p| p.display().to_string()).collect();
    println!("search paths: {}", if searched.is_empty() { "(none)".to_owned() } else { searched.join(":") });
    println!("{} plugin(s), {} diagnostic(s)", discovery.plugins().len(), discovery.diagnostics().len());
    for info in discovery.plugins() {
        let m = &info.manifest;
        println!("\n{} {}  {}", m.id, m.version, info.directory.display());
        for line in capability_lines(m) {
            println!("  {line}");
        }
        if !m.dependencies.is_empty() {
            println!("  dependencies: {}", dependency_list(m).join(", "));
        }
    }
    for d in discovery.diagnostics() {
        println!("\n{} {}\n  {}", aisopod_loader::status_name(d.status), d.path.display(), d.message);
    }
    Ok(0)
}

/// A loader searching `paths`, or the defaults and `AISOPOD_PLUGIN_PATH` when `paths` is empty.
pub fn new_loader(paths: &[PathBuf]) -> Result<Loader, String> {
    let loader = Loader::new(aisopod_loader::VERSION).map_err(|e| e.to_string())?;
    if !paths.is_empty() {
        loader.set_use_default_paths(false);
        loader.set_use_env_path(false);
        for path in paths {
            loader.add_search_path(path.clone());
        }
    }
    Ok(loader)
}

/// A plugin as `list --json` and `inspect --json` show it.
pub fn plugin_json(info: &PluginInfo) -> Value {
    let m = &info.manifest;
    json!({
        "id": m.id,
        "name": m.name,
        "version": m.version.to_string(),
        "directory": info.directory,
        "library": info.library_path(),
        "capabilities": capabilities_json(m),
        "dependencies": m.dependencies.iter().map(|d| json!({
            "id": d.id,
            "requirement": d.requirement.to_string(),
            "optional": d.optional,
        })).collect::<Vec<_>>(),
    })
}

/// `{"tools": [...], "commands": [...], ...}`, every kind present.
pub fn capabilities_json(m: &Manifest) -> Value {
    let map: serde_json::Map<String, Value> =
        m.capabilities.iter().map(|(kind, names)| (kind.manifest_key().to_owned(), json!(names))).collect();
    Value::Object(map)
}

/// One line per capability kind that declares any: "tools: echo, greet".
pub fn capability_lines(m: &Manifest) -> Vec<String> {
    m.capabilities
        .iter()
        .filter(|(_, names)| !names.is_empty())
        .map(|(kind, names)| format!("{}: {}", kind.manifest_key(), names.join(", ")))
        .collect()
}

/// "base ^1.0", "extra ^2 (optional)".
pub fn dependency_list(m: &Manifest) -> Vec<String> {
    m.dependencies
        .iter()
        .map(|d| format!("{} {}{}", d.id, d.requirement, if d.optional { " (optional)" } else { "" }))
        .collect()
}
