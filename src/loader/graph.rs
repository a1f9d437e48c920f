//! The plugin graph in the loader: the host's requirements on plugin versions, the configs it sets ahead for
//! plugins the loader initializes on its own, loading a plugin's dependencies before it, initializing them
//! first, and refusing (or cascading) an unload that would leave a loaded plugin without a dependency.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use semver::VersionReq;

use super::{probing, Hosted, Loader};
use crate::discovery::PluginInfo;
use crate::error::{Error, Result, Status};
use crate::log::LogLevel;
use crate::manifest::{check_id_syntax, Dependency};
use crate::plugin::refuse_reentry;
use crate::sync::{lock, read, write};

impl Loader {
    /// Accepts only the versions of plugin `id` that `requirement` (a semver requirement, such as `"^2.1"`)
    /// matches, from the next discovery (a plugin outside it is set aside with a `Status::VersionRejected`
    /// diagnostic naming both) and the next load. `None` removes the requirement. A malformed id or requirement
    /// is `Status::InvalidArgument`.
    pub fn require(&self, id: &str, requirement: Option<&str>) -> Result<()> {
        check_id_syntax(id).map_err(|why| Error::new(Status::InvalidArgument, format!("plugin id {id:?} {why}")))?;
        let Some(requirement) = requirement else {
            write(&self.requirements).remove(id);
            return Ok(());
        };
        let parsed = VersionReq::parse(requirement).map_err(|e| {
            Error::new(
                Status::InvalidArgument,
                format!(
                    "requirement {requirement:?} for plugin '{id}' is not a semver requirement (such as \"^2.1\"): {e}"
                ),
            )
        })?;
        write(&self.requirements).insert(id.to_owned(), parsed);
        Ok(())
    }

    /// Sets the config and data directory the loader gives plugin `id`'s `init` when it initializes the plugin
    /// on its own: as a dependency of a plugin the host initializes, or on first use under the lazy policy.
    /// Without one, such an `init` gets an empty config and no data directory. Replaces an earlier one.
    /// A first use that failed under the lazy policy is tried again.
    pub fn set_config(&self, id: &str, config: &str, data_dir: &Path) {
        write(&self.configs).insert(id.to_owned(), (config.to_owned(), data_dir.to_path_buf()));
        self.forget_lazy_failure(id);
    }

    /// The config set for `id` with [`Loader::set_config`], or an empty one.
    pub(super) fn config_of(&self, id: &str) -> (String, PathBuf) {
        read(&self.configs).get(id).cloned().unwrap_or_default()
    }

    /// Loads `id` after those of its dependencies that are not loaded yet, each after its own. The caller holds
    /// the lifecycle lock. On failure, every plugin this call loaded is unloaded again, last first.
    /// Returns the plugins it loaded, in load order.
    pub(super) fn load_with_dependencies(&self, id: &str) -> Result<Vec<String>> {
        let mut loaded_now = Vec::new();
        match self.load_tree(id, &mut Vec::new(), &mut loaded_now) {
            Ok(()) => Ok(loaded_now),
            Err(e) => {
                self.unload_again(&mut loaded_now, 0);
                Err(e)
            }
        }
    }

    /// Loads `id`, which plugins `chain` need in turn (outermost first), after its dependencies; records in
    /// `loaded_now` what it loaded.
    fn load_tree(&self, id: &str, chain: &mut Vec<String>, loaded_now: &mut Vec<String>) -> Result<()> {
        let info = self.discovered_for_load(id).map_err(|e| in_chain(chain, id, e))?;
        self.check_requirement(&info).map_err(|e| in_chain(chain, id, e))?;
        chain.push(id.to_owned());
        let mut bound = Vec::new();
        for dependency in &info.manifest.dependencies {
            match self.bind(&info, dependency, chain, loaded_now) {
                Ok(true) => bound.push(dependency.id.clone()),
                Ok(false) => {}
                Err(e) => {
                    chain.pop();
                    return Err(e);
                }
            }
        }
        chain.pop();
        let plugin = self.open_plugin(info, false).map_err(|e| in_chain(chain, id, e))?;
        self.add_loaded(id, plugin, bound);
        loaded_now.push(id.to_owned());
        Ok(())
    }

