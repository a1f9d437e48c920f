//! The loader's metrics switch, and reading a loaded plugin's metrics.

use std::sync::atomic::Ordering;

use super::{Hosted, Loader};
use crate::error::{Error, Result, Status};
use crate::manifest::CapabilityKind;
use crate::metrics::{CapabilityMetrics, PluginMetrics, PluginStats};
use crate::sync::write;

impl Hosted {
    pub(super) fn metrics(&self) -> &PluginStats {
        match self {
            Hosted::Local(plugin) => &plugin.metrics,
            Hosted::Isolated(plugin) => &plugin.metrics,
        }
    }

    /// Turns the plugin's metrics on or off, making its counters the first time.
    fn set_metrics(&self, enabled: bool) {
        self.metrics().set_enabled(enabled, || match self {
            Hosted::Local(plugin) => plugin.registered_capabilities(),
            Hosted::Isolated(plugin) => plugin.capability_names(),
        });
    }
}

impl Loader {
    /// Turns metrics on or off (default: off) for every plugin loaded now or later, in this process or
    /// isolated. While they are off, a call reads no clock and counts nothing: a resolved call costs one more
    /// relaxed load and branch. Turning them off keeps what was counted; turning them on again adds to it.
    pub fn set_metrics(&self, enabled: bool) {
        // Under the write lock, so that a plugin being added sees either this value or its own copy set here.
        let loaded = write(&self.loaded);
        self.metrics.store(enabled, Ordering::Relaxed);
        for plugin in loaded.by_id.values() {
            plugin.set_metrics(enabled);
        }
    }

    /// Whether metrics are on.
    pub fn metrics_enabled(&self) -> bool {
        self.metrics.load(Ordering::Relaxed)
    }

    /// Gives plugin `plugin`, about to be recorded as loaded, the loader's switch. The caller holds the write
    /// lock on the loaded set.
    pub(super) fn switch_metrics_of(&self, plugin: &Hosted) {
        plugin.set_metrics(self.metrics.load(Ordering::Relaxed));
    }

    /// What loaded plugin `id` has cost since it was loaded (or reloaded). `InvalidArgument` while metrics are
    /// off; `NotLoaded` when it is not loaded.
    pub fn plugin_metrics(&self, id: &str) -> Result<PluginMetrics> {
        self.check_metrics_on(id)?;
        let plugin = self.get_loaded(id)?;
        let mut metrics = plugin.metrics().snapshot();
        if let Hosted::Isolated(isolated) = &plugin {
            let usage = isolated.usage();
            metrics.cpu_ns = (usage.user_micros + usage.system_micros).saturating_mul(1000);
        }
        Ok(metrics)
    }

    /// What capability `name` of `kind` of loaded plugin `id` has cost since the plugin was loaded (or
    /// reloaded). `InvalidArgument` while metrics are off; `NotLoaded` when the plugin is not loaded;
    /// `CapabilityNotFound` when it registered no such capability.
    pub fn capability_metrics(&self, id: &str, kind: CapabilityKind, name: &str) -> Result<CapabilityMetrics> {
        self.check_metrics_on(id)?;
        let plugin = self.get_loaded(id)?;
        let stats = plugin
            .metrics()
            .capability(kind, name)
            .ok_or_else(|| Error::new(Status::CapabilityNotFound, format!("plugin '{id}' has no {kind} '{name}'")))?;
        Ok(stats.snapshot())
    }

    fn check_metrics_on(&self, id: &str) -> Result<()> {
        if self.metrics_enabled() {
            Ok(())
        } else {
            Err(Error::new(
                Status::InvalidArgument,
                format!("metrics of plugin '{id}': metrics are off; turn them on first (aisopod_loader_set_metrics)"),
            ))
        }
    }
}
