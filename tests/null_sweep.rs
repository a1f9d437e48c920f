//! A NULL sweep driven by the committed header.
//!
//! Every exported prototype is parsed from `include/aisopod_loader.h`. From that list the test generates a C
//! program that calls each function with NULL in each pointer parameter in turn (the others valid), then with
//! NULL in all of them at once, and checks the result against the documented behaviour. The tables below say
//! what NULL means for each function and how to make a valid value of each parameter type. A function or type
//! they do not cover fails the test by name, so a new export cannot slip past the sweep.

mod common;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::*;

const HEADER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/include/aisopod_loader.h");

/// Declared in the header for plugins to define; the library itself does not export them.
const PLUGIN_ENTRY_POINTS: [&str; 2] = ["aisopod_plugin_abi_version", "aisopod_plugin_create"];

/// The library exports 103 functions today. A parser that silently drops prototypes would still agree with
/// itself, so the count it finds must not fall below this.
const MIN_FUNCTIONS: usize = 103;

/// What NULL means for each function, from its documentation in the header.
const EXPECTATIONS: &[(&str, Expect)] = &[
    ("aisopod_diagnostic_free", Expect::FreeIsNoOp),
    ("aisopod_diagnostic_path", Expect::Default(Fallback::Null)),
    ("aisopod_diagnostic_status", Expect::Default(Fallback::NullArgument)),
    ("aisopod_diagnostic_message", Expect::Default(Fallback::Null)),
    ("aisopod_loader_new", Expect::Status { optional: &[] }),
    ("aisopod_loader_free", Expect::FreeIsNoOp),
    // With NULL it reports the last failure that had no loader: always a string, "" when there was none.
    ("aisopod_loader_error_message", Expect::Default(Fallback::NonNull)),
    ("aisopod_loader_add_search_path", Expect::Status { optional: &[] }),
    ("aisopod_loader_use_env_path", Expect::Status { optional: &[] }),
    ("aisopod_loader_use_default_paths", Expect::Status { optional: &[] }),
    // "NULL removes it"; `userdata` is the caller's own pointer, passed back untouched.
    ("aisopod_loader_set_log_callback", Expect::Status { optional: &["callback", "userdata"] }),
    // "a NULL `extension` removes it".
    ("aisopod_loader_set_host_extension", Expect::Status { optional: &["extension"] }),
    // "Writes the number of plugins found to `*count_out` when `count_out` is not NULL."
    ("aisopod_loader_discover", Expect::Status { optional: &["count_out"] }),
    ("aisopod_loader_plugin_count", Expect::Status { optional: &[] }),
    ("aisopod_loader_plugin_at", Expect::Status { optional: &[] }),
    ("aisopod_loader_find_plugin", Expect::Status { optional: &[] }),
    ("aisopod_loader_diagnostic_count", Expect::Status { optional: &[] }),
    ("aisopod_loader_diagnostic_at", Expect::Status { optional: &[] }),
    // "NULL goes back to looking for it".
    ("aisopod_loader_set_helper_path", Expect::Status { optional: &["path"] }),
    // "of every plugin without its own deadline when `id` is NULL".
    ("aisopod_loader_set_call_timeout", Expect::Status { optional: &["id"] }),
    ("aisopod_loader_set_probe_on_discover", Expect::Status { optional: &[] }),
    // "`init` is called with `init_config` when it is not NULL". `ids` may be NULL only when `id_count` is 0 (every
    // plugin); the sweep passes a count of 1, so there it is required.
    ("aisopod_loader_probe", Expect::Status { optional: &["init_config"] }),
    ("aisopod_loader_quarantine_count", Expect::Status { optional: &[] }),
    ("aisopod_loader_quarantine_at", Expect::Status { optional: &[] }),
    // "of every plugin when `id` is NULL", and `cleared_out` is written "when it is not NULL".
    ("aisopod_loader_quarantine_clear", Expect::Status { optional: &["id", "cleared_out"] }),
    // "or, when `id` is NULL, where every plugin without its own setting runs".
    ("aisopod_loader_set_isolation", Expect::Status { optional: &["id"] }),
    // "(or every plugin without its own policy, when `id` is NULL)".
    ("aisopod_loader_set_restart_policy", Expect::Status { optional: &["id"] }),
    // "when `id` is NULL", and "NULL `limits` removes the plugin's own limits".
    ("aisopod_loader_set_resource_limits", Expect::Status { optional: &["id", "limits"] }),
    // Every pointer is required. Each case has a NULL, so that "hello" runs in the host's process (a valid call
    // would give INVALID_ARGUMENT) does not matter.
    ("aisopod_loader_plugin_usage", Expect::Status { optional: &[] }),
    ("aisopod_loader_set_metrics", Expect::Status { optional: &[] }),
    ("aisopod_loader_plugin_metrics", Expect::Status { optional: &[] }),
    ("aisopod_loader_capability_metrics", Expect::Status { optional: &[] }),
    ("aisopod_loader_report_json", Expect::Status { optional: &[] }),
    ("aisopod_loader_report_free", Expect::FreeIsNoOp),
    // "to every plugin when `id` is NULL"; `path` "must be NULL for the others", so NULL is no NULL_ARGUMENT.
    // The sweep grants AISOPOD_PERMISSION_READ of the plugin tree: with NULL `id` that is OK (every plugin may
    // read the tree, which changes nothing for the shared loader's plugins: they run in the host's process),
    // and with NULL `path` INVALID_ARGUMENT, since reading is granted for a path.
    ("aisopod_loader_grant", Expect::Status { optional: &["id", "path"] }),
    // "the grants made to every plugin when `id` is NULL".
    ("aisopod_loader_revoke_grants", Expect::Status { optional: &["id"] }),
    ("aisopod_loader_set_sandbox_policy", Expect::Status { optional: &[] }),
    ("aisopod_loader_load", Expect::Status { optional: &[] }),
    // "`config` ... NULL means """ and "`data_dir` (NULL means "", no data directory)".
    ("aisopod_loader_init", Expect::Status { optional: &["config", "data_dir"] }),
    // "a NULL sink ... discards" the output. `input` may be NULL only when `input_len` is 0; the sweep passes a
    // non-zero length, so there it is required.
    ("aisopod_loader_invoke", Expect::Status { optional: &["sink"] }),
    // As invoke, and `handled_out` is written "when not NULL".
    ("aisopod_loader_emit", Expect::Status { optional: &["sink", "handled_out"] }),
    ("aisopod_loader_plugin_extension", Expect::Status { optional: &[] }),
    ("aisopod_loader_plugin_state", Expect::Status { optional: &[] }),
    ("aisopod_loader_unload", Expect::Status { optional: &[] }),
    ("aisopod_loader_unload_cascade", Expect::Status { optional: &[] }),
    // "A NULL `requirement` removes the requirement".
    ("aisopod_loader_require", Expect::Status { optional: &["requirement"] }),
    // "NULL means \"\"" for both.
    ("aisopod_loader_set_config", Expect::Status { optional: &["config", "data_dir"] }),
    ("aisopod_loader_set_lazy", Expect::Status { optional: &[] }),
    // Every case has a NULL, so the shared loader's "hello" is never reloaded.
    ("aisopod_loader_reload", Expect::Status { optional: &[] }),
    // `reloaded_out` is written "when that is not NULL"; nothing changed under the shared loader, so the poll
    // reloads nothing.
    ("aisopod_loader_poll_changes", Expect::Status { optional: &["reloaded_out"] }),
    ("aisopod_loader_plugin_generation", Expect::Status { optional: &[] }),
    ("aisopod_loader_resolve", Expect::Status { optional: &[] }),
    // "off when `path` is NULL".
    ("aisopod_loader_set_cache_path", Expect::Status { optional: &["path"] }),
    ("aisopod_loader_use_default_cache", Expect::Status { optional: &[] }),
    // As invoke: "NULL discards" the output.
    ("aisopod_capability_invoke", Expect::Status { optional: &["sink"] }),
    ("aisopod_capability_free", Expect::FreeIsNoOp),
    ("aisopod_plugin_info_free", Expect::FreeIsNoOp),
    ("aisopod_plugin_info_id", Expect::Default(Fallback::Null)),
    ("aisopod_plugin_info_name", Expect::Default(Fallback::Null)),
    ("aisopod_plugin_info_version", Expect::Default(Fallback::Null)),
    ("aisopod_plugin_info_description", Expect::Default(Fallback::Null)),
    ("aisopod_plugin_info_author", Expect::Default(Fallback::Null)),
    ("aisopod_plugin_info_directory", Expect::Default(Fallback::Null)),
    ("aisopod_plugin_info_manifest_path", Expect::Default(Fallback::Null)),
    ("aisopod_plugin_info_library_path", Expect::Default(Fallback::Null)),
    ("aisopod_plugin_info_min_host_version", Expect::Default(Fallback::Null)),
    ("aisopod_plugin_info_max_host_version", Expect::Default(Fallback::Null)),
    ("aisopod_plugin_info_license", Expect::Default(Fallback::Null)),
    ("aisopod_plugin_info_homepage", Expect::Default(Fallback::Null)),
    ("aisopod_plugin_info_repository", Expect::Default(Fallback::Null)),
    ("aisopod_plugin_info_sha256", Expect::Default(Fallback::Null)),
    ("aisopod_plugin_info_thread_safe", Expect::Default(Fallback::False)),
    ("aisopod_plugin_info_unloadable", Expect::Default(Fallback::False)),
    ("aisopod_plugin_info_capability_count", Expect::Default(Fallback::Zero)),
    ("aisopod_plugin_info_capability_at", Expect::Default(Fallback::Null)),
    ("aisopod_plugin_info_dependency_count", Expect::Default(Fallback::Zero)),
    ("aisopod_plugin_info_dependency_id", Expect::Default(Fallback::Null)),
    ("aisopod_plugin_info_dependency_requirement", Expect::Default(Fallback::Null)),
    ("aisopod_plugin_info_dependency_optional", Expect::Default(Fallback::False)),
    ("aisopod_probe_results_free", Expect::FreeIsNoOp),
    ("aisopod_probe_results_count", Expect::Default(Fallback::Zero)),
    ("aisopod_probe_results_plugin_id", Expect::Default(Fallback::Null)),
    ("aisopod_probe_results_status", Expect::Default(Fallback::NullArgument)),
    ("aisopod_probe_results_message", Expect::Default(Fallback::Null)),
    ("aisopod_probe_results_failed_step", Expect::Default(Fallback::Null)),
    ("aisopod_probe_results_step_count", Expect::Default(Fallback::Zero)),
    ("aisopod_probe_results_step_at", Expect::Status { optional: &[] }),
    ("aisopod_probe_results_capability_count", Expect::Default(Fallback::Zero)),
    ("aisopod_probe_results_capability_at", Expect::Default(Fallback::Null)),
    ("aisopod_probe_results_ending", Expect::Status { optional: &[] }),
    ("aisopod_probe_results_stderr", Expect::Default(Fallback::Null)),
    ("aisopod_quarantine_entry_free", Expect::FreeIsNoOp),
    ("aisopod_quarantine_entry_plugin_id", Expect::Default(Fallback::Null)),
    ("aisopod_quarantine_entry_library_path", Expect::Default(Fallback::Null)),
    ("aisopod_quarantine_entry_status", Expect::Default(Fallback::NullArgument)),
    ("aisopod_quarantine_entry_reason", Expect::Default(Fallback::Null)),
    ("aisopod_quarantine_entry_since", Expect::Status { optional: &[] }),
    ("aisopod_status_str", Expect::NoPointer),
    ("aisopod_loader_version", Expect::NoPointer),
    ("aisopod_loader_set_file_policy", Expect::Status { optional: &[] }),
    // Each of these has two required pointers, so every case has a NULL and no list of the shared loader changes.
    ("aisopod_loader_allow", Expect::Status { optional: &[] }),
    ("aisopod_loader_deny", Expect::Status { optional: &[] }),
    ("aisopod_loader_clear_lists", Expect::Status { optional: &[] }),
    ("aisopod_loader_set_signature_policy", Expect::Status { optional: &[] }),
    // Two required pointers; the key the sweep passes is 5 bytes long, which no call that gets through accepts.
    ("aisopod_loader_trust_key", Expect::Status { optional: &[] }),
];

