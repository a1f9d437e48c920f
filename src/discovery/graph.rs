//! The plugin graph, checked at discovery: the host's requirements on plugin versions, then each plugin's
//! `[dependencies]` against the plugins discovered. A plugin that fails is set aside with a diagnostic naming
//! the whole chain (`a -> b -> c`) and the cause at its end; the plugins that need it follow it.
//!
//! Reads manifests only, like the rest of discovery: no library is opened.

use std::collections::HashMap;
use std::sync::Arc;

use semver::VersionReq;

use super::{Discovery, PluginInfo};
use crate::cache::BuildFnv;
use crate::error::{Error, Status};
use crate::log::{LogLevel, Logger};
use crate::manifest::Dependency;

/// The versions the host accepts of some plugins, by id (`aisopod_loader_require`).
pub(crate) type Requirements = HashMap<String, VersionReq, BuildFnv>;

/// Why a plugin cannot be loaded: the class, the chain of ids from it to the cause, the cause, and the plugin
/// whose own check found it (none for a cycle).
#[derive(Clone)]
struct Failure {
    status: Status,
    chain: Vec<String>,
    cause: String,
    about: Option<String>,
}

impl Failure {
    /// The same failure seen from `id`, which needs the chain's first plugin.
    fn through(&self, id: &str) -> Failure {
        let mut chain = Vec::with_capacity(self.chain.len() + 1);
        chain.push(id.to_owned());
        chain.extend(self.chain.iter().cloned());
        Failure { status: self.status, chain, cause: self.cause.clone(), about: self.about.clone() }
    }

    fn error(&self, id: &str) -> Error {
        // A cause found by the plugin's own check names the plugin and the dependency already.
        let message = match self.about.as_deref() == Some(id) {
            true => self.cause.clone(),
            false => format!("plugin '{id}' cannot be loaded: {}: {}", self.chain.join(" -> "), self.cause),
        };
        Error::new(self.status, message)
    }
}

/// Where the walk stands with a plugin.
#[derive(Clone)]
enum Mark {
    /// On the walk's stack, at this depth.
    Visiting(usize),
    Resolved,
    Failed(Failure),
}

impl Discovery {
    /// Sets aside every accepted plugin whose version the host does not accept, or whose dependencies are
    /// missing, of a version outside the range, or lead back to it; then every plugin that needs one of those.
    /// An optional dependency that is missing or set aside is left out; one of the wrong version is left out
    /// with a warning.
    pub(crate) fn resolve_graph(&mut self, requirements: &Requirements, logger: &Logger) {
        let mut marks: HashMap<String, Mark, BuildFnv> = HashMap::default();
        for info in &self.plugins {
            let manifest = &info.manifest;
            if let Some(requirement) = requirements.get(&manifest.id) {
                if !requirement.matches(&manifest.version) {
                    let cause = format!(
                        "plugin '{}' is version {} ({}), but the host requires {requirement} of it",
                        manifest.id,
                        manifest.version,
                        info.manifest_path().display()
                    );
                    let chain = vec![manifest.id.clone()];
                    let about = Some(manifest.id.clone());
                    let failure = Failure { status: Status::VersionRejected, chain, cause, about };
                    marks.insert(manifest.id.clone(), Mark::Failed(failure));
                }
            }
        }
        let mut walk = Walk { discovery: self, marks, stack: Vec::new(), logger };
        for at in 0..walk.discovery.plugins.len() {
            let info = walk.discovery.plugins[at].clone();
            walk.visit(&info);
        }
        let mut marks = walk.marks;
        // In discovery order, so that the diagnostics are.
        let failed: Vec<(String, Failure)> = self
            .plugins
            .iter()
            .filter_map(|info| match marks.remove(&info.manifest.id) {
                Some(Mark::Failed(failure)) => Some((info.manifest.id.clone(), failure)),
                _ => None,
            })
            .collect();
        for (id, failure) in failed {
            let error = failure.error(&id);
            self.set_aside_unresolved(&id, error);
        }
    }
}

