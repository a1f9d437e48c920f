//! Finding the helper executable, `aisopod-plugin-host`: the places it may be, in order, and why each failed.
//!
//! The places, first match wins:
//!
//! 1. a path the caller gives;
//! 2. the `AISOPOD_HELPER` environment variable, which is not read when the process runs setuid or setgid
//!    (on Linux, `getauxval(AT_SECURE)`; on macOS and the BSDs, `issetugid()`; elsewhere, a real user or group
//!    id that differs from the effective one), because there the environment belongs to a less privileged user;
//! 3. the installed location, `<dir>/aisopod_loader/aisopod-plugin-host`, where `<dir>` is the directory of the
//!    object this code was loaded from (`libaisopod_loader.so`, or the program it is linked into statically),
//!    found with `dladdr`; `make install` puts the helper there;
//! 4. the build tree: when that directory is a cargo profile directory (`target/<profile>/`, which holds
//!    `.fingerprint/`) or its `deps/`, the helper cargo builds in `target/<profile>/`.
//!
//! Each candidate must be an executable regular file. A path the caller gives is the only one tried: a host
//! that names its helper means that one, and running another instead would hide its mistake. An unusable
//! `AISOPOD_HELPER` does not stop the search; it is named, with its reason, in the error when no place has
//! the helper.

use std::ffi::{CStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result, Status};
use crate::io_error::describe;
use crate::privilege;

/// The helper's file name.
pub const HELPER_NAME: &str = "aisopod-plugin-host";
/// The environment variable that names the helper.
pub const HELPER_ENV: &str = "AISOPOD_HELPER";
/// The directory, next to the installed library, that holds the helper.
pub const INSTALL_SUBDIR: &str = "aisopod_loader";

/// Where a helper was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The path the caller gave.
    Explicit,
    /// The `AISOPOD_HELPER` environment variable.
    Environment,
    /// Next to the installed library.
    Installed,
    /// The cargo build tree the library was built in.
    BuildTree,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Explicit => "the path given by the caller",
            Origin::Environment => "AISOPOD_HELPER",
            Origin::Installed => "the installed location",
            Origin::BuildTree => "the build tree",
        })
    }
}

/// A helper executable and the place it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub path: PathBuf,
    pub origin: Origin,
}

/// Finds the helper: `explicit` alone when it is given, else the places the module documentation lists.
pub fn locate(explicit: Option<&Path>) -> Result<Located> {
    let mut tried: Vec<String> = Vec::new();
    let attempt = |tried: &mut Vec<String>, origin: Origin, path: PathBuf| -> Option<Located> {
        match check_executable(&path) {
            Ok(()) => Some(Located { path, origin }),
            Err(why) => {
                tried.push(format!("{origin}: {} ({why})", path.display()));
                None
            }
        }
    };

    match explicit {
        Some(path) => {
            return attempt(&mut tried, Origin::Explicit, path.to_path_buf()).ok_or_else(|| {
                Error::new(
                    Status::HelperUnavailable,
                    format!("the helper executable named by the host cannot be used: {}", tried.join("; ")),
                )
            });
        }
        None => tried.push(format!("{}: none given", Origin::Explicit)),
    }

    if privilege::is_secure_process() {
        tried.push(format!("{HELPER_ENV}: not read, because the process runs setuid or setgid"));
    } else {
        match std::env::var_os(HELPER_ENV).filter(|value| !value.is_empty()) {
            Some(value) => {
                if let Some(found) = attempt(&mut tried, Origin::Environment, PathBuf::from(value)) {
                    return Ok(found);
                }
            }
            None => tried.push(format!("{HELPER_ENV}: not set")),
        }
    }

    let dirs = library_dirs();
    if dirs.is_empty() {
        tried.push(format!("{}: dladdr does not know which file this library was loaded from", Origin::Installed));
    }
    for dir in &dirs {
        if let Some(found) = attempt(&mut tried, Origin::Installed, dir.join(INSTALL_SUBDIR).join(HELPER_NAME)) {
            return Ok(found);
        }
    }
    let mut profiles: Vec<PathBuf> = dirs.iter().filter_map(|dir| cargo_profile_dir(dir)).collect();
    profiles.dedup();
    if profiles.is_empty() && !dirs.is_empty() {
        let shown: Vec<String> = dirs.iter().map(|dir| dir.display().to_string()).collect();
        tried.push(format!("{}: {} is not a cargo profile directory", Origin::BuildTree, shown.join(" or ")));
    }
    for profile in profiles {
        if let Some(found) = attempt(&mut tried, Origin::BuildTree, profile.join(HELPER_NAME)) {
            return Ok(found);
        }
    }

    Err(Error::new(
        Status::HelperUnavailable,
        format!("the helper executable {HELPER_NAME} was not found; tried {}", tried.join("; ")),
    ))
}

/// Checks that `path` is a regular file that some user may execute; `Err` says why not.
fn check_executable(path: &Path) -> std::result::Result<(), String> {
    let metadata = std::fs::metadata(path).map_err(|e| describe(&e))?;
    if !metadata.is_file() {
        return Err(if metadata.is_dir() { "a directory" } else { "not a regular file" }.to_owned());
    }
    if metadata.permissions().mode() & 0o111 == 0 {
        return Err("not executable".to_owned());
    }
    Ok(())
}

/// The directories of the object this code is in: as the dynamic linker names it, and (when that is a
/// symbolic link) as it resolves, so an installed `libaisopod_loader.so.0` finds the helper installed beside
/// the file it points to too.
fn library_dirs() -> Vec<PathBuf> {
    let Some(object) = this_object() else { return Vec::new() };
    let mut dirs: Vec<PathBuf> = object.parent().map(Path::to_path_buf).into_iter().collect();
    if let Some(resolved) = std::fs::canonicalize(&object).ok().and_then(|p| p.parent().map(Path::to_path_buf)) {
        if !dirs.contains(&resolved) {
            dirs.push(resolved);
        }
    }
    dirs
}

/// The file this code was loaded from, through `dladdr` on one of its own functions. For the main program the
/// dynamic linker reports `argv[0]`, which may be relative or a bare name: then the program's own path is used.
fn this_object() -> Option<PathBuf> {
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr reads the address and fills `info`; the address is that of a function in this object.
    let found = unsafe { libc::dladdr(this_object as *const libc::c_void, &mut info) };
    if found == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: on success dli_fname is a NUL-terminated string owned by the dynamic linker.
    let name = PathBuf::from(OsString::from_vec(unsafe { CStr::from_ptr(info.dli_fname) }.to_bytes().to_vec()));
    if name.is_absolute() {
        return Some(name);
    }
    std::env::current_exe().ok()
}

/// The cargo profile directory (`target/<profile>/`) that `dir` is, or whose `deps/` it is.
fn cargo_profile_dir(dir: &Path) -> Option<PathBuf> {
    let profile = if dir.file_name().is_some_and(|name| name == "deps") { dir.parent()? } else { dir };
    profile.join(".fingerprint").is_dir().then(|| profile.to_path_buf())
}
