//! How a helper process ended: an exit code, a signal by name, a missed deadline, or unknown.

use std::fmt;
use std::time::Duration;

/// How a helper process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it (not the loader's `SIGKILL` at a deadline).
    Signaled(i32),
    /// It missed a deadline of this length and the loader killed it.
    TimedOut(Duration),
    /// Another part of the process reaped it (a `SIGCHLD` handler calling `waitpid(-1)`, say), so its exit
    /// status is unknown.
    Lost,
}

impl fmt::Display for Ending {
    /// `exited with code 7`, `killed by signal SIGSEGV`, `did not finish within 500 ms, killed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Ending::Exited(code) => write!(f, "exited with code {code}"),
            Ending::Signaled(signal) => match signal_name(signal) {
                Some(name) => write!(f, "killed by signal {name}"),
                None => write!(f, "killed by signal {signal}"),
            },
            Ending::TimedOut(limit) => write!(f, "did not finish within {} ms, killed", limit.as_millis()),
            Ending::Lost => f.write_str("was reaped elsewhere in the process, so how it ended is unknown"),
        }
    }
}

/// The name of signal `signal`, for the common ones.
pub fn signal_name(signal: i32) -> Option<&'static str> {
    const NAMES: &[(i32, &str)] = &[
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGQUIT, "SIGQUIT"),
        (libc::SIGILL, "SIGILL"),
        (libc::SIGTRAP, "SIGTRAP"),
        (libc::SIGABRT, "SIGABRT"),
        (libc::SIGBUS, "SIGBUS"),
        (libc::SIGFPE, "SIGFPE"),
        (libc::SIGKILL, "SIGKILL"),
        (libc::SIGUSR1, "SIGUSR1"),
        (libc::SIGSEGV, "SIGSEGV"),
        (libc::SIGUSR2, "SIGUSR2"),
        (libc::SIGPIPE, "SIGPIPE"),
        (libc::SIGALRM, "SIGALRM"),
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGCHLD, "SIGCHLD"),
        (libc::SIGXCPU, "SIGXCPU"),
        (libc::SIGXFSZ, "SIGXFSZ"),
        (libc::SIGSYS, "SIGSYS"),
    ];
    NAMES.iter().find(|(number, _)| *number == signal).map(|(_, name)| *name)
}

/// "its helper process was killed by signal SIGSEGV", "its helper process exited with code 3": how a helper
/// ended, as a clause of a message about the plugin in it.
pub fn helper_clause(ending: Ending) -> String {
    match ending {
        Ending::Signaled(_) => format!("its helper process was {ending}"),
        _ => format!("its helper process {ending}"),
    }
}

/// How much of the helper's stderr a message about a plugin quotes: its last line, at most this many bytes.
const MESSAGE_STDERR_LEN: usize = 512;

/// The status and message of the call or probe step `what` of plugin `plugin_id`, whose code ended its
/// helper as `ending`, or overran the deadline `timed_out` and had it killed; the message ends with the last
/// line of the helper's stderr, from `stderr_tail`. `plugin 'x' crashed during init: its helper process was
/// killed by signal SIGSEGV; stderr: ...`.
pub fn plugin_ended(
    plugin_id: &str,
    what: &str,
    ending: Ending,
    timed_out: Option<Duration>,
    stderr_tail: &[u8],
) -> (crate::error::Status, String) {
    use crate::error::Status;
    let (status, mut message) = match (timed_out, ending) {
        (Some(limit), _) => (
            Status::Timeout,
            format!(
                "plugin '{plugin_id}' did not finish {what} within {} ms: its helper process was killed",
                limit.as_millis()
            ),
        ),
        (None, Ending::Exited(_)) => {
            (Status::PluginCrashed, format!("plugin '{plugin_id}' ended its helper process during {what}: it {ending}"))
        }
        (None, _) => {
            (Status::PluginCrashed, format!("plugin '{plugin_id}' crashed during {what}: {}", helper_clause(ending)))
        }
    };
    append_stderr_line(&mut message, stderr_tail);
    (status, message)
}

/// Appends `; stderr: <line>` to `message`: the last non-empty line of `tail`, at most
/// [`MESSAGE_STDERR_LEN`] bytes of its end, when there is one.
pub fn append_stderr_line(message: &mut String, tail: &[u8]) {
    let text = String::from_utf8_lossy(tail);
    let Some(line) = text.lines().rev().map(str::trim).find(|line| !line.is_empty()) else { return };
    let mut start = line.len().saturating_sub(MESSAGE_STDERR_LEN);
    while !line.is_char_boundary(start) {
        start += 1;
    }
    message.push_str("; stderr: ");
    message.push_str(&line[start..]);
}
