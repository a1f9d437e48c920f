//! Publisher signatures from a real C host (`tests/hosts/sign_host.c`), with keys and signatures made by
//! `aisopod-sign`: signed, unsigned, signed by an unknown key, manifest and library changed after signing, and a
//! malformed signature file, each under both signature policies with its own status and a message naming the
//! plugin and the key id; and the argument checks of the two exports. Also under valgrind.

mod common;
mod signing;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use signing::*;

/// The host and its arguments: the tree, the trusted public key in hex, its id and the other key's id.
fn setup(name: &str) -> (PathBuf, Vec<String>) {
    let (tree, trusted, other) = plugins(name);
    let host = build_c_host("tests/hosts/sign_host.c", &temp_dir(&format!("{name}-host")).join("sign_host"), &["-g"]);
    (host, vec![tree.display().to_string(), trusted.public_hex, trusted.id, other.id])
}

#[test]
fn a_c_host_sees_each_case_with_its_own_status_under_both_policies() {
    let (host, args) = setup("c-sign");
    let (stdout, _) = host_passed(Command::new(&host).args(&args).output().unwrap());
    let (trusted, other) = (&args[2], &args[3]);
    for line in [
        "ok: discovered 6 plugins".to_owned(),
        "ok: a key of 31 bytes is INVALID_ARGUMENT: aisopod_loader_trust_key: argument 'len' is 31: an Ed25519 \
         public key has 32 bytes"
            .to_owned(),
        "ok: signed under REQUIRED: initialises, answers and unloads".to_owned(),
        format!("ok: stranger under ALLOW_UNSIGNED: the warning names the plugin and key {other}: plugin 'stranger' is signed by key {other}"),
        "ok: unsigned under REQUIRED: the plugin has no signature, and the signature policy requires one (expected".to_owned(),
        format!("ok: stranger under REQUIRED: the message names key {other}"),
        format!("ok: edited under ALLOW_UNSIGNED: the message names key {trusted}"),
        format!("ok: swapped under REQUIRED: the message names key {trusted}"),
        "ok: garbled under REQUIRED: the message names the plugin: aisopod_loader_load: plugin 'garbled': malformed \
         signature file"
            .to_owned(),
    ] {
        assert!(stdout.contains(&line), "no line `{line}` in:\n{stdout}");
    }
}

#[test]
fn the_sign_host_is_clean_under_valgrind() {
    let (host, args) = setup("c-sign-valgrind");
    let args: Vec<&Path> = args.iter().map(Path::new).collect();
    host_passes_under_valgrind(&host, &args);
}
