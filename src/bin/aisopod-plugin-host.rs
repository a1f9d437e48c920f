//! `aisopod-plugin-host`: the helper process that runs plugins out of the host's process. For now it does the
//! handshake, answers pings and probes plugins.
//!
//! # Contract
//!
//! - **argv:** `aisopod-plugin-host --channel-fd <N>`. `N` is a decimal descriptor number of 3 or more: a
//!   connected `AF_UNIX` `SOCK_STREAM` socket, the helper's end of the channel, inherited without
//!   close-on-exec. Anything else exits with code 2.
//! - **Descriptors:** stdin and stdout are not used. stderr gets one line, `aisopod-plugin-host: <why>`, when
//!   the helper exits with a code other than 0. The host should leave no other descriptor open across `exec`.
//! - **Environment:** none is read.
//! - **Protocol:** the frames of `aisopod_loader::isolation::protocol`. The host sends its handshake first; the
//!   helper answers with its own, or with a `Refused` frame naming both sides' versions and exits with code 4.
//!   Then it answers each request in the order received: a `Ping` with a `Pong` of the same request id and
//!   payload; a `Probe` by probing that plugin in this process (`aisopod_loader::isolation::probe::probe`),
//!   sending a `ProbeProgress` as each step finishes, and replying with its `ProbeReport`, or with an `Error` of code `BAD_PAYLOAD` when the payload is malformed;
//!   any other frame with an `Error` frame of the same request id naming its kind. Several probes on one channel
//!   make a batch; every plugin probed is unloaded before the next. When the host closes the channel between
//!   frames, the helper exits 0.
//! - **Plugin code** runs in this process during a probe. A plugin that crashes, aborts or exits ends the
//!   helper with the plugin's signal or exit code, and one that hangs hangs it: the host sees the channel close
//!   or its deadline pass, and reads the helper's status. A plugin's own output to stdout or stderr goes where
//!   the helper's goes.
//! - **Exit codes:** those of `aisopod_loader::isolation::helper::HelperExit`: 0 the channel was closed after the
//!   handshake; 2 usage; 3 the descriptor is not an open stream socket; 4 handshake refused; 5 protocol error
//!   (a bad frame header, which gets an `Error` reply first, or a channel closed inside a frame or before the
//!   handshake); 6 a read or write on the channel failed.

use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

use aisopod_loader::isolation::helper::{describe_io_error, HelperExit, CHANNEL_FD_OPTION};
use aisopod_loader::isolation::probe::probe_observed;
use aisopod_loader::isolation::protocol::{
    Decoder, ErrorCode, ErrorReply, Frame, FrameError, FrameKind, Handshake, HandshakeError, ProbeProgress,
    ProbeRequest,
};

/// How much the helper reads from the channel at once.
const READ_CHUNK: usize = 64 * 1024;

/// Why the helper stops: its exit and the line it writes to stderr.
struct Stop {
    exit: HelperExit,
    why: String,
}

impl Stop {
    fn new(exit: HelperExit, why: impl Into<String>) -> Stop {
        Stop { exit, why: why.into() }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::from(HelperExit::Closed.code()),
        Err(Stop { exit, why }) => {
            eprintln!("aisopod-plugin-host: {why}");
            ExitCode::from(exit.code())
        }
    }
}

/// The helper's life, one step per line.
fn run() -> Result<(), Stop> {
    let fd = channel_fd_from_args(std::env::args().skip(1))?;
    check_stream_socket(fd)?;
    // SAFETY: the descriptor is open and a stream socket (checked above), and the helper owns it from here on:
    // nothing else in this process uses it.
    let mut channel = Channel {
        stream: unsafe { UnixStream::from_raw_fd(fd) },
        decoder: Decoder::new(),
        buffer: Vec::new(),
        start: 0,
    };
    handshake(&mut channel)?;
    serve(&mut channel)
}

