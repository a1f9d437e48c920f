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
    let tree = work.join("plugins");
    add_test_plugin(&tree, "good", &[]);
    add_test_plugin(&tree, "mischief", &["HANDLER_MISCHIEF"]);
    for (id, switch) in [
        ("ctor-abort", "CTOR_ABORT"),
        ("create-exit", "CREATE_EXIT"),
        ("init-segfault", "INIT_SEGFAULT"),
        ("init-loop", "INIT_LOOP"),
        ("wrong-abi", "ABI_VERSION=99"),
    ] {
        add_test_plugin(&tree, id, &[switch]);
    }
    let needy_work = work.join("needy");
    std::fs::create_dir_all(&needy_work).unwrap();
    let needy = plugin_with_missing_dependency(&needy_work, "needy");
    let host = build_c_host("tests/hosts/isolated_host.c", &work.join("isolated_host"), &["-g"]);
    (host, tree, needy)
}

fn check(out: std::process::Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "the host failed ({:?}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.ends_with("0 failure(s)\n"), "{stdout}");
    (stdout, stderr)
}

#[test]
fn a_c_host_survives_every_misbehaviour_of_isolated_plugins() {
    let (host, tree, needy) = setup("c-isolated");
    let (stdout, _) = check(Command::new(&host).arg(&tree).arg(&needy).output().unwrap());
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
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("skipped: valgrind is not installed");
        return;
    }
    let (host, tree, needy) = setup("c-isolated-valgrind");
    let out = Command::new("valgrind")
        .args(["--leak-check=full", "--errors-for-leak-kinds=definite", "--error-exitcode=99"])
        .arg(&host)
        .arg(&tree)
        .arg(&needy)
        .output()
        .unwrap();
    let (_, stderr) = check(out);
    let summary: Vec<&str> =
        stderr.lines().filter(|l| l.contains("ERROR SUMMARY") || l.contains("definitely lost")).collect();
    eprintln!("{}", summary.join("\n"));
    assert!(stderr.contains("ERROR SUMMARY: 0 errors"), "{stderr}");
}
