//! What the host trusts before any plugin code runs: plugin files by who can have written them (`files.rs`),
//! plugins by id, through its allow and deny lists (`lists.rs`), and plugins by publisher, through their
//! signatures and its keys (`signatures.rs`).

mod files;
mod lists;
mod signatures;

pub use files::FilePolicy;
pub(crate) use files::{Access, FileCheck, Role};
pub(crate) use lists::{List, PluginLists};
pub use signatures::SignaturePolicy;
pub(crate) use signatures::Signatures;

/// The host's trust settings, as one discovery or load applies them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Trust {
    pub(crate) files: FilePolicy,
    pub(crate) lists: PluginLists,
    pub(crate) signatures: Signatures,
}
