//! Discovery: turning search paths into a list of candidate plugins and a list of diagnostics. It reads
//! manifests only: it never opens a library and runs no plugin code.

use std::collections::HashSet;
use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub use search_paths::{default_cache_path, default_paths, expand_tilde, SearchConfig, PLUGIN_PATH_ENV};

use crate::cache::{BuildFnv, Cache, Entry, Loaded};
use crate::error::{Error, Status};
use crate::file_stamp::FileStamp;
use crate::io_error;
use crate::log::{LogLevel, Logger};
use crate::manifest::{Manifest, MANIFEST_FILE_NAME};
use crate::open_file::{self, OpenError};
use crate::paths;
use crate::quarantine::Quarantine;
use crate::trust::{Access, FileCheck, Role, Trust};

mod graph;
mod search_paths;

pub(crate) use graph::Requirements;

/// A plugin found by discovery: its validated manifest and where it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    pub manifest: Manifest,
    /// The plugin directory, as found under its search path.
    pub directory: PathBuf,
}

impl PluginInfo {
    /// `directory/aisopod.plugin.toml`.
    pub fn manifest_path(&self) -> PathBuf {
        self.directory.join(MANIFEST_FILE_NAME)
    }

    /// `directory/lib<entry_point>.so` (or the platform's equivalent). It may not exist; loading checks.
    pub fn library_path(&self) -> PathBuf {
        // `directory.join(manifest.library_file_name())`, built in one allocation: every load asks for it.
        let entry_point = self.manifest.entry_point.as_str();
        let capacity = self.directory.as_os_str().len() + 1 + DLL_PREFIX.len() + entry_point.len() + DLL_SUFFIX.len();
        let mut path = PathBuf::with_capacity(capacity);
        path.push(&self.directory);
        // Adds the separator, and the prefix where the platform has one.
        path.push(DLL_PREFIX);
        path.as_mut_os_string().push(entry_point);
        path.as_mut_os_string().push(DLL_SUFFIX);
        path
    }
}

/// A candidate that discovery could not accept: its path, the class of failure and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub status: Status,
    pub message: String,
}

/// The result of one discovery scan.
#[derive(Debug, Default)]
pub struct Discovery {
    plugins: Vec<Arc<PluginInfo>>,
    /// The accepted plugins again, found by id.
    by_id: HashSet<ById, BuildFnv>,
    diagnostics: Vec<Diagnostic>,
    /// Plugins set aside because their library is quarantined, each also a diagnostic.
    quarantined: Vec<Arc<PluginInfo>>,
    /// Plugins the host's allow or deny list keeps out, each also a diagnostic.
    denied: Vec<Arc<PluginInfo>>,
    /// Plugins set aside by the plugin graph (a dependency or a host requirement), each with its diagnostic's
    /// error, which loading them returns.
    unresolved: Vec<(Arc<PluginInfo>, Error)>,
}

impl Discovery {
    /// Accepted plugins, in search-path order, then by directory name.
    pub fn plugins(&self) -> &[Arc<PluginInfo>] {
        &self.plugins
    }

    /// The accepted plugin with `id`.
    pub fn find(&self, id: &str) -> Option<&Arc<PluginInfo>> {
        self.by_id.get(id).map(|plugin| &plugin.0)
    }

    /// A plugin set aside because its library was quarantined when this discovery ran.
    pub fn find_quarantined(&self, id: &str) -> Option<&Arc<PluginInfo>> {
        self.quarantined.iter().find(|info| info.manifest.id == id)
    }

    /// A plugin the host's allow or deny list kept out when this discovery ran.
    pub fn find_denied(&self, id: &str) -> Option<&Arc<PluginInfo>> {
        self.denied.iter().find(|info| info.manifest.id == id)
    }

    /// A plugin set aside by the plugin graph when this discovery ran, and why.
    pub fn find_unresolved(&self, id: &str) -> Option<(&Arc<PluginInfo>, &Error)> {
        self.unresolved.iter().find(|(info, _)| info.manifest.id == id).map(|(info, error)| (info, error))
    }

