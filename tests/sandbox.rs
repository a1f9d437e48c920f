//! The sandbox of isolated plugins (Linux, Landlock and seccomp): a plugin reads and writes only what it
//! declares in `[permissions]` and the host grants, opens no socket and starts no program unless both allow it,
//! and a refused attempt fails with EACCES or EPERM inside the plugin while the host and the plugin's other
//! calls go on. Skipped, saying why, on a kernel without Landlock.

mod common;

use std::path::{Path, PathBuf};

use aisopod_loader::{CapabilityKind, Grant, Isolation, Loader, SandboxPolicy, Status};
use common::{add_test_plugin_with, isolated_loader, manifest, temp_dir};

const TOOL: CapabilityKind = CapabilityKind::Tool;
const DENIED_BY_LANDLOCK: &str = "Permission denied";
const DENIED_BY_SECCOMP: &str = "Operation not permitted";

/// The Landlock ABI of the running kernel, or `None` without Landlock.
fn landlock_abi() -> Option<i64> {
    // SAFETY: landlock_create_ruleset with a NULL attribute, size 0 and the VERSION flag only returns the ABI.
    let abi = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<u8>(), 0usize, 1u32) };
    (abi > 0).then_some(abi)
}

fn skip_without_landlock() -> bool {
    match landlock_abi() {
        Some(abi) => {
            eprintln!("Landlock ABI {abi}");
            false
        }
        None => {
            eprintln!("skipped: this kernel has no Landlock, so the sandbox cannot restrict files");
            true
        }
    }
}

/// A sandbox test tree: the plugin "boxed" (the test plugin with HANDLER_MISCHIEF) declaring `permissions`,
/// and two directories with a file each: `allowed/` and `secret/`.
struct Tree {
    root: PathBuf,
    allowed: PathBuf,
    secret: PathBuf,
}

fn tree(name: &str, permissions: &str) -> Tree {
    let root = temp_dir(name);
    let (allowed, secret) = (root.join("allowed"), root.join("secret"));
    for dir in [&allowed, &secret] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("file"), "content").unwrap();
    }
    let text = format!("{}\n[permissions]\n{permissions}\n", manifest("boxed"));
    add_test_plugin_with(&root.join("plugins"), "boxed", &["HANDLER_MISCHIEF"], &text);
    Tree { root, allowed, secret }
}

fn loaded(tree: &Tree, grants: &[Grant]) -> Loader {
    let loader = isolated_loader("1.0.0", &[&tree.root.join("plugins")]);
    loader.set_isolation(None, Some(Isolation::Process));
    for grant in grants {
        loader.grant(Some("boxed"), grant.clone());
    }
    assert_eq!(loader.discover(), 1);
    loader.load("boxed").unwrap();
    loader.init("boxed", "{}", Path::new("")).unwrap();
    loader
}

fn ask(loader: &Loader, input: String) -> String {
    String::from_utf8(loader.invoke_to_vec("boxed", TOOL, "echo", input.as_bytes()).unwrap()).unwrap()
}

#[test]
fn a_sandboxed_plugin_reads_only_what_it_declares_and_is_granted() {
    if skip_without_landlock() {
        return;
    }
    let t = tree("sandbox-read", "read = [\"ALLOWED\", \"SECRET\"]");
    // The manifest is written before the paths are known: put them in.
    let manifest_path = t.root.join("plugins/boxed/aisopod.plugin.toml");
    let text = std::fs::read_to_string(&manifest_path)
        .unwrap()
        .replace("ALLOWED", t.allowed.to_str().unwrap())
        .replace("SECRET", t.secret.to_str().unwrap());
    std::fs::write(&manifest_path, text).unwrap();
    // Granted: `allowed` only. Declared: both.
    let loader = loaded(&t, &[Grant::Read(t.allowed.clone())]);
    assert_eq!(ask(&loader, format!("read:{}/file", t.allowed.display())), "ok");
    assert_eq!(ask(&loader, format!("read:{}/file", t.secret.display())), DENIED_BY_LANDLOCK);
    assert_eq!(ask(&loader, "read:/etc/hostname".into()), DENIED_BY_LANDLOCK, "not declared, not granted");
    assert_eq!(ask(&loader, format!("write:{}/new", t.allowed.display())), DENIED_BY_LANDLOCK, "read only");
    assert!(!t.allowed.join("new").exists());
    // The plugin's other calls, and the host, go on.
    assert_eq!(ask(&loader, "hello".into()), "hello");
    loader.unload("boxed").unwrap();
}