/// A depth-first walk of the dependency graph of the accepted plugins.
struct Walk<'a> {
    discovery: &'a Discovery,
    marks: HashMap<String, Mark, BuildFnv>,
    /// The ids being visited, outermost first.
    stack: Vec<String>,
    logger: &'a Logger,
}

impl Walk<'_> {
    /// Visits `info` and, first, everything it needs; leaves it marked resolved or failed.
    fn visit(&mut self, info: &Arc<PluginInfo>) {
        let id = info.manifest.id.as_str();
        if self.marks.contains_key(id) {
            return;
        }
        self.marks.insert(id.to_owned(), Mark::Visiting(self.stack.len()));
        self.stack.push(id.to_owned());
        let mut outcome = Mark::Resolved;
        for dependency in &info.manifest.dependencies {
            if let Some(failure) = self.dependency(info, dependency) {
                outcome = Mark::Failed(failure);
                break;
            }
        }
        self.stack.pop();
        // A cycle found below may have failed this plugin already, with the cycle as seen from it.
        if let Some(Mark::Visiting(_)) = self.marks.get(id) {
            self.marks.insert(id.to_owned(), outcome);
        }
    }

    /// Why `info` cannot have `dependency`, if it cannot; `None` when it can, or can do without.
    fn dependency(&mut self, info: &Arc<PluginInfo>, dependency: &Dependency) -> Option<Failure> {
        let id = info.manifest.id.as_str();
        let wanted = &dependency.id;
        let requirement = &dependency.requirement;
        let Some(found) = self.discovery.find(wanted).cloned() else {
            if dependency.optional {
                return None;
            }
            let why = match self.discovery.set_aside_status(wanted) {
                Some(status) => {
                    format!("is set aside ({}; see its own diagnostic)", status.description().to_string_lossy())
                }
                None => "was not discovered".to_owned(),
            };
            let cause = format!(
                "plugin '{id}' needs '{wanted}' {requirement} ([dependencies] in {}), which {why}",
                info.manifest_path().display()
            );
            return Some(Failure {
                status: Status::DependencyMissing,
                chain: vec![id.to_owned(), wanted.clone()],
                cause,
                about: Some(id.to_owned()),
            });
        };
        if !requirement.matches(&found.manifest.version) {
            let cause = format!(
                "plugin '{id}' needs '{wanted}' {requirement} ([dependencies] in {}), but '{wanted}' is version {} ({})",
                info.manifest_path().display(),
                found.manifest.version,
                found.manifest_path().display()
            );
            if dependency.optional {
                self.logger.log(LogLevel::Warn, &format!("{cause}; the optional dependency is left out"));
                return None;
            }
            return Some(Failure {
                status: Status::DependencyVersion,
                chain: vec![id.to_owned(), wanted.clone()],
                cause,
                about: Some(id.to_owned()),
            });
        }
        self.visit(&found);
        match self.marks.get(wanted.as_str()).cloned() {
            Some(Mark::Visiting(depth)) => {
                // `wanted` is on the stack: every plugin from it to here is on a cycle.
                let cycle: Vec<String> = self.stack[depth..].to_vec();
                for (at, member) in cycle.iter().enumerate() {
                    let mut chain: Vec<String> = cycle[at..].iter().chain(&cycle[..at]).cloned().collect();
                    chain.push(member.clone());
                    let cause = "the dependencies form a cycle".to_owned();
                    let failure = Failure { status: Status::DependencyCycle, chain, cause, about: None };
                    self.marks.insert(member.clone(), Mark::Failed(failure));
                }
                match self.marks.get(id) {
                    Some(Mark::Failed(failure)) => Some(failure.clone()),
                    _ => None,
                }
            }
            Some(Mark::Failed(failure)) if dependency.optional => {
                let message =
                    format!("plugin '{id}' leaves out its optional dependency '{wanted}': {}", failure.error(wanted));
                self.logger.log(LogLevel::Info, &message);
                None
            }
            Some(Mark::Failed(failure)) => Some(failure.through(id)),
            _ => None,
        }
    }
}
