//! Hot reload: replacing a loaded plugin by the version now in its directory while the old one keeps serving
//! until the new one has passed every load step, generations, and polling the plugins' files for changes.
//!
//! A reload runs, under the lifecycle lock: the manifest read again; load steps 1 to 9 of the new version
//! beside the old one (any failure leaves the old one as it was); then the commit: the old version closed to
//! calls by name (its resolved handles become stale), its `aisopod.state/1` saved, the old version torn down
//! (or, while handles pin it, when the last of them is freed), the new one initialized with the old one's
//! config, its state restored, and the new version put in the old one's place.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use super::{Hosted, Loader};
use crate::discovery::{Discovery, PluginInfo};
use crate::error::{Error, Result, Status};
use crate::file_stamp::FileStamp;
use crate::log::LogLevel;
use crate::plugin::{refuse_reentry, Generation};
use crate::sync::{lock, read, write};

/// What a reload needs of a loaded plugin, kept where the loader records it.
pub(super) struct Record {
    /// The config and data directory of its last successful `init`; `None` when it has not been initialized.
    pub(super) init: Option<(String, PathBuf)>,
    /// Its manifest's and library's stamps when it was loaded (or last reloaded, successfully or not).
    pub(super) stamps: Stamps,
}

/// The stamps of a plugin's manifest and library, as the registry cache keeps them: `None` for a file that
/// cannot be stat'ed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamps {
    manifest: Option<FileStamp>,
    library: Option<FileStamp>,
}

impl Stamps {
    /// The stamps of a plugin just loaded: its library's from the descriptor the load opened, when it ran in
    /// this process, so that a load stats only its manifest.
    pub(super) fn at_load(plugin: &Hosted) -> Stamps {
        match plugin {
            Hosted::Local(local) => {
                Stamps { manifest: stamp_of(local.info.manifest_path()), library: Some(local.library_stamp) }
            }
            Hosted::Isolated(isolated) => Stamps::of(&isolated.info),
        }
    }

    /// The stamps of `info`'s files now: two `stat` calls (the library's follows a symlink).
    pub(super) fn of(info: &PluginInfo) -> Stamps {
        Stamps { manifest: stamp_of(info.manifest_path()), library: stamp_of(info.library_path()) }
    }
}

/// The stamp of the file at `path` (following a symlink), or `None` when it cannot be stat'ed.
fn stamp_of(path: PathBuf) -> Option<FileStamp> {
    std::fs::metadata(path).ok().map(|metadata| FileStamp::of(&metadata))
}

/// What [`Loader::poll_changes`] did: the plugins it reloaded, and those whose reload failed.
#[derive(Debug, Default)]
pub struct PolledChanges {
    /// The ids reloaded, in load order.
    pub reloaded: Vec<String>,
    /// The reloads that failed, in load order: each error names its plugin.
    pub failed: Vec<Error>,
}

impl PolledChanges {
    /// The first failure, if any reload failed.
    pub fn first_failure(&self) -> Option<&Error> {
        self.failed.first()
    }
}

impl Hosted {
    pub(super) fn generation(&self) -> &Generation {
        match self {
            Hosted::Local(plugin) => &plugin.generation,
            Hosted::Isolated(plugin) => &plugin.generation,
        }
    }
}

