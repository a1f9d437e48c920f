//! Finding and opening a plugin's library: the path check that keeps it inside its plugin directory, the file
//! policy's check of who could have written it, the one descriptor every check before `dlopen` reads, the
//! `dlopen` flags, and symbol lookup.

use std::fs::{File, Metadata};
use std::path::{Path, PathBuf};

use libloading::Library;

use super::guard::in_plugin;
use crate::discovery::PluginInfo;
use crate::error::{Error, Result, Status};
use crate::log::{LogLevel, Logger};
use crate::open_file::{self, OpenError};
use crate::trust::{Access, FileCheck, FilePolicy, Role};

/// A plugin's library, opened once: the ELF check and the integrity check read this descriptor, and a pinned
/// library is handed to `dlopen` through it, so that what was checked is what is mapped.
pub(super) struct OpenLibrary {
    /// Where it was found, for messages (the symlink's target when the entry point is a symlink).
    pub(super) path: PathBuf,
    pub(super) file: File,
    /// From `fstat` on the descriptor, right after opening it.
    pub(super) metadata: Metadata,
    /// The file's SHA-256 once the integrity or the signature step has it, so the other does not hash again.
    pub(super) digest: std::cell::Cell<Option<crate::integrity::Sha256Digest>>,
}

/// Finds the library as [`resolve`] does, then opens it for reading as discovery opens manifests: `O_CLOEXEC`,
/// without blocking, and only if `fstat` says it is a regular file.
///
/// The common case, a regular file in the plugin directory, takes one `open` (refusing to follow a symlink)
/// and one `fstat`, whose mode and owner the file policy reads: the library's entry is a regular file, so it
/// is inside the plugin directory, as [`resolve`] explains. Anything else (a symlink, a missing or special
/// file, a failed open) goes the way of [`resolve`], which says what it is.
pub(super) fn find_and_open(info: &PluginInfo, policy: FilePolicy, logger: &Logger) -> Result<OpenLibrary> {
    #[cfg(unix)]
    let path = info.library_path();
    #[cfg(unix)]
    if let Ok((file, metadata)) = open_file::open_regular_no_follow(&path) {
        let id = &info.manifest.id;
        checked(FileCheck::new(policy), Role::Library, &path, Access::of(&metadata), id, logger)?;
        return Ok(OpenLibrary { path, file, metadata, digest: Default::default() });
    }
    let path = resolve(info, policy, logger)?;
    let id = &info.manifest.id;
    let (file, metadata) = open_file::open_regular(&path).map_err(|e| {
        let (status, why) = match e {
            OpenError::WrongKind(kind) => {
                (Status::LibraryLoad, format!("is {}, not a regular file", kind.with_article()))
            }
            OpenError::Missing(e) => {
                (Status::LibraryNotFound, format!("cannot be opened: {}", crate::io_error::describe(&e)))
            }
            OpenError::Failed(e) => {
                (Status::LibraryLoad, format!("cannot be opened: {}", crate::io_error::describe(&e)))
            }
        };
        Error::new(status, format!("plugin '{id}': library {} {why}", path.display()))
    })?;
    Ok(OpenLibrary { path, file, metadata, digest: Default::default() })
}

