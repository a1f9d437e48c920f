//! `aisopod list` and `aisopod inspect` on real plugin trees: their JSON parses and has the expected fields,
//! their text names each plugin and diagnostic.

mod support;

use serde_json::Value;
use support::{aisopod, code, hello_plugin, stdout, temp_dir, test_plugin, test_plugin_with};

fn json_of(args: &[&str]) -> Value {
    let output = aisopod(args);
    let (exit, context) = code(&output);
    assert_eq!(exit, 0, "{context}");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {context}"))
}

#[test]
fn list_json_has_plugins_and_diagnostics() {
    let root = temp_dir("list");
    hello_plugin(&root);
    let manifest =
        support::test_manifest("needy").replace("[compatibility]", "[dependencies]\nhello = \"1\"\n\n[compatibility]");
    test_plugin_with(&root, "needy", &[], &manifest);
    let broken = root.join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("aisopod.plugin.toml"), "not toml [").unwrap();

    let report = json_of(&["list", "--json", "--path", root.to_str().unwrap()]);
    assert_eq!(report["search_paths"], serde_json::json!([root]));
    let plugins = report["plugins"].as_array().unwrap();
    let ids: Vec<&str> = plugins.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["hello", "needy"]);
    let hello = &plugins[0];
    assert_eq!(hello["version"], "1.0.0");
    assert_eq!(hello["directory"], root.join("hello").to_str().unwrap());
    assert_eq!(hello["capabilities"]["tools"], serde_json::json!(["greet"]));
    assert_eq!(hello["capabilities"]["hooks"], serde_json::json!(["on_start"]));
    assert_eq!(hello["capabilities"]["commands"], serde_json::json!([]));
    assert_eq!(
        plugins[1]["dependencies"],
        serde_json::json!([{"id": "hello", "requirement": "^1", "optional": false}])
    );
    let diagnostics = report["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(diagnostics[0]["status"], "AISOPOD_STATUS_MANIFEST_PARSE");
    assert!(diagnostics[0]["path"].as_str().unwrap().contains("broken"), "{diagnostics:?}");
    assert!(diagnostics[0]["message"].as_str().unwrap().contains("aisopod.plugin.toml"), "{diagnostics:?}");
}

#[test]
fn list_text_names_each_plugin_and_diagnostic() {
    let root = temp_dir("listtext");
    hello_plugin(&root);
    test_plugin(&root, "dup", &[]);
    test_plugin_with(
        &root,
        "dup2",
        &[],
        &support::test_manifest("dup").replace("entry_point = \"dup\"", "entry_point = \"dup2\""),
    );
    let output = aisopod(&["list", "--path", root.to_str().unwrap()]);
    let (exit, context) = code(&output);
    assert_eq!(exit, 0, "{context}");
    let text = stdout(&output);
    assert!(text.contains("2 plugin(s), 1 diagnostic(s)"), "{context}");
    assert!(text.contains("hello 1.0.0"), "{context}");
    assert!(text.contains("tools: greet"), "{context}");
    assert!(text.contains("AISOPOD_STATUS_DUPLICATE_ID"), "{context}");
}

#[test]
fn list_without_paths_reads_the_environment() {
    let root = temp_dir("listenv");
    hello_plugin(&root);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_aisopod"))
        .args(["list", "--json"])
        .env("AISOPOD_PLUGIN_PATH", &root)
        .env("HOME", temp_dir("home"))
        .env_remove("XDG_DATA_HOME")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report["search_paths"].as_array().unwrap().iter().any(|p| p == root.to_str().unwrap()), "{report}");
    assert_eq!(report["plugins"][0]["id"], "hello", "{report}");
}

#[test]
fn inspect_json_shows_manifest_library_pin_signature_and_quarantine() {
    let root = temp_dir("inspect");
    let dir = hello_plugin(&root);
    let report = json_of(&["inspect", "--json", dir.to_str().unwrap()]);
    assert_eq!(report["manifest"]["id"], "hello");
    assert_eq!(report["manifest"]["entry_point"], "hello");
    assert_eq!(report["manifest"]["min_host_version"], "0.1.0");
    let library = &report["library"];
    assert_eq!(library["machine"], std::env::consts::ARCH);
    assert_eq!(library["class_bits"], 64);
    assert_eq!(library["aisopod_exports"], serde_json::json!(["aisopod_plugin_abi_version", "aisopod_plugin_create"]));
    let needed = library["needed"].as_array().unwrap();
    let libc = needed.iter().find(|n| n["name"].as_str().unwrap().starts_with("libc.so")).expect("needs libc");
    assert!(std::path::Path::new(libc["resolved"].as_str().unwrap()).is_file(), "{libc}");
    assert_eq!(report["pin"]["state"], "unpinned");
    assert_eq!(report["signature"]["state"], "unsigned");
    assert_eq!(report["quarantine"]["state"], "clear");
}

