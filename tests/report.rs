//! The golden load report: a real tree (a plugin loaded and initialized with metrics on, one isolated, one
//! loaded with a dependency, one discovered only, a candidate refused; in another, a library quarantined by its
//! probe) reported through the C API, validated against `schema/aisopod-loader-report-1.schema.json` as it is
//! and with every object closed, so that a field the schema does not document fails, and checked for its key
//! values.

mod common;

use std::ffi::{c_char, CStr, CString};
use std::path::Path;
use std::ptr::{null, null_mut, NonNull};

use ::aisopod_loader::abi::{aisopod_status, AISOPOD_CAPABILITY_TOOL};
use ::aisopod_loader::ffi::discovery::aisopod_loader_discover;
use ::aisopod_loader::ffi::isolation::{aisopod_loader_probe, aisopod_loader_set_isolation, AISOPOD_ISOLATION_PROCESS};
use ::aisopod_loader::ffi::lifecycle::{aisopod_loader_init, aisopod_loader_invoke, aisopod_loader_load};
use ::aisopod_loader::ffi::loader::{
    aisopod_loader, aisopod_loader_add_search_path, aisopod_loader_error_message, aisopod_loader_free,
    aisopod_loader_new, aisopod_loader_use_default_paths, aisopod_loader_use_env_path,
};
use ::aisopod_loader::ffi::metrics::aisopod_loader_set_metrics;
use ::aisopod_loader::ffi::probe_results::aisopod_probe_results_free;
use ::aisopod_loader::ffi::report::{aisopod_loader_report_free, aisopod_loader_report_json};
use common::*;
use serde_json::{json, Value};

const SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/aisopod-loader-report-1.schema.json");

fn c(text: &str) -> CString {
    CString::new(text).unwrap()
}

/// A C API loader, freed on drop.
struct CLoader(*mut aisopod_loader);

impl CLoader {
    fn new(host_version: &str, tree: &Path) -> CLoader {
        let mut loader = null_mut();
        assert_eq!(aisopod_loader_new(c(host_version).as_ptr(), Some(NonNull::from(&mut loader))), aisopod_status::Ok);
        let this = CLoader(loader);
        this.ok(aisopod_loader_use_env_path(this.get(), false));
        this.ok(aisopod_loader_use_default_paths(this.get(), false));
        this.ok(aisopod_loader_add_search_path(this.get(), c(tree.to_str().unwrap()).as_ptr()));
        this
    }

    fn get(&self) -> Option<&aisopod_loader> {
        // SAFETY: the loader lives until `drop`.
        unsafe { self.0.as_ref() }
    }

    fn ok(&self, status: aisopod_status) {
        let message = unsafe { CStr::from_ptr(aisopod_loader_error_message(self.get())) };
        assert_eq!(status, aisopod_status::Ok, "{message:?}");
    }

    fn invoke(&self, id: &str, input: &str) -> aisopod_status {
        let (id, name) = (c(id), c("echo"));
        aisopod_loader_invoke(
            self.get(),
            id.as_ptr(),
            AISOPOD_CAPABILITY_TOOL,
            name.as_ptr(),
            input.as_ptr(),
            input.len(),
            None,
        )
    }

    fn report(&self) -> Value {
        let mut json: *mut c_char = null_mut();
        self.ok(aisopod_loader_report_json(self.get(), Some(NonNull::from(&mut json))));
        let text = unsafe { CStr::from_ptr(json) }.to_str().unwrap().to_owned();
        aisopod_loader_report_free(json);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("the report is not JSON ({e}):\n{text}"))
    }
}

impl Drop for CLoader {
    fn drop(&mut self) {
        aisopod_loader_free(self.0);
    }
}

/// `schema` with `additionalProperties: false` on every object that lists its properties: a report field the
/// schema does not document then fails validation.
fn closed(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut map: serde_json::Map<String, Value> = map.iter().map(|(k, v)| (k.clone(), closed(v))).collect();
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            Value::Object(map)
        }
        Value::Array(items) => Value::Array(items.iter().map(closed).collect()),
        other => other.clone(),
    }
}

fn validate(schema: &Value, report: &Value) -> Vec<String> {
    let validator = jsonschema::draft202012::new(schema).expect("the schema compiles");
    validator.iter_errors(report).map(|e| format!("{} at {}", e, e.instance_path)).collect()
}

