//! Log routing: every message from the loader or from a plugin goes to `tracing` and, when the host set one,
//! to the host's log callback.

use std::sync::{Arc, RwLock};

use crate::sync::read;

/// A log level, ordered from most to least severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl LogLevel {
    /// The level for an ABI value (`AISOPOD_LOG_*`); out-of-range values clamp to the nearest level.
    pub fn from_abi(value: u32) -> LogLevel {
        match value {
            0 | 1 => LogLevel::Error,
            2 => LogLevel::Warn,
            3 => LogLevel::Info,
            4 => LogLevel::Debug,
            _ => LogLevel::Trace,
        }
    }
}

/// A host-provided log callback: level, source ("loader" or a plugin id) and message.
pub type LogCallback = Arc<dyn Fn(LogLevel, &str, &str) + Send + Sync>;

/// Routes log messages; shared by the loader and every plugin it loads.
#[derive(Default)]
pub struct Logger {
    callback: RwLock<Option<LogCallback>>,
}

impl Logger {
    /// Replaces the host callback; `None` removes it.
    pub fn set_callback(&self, callback: Option<LogCallback>) {
        *crate::sync::write(&self.callback) = callback;
    }

    /// Logs a message from the loader itself.
    pub fn log(&self, level: LogLevel, message: &str) {
        self.log_from(level, "loader", message);
    }

    /// Logs a message on behalf of `source`.
    pub fn log_from(&self, level: LogLevel, source: &str, message: &str) {
        match level {
            LogLevel::Error => tracing::error!(source, "{message}"),
            LogLevel::Warn => tracing::warn!(source, "{message}"),
            LogLevel::Info => tracing::info!(source, "{message}"),
            LogLevel::Debug => tracing::debug!(source, "{message}"),
            LogLevel::Trace => tracing::trace!(source, "{message}"),
        }
        let callback = read(&self.callback).clone();
        if let Some(callback) = callback {
            callback(level, source, message);
        }
    }
}
