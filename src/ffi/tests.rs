//! The panic boundary: a panic inside an export becomes `AISOPOD_STATUS_PANIC` with a message, the process
//! does not abort, and the loader stays usable.

use std::ffi::CStr;
use std::ptr::{null_mut, NonNull};

use super::boundary::failpoint;
use super::loader::*;
use crate::abi::aisopod_status;

fn message(loader: Option<&aisopod_loader>) -> String {
    unsafe { CStr::from_ptr(aisopod_loader_error_message(loader)) }.to_str().unwrap().to_owned()
}

#[test]
fn a_panic_inside_an_export_becomes_a_status() {
    let mut raw = null_mut();
    assert_eq!(aisopod_loader_new(c"1.0.0".as_ptr(), Some(NonNull::from(&mut raw))), aisopod_status::Ok);
    let loader = unsafe { raw.as_ref() };
    assert_eq!(aisopod_loader_use_default_paths(loader, false), aisopod_status::Ok);
    assert_eq!(aisopod_loader_use_env_path(loader, false), aisopod_status::Ok);

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
