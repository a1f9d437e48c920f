//! `aisopod report` on a real plugin tree: the JSON report with the plugins asked for loaded and initialized,
//! the others discovered, a refused candidate by its status name; the text summary; a plugin that cannot be
//! loaded named on stderr with exit code 1, the report printed all the same.

mod support;

use serde_json::{json, Value};
use support::{aisopod, code, stdout, temp_dir, test_plugin};

fn tree(name: &str) -> std::path::PathBuf {
    let root = temp_dir(name);
    test_plugin(&root, "alpha", &[]);
    test_plugin(&root, "beta", &[]);
    let broken = root.join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("aisopod.plugin.toml"), "not toml [").unwrap();
    root
}

#[test]
fn report_json_has_the_loaded_plugin_the_discovered_one_and_the_diagnostic() {
    let root = tree("report-json");
    let path = root.to_str().unwrap();
    let output = aisopod(&["report", "--json", "--path", path, "--load", "alpha", "--host-version", "1.4.0"]);
    let (exit, context) = code(&output);
    assert_eq!(exit, 0, "{context}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {context}"));
    assert_eq!(report["schema"], "aisopod-loader-report/1");
    assert_eq!(report["loader"]["host_version"], "1.4.0");
    assert_eq!(report["loader"]["search_paths"], json!([path]));
    let loaded = report["loaded"].as_array().unwrap();
    assert_eq!(loaded.len(), 1, "{report:#}");
    assert_eq!((&loaded[0]["id"], &loaded[0]["state"]), (&json!("alpha"), &json!("AISOPOD_PLUGIN_STATE_INITIALIZED")));
    assert_eq!(loaded[0]["capabilities"]["tools"], json!(["echo"]));
    assert!(loaded[0]["init_ns"].as_u64().unwrap() > 0, "{report:#}");
    let discovered: Vec<&str> =
        report["discovered"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(discovered, ["beta"]);
    assert_eq!(report["diagnostics"][0]["status"], "AISOPOD_STATUS_MANIFEST_PARSE");
    assert!(report["diagnostics"][0]["path"].as_str().unwrap().contains("broken"), "{report:#}");
}

#[test]
fn report_text_summarizes_each_part() {
    let root = tree("report-text");
    let output = aisopod(&["report", "--path", root.to_str().unwrap(), "--load", "alpha", "--host-version", "1.4.0"]);
    let (exit, context) = code(&output);
    assert_eq!(exit, 0, "{context}");
    let text = stdout(&output);
    for line in [
        "host 1.4.0; metrics off, lazy off, files strict, signatures allow-unsigned",
        "loaded: 1\n  alpha 1.2.3  initialized, in process, generation 1, load ",
        "discovered, not loaded: 1\n  beta 1.2.3  ",
        "diagnostics: 1\n  AISOPOD_STATUS_MANIFEST_PARSE ",
        "quarantined: 0",
    ] {
        assert!(text.contains(line), "no `{line}` in:\n{text}");
    }
}

#[test]
fn a_plugin_that_does_not_load_is_named_and_the_report_still_printed() {
    let root = tree("report-refused");
    // Host 0.1.0 is outside the test plugin's 1.0.0 to 1.9.0.
    let output =
        aisopod(&["report", "--json", "--path", root.to_str().unwrap(), "--load", "alpha", "--host-version", "0.1.0"]);
    let (exit, context) = code(&output);
    assert_eq!(exit, 1, "{context}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("aisopod: plugin 'alpha': AISOPOD_STATUS_"), "{context}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {context}"));
    assert_eq!(report["loaded"], json!([]));
}