/// Finds the library, refuses one that resolves outside the plugin directory, and checks who could have
/// written it under `policy` (a warning goes to `logger`).
///
/// `entry_point` holds no path separator and no `..`, so the library's directory entry sits in the plugin
/// directory by construction; only a symlink there can lead elsewhere. A regular file is therefore accepted
/// after one `lstat`, whose mode and owner the file policy reads, and only a symlink pays for resolving both
/// paths; the policy then checks the file it resolves to, and the directories between it and the plugin
/// directory.
pub(super) fn resolve(info: &PluginInfo, policy: FilePolicy, logger: &Logger) -> Result<PathBuf> {
    let id = &info.manifest.id;
    let path = info.library_path();
    let not_found = |e: std::io::Error| {
        let status = if e.kind() == std::io::ErrorKind::NotFound { Status::LibraryNotFound } else { Status::Io };
        Error::new(
            status,
            format!(
                "plugin '{id}': library {} (from [plugin].entry_point in {}): {}",
                path.display(),
                info.manifest_path().display(),
                crate::io_error::describe(&e)
            ),
        )
    };
    let entry = std::fs::symlink_metadata(&path).map_err(not_found)?;
    let not_a_file = |library: &Path| {
        Error::new(Status::LibraryLoad, format!("plugin '{id}': library {} is not a regular file", library.display()))
    };
    if entry.file_type().is_symlink() {
        let directory = info.directory.canonicalize().map_err(|e| {
            Error::new(
                Status::Io,
                format!(
                    "plugin '{id}': cannot resolve plugin directory {}: {}",
                    info.directory.display(),
                    crate::io_error::describe(&e)
                ),
            )
        })?;
        let target = path.canonicalize().map_err(not_found)?;
        let Ok(below) = target.strip_prefix(&directory) else {
            return Err(Error::new(
                Status::LibraryOutsidePluginDir,
                format!(
                    "plugin '{id}': library {} resolves to {}, outside the plugin directory {}",
                    path.display(),
                    target.display(),
                    directory.display()
                ),
            ));
        };
        let metadata = std::fs::metadata(&target).map_err(not_found)?;
        if !metadata.is_file() {
            return Err(not_a_file(&target));
        }
        let check = FileCheck::new(policy);
        if !check.is_off() {
            // Whoever can write a directory on the way can swap the file the symlink leads to.
            let mut between = directory.clone();
            for component in below.parent().into_iter().flat_map(Path::components) {
                between.push(component);
                let access = std::fs::metadata(&between).map(|m| Access::of(&m)).map_err(not_found)?;
                checked(check, Role::LibraryDirectory, &between, access, id, logger)?;
            }
            checked(check, Role::Library, &target, Access::of(&metadata), id, logger)?;
        }
        Ok(target)
    } else if entry.is_file() {
        checked(FileCheck::new(policy), Role::Library, &path, Access::of(&entry), id, logger)?;
        Ok(path)
    } else {
        Err(not_a_file(&path))
    }
}

/// Checks one file of plugin `id` under `check`: logs the warning, or gives the refusal with the plugin named.
fn checked(check: FileCheck, role: Role, path: &Path, access: Access, id: &str, logger: &Logger) -> Result<()> {
    match check.check(role, path, access) {
        Ok(None) => Ok(()),
        Ok(Some(warning)) => {
            logger.log(LogLevel::Warn, &format!("plugin '{id}': {warning}"));
            Ok(())
        }
        Err(error) => Err(Error::new(error.status(), format!("plugin '{id}': {}", error.message()))),
    }
}

/// Reads the library's ELF header from the open file and refuses a file built for another machine, or one that
/// is not a shared library, before the dynamic linker sees it. Runs no plugin code.
pub(super) fn check_format(id: &str, library: &OpenLibrary) -> Result<()> {
    #[cfg(all(unix, not(target_vendor = "apple")))]
    super::elf::check_header(&library.file).map_err(|why| {
        Error::new(Status::LibraryLoad, format!("plugin '{id}': cannot load {}: {why}", library.path.display()))
    })?;
    let _ = (id, library);
    Ok(())
}

/// A library `dlopen` mapped, and, for a pinned one, the file whose descriptor names it (see [`super::names`]).
pub(super) struct Opened {
    pub(super) library: Library,
    pub(super) named: Option<FileKey>,
}

/// The key of a file a pinned library was opened through; nothing outside Linux.
#[cfg(target_os = "linux")]
pub(super) type FileKey = super::names::FileKey;
#[cfg(not(target_os = "linux"))]
pub(super) type FileKey = std::convert::Infallible;

