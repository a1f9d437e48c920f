//! The bad-input corpus: every way a manifest, a library or a plugin can be wrong, each checked for its status
//! code and for a message naming the culprit. One loader lives through the whole corpus, and after every case
//! it must still discover, load, initialise, call and unload a good plugin.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aisopod_loader::{CapabilityKind, Isolation, Loader, Status};
use common::*;

/// Where a case fails.
#[derive(Clone, Copy)]
enum Stage {
    /// Discovery refuses the candidate: a diagnostic for it.
    Discover,
    /// Discovery accepts it; `load` fails.
    Load,
    /// `init` fails.
    Init,
    /// `invoke` of this tool with this input fails.
    Invoke(&'static str, &'static [u8]),
}

#[derive(Clone)]
struct Case {
    name: &'static str,
    /// The id the case's plugin uses (its directory name too).
    id: &'static str,
    stage: Stage,
    status: Status,
    /// Substrings the message must contain (the file, field, plugin or symbol at fault).
    needles: &'static [&'static str],
    /// Writes the case into the primary search root (and may use the secondary one).
    setup: fn(&Roots, &Case),
}

struct Roots {
    primary: PathBuf,
    secondary: PathBuf,
}

fn bad_manifest(roots: &Roots, case: &Case, text: String) {
    write_plugin(&roots.primary, case.id, &text, case.id, None);
}

fn with_test_plugin(roots: &Roots, case: &Case, defines: &[&str]) {
    add_test_plugin(&roots.primary, case.id, defines);
}

fn edit(case: &Case, from: &str, to: &str) -> String {
    let text = manifest(case.id);
    assert!(text.contains(from), "{}: manifest lacks {from:?}", case.name);
    text.replacen(from, to, 1)
}

/// A plugin directory whose library file holds `bytes`.
fn library_bytes(roots: &Roots, case: &Case, bytes: &[u8]) {
    let dir = write_plugin(&roots.primary, case.id, &manifest(case.id), case.id, None);
    std::fs::write(dir.join(library_name(case.id)), bytes).unwrap();
}

/// The SHA-256 of "abc" (FIPS 180-2): a well-formed pin that no library matches.
const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn good_library_bytes() -> Vec<u8> {
    std::fs::read(test_plugin_library(&["PLUGIN_ID=\"bytes\""])).unwrap()
}

fn system_zlib() -> Option<PathBuf> {
    ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib"]
        .iter()
        .map(|dir| Path::new(dir).join("libz.so.1"))
        .find(|path| path.exists())
}

fn running_as_root() -> bool {
    extern "C" {
        fn geteuid() -> u32;
    }
    // SAFETY: no arguments, no failure.
    unsafe { geteuid() == 0 }
}

