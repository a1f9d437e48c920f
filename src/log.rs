//! Log routing: every message from the loader or from a plugin goes to `tracing` and to the host's log
//! callback, or, when the host set none, to stderr at the level `AISOPOD_LOG` asks for.

use std::io::Write;
use std::sync::{Arc, OnceLock, RwLock};

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

    /// The level's name, as `AISOPOD_LOG` spells it.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// The environment variable that sends log lines to stderr when the host set no callback.
pub(crate) const LOG_ENV: &str = "AISOPOD_LOG";

/// The most verbose level `value` (of `AISOPOD_LOG`) lets through to stderr: `None` for unset or empty, warn
/// for a value it does not know (the `Err`, to be reported).
pub(crate) fn stderr_level_of(value: Option<&str>) -> Result<Option<LogLevel>, LogLevel> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else { return Ok(None) };
    [LogLevel::Error, LogLevel::Warn, LogLevel::Info, LogLevel::Debug, LogLevel::Trace]
        .into_iter()
        .find(|level| level.name().eq_ignore_ascii_case(value))
        .map(Some)
        .ok_or(LogLevel::Warn)
}

/// `AISOPOD_LOG`'s level, read once per process; an unknown value is reported on stderr, once.
fn stderr_level() -> Option<LogLevel> {
    static LEVEL: OnceLock<Option<LogLevel>> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let value = std::env::var(LOG_ENV).ok();
        stderr_level_of(value.as_deref()).unwrap_or_else(|fallback| {
            let value = value.unwrap_or_default();
            eprintln!(
                "[warn] loader: {LOG_ENV}={value:?} is not one of error, warn, info, debug, trace; using {}",
                fallback.name()
            );
            Some(fallback)
        })
    })
}

/// One log line as stderr gets it: level, source, message, on one line.
fn stderr_line(level: LogLevel, source: &str, message: &str) -> String {
    let message = message.replace(['\n', '\r'], " ");
    format!("[{}] {source}: {message}\n", level.name())
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
        } else if stderr_level().is_some_and(|most_verbose| level <= most_verbose) {
            // One write per line, so that lines from several threads do not interleave.
            let _ = std::io::stderr().lock().write_all(stderr_line(level, source, message).as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_and_empty_send_nothing_to_stderr() {
        assert_eq!(stderr_level_of(None), Ok(None));
        assert_eq!(stderr_level_of(Some("")), Ok(None));
        assert_eq!(stderr_level_of(Some("  ")), Ok(None));
    }

    #[test]
    fn each_level_name_is_read_in_any_case() {
        for level in [LogLevel::Error, LogLevel::Warn, LogLevel::Info, LogLevel::Debug, LogLevel::Trace] {
            assert_eq!(stderr_level_of(Some(level.name())), Ok(Some(level)));
            assert_eq!(stderr_level_of(Some(&level.name().to_uppercase())), Ok(Some(level)));
        }
    }

    #[test]
    fn an_unknown_value_falls_back_to_warn() {
        assert_eq!(stderr_level_of(Some("verbose")), Err(LogLevel::Warn));
    }

    #[test]
    fn a_line_is_one_line() {
        assert_eq!(stderr_line(LogLevel::Info, "echo", "a\nb"), "[info] echo: a b\n");
    }
}
