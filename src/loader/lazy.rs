//! The lazy policy: a discovered plugin that is not loaded is loaded, with its dependencies, and initialized on
//! its first invoke, resolve or emit, with the config the host set for it beforehand. Until then the host
//! knows its capabilities from its manifest alone, and no library is opened.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use super::{Hosted, Loader};
use crate::cache::BuildFnv;
use crate::error::{Error, Result};
use crate::manifest::CapabilityKind;
use crate::plugin::refuse_reentry;
use crate::sync::lock;

/// The first-use loads that failed since the last discovery, by id, with their error: a later call gets the
/// same error without loading again.
pub(super) type LazyFailures = std::sync::Mutex<HashMap<String, Error, BuildFnv>>;

impl Loader {
    /// Turns the lazy policy on or off (default: off). With it on, [`Loader::invoke`], [`Loader::resolve`] and
    /// [`Loader::emit`] load and initialize a discovered plugin that is not loaded yet, with its dependencies,
    /// on its first use. A plugin the host loaded itself is left to the host to initialize.
    pub fn set_lazy(&self, lazy: bool) {
        self.lazy.store(lazy, Ordering::Relaxed);
    }

    /// Whether the lazy policy is on.
    pub fn is_lazy(&self) -> bool {
        self.lazy.load(Ordering::Relaxed)
    }

    /// Loaded plugin `id`; under the lazy policy, a discovered one is loaded and initialized first. Concurrent
    /// first calls load it once: the others wait for that load and use its result.
    pub(super) fn get_or_load(&self, id: &str) -> Result<Hosted> {
        let loaded = self.get_loaded(id);
        if !self.is_lazy() {
            return loaded;
        }
        match loaded {
            Ok(plugin) if plugin.is_initialized() => Ok(plugin),
            // Not loaded, or loaded by a first use on another thread that has not initialized it yet: that
            // thread holds the lifecycle lock until it has.
            _ => self.load_on_first_use(id),
        }
    }

    #[cold]
    fn load_on_first_use(&self, id: &str) -> Result<Hosted> {
        refuse_reentry("the first use of a lazily loaded plugin")?;
        let _lifecycle = lock(&self.lifecycle);
        if let Ok(plugin) = self.get_loaded(id) {
            return Ok(plugin);
        }
        if let Some(error) = lock(&self.lazy_failures).get(id) {
            return Err(error.clone());
        }
        let result = self.load_with_dependencies(id).and_then(|mut loaded_now| {
            let started = self.init_dependencies(id).and_then(|()| {
                let plugin = self.get_loaded(id)?;
                let (config, data_dir) = self.config_of(id);
                plugin.init(&config, &data_dir)?;
                self.record_init(id, &config, &data_dir);
                Ok(plugin)
            });
            if started.is_err() {
                self.unload_again(&mut loaded_now, 0);
            }
            started
        });
        // Only a plugin discovery found is remembered: any id a host asks for would otherwise take room.
        if let (Err(error), true) = (&result, self.discovery().find(id).is_some()) {
            lock(&self.lazy_failures).insert(id.to_owned(), error.clone());
        }
        result
    }

    /// Under the lazy policy, loads every discovered plugin that declares a hook for `event` and is not loaded
    /// yet. Returns the first failure; the others are remembered and returned by their own next use.
    pub(super) fn load_hooks_on_first_use(&self, event: &str) -> Option<Error> {
        if !self.is_lazy() {
            return None;
        }
        let discovery = self.discovery();
        let mut first_error = None;
        for info in discovery.plugins() {
            let id = info.manifest.id.as_str();
            if !info.manifest.declared(CapabilityKind::Hook).iter().any(|hook| hook == event) {
                continue;
            }
            if let Err(e) = self.get_or_load(id) {
                first_error.get_or_insert(e);
            }
        }
        first_error
    }

    /// Forgets a failed first use of `id`, so that the next use tries again.
    pub(super) fn forget_lazy_failure(&self, id: &str) {
        lock(&self.lazy_failures).remove(id);
    }
}