fn cases() -> Vec<Case> {
    vec![
        // Manifest problems.
        Case {
            name: "malformed TOML",
            id: "m-toml",
            stage: Stage::Discover,
            status: Status::ManifestParse,
            needles: &["m-toml/aisopod.plugin.toml:2"],
            setup: |r, c| bad_manifest(r, c, "[plugin]\nid = \"m-toml\nname = 1\n".into()),
        },
        Case {
            name: "missing required field",
            id: "m-missing",
            stage: Stage::Discover,
            status: Status::ManifestParse,
            needles: &["m-missing/aisopod.plugin.toml", "`version`"],
            setup: |r, c| bad_manifest(r, c, edit(c, "version = \"1.2.3\"\n", "")),
        },
        Case {
            name: "empty id",
            id: "m-empty-id",
            stage: Stage::Discover,
            status: Status::ManifestInvalid,
            needles: &["m-empty-id/aisopod.plugin.toml:2", "[plugin].id", "must not be empty"],
            setup: |r, c| bad_manifest(r, c, edit(c, "id = \"m-empty-id\"", "id = \"\"")),
        },
        Case {
            name: "id with illegal characters",
            id: "m-bad-id",
            stage: Stage::Discover,
            status: Status::ManifestInvalid,
            needles: &["m-bad-id/aisopod.plugin.toml:2", "[plugin].id", "\"Bad/Id\""],
            setup: |r, c| bad_manifest(r, c, edit(c, "id = \"m-bad-id\"", "id = \"Bad/Id\"")),
        },
        Case {
            name: "over-long id",
            id: "m-long-id",
            stage: Stage::Discover,
            status: Status::ManifestInvalid,
            needles: &["[plugin].id", "65 bytes, over the 64-byte limit"],
            setup: |r, c| bad_manifest(r, c, edit(c, "id = \"m-long-id\"", &format!("id = \"{}\"", "x".repeat(65)))),
        },
        Case {
            name: "bad semver version",
            id: "m-semver",
            stage: Stage::Discover,
            status: Status::ManifestInvalid,
            needles: &["m-semver/aisopod.plugin.toml:4", "[plugin].version", "\"1.2\""],
            setup: |r, c| bad_manifest(r, c, edit(c, "version = \"1.2.3\"", "version = \"1.2\"")),
        },
        Case {
            name: "bad semver range value",
            id: "m-range-value",
            stage: Stage::Discover,
            status: Status::ManifestInvalid,
            needles: &["[compatibility].min_host_version", "\">=1.0\""],
            setup: |r, c| bad_manifest(r, c, edit(c, "min_host_version = \"1.0.0\"", "min_host_version = \">=1.0\"")),
        },
        Case {
            name: "min greater than max",
            id: "m-min-max",
            stage: Stage::Discover,
            status: Status::ManifestInvalid,
            needles: &["[compatibility].max_host_version", "lower than min_host_version 1.0.0"],
            setup: |r, c| bad_manifest(r, c, edit(c, "max_host_version = \"1.9.0\"", "max_host_version = \"0.9.0\"")),
        },
        Case {
            name: "unknown key",
            id: "m-unknown",
            stage: Stage::Discover,
            status: Status::ManifestParse,
            needles: &["m-unknown/aisopod.plugin.toml:12", "unknown field `widgets`"],
            setup: |r, c| bad_manifest(r, c, edit(c, "hooks = [\"ping\"]", "hooks = [\"ping\"]\nwidgets = [\"x\"]")),
        },
        Case {
            name: "misspelt key",
            id: "m-typo",
            stage: Stage::Discover,
            status: Status::ManifestParse,
            needles: &["m-typo/aisopod.plugin.toml:6: unknown field `autor` in table [plugin]: did you mean `author`?"],
            setup: |r, c| bad_manifest(r, c, edit(c, "author = ", "autor = ")),
        },
        Case {
            name: "manifest_version below 1",
            id: "m-version-0",
            stage: Stage::Discover,
            status: Status::ManifestInvalid,
            needles: &["m-version-0/aisopod.plugin.toml:1: manifest_version = 0: must be 1 or more"],
            setup: |r, c| bad_manifest(r, c, format!("manifest_version = 0\n{}", manifest(c.id))),
        },
        Case {
            name: "[metadata] that is not a table",
            id: "m-metadata",
            stage: Stage::Discover,
            status: Status::ManifestParse,
            needles: &["m-metadata/aisopod.plugin.toml:1: [metadata] must be a table, not string"],
            setup: |r, c| bad_manifest(r, c, format!("metadata = \"x\"\n{}", manifest(c.id))),
        },
        Case {
            name: "license that is not an SPDX expression",
            id: "m-license",
            stage: Stage::Discover,
            status: Status::ManifestInvalid,
            needles: &["[plugin].license = \"MIT/Apache\"", "not an SPDX license expression"],
            setup: |r, c| bad_manifest(r, c, edit(c, "author = ", "license = \"MIT/Apache\"\nauthor = ")),
        },
        Case {
            name: "sha256 that is not a digest",
            id: "m-sha256",
            stage: Stage::Discover,
            status: Status::ManifestInvalid,
            needles: &["m-sha256/aisopod.plugin.toml:7", "[plugin].sha256 = \"abc\"", "not 64"],
            setup: |r, c| bad_manifest(r, c, edit(c, "entry_point = ", "sha256 = \"abc\"\nentry_point = ")),
        },
        Case {
            name: "duplicate key",
            id: "m-dup",
            stage: Stage::Discover,
            status: Status::ManifestParse,
            needles: &["m-dup/aisopod.plugin.toml:4: duplicate key `name` in table [plugin]"],
            setup: |r, c| bad_manifest(r, c, edit(c, "version = ", "name = \"Again\"\nversion = ")),
        },
        Case {
            name: "manifest over the size cap",
            id: "m-large",
            stage: Stage::Discover,
            status: Status::ManifestTooLarge,
            needles: &["m-large/aisopod.plugin.toml", "over the 65536-byte limit"],
            setup: |r, c| bad_manifest(r, c, format!("{}#{}\n", manifest(c.id), "x".repeat(64 * 1024))),
        },
        Case {
            name: "non-UTF-8 bytes",
            id: "m-utf8",
            stage: Stage::Discover,
            status: Status::InvalidUtf8,
            needles: &["m-utf8/aisopod.plugin.toml:3", "not valid UTF-8"],
            setup: |r, c| {
                let dir = write_plugin(&r.primary, c.id, "", c.id, None);
                let mut bytes = manifest(c.id).into_bytes();
                let at = bytes.iter().position(|&b| b == b'T').unwrap(); // inside the name, line 3
                bytes[at] = 0xFF;
                std::fs::write(dir.join("aisopod.plugin.toml"), bytes).unwrap();
            },
        },
        Case {
            name: "manifest is a directory",
            id: "m-dir",
            stage: Stage::Discover,
            status: Status::Io,
            needles: &["m-dir/aisopod.plugin.toml", "is a directory"],
            setup: |r, c| std::fs::create_dir_all(r.primary.join(c.id).join("aisopod.plugin.toml")).unwrap(),
        },
        Case {
            name: "manifest is a FIFO",
            id: "m-fifo",
            stage: Stage::Discover,
            status: Status::Io,
            needles: &["m-fifo/aisopod.plugin.toml: manifest is a FIFO, not a regular file"],
            setup: |r, c| {
                std::fs::create_dir_all(r.primary.join(c.id)).unwrap();
                make_fifo(&r.primary.join(c.id).join("aisopod.plugin.toml"));
            },
        },
        Case {
            name: "invalid capability name",
            id: "m-cap-name",
            stage: Stage::Discover,
            status: Status::ManifestInvalid,
            needles: &["[capabilities].tools", "\"two words\""],
            setup: |r, c| bad_manifest(r, c, edit(c, "tools = [\"echo\"]", "tools = [\"two words\"]")),
        },
        Case {
            name: "capability listed twice",
            id: "m-cap-twice",
            stage: Stage::Discover,
            status: Status::ManifestInvalid,
            needles: &["[capabilities].hooks", "listed twice"],
            setup: |r, c| bad_manifest(r, c, edit(c, "hooks = [\"ping\"]", "hooks = [\"ping\", \"ping\"]")),
        },
        Case {
            name: "field of the wrong type",
            id: "m-type",
            stage: Stage::Discover,
            status: Status::ManifestParse,
            needles: &["m-type/aisopod.plugin.toml:3", "invalid type"],
            setup: |r, c| bad_manifest(r, c, edit(c, "name = \"Test plugin m-type\"", "name = 42")),
        },
        // Library file problems.
        Case {
            name: "entry_point with a slash",
            id: "l-slash",
            stage: Stage::Discover,
            status: Status::ManifestInvalid,
            needles: &["[plugin].entry_point", "\"sub/lib\""],
            setup: |r, c| bad_manifest(r, c, edit(c, "entry_point = \"l-slash\"", "entry_point = \"sub/lib\"")),
        },
        Case {
            name: "entry_point with ..",
            id: "l-dotdot",
            stage: Stage::Discover,
            status: Status::ManifestInvalid,
            needles: &["[plugin].entry_point", "\"..evil\""],
            setup: |r, c| bad_manifest(r, c, edit(c, "entry_point = \"l-dotdot\"", "entry_point = \"..evil\"")),
        },
        Case {
            name: "blank entry_point",
            id: "l-blank",
            stage: Stage::Discover,
            status: Status::ManifestInvalid,
            needles: &["l-blank/aisopod.plugin.toml:7: [plugin].entry_point = \"   \": must not be blank"],
            setup: |r, c| bad_manifest(r, c, edit(c, "entry_point = \"l-blank\"", "entry_point = \"   \"")),
        },
        Case {
            name: "entry_point that is a file name",
            id: "l-file-name",
            stage: Stage::Discover,
            status: Status::ManifestInvalid,
            needles: &["[plugin].entry_point = \"libl-file-name.so.1\"", "the library stem: use \"l-file-name\""],
            setup: |r, c| {
                bad_manifest(r, c, edit(c, "entry_point = \"l-file-name\"", "entry_point = \"libl-file-name.so.1\""))
            },
        },
        Case {
            name: "library symlink escaping the plugin directory",
            id: "l-escape",
            stage: Stage::Load,
            status: Status::LibraryOutsidePluginDir,
            needles: &["'l-escape'", "outside the plugin directory"],
            setup: |r, c| {
                let outside = r.secondary.join("outside.so");
                std::fs::write(&outside, good_library_bytes()).unwrap();
                let dir = write_plugin(&r.primary, c.id, &manifest(c.id), c.id, None);
                std::os::unix::fs::symlink(&outside, dir.join(library_name(c.id))).unwrap();
            },
        },
        Case {
            name: "missing library",
            id: "l-missing",
            stage: Stage::Load,
            status: Status::LibraryNotFound,
            needles: &["'l-missing'", "libl-missing.so", "[plugin].entry_point"],
            setup: |r, c| bad_manifest(r, c, manifest(c.id)),
        },
        Case {
            name: "library is a FIFO",
            id: "l-fifo",
            stage: Stage::Load,
            status: Status::LibraryLoad,
            needles: &["'l-fifo'", "libl-fifo.so is not a regular file"],
            setup: |r, c| {
                let dir = write_plugin(&r.primary, c.id, &manifest(c.id), c.id, None);
                make_fifo(&dir.join(library_name(c.id)));
            },
        },
        Case {
            name: "library that does not match its sha256",
            id: "l-pin",
            stage: Stage::Load,
            status: Status::IntegrityMismatch,
            needles: &[
                "plugin 'l-pin'",
                "libl-pin.so does not match its pin",
                "l-pin/aisopod.plugin.toml is ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                "it was not opened",
            ],
            setup: |r, c| {
                let pinned = edit(c, "entry_point = ", &format!("sha256 = \"{ABC_SHA256}\"\nentry_point = "));
                write_plugin(&r.primary, c.id, &pinned, c.id, Some(&test_plugin_library(&["PLUGIN_ID=\"l-pin\""])));
            },
        },
        Case {
            name: "text file named .so",
            id: "l-text",
            stage: Stage::Load,
            status: Status::LibraryLoad,
            needles: &["'l-text'", "libl-text.so"],
            setup: |r, c| library_bytes(r, c, b"this is not a shared library\n"),
        },
        Case {
            name: "truncated ELF",
            id: "l-truncated",
            stage: Stage::Load,
            status: Status::LibraryLoad,
            needles: &["'l-truncated'", "libl-truncated.so"],
            setup: |r, c| library_bytes(r, c, &good_library_bytes()[..300]),
        },
        Case {
            name: "ELF for another architecture",
            id: "l-arch",
            stage: Stage::Load,
            status: Status::LibraryLoad,
            needles: &["'l-arch'", "libl-arch.so"],
            setup: |r, c| {
                let mut bytes = good_library_bytes();
                let machine: u16 = if cfg!(target_arch = "aarch64") { 62 } else { 183 }; // x86-64, or AArch64
                bytes[18..20].copy_from_slice(&machine.to_le_bytes());
                library_bytes(r, c, &bytes);
            },
        },
        Case {
            name: "system library that is not a plugin",
            id: "l-zlib",
            stage: Stage::Load,
            status: Status::MissingSymbol,
            needles: &["'l-zlib'", "does not export aisopod_plugin_abi_version"],
            setup: |r, c| {
                library_bytes(r, c, &std::fs::read(system_zlib().expect("libz.so.1 on this system")).unwrap())
            },
        },
        // Plugin behaviour problems.
        Case {
            name: "missing ABI symbol",
            id: "p-no-abi",
            stage: Stage::Load,
            status: Status::MissingSymbol,
            needles: &["'p-no-abi'", "aisopod_plugin_abi_version"],
            setup: |r, c| with_test_plugin(r, c, &["NO_ABI_SYMBOL"]),
        },
        Case {
            name: "missing create symbol",
            id: "p-no-create",
            stage: Stage::Load,
            status: Status::MissingSymbol,
            needles: &["'p-no-create'", "aisopod_plugin_create"],
            setup: |r, c| with_test_plugin(r, c, &["NO_CREATE_SYMBOL"]),
        },
        Case {
            name: "ABI mismatch",
            id: "p-abi",
            stage: Stage::Load,
            status: Status::AbiMismatch,
            needles: &["'p-abi'", "ABI version 7, expected 1"],
            setup: |r, c| with_test_plugin(r, c, &["ABI_VERSION=7"]),
        },
        Case {
            name: "create returns NULL",
            id: "p-null",
            stage: Stage::Load,
            status: Status::CreateFailed,
            needles: &["'p-null'", "aisopod_plugin_create returned NULL"],
            setup: |r, c| with_test_plugin(r, c, &["CREATE_NULL"]),
        },
        Case {
            name: "struct_size too small",
            id: "p-small",
            stage: Stage::Load,
            status: Status::InvalidPluginStruct,
            needles: &["'p-small'", "struct_size is 8"],
            setup: |r, c| with_test_plugin(r, c, &["SMALL_STRUCT"]),
        },
        Case {
            name: "NULL mandatory function pointer",
            id: "p-null-fn",
            stage: Stage::Load,
            status: Status::InvalidPluginStruct,
            needles: &["'p-null-fn'", "NULL in aisopod_plugin: shutdown"],
            setup: |r, c| with_test_plugin(r, c, &["NULL_SHUTDOWN"]),
        },
        Case {
            name: "id mismatch",
            id: "p-id",
            stage: Stage::Load,
            status: Status::IdMismatch,
            needles: &["'p-id'", "aisopod_plugin.id is 'impostor'"],
            setup: |r, c| {
                let library = test_plugin_library(&["PLUGIN_ID=\"impostor\""]);
                write_plugin(&r.primary, c.id, &manifest(c.id), c.id, Some(&library));
            },
        },
        Case {
            name: "registered but not declared",
            id: "p-undeclared",
            stage: Stage::Load,
            status: Status::CapabilityMismatch,
            needles: &["'p-undeclared'", "registered command 'extra'", "[capabilities].commands"],
            setup: |r, c| with_test_plugin(r, c, &["REGISTER_EXTRA"]),
        },
        Case {
            name: "declared but not registered",
            id: "p-unregistered",
            stage: Stage::Load,
            status: Status::CapabilityMismatch,
            needles: &["'p-unregistered'", "declares hook 'ping'", "never registered"],
            setup: |r, c| with_test_plugin(r, c, &["SKIP_HOOK"]),
        },
        Case {
            name: "capability registered twice",
            id: "p-twice",
            stage: Stage::Load,
            status: Status::RegistrationFailed,
            needles: &["'p-twice'", "tool 'echo' registered twice"],
            setup: |r, c| with_test_plugin(r, c, &["REGISTER_TWICE"]),
        },
        Case {
            name: "init fails",
            id: "p-init",
            stage: Stage::Init,
            status: Status::InitFailed,
            needles: &["'p-init'", "init returned 3"],
            setup: |r, c| with_test_plugin(r, c, &[]),
        },
        Case {
            name: "handler returns an error",
            id: "p-handler",
            stage: Stage::Invoke("echo", b"fail"),
            status: Status::PluginError,
            needles: &["'p-handler'", "tool 'echo' failed with code 7"],
            setup: |r, c| with_test_plugin(r, c, &[]),
        },
        Case {
            name: "Rust plugin panics in a handler",
            id: "rust_panic",
            stage: Stage::Invoke("boom", b"x"),
            status: Status::PluginError,
            needles: &["'rust_panic'", "tool 'boom'", "the plugin panicked"],
            setup: |r, c| {
                let library = build_rust_plugin("tests/plugins/rust_panic", "rust_panic");
                let text = "[plugin]\nid = \"rust_panic\"\nname = \"Panics\"\nversion = \"0.1.0\"\nentry_point = \"rust_panic\"\n\
                            unload = false\n\n[capabilities]\ntools = [\"boom\", \"echo\"]\n";
                write_plugin(&r.primary, c.id, text, c.id, Some(&library));
            },
        },
        // Host and search-path problems.
        Case {
            name: "host version too old",
            id: "v-old",
            stage: Stage::Load,
            status: Status::VersionIncompatible,
            needles: &["'v-old'", ">= 1.6.0", "min_host_version"],
            setup: |r, c| bad_manifest(r, c, edit(c, "min_host_version = \"1.0.0\"", "min_host_version = \"1.6.0\"")),
        },
        Case {
            name: "host version too new",
            id: "v-new",
            stage: Stage::Load,
            status: Status::VersionIncompatible,
            needles: &["'v-new'", "<= 1.4.0", "max_host_version"],
            setup: |r, c| bad_manifest(r, c, edit(c, "max_host_version = \"1.9.0\"", "max_host_version = \"1.4.0\"")),
        },
        Case {
            name: "duplicate id across search paths",
            id: "good",
            stage: Stage::Discover,
            status: Status::DuplicateId,
            needles: &["plugin id 'good' is already provided by", "earlier in the search path"],
            setup: |r, _| {
                add_test_plugin(&r.secondary, "good", &[]);
            },
        },
        Case {
            name: "unreadable manifest (mode 000)",
            id: "m-unreadable",
            stage: Stage::Discover,
            status: Status::Io,
            needles: &["m-unreadable/aisopod.plugin.toml", "Permission denied"],
            setup: |r, c| {
                use std::os::unix::fs::PermissionsExt;
                let dir = write_plugin(&r.primary, c.id, &manifest(c.id), c.id, None);
                std::fs::set_permissions(dir.join("aisopod.plugin.toml"), std::fs::Permissions::from_mode(0o000))
                    .unwrap();
            },
        },
    ]
}

