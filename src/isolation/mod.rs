//! Out-of-process isolation: what the loader and its helper process, `aisopod-plugin-host`, agree on.
//!
//! What exists: the wire protocol ([`protocol`]), the helper's start-up contract ([`helper`]) and the probe the
//! helper runs on a plugin ([`probe`]). No C API uses them yet: plugins still run inside the host's process.

pub mod helper;
pub mod probe;
pub mod protocol;