    /// The status of the diagnostic that set aside the plugin `id`, when one did.
    pub(crate) fn set_aside_status(&self, id: &str) -> Option<Status> {
        if self.find_quarantined(id).is_some() {
            return Some(Status::Quarantined);
        }
        if self.find_denied(id).is_some() {
            return Some(Status::Denied);
        }
        self.find_unresolved(id).map(|(_, error)| error.status())
    }

    /// Candidates that were refused, in scan order.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Scans `search_paths` in order. Each immediate subdirectory holding a manifest is a candidate; a missing
    /// search directory is skipped with a debug log; a bad candidate becomes a diagnostic; of two candidates
    /// with the same id, the first in search-path order wins. A plugin directory or manifest that someone other
    /// than root and this process's user could have written is refused (the strict file policy).
    pub fn scan(search_paths: &[PathBuf], logger: &Logger) -> Discovery {
        Discovery::scan_cached(search_paths, logger, None)
    }

    /// As [`Discovery::scan`], with a registry cache file: candidates whose manifest and library are unchanged
    /// since the cache was written are taken from it without reading or parsing; the cache is rewritten
    /// when anything changed. A cache that cannot be read or written becomes a diagnostic.
    pub fn scan_cached(search_paths: &[PathBuf], logger: &Logger, cache_path: Option<&Path>) -> Discovery {
        Discovery::scan_quarantined(search_paths, logger, cache_path, &mut Quarantine::default(), &Trust::default())
    }

    /// As [`Discovery::scan_cached`], with a quarantine: the cache file's records join `quarantine`, records
    /// whose library is gone or changed leave it, and a plugin whose library it holds is set aside with an
    /// `AISOPOD_STATUS_QUARANTINED` diagnostic. The cache file is rewritten when the quarantine differs from
    /// its own.
    ///
    /// `trust` is the host's: the file policy checks each candidate's directory and manifest (a warning is
    /// logged, or the candidate refused with an `AISOPOD_STATUS_UNSAFE_PERMISSIONS` diagnostic), and a plugin
    /// its allow or deny list keeps out is set aside with an `AISOPOD_STATUS_DENIED` diagnostic.
    pub(crate) fn scan_quarantined(
        search_paths: &[PathBuf],
        logger: &Logger,
        cache_path: Option<&Path>,
        quarantine: &mut Quarantine,
        trust: &Trust,
    ) -> Discovery {
        let mut discovery = Discovery::default();
        // The cache file is read on a thread of its own while the search directories are listed.
        let reading = cache_path.map(|path| {
            let path = path.to_path_buf();
            std::thread::Builder::new().spawn(move || Cache::load(&path))
        });
        let (directories, candidates) = discovery.candidates(search_paths, logger);
        let cache = cache_path.and_then(|path| {
            let loaded = match reading {
                Some(Ok(thread)) => thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                // No thread could be started: read here.
                _ => Cache::load(path),
            };
            let (cache, problem) = match loaded {
                Loaded::Usable(cache, ignored) => {
                    (Some(cache), ignored.map(|why| format!("ignored and rebuilt: {why}")))
                }
                Loaded::Unusable(why) => (None, Some(format!("ignored, neither read nor written: {why}"))),
            };
            if let Some(problem) = problem {
                discovery.cache_problem(path, logger, &problem);
            }
            cache
        });
        if let Some(cache) = &cache {
            quarantine.merge(cache.quarantine.clone());
        }
        quarantine.expire();
        let outcomes = examine_all(&directories, &candidates, cache.as_ref(), FileCheck::new(trust.files));
        // The cache is rewritten only when this discovery differs from it: a plugin read afresh, or one gone.
        let save = cache.as_ref().is_some_and(|cache| {
            let mut accepted = 0;
            let fresh = outcomes.iter().any(|o| match o {
                Outcome::Accepted { from_cache, .. } => {
                    accepted += 1;
                    !from_cache
                }
                _ => false,
            });
            fresh || accepted != cache.len() || cache.quarantine != *quarantine
        });
        let mut entries: Vec<(PathBuf, Entry)> = Vec::new();
        let lets_all_in = trust.lists.lets_all_in();
        discovery.plugins.reserve(outcomes.len());
        discovery.by_id.reserve(outcomes.len());
        for outcome in outcomes {
            match outcome {
                Outcome::NotCandidate => {}
                Outcome::Refused(path, error) => discovery.diagnose(path, error),
                Outcome::Accepted { info, stamps, warnings, .. } => {
                    for warning in &warnings {
                        logger.log(LogLevel::Warn, warning);
                    }
                    if let (true, Some((manifest_stamp, library_stamp))) = (save, stamps) {
                        let entry = Entry { manifest_stamp, library_stamp, manifest: info.manifest.clone() };
                        entries.push((info.manifest_path(), entry));
                    }
                    // Both checks need the plugin's paths, which are built only when a list or a record could
                    // apply: a discovery that keeps every plugin allocates nothing more per plugin here.
                    let refusal =
                        (!lets_all_in).then(|| trust.lists.refusal(&info.manifest.id, &info.manifest_path())).flatten();
                    if let Some(error) = refusal {
                        discovery.diagnose(info.manifest_path(), error);
                        discovery.denied.push(info);
                        continue;
                    }
                    let library_stamp = stamps.and_then(|(_, library)| library);
                    let quarantined = (!quarantine.records().is_empty())
                        .then(|| quarantine.current(&info.library_path(), library_stamp))
                        .flatten();
                    match quarantined {
                        Some(record) if record.verdict.is_some() => {
                            discovery.diagnose(info.library_path(), record.error());
                            discovery.quarantined.push(info);
                        }
                        _ => discovery.accept(info, logger),
                    }
                }
            }
        }
        if let (true, Some(path)) = (save, cache_path) {
            if let Err(why) = Cache::save(path, entries.iter().map(|(p, e)| (p.as_path(), e)), quarantine) {
                discovery.cache_problem(path, logger, &format!("not written: {why}"));
            }
        }
        discovery
    }

