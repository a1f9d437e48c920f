//! `aisopod probe` and `aisopod quarantine` on real plugins: the C example and the test plugin built to crash,
//! abort or exit, probed in real helper processes, with their verdicts kept in a real registry cache.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{aisopod, code, hello_plugin, stdout, temp_dir, test_plugin};

/// The test plugin's manifest asks for a host of version 1.0.0 or later.
const HOST: &str = "1.0.0";

/// Runs `aisopod` with `args`, expecting exit code `exit`, and parses its JSON output.
fn json_run(args: &[&str], exit: i32) -> Value {
    let output = aisopod(args);
    let (got, context) = code(&output);
    assert_eq!(got, exit, "{args:?}: {context}");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {context}"))
}

fn path(dir: &Path) -> &str {
    dir.to_str().unwrap()
}

/// The ids of a `quarantine list --json` or the `cleared` of `quarantine clear --json`.
fn ids(report: &Value, field: &str) -> Vec<String> {
    report[field].as_array().unwrap().iter().map(|r| r["plugin_id"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn probe_names_each_culprit_with_its_step_and_ending_and_the_quarantine_keeps_them() {
    let root = temp_dir("probe");
    let plugins = root.join("plugins");
    let hello = hello_plugin(&plugins);
    test_plugin(&plugins, "init_segv", &["INIT_SEGFAULT"]);
    test_plugin(&plugins, "ctor_abort", &["CTOR_ABORT"]);
    test_plugin(&plugins, "create_exit", &["CREATE_EXIT"]);
    let cache = root.join("registry.cache");
    let args = [
        "probe",
        "--json",
        "--host-version",
        HOST,
        "--init",
        "{}",
        "--cache",
        path(&cache),
        "--path",
        path(&plugins),
        path(&hello),
        "init_segv",
        "ctor_abort",
        "create_exit",
    ];
    let report = json_run(&args, 1);
    let verdicts = report["plugins"].as_array().unwrap();
    let by_id = |id: &str| verdicts.iter().find(|v| v["plugin_id"] == id).unwrap_or_else(|| panic!("{id}: {report}"));

    let hello = by_id("hello");
    assert_eq!(hello["status"], "AISOPOD_STATUS_OK", "{hello}");
    assert_eq!(hello["failed_step"], Value::Null);
    let steps: Vec<&str> = hello["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(steps.first(), Some(&"manifest"));
    assert!(steps.ends_with(&["init", "unload"]), "{steps:?}");

    let segv = by_id("init_segv");
    assert_eq!(segv["status"], "AISOPOD_STATUS_PLUGIN_CRASHED", "{segv}");
    assert_eq!(segv["failed_step"], "init");
    assert!(segv["signal"].as_i64().is_some(), "{segv}");
    assert_eq!(segv["signal_name"], "SIGSEGV");

    let abort = by_id("ctor_abort");
    assert_eq!(abort["status"], "AISOPOD_STATUS_PLUGIN_CRASHED", "{abort}");
    assert_eq!(abort["failed_step"], "dlopen");
    assert_eq!(abort["signal_name"], "SIGABRT");
    assert!(abort["stderr_tail"].as_str().unwrap().contains("test plugin: constructor aborting"), "{abort}");

    let exit = by_id("create_exit");
    assert_eq!(exit["status"], "AISOPOD_STATUS_PLUGIN_CRASHED", "{exit}");
    assert_eq!(exit["failed_step"], "create");
    assert_eq!(exit["exit_code"], 3);
    assert_eq!(exit["signal"], Value::Null);

    // The three crashes are in the cache's quarantine, the passing plugin is not.
    let list = json_run(&["quarantine", "list", "--json", "--cache", path(&cache)], 0);
    let mut quarantined = ids(&list, "records");
    quarantined.sort();
    assert_eq!(quarantined, ["create_exit", "ctor_abort", "init_segv"], "{list}");
    let segv_record = list["records"].as_array().unwrap().iter().find(|r| r["plugin_id"] == "init_segv").unwrap();
    assert_eq!(segv_record["status"], "AISOPOD_STATUS_PLUGIN_CRASHED");
    assert!(segv_record["reason"].as_str().unwrap().contains("SIGSEGV"), "{segv_record}");
    let only = json_run(&["quarantine", "list", "--json", "--cache", path(&cache), "ctor_abort"], 0);
    assert_eq!(ids(&only, "records"), ["ctor_abort"]);
    let text = stdout(&aisopod(&["quarantine", "list", "--cache", path(&cache)]));
    assert!(text.contains("3 quarantined libraries"), "{text}");
    assert!(text.contains("plugin 'ctor_abort' is quarantined since "), "{text}");

    // Lifting one leaves the others; an id with no record is named and fails; lifting all empties the list.
    let cleared = json_run(&["quarantine", "clear", "--json", "--cache", path(&cache), "init_segv"], 0);
    assert_eq!(ids(&cleared, "cleared"), ["init_segv"]);
    let list = json_run(&["quarantine", "list", "--json", "--cache", path(&cache)], 0);
    assert_eq!(ids(&list, "records").len(), 2, "{list}");
    let missing = aisopod(&["quarantine", "clear", "--cache", path(&cache), "init_segv"]);
    let (exit_code, context) = code(&missing);
    assert_eq!(exit_code, 1, "{context}");
    assert!(context.contains("no quarantined plugin 'init_segv'"), "{context}");
    let cleared = json_run(&["quarantine", "clear", "--json", "--cache", path(&cache)], 0);
    assert_eq!(ids(&cleared, "cleared").len(), 2, "{cleared}");
    let list = json_run(&["quarantine", "list", "--json", "--cache", path(&cache)], 0);
    assert!(ids(&list, "records").is_empty(), "{list}");
}

#[test]
fn probe_prints_text_verdicts_and_says_why_an_argument_was_not_probed() {
    let root = temp_dir("probe-text");
    let plugins = root.join("plugins");
    let abort = test_plugin(&plugins, "ctor_abort", &["CTOR_ABORT"]);
    let output = aisopod(&["probe", "--host-version", HOST, path(&abort), "nobody", "--path", path(&plugins)]);
    let (exit, context) = code(&output);
    assert_eq!(exit, 1, "{context}");
    let text = stdout(&output);
    assert!(text.contains("ctor_abort: AISOPOD_STATUS_PLUGIN_CRASHED"), "{text}");
    assert!(text.contains("  failed step: dlopen"), "{text}");
    assert!(text.contains("  helper: killed by signal SIGABRT"), "{text}");
    assert!(text.contains("    test plugin: constructor aborting"), "{text}");
    assert!(text.contains("nobody: AISOPOD_STATUS_NOT_FOUND"), "{text}");
    assert!(text.contains("no plugin has id 'nobody' on the search paths"), "{text}");

    // A malformed manifest is named with the manifest's own status, and nothing is sent to a helper.
    let bad = plugins.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("aisopod.plugin.toml"), "[plugin]\nid = \"Bad Id\"\n").unwrap();
    let report = json_run(&["probe", "--json", path(&bad)], 1);
    let verdict = &report["plugins"][0];
    assert_eq!(verdict["probed"], false, "{report}");
    assert!(verdict["status"].as_str().unwrap().starts_with("AISOPOD_STATUS_"), "{report}");
    assert_ne!(verdict["status"], "AISOPOD_STATUS_OK");
    assert!(verdict["message"].as_str().unwrap().contains("aisopod.plugin.toml"), "{report}");

    // Usage errors: a directory without a manifest, a helper that is not there, a bad timeout.
    let (exit, context) = code(&aisopod(&["probe", path(&root)]));
    assert_eq!(exit, 2, "{context}");
    assert!(context.contains("is a directory without aisopod.plugin.toml"), "{context}");
    let (exit, context) = code(&aisopod(&["probe", "--helper", "/nonexistent/helper", path(&abort)]));
    assert_eq!(exit, 2, "{context}");
    assert!(context.contains("/nonexistent/helper"), "{context}");
    let (exit, context) = code(&aisopod(&["probe", "--timeout", "0", path(&abort)]));
    assert_eq!(exit, 2, "{context}");
}

#[test]
fn quarantine_list_of_a_missing_or_foreign_cache_holds_nothing() {
    let root = temp_dir("quarantine-empty");
    let missing = root.join("none.cache");
    let list = json_run(&["quarantine", "list", "--json", "--cache", path(&missing)], 0);
    assert!(ids(&list, "records").is_empty());
    assert!(!missing.exists(), "listing must not write the cache");
    let garbage = root.join("garbage.cache");
    std::fs::write(&garbage, b"not a registry cache").unwrap();
    let output = aisopod(&["quarantine", "list", "--cache", path(&garbage)]);
    let (exit, context) = code(&output);
    assert_eq!(exit, 0, "{context}");
    assert!(context.contains("0 quarantined libraries"), "{context}");
    assert!(context.contains(&format!("warning: {}: registry cache", garbage.display())), "{context}");
    assert_eq!(std::fs::read(&garbage).unwrap(), b"not a registry cache", "listing must not rewrite the cache");
    let (exit, context) = code(&aisopod(&["quarantine", "clear", "--cache", path(&root)]));
    assert_eq!(exit, 2, "{context}");
    assert!(context.contains("is not a regular file"), "{context}");
}

#[test]
fn an_installed_aisopod_finds_the_helper_installed_beside_it() {
    // The layout of `make install`: PREFIX/bin/aisopod and PREFIX/lib/aisopod_loader/aisopod-plugin-host, away
    // from the build tree and with AISOPOD_HELPER unset, so only the installed place can find the helper.
    let built = Path::new(env!("CARGO_BIN_EXE_aisopod"));
    let helper = built.with_file_name("aisopod-plugin-host");
    assert!(helper.is_file(), "{} is built with the workspace (cargo build)", helper.display());
    let prefix = temp_dir("installed");
    let (bin, lib) = (prefix.join("bin"), prefix.join("lib/aisopod_loader"));
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::copy(built, bin.join("aisopod")).unwrap();
    let plugins = prefix.join("plugins");
    let hello = hello_plugin(&plugins);
    let run = |args: &[&str]| {
        std::process::Command::new(bin.join("aisopod"))
            .args(args)
            .env_remove("AISOPOD_HELPER")
            .env_remove("AISOPOD_PLUGIN_PATH")
            .output()
            .unwrap()
    };
    let (exit, context) = code(&run(&["probe", path(&hello)]));
    assert_eq!(exit, 2, "{context}");
    assert!(context.contains("AISOPOD_STATUS_HELPER_UNAVAILABLE: "), "{context}");
    assert!(context.contains(&format!("{} (not there)", lib.join("aisopod-plugin-host").display())), "{context}");
    std::fs::copy(&helper, lib.join("aisopod-plugin-host")).unwrap();
    let output = run(&["probe", "--json", path(&hello)]);
    let (exit, context) = code(&output);
    assert_eq!(exit, 0, "{context}");
    assert!(stdout(&output).contains("\"status\": \"AISOPOD_STATUS_OK\""), "{context}");
}

#[test]
fn probing_into_and_clearing_a_hosts_cache_keeps_its_cached_manifests() {
    let root = temp_dir("host-cache");
    let plugins = root.join("plugins");
    let hello = hello_plugin(&plugins);
    let crashy = test_plugin(&plugins, "crashy", &["INIT_SEGFAULT"]);
    // A host's discovery writes the cache: its manifests, by manifest path.
    let cache = root.join("registry.cache");
    let host = aisopod_loader::Loader::new(HOST).unwrap();
    host.set_use_default_paths(false);
    host.set_use_env_path(false);
    host.add_search_path(plugins.clone());
    host.set_cache_path(Some(cache.clone()));
    assert_eq!(host.discover(), 2);
    let hello_manifest = hello.join("aisopod.plugin.toml");
    let holds_hello = || {
        let bytes = std::fs::read(&cache).unwrap();
        let key = hello_manifest.to_str().unwrap().as_bytes();
        bytes.windows(key.len()).any(|window| window == key)
    };
    assert!(holds_hello(), "the host's discovery cached hello's manifest");

    let args = ["probe", "--json", "--host-version", HOST, "--init", "{}", "--cache", path(&cache), path(&crashy)];
    json_run(&args, 1);
    assert!(holds_hello(), "probing rewrote the cache's manifests");
    // The host's next discovery through the cache sets the crashed plugin aside.
    host.discover();
    assert!(host.discovery().find("crashy").is_none());
    assert!(host.discovery().find_quarantined("crashy").is_some());

    json_run(&["quarantine", "clear", "--json", "--cache", path(&cache)], 0);
    assert!(holds_hello(), "clearing rewrote the cache's manifests");
    // A host started after the clear finds the plugin again. (A host still running keeps the records it read,
    // and its next discovery writes them back: the loader's quarantine, not the file, is what it trusts.)
    drop(host);
    let next_host = aisopod_loader::Loader::new(HOST).unwrap();
    next_host.set_use_default_paths(false);
    next_host.set_use_env_path(false);
    next_host.add_search_path(plugins.clone());
    next_host.set_cache_path(Some(cache.clone()));
    next_host.discover();
    assert!(next_host.discovery().find("crashy").is_some(), "cleared, the plugin is discovered again");
}
