//! Out-of-process isolation: the helper process, `aisopod-plugin-host`, and the loader's side of it.
//!
//! What exists: the wire protocol ([`protocol`]), the helper's start-up contract ([`helper`]), finding the helper
//! ([`locate`]), starting, talking to and reaping it ([`child`]), and the probe the helper runs on a plugin
//! ([`probe`]). No C API uses them yet: plugins still run inside the host's process.

pub mod batch;
#[cfg(target_os = "linux")]
pub mod child;
#[cfg(target_os = "linux")]
pub mod connection;
pub mod ending;
pub mod helper;
pub mod locate;
pub mod probe;
pub mod protocol;
#[cfg(target_os = "linux")]
pub mod sandbox;
pub mod server;