    /// Makes sure `dependency` of `info` (the last of `chain`) is loaded, loading it when it is not. `Ok(false)`
    /// when it is optional and left out: missing, of a version outside the range, or failing to load.
    fn bind(
        &self,
        info: &PluginInfo,
        dependency: &Dependency,
        chain: &mut Vec<String>,
        loaded_now: &mut Vec<String>,
    ) -> Result<bool> {
        let id = &info.manifest.id;
        let wanted = dependency.id.as_str();
        let requirement = &dependency.requirement;
        let declared = || {
            format!(
                "plugin '{id}' needs '{wanted}' {requirement} ([dependencies] in {})",
                info.manifest_path().display()
            )
        };
        if let Some(at) = chain.iter().position(|c| c == wanted) {
            let cycle = format!("{} -> {wanted}", chain[at..].join(" -> "));
            let message = format!("plugin '{}' cannot be loaded: its dependencies form a cycle: {cycle}", chain[0]);
            return Err(Error::new(Status::DependencyCycle, message));
        }
        let loaded = read(&self.loaded).by_id.get(wanted).cloned();
        let version = match &loaded {
            Some(plugin) => plugin.info().manifest.version.clone(),
            None => match self.discovery().find(wanted) {
                Some(found) => found.manifest.version.clone(),
                None if dependency.optional => return Ok(false),
                None => {
                    let discovery = self.discovery();
                    let why = match discovery.find_unresolved(wanted) {
                        Some((_, error)) => format!("which is set aside: {}", error.message()),
                        None => match discovery.set_aside_status(wanted) {
                            Some(status) => format!("which is set aside ({})", status.description().to_string_lossy()),
                            None => "which was not discovered".to_owned(),
                        },
                    };
                    let error = Error::new(Status::DependencyMissing, format!("{}, {why}", declared()));
                    return Err(in_chain(&chain[..chain.len() - 1], id, error));
                }
            },
        };
        if !requirement.matches(&version) {
            let message = format!("{}, but '{wanted}' is version {version}", declared());
            if dependency.optional {
                self.shared.logger.log(LogLevel::Warn, &format!("{message}; the optional dependency is left out"));
                return Ok(false);
            }
            let error = Error::new(Status::DependencyVersion, message);
            return Err(in_chain(&chain[..chain.len() - 1], id, error));
        }
        if loaded.is_none() {
            let mark = loaded_now.len();
            if let Err(e) = self.load_tree(wanted, chain, loaded_now) {
                if !dependency.optional {
                    return Err(e);
                }
                self.unload_again(loaded_now, mark);
                let message = format!("plugin '{id}' leaves out its optional dependency '{wanted}': {e}");
                self.shared.logger.log(LogLevel::Warn, &message);
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The discovered plugin `id`, or why it cannot be loaded: not discovered, or set aside by the plugin graph.
    fn discovered_for_load(&self, id: &str) -> Result<Arc<PluginInfo>> {
        let discovery = self.discovery();
        if let Some((_, error)) = discovery.find_unresolved(id) {
            return Err(error.clone());
        }
        probing::discovered(&discovery, id).ok_or_else(|| {
            Error::new(Status::NotFound, format!("no discovered plugin has id '{id}' (discover first?)"))
        })
    }

    /// Refuses `info` when its version is outside the host's requirement for it.
    fn check_requirement(&self, info: &PluginInfo) -> Result<()> {
        let manifest = &info.manifest;
        match read(&self.requirements).get(&manifest.id) {
            Some(requirement) if !requirement.matches(&manifest.version) => Err(Error::new(
                Status::VersionRejected,
                format!(
                    "plugin '{}' is version {} ({}), but the host requires {requirement} of it",
                    manifest.id,
                    manifest.version,
                    info.manifest_path().display()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The dependencies a new version of loaded plugin `info` binds to, of those loaded now: a reload loads
    /// none. A required one that is not loaded, or is loaded in a version outside the range, is an error.
    pub(super) fn bind_loaded(&self, info: &PluginInfo) -> Result<Vec<String>> {
        let loaded = read(&self.loaded);
        let mut bound = Vec::new();
        for dependency in &info.manifest.dependencies {
            let version = loaded.by_id.get(&dependency.id).map(|plugin| plugin.info().manifest.version.clone());
            let (status, why) = match version {
                Some(version) if dependency.requirement.matches(&version) => {
                    bound.push(dependency.id.clone());
                    continue;
                }
                Some(version) => (Status::DependencyVersion, format!("but '{}' is version {version}", dependency.id)),
                None => (Status::DependencyMissing, "which is not loaded".to_owned()),
            };
            if !dependency.optional {
                let id = &info.manifest.id;
                let message = format!("plugin '{id}' needs '{}' {}, {why}", dependency.id, dependency.requirement);
                return Err(Error::new(status, message));
            }
        }
        Ok(bound)
    }

    /// Unloads the plugins `loaded_now` holds from `from` on, last first, and forgets them.
    pub(super) fn unload_again(&self, loaded_now: &mut Vec<String>, from: usize) {
        for id in loaded_now.drain(from..).rev() {
            if let Some(plugin) = self.remove_loaded(&id) {
                // Nothing can pin a plugin this call loaded: no one could resolve it yet.
                let _ = plugin.teardown();
            }
        }
    }

    /// Initializes the dependencies of loaded plugin `id` that are not initialized yet, each after its own, with
    /// the configs set for them. The caller holds the lifecycle lock.
    pub(super) fn init_dependencies(&self, id: &str) -> Result<()> {
        for dependency in self.bound(id) {
            self.init_dependencies(&dependency)?;
            let Ok(plugin) = self.get_loaded(&dependency) else { continue };
            if plugin.is_initialized() {
                continue;
            }
            let (config, data_dir) = self.config_of(&dependency);
            plugin.init(&config, &data_dir).map_err(|e| {
                Error::new(
                    e.status(),
                    format!("plugin '{id}' needs '{dependency}' initialized first, and its init failed: {e}"),
                )
            })?;
            self.record_init(&dependency, &config, &data_dir);
        }
        Ok(())
    }

    /// The dependencies loaded plugin `id` was loaded with, in the order its manifest names them.
    pub(super) fn bound(&self, id: &str) -> Vec<String> {
        read(&self.loaded).bound.get(id).cloned().unwrap_or_default()
    }

    /// The loaded plugins that were loaded with `id` as a dependency, directly or not, most recently loaded
    /// first: the order to unload them in.
    pub(super) fn dependents(&self, id: &str) -> Vec<String> {
        let loaded = read(&self.loaded);
        if !loaded.needed_by.contains_key(id) {
            return Vec::new();
        }
        let mut needed = vec![id.to_owned()];
        let mut dependents = Vec::new();
        // Load order puts every plugin after its dependencies: one pass finds dependents of dependents.
        for plugin in &loaded.order {
            let plugin_id = &plugin.info().manifest.id;
            let bound = loaded.bound.get(plugin_id).map(Vec::as_slice).unwrap_or_default();
            if bound.iter().any(|dependency| needed.contains(dependency)) {
                needed.push(plugin_id.clone());
                dependents.push(plugin_id.clone());
            }
        }
        dependents.reverse();
        dependents
    }

    /// Unloads plugin `id`, refusing with `Status::HasDependents` while loaded plugins depend on it.
    pub fn unload(&self, id: &str) -> Result<()> {
        refuse_reentry("unload")?;
        let _lifecycle = lock(&self.lifecycle);
        let plugin = self.get_loaded(id)?;
        let dependents = self.dependents(id);
        if !dependents.is_empty() {
            let names: Vec<String> = dependents.iter().rev().map(|d| format!("'{d}'")).collect();
            return Err(Error::new(
                Status::HasDependents,
                format!(
                    "plugin '{id}' is needed by loaded plugin(s) {}: unload them first, or unload with the cascade",
                    names.join(", ")
                ),
            ));
        }
        plugin.teardown()?;
        self.remove_loaded(id);
        Ok(())
    }

    /// Unloads the loaded plugins that depend on `id`, directly or not, most recently loaded first, then `id`.
    /// Refuses with `Status::Busy`, unloading nothing, while resolved capabilities pin any of them.
    pub fn unload_cascade(&self, id: &str) -> Result<()> {
        refuse_reentry("unload")?;
        let _lifecycle = lock(&self.lifecycle);
        self.get_loaded(id)?;
        let mut order = self.dependents(id);
        order.push(id.to_owned());
        let plugins: Vec<(String, Hosted)> =
            order.into_iter().filter_map(|id| Some((id.clone(), self.get_loaded(&id).ok()?))).collect();
        if let Some((pinned, _)) = plugins.iter().find(|(_, plugin)| plugin.is_pinned()) {
            return Err(Error::new(
                Status::Busy,
                format!(
                    "plugin '{pinned}' has resolved capability handle(s), so the cascade from '{id}' unloads nothing; \
                     free them first"
                ),
            ));
        }
        for (id, plugin) in plugins {
            plugin.teardown()?;
            self.remove_loaded(&id);
        }
        Ok(())
    }
}

/// `error`, about plugin `id`, as seen from the plugins of `chain` that need it in turn: prefixed with the
/// chain, unless `id` is the plugin the host asked for.
fn in_chain(chain: &[String], id: &str, error: Error) -> Error {
    match chain.first() {
        None => error,
        Some(first) => Error::new(
            error.status(),
            format!("plugin '{first}' cannot be loaded: {} -> {id}: {}", chain.join(" -> "), error.message()),
        ),
    }
}
