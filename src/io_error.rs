//! I/O errors in the words a C user knows: the system's own `strerror` text ("No such file or directory"),
//! without Rust's "(os error 2)" or its names for error kinds.

use std::io;

/// Why an I/O operation failed, as `strerror` words it. Errors that carry a message of their own keep it.
pub(crate) fn describe(error: &io::Error) -> String {
    if let Some(inner) = error.get_ref() {
        return inner.to_string();
    }
    error.raw_os_error().or_else(|| errno_of(error.kind())).and_then(strerror).unwrap_or_else(|| error.to_string())
}

/// The errno value that stands for an error kind, for errors made from a kind alone.
#[cfg(unix)]
fn errno_of(kind: io::ErrorKind) -> Option<i32> {
    use io::ErrorKind::*;
    Some(match kind {
        NotFound => libc::ENOENT,
        PermissionDenied => libc::EACCES,
        AlreadyExists => libc::EEXIST,
        NotADirectory => libc::ENOTDIR,
        IsADirectory => libc::EISDIR,
        InvalidInput => libc::EINVAL,
        Interrupted => libc::EINTR,
        WouldBlock => libc::EAGAIN,
        OutOfMemory => libc::ENOMEM,
        _ => return None,
    })
}

#[cfg(not(unix))]
fn errno_of(_kind: io::ErrorKind) -> Option<i32> {
    None
}

/// The system's text for `code`, from the thread-safe `strerror_r`.
#[cfg(unix)]
fn strerror(code: i32) -> Option<String> {
    let mut buffer = [0 as libc::c_char; 256];
    // SAFETY: the buffer and its length match; the POSIX strerror_r writes a NUL-terminated string into it.
    let rc = unsafe { libc::strerror_r(code, buffer.as_mut_ptr(), buffer.len()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: on success the buffer holds a NUL-terminated string.
    let text = unsafe { std::ffi::CStr::from_ptr(buffer.as_ptr()) };
    Some(text.to_string_lossy().into_owned()).filter(|t| !t.is_empty())
}

#[cfg(not(unix))]
fn strerror(_code: i32) -> Option<String> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn os_errors_read_as_strerror_without_the_code() {
        let missing = std::fs::File::open("/nonexistent/aisopod/manifest").unwrap_err();
        assert!(missing.to_string().contains("os error"), "{missing}");
        assert_eq!(describe(&missing), "No such file or directory");
        assert_eq!(describe(&io::Error::from_raw_os_error(libc::EACCES)), "Permission denied");
        assert_eq!(describe(&io::Error::from_raw_os_error(libc::ENXIO)), "No such device or address");
    }

    #[test]
    fn bare_kinds_read_as_their_errno_and_custom_errors_as_themselves() {
        assert_eq!(describe(&io::Error::from(io::ErrorKind::NotFound)), "No such file or directory");
        assert_eq!(describe(&io::Error::from(io::ErrorKind::PermissionDenied)), "Permission denied");
        let custom = io::Error::new(io::ErrorKind::NotFound, "the cache vanished");
        assert_eq!(describe(&custom), "the cache vanished");
        assert_eq!(describe(&io::Error::from(io::ErrorKind::UnexpectedEof)), "unexpected end of file");
    }
}
