//! Out-of-process isolation: what the loader and its helper process, `aisopod-plugin-host`, agree on.
//!
//! Only the first step exists: the wire protocol ([`protocol`]) and the helper's start-up contract
//! ([`helper`]). Plugins still run inside the host's process.

pub mod helper;
pub mod protocol;