fn reset(dir: &Path) {
    if dir.exists() {
        std::fs::remove_dir_all(dir).unwrap();
    }
    std::fs::create_dir_all(dir).unwrap();
}

/// Runs one case to its failing stage and returns the failure's status and message.
fn run_case(loader: &Loader, case: &Case) -> (Status, String) {
    let found = loader.discover();
    let discovery = loader.discovery();
    if let Stage::Discover = case.stage {
        let diagnostic = discovery
            .diagnostics()
            .iter()
            .find(|d| {
                d.path.to_string_lossy().contains(&format!("/{}/", case.id)) || case.status == Status::DuplicateId
            })
            .unwrap_or_else(|| panic!("{}: no diagnostic among {:?}", case.name, discovery.diagnostics()));
        return (diagnostic.status, diagnostic.message.clone());
    }
    assert!(
        discovery.find(case.id).is_some(),
        "{}: not discovered ({found} found): {:?}",
        case.name,
        discovery.diagnostics()
    );
    let failure = match case.stage {
        Stage::Load => loader.load(case.id).err(),
        Stage::Init => {
            loader.load(case.id).unwrap();
            loader.init(case.id, "fail", Path::new("")).err()
        }
        Stage::Invoke(tool, input) => {
            loader.load(case.id).unwrap();
            loader.init(case.id, "", Path::new("")).unwrap();
            loader.invoke_to_vec(case.id, CapabilityKind::Tool, tool, input).err()
        }
        Stage::Discover => unreachable!(),
    };
    let failure = failure.unwrap_or_else(|| panic!("{}: the step succeeded", case.name));
    if loader.plugin_state(case.id).is_some() {
        loader.unload(case.id).unwrap();
    }
    (failure.status(), failure.message().to_owned())
}