/// How the sweep passes each parameter type. Names on the right are set up by `main` in [`PROGRAM`].
const PARAM_TYPES: &[(&str, Pass)] = &[
    ("const struct aisopod_loader *", Pass::Pointer("loader")),
    ("const struct aisopod_plugin_info *", Pass::Pointer("info")),
    ("const struct aisopod_diagnostic *", Pass::Pointer("diagnostic")),
    ("const struct aisopod_capability *", Pass::Pointer("capability")),
    ("const struct aisopod_probe_results *", Pass::Pointer("results")),
    ("const struct aisopod_quarantine_entry *", Pass::Pointer("entry")),
    ("const char *", Pass::Named { pointer: true }),
    // The ids a probe is given: "hello" first, so a count of 1 probes only the plugin that passes.
    ("const char * const *", Pass::Pointer("probe_ids")),
    ("const uint8_t *", Pass::Pointer("input")),
    ("const struct aisopod_sink *", Pass::Pointer("&sink")),
    // A function-pointer typedef: a pointer even though it is spelled without `*`.
    ("aisopod_log_callback", Pass::Pointer("log_callback")),
    ("void *", Pass::Pointer("&log_lines")),
    ("const void *", Pass::Pointer("&host_extension")),
    // No limits, the default, so that the shared loader's plugins keep theirs.
    ("const struct aisopod_resource_limits *", Pass::Pointer("&limits")),
    // Handles from the library's constructors; a successful call's handle is freed right after the check.
    (
        "struct aisopod_loader **",
        Pass::Out { var: "struct aisopod_loader *", sentinel: "NULL", free: Some("aisopod_loader_free") },
    ),
    (
        "struct aisopod_plugin_info **",
        Pass::Out { var: "struct aisopod_plugin_info *", sentinel: "NULL", free: Some("aisopod_plugin_info_free") },
    ),
    (
        "struct aisopod_capability **",
        Pass::Out { var: "struct aisopod_capability *", sentinel: "NULL", free: Some("aisopod_capability_free") },
    ),
    (
        "struct aisopod_diagnostic **",
        Pass::Out { var: "struct aisopod_diagnostic *", sentinel: "NULL", free: Some("aisopod_diagnostic_free") },
    ),
    (
        "struct aisopod_probe_results **",
        Pass::Out { var: "struct aisopod_probe_results *", sentinel: "NULL", free: Some("aisopod_probe_results_free") },
    ),
    (
        "struct aisopod_quarantine_entry **",
        Pass::Out {
            var: "struct aisopod_quarantine_entry *",
            sentinel: "NULL",
            free: Some("aisopod_quarantine_entry_free"),
        },
    ),
    // The load report, which the caller owns.
    ("char **", Pass::Out { var: "char *", sentinel: "NULL", free: Some("aisopod_loader_report_free") }),
    ("size_t *", Pass::Out { var: "size_t", sentinel: "UNTOUCHED_SIZE", free: None }),
    ("uint64_t *", Pass::Out { var: "uint64_t", sentinel: "UNTOUCHED_U64", free: None }),
    ("int32_t *", Pass::Out { var: "int32_t", sentinel: "UNTOUCHED_I32", free: None }),
    ("int64_t *", Pass::Out { var: "int64_t", sentinel: "UNTOUCHED_I64", free: None }),
    // Strings the library owns, handed out through an out-parameter.
    ("const char **", Pass::Out { var: "const char *", sentinel: "&untouched", free: None }),
    ("aisopod_plugin_state *", Pass::Out { var: "aisopod_plugin_state", sentinel: "UNTOUCHED_STATE", free: None }),
    ("const void **", Pass::Out { var: "const void *", sentinel: "&untouched", free: None }),
    (
        "struct aisopod_plugin_usage *",
        Pass::OutStruct { var: "struct aisopod_plugin_usage", sentinel: "untouched_usage" },
    ),
    (
        "struct aisopod_plugin_metrics *",
        Pass::OutStruct { var: "struct aisopod_plugin_metrics", sentinel: "untouched_plugin_metrics" },
    ),
    (
        "struct aisopod_capability_metrics *",
        Pass::OutStruct { var: "struct aisopod_capability_metrics", sentinel: "untouched_capability_metrics" },
    ),
    // The `_free` functions take these; the sweep gives them only NULL.
    ("struct aisopod_loader *", Pass::Owned),
    ("struct aisopod_plugin_info *", Pass::Owned),
    ("struct aisopod_diagnostic *", Pass::Owned),
    ("struct aisopod_capability *", Pass::Owned),
    ("struct aisopod_probe_results *", Pass::Owned),
    ("struct aisopod_quarantine_entry *", Pass::Owned),
    ("char *", Pass::Owned),
    ("size_t", Pass::Named { pointer: false }),
    // false: the shared loader must keep ignoring AISOPOD_PLUGIN_PATH and the default paths.
    ("bool", Pass::Value("false")),
    ("aisopod_capability_kind", Pass::Value("AISOPOD_CAPABILITY_TOOL")),
    // The default: a call that gets through changes nothing for the shared loader.
    ("aisopod_isolation", Pass::Value("AISOPOD_ISOLATION_NONE")),
    // Reading, which takes a path: see aisopod_loader_grant in EXPECTATIONS.
    ("aisopod_permission", Pass::Value("AISOPOD_PERMISSION_READ")),
    // The default, as for isolation.
    ("aisopod_sandbox_policy", Pass::Value("AISOPOD_SANDBOX_BEST_EFFORT")),
    // The default, as for the sandbox.
    ("aisopod_file_policy", Pass::Value("AISOPOD_FILE_POLICY_STRICT")),
    // The default, as for the file policy.
    ("aisopod_signature_policy", Pass::Value("AISOPOD_SIGNATURES_ALLOW_UNSIGNED")),
    // A deadline in milliseconds, or a restart policy (`aisopod_status_str`'s status takes no pointer, so it is
    // never swept).
    ("uint32_t", Pass::Named { pointer: false }),
];

