//! Static, handle-free functions: status descriptions and the library version.

use std::ffi::c_char;

use super::boundary::boundary;
use crate::abi::aisopod_status;

/// Returns a static English description of `status` (an `aisopod_status` value), or "unknown status" for a
/// value this version does not define.
///
/// Ownership: the returned string is static; never free it.
///
/// Thread safety: callable from any thread.
#[no_mangle]
pub extern "C" fn aisopod_status_str(status: u32) -> *const c_char {
    boundary("aisopod_status_str", || {
        aisopod_status::from_u32(status).map_or(c"unknown status", aisopod_status::description).as_ptr()
    })
}

/// Returns the library's version string, e.g. "0.1.0"; it matches the `AISOPOD_LOADER_VERSION_*` macros of
/// the header the host was compiled against when the two agree.
///
/// Ownership: the returned string is static; never free it.
///
/// Thread safety: callable from any thread.
#[no_mangle]
pub extern "C" fn aisopod_loader_version() -> *const c_char {
    const VERSION: &std::ffi::CStr =
        match std::ffi::CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => panic!("version has a NUL"),
        };
    boundary("aisopod_loader_version", || VERSION.as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn every_status_has_its_own_description() {
        let mut seen = std::collections::HashSet::new();
        for status in aisopod_status::ALL {
            let text = unsafe { CStr::from_ptr(aisopod_status_str(status as u32)) }.to_str().unwrap();
            assert_ne!(text, "unknown status", "{status:?}");
            assert!(seen.insert(text), "{status:?} shares its description");
        }
        let unknown = unsafe { CStr::from_ptr(aisopod_status_str(12345)) };
        assert_eq!(unknown.to_str().unwrap(), "unknown status");
    }

    #[test]
    fn every_value_converts_back_to_its_status_and_no_other_does() {
        assert!(aisopod_status::ALL.windows(2).all(|pair| (pair[0] as u32) < (pair[1] as u32)), "ALL is not ascending");
        let max = aisopod_status::ALL.last().map_or(0, |&status| status as u32);
        for value in 0..=max + 100 {
            let expected = aisopod_status::ALL.iter().copied().find(|&status| status as u32 == value);
            assert_eq!(aisopod_status::from_u32(value), expected, "value {value}");
        }
        assert_eq!(aisopod_status::from_u32(u32::MAX), None);
    }

    #[test]
    fn version_matches_cargo() {
        let v = unsafe { CStr::from_ptr(aisopod_loader_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
