//! Generates `include/aisopod_loader.h` from the Rust sources with cbindgen.
//!
//! The header is always written to `$OUT_DIR`; a test compares it with the committed one. Outside CI the
//! committed copy is refreshed too, so a developer's build keeps it current; in CI (`CI` set) it is left alone
//! so that a stale committed header fails the test instead of being silently fixed. Without the `loader`
//! feature (a Rust plugin's build) there is no C API to describe and nothing is generated.

#[cfg(feature = "loader")]
use std::{env, path::PathBuf};

fn main() {
    // `make install` builds with the soname it installs under; other builds have none, so in-tree hosts can
    // link against the unversioned library in target/.
    println!("cargo:rerun-if-env-changed=AISOPOD_LOADER_SONAME");
    if let Ok(soname) = std::env::var("AISOPOD_LOADER_SONAME") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    }
    #[cfg(feature = "loader")]
    generate_header();
}

#[cfg(feature = "loader")]
fn generate_header() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=CI");
    // Tests build C plugins with the `cc` crate, which needs the target triple.
    println!("cargo:rustc-env=AISOPOD_BUILD_TARGET={}", env::var("TARGET").expect("cargo sets TARGET"));

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml is valid");
    let version = |part: &str| env::var(format!("CARGO_PKG_VERSION_{part}")).expect("cargo sets the version");
    let plugin_declarations = config.after_includes.take().unwrap_or_default();
    config.after_includes = Some(format!(
        "{plugin_declarations}\n/** This header's library version; compare with aisopod_loader_version() at run time. */\n\
         #define AISOPOD_LOADER_VERSION_MAJOR {}\n#define AISOPOD_LOADER_VERSION_MINOR {}\n\
         #define AISOPOD_LOADER_VERSION_PATCH {}\n#define AISOPOD_LOADER_VERSION_STRING \"{}\"",
        version("MAJOR"),
        version("MINOR"),
        version("PATCH"),
        env::var("CARGO_PKG_VERSION").expect("cargo sets the version"),
    ));

    let generated = out_dir.join("aisopod_loader.h");
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen can generate the header")
        .write_to_file(&generated);

    if env::var_os("CI").is_none() {
        let committed = crate_dir.join("include/aisopod_loader.h");
        let new = std::fs::read(&generated).expect("header was just written");
        if std::fs::read(&committed).ok().as_deref() != Some(new.as_slice()) {
            std::fs::write(&committed, new).expect("include/ is writable");
        }
    }
}
