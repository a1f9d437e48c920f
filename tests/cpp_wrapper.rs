//! The C++ wrapper covers the whole C API: every host function the header declares (and the cdylib
//! exports) is used in code of `include/aisopod_loader.hpp`, and the wrapper compiles cleanly as C++17.
//! What each piece does against real plugins is checked by the `cpp_wrapper` ctest.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::*;

const HEADER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/include/aisopod_loader.h");
const WRAPPER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/include/aisopod_loader.hpp");

/// The marker of the two functions a plugin defines; the loader never exports them and hosts never call them.
const PLUGIN_EXPORT: &str = "AISOPOD_PLUGIN_EXPORT";

/// C or C++ source with comments, string literals and character literals blanked out, so that a name
/// mentioned in a comment or a message does not count as a use. Preprocessor lines are kept.
fn code_only(source: &str) -> String {
    enum State {
        Code,
        LineComment,
        BlockComment,
        Quoted(char),
    }
    let mut out = String::with_capacity(source.len());
    let mut state = State::Code;
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        state = match state {
            State::Code => match (c, chars.peek()) {
                ('/', Some('/')) => State::LineComment,
                ('/', Some('*')) => {
                    chars.next();
                    State::BlockComment
                }
                ('"' | '\'', _) => State::Quoted(c),
                _ => {
                    out.push(c);
                    State::Code
                }
            },
            State::LineComment if c == '\n' => {
                out.push('\n');
                State::Code
            }
            State::LineComment => State::LineComment,
            State::BlockComment if c == '*' && chars.peek() == Some(&'/') => {
                chars.next();
                out.push(' ');
                State::Code
            }
            State::BlockComment => State::BlockComment,
            State::Quoted(quote) if c == '\\' => {
                chars.next();
                State::Quoted(quote)
            }
            State::Quoted(quote) if c == quote => {
                out.push(' ');
                State::Code
            }
            State::Quoted(quote) => State::Quoted(quote),
        };
    }
    out
}

fn is_identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every `aisopod_*` function declared in the header, as (name, is the plugin's export). A declaration is a
/// statement, outside typedefs, where the name is directly followed by its parameter list.
fn declared_functions() -> Vec<(String, bool)> {
    let header = std::fs::read_to_string(HEADER).unwrap();
    let code: String =
        code_only(&header).lines().filter(|line| !line.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n");
    let mut functions = Vec::new();
    for statement in code.split([';', '{', '}']) {
        if statement.trim_start().starts_with("typedef") {
            continue;
        }
        let mut rest = statement;
        while let Some(at) = rest.find("aisopod_") {
            let preceded = rest[..at].chars().next_back().is_some_and(is_identifier_char);
            let end = rest[at..].find(|c: char| !is_identifier_char(c)).map_or(rest.len(), |e| at + e);
            if !preceded && rest[end..].trim_start().starts_with('(') {
                functions.push((rest[at..end].to_string(), statement.contains(PLUGIN_EXPORT)));
            }
            rest = &rest[end..];
        }
    }
    functions
}

fn host_functions() -> BTreeSet<String> {
    declared_functions().into_iter().filter(|(_, plugin)| !plugin).map(|(name, _)| name).collect()
}

/// Whether `name` occurs in `code` as a whole identifier.
fn uses(code: &str, name: &str) -> bool {
    code.match_indices(name).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + name.len()..].chars().next();
        !before.is_some_and(is_identifier_char) && !after.is_some_and(is_identifier_char)
    })
}

#[test]
fn the_plugin_side_is_exactly_the_two_entry_points() {
    let plugin: BTreeSet<String> =
        declared_functions().into_iter().filter(|(_, plugin)| *plugin).map(|(name, _)| name).collect();
    let expected: BTreeSet<String> =
        ["aisopod_plugin_abi_version", "aisopod_plugin_create"].iter().map(|s| s.to_string()).collect();
    assert_eq!(plugin, expected);
}

/// Ties the header reading above to the library: the functions found are exactly those the cdylib exports,
/// so the parser can neither miss a declaration nor invent one.
#[test]
fn host_functions_are_what_the_cdylib_exports() {
    let library = cdylib_dir().join(library_name("aisopod_loader"));
    let output = Command::new("nm").args(["-D", "--defined-only"]).arg(&library).output().expect("nm runs");
    assert!(output.status.success(), "nm: {}", String::from_utf8_lossy(&output.stderr));
    let exported: BTreeSet<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().nth(2))
        .filter(|name| name.starts_with("aisopod_"))
        .map(str::to_string)
        .collect();
    let declared = host_functions();
    assert!(declared.len() > 40, "only {} host functions found in the header", declared.len());
    assert_eq!(declared, exported, "header declarations (left) against cdylib exports (right)");
}

#[test]
fn the_wrapper_uses_every_host_function() {
    let wrapper = code_only(&std::fs::read_to_string(WRAPPER).unwrap());
    let missing: Vec<String> = host_functions().into_iter().filter(|name| !uses(&wrapper, name)).collect();
    assert!(
        missing.is_empty(),
        "include/aisopod_loader.hpp has no use (outside comments and strings) of: {}",
        missing.join(", ")
    );
}

#[test]
fn code_only_blanks_comments_and_literals() {
    let code = code_only("a(); // b()\n/* c() */ d(\"e()\", '\\'', \"\\\"f()\");\n#define G 1\n");
    assert!(uses(&code, "a") && uses(&code, "d") && uses(&code, "G"));
    for gone in ["b", "c", "e", "f"] {
        assert!(!uses(&code, gone), "{gone} survived in {code:?}");
    }
    assert!(!uses("aisopod_loader_free_all()", "aisopod_loader_free"));
}

/// The wrapper on its own, included twice, under the flags the ctest suite builds C++ with.
#[test]
fn wrapper_compiles_as_strict_cpp17() {
    let dir = temp_dir("wrapper-cpp");
    let source = dir.join("use.cpp");
    std::fs::write(
        &source,
        "#include \"aisopod_loader.hpp\"\n#include \"aisopod_loader.hpp\"\n\
         int main() { return aisopod::status_str(AISOPOD_STATUS_OK).empty() ? 1 : 0; }\n",
    )
    .unwrap();
    compile_object(&source, true, &["-Wshadow"]);
}