/// Valid values for parameter types whose meaning depends on the parameter: strings, sizes and deadlines.
const NAMED_VALUES: &[(&str, &str)] = &[
    ("host_version", "HOST_VERSION"),
    ("path", "tree"),
    // A plugin id, and for aisopod_loader_set_host_extension an extension id; any string will do there.
    ("id", "\"hello\""),
    ("config", "\"{}\""),
    ("data_dir", "\"\""),
    ("name", "\"greet\""),
    ("event", "\"on_start\""),
    ("extension_id", "\"aisopod.none\""),
    ("index", "0"),
    ("input_len", "INPUT_LEN"),
    // The length of a public key: the sweep passes its 5-byte input there.
    ("len", "INPUT_LEN"),
    // The first verdict's first step, and its first capability of a kind.
    ("step", "0"),
    ("capability", "0"),
    // One id of `probe_ids`: "hello".
    ("id_count", "1"),
    // The default deadline, so that the probes the sweep runs keep theirs.
    ("timeout_ms", "10000"),
    ("init_config", "\"{}\""),
    // Any version of "hello" will do.
    ("requirement", "\"*\""),
    // The default restart policy: none.
    ("max_restarts", "0"),
    ("backoff_ms", "0"),
];

/// The return types the generator can check.
const RETURN_TYPES: [&str; 5] = ["aisopod_status", "const char *", "bool", "size_t", "void"];

