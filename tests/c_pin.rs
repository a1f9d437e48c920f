//! Integrity pins from a real C host (`tests/hosts/pin_host.c`): a matching library loads, a mismatching one
//! and one replaced between discovery and load are refused with `AISOPOD_STATUS_INTEGRITY_MISMATCH` and both
//! digests, a malformed pin is a diagnostic, `aisopod_plugin_info_sha256` gives the pin, and pinned plugins
//! loaded after a resident one are themselves. Also under valgrind.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The SHA-256 of "abc" (FIPS 180-2): a well-formed pin that no library matches.
const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().expect("sha256sum runs");
    assert!(out.status.success(), "sha256sum {}", path.display());
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_owned()
}

/// The test plugin `id` in `tree`, pinned to `digest` (its own when `None`), with `extra` lines in
/// `[plugin]`; returns its digest.
fn pinned(tree: &Path, id: &str, digest: Option<&str>, extra: &str) -> String {
    let library = test_plugin_library(&[&format!("PLUGIN_ID=\"{id}\"")]);
    let own = sha256sum(&library);
    let pin = digest.unwrap_or(&own);
    let text = manifest(id).replacen("entry_point = ", &format!("sha256 = \"{pin}\"\n{extra}entry_point = "), 1);
    write_plugin(tree, id, &text, id, Some(&library));
    own
}

/// The host and its arguments: the tree, the replacement library, and the digests of "pinned", "swapped" and
/// the replacement.
fn setup(name: &str) -> (PathBuf, Vec<String>) {
    let work = temp_dir(name);
    let tree = work.join("plugins");
    add_test_plugin(&tree, "good", &[]);
    let pinned_digest = pinned(&tree, "pinned", None, "");
    pinned(&tree, "forged", Some(ABC_SHA256), "");
    pinned(&tree, "resident", None, "unload = false\n");
    let swapped_digest = pinned(&tree, "swapped", None, "");
    pinned(&tree, "bad-pin", Some("not a digest"), "");
    let replacement = work.join("replacement.so");
    std::fs::copy(test_plugin_library(&["PLUGIN_ID=\"swapped\"", "SKIP_HOOK"]), &replacement).unwrap();
    let replacement_digest = sha256sum(&replacement);
    assert_ne!(replacement_digest, swapped_digest);
    let host = build_c_host("tests/hosts/pin_host.c", &work.join("pin_host"), &["-g"]);
    let args = [tree.display().to_string(), replacement.display().to_string()];
    (host, [&args[..], &[pinned_digest, swapped_digest, replacement_digest]].concat())
}

#[test]
fn a_c_host_loads_matching_pins_and_refuses_the_others() {
    let (host, args) = setup("c-pin");
    let (stdout, _) = host_passed(Command::new(&host).args(&args).output().unwrap());
    for line in [
        "ok: discovered 5 plugins, 1 diagnostic",
        "ok: a malformed pin is a diagnostic naming the field: ",
        "bad-pin/aisopod.plugin.toml:7: [plugin].sha256 = \"not a digest\": has 'n' at byte 0, which is not a \
         hexadecimal digit",
        &format!("ok: aisopod_plugin_info_sha256: {}", args[2]),
        "ok: a matching library: pinned initialises, answers and unloads",
        "ok: forged: the plugin's library does not match its manifest's sha256",
        "ok: forged: the message names the plugin, the library and both digests: aisopod_loader_load: plugin \
         'forged': library ",
        "ok: swapped: the message names the plugin, the library and both digests: aisopod_loader_load: plugin \
         'swapped': library ",
        &format!("is {}, the library's SHA-256 is {}; it was not opened", args[3], args[4]),
        "ok: after a resident pinned plugin: pinned initialises, answers and unloads",
        "ok: and again: pinned initialises, answers and unloads",
    ] {
        assert!(stdout.contains(line), "no line `{line}` in:\n{stdout}");
    }
}

#[test]
fn the_pin_host_is_clean_under_valgrind() {
    let (host, args) = setup("c-pin-valgrind");
    let args: Vec<&Path> = args.iter().map(Path::new).collect();
    host_passes_under_valgrind(&host, &args);
}
