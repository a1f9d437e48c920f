//! The sandbox from a real C host (`tests/hosts/sandbox_host.c`): an isolated plugin that reads outside its
//! grant, opens a socket and runs `/bin/sh` is refused each time by the kernel, and its other calls and the host
//! go on. Also under valgrind (host side). Skipped, saying why, on a kernel without Landlock.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

fn landlock_available() -> bool {
    // SAFETY: landlock_create_ruleset with a NULL attribute, size 0 and the VERSION flag only returns the ABI.
    let abi = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<u8>(), 0usize, 1u32) };
    if abi <= 0 {
        eprintln!("skipped: this kernel has no Landlock, so the sandbox cannot restrict files");
    }
    abi > 0
}

fn setup(name: &str) -> (PathBuf, [PathBuf; 3]) {
    let work = temp_dir(name);
    let (granted, secret) = (work.join("granted"), work.join("secret"));
    for dir in [&granted, &secret] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("file"), "content").unwrap();
    }
    let text = format!(
        "{}\n[permissions]\nread = [\"{}\", \"{}\"]\nnetwork = true\nsubprocess = true\n",
        manifest("boxed"),
        granted.display(),
        secret.display()
    );
    let tree = work.join("plugins");
    add_test_plugin_with(&tree, "boxed", &["HANDLER_MISCHIEF"], &text);
    let host = build_c_host("tests/hosts/sandbox_host.c", &work.join("sandbox_host"), &["-g"]);
    (host, [tree, granted, secret])
}

#[test]
fn a_c_host_sees_each_forbidden_attempt_refused_and_goes_on() {
    if !landlock_available() {
        return;
    }
    let (host, args) = setup("c-sandbox");
    let (stdout, _) = host_passed(Command::new(&host).args(&args).output().unwrap());
    for line in [
        "ok: reading the granted",
        "file outside the grant: Permission denied",
        "ok: opening a socket: Operation not permitted",
        "ok: running /bin/sh: Operation not permitted",
        "ok: its other calls go on: still here",
    ] {
        assert!(stdout.contains(line), "no line `{line}` in:\n{stdout}");
    }
}

#[test]
fn the_sandbox_host_is_clean_under_valgrind() {
    if !landlock_available() {
        return;
    }
    let (host, [tree, granted, secret]) = setup("c-sandbox-valgrind");
    host_passes_under_valgrind(&host, &[&tree, &granted, &secret]);
}
