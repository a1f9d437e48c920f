//! The plugin manifest, `aisopod.plugin.toml`: the validated [`Manifest`] and what it answers. Reading the
//! file, the schema, the two readers, validation and the rules for growth each have a module of their own.

mod fast;
mod full;
mod growth;
mod read;
mod schema;
mod spdx;
#[cfg(test)]
mod tests;
mod validate;

use std::path::Path;

use semver::{Version, VersionReq};

// Capability kinds are reached through this module too.
pub use crate::capability_kind::{CapabilityKind, PerKind};
use crate::error::{Error, Result, Status};
pub use validate::check_capability_name;
pub(crate) use validate::check_id_syntax;
use validate::Validator;

/// The manifest's file name inside a plugin directory.
pub const MANIFEST_FILE_NAME: &str = "aisopod.plugin.toml";
/// The largest manifest the loader reads, in bytes.
pub const MANIFEST_MAX_BYTES: u64 = 64 * 1024;
/// The longest plugin id, in bytes.
pub const ID_MAX_LEN: usize = 64;
/// The longest capability name, in bytes.
pub const CAPABILITY_NAME_MAX_LEN: usize = 128;
/// The newest `manifest_version` this loader reads in full. A manifest declaring a newer one is read with the
/// keys this loader does not know ignored, each with a warning.
///
/// cbindgen:ignore
pub const MANIFEST_VERSION: u32 = 1;

/// Where a plugin's code runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isolation {
    /// In the host's process.
    None,
    /// In a helper process of its own.
    Process,
}

impl Isolation {
    /// The manifest's spelling: "none" or "process".
    pub fn name(self) -> &'static str {
        match self {
            Isolation::None => "none",
            Isolation::Process => "process",
        }
    }
}

/// A validated manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub id: String,
    pub name: String,
    pub version: Version,
    pub description: String,
    pub author: String,
    /// The library stem: `lib<entry_point>.so` on Linux.
    pub entry_point: String,
    /// When false, the loader serializes every call into the plugin.
    pub thread_safe: bool,
    /// When false, the library stays mapped after unload (`RTLD_NODELETE`).
    pub unload: bool,
    /// `[plugin].isolation`: where the plugin asks to run, when it says; the host's setting for the plugin wins.
    pub isolation: Option<Isolation>,
    /// `[permissions]`: what the plugin needs when it runs sandboxed; `None` when the table is absent, which
    /// declares nothing. Boxed: most manifests have none, and a discovered plugin then holds 8 bytes for it.
    pub permissions: Option<Box<crate::permissions::Permissions>>,
    /// Declared capability names, for each kind.
    pub capabilities: PerKind<Vec<String>>,
    /// `[dependencies]`: the plugins this one needs loaded before it, in the order of the file.
    pub dependencies: Vec<Dependency>,
    /// Inclusive lower bound on the host version.
    pub min_host_version: Option<Version>,
    /// Inclusive upper bound on the host version.
    pub max_host_version: Option<Version>,
    /// `[plugin].license`: an SPDX license expression, such as `MIT OR Apache-2.0`.
    pub license: Option<String>,
    /// `[plugin].homepage`: an absolute URL.
    pub homepage: Option<String>,
    /// `[plugin].repository`: an absolute URL.
    pub repository: Option<String>,
    /// `[plugin].sha256`: the integrity pin, the SHA-256 digest the library must have; checked at load, before
    /// the library is opened with `dlopen`. Boxed: most manifests pin nothing, and then cost 8 bytes, not 33.
    pub sha256: Option<Box<crate::integrity::Sha256Digest>>,
    /// In a manifest newer than [`MANIFEST_VERSION`], one message for each key that was ignored, naming the
    /// file, the line and both versions; empty otherwise. Discovery logs each as a warning.
    pub warnings: Vec<String>,
}

/// One entry of `[dependencies]`: another plugin this one needs loaded and initialized before it, and the
/// versions of it that will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The other plugin's id.
    pub id: String,
    /// The versions of it this plugin accepts, as Cargo reads a requirement (`"1.2"` means `^1.2`).
    pub requirement: VersionReq,
    /// An optional dependency may be missing: the plugin loads without it.
    pub optional: bool,
}

impl Manifest {
    /// Validates a manifest held in memory; `path` is only used in messages.
    pub fn parse_bytes(bytes: &[u8], path: &Path) -> Result<Manifest> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let offset = e.valid_up_to();
            Error::new(
                Status::InvalidUtf8,
                format!(
                    "{}:{}: manifest is not valid UTF-8 (invalid byte at offset {offset})",
                    path.display(),
                    line_of(bytes, offset)
                ),
            )
        })?;
        Manifest::parse_str(text, path)
    }

    /// Validates a manifest held in memory; `path` is only used in messages.
    pub fn parse_str(text: &str, path: &Path) -> Result<Manifest> {
        // Most manifests use a small part of TOML; the fast reader takes those without building a document
        // tree, and declines everything else to the full parser. Both feed the same validation.
        let raw = match fast::read(text) {
            Some(raw) => raw,
            None => full::parse(text, path)?,
        };
        Validator { text, path }.validate(raw)
    }

    /// Validates a manifest with the full TOML parser only, skipping the fast reader. The result must equal
    /// [`Manifest::parse_str`]'s for every input; the fuzzers check that.
    #[doc(hidden)]
    pub fn parse_str_with_full_parser(text: &str, path: &Path) -> Result<Manifest> {
        Validator { text, path }.validate(full::parse(text, path)?)
    }

    /// Declared names of one capability kind.
    pub fn declared(&self, kind: CapabilityKind) -> &[String] {
        &self.capabilities[kind]
    }

    /// Checks `host` against `[compatibility]`; `path` is only used in messages.
    pub fn check_host_version(&self, host: &Version, path: &Path) -> Result<()> {
        let refuse = |bound: &str, relation: &str, limit: &Version| {
            Error::new(
                Status::VersionIncompatible,
                format!(
                    "plugin '{}' requires host version {relation} {limit} ([compatibility].{bound} in {}), but the host is {host}",
                    self.id,
                    path.display()
                ),
            )
        };
        if let Some(min) = &self.min_host_version {
            if host < min {
                return Err(refuse("min_host_version", ">=", min));
            }
        }
        if let Some(max) = &self.max_host_version {
            if host > max {
                return Err(refuse("max_host_version", "<=", max));
            }
        }
        Ok(())
    }

    /// The platform file name of the plugin's library: `lib<entry_point>.so`, `lib<entry_point>.dylib` or
    /// `<entry_point>.dll`.
    pub fn library_file_name(&self) -> String {
        format!("{}{}{}", std::env::consts::DLL_PREFIX, self.entry_point, std::env::consts::DLL_SUFFIX)
    }
}

/// 1-based line number of byte `offset` in `bytes`.
pub(super) fn line_of(bytes: &[u8], offset: usize) -> usize {
    1 + bytes[..offset.min(bytes.len())].iter().filter(|&&b| b == b'\n').count()
}
