//! `aisopod report`: one discovery, the plugins asked for loaded and initialized, and the loader's load report
//! (`aisopod_loader_report_json`), as JSON or as a short summary.

use std::path::{Path, PathBuf};

use aisopod_loader::Loader;
use serde_json::Value;

use crate::EXIT_FAILED;

/// Runs discovery on `paths` (the loader's defaults and `AISOPOD_PLUGIN_PATH` when empty) for a host of
/// `host_version`, loads and initializes (with config `{}`) each plugin of `loads` in order, and prints the
/// report. Exit code 1 when one of them failed to load or initialize, which stderr names; the report is printed
/// either way.
pub fn run(paths: &[PathBuf], loads: &[String], host_version: Option<&str>, json_output: bool) -> Result<u8, String> {
    let loader = Loader::new(host_version.unwrap_or(aisopod_loader::VERSION)).map_err(|e| e.to_string())?;
    if !paths.is_empty() {
        loader.set_use_default_paths(false);
        loader.set_use_env_path(false);
        for path in paths {
            loader.add_search_path(path.clone());
        }
    }
    loader.discover();
    let mut code = 0;
    for id in loads {
        let loaded = loader.load(id).and_then(|()| loader.init(id, "{}", Path::new("")));
        if let Err(error) = loaded {
            eprintln!("aisopod: plugin '{id}': {}: {}", aisopod_loader::status_name(error.status()), error.message());
            code = EXIT_FAILED;
        }
    }
    let text = loader.report_json();
    if json_output {
        println!("{text}");
    } else {
        let report: Value = serde_json::from_str(&text).map_err(|e| format!("the load report is not JSON: {e}"))?;
        print!("{}", summary(&report));
    }
    Ok(code)
}

fn s(value: &Value) -> &str {
    value.as_str().unwrap_or("")
}

fn items(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

/// The report in a few lines: the loader, then one line per loaded plugin, discovered plugin, diagnostic and
/// quarantined library.
fn summary(report: &Value) -> String {
    let loader = &report["loader"];
    let paths: Vec<&str> = items(&loader["search_paths"]).iter().map(s).collect();
    let mut out = format!(
        "aisopod-loader {} (ABI {}), host {}; metrics {}, lazy {}, files {}, signatures {}\nsearch paths: {}\n",
        s(&loader["version"]),
        loader["abi_version"],
        s(&loader["host_version"]),
        if loader["metrics"] == true { "on" } else { "off" },
        if loader["lazy"] == true { "on" } else { "off" },
        s(&loader["file_policy"]),
        s(&loader["signature_policy"]),
        if paths.is_empty() { "(none)".to_owned() } else { paths.join(":") },
    );
    let state = |p: &Value| s(&p["state"]).trim_start_matches("AISOPOD_PLUGIN_STATE_").to_lowercase();
    let micros = |ns: &Value| ns.as_u64().unwrap_or(0) / 1000;
    out += &format!("\nloaded: {}\n", items(&report["loaded"]).len());
    for p in items(&report["loaded"]) {
        out += &format!(
            "  {} {}  {}, {}, generation {}, load {} us, init {} us\n",
            s(&p["id"]),
            s(&p["version"]),
            state(p),
            if p["isolation"] == "process" { "isolated" } else { "in process" },
            p["generation"],
            micros(&p["load_ns"]),
            micros(&p["init_ns"]),
        );
    }
    out += &format!("discovered, not loaded: {}\n", items(&report["discovered"]).len());
    for p in items(&report["discovered"]) {
        out += &format!("  {} {}  {}\n", s(&p["id"]), s(&p["version"]), s(&p["directory"]));
    }
    out += &format!("diagnostics: {}\n", items(&report["diagnostics"]).len());
    for d in items(&report["diagnostics"]) {
        out += &format!("  {} {}\n    {}\n", s(&d["status"]), s(&d["path"]), s(&d["message"]));
    }
    out += &format!("quarantined: {}\n", items(&report["quarantine"]).len());
    for q in items(&report["quarantine"]) {
        out += &format!("  {} {}  {}: {}\n", s(&q["id"]), s(&q["library"]), s(&q["status"]), s(&q["reason"]));
    }
    out
}
