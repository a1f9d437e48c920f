//! `aisopod inspect`: what can be known of a plugin without loading it: its manifest, its library's ELF facts,
//! its integrity pin, its signature file and whether the quarantine holds its library.

use std::path::{Path, PathBuf};

use aisopod_loader::signature::{SignatureFile, SIGNATURE_FILE_NAME};
use aisopod_loader::{default_cache_path, Manifest, PluginInfo, Sha256Digest, MANIFEST_FILE_NAME};
use serde_json::{json, Value};

use crate::{elf_facts, list, EXIT_FAILED};

/// Inspects the plugin directory or id `plugin`; ids are looked up on `paths` (the defaults when empty).
pub fn run(plugin: &str, paths: &[PathBuf], json_output: bool) -> Result<u8, String> {
    let Some((info, search_paths)) = find(plugin, paths)? else {
        eprintln!("aisopod: no plugin directory or discovered plugin '{plugin}'");
        return Ok(EXIT_FAILED);
    };
    let report = report(&info, &search_paths);
    if json_output {
        println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
    } else {
        print_text(&info, &report);
    }
    Ok(0)
}

/// The plugin `plugin` names, a directory holding a manifest or a discovered id, with the search paths that
/// find it again.
fn find(plugin: &str, paths: &[PathBuf]) -> Result<Option<(PluginInfo, Vec<PathBuf>)>, String> {
    let dir = Path::new(plugin);
    if dir.join(MANIFEST_FILE_NAME).is_file() {
        let manifest = Manifest::read(&dir.join(MANIFEST_FILE_NAME)).map_err(|e| e.to_string())?;
        let parent = dir.canonicalize().map_err(|e| format!("{plugin}: {e}"))?.parent().map(Path::to_path_buf);
        return Ok(Some((PluginInfo { manifest, directory: dir.to_path_buf() }, parent.into_iter().collect())));
    }
    let loader = list::new_loader(paths)?;
    loader.discover();
    let discovery = loader.discovery();
    let found = discovery
        .find(plugin)
        .or_else(|| discovery.find_quarantined(plugin))
        .or_else(|| discovery.find_denied(plugin))
        .or_else(|| discovery.find_unresolved(plugin).map(|(info, _)| info));
    Ok(found.map(|info| ((**info).clone(), loader.search_paths())))
}

fn report(info: &PluginInfo, search_paths: &[PathBuf]) -> Value {
    let m = &info.manifest;
    let library = info.library_path();
    let mut plugin = list::plugin_json(info);
    let extra = json!({
        "description": m.description,
        "author": m.author,
        "entry_point": m.entry_point,
        "thread_safe": m.thread_safe,
        "unload": m.unload,
        "isolation": m.isolation.map(|i| i.name()),
        "license": m.license,
        "homepage": m.homepage,
        "repository": m.repository,
        "min_host_version": m.min_host_version.as_ref().map(ToString::to_string),
        "max_host_version": m.max_host_version.as_ref().map(ToString::to_string),
        "warnings": m.warnings,
    });
    if let (Value::Object(base), Value::Object(more)) = (&mut plugin, extra) {
        base.extend(more);
    }
    json!({
        "manifest": plugin,
        "library": match elf_facts::read(&library) {
            Ok(facts) => json!(facts),
            Err(error) => json!({ "error": error }),
        },
        "pin": pin(m, &library),
        "signature": signature(&info.directory),
        "quarantine": quarantine(&library, search_paths),
    })
}

/// `[plugin].sha256` against the library as it is now.
fn pin(m: &Manifest, library: &Path) -> Value {
    let Some(pinned) = &m.sha256 else { return json!({ "state": "unpinned" }) };
    let actual = std::fs::File::open(library).and_then(|file| Sha256Digest::of_file(&file));
    match actual {
        Ok(actual) if actual == **pinned => json!({ "state": "matches", "sha256": pinned.to_string() }),
        Ok(actual) => json!({ "state": "mismatch", "sha256": pinned.to_string(), "actual": actual.to_string() }),
        Err(e) => json!({ "state": "unreadable", "sha256": pinned.to_string(), "error": e.to_string() }),
    }
}

