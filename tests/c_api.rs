//! The C API driven function by function, as a C host would, against real C plugins.

mod common;

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr::{null, null_mut, NonNull};

use ::aisopod_loader::abi::*;
use ::aisopod_loader::ffi::capability::*;
use ::aisopod_loader::ffi::diagnostic::*;
use ::aisopod_loader::ffi::discovery::*;
use ::aisopod_loader::ffi::lifecycle::*;
use ::aisopod_loader::ffi::loader::*;
use ::aisopod_loader::ffi::plugin_info::*;
use ::aisopod_loader::ffi::status::*;
use common::*;

fn text(ptr: *const c_char) -> String {
    assert!(!ptr.is_null());
    unsafe { CStr::from_ptr(ptr) }.to_str().unwrap().to_owned()
}

fn out<T>(value: &mut T) -> Option<NonNull<T>> {
    Some(NonNull::from(value))
}

/// A loader handle searching only `root`, with the test event recorder.
struct Handle(*mut aisopod_loader);

impl Handle {
    fn new(root: &std::path::Path) -> Handle {
        let mut loader = null_mut();
        assert_eq!(aisopod_loader_new(c"1.5.0".as_ptr(), out(&mut loader)), aisopod_status::Ok);
        let handle = Handle(loader);
        let root = CString::new(root.to_str().unwrap()).unwrap();
        assert_eq!(aisopod_loader_use_env_path(handle.get(), false), aisopod_status::Ok);
        assert_eq!(aisopod_loader_use_default_paths(handle.get(), false), aisopod_status::Ok);
        assert_eq!(aisopod_loader_add_search_path(handle.get(), root.as_ptr()), aisopod_status::Ok);
        handle
    }

    fn get(&self) -> Option<&aisopod_loader> {
        unsafe { self.0.as_ref() }
    }

    fn error(&self) -> String {
        text(aisopod_loader_error_message(self.get()))
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        aisopod_loader_free(self.0);
    }
}

use ::aisopod_loader::VecSink;

