//! Per-plugin metrics: load and init durations, and for each capability its calls, failures, latency and CPU
//! time. Each plugin holds its own, with one slot per registered capability made when metrics are turned on,
//! so recording a call allocates nothing and takes no lock; a reload or unload makes or drops the plugin, and
//! so its metrics.

mod clock;
mod histogram;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use self::histogram::Histogram;
use crate::cache::BuildFnv;
use crate::capability_kind::PerKind;
use crate::error::Result;
use crate::manifest::CapabilityKind;

/// What a loaded plugin has cost since it was loaded, while metrics were on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PluginMetrics {
    /// How long its last load took (steps 1 to 9), in nanoseconds.
    pub load_ns: u64,
    /// How long its last `init` took, in nanoseconds; 0 before the first.
    pub init_ns: u64,
    /// Calls into its capabilities, hooks included.
    pub calls: u64,
    /// Those calls that failed.
    pub failures: u64,
    /// Wall-clock time spent in those calls, in nanoseconds.
    pub total_ns: u64,
    /// CPU time: in this process, the calling threads' CPU time inside its calls; for an isolated plugin, what
    /// its helper processes used (user plus system), whether metrics were on or not.
    pub cpu_ns: u64,
}

/// What one capability of a loaded plugin has cost since it was loaded, while metrics were on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapabilityMetrics {
    /// Calls.
    pub count: u64,
    /// Calls that failed.
    pub failures: u64,
    /// Wall-clock time of all calls, in nanoseconds.
    pub total_ns: u64,
    /// The median call's wall-clock time, in nanoseconds, within 1/16 (see [`histogram`]).
    pub p50_ns: u64,
    /// The 99th percentile call's wall-clock time, in nanoseconds, within 1/16.
    pub p99_ns: u64,
    /// The calling threads' CPU time inside the calls, in nanoseconds; 0 for an isolated plugin, whose CPU
    /// time is counted per plugin.
    pub cpu_ns: u64,
}

/// The counters of one capability.
#[derive(Default)]
pub(crate) struct CapabilityStats {
    count: AtomicU64,
    failures: AtomicU64,
    total_ns: AtomicU64,
    cpu_ns: AtomicU64,
    latency: Histogram,
}

impl CapabilityStats {
    /// Runs `call`, counting it with its wall-clock time and the calling thread's CPU time.
    #[inline(never)]
    pub(crate) fn measure_in_thread<T>(&self, call: impl FnOnce() -> Result<T>) -> Result<T> {
        let cpu_before = clock::thread_cpu_ns();
        let started = Instant::now();
        let result = call();
        let elapsed = started.elapsed();
        let cpu = clock::thread_cpu_ns().saturating_sub(cpu_before);
        self.record(elapsed, cpu, result.is_err());
        result
    }

    /// Runs `call`, which runs elsewhere (in a helper process), counting it with its wall-clock time.
    pub(crate) fn measure_remote<T>(&self, call: impl FnOnce() -> Result<T>) -> Result<T> {
        let started = Instant::now();
        let result = call();
        self.record(started.elapsed(), 0, result.is_err());
        result
    }

    fn record(&self, elapsed: Duration, cpu_ns: u64, failed: bool) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.count.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        self.total_ns.fetch_add(ns, Ordering::Relaxed);
        self.cpu_ns.fetch_add(cpu_ns, Ordering::Relaxed);
        self.latency.record(ns);
    }

    pub(crate) fn snapshot(&self) -> CapabilityMetrics {
        CapabilityMetrics {
            count: self.count.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            total_ns: self.total_ns.load(Ordering::Relaxed),
            p50_ns: self.latency.percentile(500),
            p99_ns: self.latency.percentile(990),
            cpu_ns: self.cpu_ns.load(Ordering::Relaxed),
        }
    }
}

/// The counters of each capability of a plugin, by kind and name.
type Capabilities = PerKind<HashMap<String, CapabilityStats, BuildFnv>>;

/// The metrics of one loaded plugin. The per-capability counters (about 4 KiB each, most of it the histogram)
/// are made the first time metrics are turned on for the plugin: a loader that never turns them on pays a few
/// words per plugin.
#[derive(Default)]
pub(crate) struct PluginStats {
    /// Whether calls are measured: the loader's switch, copied into each plugin so that checking it on the call
    /// path is one relaxed load of memory the call touches anyway.
    enabled: AtomicBool,
    load_ns: AtomicU64,
    init_ns: AtomicU64,
    capabilities: OnceLock<Box<Capabilities>>,
}

impl PluginStats {
    #[inline]
    pub(crate) fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Turns measuring on or off; the first time on, makes the counters of the capabilities `names` gives.
    pub(crate) fn set_enabled(&self, enabled: bool, names: impl FnOnce() -> PerKind<Vec<String>>) {
        if enabled {
            self.capabilities.get_or_init(|| {
                let names = names();
                Box::new(PerKind::from_fn(|kind| {
                    names[kind].iter().map(|name| (name.clone(), CapabilityStats::default())).collect()
                }))
            });
        }
        self.enabled.store(enabled, Ordering::Relaxed);
    }

    pub(crate) fn set_load(&self, took: Duration) {
        self.load_ns.store(nanos(took), Ordering::Relaxed);
    }

    pub(crate) fn set_init(&self, took: Duration) {
        self.init_ns.store(nanos(took), Ordering::Relaxed);
    }

    /// The counters of capability `name` of `kind`, once metrics were on and if the plugin registered it.
    #[inline]
    pub(crate) fn capability(&self, kind: CapabilityKind, name: &str) -> Option<&CapabilityStats> {
        self.capabilities.get()?[kind].get(name)
    }

    /// The plugin's totals, with `cpu_ns` summed over its capabilities.
    pub(crate) fn snapshot(&self) -> PluginMetrics {
        let mut metrics = PluginMetrics {
            load_ns: self.load_ns.load(Ordering::Relaxed),
            init_ns: self.init_ns.load(Ordering::Relaxed),
            ..PluginMetrics::default()
        };
        let capabilities = self.capabilities.get().into_iter().flat_map(|c| c.values()).flat_map(HashMap::values);
        for stats in capabilities {
            metrics.calls += stats.count.load(Ordering::Relaxed);
            metrics.failures += stats.failures.load(Ordering::Relaxed);
            metrics.total_ns += stats.total_ns.load(Ordering::Relaxed);
            metrics.cpu_ns += stats.cpu_ns.load(Ordering::Relaxed);
        }
        metrics
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