/// The golden tree: alpha (loaded, initialized, called), iso (isolated), gamma (needs beta, loaded with it),
/// delta (discovered only, needs beta), and `broken` (a manifest that does not parse).
fn golden_tree(name: &str) -> std::path::PathBuf {
    let tree = temp_dir(name).join("plugins");
    add_test_plugin(&tree, "alpha", &[]);
    add_test_plugin(&tree, "iso", &[]);
    add_test_plugin(&tree, "beta", &[]);
    let needs_beta = |id: &str| format!("{}\n[dependencies]\nbeta = \"^1.2\"\n", manifest(id));
    add_test_plugin_with(&tree, "gamma", &[], &needs_beta("gamma"));
    add_test_plugin_with(&tree, "delta", &[], &needs_beta("delta"));
    write_plugin(&tree, "broken", "[plugin]\nid = \"broken\"\n", "broken", None);
    tree
}

#[test]
fn a_real_report_follows_the_schema_and_says_what_happened() {
    let tree = golden_tree("report-golden");
    let loader = CLoader::new("1.4.0", &tree);
    let mut found = 0usize;
    loader.ok(aisopod_loader_discover(loader.get(), Some(NonNull::from(&mut found))));
    loader.ok(aisopod_loader_set_metrics(loader.get(), true));
    loader.ok(aisopod_loader_set_isolation(loader.get(), c("iso").as_ptr(), AISOPOD_ISOLATION_PROCESS));
    for id in ["alpha", "iso", "gamma"] {
        loader.ok(aisopod_loader_load(loader.get(), c(id).as_ptr()));
    }
    for id in ["alpha", "iso"] {
        loader.ok(aisopod_loader_init(loader.get(), c(id).as_ptr(), c("{}").as_ptr(), null()));
    }
    for _ in 0..3 {
        loader.ok(loader.invoke("alpha", "x"));
    }
    assert_ne!(loader.invoke("alpha", "fail"), aisopod_status::Ok);
    loader.ok(loader.invoke("iso", "x"));
    let report = loader.report();

    let schema: Value = serde_json::from_str(&std::fs::read_to_string(SCHEMA).unwrap()).unwrap();
    assert_eq!(validate(&schema, &report), Vec::<String>::new(), "{report:#}");
    assert_eq!(validate(&closed(&schema), &report), Vec::<String>::new(), "a field the schema lacks:\n{report:#}");

    assert_eq!(report["schema"], "aisopod-loader-report/1");
    let settings = &report["loader"];
    assert_eq!(settings["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(settings["abi_version"], 1);
    assert_eq!(settings["host_version"], "1.4.0");
    assert_eq!(settings["search_paths"], json!([tree.to_str().unwrap()]));
    assert_eq!(
        (&settings["metrics"], &settings["lazy"], &settings["cache_path"]),
        (&json!(true), &json!(false), &Value::Null)
    );

    let loaded: Vec<&str> = report["loaded"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(loaded, ["alpha", "iso", "beta", "gamma"], "load order puts beta before gamma");
    let plugin = |id: &str| report["loaded"].as_array().unwrap().iter().find(|p| p["id"] == id).unwrap().clone();
    let alpha = plugin("alpha");
    assert_eq!(alpha["state"], "AISOPOD_PLUGIN_STATE_INITIALIZED");
    assert_eq!(alpha["isolation"], "none");
    assert_eq!(alpha["version"], "1.2.3");
    assert_eq!(alpha["library"], tree.join("alpha").join(library_name("alpha")).to_str().unwrap());
    assert_eq!(
        alpha["capabilities"],
        json!({"tools": ["echo"], "commands": [], "channels": [], "providers": [], "hooks": ["ping"]})
    );
    assert!(alpha["load_ns"].as_u64().unwrap() > 0 && alpha["init_ns"].as_u64().unwrap() > 0, "{alpha:#}");
    assert_eq!((&alpha["metrics"]["calls"], &alpha["metrics"]["failures"]), (&json!(4), &json!(1)));
    let echo = alpha["metrics"]["capabilities"].as_array().unwrap().iter().find(|c| c["name"] == "echo").unwrap();
    assert_eq!((&echo["kind"], &echo["calls"], &echo["failures"]), (&json!("tool"), &json!(4), &json!(1)));
    assert!(echo["p50_ns"].as_u64().unwrap() <= echo["p99_ns"].as_u64().unwrap());
    assert!(alpha.get("usage").is_none(), "usage is for isolated plugins only");
    let iso = plugin("iso");
    assert_eq!((&iso["isolation"], &iso["state"]), (&json!("process"), &json!("AISOPOD_PLUGIN_STATE_INITIALIZED")));
    assert_eq!(iso["usage"]["calls"].as_u64().map(|calls| calls >= 1), Some(true), "{iso:#}");
    assert_eq!(plugin("gamma")["dependencies"], json!(["beta"]));
    assert_eq!(plugin("gamma")["state"], "AISOPOD_PLUGIN_STATE_LOADED");
    let generations: Vec<u64> =
        ["alpha", "iso", "beta", "gamma"].map(|id| plugin(id)["generation"].as_u64().unwrap()).to_vec();
    assert_eq!(generations, [1, 2, 3, 4]);

    assert_eq!(
        report["discovered"],
        json!([{
            "id": "delta",
            "version": "1.2.3",
            "directory": tree.join("delta").to_str().unwrap(),
            "capabilities": {"tools": ["echo"], "commands": [], "channels": [], "providers": [], "hooks": ["ping"]},
            "dependencies": [{"id": "beta", "requirement": "^1.2", "optional": false}],
        }])
    );
    let diagnostics = report["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    assert_eq!(diagnostics[0]["status"], "AISOPOD_STATUS_MANIFEST_PARSE");
    assert_eq!(diagnostics[0]["code"], aisopod_status::ManifestParse as u32);
    assert!(diagnostics[0]["path"].as_str().unwrap().contains("broken"), "{:#}", diagnostics[0]);
    assert_eq!(report["quarantine"], json!([]));
}

#[test]
fn with_metrics_off_the_report_has_no_metrics_and_still_follows_the_schema() {
    let tree = golden_tree("report-metrics-off");
    let loader = CLoader::new("1.4.0", &tree);
    loader.ok(aisopod_loader_discover(loader.get(), None));
    loader.ok(aisopod_loader_load(loader.get(), c("alpha").as_ptr()));
    let report = loader.report();
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(SCHEMA).unwrap()).unwrap();
    assert_eq!(validate(&closed(&schema), &report), Vec::<String>::new(), "{report:#}");
    assert_eq!(report["loader"]["metrics"], false);
    assert!(report["loaded"][0].get("metrics").is_none(), "{report:#}");
    assert_eq!(report["loaded"][0]["state"], "AISOPOD_PLUGIN_STATE_LOADED");
}

#[test]
fn the_schema_refuses_a_report_that_breaks_it() {
    // The validator is no rubber stamp: a report with a misspelt status name, or a field of the wrong type, fails.
    let tree = golden_tree("report-broken");
    let loader = CLoader::new("1.4.0", &tree);
    loader.ok(aisopod_loader_discover(loader.get(), None));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(SCHEMA).unwrap()).unwrap();
    let mut report = loader.report();
    report["diagnostics"][0]["status"] = json!("MANIFEST_PARSE");
    report["loader"]["lazy"] = json!("no");
    let errors = validate(&schema, &report);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    let mut extra = loader.report();
    extra["loader"]["undocumented"] = json!(1);
    assert_eq!(validate(&schema, &extra), Vec::<String>::new(), "readers ignore fields they do not know");
    assert_eq!(validate(&closed(&schema), &extra).len(), 1);
}

#[test]
fn a_quarantined_library_is_in_the_quarantine_and_its_plugin_in_the_diagnostics() {
    let tree = temp_dir("report-quarantine").join("plugins");
    add_test_plugin(&tree, "alpha", &[]);
    add_test_plugin(&tree, "wrong", &["ABI_VERSION=99"]);
    let loader = CLoader::new("1.4.0", &tree);
    loader.ok(aisopod_loader_discover(loader.get(), None));
    let wrong = c("wrong");
    let ids = [wrong.as_ptr()];
    let mut results = null_mut();
    loader.ok(aisopod_loader_probe(loader.get(), ids.as_ptr(), 1, null(), Some(NonNull::from(&mut results))));
    aisopod_probe_results_free(results);
    loader.ok(aisopod_loader_discover(loader.get(), None));
    let report = loader.report();
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(SCHEMA).unwrap()).unwrap();
    assert_eq!(validate(&closed(&schema), &report), Vec::<String>::new(), "{report:#}");
    let quarantine = report["quarantine"].as_array().unwrap();
    assert_eq!(quarantine.len(), 1, "{report:#}");
    assert_eq!(
        (&quarantine[0]["id"], &quarantine[0]["status"]),
        (&json!("wrong"), &json!("AISOPOD_STATUS_ABI_MISMATCH"))
    );
    assert_eq!(quarantine[0]["library"], tree.join("wrong").join(library_name("wrong")).to_str().unwrap());
    assert!(quarantine[0]["since"].as_u64().unwrap() > 1_600_000_000, "{report:#}");
    let statuses: Vec<&str> =
        report["diagnostics"].as_array().unwrap().iter().map(|d| d["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["AISOPOD_STATUS_QUARANTINED"]);
    let discovered: Vec<&str> =
        report["discovered"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(discovered, ["alpha"]);
}
