//! ABI v1's struct layout, asserted from C: the sizes and offsets a C compiler gives the header's structs equal
//! the Rust definitions', equal the frozen v1 layout on 64-bit targets, and no ABI struct has a padding hole
//! (`-Wpadded -Werror`, and `clang -Weverything` where clang is installed).

mod common;

use std::collections::HashMap;
use std::mem::{offset_of, size_of};
use std::process::Command;

use aisopod_loader::abi::*;
use common::*;

/// Every size and offset of the ABI structs: its name as the C program prints it, the value the Rust definition
/// gives, and the value of ABI v1 on every 64-bit target as first shipped (before its padding was made explicit).
/// A field appended in a minor revision, through `struct_size`, is listed with the offset it was appended at, and
/// its struct with the size that gave it.
const LAYOUT: &[(&str, usize, usize)] = &[
    ("aisopod_sink", size_of::<aisopod_sink>(), 16),
    ("aisopod_sink.context", offset_of!(aisopod_sink, context), 0),
    ("aisopod_sink.write", offset_of!(aisopod_sink, write), 8),
    ("aisopod_registrar", size_of::<aisopod_registrar>(), 24),
    ("aisopod_registrar.struct_size", offset_of!(aisopod_registrar, struct_size), 0),
    ("aisopod_registrar.context", offset_of!(aisopod_registrar, context), 8),
    ("aisopod_registrar.register_capability", offset_of!(aisopod_registrar, register_capability), 16),
    ("aisopod_init_context", size_of::<aisopod_init_context>(), 32),
    ("aisopod_init_context.struct_size", offset_of!(aisopod_init_context, struct_size), 0),
    ("aisopod_init_context.config", offset_of!(aisopod_init_context, config), 8),
    ("aisopod_init_context.config_len", offset_of!(aisopod_init_context, config_len), 16),
    ("aisopod_init_context.data_dir", offset_of!(aisopod_init_context, data_dir), 24),
    // 32 as first shipped; 40 since `get_dependency_extension` was appended.
    ("aisopod_host", size_of::<aisopod_host>(), 40),
    ("aisopod_host.struct_size", offset_of!(aisopod_host, struct_size), 0),
    ("aisopod_host.abi_version", offset_of!(aisopod_host, abi_version), 4),
    ("aisopod_host.host_version", offset_of!(aisopod_host, host_version), 8),
    ("aisopod_host.log", offset_of!(aisopod_host, log), 16),
    ("aisopod_host.get_extension", offset_of!(aisopod_host, get_extension), 24),
    ("aisopod_host.get_dependency_extension", offset_of!(aisopod_host, get_dependency_extension), 32),
    ("aisopod_plugin", size_of::<aisopod_plugin>(), 64),
    ("aisopod_plugin.struct_size", offset_of!(aisopod_plugin, struct_size), 0),
    ("aisopod_plugin.plugin_data", offset_of!(aisopod_plugin, plugin_data), 8),
    ("aisopod_plugin.id", offset_of!(aisopod_plugin, id), 16),
    ("aisopod_plugin.register_capabilities", offset_of!(aisopod_plugin, register_capabilities), 24),
    ("aisopod_plugin.init", offset_of!(aisopod_plugin, init), 32),
    ("aisopod_plugin.shutdown", offset_of!(aisopod_plugin, shutdown), 40),
    ("aisopod_plugin.destroy", offset_of!(aisopod_plugin, destroy), 48),
    ("aisopod_plugin.get_extension", offset_of!(aisopod_plugin, get_extension), 56),
];

/// The sizes and offsets the Rust definitions give.
fn rust_layout() -> HashMap<String, usize> {
    LAYOUT.iter().map(|&(name, rust, _)| (name.to_owned(), rust)).collect()
}

fn c_layout(compiler: &str, flags: &[&str]) -> HashMap<String, usize> {
    let out = temp_dir(&format!("abi-layout-{compiler}")).join("abi_layout");
    let result = Command::new(compiler)
        .args(flags)
        .arg(format!("-I{}/include", env!("CARGO_MANIFEST_DIR")))
        .arg("-o")
        .arg(&out)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hosts/abi_layout.c"))
        .output()
        .unwrap();
    assert!(result.status.success(), "{compiler} {flags:?}:\n{}", String::from_utf8_lossy(&result.stderr));
    let run = Command::new(&out).output().unwrap();
    assert!(run.status.success());
    String::from_utf8(run.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let (name, value) = line.split_once(' ').unwrap();
            (name.to_owned(), value.parse().unwrap())
        })
        .collect()
}

#[test]
fn c_and_rust_agree_and_no_struct_is_padded() {
    let c = c_layout("cc", &["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Wpadded", "-Werror"]);
    let rust = rust_layout();
    assert_eq!(c.len(), rust.len(), "the C program and the Rust table list the same fields");
    for (name, value) in &rust {
        assert_eq!(c.get(name), Some(value), "{name}: C {:?}, Rust {value}", c.get(name));
    }
    if cfg!(target_pointer_width = "64") {
        for &(name, rust, frozen) in LAYOUT {
            assert_eq!(rust, frozen, "{name} moved: ABI v1 is frozen");
        }
    }
}

#[test]
fn clang_weverything_is_quiet() {
    if Command::new("clang").arg("--version").output().is_err() {
        eprintln!("skipped: clang is not installed (gcc's -Wpadded ran in the other test)");
        return;
    }
    // -Wdeclaration-after-statement and -Wunsafe-buffer-usage concern the test program, not the header.
    let c = c_layout(
        "clang",
        &["-std=c11", "-Weverything", "-Werror", "-Wno-declaration-after-statement", "-Wno-unsafe-buffer-usage"],
    );
    assert_eq!(c, rust_layout());
}
