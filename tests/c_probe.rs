//! The probe and the quarantine from a real C host (`tests/hosts/probe_host.c`): plugins whose constructor
//! aborts, whose `create` calls `exit(3)`, whose `init` segfaults or never returns, whose ABI version is wrong
//! and whose `DT_NEEDED` library is missing, each probed in a helper process with its own status, step and
//! message; after each, the same host loads, calls and unloads a good plugin. Also run under valgrind, which
//! checks the host side (the helper processes are not traced).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

fn setup(name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let work = temp_dir(name);
    let (tree, needy) = misbehaving_plugins(&work, &[]);
    let host = build_c_host("tests/hosts/probe_host.c", &work.join("probe_host"), &["-g"]);
    (host, tree, needy)
}

#[test]
fn a_c_host_probes_every_misbehaviour_and_keeps_running() {
    let (host, tree, needy) = setup("c-probe");
    let (stdout, _) = host_passed(Command::new(&host).arg(&tree).arg(&needy).output().unwrap());
    for line in [
        "ok: ctor-abort: the plugin crashed or exited its process (expected the plugin crashed or exited its process): \
         plugin 'ctor-abort' crashed during dlopen: its helper process was killed by signal SIGABRT; stderr: test \
         plugin: constructor aborting",
        "ok: create-exit: failed in step 'create'",
        "ok: init-segfault: helper ending: signal 11, exit code -1",
        "ok: init-loop: the plugin did not finish within its deadline (expected the plugin did not finish within its \
         deadline): plugin 'init-loop' did not finish init within 500 ms: its helper process was killed",
        "ok: needy: failed in step 'dlopen'",
        "ok: after needy, the host loads, calls and unloads a good plugin",
        "ok: 5 libraries are quarantined",
        "ok: discovery sets the 5 aside: 2 found, 5 diagnostics",
    ] {
        assert!(stdout.contains(line), "no line `{line}` in:\n{stdout}");
    }
}

#[test]
fn the_c_probe_host_is_clean_under_valgrind() {
    let (host, tree, needy) = setup("c-probe-valgrind");
    host_passes_under_valgrind(&host, &[&tree, &needy]);
}
