//! The panic boundary: a panic inside an export becomes `AISOPOD_STATUS_PANIC` with a message, or the fallback
//! value of the export's return type; the process does not abort, and the loader stays usable.

use std::ffi::CStr;
use std::path::PathBuf;
use std::ptr::{null_mut, NonNull};

use super::boundary::failpoint;
use super::diagnostic::*;
use super::discovery::*;
use super::loader::*;
use super::plugin_info::*;
use super::status::*;
use crate::abi::{aisopod_status, AISOPOD_CAPABILITY_TOOL};

fn message(loader: Option<&aisopod_loader>) -> String {
    unsafe { CStr::from_ptr(aisopod_loader_error_message(loader)) }.to_str().unwrap().to_owned()
}

fn text(ptr: *const std::ffi::c_char) -> &'static str {
    assert!(!ptr.is_null());
    unsafe { CStr::from_ptr(ptr) }.to_str().unwrap()
}

/// A loader that searches only `path`.
fn loader_of(path: Option<&CStr>) -> *mut aisopod_loader {
    let mut raw = null_mut();
    assert_eq!(aisopod_loader_new(c"1.0.0".as_ptr(), Some(NonNull::from(&mut raw))), aisopod_status::Ok);
    let loader = unsafe { raw.as_ref() };
    assert_eq!(aisopod_loader_use_default_paths(loader, false), aisopod_status::Ok);
    assert_eq!(aisopod_loader_use_env_path(loader, false), aisopod_status::Ok);
    if let Some(path) = path {
        assert_eq!(aisopod_loader_add_search_path(loader, path.as_ptr()), aisopod_status::Ok);
    }
    raw
}

#[test]
fn a_panic_inside_an_export_becomes_a_status() {
    let raw = loader_of(None);
    let loader = unsafe { raw.as_ref() };

    failpoint::panic_in("aisopod_loader_discover");
    assert_eq!(aisopod_loader_discover(loader, None), aisopod_status::Panic);
    assert_eq!(message(loader), "aisopod_loader_discover: internal panic: failpoint in aisopod_loader_discover");

    // The loader is still usable, and the next call is not affected.
    let mut count = 7usize;
    assert_eq!(aisopod_loader_discover(loader, Some(NonNull::from(&mut count))), aisopod_status::Ok);
    assert_eq!(count, 0);

    failpoint::panic_in("aisopod_loader_new");
    let mut other = null_mut();
    assert_eq!(aisopod_loader_new(c"1.0.0".as_ptr(), Some(NonNull::from(&mut other))), aisopod_status::Panic);
    assert!(other.is_null());
    assert!(message(None).contains("internal panic"));

    aisopod_loader_free(raw);
}

/// A panic in an export that returns a value gives its return type's fallback, which differs from the
/// documented default for a NULL handle, so the test can tell the two apart.
#[test]
fn a_panic_inside_an_accessor_returns_its_type_fallback() {
    let root = PathBuf::from(env!("OUT_DIR")).join(format!("ffi-fallbacks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("good")).unwrap();
    std::fs::create_dir_all(root.join("bad")).unwrap();
    std::fs::write(
        root.join("good/aisopod.plugin.toml"),
        "[plugin]\nid = \"good\"\nname = \"Good\"\nversion = \"1.0.0\"\nentry_point = \"good\"\n\n\
         [capabilities]\ntools = [\"echo\"]\n",
    )
    .unwrap();
    std::fs::write(root.join("bad/aisopod.plugin.toml"), "[plugin\n").unwrap();
    let path = std::ffi::CString::new(root.to_str().unwrap()).unwrap();
    let raw = loader_of(Some(&path));
    let loader = unsafe { raw.as_ref() };
    assert_eq!(aisopod_loader_discover(loader, None), aisopod_status::Ok);

    let mut info_raw = null_mut();
    assert_eq!(
        aisopod_loader_find_plugin(loader, c"good".as_ptr(), Some(NonNull::from(&mut info_raw))),
        aisopod_status::Ok
    );
    let info = unsafe { info_raw.as_ref() };
    let mut diagnostic_raw = null_mut();
    assert_eq!(aisopod_loader_diagnostic_at(loader, 0, Some(NonNull::from(&mut diagnostic_raw))), aisopod_status::Ok);
    let diagnostic = unsafe { diagnostic_raw.as_ref() };

    // Without a panic, the real values.
    assert_eq!(text(aisopod_plugin_info_id(info)), "good");
    assert!(aisopod_plugin_info_thread_safe(info));
    assert_eq!(aisopod_plugin_info_capability_count(info, AISOPOD_CAPABILITY_TOOL), 1);
    assert_eq!(aisopod_diagnostic_status(diagnostic), aisopod_status::ManifestParse);

    // A string: the static empty string, not the NULL a NULL handle gives.
    failpoint::panic_in("aisopod_plugin_info_id");
    assert_eq!(text(aisopod_plugin_info_id(info)), "");
    failpoint::panic_in("aisopod_diagnostic_message");
    assert_eq!(text(aisopod_diagnostic_message(diagnostic)), "");
    failpoint::panic_in("aisopod_status_str");
    assert_eq!(text(aisopod_status_str(0)), "");
    // bool, usize and status.
    failpoint::panic_in("aisopod_plugin_info_thread_safe");
    assert!(!aisopod_plugin_info_thread_safe(info));
    failpoint::panic_in("aisopod_plugin_info_capability_count");
    assert_eq!(aisopod_plugin_info_capability_count(info, AISOPOD_CAPABILITY_TOOL), 0);
    failpoint::panic_in("aisopod_diagnostic_status");
    assert_eq!(aisopod_diagnostic_status(diagnostic), aisopod_status::Panic);
    // A value-returning call leaves no message: its fallback is the whole answer.
    assert_eq!(message(None), "");

    // A `_free` that panics returns; the handle is then still alive, and freeing it again works.
    failpoint::panic_in("aisopod_plugin_info_free");
    aisopod_plugin_info_free(info_raw);
    assert_eq!(text(aisopod_plugin_info_id(info)), "good");
    aisopod_plugin_info_free(info_raw);
    aisopod_diagnostic_free(diagnostic_raw);
    aisopod_loader_free(raw);
    std::fs::remove_dir_all(&root).unwrap();
}
