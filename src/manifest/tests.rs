//! Unit tests of parsing and validation, and of the fast reader against the full parser.
use std::path::Path;

use semver::Version;

use super::schema::RawManifest;
use super::{fast, CapabilityKind, Manifest};
use crate::error::{Error, Result, Status};

const GOOD: &str = r#"
[plugin]
id = "hello"
name = "Hello"
version = "1.2.3"
description = "Says hello"
author = "A. Author"
entry_point = "hello"

[capabilities]
tools = ["greet"]
hooks = ["on_start"]

[compatibility]
min_host_version = "0.1.0"
max_host_version = "2.0.0"
"#;

fn parse(text: &str) -> Result<Manifest> {
    Manifest::parse_str(text, Path::new("/p/aisopod.plugin.toml"))
}

fn error(text: &str) -> Error {
    parse(text).expect_err("manifest should be refused")
}

#[test]
fn good_manifest_parses() {
    let m = parse(GOOD).unwrap();
    assert_eq!(m.id, "hello");
    assert_eq!(m.version, Version::new(1, 2, 3));
    assert_eq!(m.declared(CapabilityKind::Tool), ["greet"]);
    assert_eq!(m.declared(CapabilityKind::Hook), ["on_start"]);
    assert!(m.declared(CapabilityKind::Channel).is_empty());
    assert!(m.thread_safe && m.unload);
    assert_eq!(m.library_file_name(), format!("{}hello{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX));
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let e = error(&GOOD.replace("author =", "colour = \"red\"\nauthor ="));
    assert_eq!(e.status(), Status::ManifestParse);
    assert!(e.message().contains("colour"), "{e}");
    assert!(e.message().starts_with("/p/aisopod.plugin.toml:7:"), "{e}");
}

#[test]
fn missing_field_is_named() {
    let e = error(&GOOD.replace("name = \"Hello\"\n", ""));
    assert_eq!(e.status(), Status::ManifestParse);
    assert!(e.message().contains("`name`"), "{e}");
}

#[test]
fn invalid_values_name_field_and_line() {
    let cases = [
        ("id = \"hello\"", "id = \"\"", "[plugin].id"),
        ("id = \"hello\"", "id = \"Hello World\"", "[plugin].id"),
        ("id = \"hello\"", &format!("id = \"{}\"", "a".repeat(65)), "[plugin].id"),
        ("version = \"1.2.3\"", "version = \"1.2\"", "[plugin].version"),
        ("entry_point = \"hello\"", "entry_point = \"../evil\"", "[plugin].entry_point"),
        ("entry_point = \"hello\"", "entry_point = \"a/b\"", "[plugin].entry_point"),
        ("min_host_version = \"0.1.0\"", "min_host_version = \">=0.1\"", "[compatibility].min_host_version"),
        ("max_host_version = \"2.0.0\"", "max_host_version = \"0.0.1\"", "[compatibility].max_host_version"),
        ("tools = [\"greet\"]", "tools = [\"greet\", \"greet\"]", "[capabilities].tools"),
        ("hooks = [\"on_start\"]", "hooks = [\"bad name\"]", "[capabilities].hooks"),
        ("author = \"A. Author\"", "author = \"A\\u0000B\"", "[plugin].author"),
    ];
    for (from, to, field) in cases {
        let text = GOOD.replace(from, to);
        let line = 1 + text[..text.find(to).unwrap()].matches('\n').count();
        let e = error(&text);
        assert_eq!(e.status(), Status::ManifestInvalid, "{to}: {e}");
        assert!(e.message().contains(field), "{to}: {e}");
        assert!(e.message().starts_with(&format!("/p/aisopod.plugin.toml:{line}: ")), "{to}: {e}");
    }
}

#[test]
fn id_of_exactly_64_bytes_is_accepted() {
    let id = format!("a{}", "-".repeat(63));
    assert_eq!(parse(&GOOD.replace("id = \"hello\"", &format!("id = \"{id}\""))).unwrap().id, id);
}

#[test]
fn non_utf8_is_refused_with_offset() {
    let mut bytes = GOOD.as_bytes().to_vec();
    bytes.extend_from_slice(b"# \xff\n");
    let e = Manifest::parse_bytes(&bytes, Path::new("m.toml")).unwrap_err();
    assert_eq!(e.status(), Status::InvalidUtf8);
    assert!(e.message().contains("offset"), "{e}");
}

#[test]
fn host_range_is_inclusive() {
    let m = parse(GOOD).unwrap();
    let path = Path::new("m.toml");
    assert!(m.check_host_version(&Version::new(0, 1, 0), path).is_ok());
    assert!(m.check_host_version(&Version::new(2, 0, 0), path).is_ok());
    let old = m.check_host_version(&Version::new(0, 0, 9), path).unwrap_err();
    assert_eq!(old.status(), Status::VersionIncompatible);
    assert!(old.message().contains("min_host_version") && old.message().contains("'hello'"), "{old}");
    let new = m.check_host_version(&Version::new(2, 0, 1), path).unwrap_err();
    assert!(new.message().contains("max_host_version"), "{new}");
}

/// The fast reader either declines or agrees exactly (values and spans) with the full parser.
#[test]
fn fast_reader_agrees_with_the_full_parser() {
    let cases = [
        GOOD.to_string(),
        GOOD.replace('\n', "\r\n"),
        GOOD.replace("tools = [\"greet\"]", "tools = [\n  \"greet\", # the one tool\n  'b',\n]"),
        GOOD.replace("author = \"A. Author\"", "author = 'lit\\eral'   # comment"),
        GOOD.replace("[compatibility]", "[compatibility] # trailing comment"),
        GOOD.replace("entry_point = \"hello\"", "entry_point = \"hello\"\nthread_safe = false\nunload = true"),
        GOOD.replace("entry_point = \"hello\"", "entry_point = \"hello\"\nisolation = \"process\""),
        GOOD.replace("author = \"A. Author\"", "author = \"\""),
        GOOD.replace("tools = [\"greet\"]", "tools = []"),
        GOOD.replace("author = \"A. Author\"", "author = \"esc\\\"aped\""),
        GOOD.replace("author = \"A. Author\"", "author = \"\"\"multi\"\"\""),
        GOOD.replace("[plugin]", "[ plugin ]"),
        GOOD.replace("id = \"hello\"", "\"id\" = \"hello\""),
        GOOD.replace("id = \"hello\"", "id = \"hello\"\nid = \"again\""),
        GOOD.replace("author = ", "colour = \"red\"\nauthor = "),
        GOOD.replace("name = \"Hello\"\n", ""),
        GOOD.replace("entry_point = \"hello\"", "entry_point = \"hello\"\nunload = 1"),
        GOOD.replace("tools = [\"greet\"]", "tools = [\"greet\",,]"),
        GOOD.replace("tools = [\"greet\"]", "tools = [\"greet\"] # x\r"),
        format!("{GOOD}\n[capabilities]\n"),
        "[plugin]\r".to_string(),
        String::new(),
    ];
    let mut accepted = 0;
    for text in &cases {
        let full: std::result::Result<RawManifest, _> = toml::from_str(text);
        if let Some(fast) = fast::read(text) {
            accepted += 1;
            assert_eq!(Some(fast), full.ok(), "the fast reader disagrees on:\n{text}");
        }
    }
    assert!(accepted >= 8, "the fast reader took only {accepted} cases");
}

/// A duplicate key is named with its table, and both readers agree on the status and the line.
#[test]
fn duplicate_keys_name_the_key_and_its_table() {
    let cases = [
        (GOOD.replace("name = \"Hello\"", "name = \"Hello\"\nname = \"Again\""), 5, "`name` in table [plugin]"),
        (GOOD.replace("hooks = ", "\"tools\" = []\nhooks = "), 12, "`tools` in table [capabilities]"),
        (format!("{GOOD}[plugin]\n"), 17, "`plugin`: table [plugin] is defined twice"),
        (GOOD.replace("[capabilities]", "[capabilities]\ntools.x = 1"), 12, "`tools` in table [capabilities]"),
        ("plugin.id = \"a\"\nplugin.id = \"b\"\n".to_string(), 2, "`id` in table [plugin]"),
        ("x = 1\n'x' = 2\n".to_string(), 2, "`x` at the top level"),
        ("[a.\"b c\"]\nd = { e = 1, e = 2 }\n".to_string(), 2, "`e` in table [a.\"b c\".d]"),
    ];
    for (text, line, why) in cases {
        let full = Manifest::parse_str_with_full_parser(&text, Path::new("/p/aisopod.plugin.toml"));
        assert_eq!(parse(&text), full, "the readers disagree on:\n{text}");
        let e = error(&text);
        assert_eq!(e.status(), Status::ManifestParse, "{e}");
        assert_eq!(e.message(), format!("/p/aisopod.plugin.toml:{line}: duplicate key {why}"), "{text}");
    }
}

#[test]
fn a_duplicate_key_written_two_ways_is_named_decoded() {
    let text = GOOD.replace("name = \"Hello\"", "name = \"Hello\"\n\"na\\u006De\" = \"Again\"");
    let e = error(&text);
    assert_eq!(e.message(), "/p/aisopod.plugin.toml:5: duplicate key `name` in table [plugin]");
}

#[test]
fn blank_entry_points_are_refused() {
    for (value, why) in [
        ("   ", "must not be blank"),
        ("\t", "must not be blank"),
        (" hello", "must not begin or end with whitespace"),
        ("hello ", "must not begin or end with whitespace"),
    ] {
        let text = GOOD.replace("entry_point = \"hello\"", &format!("entry_point = \"{value}\""));
        let e = error(&text);
        assert_eq!(e.status(), Status::ManifestInvalid, "{e}");
        assert_eq!(e.message(), format!("/p/aisopod.plugin.toml:8: [plugin].entry_point = {value:?}: {why}"));
    }
}

#[test]
fn entry_points_that_are_file_names_get_the_stem_as_a_hint() {
    for (value, stem) in [
        ("libfoo.so", "foo"),
        ("foo.so", "foo"),
        ("foo.dll", "foo"),
        ("libfoo.dll", "libfoo"),
        ("foo.dylib", "foo"),
        ("libfoo.dylib", "foo"),
        ("libfoo.so.1", "foo"),
        ("libfoo.so.1.2.3", "foo"),
        ("Foo.DLL", "Foo"),
        ("libFoo.SO.2", "Foo"),
        ("lib.so", "lib"),
        (".so", ""),
    ] {
        let text = GOOD.replace("entry_point = \"hello\"", &format!("entry_point = \"{value}\""));
        let e = error(&text);
        assert_eq!(e.status(), Status::ManifestInvalid, "{e}");
        let hint = format!(
            "[plugin].entry_point = {value:?}: is a file name, but entry_point is the library stem: use {stem:?}"
        );
        assert_eq!(e.message(), format!("/p/aisopod.plugin.toml:8: {hint}"));
    }
    for stem in ["foo", "libfoo", "foo.so.x", "foo-so", "foo.soap", "my.plugin", "a b"] {
        let text = GOOD.replace("entry_point = \"hello\"", &format!("entry_point = \"{stem}\""));
        assert_eq!(parse(&text).unwrap().entry_point, stem);
    }
}

/// Parses with both readers, which must agree.
fn both(text: &str) -> Result<Manifest> {
    let path = Path::new("/p/aisopod.plugin.toml");
    let result = Manifest::parse_str(text, path);
    assert_eq!(result, Manifest::parse_str_with_full_parser(text, path), "the readers disagree on:\n{text}");
    result
}

#[test]
fn license_homepage_and_repository_are_kept() {
    let text = GOOD.replace(
        "author = \"A. Author\"",
        "author = \"A. Author\"\nlicense = \"MIT OR Apache-2.0\"\nhomepage = 'https://example.org/hello'\n\
         repository = \"git+https://example.org/hello.git\"",
    );
    let m = both(&text).unwrap();
    assert!(fast::read(&text).is_some(), "the fast reader declined the metadata fields");
    assert_eq!(m.license.as_deref(), Some("MIT OR Apache-2.0"));
    assert_eq!(m.homepage.as_deref(), Some("https://example.org/hello"));
    assert_eq!(m.repository.as_deref(), Some("git+https://example.org/hello.git"));
    let m = both(GOOD).unwrap();
    assert_eq!((m.license, m.homepage, m.repository), (None, None, None));
}

#[test]
fn bad_license_and_urls_name_the_field() {
    for (line, why) in [
        ("license = \"MIT or Apache-2.0\"", "[plugin].license = \"MIT or Apache-2.0\": is not an SPDX license expression: expected AND, OR or WITH before `or` (operators are upper case)"),
        ("license = \"\"", "[plugin].license = \"\": is not an SPDX license expression: it is empty"),
        ("homepage = \"example.org\"", "[plugin].homepage = \"example.org\": must be an absolute URL, such as \"https://example.org/plugin\""),
        ("repository = \"https://example.org/a b\"", "[plugin].repository = \"https://example.org/a b\": must not contain whitespace or control characters"),
    ] {
        let e = both(&GOOD.replace("author = \"A. Author\"", line)).unwrap_err();
        assert_eq!(e.status(), Status::ManifestInvalid, "{e}");
        assert_eq!(e.message(), format!("/p/aisopod.plugin.toml:7: {why}"));
    }
}

#[test]
fn permissions_are_paths_and_two_switches() {
    use crate::permissions::Permissions;
    assert_eq!(both(GOOD).unwrap().permissions, None);
    let text =
        format!("{GOOD}\n[permissions]\nread = [\"data\", \"/etc/app\"]\nwrite = [\"/tmp/app\"]\nsubprocess = true\n");
    let m = both(&text).unwrap();
    let expected = Permissions {
        read: vec!["data".into(), "/etc/app".into()],
        write: vec!["/tmp/app".into()],
        network: false,
        subprocess: true,
    };
    assert_eq!(m.permissions.as_deref(), Some(&expected));
    let e = both(&format!("{GOOD}\n[permissions]\nread = [\"../up\"]\n")).unwrap_err();
    assert_eq!(e.status(), Status::ManifestInvalid, "{e}");
    assert!(e.message().ends_with("[permissions].read = \"../up\": must not contain a `..` component"), "{e}");
    let e = both(&format!("{GOOD}\n[permissions]\nnetwork = \"yes\"\n")).unwrap_err();
    assert_eq!(e.status(), Status::ManifestParse, "{e}");
}

#[test]
fn isolation_is_none_or_process() {
    use crate::manifest::Isolation;
    assert_eq!(both(GOOD).unwrap().isolation, None);
    for (value, isolation) in [("none", Isolation::None), ("process", Isolation::Process)] {
        let m = both(&GOOD.replace("author = \"A. Author\"", &format!("isolation = \"{value}\""))).unwrap();
        assert_eq!(m.isolation, Some(isolation));
    }
    let e = both(&GOOD.replace("author = \"A. Author\"", "isolation = \"thread\"")).unwrap_err();
    assert_eq!(e.status(), Status::ManifestInvalid, "{e}");
    assert_eq!(
        e.message(),
        "/p/aisopod.plugin.toml:7: [plugin].isolation = \"thread\": must be \"none\" or \"process\""
    );
}

#[test]
fn metadata_tables_and_x_keys_are_accepted_and_ignored() {
    let text = format!(
        "x-generator = \"tool 1.0\"\n{}\n[metadata]\ncategory = \"greeting\"\nnested = {{ any = [1, 2.5, true] }}\n\
         [metadata.more]\nx = 1\n[x-vendor]\nsetting = 3\n",
        GOOD.replace("author = \"A. Author\"", "author = \"A. Author\"\nx-icon = \"hello.png\"")
            .replace("tools = [\"greet\"]", "tools = [\"greet\"]\nx-widgets = [\"w\"]")
            .replace("max_host_version = \"2.0.0\"", "max_host_version = \"2.0.0\"\nx-tested-with = \"1.4.0\"")
    );
    let m = both(&text).unwrap();
    assert_eq!(m, both(GOOD).unwrap());
    assert!(m.warnings.is_empty());
    let e = both(&format!("metadata = 1\n{GOOD}")).unwrap_err();
    assert_eq!(e.status(), Status::ManifestParse);
    assert_eq!(e.message(), "/p/aisopod.plugin.toml:1: [metadata] must be a table, not integer");
}

#[test]
fn unknown_keys_are_refused_with_a_suggestion_or_the_known_keys() {
    let cases = [
        (GOOD.replace("version = ", "verison = "), 5, "unknown field `verison` in table [plugin]: did you mean `version`?"),
        (GOOD.replace("[plugin]", "[plugins]"), 2, "unknown table [plugins]: did you mean [plugin]?"),
        (format!("manifest-version = 1\n{GOOD}"), 1, "unknown key `manifest-version` at the top level: did you mean `manifest_version`?"),
        (
            GOOD.replace("hooks = ", "widgets = []\nhooks = "),
            12,
            "unknown field `widgets` in table [capabilities] (known: `tools`, `commands`, `channels`, `providers`, `hooks`; keys starting with `x-` are ignored)",
        ),
        (
            format!("{GOOD}[extras]\n"),
            17,
            "unknown table [extras] (known: `manifest_version`, [plugin], [capabilities], [compatibility], [permissions], [dependencies], [metadata]; keys starting with `x-` are ignored)",
        ),
    ];
    for (text, line, why) in cases {
        let e = both(&text).unwrap_err();
        assert_eq!(e.status(), Status::ManifestParse, "{e}");
        assert_eq!(e.message(), format!("/p/aisopod.plugin.toml:{line}: {why}"));
    }
}

#[test]
fn manifest_version_defaults_to_1_and_must_be_1_or_more() {
    assert_eq!(both(&format!("manifest_version = 1\n{GOOD}")).unwrap(), both(GOOD).unwrap());
    assert!(fast::read(&format!("manifest_version = 1\n{GOOD}")).is_some());
    let e = both(&format!("manifest_version = 0\n{GOOD}")).unwrap_err();
    assert_eq!(e.status(), Status::ManifestInvalid);
    assert_eq!(e.message(), "/p/aisopod.plugin.toml:1: manifest_version = 0: must be 1 or more");
    let e = both(&format!("manifest_version = \"1\"\n{GOOD}")).unwrap_err();
    assert_eq!(e.status(), Status::ManifestParse);
    assert!(e.message().starts_with("/p/aisopod.plugin.toml:1: invalid type: string \"1\""), "{e}");
}

/// A manifest newer than this loader reads: what the loader does not know is ignored with a warning naming the
/// line and both versions; what it knows is still checked, and a refusal names both versions too.
#[test]
fn newer_manifests_are_read_with_unknown_keys_ignored() {
    let newer = format!(
        "manifest_version = 3\n{}[quotas]\ncpu = 1\n",
        GOOD.replace("author = ", "sandbox = \"strict\"\nauthor = ").replace("hooks = ", "widgets = [\"w\"]\nhooks = ")
    );
    let m = both(&newer).unwrap();
    let note = "(manifest_version 3 is newer than 1, the newest this loader reads)";
    assert_eq!(
        m.warnings,
        [
            format!("/p/aisopod.plugin.toml:8: ignored unknown field `sandbox` in table [plugin] {note}"),
            format!("/p/aisopod.plugin.toml:14: ignored unknown field `widgets` in table [capabilities] {note}"),
            format!("/p/aisopod.plugin.toml:20: ignored unknown table [quotas] {note}"),
        ]
    );
    assert_eq!(Manifest { warnings: Vec::new(), ..m }, both(GOOD).unwrap());

    let e = both(&newer.replace("version = \"1.2.3\"", "version = \"1.2\"")).unwrap_err();
    assert_eq!(e.status(), Status::ManifestInvalid);
    assert!(e.message().starts_with("/p/aisopod.plugin.toml:6: [plugin].version = \"1.2\": "), "{e}");
    assert!(e.message().ends_with(note), "{e}");
    let e = both(&newer.replace("name = \"Hello\"", "name = { first = \"Hello\" }")).unwrap_err();
    assert_eq!(e.status(), Status::ManifestParse);
    assert!(e.message().starts_with("/p/aisopod.plugin.toml:5: invalid type: "), "{e}");
    assert!(e.message().ends_with(note), "{e}");
}

#[test]
fn a_table_defined_by_dotted_keys_then_a_header_is_named() {
    let e = both("plugin.id = \"a\"\n[plugin]\nname = \"A\"\n").unwrap_err();
    assert_eq!(e.message(), "/p/aisopod.plugin.toml:2: duplicate key `plugin`: table [plugin] is defined twice");
}

#[test]
fn sha256_is_64_hex_digits_kept_as_a_digest() {
    use crate::integrity::Sha256Digest;
    assert_eq!(both(GOOD).unwrap().sha256, None);
    let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    for written in [format!("sha256 = \"{abc}\""), format!("sha256 = '{}'", abc.to_uppercase())] {
        let text = GOOD.replace("author = \"A. Author\"", &written);
        assert!(fast::read(&text).is_some(), "the fast reader declined {written}");
        assert_eq!(both(&text).unwrap().sha256.as_deref(), Some(&Sha256Digest::of(b"abc")));
    }
    let hint = "it must be the library's SHA-256 digest, as sha256sum prints it";
    let short = &abc[..63];
    let cases = [
        (format!("\"{short}\""), format!("\"{short}\": is 63 hexadecimal digits long, not 64: {hint}")),
        (
            format!("\"sha256:{abc}\""),
            format!("\"sha256:{abc}\": has 's' at byte 0, which is not a hexadecimal digit: {hint}"),
        ),
        (format!("\"{abc} \""), format!("\"{abc} \": has ' ' at byte 64, which is not a hexadecimal digit: {hint}")),
        ("\"\"".to_owned(), format!("\"\": is 0 hexadecimal digits long, not 64: {hint}")),
    ];
    for (value, why) in cases {
        let e = both(&GOOD.replace("author = \"A. Author\"", &format!("sha256 = {value}"))).unwrap_err();
        assert_eq!(e.status(), Status::ManifestInvalid, "{e}");
        assert_eq!(e.message(), format!("/p/aisopod.plugin.toml:7: [plugin].sha256 = {why}"));
    }
    let e = both(&GOOD.replace("author = \"A. Author\"", "sha256 = 12")).unwrap_err();
    assert_eq!(e.status(), Status::ManifestParse, "{e}");
}

#[test]
fn dependencies_take_a_requirement_alone_or_in_a_table() {
    let m = parse(&format!(
        "{GOOD}\n[dependencies]\nbase = \"1.2\"\n\"org.example.store\" = {{ version = \">=2, <4\", optional = true }}\n"
    ))
    .unwrap();
    let listed: Vec<(&str, String, bool)> =
        m.dependencies.iter().map(|d| (d.id.as_str(), d.requirement.to_string(), d.optional)).collect();
    assert_eq!(listed, [("base", "^1.2".to_owned(), false), ("org.example.store", ">=2, <4".to_owned(), true)]);
    assert!(m.dependencies[0].requirement.matches(&Version::new(1, 9, 0)));
    assert!(!m.dependencies[0].requirement.matches(&Version::new(2, 0, 0)));
    assert!(parse(GOOD).unwrap().dependencies.is_empty());
}

#[test]
fn bad_dependencies_name_the_field_and_line() {
    let with = |table: &str| error(&format!("{GOOD}\n[dependencies]\n{table}\n"));
    let e = with("base = \"one point two\"");
    assert_eq!(e.status(), Status::ManifestInvalid);
    assert!(
        e.message().starts_with(
            "/p/aisopod.plugin.toml:19: [dependencies].base = \"one point two\": is not a semver requirement"
        ),
        "{e}"
    );
    let e = with("hello = \"1\"");
    assert!(e.message().contains("is the plugin's own id"), "{e}");
    let e = with("Base = \"1\"");
    assert!(e.message().contains("[dependencies] key = \"Base\": must match"), "{e}");
    let e = with("base = { version = \"1\", optinal = true }");
    assert_eq!(e.status(), Status::ManifestParse);
    assert!(e.message().contains(":19:") && e.message().contains("a table with `version` and `optional`"), "{e}");
    let e = with("base = 1");
    assert!(e.message().contains("a semver requirement string"), "{e}");
}
