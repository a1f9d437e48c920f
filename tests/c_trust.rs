//! The file policy and the allow and deny lists from a real C host (`tests/hosts/trust_host.c`): a
//! group-writable plugin directory, a manifest writable by others, a group-writable library and a library owned
//! by another user, each under the strict, warn and off policies; a denied id and an id not on the allow list.
//! Each refusal has its own status and a message naming the file, its mode and its owner, or the id and the
//! list. Also: `AISOPOD_PLUGIN_PATH` is not read by a host that runs setuid.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The uid and gid that own the library of "foreign-lib": nobody's, on the usual systems.
const OTHER_USER: u32 = 65534;

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn is_root() -> bool {
    // SAFETY: geteuid takes no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The permissions tree and the lists tree the host takes, and whether the tree holds "foreign-lib".
fn setup(work: &Path) -> (PathBuf, bool, PathBuf) {
    let tree = work.join("files");
    add_test_plugin(&tree, "good", &[]);
    set_mode(&add_test_plugin(&tree, "gw-dir", &[]), 0o775);
    set_mode(&add_test_plugin(&tree, "ww-manifest", &[]).join("aisopod.plugin.toml"), 0o646);
    set_mode(&add_test_plugin(&tree, "gw-lib", &[]).join(library_name("gw-lib")), 0o775);
    let foreign = is_root();
    if foreign {
        let library = add_test_plugin(&tree, "foreign-lib", &[]).join(library_name("foreign-lib"));
        std::os::unix::fs::chown(&library, Some(OTHER_USER), Some(OTHER_USER)).unwrap();
        set_mode(&library, 0o755);
    } else {
        // SAFETY: as in `is_root`.
        let uid = unsafe { libc::geteuid() };
        eprintln!("skipped: the library owned by another user, since only root can chown it (this runs as uid {uid})");
    }
    let lists = work.join("lists");
    add_test_plugin(&lists, "good", &[]);
    add_test_plugin(&lists, "beta", &[]);
    (tree, foreign, lists)
}

#[test]
fn a_c_host_sees_each_unsafe_file_and_each_listed_id_refused_by_name() {
    let work = temp_dir("c-trust");
    let (tree, foreign, lists) = setup(&work);
    let host = build_c_host("tests/hosts/trust_host.c", &work.join("trust_host"), &["-g"]);
    let flag = if foreign { "foreign" } else { "no-foreign" };
    let (stdout, _) = host_passed(Command::new(&host).arg(&tree).arg(flag).arg(&lists).output().unwrap());
    let mut lines = vec![
        "ok: strict (the default):",
        "ok: strict: gw-dir [a plugin file is writable or owned by another user]",
        "/files/gw-dir: the plugin directory is writable by its group (mode 0775, owner uid 0",
        "ok: strict: ww-manifest [a plugin file is writable or owned by another user]",
        "/files/ww-manifest/aisopod.plugin.toml: the manifest is writable by others (mode 0646",
        "ok: strict: gw-lib [a plugin file is writable or owned by another user] aisopod_loader_load: plugin 'gw-lib': ",
        "so another user could change the plugin's code; the strict file policy refuses it (chmod g-w would make it safe)",
        "ok: warn: all",
        "ok: warn: gw-lib loads (loaded)",
        "ok: warn: each warning names its file",
        "ok: off: nothing checked, no warning (0)",
        "ok: after strict, the host loads, calls and unloads a good plugin in its own process",
        "ok: deny: beta is a diagnostic, not a plugin: [the host's allow or deny list keeps the plugin out]",
        "ok: deny: loading beta is refused: [the host's allow or deny list keeps the plugin out]",
        "ok: allow: good, not on the list, is a diagnostic",
        "ok: allow: loading good is refused",
        "ok: allow: beta loads (loaded)",
    ];
    if foreign {
        lines.push("ok: strict: foreign-lib [a plugin file is writable or owned by another user]");
        lines.push("/libforeign-lib.so: the library is owned by uid 65534");
        lines.push("(chown root would make it safe)");
    }
    for line in lines {
        assert!(stdout.contains(line), "no line `{line}` in:\n{stdout}");
    }
    // Only root can give a file away; a run as another user says what it left out, above.
    assert_eq!(stdout.contains("foreign-lib"), foreign, "{stdout}");
}

#[test]
fn aisopod_plugin_path_is_not_read_by_a_setuid_host() {
    if !is_root() {
        eprintln!("skipped: making a host setuid to another user needs root");
        return;
    }
    let work = temp_dir("c-trust-setuid");
    let tree = work.join("plugins");
    add_test_plugin(&tree, "good", &[]);
    let host = build_c_host("tests/hosts/trust_host.c", &work.join("trust_host"), &["-g"]);
    let run = |host: &Path| Command::new(host).arg("setuid").env("AISOPOD_PLUGIN_PATH", &tree).output().unwrap();
    let (stdout, _) = host_passed(run(&host));
    assert!(stdout.contains("ok: not setuid (uid 0): AISOPOD_PLUGIN_PATH read, 1 plugin(s)"), "{stdout}");

    let setuid_dir = work.join("setuid");
    std::fs::create_dir(&setuid_dir).unwrap();
    let setuid_host = setuid_dir.join("trust_host");
    std::fs::copy(&host, &setuid_host).unwrap();
    std::os::unix::fs::chown(&setuid_host, Some(OTHER_USER), Some(OTHER_USER)).unwrap();
    set_mode(&setuid_host, 0o4755); // after chown, which clears the setuid bit
    let (stdout, _) = host_passed(run(&setuid_host));
    if stdout.contains("not setuid") {
        eprintln!("skipped: the kernel ignored the setuid bit here (a nosuid mount, or no_new_privs):\n{stdout}");
        return;
    }
    assert!(
        stdout.contains(&format!("ok: setuid (uid 0, euid {OTHER_USER}): AISOPOD_PLUGIN_PATH ignored, 0 plugin(s)")),
        "{stdout}"
    );
}
