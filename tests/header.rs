//! The committed header: current with the Rust sources, clean as C11 and C++17 under strict warnings, and
//! carrying version macros that match Cargo.toml.

mod common;

use std::path::Path;

use common::*;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/include/aisopod_loader.h");

#[test]
fn committed_header_is_current() {
    let generated = std::fs::read_to_string(Path::new(env!("OUT_DIR")).join("aisopod_loader.h")).unwrap();
    let committed = std::fs::read_to_string(COMMITTED).unwrap();
    assert!(
        generated == committed,
        "include/aisopod_loader.h is stale: run `cargo build` outside CI and commit the regenerated header"
    );
}

#[test]
fn version_macros_match_cargo() {
    let header = std::fs::read_to_string(COMMITTED).unwrap();
    let expect = [
        format!("#define AISOPOD_LOADER_VERSION_MAJOR {}", env!("CARGO_PKG_VERSION_MAJOR")),
        format!("#define AISOPOD_LOADER_VERSION_MINOR {}", env!("CARGO_PKG_VERSION_MINOR")),
        format!("#define AISOPOD_LOADER_VERSION_PATCH {}", env!("CARGO_PKG_VERSION_PATCH")),
        format!("#define AISOPOD_LOADER_VERSION_STRING \"{}\"", env!("CARGO_PKG_VERSION")),
        format!("#define AISOPOD_ABI_VERSION {}", aisopod_loader::abi::AISOPOD_ABI_VERSION),
    ];
    for line in expect {
        assert!(header.contains(&line), "header lacks {line:?}");
    }
}

/// Compiles a translation unit that includes the header twice and uses its types, without linking.
fn compile_only(cpp: bool) {
    let dir = temp_dir(if cpp { "header-cpp" } else { "header-c" });
    let source = dir.join(if cpp { "use.cpp" } else { "use.c" });
    std::fs::write(
        &source,
        "#include \"aisopod_loader.h\"\n#include \"aisopod_loader.h\"\n\
         static aisopod_status status_of(const aisopod_plugin *p) { return p->struct_size ? AISOPOD_STATUS_OK : AISOPOD_STATUS_INVALID_PLUGIN_STRUCT; }\n\
         static aisopod_plugin p; static aisopod_sink s;\n\
         int main(void) { (void)s; \
         return (int)status_of(&p) + (int)AISOPOD_CAPABILITY_HOOK - 4; }\n",
    )
    .unwrap();
    compile_object(&source, cpp, &[]);
}

#[test]
fn header_is_clean_c11() {
    compile_only(false);
}

#[test]
fn header_is_clean_cpp17() {
    compile_only(true);
}

/// The status constants the header's enum declares, as (name, value), in header order.
fn header_statuses(header: &str) -> Vec<(String, u32)> {
    let start = header.find("enum aisopod_status").expect("the header declares enum aisopod_status");
    let end = start + header[start..].find("};").expect("the enum ends");
    header[start..end]
        .lines()
        .filter_map(|line| line.trim().strip_suffix(',')?.split_once(" = "))
        .map(|(name, value)| (name.to_owned(), value.parse().unwrap()))
        .collect()
}

