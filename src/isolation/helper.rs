//! The start-up contract of the helper executable, `aisopod-plugin-host`: its command line and its exit codes.
//!
//! The helper is started as `aisopod-plugin-host --channel-fd <N>`, where `N` (3 or more) is a descriptor of a
//! connected `SOCK_STREAM` socket inherited from the host, the only descriptor the host leaves open across
//! `exec`. The host speaks first: it sends its handshake on the channel, and the helper answers with its own or
//! with a refusal (see [`super::protocol`]).

/// The option that names the channel's descriptor.
pub const CHANNEL_FD_OPTION: &str = "--channel-fd";

/// Why the helper exited. The numbers are the process's exit codes; a retired value is never reused.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelperExit {
    /// The host closed the channel between frames, after a successful handshake.
    Closed = 0,
    /// The command line is not `--channel-fd <N>` with `N` a whole number of 3 or more.
    Usage = 2,
    /// Descriptor `N` is not open, or not a stream socket.
    NotASocket = 3,
    /// The handshake was refused: a mismatched magic, protocol, loader or ABI version, or a first frame that
    /// was not a handshake. The helper sent a `Refused` frame naming both sides' versions before exiting.
    HandshakeRefused = 4,
    /// The peer broke the frame format (a bad header, or the channel closed inside a frame or before the
    /// handshake). Where a header could be read, the helper replied with an `Error` frame first.
    ProtocolError = 5,
    /// Reading or writing the channel failed.
    ChannelIo = 6,
}

impl HelperExit {
    /// Every exit, in ascending order of code.
    pub const ALL: [HelperExit; 6] = [
        HelperExit::Closed,
        HelperExit::Usage,
        HelperExit::NotASocket,
        HelperExit::HandshakeRefused,
        HelperExit::ProtocolError,
        HelperExit::ChannelIo,
    ];

    /// The process exit code.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The exit whose code is `code`, or `None` for a code the helper does not use.
    pub fn from_code(code: i32) -> Option<HelperExit> {
        HelperExit::ALL.into_iter().find(|exit| i32::from(exit.code()) == code)
    }
}

/// An I/O error in the words every message of the loader uses (`strerror`'s text, without Rust's
/// "(os error N)"), for the helper's own messages.
pub fn describe_io_error(error: &std::io::Error) -> String {
    crate::io_error::describe(error)
}
