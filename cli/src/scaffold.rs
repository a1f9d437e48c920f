//! `aisopod new`: writes a plugin directory (manifest, source, build script) that builds with `make` and
//! passes `aisopod validate` as it is. The templates are in `cli/templates/`.

use std::path::{Path, PathBuf};

use crate::Lang;

const MANIFEST: &str = include_str!("../templates/manifest.toml");
const C_SOURCE: &str = include_str!("../templates/c/plugin.c");
const C_MAKEFILE: &str = include_str!("../templates/c/Makefile");
const ZIG_SOURCE: &str = include_str!("../templates/zig/plugin.zig");
const ZIG_MAKEFILE: &str = include_str!("../templates/zig/Makefile");
const RUST_CARGO: &str = include_str!("../templates/rust/Cargo.toml");
const RUST_SOURCE: &str = include_str!("../templates/rust/lib.rs");
const RUST_MAKEFILE: &str = include_str!("../templates/rust/Makefile");
/// The loader's source tree this `aisopod` was built from, where a Rust plugin finds the SDK.
const SOURCE_TREE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Writes `dir/name`, refusing a name that is not a plugin id usable as a C, Zig and Rust identifier, and a
/// directory that exists. Exit code 0 when written.
pub fn run(lang: Lang, name: &str, dir: &Path) -> Result<u8, String> {
    check_name(name)?;
    let root = dir.join(name);
    if root.exists() {
        return Err(format!("{} already exists", root.display()));
    }
    let files: Vec<(String, String)> = match lang {
        Lang::C => vec![(format!("{name}.c"), C_SOURCE.to_owned()), ("Makefile".to_owned(), C_MAKEFILE.to_owned())],
        Lang::Zig => {
            vec![(format!("{name}.zig"), ZIG_SOURCE.to_owned()), ("Makefile".to_owned(), ZIG_MAKEFILE.to_owned())]
        }
        Lang::Rust => vec![
            ("Cargo.toml".to_owned(), RUST_CARGO.replace("{{loader_dependency}}", &loader_dependency())),
            ("src/lib.rs".to_owned(), RUST_SOURCE.to_owned()),
            ("Makefile".to_owned(), RUST_MAKEFILE.to_owned()),
        ],
    };
    let include = include_dir();
    let write = |relative: &str, text: &str| -> Result<(), String> {
        let path = root.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let text = text.replace("{{name}}", name).replace("{{include}}", &include.to_string_lossy());
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    // The Rust standard library registers thread-local destructors that must not outlive the library: a Rust
    // plugin stays resident (see the README's "Keeping a library resident").
    let resident = match lang {
        Lang::Rust => "unload = false\n",
        Lang::C | Lang::Zig => "",
    };
    write("aisopod.plugin.toml", &MANIFEST.replace("{{resident}}", resident))?;
    for (relative, text) in &files {
        write(relative, text)?;
    }
    println!("created {}: build it with `make -C {0}`, then check it with `aisopod validate {0}`", root.display());
    Ok(0)
}

/// A plugin id (`[a-z0-9._-]`, see the manifest rules) narrowed to what is also an identifier in C, Zig and
/// Rust: a lower-case letter, then lower-case letters, digits and underscores; at most 64 bytes.
fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    if !first_ok || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') || name.len() > 64 {
        return Err(format!(
            "'{name}' is not a usable plugin name: use 1 to 64 lower-case letters, digits and underscores, \
             starting with a letter"
        ));
    }
    Ok(())
}

/// The directory holding `aisopod_loader.h`: beside an installed `aisopod` (`$(PREFIX)/include`), else the
/// source tree it was built from.
fn include_dir() -> PathBuf {
    let installed = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("include")))
        .filter(|dir| dir.join("aisopod_loader.h").is_file());
    installed.unwrap_or_else(|| canonical(&Path::new(SOURCE_TREE).join("include")))
}

/// The `aisopod-loader` dependency of a Rust plugin: the source tree `aisopod` was built from, with default
/// features off, so the plugin gets the ABI types and the SDK and not the loader.
fn loader_dependency() -> String {
    let tree = canonical(Path::new(SOURCE_TREE));
    format!("{{ path = {:?}, default-features = false }}", tree.to_string_lossy())
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}