/// The good plugin still works: discover, load, init, invoke, unload; in a helper process when the loader
/// isolates plugins.
fn good_plugin_still_works(loader: &Loader, after: &str) {
    loader.discover();
    loader.load("good").unwrap_or_else(|e| panic!("after {after}: {e}"));
    let isolated = loader.isolation_of("good") == Isolation::Process;
    assert_eq!(loader.plugin_pid("good").is_some(), isolated, "after {after}");
    loader.init("good", "", Path::new("")).unwrap();
    assert_eq!(
        loader.invoke_to_vec("good", CapabilityKind::Tool, "echo", b"alive").unwrap(),
        b"alive",
        "after {after}"
    );
    loader.unload("good").unwrap();
}

#[test]
fn every_bad_input_gets_its_status_and_a_message_naming_the_culprit() {
    run_corpus("corpus", Isolation::None);
}

/// The same corpus with every plugin in a helper process of its own: the same statuses, and messages that
/// name the same culprits.
#[test]
fn the_corpus_gives_the_same_statuses_with_plugins_isolated() {
    run_corpus("corpus-isolated", Isolation::Process);
}

fn run_corpus(name: &str, isolation: Isolation) {
    let roots = Roots { primary: temp_dir(name), secondary: temp_dir(&format!("{name}-second")) };
    let loader = Arc::new(isolated_loader("1.5.0", &[&roots.primary, &roots.secondary]));
    loader.set_isolation(None, Some(isolation));

    let mut ran = 0;
    let mut skipped = Vec::new();
    for case in cases() {
        if case.id == "m-unreadable" && running_as_root() {
            // Root reads a mode-000 file anyway; `unreadable_manifest_is_a_diagnostic` runs it as uid 65534.
            skipped.push(case.name);
            continue;
        }
        if case.id == "l-zlib" && system_zlib().is_none() {
            skipped.push(case.name);
            continue;
        }
        reset(&roots.primary);
        reset(&roots.secondary);
        add_test_plugin(&roots.primary, "good", &[]);
        (case.setup)(&roots, &case);

        // Under a time limit: a case that blocks (on a FIFO, say) fails instead of hanging the run.
        let (running, case_copy) = (loader.clone(), case.clone());
        let (status, message) = within_10_seconds(case.name, move || run_case(&running, &case_copy));
        assert_eq!(status, case.status, "{}: {message}", case.name);
        for needle in case.needles {
            assert!(message.contains(needle), "{}: message lacks {needle:?}: {message}", case.name);
        }
        good_plugin_still_works(&loader, case.name);
        ran += 1;
    }
    eprintln!("corpus: {ran} cases ran; skipped: {skipped:?}");
    assert!(ran >= 30, "only {ran} cases ran");
}

