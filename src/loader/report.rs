//! The load report: one JSON document of what a loader is configured with, what it loaded, what it found and
//! left, what it refused and what it quarantined, in the versioned schema
//! `schema/aisopod-loader-report-1.schema.json` describes.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::{Hosted, Loader, PluginState};
use crate::abi::AISOPOD_ABI_VERSION;
use crate::discovery::PluginInfo;
use crate::error::status_name;
use crate::manifest::Dependency;
use crate::metrics::CapabilityMetrics;
use crate::trust::{FilePolicy, SignaturePolicy};

/// The value of the report's `schema` field. Fields are only added within a version; removing or renaming a
/// field, or changing its type or meaning, makes the next version.
pub const REPORT_SCHEMA: &str = "aisopod-loader-report/1";

#[derive(Serialize)]
struct Report {
    schema: &'static str,
    loader: LoaderSection,
    loaded: Vec<LoadedPlugin>,
    discovered: Vec<DiscoveredPlugin>,
    diagnostics: Vec<Diagnostic>,
    quarantine: Vec<QuarantineRecord>,
}

#[derive(Serialize)]
struct LoaderSection {
    version: &'static str,
    abi_version: u32,
    host_version: String,
    search_paths: Vec<String>,
    cache_path: Option<String>,
    lazy: bool,
    metrics: bool,
    file_policy: &'static str,
    signature_policy: &'static str,
}

#[derive(Serialize)]
struct LoadedPlugin {
    id: String,
    version: String,
    state: &'static str,
    directory: String,
    library: String,
    isolation: &'static str,
    generation: u64,
    capabilities: BTreeMap<&'static str, Vec<String>>,
    dependencies: Vec<String>,
    load_ns: u64,
    init_ns: u64,
    /// Present while metrics are on.
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<PluginMetrics>,
    /// Present for a plugin in a helper process.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
}

#[derive(Serialize)]
struct PluginMetrics {
    calls: u64,
    failures: u64,
    total_ns: u64,
    cpu_ns: u64,
    capabilities: Vec<CapabilityFigures>,
}

#[derive(Serialize)]
struct CapabilityFigures {
    kind: &'static str,
    name: String,
    calls: u64,
    failures: u64,
    total_ns: u64,
    p50_ns: u64,
    p99_ns: u64,
    cpu_ns: u64,
}

#[derive(Serialize)]
struct Usage {
    user_us: u64,
    system_us: u64,
    peak_rss_bytes: u64,
    calls: u64,
    restarts: u32,
}

#[derive(Serialize)]
struct DiscoveredPlugin {
    id: String,
    version: String,
    directory: String,
    capabilities: BTreeMap<&'static str, Vec<String>>,
    dependencies: Vec<DeclaredDependency>,
}

#[derive(Serialize)]
struct DeclaredDependency {
    id: String,
    requirement: String,
    optional: bool,
}

#[derive(Serialize)]
struct Diagnostic {
    status: String,
    code: u32,
    path: String,
    message: String,
}

#[derive(Serialize)]
struct QuarantineRecord {
    id: String,
    library: String,
    since: u64,
    status: String,
    code: u32,
    reason: String,
}

fn text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn state_name(state: PluginState) -> &'static str {
    match state {
        PluginState::Loaded => "AISOPOD_PLUGIN_STATE_LOADED",
        PluginState::Initialized => "AISOPOD_PLUGIN_STATE_INITIALIZED",
        PluginState::Crashed => "AISOPOD_PLUGIN_STATE_CRASHED",
    }
}

/// Capability names by kind, under the manifest's `[capabilities]` keys (`tools`, `commands`, ...) as
/// `aisopod list --json` has them, every kind present.
fn by_kind<'a>(
    kinds: impl IntoIterator<Item = (crate::CapabilityKind, &'a Vec<String>)>,
) -> BTreeMap<&'static str, Vec<String>> {
    kinds.into_iter().map(|(kind, names)| (kind.manifest_key(), names.clone())).collect()
}

fn declared(dependency: &Dependency) -> DeclaredDependency {
    DeclaredDependency {
        id: dependency.id.clone(),
        requirement: dependency.requirement.to_string(),
        optional: dependency.optional,
    }
}

fn figures(kind: crate::CapabilityKind, name: &str, metrics: CapabilityMetrics) -> CapabilityFigures {
    CapabilityFigures {
        kind: kind.as_str(),
        name: name.to_owned(),
        calls: metrics.count,
        failures: metrics.failures,
        total_ns: metrics.total_ns,
        p50_ns: metrics.p50_ns,
        p99_ns: metrics.p99_ns,
        cpu_ns: metrics.cpu_ns,
    }
}

impl Loader {
    /// The load report, as a JSON document in schema [`REPORT_SCHEMA`]. It reads the loader's state one part
    /// at a time: a plugin loaded or unloaded meanwhile may be in one part and not another.
    pub fn report_json(&self) -> String {
        serde_json::to_string_pretty(&self.report()).expect("the report holds only strings, numbers and maps")
    }