#[test]
fn lifecycle_through_the_c_api() {
    let root = temp_dir("capi");
    add_test_plugin(&root, "alpha", &[]);
    write_plugin(&root, "broken", "[plugin]\nid = 3\n", "broken", None);
    let loader = Handle::new(&root);
    let events = EventLog::leak();
    assert_eq!(
        aisopod_loader_set_host_extension(loader.get(), c"test.events".as_ptr(), events.extension()),
        aisopod_status::Ok
    );

    let mut count = 0usize;
    assert_eq!(aisopod_loader_discover(loader.get(), out(&mut count)), aisopod_status::Ok);
    assert_eq!(count, 1);
    assert_eq!(aisopod_loader_discover(loader.get(), None), aisopod_status::Ok, "count_out is optional");
    let mut plugins = 0usize;
    assert_eq!(aisopod_loader_plugin_count(loader.get(), out(&mut plugins)), aisopod_status::Ok);
    assert_eq!(plugins, 1);

    // Plugin metadata.
    let mut info = null_mut();
    assert_eq!(aisopod_loader_plugin_at(loader.get(), 0, out(&mut info)), aisopod_status::Ok);
    let i = unsafe { info.as_ref() };
    assert_eq!(text(aisopod_plugin_info_id(i)), "alpha");
    assert_eq!(text(aisopod_plugin_info_name(i)), "Test plugin alpha");
    assert_eq!(text(aisopod_plugin_info_version(i)), "1.2.3");
    assert_eq!(text(aisopod_plugin_info_description(i)), "A plugin built for the loader's tests.");
    assert_eq!(text(aisopod_plugin_info_author(i)), "Tests");
    assert!(text(aisopod_plugin_info_directory(i)).ends_with("/alpha"));
    assert!(text(aisopod_plugin_info_manifest_path(i)).ends_with("/alpha/aisopod.plugin.toml"));
    assert!(text(aisopod_plugin_info_library_path(i)).ends_with(&format!("/alpha/{}", library_name("alpha"))));
    assert_eq!(text(aisopod_plugin_info_min_host_version(i)), "1.0.0");
    assert_eq!(text(aisopod_plugin_info_max_host_version(i)), "1.9.0");
    assert!(aisopod_plugin_info_thread_safe(i));
    assert!(aisopod_plugin_info_unloadable(i));
    assert_eq!(aisopod_plugin_info_capability_count(i, AISOPOD_CAPABILITY_TOOL), 1);
    assert_eq!(text(aisopod_plugin_info_capability_at(i, AISOPOD_CAPABILITY_TOOL, 0)), "echo");
    assert!(aisopod_plugin_info_capability_at(i, AISOPOD_CAPABILITY_TOOL, 1).is_null());
    assert_eq!(aisopod_plugin_info_capability_count(i, AISOPOD_CAPABILITY_CHANNEL), 0);
    assert_eq!(text(aisopod_plugin_info_capability_at(i, AISOPOD_CAPABILITY_HOOK, 0)), "ping");
    assert_eq!(aisopod_plugin_info_capability_count(i, 77), 0);
    aisopod_plugin_info_free(info);

    let mut found = null_mut();
    assert_eq!(aisopod_loader_find_plugin(loader.get(), c"alpha".as_ptr(), out(&mut found)), aisopod_status::Ok);
    assert_eq!(text(aisopod_plugin_info_id(unsafe { found.as_ref() })), "alpha");
    aisopod_plugin_info_free(found);
    assert_eq!(aisopod_loader_find_plugin(loader.get(), c"zeta".as_ptr(), out(&mut found)), aisopod_status::NotFound);
    assert!(loader.error().contains("'zeta'"), "{}", loader.error());
    let mut past = null_mut();
    assert_eq!(aisopod_loader_plugin_at(loader.get(), 1, out(&mut past)), aisopod_status::OutOfRange);
    assert!(past.is_null(), "outputs are written only on success");

    // Diagnostics.
    let mut diagnostics = 0usize;
    assert_eq!(aisopod_loader_diagnostic_count(loader.get(), out(&mut diagnostics)), aisopod_status::Ok);
    assert_eq!(diagnostics, 1);
    let mut diagnostic = null_mut();
    assert_eq!(aisopod_loader_diagnostic_at(loader.get(), 0, out(&mut diagnostic)), aisopod_status::Ok);
    let d = unsafe { diagnostic.as_ref() };
    assert_eq!(aisopod_diagnostic_status(d), aisopod_status::ManifestParse);
    assert!(text(aisopod_diagnostic_path(d)).ends_with("broken/aisopod.plugin.toml"));
    let message = text(aisopod_diagnostic_message(d));
    assert!(message.contains("broken/aisopod.plugin.toml:2") && message.contains("id"), "{message}");
    aisopod_diagnostic_free(diagnostic);
    assert_eq!(aisopod_loader_diagnostic_at(loader.get(), 1, out(&mut diagnostic)), aisopod_status::OutOfRange);

    // Load, init, invoke, emit, unload.
    let mut state = 99;
    assert_eq!(aisopod_loader_plugin_state(loader.get(), c"alpha".as_ptr(), out(&mut state)), aisopod_status::Ok);
    assert_eq!(state, AISOPOD_PLUGIN_STATE_UNLOADED);
    assert_eq!(aisopod_loader_load(loader.get(), c"alpha".as_ptr()), aisopod_status::Ok);
    assert_eq!(aisopod_loader_plugin_state(loader.get(), c"alpha".as_ptr(), out(&mut state)), aisopod_status::Ok);
    assert_eq!(state, AISOPOD_PLUGIN_STATE_LOADED);
    assert_eq!(
        aisopod_loader_init(loader.get(), c"alpha".as_ptr(), null(), null()),
        aisopod_status::Ok,
        "NULL config and data dir mean empty"
    );
    assert_eq!(aisopod_loader_plugin_state(loader.get(), c"alpha".as_ptr(), out(&mut state)), aisopod_status::Ok);
    assert_eq!(state, AISOPOD_PLUGIN_STATE_INITIALIZED);

    let mut buffer = Vec::new();
    let collector = VecSink::new(&mut buffer);
    let sink = collector.sink();
    let input = b"payload";
    let status = aisopod_loader_invoke(
        loader.get(),
        c"alpha".as_ptr(),
        AISOPOD_CAPABILITY_TOOL,
        c"echo".as_ptr(),
        input.as_ptr(),
        input.len(),
        Some(sink),
    );
    assert_eq!(status, aisopod_status::Ok);
    assert_eq!(buffer, b"payload");
    let status = aisopod_loader_invoke(
        loader.get(),
        c"alpha".as_ptr(),
        AISOPOD_CAPABILITY_TOOL,
        c"echo".as_ptr(),
        null(),
        0,
        None,
    );
    assert_eq!(status, aisopod_status::Ok, "empty input and a NULL sink are fine");
    let status = aisopod_loader_invoke(
        loader.get(),
        c"alpha".as_ptr(),
        AISOPOD_CAPABILITY_TOOL,
        c"echo".as_ptr(),
        null(),
        3,
        None,
    );
    assert_eq!(status, aisopod_status::NullArgument);
    assert!(loader.error().contains("'input'"), "{}", loader.error());
    let status = aisopod_loader_invoke(loader.get(), c"alpha".as_ptr(), 9, c"echo".as_ptr(), null(), 0, None);
    assert_eq!(status, aisopod_status::InvalidArgument);
    assert!(loader.error().contains("'kind' is 9"), "{}", loader.error());
    let fail = b"fail";
    let status = aisopod_loader_invoke(
        loader.get(),
        c"alpha".as_ptr(),
        AISOPOD_CAPABILITY_TOOL,
        c"echo".as_ptr(),
        fail.as_ptr(),
        4,
        None,
    );
    assert_eq!(status, aisopod_status::PluginError);
    assert_eq!(loader.error(), "aisopod_loader_invoke: plugin 'alpha' tool 'echo' failed with code 7");

    let mut hooks = Vec::new();
    let hook_collector = VecSink::new(&mut hooks);
    let mut handled = 0usize;
    assert_eq!(
        aisopod_loader_emit(loader.get(), c"ping".as_ptr(), null(), 0, Some(hook_collector.sink()), out(&mut handled)),
        aisopod_status::Ok
    );
    assert_eq!((handled, hooks.as_slice()), (1, b"alpha;".as_slice()));

    let mut extension: *const c_void = null();
    let status =
        aisopod_loader_plugin_extension(loader.get(), c"alpha".as_ptr(), c"test.ext".as_ptr(), out(&mut extension));
    assert_eq!(status, aisopod_status::Ok);
    assert_eq!(unsafe { *(extension as *const i32) }, 42);

    // A resolved capability: invoked without lookups; it blocks unload until freed.
    let mut capability = null_mut();
    let status = aisopod_loader_resolve(
        loader.get(),
        c"alpha".as_ptr(),
        AISOPOD_CAPABILITY_TOOL,
        c"echo".as_ptr(),
        out(&mut capability),
    );
    assert_eq!(status, aisopod_status::Ok);
    let mut fast = Vec::new();
    let cap = unsafe { capability.as_ref() };
    let status = aisopod_capability_invoke(cap, b"quick".as_ptr(), 5, Some(VecSink::new(&mut fast).sink()));
    assert_eq!(status, aisopod_status::Ok);
    assert_eq!(aisopod_capability_invoke(cap, b"fail".as_ptr(), 4, None), aisopod_status::PluginError);
    assert_eq!(loader.error(), "aisopod_capability_invoke: plugin 'alpha' tool 'echo' failed with code 7");
    assert_eq!(aisopod_loader_unload(loader.get(), c"alpha".as_ptr()), aisopod_status::Busy);
    aisopod_capability_free(capability);
    aisopod_capability_free(null_mut());
    assert_eq!(fast, b"quick");

    assert_eq!(aisopod_loader_unload(loader.get(), c"alpha".as_ptr()), aisopod_status::Ok);
    assert_eq!(aisopod_loader_unload(loader.get(), c"alpha".as_ptr()), aisopod_status::NotLoaded);
    assert_eq!(
        events.take(),
        ["alpha:create", "alpha:register", "alpha:init", "alpha:shutdown", "alpha:destroy", "alpha:dlclose"]
    );
    assert_eq!(aisopod_loader_load(loader.get(), c"alpha".as_ptr()), aisopod_status::Ok, "reload after unload");
}