const UNREADABLE_ROOT_VAR: &str = "AISOPOD_TEST_UNREADABLE_ROOT";

fn check_unreadable(root: &Path) {
    let loader = isolated_loader("1.5.0", &[root]);
    assert_eq!(loader.discover(), 1);
    let discovery = loader.discovery();
    let [diagnostic] = discovery.diagnostics() else { panic!("{:?}", discovery.diagnostics()) };
    assert_eq!(diagnostic.status, Status::Io, "{diagnostic:?}");
    assert!(diagnostic.message.contains("m-unreadable/aisopod.plugin.toml"), "{diagnostic:?}");
    assert!(diagnostic.message.contains("Permission denied"), "{diagnostic:?}");
    good_plugin_still_works(&loader, "an unreadable manifest");
}

/// The mode-000 case of the corpus. Root reads such files anyway, so as root the check runs in a child
/// process of this test binary under the unprivileged uid 65534 (with `setpriv`, from util-linux).
#[test]
fn unreadable_manifest_is_a_diagnostic() {
    if let Some(root) = std::env::var_os(UNREADABLE_ROOT_VAR) {
        return check_unreadable(Path::new(&root));
    }
    use std::os::unix::fs::PermissionsExt;
    let root = temp_dir("unreadable");
    add_test_plugin(&root, "good", &[]);
    let dir = write_plugin(&root, "m-unreadable", &manifest("m-unreadable"), "m-unreadable", None);
    std::fs::set_permissions(dir.join("aisopod.plugin.toml"), std::fs::Permissions::from_mode(0o000)).unwrap();
    if !running_as_root() {
        return check_unreadable(&root);
    }
    let child = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "unreadable_manifest_is_a_diagnostic", "--nocapture"])
        .env(UNREADABLE_ROOT_VAR, &root)
        .output();
    match child {
        Ok(out) => assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "as uid 65534:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => eprintln!("skipped: running as root and setpriv is unavailable ({e})"),
    }
}

