//! The checks on a plugin's library file before and around `dlopen`: a library built for another machine, a
//! file that is not a shared library, and a dependency the dynamic linker cannot find are each refused with a
//! message that says which, instead of glibc's "cannot open shared object file: No such file or directory".

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use aisopod_loader::Status;
use common::*;

/// The message a load of plugin `id` from `tree` fails with; asserts the status is `LibraryLoad`.
fn load_failure(tree: &Path, id: &str) -> String {
    let loader = isolated_loader("1.0.0", &[tree]);
    assert_eq!(loader.discover(), 1, "{:?}", loader.discovery().diagnostics());
    let error = loader.load(id).expect_err("the load must fail");
    eprintln!("{error}");
    assert_eq!(error.status(), Status::LibraryLoad, "{error}");
    error.message().to_owned()
}

/// A plugin directory for `id` whose library is the file at `library`.
fn plugin_with_library(name: &str, id: &str, library: &Path) -> PathBuf {
    let tree = temp_dir(name);
    write_plugin(&tree, id, &manifest(id), id, Some(library));
    tree
}

fn zig_available() -> bool {
    Command::new("python3").args(["-m", "ziglang", "version"]).output().is_ok_and(|o| o.status.success())
}

/// The test plugin cross-compiled with Zig for `target`, or `None` (with a note) when Zig is not installed.
fn cross_compiled_plugin(target: &str, id: &str) -> Option<PathBuf> {
    if !zig_available() {
        eprintln!("skipped: Zig (python3 -m ziglang) is not installed, so no {target} library can be built");
        return None;
    }
    let out = temp_dir(&format!("cross-{target}")).join(library_name(id));
    let status = Command::new("python3")
        .args(["-m", "ziglang", "cc", "-target", target, "-shared", "-fPIC", "-std=c11"])
        .arg(format!("-I{}/include", env!("CARGO_MANIFEST_DIR")))
        .arg(format!("-DPLUGIN_ID=\"{id}\""))
        .arg("-o")
        .arg(&out)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plugins/test_plugin.c"))
        .env("ZIG_GLOBAL_CACHE_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("zig-cache"))
        .status()
        .unwrap();
    assert!(status.success(), "zig cc for {target} failed");
    Some(out)
}

fn host_arch() -> &'static str {
    std::env::consts::ARCH
}

/// Builds the test plugin for `target` with Zig and checks its load names `arch` and this host.
fn refuses_cross_compiled(target: &str, id: &str, arch: &str) {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        eprintln!("skipped: the cross-compiled cases are written for an x86_64 Linux host");
        return;
    }
    let Some(library) = cross_compiled_plugin(target, id) else { return };
    let tree = plugin_with_library(&format!("arch-{target}"), id, &library);
    let message = load_failure(&tree, id);
    assert!(message.contains(&format!("it is built for {arch}; this host is x86_64")), "{message}");
    assert!(message.contains(&format!("plugin '{id}'")) && message.contains(&library_name(id)), "{message}");
}

#[test]
fn a_library_for_another_machine_names_both_machines() {
    refuses_cross_compiled("aarch64-linux-gnu", "arm", "aarch64");
}

#[test]
fn a_32_bit_library_on_a_64_bit_host_is_named() {
    refuses_cross_compiled("x86-linux-gnu", "i386", "i386");
}

/// Without a cross compiler: the real test plugin with its header's machine field rewritten.
#[test]
fn a_foreign_machine_field_is_refused_before_dlopen() {
    let mut bytes = std::fs::read(test_plugin_library(&["PLUGIN_ID=\"foreign\""])).unwrap();
    // e_machine is the 16-bit field at offset 18; 183 is EM_AARCH64, 62 EM_X86_64.
    let foreign: u16 = if host_arch() == "aarch64" { 62 } else { 183 };
    let little = bytes[5] == 1;
    let field = if little { foreign.to_le_bytes() } else { foreign.to_be_bytes() };
    bytes[18..20].copy_from_slice(&field);
    let library = temp_dir("foreign-machine").join(library_name("foreign"));
    std::fs::write(&library, bytes).unwrap();
    let tree = plugin_with_library("foreign-machine-tree", "foreign", &library);
    let message = load_failure(&tree, "foreign");
    let expected = if foreign == 183 { "it is built for aarch64; this host is " } else { "it is built for x86_64" };
    assert!(message.contains(expected), "{message}");
}

#[test]
fn a_file_that_is_not_elf_is_named_as_such() {
    let library = temp_dir("not-elf").join(library_name("text"));
    std::fs::write(&library, "this is not a library\n").unwrap();
    let tree = plugin_with_library("not-elf-tree", "text", &library);
    let message = load_failure(&tree, "text");
    assert!(message.contains("it is not an ELF file"), "{message}");
}

#[test]
fn an_executable_is_not_a_shared_library() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let dir = temp_dir("exec");
    let source = dir.join("main.c");
    std::fs::write(&source, "int main(void) { return 0; }\n").unwrap();
    let library = dir.join(library_name("exec"));
    let out = c_compiler().arg("-no-pie").arg("-o").arg(&library).arg(&source).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tree = plugin_with_library("exec-tree", "exec", &library);
    let message = load_failure(&tree, "exec");
    assert!(message.contains("it is an executable (ET_EXEC), not a shared library (ET_DYN)"), "{message}");
}

#[test]
fn a_missing_dt_needed_library_is_named() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let tree = plugin_with_missing_dependency(&temp_dir("missing-dep"), "needy");
    let message = load_failure(&tree, "needy");
    assert!(
        message.contains("it needs libaisopod_gone.so (DT_NEEDED), which the dynamic linker cannot find"),
        "{message}"
    );
}

/// The same failures through the C API, as the corpus host prints them.
#[test]
fn c_host_reads_the_library_messages() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let work = temp_dir("library-checks-c");
    let tree = plugin_with_missing_dependency(&temp_dir("library-checks-c-dep"), "needy");
    let text = temp_dir("library-checks-c-text").join(library_name("text"));
    std::fs::write(&text, "not a library\n").unwrap();
    write_plugin(&tree, "text", &manifest("text"), "text", Some(&text));
    let host = build_c_host("tests/corpus_host.c", &work.join("corpus_host"), &[]);
    let out = Command::new(&host).arg(&tree).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("load needy: the dynamic linker could not load the plugin library: aisopod_loader_load: ")
            && stdout.contains("it needs libaisopod_gone.so (DT_NEEDED)"),
        "{stdout}"
    );
    assert!(stdout.contains("load text: ") && stdout.contains("it is not an ELF file"), "{stdout}");
}