#[test]
fn each_failure_has_its_own_status_and_a_message_naming_the_culprit() {
    let root = temp_dir("capi-failures");
    add_test_plugin(&root, "abi2", &["ABI_VERSION=2"]);
    add_test_plugin(&root, "nosym", &["NO_CREATE_SYMBOL"]);
    add_test_plugin(&root, "null", &["CREATE_NULL"]);
    add_test_plugin(&root, "small", &["SMALL_STRUCT"]);
    add_test_plugin(&root, "caps", &["REGISTER_EXTRA"]);
    write_plugin(&root, "old", &manifest("old").replace("\"1.0.0\"", "\"1.6.0\""), "old", None);
    write_plugin(&root, "new", &manifest("new").replace("\"1.9.0\"", "\"1.4.0\""), "new", None);
    let loader = Handle::new(&root);
    assert_eq!(aisopod_loader_discover(loader.get(), None), aisopod_status::Ok);
    let cases = [
        ("abi2", aisopod_status::AbiMismatch, "returns ABI version 2, expected 1"),
        ("nosym", aisopod_status::MissingSymbol, "does not export aisopod_plugin_create"),
        ("null", aisopod_status::CreateFailed, "aisopod_plugin_create returned NULL"),
        ("small", aisopod_status::InvalidPluginStruct, "struct_size is 8"),
        ("caps", aisopod_status::CapabilityMismatch, "registered command 'extra'"),
        ("old", aisopod_status::VersionIncompatible, "requires host version >= 1.6.0"),
        ("new", aisopod_status::VersionIncompatible, "requires host version <= 1.4.0"),
        ("ghost", aisopod_status::NotFound, "no discovered plugin has id 'ghost'"),
    ];
    for (id, status, needle) in cases {
        let c_id = CString::new(id).unwrap();
        assert_eq!(aisopod_loader_load(loader.get(), c_id.as_ptr()), status, "{id}: {}", loader.error());
        let message = loader.error();
        assert!(message.starts_with("aisopod_loader_load: "), "{message}");
        assert!(message.contains(&format!("'{id}'")) && message.contains(needle), "{id}: {message}");
        assert_ne!(text(aisopod_status_str(status as u32)), "unknown status");
    }
}