/// What a function does with NULL arguments.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Returns `aisopod_status`. NULL in a required pointer gives NULL_ARGUMENT, with a message that starts with
    /// the function's name and names the argument, and leaves the out-parameters alone. NULL in one of
    /// `optional` is accepted: any status but NULL_ARGUMENT or PANIC.
    Status { optional: &'static [&'static str] },
    /// Returns a value directly, and this documented default when a pointer argument is NULL.
    Default(Fallback),
    /// A `_free` function: `_free(NULL)` does nothing.
    FreeIsNoOp,
    /// Takes no pointer, so there is nothing to sweep.
    NoPointer,
}

/// A documented default, and the C check for it.
#[derive(Clone, Copy, Debug)]
enum Fallback {
    Null,
    NonNull,
    Zero,
    False,
    NullArgument,
}

impl Fallback {
    fn c_check(self) -> &'static str {
        match self {
            Fallback::Null => "expect_null",
            Fallback::NonNull => "expect_string",
            Fallback::Zero => "expect_zero",
            Fallback::False => "expect_false",
            Fallback::NullArgument => "expect_null_argument_value",
        }
    }

    fn fits(self, return_type: &str) -> bool {
        match self {
            Fallback::Null | Fallback::NonNull => return_type.ends_with('*'),
            Fallback::Zero => return_type == "size_t",
            Fallback::False => return_type == "bool",
            Fallback::NullArgument => return_type == "aisopod_status",
        }
    }
}

/// How the generated program passes a parameter.
#[derive(Clone, Copy, Debug)]
enum Pass {
    /// By value, never NULL: a C expression.
    Value(&'static str),
    /// A pointer to something `main` set up: a C expression.
    Pointer(&'static str),
    /// A value looked up by the parameter's name in [`NAMED_VALUES`].
    Named { pointer: bool },
    /// The address of a fresh variable of type `var`, set to `sentinel` first so a failed call can be caught
    /// writing it. `free` releases the handle a successful call wrote; handle sentinels are NULL, so freeing is
    /// always safe.
    Out { var: &'static str, sentinel: &'static str, free: Option<&'static str> },
    /// As `Out`, for a struct `var`, which C cannot compare with `==`: it starts as a copy of the object
    /// `sentinel` and is compared with it byte by byte.
    OutStruct { var: &'static str, sentinel: &'static str },
    /// A handle the function takes ownership of: only ever NULL, so the shared handles outlive the sweep.
    Owned,
}

impl Pass {
    fn is_pointer(self) -> bool {
        match self {
            Pass::Value(_) => false,
            Pass::Named { pointer } => pointer,
            Pass::Pointer(_) | Pass::Out { .. } | Pass::OutStruct { .. } | Pass::Owned => true,
        }
    }
}

/// One parsed prototype.
#[derive(Debug, PartialEq)]
struct Function {
    name: String,
    return_type: String,
    params: Vec<Param>,
}

#[derive(Debug, PartialEq)]
struct Param {
    ty: String,
    name: String,
}

/// Parses the top-level function declarations of `header`, leaving out the plugin entry points.
fn parse_header(header: &str) -> Result<Vec<Function>, String> {
    let mut functions = Vec::new();
    let mut lines = header.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        if !starts_declaration(line) {
            continue;
        }
        // A prototype continues over several lines until its `;`.
        let mut declaration = line.to_owned();
        while !declaration.trim_end().ends_with(';') {
            let (_, next) =
                lines.next().ok_or_else(|| format!("header line {}: unterminated declaration", index + 1))?;
            declaration.push(' ');
            declaration.push_str(next);
        }
        let function = parse_prototype(&declaration).map_err(|e| format!("header line {}: {e}", index + 1))?;
        if !PLUGIN_ENTRY_POINTS.contains(&function.name.as_str()) {
            functions.push(function);
        }
    }
    Ok(functions)
}

/// A top-level declaration starts at column 0 with its return type, and an `aisopod_` name directly precedes
/// its `(`. That leaves out struct members (indented), function-pointer typedefs, comments and preprocessor
/// lines.
fn starts_declaration(line: &str) -> bool {
    if !line.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') || line.starts_with("typedef") {
        return false;
    }
    let Some((head, _)) = line.split_once('(') else { return false };
    split_name(head).is_ok_and(|(ty, name)| !ty.is_empty() && name.starts_with("aisopod_"))
}

/// Parses `return_type name(type name, ...);`.
fn parse_prototype(declaration: &str) -> Result<Function, String> {
    let declaration = declaration.split_whitespace().collect::<Vec<_>>().join(" ");
    let body = declaration.strip_suffix(");").ok_or_else(|| format!("`{declaration}` does not end in `);`"))?;
    let (head, params) = body.split_once('(').ok_or_else(|| format!("`{declaration}` has no parameter list"))?;
    if params.contains(['(', ')']) {
        return Err(format!("`{declaration}`: a parameter of function-pointer type needs a typedef the tables name"));
    }
    let (return_type, name) = split_name(head.trim_start_matches("AISOPOD_PLUGIN_EXPORT"))?;
    let params = match params.trim() {
        "void" | "" => Vec::new(),
        list => list
            .split(',')
            .map(|param| split_name(param).map(|(ty, name)| Param { ty, name }))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{name}: {e}"))?,
    };
    Ok(Function { name, return_type, params })
}

/// Splits `const char *name` into its type in canonical spelling (`const char *`) and its name.
fn split_name(text: &str) -> Result<(String, String), String> {
    let text = text.trim();
    let start = text.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_').len();
    let (ty, name) = text.split_at(start);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("no name at the end of `{text}`"));
    }
    // One space between words and before the stars, none between stars: `struct aisopod_loader **`.
    let mut canonical = String::new();
    for token in ty.replace('*', " * ").split_whitespace() {
        let next_star = token == "*" && canonical.ends_with('*');
        if !(canonical.is_empty() || next_star) {
            canonical.push(' ');
        }
        canonical.push_str(token);
    }
    Ok((canonical, name.to_owned()))
}