    /// The open search directories, and every immediate entry of each, in search-path order, then by name.
    fn candidates(&mut self, search_paths: &[PathBuf], logger: &Logger) -> (Vec<SearchDir>, Vec<Candidate>) {
        let mut directories = Vec::new();
        let mut candidates = Vec::new();
        for search_path in search_paths {
            // Opened without blocking and checked to be a directory: a FIFO here must not hang discovery.
            let opened = open_file::open_directory(search_path)
                .and_then(|dir| Ok((dir, std::fs::read_dir(search_path).map_err(OpenError::Failed)?)));
            let why = match opened {
                Ok((handle, entries)) => {
                    self.list(search_path, entries, directories.len(), &mut candidates);
                    directories.push(SearchDir { path: search_path.clone(), handle });
                    continue;
                }
                Err(OpenError::Missing(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                    let why = io_error::describe(&e);
                    logger.log(LogLevel::Debug, &format!("skipping search path {}: {why}", search_path.display()));
                    continue;
                }
                Err(OpenError::WrongKind(kind)) => format!("search path is {}, not a directory", kind.with_article()),
                Err(OpenError::Missing(e) | OpenError::Failed(e)) => {
                    format!("cannot read search directory: {}", io_error::describe(&e))
                }
            };
            self.diagnose(search_path.clone(), Error::new(Status::Io, format!("{}: {why}", search_path.display())));
        }
        (directories, candidates)
    }

    /// Appends the entries of search directory number `index` to `candidates`, sorted by name.
    fn list(&mut self, search_path: &Path, entries: std::fs::ReadDir, index: usize, candidates: &mut Vec<Candidate>) {
        let first = candidates.len();
        for entry in entries {
            match entry {
                Ok(entry) => candidates.push(Candidate::new(index, entry.file_name())),
                Err(e) => {
                    let why = io_error::describe(&e);
                    let message = format!("{}: cannot read a directory entry: {why}", search_path.display());
                    self.diagnose(search_path.to_path_buf(), Error::new(Status::Io, message));
                }
            }
        }
        candidates[first..].sort_unstable_by(Candidate::by_name);
    }

    /// Accepts a plugin unless an earlier one has its id; logs what was ignored in a newer manifest.
    fn accept(&mut self, info: Arc<PluginInfo>, logger: &Logger) {
        if let Some(first) = self.find(&info.manifest.id) {
            let manifest_path = info.manifest_path();
            let message = format!(
                "{}: plugin id '{}' is already provided by {}, earlier in the search path; this one is ignored",
                manifest_path.display(),
                info.manifest.id,
                first.manifest_path().display()
            );
            return self.diagnose(manifest_path, Error::new(Status::DuplicateId, message));
        }
        for warning in &info.manifest.warnings {
            logger.log(LogLevel::Warn, warning);
        }
        self.by_id.insert(ById(info.clone()));
        self.plugins.push(info);
    }

    /// Sets aside accepted plugin `id`, with `error` as its diagnostic.
    pub(crate) fn set_aside(&mut self, id: &str, error: Error) {
        let Some(ById(info)) = self.by_id.take(id) else { return };
        self.plugins.retain(|plugin| !Arc::ptr_eq(plugin, &info));
        self.diagnose(info.library_path(), error);
        self.quarantined.push(info);
    }

    /// Sets aside accepted plugin `id` for the plugin graph, with `error` as its diagnostic (on its manifest).
    fn set_aside_unresolved(&mut self, id: &str, error: Error) {
        let Some(ById(info)) = self.by_id.take(id) else { return };
        self.plugins.retain(|plugin| !Arc::ptr_eq(plugin, &info));
        self.diagnose(info.manifest_path(), error.clone());
        self.unresolved.push((info, error));
    }

    /// Reads the plugin in `directory` again, as a scan reads a candidate: its directory and manifest checked
    /// under `trust`'s file policy (warnings go to `logger`), its manifest read afresh and validated. No cache
    /// and no list or quarantine: the caller checks those, as a load does. For a reload.
    pub(crate) fn reread(directory: &Path, logger: &Logger, trust: &Trust) -> Result<Arc<PluginInfo>, Error> {
        let (Some(search_path), Some(name)) = (directory.parent(), directory.file_name()) else {
            return Err(Error::new(Status::Io, format!("{}: not a plugin directory", directory.display())));
        };
        let handle = open_file::open_directory(search_path).map_err(|e| {
            let why = match e {
                OpenError::WrongKind(kind) => format!("is {}, not a directory", kind.with_article()),
                OpenError::Missing(e) | OpenError::Failed(e) => io_error::describe(&e),
            };
            Error::new(Status::Io, format!("{}: cannot read search directory: {why}", search_path.display()))
        })?;
        let search_dir = SearchDir { path: search_path.to_path_buf(), handle };
        match examine(&search_dir, name, None, FileCheck::new(trust.files), &mut Scratch::default()) {
            Outcome::NotCandidate => Err(Error::new(
                Status::NotFound,
                format!("{}: no manifest any more", directory.join(MANIFEST_FILE_NAME).display()),
            )),
            Outcome::Refused(_, error) => Err(error),
            Outcome::Accepted { info, warnings, .. } => {
                for warning in warnings.iter().chain(&info.manifest.warnings) {
                    logger.log(LogLevel::Warn, warning);
                }
                Ok(info)
            }
        }
    }

    /// Adds a diagnostic about `path`.
    pub(crate) fn add_diagnostic(&mut self, path: PathBuf, error: Error) {
        self.diagnose(path, error);
    }

    /// A registry cache problem: a diagnostic, and a warning in the log.
    fn cache_problem(&mut self, path: &Path, logger: &Logger, problem: &str) {
        let message = format!("{}: registry cache {problem}", path.display());
        logger.log(LogLevel::Warn, &message);
        self.diagnose(path.to_path_buf(), Error::new(Status::Io, message));
    }

    fn diagnose(&mut self, path: PathBuf, error: Error) {
        self.diagnostics.push(Diagnostic { path, status: error.status(), message: error.message().to_owned() });
    }
}

/// An accepted plugin as a key of [`Discovery`]'s index: hashed and compared by its id, and found by `&str`, so
/// that indexing a plugin copies no string.
#[derive(Debug)]
struct ById(Arc<PluginInfo>);

impl std::borrow::Borrow<str> for ById {
    fn borrow(&self) -> &str {
        &self.0.manifest.id
    }
}

impl std::hash::Hash for ById {
    /// As `str` hashes, which `Borrow<str>` requires.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.manifest.id.as_str().hash(state);
    }
}

