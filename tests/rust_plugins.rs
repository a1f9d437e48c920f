//! Plugins written in Rust with the SDK (`aisopod_loader::sdk`), built as real cdylibs and loaded by the loader.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use aisopod_loader::{CapabilityKind, Loader, Status};
use common::*;

fn loader_for(root: &Path) -> (Loader, Arc<Mutex<Vec<String>>>) {
    let loader = isolated_loader("1.0.0", &[root]);
    let logs = Arc::new(Mutex::new(Vec::new()));
    let sink = logs.clone();
    loader.set_log_callback(Some(Arc::new(move |_, source: &str, message: &str| {
        sink.lock().unwrap().push(format!("{source}: {message}"));
    })));
    (loader, logs)
}

#[test]
fn rust_hello_loads_and_answers() {
    let library = build_rust_plugin("c_examples/plugins/rust_hello", "rust_hello");
    let root = temp_dir("rust-hello");
    let manifest =
        std::fs::read_to_string(format!("{MANIFEST_DIR}/c_examples/plugins/rust_hello/aisopod.plugin.toml")).unwrap();
    write_plugin(&root, "rust_hello", &manifest, "rust_hello", Some(&library));
    let (loader, logs) = loader_for(&root);
    assert_eq!(loader.discover(), 1);
    assert!(!loader.discovery().find("rust_hello").unwrap().manifest.unload, "the example keeps itself resident");
    loader.load("rust_hello").unwrap();
    loader.init("rust_hello", "{\"x\":1}", Path::new("")).unwrap();
    assert_eq!(
        loader.invoke_to_vec("rust_hello", CapabilityKind::Tool, "greet", b"world").unwrap(),
        b"Hello from Rust, world!"
    );
    let mut out = Vec::new();
    assert_eq!(loader.emit("on_start", b"", Some(aisopod_loader::VecSink::new(&mut out).sink())).unwrap(), 1);
    assert_eq!(out, b"rust_hello saw on_start #1");
    loader.unload("rust_hello").unwrap();
    // Resident: loading again reuses the mapping and creates a fresh plugin value.
    loader.load("rust_hello").unwrap();
    loader.init("rust_hello", "", Path::new("")).unwrap();
    let mut out = Vec::new();
    loader.emit("on_start", b"", Some(aisopod_loader::VecSink::new(&mut out).sink())).unwrap();
    assert_eq!(out, b"rust_hello saw on_start #1");
    assert!(logs.lock().unwrap().contains(&"rust_hello: rust_hello: init with config {\"x\":1}".to_string()));
}

#[test]
fn a_panicking_rust_handler_becomes_a_plugin_error() {
    let library = build_rust_plugin("tests/plugins/rust_panic", "rust_panic");
    let root = temp_dir("rust-panic");
    let manifest = "[plugin]\nid = \"rust_panic\"\nname = \"Panics\"\nversion = \"0.1.0\"\nentry_point = \"rust_panic\"\nunload = false\n\n[capabilities]\ntools = [\"boom\", \"echo\"]\n";
    write_plugin(&root, "rust_panic", manifest, "rust_panic", Some(&library));
    let (loader, logs) = loader_for(&root);
    loader.discover();
    loader.load("rust_panic").unwrap();
    loader.init("rust_panic", "", Path::new("")).unwrap();
    let error = loader.invoke_to_vec("rust_panic", CapabilityKind::Tool, "boom", b"abc").unwrap_err();
    assert_eq!(error.status(), Status::PluginError);
    assert!(
        error.message().contains("plugin 'rust_panic' tool 'boom'") && error.message().contains("the plugin panicked"),
        "{error}"
    );
    assert!(
        logs.lock().unwrap().iter().any(|l| l == "rust_panic: handler panicked: boom with 3 input bytes"),
        "{logs:?}"
    );
    // The plugin and the host carry on.
    assert_eq!(loader.invoke_to_vec("rust_panic", CapabilityKind::Tool, "echo", b"still fine").unwrap(), b"still fine");
    loader.unload("rust_panic").unwrap();
}