#[test]
fn error_messages_are_per_loader_and_per_thread() {
    let root = temp_dir("capi-errors");
    let a = Handle::new(&root);
    let b = Handle::new(&root);
    assert_eq!(text(aisopod_loader_error_message(a.get())), "", "no failure yet");
    assert_eq!(aisopod_loader_load(a.get(), c"one".as_ptr()), aisopod_status::NotFound);
    assert_eq!(aisopod_loader_load(b.get(), c"two".as_ptr()), aisopod_status::NotFound);
    assert!(a.error().contains("'one'") && b.error().contains("'two'"));
    // Success does not clear the message.
    assert_eq!(aisopod_loader_discover(a.get(), None), aisopod_status::Ok);
    assert!(a.error().contains("'one'"));
    // Another thread sees only its own failures.
    let a_ptr = a.0 as usize;
    let other = std::thread::spawn(move || {
        let loader = unsafe { (a_ptr as *const aisopod_loader).as_ref() };
        let before = text(aisopod_loader_error_message(loader));
        assert_eq!(aisopod_loader_load(loader, c"three".as_ptr()), aisopod_status::NotFound);
        (before, text(aisopod_loader_error_message(loader)))
    })
    .join()
    .unwrap();
    assert_eq!(other.0, "");
    assert!(other.1.contains("'three'"));
    assert!(a.error().contains("'one'"), "unchanged on this thread");
}

#[test]
fn calls_without_a_loader_report_through_the_null_key() {
    let mut loader = null_mut();
    assert_eq!(aisopod_loader_new(null(), out(&mut loader)), aisopod_status::NullArgument);
    assert_eq!(text(aisopod_loader_error_message(None)), "aisopod_loader_new: argument 'host_version' is NULL");
    assert_eq!(aisopod_loader_new(c"1.x".as_ptr(), out(&mut loader)), aisopod_status::InvalidArgument);
    assert!(text(aisopod_loader_error_message(None)).contains("\"1.x\" is not a semver version"));
    assert_eq!(aisopod_loader_new(c"\xff".as_ptr(), out(&mut loader)), aisopod_status::InvalidUtf8);
    assert!(loader.is_null());
    assert_eq!(aisopod_loader_new(c"1.0.0".as_ptr(), None), aisopod_status::NullArgument);
    assert!(text(aisopod_loader_error_message(None)).contains("'loader_out'"));
    assert_eq!(aisopod_loader_load(None, c"x".as_ptr()), aisopod_status::NullArgument);
    assert_eq!(text(aisopod_loader_error_message(None)), "aisopod_loader_load: argument 'loader' is NULL");
}

