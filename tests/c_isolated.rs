//! Isolated mode from a real C host (`tests/hosts/isolated_host.c`): a constructor that aborts, `create` that
//! calls `exit(3)`, `init` that segfaults or never returns, a wrong ABI and a missing `DT_NEEDED` library at
//! load; a handler that segfaults, overflows its stack, exits or never returns at call time. Each gets its own
//! status and a message naming the plugin, and after each the same host loads, calls and unloads a good plugin
//! in its own process. Also run under valgrind (host side; helpers are not traced).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

fn setup(name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let work = temp_dir(name);
    let (tree, needy) = misbehaving_plugins(&work, &[("mischief", &["HANDLER_MISCHIEF"])]);
    let host = build_c_host("tests/hosts/isolated_host.c", &work.join("isolated_host"), &["-g"]);
    (host, tree, needy)
}

#[test]
fn a_c_host_survives_every_misbehaviour_of_isolated_plugins() {
    let (host, tree, needy) = setup("c-isolated");
    let (stdout, _) = host_passed(Command::new(&host).arg(&tree).arg(&needy).output().unwrap());
    for line in [
        "ok: ctor-abort: the plugin crashed or exited its process: aisopod_loader_load: plugin 'ctor-abort' crashed \
         during load",
        "ok: init-loop: the plugin did not finish within its deadline: aisopod_loader_init: plugin 'init-loop' did \
         not finish init",
        "ok: 'segfault': mischief's state is crashed",
        "ok: 'hang': the plugin did not finish within its deadline (expected",
        "ok: after hang, the host loads, calls and unloads a good plugin in its own process",
        "ok: restarted once after a crash: 1 restart(s)",
    ] {
        assert!(stdout.contains(line), "no line `{line}` in:\n{stdout}");
    }
}

#[test]
fn the_isolated_c_host_is_clean_under_valgrind() {
    let (host, tree, needy) = setup("c-isolated-valgrind");
    host_passes_under_valgrind(&host, &[&tree, &needy]);
}
