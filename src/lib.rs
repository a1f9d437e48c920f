//! aisopod-loader: a plugin loader for native programs, with a flat C API.
//!
//! The crate has three layers:
//!
//! - the **core** ([`Loader`], [`Manifest`], [`Discovery`]): safe Rust that reads manifests, discovers
//!   plugins, loads them and calls their capabilities;
//! - the **plugin ABI** ([`abi`]): the `#[repr(C)]` structs every plugin implements, in any language;
//! - the **C API** ([`ffi`]): thin `extern "C"` functions over the core, from which cbindgen generates
//!   `include/aisopod_loader.h`.

pub mod abi;
mod discovery;
mod error;
pub mod ffi;
mod loader;
mod log;
mod manifest;
mod plugin;
mod sync;

pub use discovery::{default_paths, expand_tilde, Diagnostic, Discovery, PluginInfo, SearchConfig, PLUGIN_PATH_ENV};
pub use error::{Error, Result, Status};
pub use loader::{Loader, PluginState, VecSink};
pub use log::{LogCallback, LogLevel, Logger};
pub use manifest::{
    check_capability_name, CapabilityKind, Manifest, CAPABILITY_NAME_MAX_LEN, ID_MAX_LEN, MANIFEST_FILE_NAME,
    MANIFEST_MAX_BYTES,
};

/// This library's version, from `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
