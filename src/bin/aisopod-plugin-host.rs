//! `aisopod-plugin-host`: the helper process that runs plugins out of the host's process: it probes plugins,
//! and hosts one plugin for a loader that runs it isolated.
//!
//! # Contract
//!
//! - **argv:** `aisopod-plugin-host --channel-fd <N>`. `N` is a decimal descriptor number of 3 or more: a
//!   connected `AF_UNIX` `SOCK_STREAM` socket, the helper's end of the channel, inherited without
//!   close-on-exec. Anything else exits with code 2.
//! - **Descriptors:** stdin and stdout are not used. stderr gets one line, `aisopod-plugin-host: <why>`, when
//!   the helper exits with a code other than 0. The host should leave no other descriptor open across `exec`.
//! - **Environment:** none is read.
//! - **Protocol:** the frames of `aisopod_loader::isolation::protocol`, served by
//!   `aisopod_loader::isolation::server`. The host sends its handshake first; the helper answers with its own,
//!   or with a `Refused` frame naming both sides' versions and exits with code 4. Then it serves requests, as
//!   many at once as arrive: a `Ping` gets a `Pong` of the same request id and payload; a `Probe` probes that
//!   plugin in this process, sending a `ProbeProgress` as each step finishes, then its `ProbeReport` (or an
//!   `Error` of code `BAD_PAYLOAD` for a malformed payload); `Load`, `Init`, `Invoke`, `Emit` and `Unload` host
//!   one plugin and get a `Result`, with `Output` frames before it for what a handler writes, and `Log` frames
//!   for what the plugin logs; any other frame gets an `Error` naming its kind. Several probes on one channel
//!   make a batch; every plugin probed is unloaded before the next. When the host closes the channel between
//!   frames, the helper exits 0.
//! - **Plugin code** runs in this process. A plugin that crashes, aborts or exits ends the helper with the
//!   plugin's signal or exit code, and one that hangs hangs it: the host sees the channel close or its deadline
//!   pass, and reads the helper's status. A plugin's own output to stdout or stderr goes where the helper's
//!   goes.
//! - **Exit codes:** those of `aisopod_loader::isolation::helper::HelperExit`: 0 the channel was closed after the
//!   handshake; 2 usage; 3 the descriptor is not an open stream socket; 4 handshake refused; 5 protocol error
//!   (a bad frame header, which gets an `Error` reply first, or a channel closed inside a frame or before the
//!   handshake); 6 a read or write on the channel failed.

use std::io;
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

use aisopod_loader::isolation::helper::{describe_io_error, HelperExit, CHANNEL_FD_OPTION};
use aisopod_loader::isolation::server::{Server, Stop};

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
    let server = Server::new(unsafe { UnixStream::from_raw_fd(fd) })?;
    server.handshake()?;
    server.serve()
}

/// Reads `--channel-fd <N>` from the arguments after the program name.
fn channel_fd_from_args(mut args: impl Iterator<Item = String>) -> Result<RawFd, Stop> {
    let usage =
        |why: String| stop(HelperExit::Usage, format!("{why}; usage: aisopod-plugin-host {CHANNEL_FD_OPTION} <N>"));
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
    let not_socket = |why: String| stop(HelperExit::NotASocket, format!("descriptor {fd} {why}"));
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

fn stop(exit: HelperExit, why: impl Into<String>) -> Stop {
    Stop { exit, why: why.into() }
}