    fn report(&self) -> Report {
        let (plugins, bound) = {
            let loaded = super::read(&self.loaded);
            (loaded.order.clone(), loaded.bound.clone())
        };
        let loaded: Vec<LoadedPlugin> =
            plugins.iter().map(|plugin| self.loaded_plugin(plugin, bound.get(&plugin.info().manifest.id))).collect();
        let discovery = self.discovery();
        let discovered = discovery
            .plugins()
            .iter()
            .filter(|info| !loaded.iter().any(|plugin| plugin.id == info.manifest.id))
            .map(|info| discovered_plugin(info))
            .collect();
        let diagnostics = discovery
            .diagnostics()
            .iter()
            .map(|d| Diagnostic {
                status: status_name(d.status),
                code: d.status as u32,
                path: text(&d.path),
                message: d.message.clone(),
            })
            .collect();
        let quarantine = self
            .quarantine()
            .into_iter()
            .filter_map(|record| {
                let verdict = record.verdict?;
                Some(QuarantineRecord {
                    id: record.plugin_id,
                    library: text(&record.library),
                    since: record.since,
                    status: status_name(verdict.status),
                    code: verdict.status as u32,
                    reason: verdict.reason,
                })
            })
            .collect();
        Report { schema: REPORT_SCHEMA, loader: self.loader_section(), loaded, discovered, diagnostics, quarantine }
    }

    fn loader_section(&self) -> LoaderSection {
        LoaderSection {
            version: env!("CARGO_PKG_VERSION"),
            abi_version: AISOPOD_ABI_VERSION,
            host_version: self.host_version.to_string(),
            search_paths: self.search_paths().iter().map(|p| text(p)).collect(),
            cache_path: self.cache_path().as_deref().map(text),
            lazy: self.is_lazy(),
            metrics: self.metrics_enabled(),
            file_policy: match self.file_policy() {
                FilePolicy::Strict => "strict",
                FilePolicy::Warn => "warn",
                FilePolicy::Off => "off",
            },
            signature_policy: match self.signature_policy() {
                SignaturePolicy::AllowUnsigned => "allow-unsigned",
                SignaturePolicy::Required => "required",
            },
        }
    }

    fn loaded_plugin(&self, plugin: &Hosted, bound: Option<&Vec<String>>) -> LoadedPlugin {
        let info = plugin.info();
        let id = info.manifest.id.as_str();
        let names = match plugin {
            Hosted::Local(local) => local.registered_capabilities(),
            Hosted::Isolated(isolated) => isolated.capability_names(),
        };
        let stats = plugin.metrics().snapshot();
        let metrics = self.plugin_metrics(id).ok().map(|totals| PluginMetrics {
            calls: totals.calls,
            failures: totals.failures,
            total_ns: totals.total_ns,
            cpu_ns: totals.cpu_ns,
            capabilities: names
                .iter()
                .flat_map(|(kind, names)| names.iter().map(move |name| (kind, name)))
                .filter_map(|(kind, name)| {
                    let stats = plugin.metrics().capability(kind, name)?;
                    Some(figures(kind, name, stats.snapshot()))
                })
                .collect(),
        });
        let (isolation, usage) = match plugin {
            Hosted::Local(_) => ("none", None),
            Hosted::Isolated(isolated) => {
                let usage = isolated.usage();
                let usage = Usage {
                    user_us: usage.user_micros,
                    system_us: usage.system_micros,
                    peak_rss_bytes: usage.peak_rss_bytes,
                    calls: usage.calls,
                    restarts: usage.restarts,
                };
                ("process", Some(usage))
            }
        };
        LoadedPlugin {
            id: id.to_owned(),
            version: info.manifest.version.to_string(),
            state: self.plugin_state(id).map_or("AISOPOD_PLUGIN_STATE_UNLOADED", state_name),
            directory: text(&info.directory),
            library: text(&info.library_path()),
            isolation,
            generation: plugin.generation().number(),
            capabilities: by_kind(names.iter()),
            dependencies: bound.cloned().unwrap_or_default(),
            load_ns: stats.load_ns,
            init_ns: stats.init_ns,
            metrics,
            usage,
        }
    }
}

fn discovered_plugin(info: &PluginInfo) -> DiscoveredPlugin {
    DiscoveredPlugin {
        id: info.manifest.id.clone(),
        version: info.manifest.version.to_string(),
        directory: text(&info.directory),
        capabilities: by_kind(info.manifest.capabilities.iter()),
        dependencies: info.manifest.dependencies.iter().map(declared).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Status;

    #[test]
    fn status_names_are_the_headers() {
        assert_eq!(status_name(Status::Ok), "AISOPOD_STATUS_OK");
        assert_eq!(status_name(Status::AbiMismatch), "AISOPOD_STATUS_ABI_MISMATCH");
        assert_eq!(status_name(Status::NullArgument), "AISOPOD_STATUS_NULL_ARGUMENT");
        let header = include_str!("../../include/aisopod_loader.h");
        for status in Status::ALL {
            let line = format!("  {} = {},", status_name(status), status as u32);
            assert!(header.contains(&line), "the header has no `{line}`");
        }
    }

    #[test]
    fn an_empty_loader_reports_its_settings_and_nothing_else() {
        let loader = Loader::new("2.3.4").unwrap();
        loader.set_use_env_path(false);
        loader.set_use_default_paths(false);
        loader.add_search_path("/nonexistent/plugins");
        let report: serde_json::Value = serde_json::from_str(&loader.report_json()).unwrap();
        assert_eq!(report["schema"], "aisopod-loader-report/1");
        assert_eq!(report["loader"]["host_version"], "2.3.4");
        assert_eq!(report["loader"]["search_paths"], serde_json::json!(["/nonexistent/plugins"]));
        assert_eq!(report["loader"]["metrics"], false);
        assert_eq!(report["loader"]["file_policy"], "strict");
        assert_eq!(report["loaded"], serde_json::json!([]));
        assert_eq!(report["diagnostics"], serde_json::json!([]));
    }
}