impl PartialEq for ById {
    fn eq(&self, other: &ById) -> bool {
        self.0.manifest.id == other.0.manifest.id
    }
}

impl Eq for ById {}

/// A search directory, held open so that its entries are opened and stat'ed relative to it.
struct SearchDir {
    path: PathBuf,
    handle: std::fs::File,
}

/// An entry of a search directory that may be a plugin directory.
struct Candidate {
    search_path: usize,
    name: std::ffi::OsString,
    /// The first 16 bytes of the name, zero-padded, as a big-endian number: names that differ there sort as
    /// their prefixes do (a file name holds no NUL byte), so sorting compares numbers, and whole names only on
    /// a tie.
    prefix: u128,
}

impl Candidate {
    fn new(search_path: usize, name: std::ffi::OsString) -> Candidate {
        let bytes = name.as_encoded_bytes();
        let mut prefix = [0u8; 16];
        let shared = bytes.len().min(prefix.len());
        prefix[..shared].copy_from_slice(&bytes[..shared]);
        Candidate { search_path, name, prefix: u128::from_be_bytes(prefix) }
    }

    /// The order of the candidates' names.
    fn by_name(a: &Candidate, b: &Candidate) -> std::cmp::Ordering {
        a.prefix.cmp(&b.prefix).then_with(|| a.name.cmp(&b.name))
    }
}

