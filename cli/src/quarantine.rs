//! `aisopod quarantine`: the quarantine records kept in a registry cache file, listed or lifted.
//!
//! The loader reads a cache's quarantine during discovery, and discovery rewrites the cache with what it found;
//! so the records are read by a discovery of no search paths over a copy of the file, and the real file is
//! written only to lift records, with its cached manifests kept as they are.

use std::path::{Path, PathBuf};

use aisopod_loader::{default_cache_path, Loader, QuarantineRecord};
use clap::Subcommand;
use serde_json::{json, Value};

use crate::EXIT_FAILED;

#[derive(Subcommand)]
pub enum Action {
    /// Print the quarantined libraries: plugin id, library, status, date and reason.
    List {
        /// Only this plugin's records.
        id: Option<String>,
        /// The registry cache file (default: the loader's default cache path).
        #[arg(long, value_name = "FILE")]
        cache: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Lift the quarantine of one plugin, or of every plugin: discovery lets it in and probes it anew.
    Clear {
        /// The plugin whose records to lift (default: every plugin).
        id: Option<String>,
        /// The registry cache file (default: the loader's default cache path).
        #[arg(long, value_name = "FILE")]
        cache: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(action: &Action) -> Result<u8, String> {
    match action {
        Action::List { id, cache, json } => list(id.as_deref(), cache.clone(), *json),
        Action::Clear { id, cache, json } => clear(id.as_deref(), cache.clone(), *json),
    }
}

fn list(id: Option<&str>, cache: Option<PathBuf>, json_output: bool) -> Result<u8, String> {
    let cache = cache_path(cache)?;
    let loader = loader_with_quarantine_of(&cache)?;
    let records: Vec<QuarantineRecord> =
        loader.quarantine().into_iter().filter(|r| id.is_none_or(|id| r.plugin_id == id)).collect();
    if json_output {
        let report = json!({
            "cache": cache,
            "records": records.iter().map(record_json).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
        return Ok(0);
    }
    println!("cache: {}", cache.display());
    println!("{} quarantined librar{}", records.len(), if records.len() == 1 { "y" } else { "ies" });
    for record in &records {
        let verdict = record.verdict.as_ref().expect("the loader lists quarantined records only");
        println!("\n{} {}", record.plugin_id, aisopod_loader::status_name(verdict.status));
        println!("  {}", record.error().message());
    }
    Ok(0)
}

fn clear(id: Option<&str>, cache: Option<PathBuf>, json_output: bool) -> Result<u8, String> {
    let cache = cache_path(cache)?;
    let loader = loader_with_quarantine_of(&cache)?;
    let lifted: Vec<QuarantineRecord> =
        loader.quarantine().into_iter().filter(|r| id.is_none_or(|id| r.plugin_id == id)).collect();
    if let (Some(id), true) = (id, lifted.is_empty()) {
        eprintln!("aisopod: no quarantined plugin '{id}' in {}", cache.display());
        return Ok(EXIT_FAILED);
    }
    if !lifted.is_empty() {
        loader.set_cache_path(Some(cache.clone()));
        loader.clear_quarantine(id).map_err(|e| e.to_string())?;
    }
    if json_output {
        let report = json!({
            "cache": cache,
            "cleared": lifted.iter().map(record_json).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
        return Ok(0);
    }
    println!("cleared {} record(s) in {}", lifted.len(), cache.display());
    for record in &lifted {
        println!("  {} {}", record.plugin_id, record.library.display());
    }
    Ok(0)
}

/// `given`, or the loader's default cache path.
fn cache_path(given: Option<PathBuf>) -> Result<PathBuf, String> {
    given.or_else(default_cache_path).ok_or_else(|| {
        "the loader has no default registry cache path (neither XDG_CACHE_HOME nor HOME is set): give --cache FILE"
            .to_owned()
    })
}

/// A loader that searches nothing and holds the quarantine of `cache`: see [`discover_with_quarantine_of`].
fn loader_with_quarantine_of(cache: &Path) -> Result<Loader, String> {
    let loader = Loader::new(aisopod_loader::VERSION).map_err(|e| e.to_string())?;
    loader.set_use_default_paths(false);
    loader.set_use_env_path(false);
    discover_with_quarantine_of(&loader, cache)?;
    Ok(loader)
}

/// Runs `loader`'s discovery with the quarantine of `cache` (minus records whose library is gone or changed,
/// which the loader drops too), read through a copy so that the file itself is not rewritten; the loader is
/// left with no cache. A missing file holds no records.
pub fn discover_with_quarantine_of(loader: &Loader, cache: &Path) -> Result<(), String> {
    let metadata = match std::fs::metadata(cache) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            loader.discover();
            return Ok(());
        }
        Err(e) => return Err(format!("{}: {e}", cache.display())),
    };
    // Copying a FIFO would block: the loader too reads only a regular file.
    if !metadata.is_file() {
        return Err(format!("{} is not a regular file, so it is no registry cache", cache.display()));
    }
    let copy = std::env::temp_dir().join(format!("aisopod-quarantine-{}.cache", std::process::id()));
    std::fs::copy(cache, &copy).map_err(|e| format!("cannot copy {} to {}: {e}", cache.display(), copy.display()))?;
    loader.set_cache_path(Some(copy.clone()));
    loader.discover();
    loader.set_cache_path(None);
    let _ = std::fs::remove_file(&copy);
    // A cache the loader refuses (another loader version, a failed checksum) holds no records for it either.
    let copy_name = copy.display().to_string();
    for diagnostic in loader.discovery().diagnostics().iter().filter(|d| d.path == copy) {
        let message = diagnostic.message.replace(&copy_name, &cache.display().to_string());
        eprintln!("aisopod: warning: {message}");
    }
    Ok(())
}

fn record_json(record: &QuarantineRecord) -> Value {
    let verdict = record.verdict.as_ref();
    json!({
        "plugin_id": record.plugin_id,
        "library": record.library,
        "since": record.since,
        "status": verdict.map(|v| aisopod_loader::status_name(v.status)),
        "reason": verdict.map(|v| v.reason.as_str()),
        "message": record.error().message(),
    })
}