/// `NullArgument` -> `AISOPOD_STATUS_NULL_ARGUMENT`, as cbindgen spells a variant.
fn c_name(variant: &str) -> String {
    let mut name = String::from("AISOPOD_STATUS");
    for c in variant.chars() {
        if c.is_ascii_uppercase() {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// The header's enum and the README's status table list exactly the statuses of the status table, by name and
/// value: the README's table is kept by hand, and a status added or renamed without it fails here.
#[test]
fn header_and_readme_list_every_status() {
    use aisopod_loader::abi::aisopod_status;

    let expected: Vec<(String, u32)> =
        aisopod_status::ALL.iter().map(|&status| (c_name(&format!("{status:?}")), status as u32)).collect();
    let header = std::fs::read_to_string(COMMITTED).unwrap();
    assert_eq!(header_statuses(&header), expected, "the header's enum aisopod_status");

    let readme = std::fs::read_to_string(format!("{MANIFEST_DIR}/README.md")).unwrap();
    let section = readme.split("\n### Status codes\n").nth(1).expect("README has a Status codes section");
    let section = section.split("\n#").next().unwrap();
    let rows: Vec<(String, u32)> = section
        .lines()
        .filter_map(|line| {
            let mut cells = line.strip_prefix('|')?.split('|').map(str::trim);
            let value = cells.next()?.parse().ok()?;
            Some((cells.next()?.trim_matches('`').to_owned(), value))
        })
        .collect();
    assert_eq!(rows, expected, "README's status table");
}

/// A function the header declares, with the documentation comment right above it.
#[derive(Debug)]
struct Declared {
    name: String,
    returns_pointer: bool,
    /// The names of the parameters passed by pointer.
    pointer_params: Vec<String>,
    /// The comment's text lines, without the `/**`, ` * ` and ` */` framing.
    doc: Vec<String>,
}

/// Every function declared at the top level of `header`: a line at column 0 that is not a typedef,
/// preprocessor line, comment or type definition, with an `aisopod_` name before its `(`.
fn declared_functions(header: &str) -> Vec<Declared> {
    let lines: Vec<&str> = header.lines().collect();
    let mut functions = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        let starts_declaration = line.starts_with(|c: char| c.is_ascii_alphabetic())
            && !["typedef", "struct", "enum", "union", "extern"].iter().any(|word| line.starts_with(word))
            && line.split_once('(').is_some_and(|(head, _)| {
                head.rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap().starts_with("aisopod_")
            });
        if !starts_declaration {
            index += 1;
            continue;
        }
        let mut doc = Vec::new();
        if index > 0 && lines[index - 1] == " */" {
            let start =
                (0..index).rev().find(|&i| lines[i] == "/**").expect("a comment ending at column 1 starts there");
            doc = lines[start + 1..index - 1]
                .iter()
                .map(|l| l.trim_start().trim_start_matches('*').trim().to_owned())
                .collect();
        }
        let mut declaration = line.to_owned();
        while !declaration.trim_end().ends_with(';') {
            index += 1;
            declaration.push(' ');
            declaration.push_str(lines[index].trim());
        }
        let (head, params) = declaration.split_once('(').unwrap();
        let name = head.rsplit([' ', '*']).next().unwrap().to_owned();
        let pointer_params = params
            .trim_end_matches(';')
            .trim_end_matches(')')
            .split(',')
            .filter(|param| param.contains('*'))
            .map(|param| param.rsplit([' ', '*']).next().unwrap().to_owned())
            .collect();
        functions.push(Declared { returns_pointer: head.contains('*'), name, pointer_params, doc });
        index += 1;
    }
    functions
}

/// The paragraph of `doc` that starts with "Ownership:", joined into one line.
fn ownership_paragraph(doc: &[String]) -> Option<String> {
    let start = doc.iter().position(|line| line.starts_with("Ownership:"))?;
    Some(doc[start..].iter().take_while(|line| !line.is_empty()).cloned().collect::<Vec<_>>().join(" "))
}

/// Every function in the header says who owns what: an "Ownership:" paragraph that names each parameter passed by
/// pointer (`p` or `*p`) and, for a function returning a pointer, what becomes of the returned value.
#[test]
fn every_function_states_ownership() {
    let header = std::fs::read_to_string(COMMITTED).unwrap();
    let functions = declared_functions(&header);
    // 47 exports and the 2 entry points every plugin defines; a parser that lost prototypes would pass vacuously.
    assert!(functions.len() >= 49, "found only {} functions: {functions:#?}", functions.len());
    let mut missing = Vec::new();
    for function in &functions {
        let Some(ownership) = ownership_paragraph(&function.doc) else {
            missing.push(format!("{}: no \"Ownership:\" paragraph", function.name));
            continue;
        };
        for param in &function.pointer_params {
            if !ownership.contains(&format!("`{param}`")) && !ownership.contains(&format!("`*{param}`")) {
                missing.push(format!("{}: \"Ownership:\" does not name `{param}`", function.name));
            }
        }
        if function.returns_pointer && !ownership.contains("returned") {
            missing
                .push(format!("{}: \"Ownership:\" does not say what becomes of the returned pointer", function.name));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