/// Opens the library, which runs its constructors: `RTLD_NOW | RTLD_LOCAL`, plus `RTLD_NODELETE` when it must
/// stay resident. A failure names a dependency the dynamic linker could not find, when that is the cause.
///
/// A library opened `through_descriptor` is opened, on Linux, through `/proc/self/fd/N` (see [`super::names`]): the
/// dynamic linker then maps the very file the integrity check hashed, even if the path has been made to name
/// another file since, and does not hand back another file it has mapped under the same path (the version a
/// reload replaces). Elsewhere it is opened by its path, as every library is.
pub(super) fn open(id: &str, library: OpenLibrary, resident: bool, through_descriptor: bool) -> Result<Opened> {
    let OpenLibrary { path, file, metadata, .. } = library;
    let (result, through, named) = match through_descriptor {
        #[cfg(target_os = "linux")]
        true => {
            let (result, name, key) =
                super::names::open_through(file, &metadata, |name| open_with_flags(name, resident));
            (result, Some(name), Some(key))
        }
        _ => {
            drop((file, metadata));
            (open_with_flags(&path, resident), None, None)
        }
    };
    let e = match result {
        Ok(library) => return Ok(Opened { library, named }),
        Err(e) => e,
    };
    // The dynamic linker names the file as it was given: the message names the library.
    let mut dlerror = e.to_string();
    if let Some(through) = &through {
        dlerror = dlerror.replace(&*through.to_string_lossy(), &path.to_string_lossy());
    }
    if through.is_some() && !Path::new("/proc/self/fd").is_dir() {
        return Err(Error::new(
            Status::LibraryLoad,
            format!(
                "plugin '{id}': cannot load {}: a library pinned with [plugin].sha256, or reloaded, is opened \
                 through /proc/self/fd, and /proc is not mounted (dynamic linker: {dlerror})",
                path.display()
            ),
        ));
    }
    #[cfg(all(unix, not(target_vendor = "apple")))]
    if let Some(why) = super::elf::explain_missing_dependency(&path, &dlerror, through.is_some()) {
        return Err(Error::new(
            Status::LibraryLoad,
            format!("plugin '{id}': cannot load {}: {why} (dynamic linker: {dlerror})", path.display()),
        ));
    }
    Err(Error::new(Status::LibraryLoad, format!("plugin '{id}': cannot load {}: {dlerror}", path.display())))
}

/// After `dlclose` of a pinned library: lets go of the descriptor that named it, once nothing is mapped under
/// that name.
pub(super) fn release(named: FileKey) {
    #[cfg(target_os = "linux")]
    super::names::release(named);
    #[cfg(not(target_os = "linux"))]
    match named {}
}

#[cfg(unix)]
fn open_with_flags(path: &Path, resident: bool) -> std::result::Result<Library, libloading::Error> {
    use libloading::os::unix::{Library as UnixLibrary, RTLD_LOCAL, RTLD_NOW};
    #[cfg(target_vendor = "apple")]
    const RTLD_NODELETE: std::ffi::c_int = 0x80;
    #[cfg(not(target_vendor = "apple"))]
    const RTLD_NODELETE: std::ffi::c_int = 0x1000;
    let flags = RTLD_NOW | RTLD_LOCAL | if resident { RTLD_NODELETE } else { 0 };
    // SAFETY: running the library's initialisers is what loading a plugin means; the path was checked.
    in_plugin(|| unsafe { UnixLibrary::open(Some(path), flags) }).map(Library::from)
}

#[cfg(windows)]
fn open_with_flags(path: &Path, _resident: bool) -> std::result::Result<Library, libloading::Error> {
    // SAFETY: as on Unix.
    in_plugin(|| unsafe { Library::new(path) })
}

/// Looks up `name` in `library`; the error names the symbol and carries the dynamic linker's reason.
///
/// # Safety
/// `T` must be the symbol's real type.
pub(super) unsafe fn symbol<T: Copy>(library: &Library, name: &str) -> std::result::Result<T, String> {
    // NUL-terminated on the stack, so that looking up the ABI's symbols allocates nothing; a longer name is
    // handed over as it is, and libloading terminates it.
    let mut buffer = [0u8; 64];
    let c_name = match buffer.get_mut(..name.len() + 1) {
        Some(c_name) => {
            c_name[..name.len()].copy_from_slice(name.as_bytes());
            &*c_name
        }
        None => name.as_bytes(),
    };
    // SAFETY: forwarded to the caller.
    match unsafe { library.get::<T>(c_name) } {
        Ok(symbol) => Ok(*symbol),
        Err(e) => Err(format!("does not export {name} ({e})")),
    }
}
