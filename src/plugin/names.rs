//! The names pinned libraries go by in the dynamic linker: `/proc/self/fd/N`, for a descriptor kept open as long
//! as a library may be mapped under that name (Linux).
//!
//! The dynamic linker hands the library it has under a name to every later `dlopen` of that name, and a
//! `dlopen` that finds a file already mapped (by device and inode) adds the new name to it. So a descriptor
//! whose number names a library must not be closed while the library is mapped, or the number, given to the
//! next file opened, would open the old library. One descriptor per file is kept here, process-wide, and every
//! pinned load of that file goes through it, so reloading a resident library adds no name.

use std::fs::{File, Metadata};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::sync::lock;

/// A file: its device and inode.
pub(super) type FileKey = (u64, u64);

/// For each file a pinned library was mapped from and may still be, the descriptor whose name it has: as many
/// as there are pinned libraries loaded, or resident.
static NAMES: Mutex<Vec<(FileKey, File)>> = Mutex::new(Vec::new());

/// `/proc/self/fd/N` for `file`'s descriptor.
fn name_of(file: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// Calls `open` (which runs `dlopen`) with the name of `file`: the name of the descriptor kept for the same
/// file when there is one, else the name of `file`'s own descriptor, which is then kept if `open` succeeds.
/// Returns what `open` returned, the name it was given, and the file's key for [`release`].
pub(super) fn open_through<T, E>(
    file: File,
    metadata: &Metadata,
    open: impl FnOnce(&Path) -> Result<T, E>,
) -> (Result<T, E>, PathBuf, FileKey) {
    let key = (metadata.dev(), metadata.ino());
    // Held across dlopen, so that no other load or release of the same file slips in between. Plugin code run
    // by dlopen cannot load or unload plugins (re-entry is refused), so it cannot wait on this lock.
    let mut names = lock(&NAMES);
    let kept = names.iter().find(|(kept, _)| *kept == key).map(|(_, file)| file);
    let name = name_of(kept.unwrap_or(&file));
    let result = open(&name);
    if result.is_ok() && kept.is_none() {
        names.push((key, file));
    }
    (result, name, key)
}

/// After `dlclose` of a library opened through [`open_through`]: closes the descriptor kept for its file once
/// no library is mapped under its name any more.
pub(super) fn release(key: FileKey) {
    let mut names = lock(&NAMES);
    if let Some(at) = names.iter().position(|(kept, _)| *kept == key) {
        if !is_mapped(&names[at].1) {
            names.swap_remove(at);
        }
    }
}

/// Whether the dynamic linker has a library mapped under the name of `file`'s descriptor, or from its file.
fn is_mapped(file: &File) -> bool {
    let name = std::ffi::CString::new(name_of(file).into_os_string().into_encoded_bytes()).expect("no NUL");
    // SAFETY: with RTLD_NOLOAD, dlopen maps nothing and runs no code: it only finds a library already mapped
    // under that name or from that file, taking a reference that is given back at once.
    unsafe {
        let handle = libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD);
        if handle.is_null() {
            // Clears the failure, which no one asked about.
            libc::dlerror();
            return false;
        }
        libc::dlclose(handle);
        true
    }
}