/// Reads `--channel-fd <N>` from the arguments after the program name.
fn channel_fd_from_args(mut args: impl Iterator<Item = String>) -> Result<RawFd, Stop> {
    let usage = |why: String| {
        Stop::new(HelperExit::Usage, format!("{why}; usage: aisopod-plugin-host {CHANNEL_FD_OPTION} <N>"))
    };
    let (option, value) = (args.next(), args.next());
    if option.as_deref() != Some(CHANNEL_FD_OPTION) {
        return Err(usage(match option {
            None => "no arguments".to_owned(),
            Some(other) => format!("unknown argument {other:?}"),
        }));
    }
    let Some(value) = value else { return Err(usage(format!("{CHANNEL_FD_OPTION} needs a descriptor number"))) };
    if let Some(extra) = args.next() {
        return Err(usage(format!("unexpected argument {extra:?}")));
    }
    match value.parse::<RawFd>() {
        Ok(fd) if fd >= 3 => Ok(fd),
        Ok(fd) => Err(usage(format!("{CHANNEL_FD_OPTION} {fd}: the channel cannot be stdin, stdout or stderr"))),
        Err(_) => Err(usage(format!("{CHANNEL_FD_OPTION} {value:?} is not a descriptor number"))),
    }
}

/// Checks that `fd` is open and a stream socket.
fn check_stream_socket(fd: RawFd) -> Result<(), Stop> {
    let not_socket = |why: String| Stop::new(HelperExit::NotASocket, format!("descriptor {fd} {why}"));
    // SAFETY: fstat writes only into the stat buffer, which is large enough; an unopened fd gives EBADF.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut stat) } != 0 {
        let error = io::Error::last_os_error();
        if error.raw_os_error() == Some(libc::EBADF) {
            return Err(not_socket("is not open".to_owned()));
        }
        return Err(not_socket(format!("cannot be used as the channel: {}", describe_io_error(&error))));
    }
    if stat.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(not_socket(format!("is not a socket but {}", file_type_name(stat.st_mode))));
    }
    let mut socket_type: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: SO_TYPE writes one int into a buffer of that size, and `len` says so.
    let rc = unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_TYPE, (&raw mut socket_type).cast(), &mut len) };
    if rc != 0 {
        return Err(not_socket(format!(
            "is a socket whose type cannot be read: {}",
            describe_io_error(&io::Error::last_os_error())
        )));
    }
    if socket_type != libc::SOCK_STREAM {
        return Err(not_socket(format!("is a socket of type {socket_type}, not SOCK_STREAM")));
    }
    Ok(())
}

fn file_type_name(mode: libc::mode_t) -> &'static str {
    match mode & libc::S_IFMT {
        libc::S_IFREG => "a regular file",
        libc::S_IFDIR => "a directory",
        libc::S_IFIFO => "a pipe",
        libc::S_IFCHR => "a character device",
        libc::S_IFBLK => "a block device",
        libc::S_IFLNK => "a symbolic link",
        _ => "a file of unknown type",
    }
}

/// The helper's end of the channel, and the frames arriving on it.
struct Channel {
    stream: UnixStream,
    decoder: Decoder,
    /// The last read; `buffer[start..]` is not decoded yet.
    buffer: Vec<u8>,
    start: usize,
}

impl Channel {
    /// The next frame, or `None` when the host closed the channel between frames.
    fn receive(&mut self) -> Result<Option<Frame>, Stop> {
        loop {
            let mut input = &self.buffer[self.start..];
            let decoded = self.decoder.decode(&mut input);
            self.start = self.buffer.len() - input.len();
            match decoded {
                Ok(Some(frame)) => return Ok(Some(frame)),
                Ok(None) => {}
                Err(error) => return Err(self.refuse_bad_frame(error)),
            }
            self.buffer.resize(READ_CHUNK, 0);
            let read = loop {
                match self.stream.read(&mut self.buffer) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            };
            let read = read.map_err(|e| {
                Stop::new(HelperExit::ChannelIo, format!("reading the channel failed: {}", describe_io_error(&e)))
            })?;
            self.buffer.truncate(read);
            self.start = 0;
            if read == 0 {
                return match self.decoder.finish() {
                    Ok(()) => Ok(None),
                    Err(error) => Err(Stop::new(HelperExit::ProtocolError, error.to_string())),
                };
            }
        }
    }

