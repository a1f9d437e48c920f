//! The one error type, of the core and of the C API alike: a status that says which class of failure happened,
//! and a message that names the file, field, plugin, symbol or argument at fault.
//!
//! The status is the same enum the C API returns ([`crate::abi::aisopod_status`]), so a failure class has
//! one name and one value everywhere, and an export returns a core error's status and message unchanged.

use std::fmt;

pub use crate::abi::aisopod_status as Status;

/// A failure of the loader or of a C API call, with a message naming the culprit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    status: Status,
    message: String,
}

impl Error {
    /// Creates an error of class `status` with a complete, human-readable `message`.
    pub fn new(status: Status, message: impl fmt::Display) -> Self {
        Error { status, message: message.to_string() }
    }

    /// The class of failure.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The full message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The result type of the core and of the C API.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The stable C name of `status`, as the header spells it: `Status::AbiMismatch` is
/// `AISOPOD_STATUS_ABI_MISMATCH` (cbindgen's ScreamingSnakeCase of the variant, with the enum's prefix).
pub fn status_name(status: Status) -> String {
    let variant = format!("{status:?}");
    let mut name = String::from("AISOPOD_STATUS_");
    for (i, c) in variant.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}
