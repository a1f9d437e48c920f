//! A resolved capability keeps its plugin's code mapped whatever order the host frees things in: invoking
//! it after its loader is freed works, and freeing it last unloads the library.

mod common;

use std::path::Path;
use std::process::Command;

use aisopod_loader::CapabilityKind;
use common::*;

/// Whether a file named `name` is mapped into this process.
fn is_mapped(name: &str) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines().any(|line| line.ends_with(name))
}

#[test]
fn capability_outlives_its_loader_in_rust() {
    let tree = temp_dir("lifetime-rust");
    let dir = add_test_plugin(&tree, "outlives", &[]);
    let library = dir.join(library_name("outlives")).canonicalize().unwrap();
    let library = library.to_str().unwrap();
    let loader = isolated_loader("1.0.0", &[&tree]);
    loader.discover();
    loader.load("outlives").unwrap();
    loader.init("outlives", "{}", Path::new("")).unwrap();
    let echo = loader.resolve("outlives", CapabilityKind::Tool, "echo").unwrap();
    drop(loader);
    assert!(is_mapped(library), "the capability keeps the library mapped");
    assert_eq!(echo.invoke_to_vec(b"world").unwrap(), b"world");
    drop(echo);
    assert!(!is_mapped(library), "dropping the last capability unloads the library");
}

fn run_host(under_valgrind: bool) -> (bool, String, String) {
    let work = temp_dir(if under_valgrind { "lifetime-c-valgrind" } else { "lifetime-c" });
    let tree = work.join("plugins");
    add_test_plugin(&tree, "outlives", &[]);
    let host = build_c_host("tests/hosts/capability_outlives_loader.c", &work.join("host"), &["-g"]);
    let mut command = if under_valgrind {
        let mut c = Command::new("valgrind");
        c.args(["--leak-check=full", "--errors-for-leak-kinds=definite", "--error-exitcode=99"]).arg(&host);
        c
    } else {
        Command::new(&host)
    };
    let out = command.arg(&tree).arg("outlives").arg(library_name("outlives")).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.success(), stdout, stderr)
}

#[test]
fn c_host_frees_the_loader_before_its_capability() {
    let (ok, stdout, stderr) = run_host(false);
    assert!(ok, "host failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("ok: invoke after the loader was freed"), "{stdout}");
    assert!(stdout.contains("ok: library unmapped once the last capability is freed"), "{stdout}");
    assert!(stdout.contains("0 failure(s)"), "{stdout}");
}

#[test]
fn c_host_frees_the_loader_before_its_capability_under_valgrind() {
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("skipped: valgrind is not installed");
        return;
    }
    let (ok, stdout, stderr) = run_host(true);
    let summary: Vec<&str> =
        stderr.lines().filter(|l| l.contains("ERROR SUMMARY") || l.contains("definitely lost")).collect();
    eprintln!("{}", summary.join("\n"));
    assert!(ok, "valgrind found problems:\n{stdout}\n{stderr}");
    assert!(stdout.contains("0 failure(s)"), "{stdout}");
    assert!(stderr.contains("ERROR SUMMARY: 0 errors"), "{stderr}");
}