fn build_corpus_host(out: &Path, sanitize: bool) -> PathBuf {
    let (name, flags): (&str, &[&str]) = if sanitize {
        ("corpus_host_asan", &["-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer"])
    } else {
        ("corpus_host", &["-g"])
    };
    build_c_host("tests/corpus_host.c", &out.join(name), flags)
}

/// Runs a C host to completion, killing it and failing if it runs past `limit`: a host that blocks for good
/// (on a FIFO, say) fails its test instead of hanging the run.
fn run_host(command: &mut std::process::Command, limit: std::time::Duration) -> std::process::Output {
    use std::io::Read as _;
    use std::process::Stdio;
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Drained on threads of their own, so that a chatty host never blocks on a full pipe.
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).unwrap();
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not finish within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    std::process::Output { status, stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() }
}

/// Every corpus case at once, in one tree (plus the secondary search path).
fn whole_corpus() -> Roots {
    let roots = Roots { primary: temp_dir("corpus-all"), secondary: temp_dir("corpus-all-second") };
    add_test_plugin(&roots.primary, "good", &[]);
    for case in cases() {
        if case.id == "l-zlib" && system_zlib().is_none() {
            continue;
        }
        (case.setup)(&roots, &case);
    }
    roots
}

/// The C corpus host over the whole corpus under valgrind's memcheck: no error, nothing definitely lost.
#[test]
fn corpus_under_valgrind() {
    if std::process::Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("skipped: valgrind is not installed");
        return;
    }
    let roots = whole_corpus();
    let host = build_corpus_host(&temp_dir("corpus-valgrind"), false);
    let out = run_host(
        std::process::Command::new("valgrind")
            .args(["--leak-check=full", "--errors-for-leak-kinds=definite", "--error-exitcode=99"])
            .arg(&host)
            .arg(&roots.primary)
            .arg(&roots.secondary),
        std::time::Duration::from_secs(300),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            [
                "ERROR SUMMARY",
                "definitely lost",
                "indirectly lost",
                "possibly lost",
                "still reachable",
                "All heap blocks",
            ]
            .iter()
            .any(|k| l.contains(k))
        })
        .collect();
    eprintln!("{}\n{}", stdout.lines().last().unwrap_or(""), summary.join("\n"));
    assert!(out.status.success(), "valgrind found problems (exit {:?}):\n{stdout}\n{stderr}", out.status.code());
    assert!(stdout.contains("0 loader faults"), "{stdout}");
    assert!(stderr.contains("ERROR SUMMARY: 0 errors"), "{stderr}");
}

