//! Static, handle-free functions: status descriptions and the library version.

use std::ffi::c_char;

/// Returns a static English description of `status` (an `aisopod_status` value), or "unknown status" for a
/// value this version does not define.
///
/// Ownership: the string is static; never free it. Thread safety: callable from any thread.
#[no_mangle]
pub extern "C" fn aisopod_status_str(status: u32) -> *const c_char {
    let text = match status {
        0 => c"success",
        1 => c"a required pointer argument was NULL",
        2 => c"a string or file is not valid UTF-8",
        3 => c"an argument is invalid",
        4 => c"an index is out of range",
        5 => c"no discovered plugin has that id",
        6 => c"the plugin is already loaded",
        7 => c"the plugin is not loaded",
        8 => c"the plugin is not initialized",
        9 => c"the plugin is already initialized",
        10 => c"the plugin has no such capability",
        11 => c"the call was made re-entrantly from inside a plugin callback",
        12 => c"the plugin has resolved capability handles alive",
        100 => c"a file or directory could not be read",
        101 => c"the manifest could not be parsed",
        102 => c"a manifest value is invalid",
        103 => c"the manifest is too large",
        104 => c"another plugin has the same id",
        105 => c"the host version is outside the plugin's compatibility range",
        200 => c"the plugin library does not exist",
        201 => c"the plugin library resolves outside its plugin directory",
        202 => c"the dynamic linker could not load the plugin library",
        203 => c"the plugin library lacks a required symbol",
        204 => c"the plugin speaks another ABI version",
        205 => c"the plugin's create function returned NULL",
        206 => c"the plugin struct is invalid",
        207 => c"the plugin's id differs from its manifest's",
        208 => c"the plugin's capability registration failed",
        209 => c"the plugin's registered capabilities differ from its manifest's",
        300 => c"the plugin's init failed",
        301 => c"the plugin returned an error",
        900 => c"an internal panic was caught",
        _ => c"unknown status",
    };
    text.as_ptr()
}

/// Returns the library's version string, e.g. "0.1.0"; it matches the `AISOPOD_LOADER_VERSION_*` macros of
/// the header the host was compiled against when the two agree.
///
/// Ownership: the string is static; never free it. Thread safety: callable from any thread.
#[no_mangle]
pub extern "C" fn aisopod_loader_version() -> *const c_char {
    const VERSION: &std::ffi::CStr =
        match std::ffi::CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => panic!("version has a NUL"),
        };
    VERSION.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::aisopod_status;
    use std::ffi::CStr;

    #[test]
    fn every_status_has_its_own_description() {
        let statuses = [
            aisopod_status::Ok,
            aisopod_status::NullArgument,
            aisopod_status::InvalidUtf8,
            aisopod_status::InvalidArgument,
            aisopod_status::OutOfRange,
            aisopod_status::NotFound,
            aisopod_status::AlreadyLoaded,
            aisopod_status::NotLoaded,
            aisopod_status::NotInitialized,
            aisopod_status::AlreadyInitialized,
            aisopod_status::CapabilityNotFound,
            aisopod_status::Reentrant,
            aisopod_status::Busy,
            aisopod_status::Io,
            aisopod_status::ManifestParse,
            aisopod_status::ManifestInvalid,
            aisopod_status::ManifestTooLarge,
            aisopod_status::DuplicateId,
            aisopod_status::VersionIncompatible,
            aisopod_status::LibraryNotFound,
            aisopod_status::LibraryOutsidePluginDir,
            aisopod_status::LibraryLoad,
            aisopod_status::MissingSymbol,
            aisopod_status::AbiMismatch,
            aisopod_status::CreateFailed,
            aisopod_status::InvalidPluginStruct,
            aisopod_status::IdMismatch,
            aisopod_status::RegistrationFailed,
            aisopod_status::CapabilityMismatch,
            aisopod_status::InitFailed,
            aisopod_status::PluginError,
            aisopod_status::Panic,
        ];
        let mut seen = std::collections::HashSet::new();
        for status in statuses {
            let text = unsafe { CStr::from_ptr(aisopod_status_str(status as u32)) }.to_str().unwrap();
            assert_ne!(text, "unknown status", "{status:?}");
            assert!(seen.insert(text), "{status:?} shares its description");
        }
        let unknown = unsafe { CStr::from_ptr(aisopod_status_str(12345)) };
        assert_eq!(unknown.to_str().unwrap(), "unknown status");
    }

    #[test]
    fn version_matches_cargo() {
        let v = unsafe { CStr::from_ptr(aisopod_loader_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
