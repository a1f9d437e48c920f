//! `aisopod hash` and `aisopod sign` on real plugins: the pin it prints checked by a real probe, and keys,
//! signatures and their refusals.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{aisopod, code, stdout, temp_dir, test_plugin, test_plugin_with};

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

#[test]
fn hash_prints_the_pin_the_loader_accepts_and_a_changed_library_fails_it() {
    let root = temp_dir("hash");
    let plugins = root.join("plugins");
    let dir = test_plugin(&plugins, "pinned", &[]);
    let library = dir.join("libpinned.so");
    let from_dir = aisopod(&["hash", path(&dir)]);
    assert_eq!(code(&from_dir).0, 0, "{}", code(&from_dir).1);
    let line = stdout(&from_dir);
    assert_eq!(stdout(&aisopod(&["hash", path(&library)])), line);
    let digest = line.trim().strip_prefix("sha256 = \"").and_then(|rest| rest.strip_suffix('"')).unwrap();
    assert_eq!(digest.len(), 64, "{line}");
    assert!(digest.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{line}");

    // The printed line, put in the manifest, is a pin the loader accepts; a library rebuilt differently is not.
    let manifest = support::test_manifest("pinned")
        .replace("entry_point = \"pinned\"\n", &format!("entry_point = \"pinned\"\n{line}"));
    test_plugin_with(&plugins, "pinned", &[], &manifest);
    let report = json_run(&["probe", "--json", "--host-version", HOST, path(&dir)], 0);
    assert_eq!(report["plugins"][0]["status"], "AISOPOD_STATUS_OK", "{report}");
    support::compile_shared(
        &support::repo().join("tests/plugins/test_plugin.c"),
        &library,
        &["PLUGIN_ID=\"pinned\"", "CREATE_EXIT"],
    );
    let report = json_run(&["probe", "--json", "--host-version", HOST, path(&dir)], 1);
    assert_eq!(report["plugins"][0]["status"], "AISOPOD_STATUS_INTEGRITY_MISMATCH", "{report}");

    let (exit, context) = code(&aisopod(&["hash", path(&root)]));
    assert_eq!(exit, 2, "{context}");
    assert!(context.contains("is a directory without aisopod.plugin.toml"), "{context}");
    let (exit, context) = code(&aisopod(&["hash", path(&root.join("libnothing.so"))]));
    assert_eq!(exit, 2, "{context}");
    assert!(context.contains("libnothing.so"), "{context}");
}

#[test]
fn sign_makes_keys_signs_and_verifies_as_aisopod_sign_does() {
    let root = temp_dir("sign");
    let dir = test_plugin(&root.join("plugins"), "signed", &[]);
    let (secret, public) = (root.join("secret.key"), root.join("public.key"));
    let keygen = aisopod(&["sign", "keygen", path(&secret), path(&public)]);
    let (exit, context) = code(&keygen);
    assert_eq!(exit, 0, "{context}");
    assert!(stdout(&keygen).starts_with("key "), "{context}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777, 0o600);
    let (exit, context) = code(&aisopod(&["sign", "verify", path(&public), path(&dir)]));
    assert_eq!(exit, 1, "{context}");
    assert!(context.contains("is unsigned"), "{context}");
    let (exit, context) = code(&aisopod(&["sign", "sign", path(&secret), path(&dir)]));
    assert_eq!(exit, 0, "{context}");
    assert!(dir.join("aisopod.plugin.sig").is_file());
    let (exit, context) = code(&aisopod(&["sign", "verify", path(&public), path(&dir)]));
    assert_eq!(exit, 0, "{context}");
    assert!(context.contains("verifies"), "{context}");

    // Another key, a changed manifest, an existing key file and a malformed key are each refused by name.
    let (other_secret, other_public) = (root.join("other.key"), root.join("other.pub"));
    assert_eq!(code(&aisopod(&["sign", "keygen", path(&other_secret), path(&other_public)])).0, 0);
    let (exit, context) = code(&aisopod(&["sign", "verify", path(&other_public), path(&dir)]));
    assert_eq!(exit, 1, "{context}");
    assert!(context.contains("is signed by key"), "{context}");
    let manifest = dir.join("aisopod.plugin.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("1.2.3", "1.2.4")).unwrap();
    let (exit, context) = code(&aisopod(&["sign", "verify", path(&public), path(&dir)]));
    assert_eq!(exit, 1, "{context}");
    assert!(context.contains("does not verify"), "{context}");
    let (exit, context) = code(&aisopod(&["sign", "keygen", path(&secret), path(&root.join("new.pub"))]));
    assert_eq!(exit, 3, "{context}");
    assert!(context.contains(path(&secret)), "{context}");
    std::fs::write(root.join("short.key"), "abcd\n").unwrap();
    let (exit, context) = code(&aisopod(&["sign", "sign", path(&root.join("short.key")), path(&dir)]));
    assert_eq!(exit, 3, "{context}");
    assert!(context.contains("short.key: the secret key"), "{context}");
    let (exit, context) = code(&aisopod(&["sign", "frobnicate"]));
    assert_eq!(exit, 2, "{context}");
}