/// What examining one candidate directory found.
enum Outcome {
    /// No manifest there.
    NotCandidate,
    Refused(PathBuf, Error),
    /// Built by the worker that examined it, so the merge does no per-plugin allocation but the id index.
    Accepted {
        info: Arc<PluginInfo>,
        /// The manifest's and the library's stamps, when a cache is in use.
        stamps: Option<(FileStamp, Option<FileStamp>)>,
        from_cache: bool,
        /// What the file policy, when it is warn, found unsafe; empty otherwise.
        warnings: Vec<String>,
    },
}

/// Below this many candidates, one thread is faster than starting more.
const PARALLEL_THRESHOLD: usize = 64;

/// Candidates a worker takes at a time. Workers take blocks in turn until none is left, so one that starts late,
/// or shares its core with another process, leaves more of the work to the others.
const BLOCK: usize = 128;

/// Examines every candidate, on all cores when there are many; results keep the candidates' order.
fn examine_all(
    directories: &[SearchDir],
    candidates: &[Candidate],
    cache: Option<&Cache>,
    check: FileCheck,
) -> Vec<Outcome> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let examine_part = |part: &[Candidate], scratch: &mut Scratch| {
        part.iter().map(|c| examine(&directories[c.search_path], &c.name, cache, check, scratch)).collect::<Vec<_>>()
    };
    if workers < 2 || candidates.len() < PARALLEL_THRESHOLD {
        return examine_part(candidates, &mut Scratch::default());
    }
    let blocks = candidates.len().div_ceil(BLOCK);
    let next = AtomicUsize::new(0);
    // Each worker's blocks, numbered.
    let work = || {
        let mut scratch = Scratch::default();
        let mut done: Vec<(usize, Vec<Outcome>)> = Vec::new();
        loop {
            let block = next.fetch_add(1, Ordering::Relaxed);
            if block >= blocks {
                return done;
            }
            let part = &candidates[block * BLOCK..candidates.len().min((block + 1) * BLOCK)];
            done.push((block, examine_part(part, &mut scratch)));
        }
    };
    // Plain threads joined below rather than `thread::scope`, which would give the calling thread (often a C
    // host's main thread) a `Thread` handle that outlives the call. Every handle is joined before returning,
    // even if a worker panicked, so nothing borrowed here is used after this function. A worker that cannot
    // start leaves its share to the others.
    let handles: Vec<_> = (1..workers)
        .filter_map(|_| {
            // SAFETY: the closure borrows `next`, `directories`, `candidates` and `cache`, which outlive every
            // worker: all are joined before this function returns.
            unsafe { std::thread::Builder::new().spawn_unchecked(work) }.ok()
        })
        .collect();
    // A panic here must not unwind past the joins below while workers still borrow this frame's data.
    let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    let mut failed = false;
    let mut done: Vec<(usize, Vec<Outcome>)> = Vec::with_capacity(blocks);
    for handle in handles {
        match handle.join() {
            Ok(part) => done.extend(part),
            Err(_) => failed = true,
        }
    }
    match mine {
        Ok(mine) => done.extend(mine),
        Err(panic) => std::panic::resume_unwind(panic),
    }
    if failed {
        // A worker panicked, and its blocks are lost: examine everything here instead, in order.
        return examine_part(candidates, &mut Scratch::default());
    }
    done.sort_unstable_by_key(|(block, _)| *block);
    let mut all = Vec::with_capacity(candidates.len());
    for (_, part) in done {
        all.extend(part);
    }
    all
}