#[test]
fn writes_need_a_declared_and_granted_write_path() {
    if skip_without_landlock() {
        return;
    }
    let t = tree("sandbox-write", "write = [\"OUT\"]");
    let out = t.root.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let manifest_path = t.root.join("plugins/boxed/aisopod.plugin.toml");
    let text = std::fs::read_to_string(&manifest_path).unwrap().replace("OUT", out.to_str().unwrap());
    std::fs::write(&manifest_path, text).unwrap();

    let granted = loaded(&t, &[Grant::Write(t.root.clone())]);
    assert_eq!(ask(&granted, format!("write:{}/made", out.display())), "ok");
    assert!(out.join("made").exists());
    assert_eq!(ask(&granted, format!("write:{}/made", t.secret.display())), DENIED_BY_LANDLOCK);
    drop(granted);

    let ungranted = loaded(&t, &[]);
    assert_eq!(ask(&ungranted, format!("write:{}/again", out.display())), DENIED_BY_LANDLOCK);
}

#[test]
fn sockets_and_programs_need_both_the_declaration_and_the_grant() {
    if skip_without_landlock() {
        return;
    }
    let declared = tree("sandbox-net-declared", "network = true\nsubprocess = true");
    let refused = loaded(&declared, &[]);
    assert_eq!(ask(&refused, "socket".into()), DENIED_BY_SECCOMP);
    assert_eq!(ask(&refused, "exec".into()), DENIED_BY_SECCOMP);
    assert_eq!(ask(&refused, "hello".into()), "hello", "threads and calls still work");
    drop(refused);

    let allowed = loaded(&declared, &[Grant::Network, Grant::Subprocess]);
    assert_eq!(ask(&allowed, "socket".into()), "ok");
    assert_eq!(ask(&allowed, "exec".into()), "ok");
    drop(allowed);

    let undeclared = tree("sandbox-net-undeclared", "");
    let granted_only = loaded(&undeclared, &[Grant::Network, Grant::Subprocess]);
    assert_eq!(ask(&granted_only, "socket".into()), DENIED_BY_SECCOMP, "granted, but not declared");
    assert_eq!(ask(&granted_only, "exec".into()), DENIED_BY_SECCOMP);
}

#[test]
fn the_sandbox_can_be_turned_off_and_does_not_apply_in_process() {
    if skip_without_landlock() {
        return;
    }
    let t = tree("sandbox-off", "");
    let off = isolated_loader("1.0.0", &[&t.root.join("plugins")]);
    off.set_isolation(None, Some(Isolation::Process));
    off.set_sandbox_policy(SandboxPolicy::Off);
    off.discover();
    off.load("boxed").unwrap();
    off.init("boxed", "{}", Path::new("")).unwrap();
    assert_eq!(ask(&off, format!("read:{}/file", t.secret.display())), "ok");
    assert_eq!(ask(&off, "socket".into()), "ok");

    let required = isolated_loader("1.0.0", &[&t.root.join("plugins")]);
    required.set_isolation(None, Some(Isolation::Process));
    required.set_sandbox_policy(SandboxPolicy::Require);
    required.discover();
    required.load("boxed").unwrap();
    required.init("boxed", "{}", Path::new("")).unwrap();
    assert_eq!(ask(&required, format!("read:{}/file", t.secret.display())), DENIED_BY_LANDLOCK);
    let error = required.invoke_to_vec("boxed", TOOL, "echo", b"fail").unwrap_err();
    assert_eq!(error.status(), Status::PluginError);
}