/// The signature file: absent, malformed (with the loader's parse error) or signed by a key. Whether the key
/// is trusted is the host's setting, checked when it loads the plugin.
fn signature(directory: &Path) -> Value {
    let path = directory.join(SIGNATURE_FILE_NAME);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return json!({ "state": "unsigned" }),
        Err(e) => return json!({ "state": "unreadable", "error": format!("{}: {e}", path.display()) }),
    };
    match SignatureFile::parse(&bytes, &path) {
        Ok(file) => json!({ "state": "signed", "key_id": file.key_id.to_string() }),
        Err(e) => {
            json!({ "state": "malformed", "status": aisopod_loader::status_name(e.status()), "error": e.message() })
        }
    }
}

/// Whether the quarantine in the default registry cache holds the library. The cache is read from a copy, as
/// discovery rewrites the cache it uses.
fn quarantine(library: &Path, search_paths: &[PathBuf]) -> Value {
    let Some(cache) = default_cache_path().filter(|p| p.is_file()) else {
        return json!({ "state": "clear", "cache": Value::Null });
    };
    let copy = std::env::temp_dir().join(format!("aisopod-inspect-{}.cache", std::process::id()));
    if let Err(e) = std::fs::copy(&cache, &copy) {
        return json!({ "state": "unknown", "cache": cache, "error": e.to_string() });
    }
    let loader = match list::new_loader(search_paths) {
        Ok(loader) => loader,
        Err(e) => return json!({ "state": "unknown", "error": e }),
    };
    loader.set_cache_path(Some(copy.clone()));
    loader.discover();
    let records = loader.quarantine();
    let _ = std::fs::remove_file(&copy);
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let library = canonical(library);
    match records.iter().find(|r| canonical(&r.library) == library && r.verdict.is_some()) {
        Some(record) => {
            let verdict = record.verdict.as_ref().expect("filtered on a verdict");
            json!({
                "state": "quarantined",
                "cache": cache,
                "status": aisopod_loader::status_name(verdict.status),
                "reason": verdict.reason,
                "since": record.since,
            })
        }
        None => json!({ "state": "clear", "cache": cache }),
    }
}

fn print_text(info: &PluginInfo, report: &Value) {
    let m = &info.manifest;
    println!("{} {} ({})", m.id, m.version, m.name);
    println!("  directory: {}", info.directory.display());
    println!("  description: {}", m.description);
    println!("  author: {}", m.author);
    for line in list::capability_lines(m) {
        println!("  {line}");
    }
    if !m.dependencies.is_empty() {
        println!("  dependencies: {}", list::dependency_list(m).join(", "));
    }
    let min = m.min_host_version.as_ref().map_or("-".to_owned(), ToString::to_string);
    let max = m.max_host_version.as_ref().map_or("-".to_owned(), ToString::to_string);
    println!("  host versions: {min} to {max}");
    println!("library: {}", info.library_path().display());
    let library = &report["library"];
    if let Some(error) = library["error"].as_str() {
        println!("  error: {error}");
    } else {
        println!("  machine: {} ({}-bit)", library["machine"].as_str().unwrap_or("?"), library["class_bits"]);
        let exports: Vec<&str> =
            library["aisopod_exports"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        println!(
            "  exports: {}",
            if exports.is_empty() { "(no aisopod_ symbols)".to_owned() } else { exports.join(", ") }
        );
        for needed in library["needed"].as_array().into_iter().flatten() {
            let name = needed["name"].as_str().unwrap_or("?");
            match needed["resolved"].as_str() {
                Some(path) => println!("  needs {name}: {path} ({})", needed["via"].as_str().unwrap_or("?")),
                None => println!("  needs {name}: NOT FOUND"),
            }
        }
    }
    println!("pin: {}", one_line(&report["pin"]));
    println!("signature: {}", one_line(&report["signature"]));
    println!("quarantine: {}", one_line(&report["quarantine"]));
}

/// `state (key value, ...)` from a JSON object with a "state" field.
fn one_line(value: &Value) -> String {
    let state = value["state"].as_str().unwrap_or("?");
    let rest: Vec<String> = value
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| *k != "state" && !v.is_null())
        .map(|(k, v)| format!("{k} {}", v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
        .collect();
    if rest.is_empty() {
        state.to_owned()
    } else {
        format!("{state} ({})", rest.join(", "))
    }
}
