//! Paths as the bytes and C strings the OS knows them by: the one conversion for every path that leaves Rust.

use std::ffi::CString;
use std::path::{Path, PathBuf};

/// The bytes of `path`: on Unix exactly the bytes the OS uses, elsewhere its UTF-8 form (WTF-8 where it is not
/// valid Unicode). Two different paths never give the same bytes.
#[cfg(unix)]
pub(crate) fn bytes(path: &Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes()
}

/// The bytes of `path`: on Unix exactly the bytes the OS uses, elsewhere its UTF-8 form (WTF-8 where it is not
/// valid Unicode). Two different paths never give the same bytes.
#[cfg(not(unix))]
pub(crate) fn bytes(path: &Path) -> &[u8] {
    path.as_os_str().as_encoded_bytes()
}

/// The path whose bytes (as [`bytes`] gives them) are `bytes`. Elsewhere than Unix, bytes that are not UTF-8
/// are replaced.
#[cfg(unix)]
pub(crate) fn from_bytes(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    Path::new(std::ffi::OsStr::from_bytes(bytes)).to_path_buf()
}

/// The path whose bytes (as [`bytes`] gives them) are `bytes`. Elsewhere than Unix, bytes that are not UTF-8
/// are replaced.
#[cfg(not(unix))]
pub(crate) fn from_bytes(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

/// `path` as a C string, or `None` when it holds a NUL byte: no file has such a path, and C would read it cut
/// short.
pub(crate) fn c_string(path: &Path) -> Option<CString> {
    CString::new(bytes(path)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_path_keeps_its_exact_bytes_even_when_not_utf8() {
        use std::os::unix::ffi::OsStrExt;
        let raw = b"/plugins/caf\xe9/lib.so";
        let path = Path::new(std::ffi::OsStr::from_bytes(raw));
        assert_eq!(bytes(path), raw);
        assert_eq!(from_bytes(raw), path);
        assert_eq!(c_string(path).unwrap().as_bytes(), raw);
    }

    #[test]
    fn a_path_with_a_nul_byte_has_no_c_string() {
        assert_eq!(c_string(Path::new("/data/a\0b")), None);
        assert_eq!(c_string(Path::new("")).unwrap().as_bytes(), b"");
    }
}