/// Reads (or takes from the cache) and validates one candidate's manifest. Runs no plugin code.
/// Buffers one discovery worker reuses for every candidate, so that building paths allocates nothing.
#[derive(Default)]
struct Scratch {
    /// `<search path>/<name>/aisopod.plugin.toml`: the cache key and the path in messages.
    manifest_path: PathBuf,
    /// `<name>/<file>` with a NUL, for `openat`/`fstatat`.
    relative: Vec<u8>,
}

/// `<name>/<file>` as a C string in `buffer`.
fn relative_path<'a>(buffer: &'a mut Vec<u8>, name: &OsStr, file: &[&str]) -> &'a std::ffi::CStr {
    buffer.clear();
    buffer.extend_from_slice(paths::bytes(Path::new(name)));
    buffer.push(b'/');
    for part in file {
        buffer.extend_from_slice(part.as_bytes());
    }
    buffer.push(0);
    // A NUL inside a file name or an entry point is impossible (the OS and validation refuse them); such a
    // path would then fail to open, which reads as "no such file".
    std::ffi::CStr::from_bytes_until_nul(buffer).expect("a NUL was pushed")
}

/// Reads (or takes from the cache) and validates one candidate's manifest, after checking its directory and
/// manifest under the file policy. Runs no plugin code.
fn examine(
    directory: &SearchDir,
    name: &OsStr,
    cache: Option<&Cache>,
    check: FileCheck,
    scratch: &mut Scratch,
) -> Outcome {
    let manifest_path = &mut scratch.manifest_path;
    manifest_path.as_mut_os_string().clear();
    manifest_path.push(&directory.path);
    manifest_path.push(name);
    manifest_path.push(MANIFEST_FILE_NAME);
    let accepted = |manifest, stamps, from_cache, warnings| {
        // `directory.path.join(name)` in one allocation, not two.
        let mut plugin_dir = PathBuf::with_capacity(directory.path.as_os_str().len() + 1 + name.len());
        plugin_dir.push(&directory.path);
        plugin_dir.push(name);
        let info = Arc::new(PluginInfo { manifest, directory: plugin_dir });
        Outcome::Accepted { info, stamps, from_cache, warnings }
    };
    let library_stamp = |relative: &mut Vec<u8>, manifest: &Manifest| {
        let file = [DLL_PREFIX, manifest.entry_point.as_str(), DLL_SUFFIX];
        open_file::stat_at(&directory.handle, relative_path(relative, name, &file)).ok().map(|stat| stat.stamp)
    };
    if let Some(cache) = cache {
        if let Some(slot) = cache.get(&scratch.manifest_path) {
            let manifest_file = relative_path(&mut scratch.relative, name, &[MANIFEST_FILE_NAME]);
            let stat = open_file::stat_at(&directory.handle, manifest_file).ok();
            if let Some(stat) = stat.filter(|stat| stat.stamp == slot.manifest_stamp) {
                if let Some(manifest) = cache.manifest(slot) {
                    let library = library_stamp(&mut scratch.relative, &manifest);
                    if library == slot.library_stamp {
                        // A chmod or chown changes the ctime, which the stamps leave out, so the cache cannot
                        // vouch for the permissions: they are read from this same stat every time.
                        let checked = check_files(
                            check,
                            directory,
                            name,
                            &scratch.manifest_path,
                            stat.access,
                            &mut scratch.relative,
                        );
                        return match checked {
                            Ok(warnings) => accepted(manifest, Some((slot.manifest_stamp, library)), true, warnings),
                            Err(refused) => refused,
                        };
                    }
                }
            }
        }
    }
    let manifest_file = relative_path(&mut scratch.relative, name, &[MANIFEST_FILE_NAME]);
    let opened = open_file::open_regular_at(&directory.handle, manifest_file);
    // Only a candidate (a manifest was opened) is checked: any other entry of a search directory is not ours.
    let warnings = match &opened {
        Ok((_, metadata)) => {
            match check_files(
                check,
                directory,
                name,
                &scratch.manifest_path,
                Access::of(metadata),
                &mut scratch.relative,
            ) {
                Ok(warnings) => warnings,
                Err(refused) => return refused,
            }
        }
        Err(_) => Vec::new(),
    };
    match Manifest::read_opened(opened, &scratch.manifest_path) {
        Ok(None) => Outcome::NotCandidate,
        Err(error) => Outcome::Refused(scratch.manifest_path.clone(), error),
        Ok(Some((manifest, stamp))) => {
            let stamps = cache.map(|_| (stamp, library_stamp(&mut scratch.relative, &manifest)));
            accepted(manifest, stamps, false, warnings)
        }
    }
}