#[test]
fn null_handles_get_documented_defaults() {
    aisopod_loader_free(null_mut());
    aisopod_plugin_info_free(null_mut());
    aisopod_diagnostic_free(null_mut());
    assert!(aisopod_plugin_info_id(None).is_null());
    assert!(aisopod_plugin_info_capability_at(None, 0, 0).is_null());
    assert_eq!(aisopod_plugin_info_capability_count(None, 0), 0);
    assert!(!aisopod_plugin_info_thread_safe(None));
    assert!(aisopod_diagnostic_message(None).is_null());
    assert_eq!(aisopod_diagnostic_status(None), aisopod_status::NullArgument);
    assert_eq!(text(aisopod_loader_version()), env!("CARGO_PKG_VERSION"));
}

#[test]
fn log_callback_receives_plugin_logs() {
    unsafe extern "C" fn on_log(userdata: *mut c_void, level: u32, source: *const c_char, message: *const c_char) {
        let lines = unsafe { &*(userdata as *const std::sync::Mutex<Vec<String>>) };
        lines.lock().unwrap().push(format!("{level} {} {}", text(source), text(message)));
    }
    let root = temp_dir("capi-log");
    add_hello_plugin(&root);
    let loader = Handle::new(&root);
    let lines = Box::new(std::sync::Mutex::new(Vec::<String>::new()));
    let userdata = &*lines as *const _ as *mut c_void;
    assert_eq!(aisopod_loader_set_log_callback(loader.get(), Some(on_log), userdata), aisopod_status::Ok);
    assert_eq!(aisopod_loader_discover(loader.get(), None), aisopod_status::Ok);
    assert_eq!(aisopod_loader_load(loader.get(), c"hello".as_ptr()), aisopod_status::Ok);
    assert_eq!(
        aisopod_loader_init(loader.get(), c"hello".as_ptr(), c"{\"a\":1}".as_ptr(), c"/tmp".as_ptr()),
        aisopod_status::Ok
    );
    assert_eq!(aisopod_loader_unload(loader.get(), c"hello".as_ptr()), aisopod_status::Ok);
    assert_eq!(aisopod_loader_set_log_callback(loader.get(), None, null_mut()), aisopod_status::Ok);
    drop(loader);
    assert_eq!(
        *lines.lock().unwrap(),
        [
            format!("{AISOPOD_LOG_INFO} hello hello: init with config {{\"a\":1}}"),
            format!("{AISOPOD_LOG_INFO} hello hello: shutdown")
        ]
    );
}

#[test]
fn registry_cache_through_the_c_api() {
    let root = temp_dir("capi-cache");
    add_test_plugin(&root, "alpha", &[]);
    let cache = temp_dir("capi-cache-file").join("registry.bin");
    let loader = Handle::new(&root);
    let path = CString::new(cache.to_str().unwrap()).unwrap();
    assert_eq!(aisopod_loader_set_cache_path(loader.get(), path.as_ptr()), aisopod_status::Ok);
    let mut count = 0usize;
    assert_eq!(aisopod_loader_discover(loader.get(), out(&mut count)), aisopod_status::Ok);
    assert_eq!(count, 1);
    assert!(cache.exists(), "the cache was written");
    assert_eq!(aisopod_loader_discover(loader.get(), out(&mut count)), aisopod_status::Ok);
    assert_eq!(count, 1, "and read back");
    // NULL turns it off again; the default location is accepted when a home directory is known.
    assert_eq!(aisopod_loader_set_cache_path(loader.get(), null()), aisopod_status::Ok);
    let status = aisopod_loader_use_default_cache(loader.get());
    assert!(status == aisopod_status::Ok || status == aisopod_status::NotFound, "{status:?}");
}