/// The generated C program and what it will report.
struct Sweep {
    source: String,
    /// Functions with at least one pointer parameter.
    functions: usize,
    checks: usize,
}

/// Generates the sweep over `functions`, or says which function, parameter or table entry stops it.
fn generate(functions: &[Function]) -> Result<Sweep, String> {
    // A stale entry hides a renamed function; the header is the source of truth.
    for (name, _) in EXPECTATIONS {
        if !functions.iter().any(|f| f.name == *name) {
            return Err(format!("EXPECTATIONS names {name}, which the header does not declare"));
        }
    }
    let mut body = String::new();
    let (mut swept, mut checks) = (0, 0);
    for function in functions {
        let name = &function.name;
        if !RETURN_TYPES.contains(&function.return_type.as_str()) {
            return Err(format!(
                "{name} returns `{}`, a type the sweep cannot check; add it to RETURN_TYPES",
                function.return_type
            ));
        }
        let passes = function
            .params
            .iter()
            .map(|param| {
                PARAM_TYPES.iter().find(|(ty, _)| *ty == param.ty).map(|(_, pass)| *pass).ok_or_else(|| {
                    format!(
                        "{name}: parameter `{}` has type `{}`, which the sweep has no valid value for; add it to \
                         PARAM_TYPES",
                        param.name, param.ty
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let expect = EXPECTATIONS.iter().find(|(n, _)| n == name).map(|(_, e)| *e).ok_or_else(|| {
            format!("{name} has no entry in EXPECTATIONS: add what NULL in each of its pointer parameters gives")
        })?;
        let pointers: Vec<usize> = (0..passes.len()).filter(|&i| passes[i].is_pointer()).collect();
        check_expectation(function, expect, &pointers)?;
        if pointers.is_empty() {
            continue;
        }
        swept += 1;
        // NULL in each pointer alone, then in all of them; with a single pointer the two are the same call.
        let mut cases: Vec<Vec<usize>> = pointers.iter().map(|&i| vec![i]).collect();
        if pointers.len() > 1 {
            cases.push(pointers.clone());
        }
        for nulls in cases {
            body.push_str(&check(function, &passes, expect, &nulls)?);
            checks += 1;
        }
    }
    Ok(Sweep { source: PROGRAM.replace("    /* SWEEP */\n", &body), functions: swept, checks })
}

/// Checks that a table entry fits the prototype it describes.
fn check_expectation(function: &Function, expect: Expect, pointers: &[usize]) -> Result<(), String> {
    let name = &function.name;
    let return_type = function.return_type.as_str();
    let fits = match expect {
        Expect::Status { optional } => {
            for optional in optional {
                if !pointers.iter().any(|&i| function.params[i].name == *optional) {
                    return Err(format!("EXPECTATIONS: {name} has no pointer parameter `{optional}`"));
                }
            }
            return_type == "aisopod_status"
        }
        Expect::Default(fallback) => fallback.fits(return_type),
        Expect::FreeIsNoOp => return_type == "void" && name.ends_with("_free") && function.params.len() == 1,
        Expect::NoPointer => pointers.is_empty(),
    };
    if !fits || (pointers.is_empty() && !matches!(expect, Expect::NoPointer)) {
        return Err(format!("EXPECTATIONS: {expect:?} does not fit {name} (returns `{return_type}`)"));
    }
    Ok(())
}

/// The C block for one check: `function` called with NULL at `nulls`, valid values elsewhere.
fn check(function: &Function, passes: &[Pass], expect: Expect, nulls: &[usize]) -> Result<String, String> {
    let name = &function.name;
    let label = match nulls {
        [one] => format!("{name}({} = NULL)", function.params[*one].name),
        _ => format!("{name}(all {} pointers NULL)", nulls.len()),
    };
    let (mut declarations, mut frees) = (String::new(), String::new());
    let (mut args, mut untouched) = (Vec::new(), Vec::new());
    for (index, (param, pass)) in function.params.iter().zip(passes).enumerate() {
        if nulls.contains(&index) {
            args.push("NULL".to_owned());
            continue;
        }
        match *pass {
            Pass::Value(value) | Pass::Pointer(value) => args.push(value.to_owned()),
            Pass::Named { .. } => {
                let value = NAMED_VALUES.iter().find(|(n, _)| *n == param.name).map(|(_, v)| *v).ok_or_else(|| {
                    format!("{name}: parameter `{}` ({}) has no valid value in NAMED_VALUES", param.name, param.ty)
                })?;
                args.push(value.to_owned());
            }
            Pass::Out { var, sentinel, free } => {
                let out = format!("out_{}", param.name);
                let space = if var.ends_with('*') { "" } else { " " };
                writeln!(declarations, "        {var}{space}{out} = {sentinel};").unwrap();
                args.push(format!("&{out}"));
                untouched.push(format!("{out} == {sentinel}"));
                if let Some(free) = free {
                    writeln!(frees, "        {free}({out});").unwrap();
                }
            }
            Pass::OutStruct { var, sentinel } => {
                let out = format!("out_{}", param.name);
                writeln!(declarations, "        {var} {out} = {sentinel};").unwrap();
                args.push(format!("&{out}"));
                untouched.push(format!("memcmp(&{out}, &{sentinel}, sizeof {out}) == 0"));
            }
            Pass::Owned => {
                return Err(format!("{name}: parameter `{}` takes ownership; only a `_free` may take one", param.name))
            }
        }
    }
    let call = format!("{name}({})", args.join(", "));
    let verdict = match expect {
        Expect::Status { optional } => {
            // Results are written only on success.
            let untouched = if untouched.is_empty() {
                "true".to_owned()
            } else {
                format!("result == AISOPOD_STATUS_OK || ({})", untouched.join(" && "))
            };
            if nulls.iter().all(|&i| optional.contains(&function.params[i].name.as_str())) {
                format!("expect_accepted(\"{label}\", result, {untouched});")
            } else {
                // The message is filed under the loader the call was given (a capability files it under the loader
                // it was resolved from), or under "no loader" when that argument is NULL.
                let message_of = function
                    .params
                    .iter()
                    .position(|p| p.ty == "const struct aisopod_loader *")
                    .map(|i| args[i].as_str())
                    .or_else(|| {
                        let i = function.params.iter().position(|p| p.ty == "const struct aisopod_capability *")?;
                        Some(if args[i] == "NULL" { "NULL" } else { "loader" })
                    })
                    .unwrap_or("NULL");
                let argument = match nulls {
                    [one] => format!("\"{}\"", function.params[*one].name),
                    // Which of several NULLs a function reports first is its own business.
                    _ => "NULL".to_owned(),
                };
                format!("expect_null_argument(\"{label}\", result, {message_of}, \"{name}\", {argument}, {untouched});")
            }
        }
        Expect::Default(fallback) => format!("{}(\"{label}\", result);", fallback.c_check()),
        Expect::FreeIsNoOp => format!("expect_returned(\"{label}\");"),
        Expect::NoPointer => unreachable!("a function without pointers has no NULL case"),
    };
    let call = match function.return_type.as_str() {
        "void" => format!("{call};"),
        ty if ty.ends_with('*') => format!("{ty}result = {call};"),
        ty => format!("{ty} result = {call};"),
    };
    Ok(format!("    {{\n{declarations}        {call}\n        {verdict}\n{frees}    }}\n"))
}

/// The generated program around the sweep. `main` sets up the valid values the tables name, runs the checks
/// (one output line each) and frees everything, so that valgrind can vouch for the library.
const PROGRAM: &str = r#"/* Generated by tests/null_sweep.rs from include/aisopod_loader.h. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "aisopod_loader.h"

/* Inside the hello example's [compatibility] range. */
#define HOST_VERSION "1.0.0"
#define INPUT_LEN ((size_t)5)
/* Out-variables start at these, so a check can tell whether a failed call wrote them. */
#define UNTOUCHED_SIZE ((size_t)0xA5A5A5u)
#define UNTOUCHED_STATE ((aisopod_plugin_state)0xA5A5A5u)
#define UNTOUCHED_U64 ((uint64_t)0xA5A5A5A5A5u)
#define UNTOUCHED_I32 ((int32_t)0x5A5A5A)
#define UNTOUCHED_I64 ((int64_t)-0x5A5A5A5A5A)
static const char untouched;
static const struct aisopod_plugin_usage untouched_usage = {0xA5A5A5A5A5u, 0xA5A5A5A5A5u, 0xA5A5A5A5A5u,
                                                             0xA5A5A5A5A5u, 0xA5A5A5u, 0x5A5A5A};
/* The caller sets struct_size: a failed call must leave even that alone. */
static const struct aisopod_plugin_metrics untouched_plugin_metrics = {
    sizeof(struct aisopod_plugin_metrics), 0, 0xA5A5A5A5A5u, 0xA5A5A5A5A5u, 0xA5A5A5A5A5u, 0xA5A5A5A5A5u,
    0xA5A5A5A5A5u, 0xA5A5A5A5A5u};
static const struct aisopod_capability_metrics untouched_capability_metrics = {
    sizeof(struct aisopod_capability_metrics), 0, 0xA5A5A5A5A5u, 0xA5A5A5A5A5u, 0xA5A5A5A5A5u, 0xA5A5A5A5A5u,
    0xA5A5A5A5A5u, 0xA5A5A5A5A5u};

static const int host_extension;
static unsigned passed, failed;

static void report(bool ok, const char *label, const char *detail) {
    if (ok) {
        passed++;
    } else {
        failed++;
    }
    printf("%s %s: %s\n", ok ? "ok  " : "FAIL", label, detail);
}

static void expect_null_argument(const char *label, aisopod_status status, const aisopod_loader *message_of,
                                 const char *function, const char *argument, bool outs_untouched) {
    char detail[1024];
    char quoted[128] = "";
    const char *message = aisopod_loader_error_message(message_of);
    size_t prefix = strlen(function);
    if (argument != NULL) snprintf(quoted, sizeof quoted, "'%s'", argument);
    if (status != AISOPOD_STATUS_NULL_ARGUMENT) {
        snprintf(detail, sizeof detail, "expected AISOPOD_STATUS_NULL_ARGUMENT, got %u (%s)", (unsigned)status,
                 aisopod_status_str(status));
        report(false, label, detail);
    } else if (message == NULL || strncmp(message, function, prefix) != 0 || message[prefix] != ':') {
        snprintf(detail, sizeof detail, "the message does not start with the function's name: \"%s\"",
                 message == NULL ? "(NULL)" : message);
        report(false, label, detail);
    } else if (argument != NULL && strstr(message, quoted) == NULL) {
        snprintf(detail, sizeof detail, "the message does not name %s: \"%s\"", quoted, message);
        report(false, label, detail);
    } else if (!outs_untouched) {
        report(false, label, "the failed call wrote an out-parameter");
    } else {
        snprintf(detail, sizeof detail, "NULL_ARGUMENT \"%s\"", message);
        report(true, label, detail);
    }
}

static void expect_accepted(const char *label, aisopod_status status, bool outs_untouched) {
    char detail[256];
    bool ok = status != AISOPOD_STATUS_NULL_ARGUMENT && status != AISOPOD_STATUS_PANIC;
    snprintf(detail, sizeof detail, "%s %u (%s)", ok ? "accepted:" : "expected neither NULL_ARGUMENT nor PANIC, got",
             (unsigned)status, aisopod_status_str(status));
    if (ok && !outs_untouched) {
        report(false, label, "the failed call wrote an out-parameter");
    } else {
        report(ok, label, detail);
    }
}

static void expect_null(const char *label, const void *result) {
    report(result == NULL, label, result == NULL ? "NULL" : "expected NULL, got a pointer");
}

static void expect_string(const char *label, const char *result) {
    char detail[1024];
    snprintf(detail, sizeof detail, "\"%s\"", result == NULL ? "" : result);
    report(result != NULL, label, result == NULL ? "expected a string, got NULL" : detail);
}

static void expect_zero(const char *label, size_t result) {
    char detail[64];
    snprintf(detail, sizeof detail, "expected 0, got %zu", result);
    report(result == 0, label, result == 0 ? "0" : detail);
}

static void expect_false(const char *label, bool result) {
    report(!result, label, result ? "expected false, got true" : "false");
}

static void expect_null_argument_value(const char *label, aisopod_status result) {
    char detail[128];
    snprintf(detail, sizeof detail, "expected AISOPOD_STATUS_NULL_ARGUMENT, got %u", (unsigned)result);
    report(result == AISOPOD_STATUS_NULL_ARGUMENT, label,
           result == AISOPOD_STATUS_NULL_ARGUMENT ? "NULL_ARGUMENT" : detail);
}

/* Reached only if the call returned. */
static void expect_returned(const char *label) {
    report(true, label, "returned");
}

/* The log callback the sweep installs; its userdata, when given, counts lines. */
static void log_callback(void *userdata, aisopod_log_level level, const char *source, const char *message) {
    (void)level;
    (void)source;
    (void)message;
    if (userdata != NULL) ++*(unsigned *)userdata;
}

/* A sink that only counts bytes, so any number of calls fit. */
static int32_t count_bytes(void *context, const uint8_t *data, size_t len) {
    (void)data;
    *(size_t *)context += len;
    return 0;
}

#define SETUP(call)                                                                                   \
    do {                                                                                              \
        aisopod_status setup_status = (call);                                                         \
        if (setup_status != AISOPOD_STATUS_OK) {                                                      \
            fprintf(stderr, "setup failed: %s: %s\n", #call, aisopod_loader_error_message(loader));   \
            return 2;                                                                                 \
        }                                                                                             \
    } while (0)

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s PLUGIN_TREE CRASHING_TREE\n", argv[0]);
        return 2;
    }
    /* A crash then shows which check was last to pass. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* A loader that searches only the two trees: the hello plugin and one broken candidate as a diagnostic, then
       "crasher", whose constructor aborts. */
    const char *tree = argv[1];
    const char *crashing = argv[2];
    aisopod_loader *loader = NULL;
    SETUP(aisopod_loader_new(HOST_VERSION, &loader));
    SETUP(aisopod_loader_use_env_path(loader, false));
    SETUP(aisopod_loader_use_default_paths(loader, false));
    SETUP(aisopod_loader_add_search_path(loader, tree));
    SETUP(aisopod_loader_add_search_path(loader, crashing));
    size_t plugins = 0, diagnostics = 0;
    SETUP(aisopod_loader_discover(loader, &plugins));
    SETUP(aisopod_loader_diagnostic_count(loader, &diagnostics));
    if (plugins != 2 || diagnostics != 1) {
        fprintf(stderr, "setup failed: %zu plugin(s) and %zu diagnostic(s) in %s and %s, expected 2 and 1\n",
                plugins, diagnostics, tree, crashing);
        return 2;
    }
    aisopod_plugin_info *info = NULL;
    aisopod_diagnostic *diagnostic = NULL;
    SETUP(aisopod_loader_find_plugin(loader, "hello", &info));
    SETUP(aisopod_loader_diagnostic_at(loader, 0, &diagnostic));

    /* Both plugins probed in helper processes: hello passes, crasher aborts in dlopen and is quarantined. The
       results then hold a verdict with steps and capabilities, and the quarantine an entry. */
    const char *const probe_ids[] = {"hello", "crasher"};
    aisopod_probe_results *results = NULL;
    SETUP(aisopod_loader_probe(loader, probe_ids, 2, "{}", &results));
    if (aisopod_probe_results_status(results, 0) != AISOPOD_STATUS_OK ||
        aisopod_probe_results_status(results, 1) != AISOPOD_STATUS_PLUGIN_CRASHED) {
        fprintf(stderr, "setup failed: the probe's verdicts are %u (%s) and %u (%s), expected OK and PLUGIN_CRASHED\n",
                (unsigned)aisopod_probe_results_status(results, 0), aisopod_probe_results_message(results, 0),
                (unsigned)aisopod_probe_results_status(results, 1), aisopod_probe_results_message(results, 1));
        return 2;
    }
    aisopod_quarantine_entry *entry = NULL;
    SETUP(aisopod_loader_quarantine_at(loader, 0, &entry));
    /* Initialized, so that calls whose NULL is optional get as far as the plugin. */
    SETUP(aisopod_loader_load(loader, "hello"));
    SETUP(aisopod_loader_init(loader, "hello", "{}", NULL));
    aisopod_capability *capability = NULL;
    SETUP(aisopod_loader_resolve(loader, "hello", AISOPOD_CAPABILITY_TOOL, "greet", &capability));

    const uint8_t *input = (const uint8_t *)"world";
    size_t output_bytes = 0;
    aisopod_sink sink = {&output_bytes, count_bytes};
    unsigned log_lines = 0;
    aisopod_resource_limits limits = {0, 0, 0};
    /* Whichever of these the tables leave unused must not trip -Werror. */
    (void)input;
    (void)sink;
    (void)log_lines;
    (void)log_callback;
    (void)host_extension;
    (void)untouched;
    (void)probe_ids;
    (void)limits;
    (void)untouched_usage;

    /* SWEEP */

    aisopod_quarantine_entry_free(entry);
    aisopod_probe_results_free(results);
    aisopod_capability_free(capability);
    aisopod_plugin_info_free(info);
    aisopod_diagnostic_free(diagnostic);
    aisopod_loader_free(loader);
    printf("%u passed, %u failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
"#;

fn header_functions() -> Vec<Function> {
    let header = std::fs::read_to_string(HEADER).unwrap();
    parse_header(&header).unwrap_or_else(|e| panic!("parsing {HEADER}: {e}"))
}

/// The compiled sweep and the plugin tree it runs over, built once for the tests that run it.
struct Built {
    binary: PathBuf,
    tree: PathBuf,
    crashing: PathBuf,
    sweep: Sweep,
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let sweep = generate(&header_functions()).unwrap_or_else(|e| panic!("the NULL sweep cannot cover it: {e}"));
        let work = temp_dir("null-sweep");
        let tree = work.join("plugins");
        add_hello_plugin(&tree);
        write_plugin(&tree, "broken", "[plugin]\nid = \"broken\"\n", "broken", None);
        let crashing = work.join("crashing");
        add_test_plugin(&crashing, "crasher", &["CTOR_ABORT"]);

        let source = work.join("null_sweep.c");
        std::fs::write(&source, &sweep.source).unwrap();
        let binary = work.join("null_sweep");
        let lib_dir = cdylib_dir();
        // The calls pass NULL on purpose, so -Wnonnull would only get in the way should the header ever gain
        // nonnull attributes; -g gives valgrind's reports file and line.
        let result = c_compiler()
            .args(["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-Wno-nonnull", "-g"])
            .arg(format!("-I{MANIFEST_DIR}/include"))
            .arg("-o")
            .arg(&binary)
            .arg(&source)
            .arg(format!("-L{}", lib_dir.display()))
            .arg("-laisopod_loader")
            .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
            .output()
            .unwrap();
        assert!(result.status.success(), "compiling {}: {}", source.display(), String::from_utf8_lossy(&result.stderr));
        Built { binary, tree, crashing, sweep }
    })
}

/// Checks the program's report: one passing line per expected check, then the tally.
fn assert_report(output: &Output, expected_checks: usize, what: &str) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let failures: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(
        output.status.success() && failures.is_empty(),
        "{what} failed ({}):\n{}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status,
        failures.join("\n")
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let (tally, checks) = lines.split_last().expect("the sweep printed nothing");
    assert_eq!(*tally, format!("{expected_checks} passed, 0 failed"), "{what}:\n{stdout}");
    assert_eq!(checks.len(), expected_checks, "{what}: one line per check:\n{stdout}");
    assert!(checks.iter().all(|l| l.starts_with("ok ")), "{what}:\n{stdout}");
}

#[test]
fn header_prototypes_match_the_exports() {
    let functions = header_functions();
    assert!(
        functions.len() >= MIN_FUNCTIONS,
        "parsed only {} functions from {HEADER}, expected at least {MIN_FUNCTIONS}",
        functions.len()
    );
    let parsed: BTreeSet<&str> = functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(parsed.len(), functions.len(), "a function is declared twice");

    let cdylib = cdylib_dir().join(library_name("aisopod_loader"));
    let nm = Command::new("nm").args(["-D", "--defined-only"]).arg(&cdylib).output().expect("nm runs");
    assert!(nm.status.success(), "nm {}: {}", cdylib.display(), String::from_utf8_lossy(&nm.stderr));
    let nm = String::from_utf8_lossy(&nm.stdout);
    let exported: BTreeSet<&str> =
        nm.lines().filter_map(|l| l.split_whitespace().last()).filter(|s| s.starts_with("aisopod_")).collect();
    let missing: Vec<_> = parsed.difference(&exported).collect();
    let undeclared: Vec<_> = exported.difference(&parsed).collect();
    assert!(missing.is_empty(), "declared in the header but not exported by {}: {missing:?}", cdylib.display());
    assert!(undeclared.is_empty(), "exported by {} but not parsed from the header: {undeclared:?}", cdylib.display());
}

#[test]
fn every_pointer_argument_takes_null_as_documented() {
    let built = built();
    let output = Command::new(&built.binary)
        .arg(&built.tree)
        .arg(&built.crashing)
        .env_remove("AISOPOD_PLUGIN_PATH")
        .env_remove("AISOPOD_HELPER")
        .output()
        .unwrap();
    assert_report(&output, built.sweep.checks, "the NULL sweep");
    // The grant's two accepted NULLs give what its EXPECTATIONS entry says, not just any status but NULL_ARGUMENT.
    let stdout = String::from_utf8_lossy(&output.stdout);
    for (case, status) in [("id = NULL", "accepted: 0 ("), ("path = NULL", "accepted: 3 (")] {
        let line = format!("ok   aisopod_loader_grant({case}): {status}");
        assert!(stdout.lines().any(|l| l.starts_with(&line)), "no line `{line}...` in:\n{stdout}");
    }
    // Every function with a pointer parameter was swept; only the ones without any were left out.
    let without_pointers = EXPECTATIONS.iter().filter(|(_, e)| matches!(e, Expect::NoPointer)).count();
    assert_eq!(built.sweep.functions + without_pointers, header_functions().len());
}

#[test]
fn null_sweep_is_clean_under_valgrind() {
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("valgrind is not on PATH; skipping");
        return;
    }
    let built = built();
    let output = Command::new("valgrind")
        .args(["--leak-check=full", "--error-exitcode=1"])
        .arg(&built.binary)
        .arg(&built.tree)
        .arg(&built.crashing)
        .env_remove("AISOPOD_PLUGIN_PATH")
        .env_remove("AISOPOD_HELPER")
        .output()
        .unwrap();
    assert_report(&output, built.sweep.checks, "the NULL sweep under valgrind");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ERROR SUMMARY: 0 errors"), "valgrind found errors:\n{stderr}");
    assert!(
        stderr.contains("definitely lost: 0 bytes") || stderr.contains("no leaks are possible"),
        "valgrind found a leak:\n{stderr}"
    );
}

/// The generator refuses, by name, what it cannot sweep: a type or function the tables do not know.
#[test]
fn generator_refuses_what_the_tables_do_not_cover() {
    let header = std::fs::read_to_string(HEADER).unwrap();
    let refused = |extra: &str, expected: &str| {
        let functions = parse_header(&format!("{header}\n{extra}\n")).unwrap();
        let error = generate(&functions).err().unwrap_or_else(|| panic!("the sweep accepted {extra}"));
        assert!(error.contains(expected), "{error:?} does not say {expected:?}");
    };
    refused(
        "aisopod_status aisopod_loader_frob(const struct aisopod_loader *loader,\n    const struct frob *frob);",
        "aisopod_loader_frob: parameter `frob` has type `const struct frob *`",
    );
    refused(
        "double aisopod_loader_ratio(const struct aisopod_loader *loader);",
        "aisopod_loader_ratio returns `double`",
    );
    refused(
        "size_t aisopod_loader_ports(const struct aisopod_loader *loader);",
        "aisopod_loader_ports has no entry in EXPECTATIONS",
    );
}

/// Only top-level prototypes count: not typedefs, not struct members, not the plugins' own entry points.
#[test]
fn parser_reads_only_top_level_prototypes() {
    let text = "typedef void (*aisopod_cb)(void *userdata,\n    int level);\n\
                struct s {\n  int32_t (*aisopod_member)(const struct s *self);\n};\n\
                AISOPOD_PLUGIN_EXPORT uint32_t aisopod_plugin_abi_version(void);\n\
                const char *aisopod_thing_at(const struct aisopod_thing *thing,\n\
                \x20                            size_t index);\n";
    let functions = parse_header(text).unwrap();
    assert_eq!(
        functions,
        [Function {
            name: "aisopod_thing_at".into(),
            return_type: "const char *".into(),
            params: vec![
                Param { ty: "const struct aisopod_thing *".into(), name: "thing".into() },
                Param { ty: "size_t".into(), name: "index".into() },
            ],
        }]
    );
}
