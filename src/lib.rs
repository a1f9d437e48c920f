//! aisopod-loader: a plugin loader for native programs, with a flat C API.
//!
//! The crate has three layers:
//!
//! - the **core** ([`Loader`], [`Manifest`], [`Discovery`]): safe Rust that reads manifests, discovers
//!   plugins, loads them and calls their capabilities;
//! - the **plugin ABI** ([`abi`]): the `#[repr(C)]` structs every plugin implements, in any language;
//! - the **C API** ([`ffi`]): thin `extern "C"` functions over the core, from which cbindgen generates
//!   `include/aisopod_loader.h`.

//! - the **plugin SDK** ([`sdk`]): a safe way to write a plugin in Rust.
//!
//! The core and the C API sit behind the default `loader` feature; a Rust plugin depends on this crate with
//! `default-features = false` and gets only [`abi`] and [`sdk`].

pub mod abi;
pub mod sdk;

#[cfg(feature = "loader")]
mod cache;
#[cfg(feature = "loader")]
mod discovery;
#[cfg(feature = "loader")]
mod error;
#[cfg(feature = "loader")]
pub mod ffi;
#[cfg(feature = "loader")]
mod file_stamp;
#[cfg(feature = "loader")]
mod integrity;
#[cfg(feature = "loader")]
mod io_error;
/// The loader's helper process and the protocol it speaks; shared with `aisopod-plugin-host` and `fuzz/`, not
/// a public API. The annotation below keeps its constants out of the C header.
///
/// cbindgen:ignore
#[cfg(feature = "loader")]
#[doc(hidden)]
pub mod isolation;
#[cfg(feature = "loader")]
mod loader;
#[cfg(feature = "loader")]
mod log;
#[cfg(feature = "loader")]
mod manifest;
// After `manifest`, where it used to live: cbindgen writes the header in module order.
#[cfg(feature = "loader")]
mod capability_kind;
#[cfg(feature = "loader")]
mod metrics;
#[cfg(feature = "loader")]
mod open_file;
#[cfg(feature = "loader")]
mod paths;
#[cfg(feature = "loader")]
mod permissions;
#[cfg(feature = "loader")]
mod plugin;
#[cfg(feature = "loader")]
mod privilege;
#[cfg(feature = "loader")]
mod quarantine;
/// Publisher signatures: the signature file, its message and key ids; shared with `aisopod-sign` and `fuzz/`.
/// The annotation below keeps its constants out of the C header.
///
/// cbindgen:ignore
#[cfg(feature = "loader")]
pub mod signature;
/// Making publisher keys, signing and verifying plugin directories: shared by `aisopod-sign` and `aisopod sign`,
/// not a public API. The annotation below keeps its constants out of the C header.
///
/// cbindgen:ignore
#[cfg(feature = "loader")]
#[doc(hidden)]
pub mod signing;
#[cfg(feature = "loader")]
mod sync;
#[cfg(feature = "loader")]
mod trust;

#[cfg(feature = "loader")]
pub use capability_kind::{CapabilityKind, PerKind};
#[cfg(feature = "loader")]
pub use discovery::{
    default_cache_path, default_paths, expand_tilde, Diagnostic, Discovery, PluginInfo, SearchConfig, PLUGIN_PATH_ENV,
};
#[cfg(feature = "loader")]
pub use error::{status_name, Error, Result, Status};
#[cfg(feature = "loader")]
pub use integrity::Sha256Digest;
#[cfg(feature = "loader")]
pub use isolation::protocol::hosting::ResourceLimits;
#[cfg(feature = "loader")]
pub use loader::{
    Capability, Loader, PluginState, PluginUsage, PolledChanges, Probed, RestartPolicy, SandboxPolicy, VecSink,
    DEFAULT_CALL_TIMEOUT, REPORT_SCHEMA,
};
#[cfg(feature = "loader")]
pub use log::{LogCallback, LogLevel, Logger};
#[cfg(feature = "loader")]
pub use manifest::{
    check_capability_name, Isolation, Manifest, CAPABILITY_NAME_MAX_LEN, ID_MAX_LEN, MANIFEST_FILE_NAME,
    MANIFEST_MAX_BYTES,
};
#[cfg(feature = "loader")]
pub use metrics::{CapabilityMetrics, PluginMetrics};
#[cfg(feature = "loader")]
pub use permissions::{Grant, Permissions};
#[cfg(feature = "loader")]
pub use quarantine::{Record as QuarantineRecord, Verdict as QuarantineVerdict};
#[cfg(feature = "loader")]
pub use trust::{FilePolicy, SignaturePolicy};

/// This library's version, from `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