#[test]
fn inspect_reports_an_unresolvable_dependency_and_a_wrong_pin() {
    let root = temp_dir("inspectbad");
    let dir = test_plugin(&root, "needs", &[]);
    // Relink with a DT_NEEDED nothing provides: a library of our own, then removed.
    let helper = root.join("libgone_helper.so");
    let source = root.join("helper.c");
    std::fs::write(&source, "int gone_helper(void) { return 1; }\n").unwrap();
    support::compile_shared(&source, &helper, &[]);
    let library = dir.join("libneeds.so");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let status = std::process::Command::new(cc)
        .args(["-shared", "-fPIC", "-Wl,--no-as-needed"])
        .arg(format!("-I{}", support::repo().join("include").display()))
        .arg("-DPLUGIN_ID=\"needs\"")
        .arg("-o")
        .arg(&library)
        .arg(support::repo().join("tests/plugins/test_plugin.c"))
        .arg(format!("-L{}", root.display()))
        .arg("-lgone_helper")
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::remove_file(&helper).unwrap();
    let pinned = support::test_manifest("needs")
        .replace("entry_point = \"needs\"", &format!("entry_point = \"needs\"\nsha256 = \"{}\"", "0".repeat(64)));
    std::fs::write(dir.join("aisopod.plugin.toml"), pinned).unwrap();

    let report = json_of(&["inspect", "--json", dir.to_str().unwrap()]);
    let needed = report["library"]["needed"].as_array().unwrap();
    let gone = needed.iter().find(|n| n["name"] == "libgone_helper.so").expect("the DT_NEEDED entry is listed");
    assert!(gone["resolved"].is_null(), "{gone}");
    assert_eq!(report["pin"]["state"], "mismatch");
    assert_eq!(report["pin"]["actual"].as_str().unwrap().len(), 64);

    let text = stdout(&aisopod(&["inspect", dir.to_str().unwrap()]));
    assert!(text.contains("needs libgone_helper.so: NOT FOUND"), "{text}");
    assert!(text.contains("pin: mismatch"), "{text}");
}

#[test]
fn inspect_finds_a_plugin_by_id_and_refuses_an_unknown_one() {
    let root = temp_dir("inspectid");
    hello_plugin(&root);
    let report = json_of(&["inspect", "--json", "--path", root.to_str().unwrap(), "hello"]);
    assert_eq!(report["manifest"]["directory"], root.join("hello").to_str().unwrap());
    let output = aisopod(&["inspect", "--path", root.to_str().unwrap(), "nobody"]);
    let (exit, context) = code(&output);
    assert_eq!(exit, 1, "{context}");
    assert!(context.contains("'nobody'"), "{context}");
}

#[test]
fn version_prints_the_crate_version() {
    let output = aisopod(&["--version"]);
    assert_eq!(stdout(&output).trim(), format!("aisopod {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn inspect_reads_the_signature_file() {
    use aisopod_loader::signature::SignatureFile;
    use aisopod_loader::Sha256Digest;

    let root = temp_dir("inspectsig");
    let dir = hello_plugin(&root);
    let signature = dir.join("aisopod.plugin.sig");
    std::fs::write(&signature, "aisopod-signature 1\nkey-id nothex\n").unwrap();
    let report = json_of(&["inspect", "--json", dir.to_str().unwrap()]);
    assert_eq!(report["signature"]["state"], "malformed", "{report}");
    assert_eq!(report["signature"]["status"], "AISOPOD_STATUS_MALFORMED_SIGNATURE", "{report}");

    let manifest = Sha256Digest::of(&std::fs::read(dir.join("aisopod.plugin.toml")).unwrap());
    let library = Sha256Digest::of(&std::fs::read(dir.join("libhello.so")).unwrap());
    let signed = SignatureFile::sign(&[7; 32], &manifest, &library);
    std::fs::write(&signature, signed.render()).unwrap();
    let report = json_of(&["inspect", "--json", dir.to_str().unwrap()]);
    assert_eq!(report["signature"]["state"], "signed", "{report}");
    assert_eq!(report["signature"]["key_id"], signed.key_id.to_string(), "{report}");
}

#[test]
fn list_ends_quietly_when_its_reader_stops_reading() {
    let root = temp_dir("list-pipe");
    for i in 0..3000 {
        let dir = root.join(format!("p{i:04}"));
        std::fs::create_dir_all(&dir).unwrap();
        let manifest = support::test_manifest(&format!("p{i:04}"));
        std::fs::write(dir.join("aisopod.plugin.toml"), manifest).unwrap();
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_aisopod"))
        .args(["list", "--path", root.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(output.status.signal(), Some(libc::SIGPIPE), "{:?}: {stderr}", output.status);
}
