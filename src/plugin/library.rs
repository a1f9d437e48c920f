//! Finding and opening a plugin's library: the path check that keeps it inside its plugin directory and the
//! file policy's check of who could have written it, the `dlopen` flags, and symbol lookup.

use std::path::{Path, PathBuf};

use libloading::Library;

use super::guard::in_plugin;
use crate::discovery::PluginInfo;
use crate::error::{Error, Result, Status};
use crate::log::{LogLevel, Logger};
use crate::trust::{Access, FileCheck, FilePolicy, Role};

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

/// Reads the library's ELF header and refuses a file built for another machine, or one that is not a shared
/// library, before the dynamic linker sees it. Runs no plugin code.
pub(super) fn check_format(id: &str, path: &Path) -> Result<()> {
    #[cfg(all(unix, not(target_vendor = "apple")))]
    super::elf::check_header(path).map_err(|why| {
        Error::new(Status::LibraryLoad, format!("plugin '{id}': cannot load {}: {why}", path.display()))
    })?;
    let _ = (id, path);
    Ok(())
}

/// Opens the library, which runs its constructors: `RTLD_NOW | RTLD_LOCAL`, plus `RTLD_NODELETE` when it must
/// stay resident. A failure names a dependency the dynamic linker could not find, when that is the cause.
pub(super) fn open(id: &str, path: &Path, resident: bool) -> Result<Library> {
    open_with_flags(path, resident).map_err(|e| {
        let dlerror = e.to_string();
        #[cfg(all(unix, not(target_vendor = "apple")))]
        if let Some(why) = super::elf::explain_missing_dependency(path, &dlerror) {
            return Error::new(
                Status::LibraryLoad,
                format!("plugin '{id}': cannot load {}: {why} (dynamic linker: {dlerror})", path.display()),
            );
        }
        Error::new(Status::LibraryLoad, format!("plugin '{id}': cannot load {}: {dlerror}", path.display()))
    })
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
    let mut c_name = name.as_bytes().to_vec();
    c_name.push(0);
    // SAFETY: forwarded to the caller.
    match unsafe { library.get::<T>(&c_name) } {
        Ok(symbol) => Ok(*symbol),
        Err(e) => Err(format!("does not export {name} ({e})")),
    }
}
