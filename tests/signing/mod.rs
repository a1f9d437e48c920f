//! What the signature tests share: keys and signatures made by the `aisopod-sign` binary, and a tree of test
//! plugins signed, unsigned, or changed after signing.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

/// The tool, built by cargo for these tests.
pub const TOOL: &str = env!("CARGO_BIN_EXE_aisopod-sign");

/// Runs the tool with `args`.
pub fn run_tool(args: &[&Path]) -> Output {
    Command::new(TOOL).args(args).output().expect("aisopod-sign runs")
}

/// Runs the tool, which must succeed; returns what it printed.
pub fn tool(args: &[&Path]) -> String {
    let out = run_tool(args);
    assert!(out.status.success(), "aisopod-sign {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A key pair made by `aisopod-sign keygen` in `dir`: the secret key's file, the public key's bytes and its id.
pub struct Key {
    pub secret: PathBuf,
    pub public_file: PathBuf,
    pub public: [u8; 32],
    /// The public key as the file holds it: 64 lower-case hexadecimal digits.
    pub public_hex: String,
    pub id: String,
}

/// Makes key `name` in `dir` with `aisopod-sign keygen`.
pub fn keygen(dir: &Path, name: &str) -> Key {
    let (secret, public_file) = (dir.join(format!("{name}.secret")), dir.join(format!("{name}.public")));
    let printed = tool(&[Path::new("keygen"), &secret, &public_file]);
    let text = std::fs::read_to_string(&public_file).unwrap();
    let digits = text.trim_end();
    assert_eq!(digits.len(), 64, "{text:?}");
    let mut public = [0; 32];
    for (i, byte) in public.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).unwrap();
    }
    let id = printed.strip_prefix("key ").unwrap()[..16].to_owned();
    Key { secret, public_file, public, public_hex: digits.to_owned(), id }
}

/// Signs the plugin in `dir` with `key`, with `aisopod-sign sign`.
pub fn sign(key: &Key, dir: &Path) {
    tool(&[Path::new("sign"), &key.secret, dir]);
}

/// Plugins `signed` (by `trusted`), `unsigned`, `stranger` (signed by another key), `edited` (its manifest
/// changed after signing), `swapped` (its library replaced after signing) and `garbled` (a malformed file).
pub fn plugins(name: &str) -> (PathBuf, Key, Key) {
    let root = temp_dir(name);
    let keys = temp_dir(&format!("{name}-keys"));
    let (trusted, other) = (keygen(&keys, "trusted"), keygen(&keys, "other"));
    for id in ["signed", "unsigned", "stranger", "edited", "swapped", "garbled"] {
        add_test_plugin(&root, id, &[]);
    }
    for id in ["signed", "edited", "swapped", "garbled"] {
        sign(&trusted, &root.join(id));
    }
    sign(&other, &root.join("stranger"));
    let manifest = root.join("edited/aisopod.plugin.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("Test plugin edited", "Test plugin edited later")).unwrap();
    let library = root.join("swapped").join(library_name("swapped"));
    std::fs::remove_file(&library).unwrap();
    std::fs::copy(test_plugin_library(&["PLUGIN_ID=\"swapped\"", "REGISTER_EXTRA"]), &library).unwrap();
    std::fs::write(root.join("garbled/aisopod.plugin.sig"), "aisopod-signature 1\nkey-id nothex\n").unwrap();
    (root, trusted, other)
}