/// Checks candidate `name`'s plugin directory (one `stat` through the open search directory) and its manifest
/// (whose owner and mode, `manifest`, come from the `stat` already made) under `check`. Gives the warnings to
/// log when the policy is warn, or the refusal, a diagnostic about the manifest naming the file at fault.
fn check_files(
    check: FileCheck,
    directory: &SearchDir,
    name: &OsStr,
    manifest_path: &Path,
    manifest: Access,
    relative: &mut Vec<u8>,
) -> Result<Vec<String>, Outcome> {
    if check.is_off() {
        return Ok(Vec::new());
    }
    let plugin_dir = manifest_path.parent().unwrap_or(manifest_path);
    let refused = |error| Outcome::Refused(manifest_path.to_path_buf(), error);
    // `<name>/`: the directory the manifest was opened in, through the same search directory.
    let stat = open_file::stat_at(&directory.handle, relative_path(relative, name, &[])).map_err(|e| {
        let why = io_error::describe(&e);
        refused(Error::new(Status::Io, format!("{}: cannot stat plugin directory: {why}", plugin_dir.display())))
    })?;
    let mut warnings = Vec::new();
    // The directory first: writing it is what lets someone replace the manifest and the library.
    warnings.extend(check.check(Role::PluginDirectory, plugin_dir, stat.access).map_err(refused)?);
    warnings.extend(check.check(Role::Manifest, manifest_path, manifest).map_err(refused)?);
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_path_is_the_library_file_name_in_the_plugin_directory() {
        let manifest = Manifest::parse_str(
            "[plugin]\nid = \"p\"\nname = \"P\"\nversion = \"1.0.0\"\nentry_point = \"p_entry\"\n",
            Path::new("m"),
        )
        .unwrap();
        for directory in ["/plugins/p", "/plugins/p/", "relative/p", "p", "", "/"] {
            let info = PluginInfo { manifest: manifest.clone(), directory: PathBuf::from(directory) };
            assert_eq!(info.library_path(), Path::new(directory).join(manifest.library_file_name()), "{directory:?}");
        }
    }

    #[test]
    fn candidates_sort_as_their_names_do() {
        let names = [
            "plugin-00010",
            "plugin-00002",
            "b",
            "a",
            "ab",
            "abc",
            "a-name-longer-than-sixteen-bytes-2",
            "a-name-longer-than-sixteen-bytes-10",
            "a-name-longer-than-sixteen-bytes",
            "a-name-longer-than-sixteen",
            "Zeta",
            "\u{e9}t\u{e9}",
            "\u{ff}",
            "",
        ];
        let mut candidates: Vec<Candidate> = names.iter().map(|n| Candidate::new(0, (*n).into())).collect();
        candidates.sort_unstable_by(Candidate::by_name);
        let mut expected: Vec<std::ffi::OsString> = names.iter().map(|n| (*n).into()).collect();
        expected.sort();
        assert_eq!(candidates.into_iter().map(|c| c.name).collect::<Vec<_>>(), expected);
    }

    /// Enough plugins that several workers take several blocks each, with entries that are not candidates
    /// among them: every plugin is found once, in name order, with or without the cache, and a manifest
    /// rewritten in place in the middle of the tree is read again.
    #[test]
    fn many_candidates_keep_their_order_across_workers_and_the_cache() {
        let root = std::env::temp_dir().join(format!("aisopod-discovery-order-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let tree = root.join("plugins");
        let manifest = |i: usize, name: &str| {
            format!("[plugin]\nid = \"p-{i:04}\"\nname = \"{name}\"\nversion = \"1.0.0\"\nentry_point = \"p_{i:04}\"\n")
        };
        let count = 5 * BLOCK + 7;
        // Created in reverse, so the directory's own order is unlikely to be the names' order.
        for i in (0..count).rev() {
            let dir = tree.join(format!("p-{i:04}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(MANIFEST_FILE_NAME), manifest(i, "P")).unwrap();
            if i % 3 == 0 {
                std::fs::write(dir.join(format!("{DLL_PREFIX}p_{i:04}{DLL_SUFFIX}")), b"not loaded here").unwrap();
            }
            if i % 50 == 0 {
                std::fs::create_dir_all(tree.join(format!("p-{i:04}-empty"))).unwrap();
                std::fs::write(tree.join(format!("p-{i:04}.txt")), b"not a plugin").unwrap();
            }
        }
        let cache = root.join("cache.bin");
        let ids = |discovery: &Discovery| -> Vec<String> {
            assert_eq!(discovery.diagnostics(), &[]);
            discovery.plugins().iter().map(|p| p.manifest.id.clone()).collect()
        };
        let expected: Vec<String> = (0..count).map(|i| format!("p-{i:04}")).collect();
        let logger = Logger::default();
        let search = [tree.clone()];
        assert_eq!(ids(&Discovery::scan(&search, &logger)), expected);
        assert_eq!(ids(&Discovery::scan_cached(&search, &logger, Some(&cache))), expected);
        let cached = Discovery::scan_cached(&search, &logger, Some(&cache));
        assert_eq!(ids(&cached), expected);
        assert_eq!(cached.find("p-0300").unwrap().manifest.name, "P");
        // Rewritten in place: the same file, longer.
        std::fs::write(tree.join("p-0300").join(MANIFEST_FILE_NAME), manifest(300, "Changed")).unwrap();
        let changed = Discovery::scan_cached(&search, &logger, Some(&cache));
        assert_eq!(ids(&changed), expected);
        assert_eq!(changed.find("p-0300").unwrap().manifest.name, "Changed");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
