//! Opening the files and directories that discovery and the registry cache read, so that nothing blocks and
//! nothing but a regular file (or a directory, where one is expected) is read: every open is non-blocking
//! and followed by an `fstat`, and a FIFO, socket or device is refused with what it is.

use std::ffi::CStr;
use std::fs::{File, FileType, Metadata};
use std::io;
use std::path::Path;

use crate::file_stamp::FileStamp;
use crate::trust::Access;

/// What a path turned out to be, in words for messages ("a FIFO").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Regular,
    Directory,
    Fifo,
    Socket,
    CharacterDevice,
    BlockDevice,
    Other,
}

impl FileKind {
    pub(crate) fn of(file_type: FileType) -> FileKind {
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if file_type.is_fifo() {
                return FileKind::Fifo;
            }
            if file_type.is_socket() {
                return FileKind::Socket;
            }
            if file_type.is_char_device() {
                return FileKind::CharacterDevice;
            }
            if file_type.is_block_device() {
                return FileKind::BlockDevice;
            }
        }
        if file_type.is_file() {
            FileKind::Regular
        } else if file_type.is_dir() {
            FileKind::Directory
        } else {
            FileKind::Other
        }
    }

    /// "a FIFO", "a directory", ...
    pub(crate) fn with_article(self) -> &'static str {
        match self {
            FileKind::Regular => "a regular file",
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a FIFO",
            FileKind::Socket => "a socket",
            FileKind::CharacterDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Other => "a special file",
        }
    }
}

/// Why a path could not be opened as expected.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// Nothing there: the path, or a directory on the way, does not exist or is not a directory.
    Missing(io::Error),
    /// The path exists but is not the kind of file expected.
    WrongKind(FileKind),
    /// The path could not be opened or examined.
    Failed(io::Error),
}

/// Flags for every open: never wait for a FIFO's writer or a device, never acquire a controlling terminal.
#[cfg(unix)]
const NON_BLOCKING: libc::c_int = libc::O_NONBLOCK | libc::O_NOCTTY;

/// Opens `path` for reading if it is a regular file (following symlinks), with its metadata.
pub(crate) fn open_regular(path: &Path) -> Result<(File, Metadata), OpenError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, NON_BLOCKING);
    match options.open(path) {
        Ok(file) => regular(file),
        Err(e) => Err(classify(e, FileKind::Regular, || std::fs::metadata(path).map(|m| FileKind::of(m.file_type())))),
    }
}

/// Opens `path` for reading if it is a regular file and not a symlink, with its metadata. A symlink fails to
/// open (`ELOOP`), so a caller that accepts symlinks can resolve it another way.
#[cfg(unix)]
pub(crate) fn open_regular_no_follow(path: &Path) -> Result<(File, Metadata), OpenError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, NON_BLOCKING | libc::O_NOFOLLOW);
    match options.open(path) {
        Ok(file) => regular(file),
        Err(e) => {
            Err(classify(e, FileKind::Regular, || std::fs::symlink_metadata(path).map(|m| FileKind::of(m.file_type()))))
        }
    }
}

/// Opens `path` if it is a directory (following symlinks).
pub(crate) fn open_directory(path: &Path) -> Result<File, OpenError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, NON_BLOCKING | libc::O_DIRECTORY);
    let file = options.open(path).map_err(|e| {
        classify(e, FileKind::Directory, || std::fs::metadata(path).map(|m| FileKind::of(m.file_type())))
    })?;
    let metadata = file.metadata().map_err(OpenError::Failed)?;
    match FileKind::of(metadata.file_type()) {
        FileKind::Directory => Ok(file),
        other => Err(OpenError::WrongKind(other)),
    }
}

/// Opens `relative` (below the open `directory`) for reading if it is a regular file, with its metadata.
#[cfg(unix)]
pub(crate) fn open_regular_at(directory: &File, relative: &CStr) -> Result<(File, Metadata), OpenError> {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: a valid directory descriptor and a NUL-terminated path; the new descriptor is owned by the File.
    let fd = unsafe {
        libc::openat(directory.as_raw_fd(), relative.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC | NON_BLOCKING)
    };
    if fd < 0 {
        let error = io::Error::last_os_error();
        return Err(classify(error, FileKind::Regular, || stat_at(directory, relative).map(|stat| stat.kind)));
    }
    regular(unsafe { File::from_raw_fd(fd) })
}

/// What one `stat` says about a file: its kind, its identity for the registry cache, and its owner and mode.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stat {
    pub(crate) kind: FileKind,
    pub(crate) stamp: FileStamp,
    pub(crate) access: Access,
}

/// What `stat` says of `relative` (below the open `directory`), following symlinks. Opens nothing.
#[cfg(unix)]
pub(crate) fn stat_at(directory: &File, relative: &CStr) -> io::Result<Stat> {
    use std::os::fd::AsRawFd;
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: as in `open_regular_at`; `st` is written in full on success.
    let rc = unsafe { libc::fstatat(directory.as_raw_fd(), relative.as_ptr(), st.as_mut_ptr(), 0) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let st = unsafe { st.assume_init() };
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => FileKind::Regular,
        libc::S_IFDIR => FileKind::Directory,
        libc::S_IFIFO => FileKind::Fifo,
        libc::S_IFSOCK => FileKind::Socket,
        libc::S_IFCHR => FileKind::CharacterDevice,
        libc::S_IFBLK => FileKind::BlockDevice,
        _ => FileKind::Other,
    };
    #[allow(clippy::unnecessary_cast)] // The field types differ between platforms.
    let stamp = FileStamp::from_parts(
        st.st_dev as u64,
        st.st_ino as u64,
        st.st_size as u64,
        st.st_mtime as i64,
        st.st_mtime_nsec as i64,
    );
    #[allow(clippy::unnecessary_cast)]
    let access = Access { mode: st.st_mode as u32, uid: st.st_uid as u32, gid: st.st_gid as u32 };
    Ok(Stat { kind, stamp, access })
}

/// The open file, if `fstat` says it is a regular file.
fn regular(file: File) -> Result<(File, Metadata), OpenError> {
    let metadata = file.metadata().map_err(OpenError::Failed)?;
    match FileKind::of(metadata.file_type()) {
        FileKind::Regular => Ok((file, metadata)),
        other => Err(OpenError::WrongKind(other)),
    }
}

/// Sorts a failed open: nothing there, something of another kind (a socket cannot be opened at all, a file
/// with `O_DIRECTORY` neither), or a real failure. `stat` says what the path is; it runs only when the error
/// leaves that open, so a missing file costs no second system call.
fn classify(error: io::Error, expected: FileKind, stat: impl FnOnce() -> io::Result<FileKind>) -> OpenError {
    let missing = match error.kind() {
        io::ErrorKind::NotFound => return OpenError::Missing(error),
        // For a file, a directory on the way is not one; for a directory, the path itself may be a file.
        io::ErrorKind::NotADirectory if expected != FileKind::Directory => return OpenError::Missing(error),
        io::ErrorKind::NotADirectory => true,
        _ => false,
    };
    match stat() {
        Ok(kind) if kind != expected => OpenError::WrongKind(kind),
        _ if missing => OpenError::Missing(error),
        _ => OpenError::Failed(error),
    }
}