    fn send(&mut self, frame: &Frame) -> Result<(), Stop> {
        let bytes = frame.encode().map_err(|e| Stop::new(HelperExit::ProtocolError, format!("cannot reply: {e}")))?;
        self.stream.write_all(&bytes).map_err(|e| {
            Stop::new(
                HelperExit::ChannelIo,
                format!("writing {} to the channel failed: {}", frame.kind, describe_io_error(&e)),
            )
        })
    }

    /// Replies to a frame whose header broke the format, naming what was wrong, and stops: the stream cannot be
    /// read any further.
    fn refuse_bad_frame(&mut self, error: FrameError) -> Stop {
        let request_id = match error {
            FrameError::TooLarge { request_id, .. } | FrameError::UnknownFlags { request_id, .. } => request_id,
            FrameError::Truncated { .. } => 0,
        };
        let reply = Frame::error(request_id, &ErrorReply::new(ErrorCode::BAD_FRAME, error.to_string()));
        match self.send(&reply) {
            Ok(()) => Stop::new(HelperExit::ProtocolError, error.to_string()),
            Err(stop) => stop,
        }
    }
}

/// Reads the host's handshake and answers with ours, or refuses it.
fn handshake(channel: &mut Channel) -> Result<(), Stop> {
    let frame = channel
        .receive()?
        .ok_or_else(|| Stop::new(HelperExit::ProtocolError, "the channel closed before the handshake"))?;
    let accepted = if frame.kind == FrameKind::HANDSHAKE {
        Handshake::accept(&frame.payload).map_err(|e: HandshakeError| e.to_string())
    } else {
        Err(format!("the first frame is {}, not a handshake", frame.kind))
    };
    if let Err(why) = accepted {
        let why = format!("refused the handshake: {why}");
        channel.send(&Frame::refused(&why))?;
        return Err(Stop::new(HelperExit::HandshakeRefused, why));
    }
    channel.send(&Frame::handshake(&Handshake::ours()))
}

/// Answers requests until the host closes the channel.
fn serve(channel: &mut Channel) -> Result<(), Stop> {
    while let Some(request) = channel.receive()? {
        let reply = match request.kind {
            FrameKind::PING => Frame::new(FrameKind::PONG, request.request_id, request.payload),
            FrameKind::PROBE => answer_probe(channel, request.request_id, &request.payload)?,
            kind if kind.name().is_none() => Frame::error(
                request.request_id,
                &ErrorReply::new(
                    ErrorCode::UNKNOWN_KIND,
                    format!("request {}: {kind} is not a frame kind this helper knows", request.request_id),
                ),
            ),
            kind => Frame::error(
                request.request_id,
                &ErrorReply::new(
                    ErrorCode::UNEXPECTED_KIND,
                    format!("request {}: the helper does not accept {kind} here", request.request_id),
                ),
            ),
        };
        channel.send(&reply)?;
    }
    Ok(())
}

/// Probes the plugin a `Probe` payload names, sending a `ProbeProgress` as each step finishes, and returns the
/// `ProbeReport`, or an `Error` saying what is wrong with the payload or the report.
fn answer_probe(channel: &mut Channel, request_id: u64, payload: &[u8]) -> Result<Frame, Stop> {
    let bad = |why: String| Frame::error(request_id, &ErrorReply::new(ErrorCode::BAD_PAYLOAD, why));
    let request = match ProbeRequest::decode(payload) {
        Ok(request) => request,
        Err(e) => return Ok(bad(format!("request {request_id}: {e}"))),
    };
    let mut sent = Ok(());
    let report =
        probe_observed(&request.plugin_dir, &request.host_version, request.init_config.as_deref(), &mut |step| {
            if sent.is_ok() {
                sent = channel.send(&ProbeProgress(step).frame(request_id));
            }
        });
    sent?;
    Ok(report.frame(request_id).unwrap_or_else(|e| bad(format!("request {request_id}: {e}"))))
}