/// The same run with the host built with `-fsanitize=address,undefined`.
#[test]
fn corpus_under_address_and_undefined_sanitizers() {
    let roots = whole_corpus();
    let host = build_corpus_host(&temp_dir("corpus-asan"), true);
    let out = run_host(
        std::process::Command::new(&host)
            .arg(&roots.primary)
            .arg(&roots.secondary)
            .env("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1")
            .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1"),
        std::time::Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{}", stdout.lines().last().unwrap_or(""));
    assert!(out.status.success(), "sanitizers found problems (exit {:?}):\n{stdout}\n{stderr}", out.status.code());
    assert!(!stderr.contains("ERROR: AddressSanitizer") && !stderr.contains("runtime error:"), "{stderr}");
    assert!(stdout.contains("0 loader faults"), "{stdout}");
}

/// A C host discovering a plugin directory whose manifest is a FIFO: the call returns promptly with the
/// other plugin found and a diagnostic naming the file and what it is.
#[test]
fn c_host_reports_a_fifo_manifest_without_blocking() {
    let root = temp_dir("corpus-fifo");
    add_test_plugin(&root, "good", &[]);
    std::fs::create_dir_all(root.join("m-fifo")).unwrap();
    let fifo = root.join("m-fifo/aisopod.plugin.toml");
    make_fifo(&fifo);
    let host = build_corpus_host(&temp_dir("corpus-fifo-host"), false);
    let out = run_host(std::process::Command::new(&host).arg(&root), std::time::Duration::from_secs(10));
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(out.status.success(), "exit {:?}:\n{stdout}\n{}", out.status.code(), String::from_utf8_lossy(&out.stderr));
    let diagnostic = format!(
        "diagnostic a file or directory could not be read: {}: manifest is a FIFO, not a regular file",
        fifo.display()
    );
    assert!(stdout.lines().any(|line| line == diagnostic), "no line {diagnostic:?} in:\n{stdout}");
    assert!(stdout.contains("corpus host: 1 plugins, 1 diagnostics, 1 loaded"), "{stdout}");
}