impl Loader {
    /// The next generation: 1 for the first load of this loader.
    pub(super) fn next_generation(&self) -> u64 {
        self.generations.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The generation of loaded plugin `id`: which load of this loader gave it its current version (every load
    /// and every successful reload takes the next number, from 1).
    pub fn plugin_generation(&self, id: &str) -> Result<u64> {
        Ok(self.get_loaded(id)?.generation().number())
    }

    /// Reloads loaded plugin `id` from its directory: reads its manifest again and runs every load check and
    /// step on the new version while the old one keeps serving; only when the new version is registered does
    /// it replace the old one, which saves its `aisopod.state/1` state, is shut down, destroyed and closed (when
    /// the last resolved handle pinning it is freed, if any), and the new one is initialized with the config
    /// of the old one's last successful `init` and restores the state.
    ///
    /// A failure before the new version is registered leaves the old one running and returns the failing
    /// step's status. A failing `init` of the new version leaves it loaded, not initialized
    /// (`Status::InitFailed`). Resolved handles of the old version fail with `Status::Stale` from then on.
    pub fn reload(&self, id: &str) -> Result<()> {
        refuse_reentry("reload")?;
        let _lifecycle = lock(&self.lifecycle);
        self.reload_locked(id)
    }

    /// Reloads, in load order, every loaded plugin whose manifest or library changed (by device, inode, size or
    /// modification time) since it was loaded or last reloaded. A failed reload does not stop the others; it is
    /// not tried again until the plugin's files change again. Fails only with `Status::Reentrant`.
    pub fn poll_changes(&self) -> Result<PolledChanges> {
        refuse_reentry("poll_changes")?;
        let _lifecycle = lock(&self.lifecycle);
        let changed = |id: &str| {
            let loaded = read(&self.loaded);
            let plugin = loaded.by_id.get(id)?;
            Some(loaded.reloads.get(id).is_some_and(|record| record.stamps != Stamps::of(plugin.info())))
        };
        let order: Vec<String> = read(&self.loaded).order.iter().map(|p| p.info().manifest.id.clone()).collect();
        let changed_now: Vec<String> = order.into_iter().filter(|id| changed(id) == Some(true)).collect();
        let mut polled = PolledChanges::default();
        for id in changed_now {
            match changed(&id) {
                Some(true) => {}
                // Reloaded meanwhile, as the dependant of a plugin before it in load order: counted, not
                // reloaded twice.
                Some(false) => {
                    polled.reloaded.push(id);
                    continue;
                }
                // Unloaded meanwhile: its dependency's reload could not bring it back, and said so.
                None => continue,
            }
            match self.reload_locked(&id) {
                Ok(()) => polled.reloaded.push(id),
                Err(error) => polled.failed.push(error),
            }
        }
        Ok(polled)
    }

    /// [`Loader::reload`], under the lifecycle lock.
    ///
    /// The new version of `id` is loaded beside the old one first; a failure there changes nothing. Then the
    /// loaded plugins that depend on `id`, whose old versions may hold pointers into the old `id`, are retired,
    /// most recently loaded first; `id` is replaced; and each of them is loaded again from its directory, in
    /// load order, bound to the new `id`, initialized with its last config, and given back its saved state.
    fn reload_locked(&self, id: &str) -> Result<()> {
        let old = self.get_loaded(id)?;
        let stamps = Stamps::of(old.info());
        let new = self.load_new_version(id, &old).map_err(|error| {
            // The same files are not tried again by `poll_changes` until they change.
            if let Some(record) = write(&self.loaded).reloads.get_mut(id) {
                record.stamps = stamps;
            }
            Error::new(
                error.status(),
                format!("plugin '{id}': reload failed, the old version keeps running: {}", error.message()),
            )
        })?;
        let mut retired = Vec::new();
        let mut still_mapped = false;
        for dependent in self.dependents(id) {
            let Ok(old_dependent) = self.get_loaded(&dependent) else { continue };
            let retiring = self.retire(&dependent, &old_dependent, false);
            still_mapped |= retiring.still_mapped;
            retired.push((dependent, old_dependent, retiring));
        }
        // An old dependant that resolved handles keep mapped may still call into the old version: it then goes
        // when they do, not now.
        let retiring = self.retire(id, &old, still_mapped);
        let mut first_error = self.install(id, &old, new, stamps, retiring).err();
        for (dependent, old_dependent, retiring) in retired.into_iter().rev() {
            if let Err(error) = self.restart(id, &dependent, &old_dependent, retiring) {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Steps 1 to 9 of the version now in `old`'s directory, with every check a load makes, bound to the
    /// dependencies loaded now; nothing of `old` is touched.
    fn load_new_version(&self, id: &str, old: &Hosted) -> Result<(Hosted, Vec<String>)> {
        let info = Discovery::reread(&old.info().directory, &self.shared.logger, &self.trust())?;
        if info.manifest.id != id {
            return Err(Error::new(
                Status::ManifestInvalid,
                format!(
                    "{}: the manifest now says id '{}'; a reload keeps the id (unload '{id}' and load the other)",
                    info.manifest_path().display(),
                    info.manifest.id
                ),
            ));
        }
        let bound = self.bind_loaded(&info)?;
        Ok((self.open_plugin(info, true)?, bound))
    }

    /// Retires the old version of `id`: closed to calls by name (which wait for those running), its handles
    /// stale, its state saved, then torn down, unless resolved handles pin it or `keep` asks to leave it to the
    /// last reference (it is then torn down when that goes).
    fn retire(&self, id: &str, old: &Hosted, keep: bool) -> Retiring {
        let generation = self.next_generation();
        let saved = match old {
            Hosted::Local(plugin) => {
                plugin.supersede(generation);
                plugin.save_state().unwrap_or_else(|error| {
                    let message = format!("{}; the new version starts without its state", error.message());
                    self.shared.logger.log(LogLevel::Warn, &message);
                    None
                })
            }
            Hosted::Isolated(plugin) => {
                plugin.generation.supersede(generation);
                None
            }
        };
        let still_mapped = match old {
            Hosted::Local(_) if keep => true,
            _ => match old.teardown() {
                Ok(()) => false,
                Err(error) if error.status() == Status::Busy => true,
                Err(error) => {
                    let message = format!("plugin '{id}': stopping the old version failed: {}", error.message());
                    self.shared.logger.log(LogLevel::Warn, &message);
                    false
                }
            },
        };
        Retiring { generation, saved, still_mapped: still_mapped && matches!(old, Hosted::Local(_)) }
    }

    /// Puts `new` (with the dependencies it is bound to) in retired `old`'s place, initialized with the config of
    /// `old`'s last successful `init` and given its saved state.
    fn install(
        &self,
        id: &str,
        old: &Hosted,
        (new, bound): (Hosted, Vec<String>),
        stamps: Stamps,
        retiring: Retiring,
    ) -> Result<()> {
        let generation = retiring.generation;
        new.generation().set(generation);
        let init = read(&self.loaded).reloads.get(id).and_then(|record| record.init.clone());
        let started = init.as_ref().map(|(config, data_dir)| new.init(config, data_dir));
        if let (Some(Ok(())), Some(saved), Hosted::Local(plugin)) = (&started, &retiring.saved, &new) {
            if let Err(error) = plugin.restore_state(saved) {
                self.shared.logger.log(LogLevel::Warn, error.message());
            }
        }
        let mut loaded = write(&self.loaded);
        self.place(&mut loaded, id, &new, bound);
        if let Some(at) = loaded.order.iter().position(|plugin| plugin.same(old)) {
            loaded.order[at] = new.clone();
        }
        loaded.by_id.insert(id.to_owned(), new);
        let init = if matches!(started, Some(Ok(()))) { init } else { None };
        loaded.reloads.insert(id.to_owned(), Record { init, stamps });
        drop(loaded);
        match started {
            Some(Err(error)) => Err(Error::new(
                Status::InitFailed,
                format!(
                    "plugin '{id}': the old version is gone, and the new one (generation {generation}) did not \
                     start: {}",
                    error.message()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Loads `dependent`, retired for the reload of `id`, again from its directory, in its old place; when that
    /// fails it is unloaded, and the error says so.
    fn restart(&self, id: &str, dependent: &str, old: &Hosted, retiring: Retiring) -> Result<()> {
        let stamps = Stamps::of(old.info());
        match self.load_new_version(dependent, old) {
            Ok(new) => self.install(dependent, old, new, stamps, retiring),
            Err(error) => {
                self.remove_loaded(dependent);
                Err(Error::new(
                    error.status(),
                    format!(
                        "plugin '{dependent}' needs '{id}', and loading it again after the reload of '{id}' failed, \
                         so it is unloaded: {}",
                        error.message()
                    ),
                ))
            }
        }
    }
}

/// A retired old version: the generation its successor gets, its saved state, and whether it is still mapped.
struct Retiring {
    generation: u64,
    saved: Option<Vec<u8>>,
    still_mapped: bool,
}
