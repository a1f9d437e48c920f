//! The helper executable, `aisopod-plugin-host`, started the way the loader will start it: over a socketpair,
//! with `posix_spawn`, the helper's end the only descriptor it inherits. Every wait has a deadline, so a helper
//! that hangs fails the test instead of hanging it.

use std::collections::VecDeque;
use std::ffi::{c_char, CString};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aisopod_loader::isolation::helper::{HelperExit, CHANNEL_FD_OPTION};
use aisopod_loader::isolation::protocol::{
    Decoder, ErrorCode, ErrorReply, Frame, FrameKind, Handshake, HEADER_LEN, LOADER_VERSION, MAX_PAYLOAD_LEN,
    PROTOCOL_VERSION,
};

const HELPER: &str = env!("CARGO_BIN_EXE_aisopod-plugin-host");
/// How long any one wait may take; valgrind runs get [`VALGRIND_TIMEOUT`].
const TIMEOUT: Duration = Duration::from_secs(20);
const VALGRIND_TIMEOUT: Duration = Duration::from_secs(120);

extern "C" {
    static environ: *const *mut c_char;
}

/// Held from clearing close-on-exec on a child's end until the parent has closed its copy, so that a helper
/// spawned by another test thread in between does not inherit that end too.
static SPAWN_LOCK: Mutex<()> = Mutex::new(());

/// A connected pair of stream sockets, both close-on-exec.
fn socketpair(kind: libc::c_int) -> (OwnedFd, OwnedFd) {
    let mut fds = [-1; 2];
    // SAFETY: socketpair writes two descriptors into the array on success.
    let rc = unsafe { libc::socketpair(libc::AF_UNIX, kind | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) };
    assert_eq!(rc, 0, "socketpair: {}", io::Error::last_os_error());
    // SAFETY: both descriptors are new and owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn stderr_file(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "plugin-host-{name}-{}-{}.stderr",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Starts `argv` with `posix_spawn`, its stderr going to `stderr`, `inherited` (if any) left open across exec
/// under its own number, and every other descriptor of this process closed by close-on-exec.
fn spawn(argv: &[String], inherited: Option<OwnedFd>, stderr: &Path) -> libc::pid_t {
    let _lock = SPAWN_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let stderr_fd = std::fs::File::create(stderr).unwrap_or_else(|e| panic!("{}: {e}", stderr.display()));
    if let Some(fd) = &inherited {
        // SAFETY: F_SETFD on an open descriptor; 0 clears FD_CLOEXEC, on this descriptor only.
        assert_eq!(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, 0) }, 0, "{}", io::Error::last_os_error());
    }
    let args: Vec<CString> = argv.iter().map(|a| CString::new(a.as_str()).unwrap()).collect();
    let mut arg_ptrs: Vec<*mut c_char> = args.iter().map(|a| a.as_ptr().cast_mut()).collect();
    arg_ptrs.push(std::ptr::null_mut());
    let mut pid: libc::pid_t = 0;
    // SAFETY: the file actions are initialised before use and destroyed after; argv is a NULL-terminated array
    // of NUL-terminated strings that outlive the call; environ is the process's environment.
    unsafe {
        let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        assert_eq!(libc::posix_spawn_file_actions_init(&mut actions), 0);
        // dup2 onto 2 clears close-on-exec on the copy in the child only.
        assert_eq!(libc::posix_spawn_file_actions_adddup2(&mut actions, stderr_fd.as_raw_fd(), 2), 0);
        let rc = libc::posix_spawn(&mut pid, args[0].as_ptr(), &actions, std::ptr::null(), arg_ptrs.as_ptr(), environ);
        libc::posix_spawn_file_actions_destroy(&mut actions);
        assert_eq!(rc, 0, "posix_spawn {argv:?}: {}", io::Error::from_raw_os_error(rc));
    }
    // The parent's copy of the child's end closes here, so that the child sees the channel close when the
    // parent closes its own end.
    drop(inherited);
    pid
}

/// A running helper and the host's end of its channel.
struct Helper {
    pid: libc::pid_t,
    reaped: bool,
    channel: Option<UnixStream>,
    decoder: Decoder,
    received: VecDeque<Frame>,
    stderr: PathBuf,
    timeout: Duration,
}

impl Helper {
    fn start(name: &str) -> Helper {
        Helper::start_under(name, &[], TIMEOUT)
    }

    /// Starts the helper under `wrapper` (a program and its options, such as valgrind), or directly.
    fn start_under(name: &str, wrapper: &[String], timeout: Duration) -> Helper {
        let (host, child) = socketpair(libc::SOCK_STREAM);
        let mut argv = wrapper.to_vec();
        argv.extend([HELPER.to_owned(), CHANNEL_FD_OPTION.to_owned(), child.as_raw_fd().to_string()]);
        let stderr = stderr_file(name);
        let pid = spawn(&argv, Some(child), &stderr);
        let channel = UnixStream::from(host);
        channel.set_nonblocking(true).unwrap();
        Helper {
            pid,
            reaped: false,
            channel: Some(channel),
            decoder: Decoder::new(),
            received: VecDeque::new(),
            stderr,
            timeout,
        }
    }

    fn channel(&mut self) -> &mut UnixStream {
        self.channel.as_mut().expect("the channel is open")
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_else(|e| format!("(no stderr: {e})"))
    }

    /// Waits until the channel is ready for `events`, or panics at the deadline.
    fn poll(&mut self, events: libc::c_short, deadline: Instant) {
        let fd = self.channel().as_raw_fd();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "timed out waiting on the channel; helper stderr: {}", self.stderr_text());
            let mut pollfd = libc::pollfd { fd, events, revents: 0 };
            // SAFETY: one valid pollfd.
            let rc = unsafe { libc::poll(&mut pollfd, 1, left.as_millis().clamp(1, 1000) as libc::c_int) };
            if rc > 0 {
                return;
            }
            let error = io::Error::last_os_error();
            assert!(rc == 0 || error.kind() == io::ErrorKind::Interrupted, "poll: {error}");
        }
    }

    fn send_bytes(&mut self, mut bytes: &[u8]) {
        let deadline = Instant::now() + self.timeout;
        while !bytes.is_empty() {
            match self.channel().write(bytes) {
                Ok(written) => bytes = &bytes[written..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.poll(libc::POLLOUT, deadline),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!("writing the channel: {e}; helper stderr: {}", self.stderr_text()),
            }
        }
    }

    fn send(&mut self, frame: &Frame) {
        self.send_bytes(&frame.encode().unwrap());
    }

    /// The next frame from the helper, or `None` when it closed the channel between frames.
    fn receive_or_closed(&mut self) -> Option<Frame> {
        let deadline = Instant::now() + self.timeout;
        let mut buffer = vec![0; 64 * 1024];
        loop {
            if let Some(frame) = self.received.pop_front() {
                return Some(frame);
            }
            match self.channel().read(&mut buffer) {
                Ok(0) => {
                    self.decoder.finish().expect("the helper closed the channel inside a frame");
                    return None;
                }
                Ok(read) => {
                    let mut input = &buffer[..read];
                    while let Some(frame) = self.decoder.decode(&mut input).expect("the helper sent a bad frame") {
                        self.received.push_back(frame);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.poll(libc::POLLIN, deadline),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!("reading the channel: {e}; helper stderr: {}", self.stderr_text()),
            }
        }
    }

    fn receive(&mut self) -> Frame {
        self.receive_or_closed()
            .unwrap_or_else(|| panic!("the helper closed the channel; its stderr: {}", self.stderr_text()))
    }

    /// Sends our handshake and checks the helper's answer.
    fn handshake(&mut self) {
        self.send(&Frame::handshake(&Handshake::ours()));
        let answer = self.receive();
        assert_eq!((answer.kind, answer.request_id), (FrameKind::HANDSHAKE, 0), "{answer:?}");
        assert_eq!(Handshake::accept(&answer.payload).unwrap(), Handshake::ours());
    }

    fn close(&mut self) {
        self.channel = None;
    }

    /// Waits for the helper to exit and returns its exit code; kills it and panics at the deadline.
    fn wait(&mut self) -> i32 {
        let deadline = Instant::now() + self.timeout;
        let mut status = 0;
        loop {
            // SAFETY: waitpid on our own child, writing its status into `status`.
            let rc = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            assert!(rc >= 0, "waitpid: {}", io::Error::last_os_error());
            if rc == self.pid {
                self.reaped = true;
                break;
            }
            if Instant::now() >= deadline {
                self.kill();
                panic!("the helper did not exit within {:?}; its stderr: {}", self.timeout, self.stderr_text());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            libc::WIFEXITED(status),
            "the helper died of signal {}; its stderr: {}",
            libc::WTERMSIG(status),
            self.stderr_text()
        );
        libc::WEXITSTATUS(status)
    }

    /// Waits for the helper to exit with `expected`, and returns its stderr.
    fn expect_exit(&mut self, expected: HelperExit) -> String {
        let code = self.wait();
        let stderr = self.stderr_text();
        assert_eq!(HelperExit::from_code(code), Some(expected), "exit code {code}; stderr: {stderr}");
        stderr
    }

    fn kill(&mut self) {
        if !self.reaped {
            // SAFETY: signalling and reaping our own child, which has not been reaped, so the pid is still ours.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, std::ptr::null_mut(), 0);
            }
            self.reaped = true;
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.stderr);
    }
}

fn ping(request_id: u64, payload: &[u8]) -> Frame {
    Frame::new(FrameKind::PING, request_id, payload)
}

fn error_reply(frame: &Frame) -> ErrorReply {
    assert_eq!(frame.kind, FrameKind::ERROR, "{frame:?}");
    ErrorReply::decode(&frame.payload).expect("an Error payload")
}

#[test]
fn the_handshake_is_answered_and_closing_the_channel_exits_0() {
    let mut helper = Helper::start("handshake");
    helper.handshake();
    helper.close();
    let stderr = helper.expect_exit(HelperExit::Closed);
    assert_eq!(stderr, "", "a clean exit writes nothing");
}

#[test]
fn a_newer_protocol_version_is_refused_naming_both_versions() {
    let mut helper = Helper::start("newer-protocol");
    helper.send(&Frame::handshake(&Handshake { protocol_version: PROTOCOL_VERSION + 1, ..Handshake::ours() }));
    let refusal = helper.receive();
    let why = format!(
        "refused the handshake: protocol version mismatch: the peer speaks version {}, this side speaks version {}",
        PROTOCOL_VERSION + 1,
        PROTOCOL_VERSION
    );
    assert_eq!((refusal.kind, refusal.request_id), (FrameKind::REFUSED, 0));
    assert_eq!(String::from_utf8(refusal.payload).unwrap(), why);
    assert_eq!(helper.receive_or_closed(), None, "the helper sends nothing after a refusal");
    assert_eq!(helper.expect_exit(HelperExit::HandshakeRefused), format!("aisopod-plugin-host: {why}\n"));
}

#[test]
fn an_abi_or_loader_version_mismatch_is_refused_naming_both() {
    let cases = [
        (
            Handshake { abi_version: 99, ..Handshake::ours() },
            format!(
                "plugin ABI version mismatch: the peer has ABI version 99, this side has ABI version {}",
                aisopod_loader::abi::AISOPOD_ABI_VERSION
            ),
        ),
        (
            Handshake { loader_version: "0.0.1-old".into(), ..Handshake::ours() },
            format!(
                "loader version mismatch: the peer is aisopod-loader 0.0.1-old, this side is aisopod-loader {LOADER_VERSION}"
            ),
        ),
    ];
    for (theirs, why) in cases {
        let mut helper = Helper::start("version-mismatch");
        helper.send(&Frame::handshake(&theirs));
        let refusal = helper.receive();
        assert_eq!(refusal.kind, FrameKind::REFUSED);
        assert_eq!(String::from_utf8(refusal.payload).unwrap(), format!("refused the handshake: {why}"));
        helper.expect_exit(HelperExit::HandshakeRefused);
    }
}

#[test]
fn a_first_frame_that_is_not_a_handshake_is_refused() {
    let mut helper = Helper::start("no-handshake");
    helper.send(&ping(1, b"hi"));
    let refusal = helper.receive();
    assert_eq!(refusal.kind, FrameKind::REFUSED);
    assert_eq!(
        String::from_utf8(refusal.payload).unwrap(),
        "refused the handshake: the first frame is Ping (0x0010), not a handshake"
    );
    helper.expect_exit(HelperExit::HandshakeRefused);

    let mut helper = Helper::start("not-aisopod");
    helper.send(&Frame::new(FrameKind::HANDSHAKE, 0, *b"GET / HTTP/1.1\r\n"));
    let refusal = helper.receive();
    assert_eq!(
        String::from_utf8(refusal.payload).unwrap(),
        "refused the handshake: the peer's handshake (16 bytes) does not start with the aisopod magic and a protocol version"
    );
    helper.expect_exit(HelperExit::HandshakeRefused);
}

#[test]
fn pings_in_flight_together_are_echoed_with_their_request_ids() {
    let mut helper = Helper::start("pings");
    helper.handshake();
    let pings: Vec<Frame> = (0..32u64).map(|i| ping(1000 + 7 * i, &vec![i as u8; (i as usize * 131) % 4096])).collect();
    let mut all = Vec::new();
    for frame in &pings {
        frame.encode_into(&mut all).unwrap();
    }
    // Every ping is written before any reply is read.
    helper.send_bytes(&all);
    for sent in &pings {
        let pong = helper.receive();
        assert_eq!((pong.kind, pong.request_id), (FrameKind::PONG, sent.request_id));
        assert_eq!(pong.payload, sent.payload, "payload of request {}", sent.request_id);
    }

    let large: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    helper.send(&ping(u64::MAX, &large));
    assert_eq!(helper.receive(), Frame::new(FrameKind::PONG, u64::MAX, large));

    helper.close();
    helper.expect_exit(HelperExit::Closed);
}

#[test]
fn a_frame_of_a_kind_the_helper_does_not_serve_gets_an_error_reply_and_the_helper_carries_on() {
    let mut helper = Helper::start("unknown-kind");
    helper.handshake();
    helper.send(&Frame::new(FrameKind(0x7777), 42, *b"garbage"));
    let reply = helper.receive();
    assert_eq!(reply.request_id, 42);
    assert_eq!(
        error_reply(&reply),
        ErrorReply::new(
            ErrorCode::UNKNOWN_KIND,
            "request 42: unknown kind 0x7777 is not a frame kind this helper knows"
        )
    );

    helper.send(&Frame::new(FrameKind::PONG, 43, Vec::new()));
    let reply = helper.receive();
    assert_eq!(reply.request_id, 43);
    assert_eq!(
        error_reply(&reply),
        ErrorReply::new(ErrorCode::UNEXPECTED_KIND, "request 43: the helper does not accept Pong (0x0011) here")
    );

    helper.send(&ping(44, b"still here"));
    assert_eq!(helper.receive(), Frame::new(FrameKind::PONG, 44, *b"still here"));
    helper.close();
    helper.expect_exit(HelperExit::Closed);
}

#[test]
fn a_bad_frame_header_gets_an_error_reply_and_a_protocol_exit() {
    let too_large = |helper: &mut Helper| {
        let mut header = Vec::new();
        header.extend_from_slice(&u32::MAX.to_le_bytes());
        header.extend_from_slice(&FrameKind::PING.0.to_le_bytes());
        header.extend_from_slice(&0u16.to_le_bytes());
        header.extend_from_slice(&5u64.to_le_bytes());
        assert_eq!(header.len(), HEADER_LEN);
        helper.send_bytes(&header);
        format!(
            "a frame of Ping (0x0010) for request 5 declares a payload of {} bytes, more than the maximum {MAX_PAYLOAD_LEN}",
            u32::MAX
        )
    };
    let bad_flags = |helper: &mut Helper| {
        let mut bytes = ping(6, b"x").encode().unwrap();
        bytes[6] = 0x04;
        helper.send_bytes(&bytes);
        "a frame of Ping (0x0010) for request 6 sets flags 0x0004; protocol version 1 defines none".to_owned()
    };
    for (request_id, send_bad) in [(5, &too_large as &dyn Fn(&mut Helper) -> String), (6, &bad_flags)] {
        let mut helper = Helper::start("bad-header");
        helper.handshake();
        let why = send_bad(&mut helper);
        let reply = helper.receive();
        assert_eq!(reply.request_id, request_id);
        assert_eq!(error_reply(&reply), ErrorReply::new(ErrorCode::BAD_FRAME, why.clone()));
        assert_eq!(helper.expect_exit(HelperExit::ProtocolError), format!("aisopod-plugin-host: {why}\n"));
    }
}

#[test]
fn a_channel_closed_inside_a_frame_or_before_the_handshake_is_a_protocol_error() {
    let mut helper = Helper::start("closed-inside-frame");
    helper.handshake();
    helper.send_bytes(&ping(1, b"abc").encode().unwrap()[..10]);
    helper.close();
    assert_eq!(
        helper.expect_exit(HelperExit::ProtocolError),
        "aisopod-plugin-host: the stream ended inside a frame header: 10 of its 16 bytes arrived\n"
    );

    let mut helper = Helper::start("closed-inside-payload");
    helper.handshake();
    helper.send_bytes(&ping(1, b"abc").encode().unwrap()[..HEADER_LEN + 1]);
    helper.close();
    assert_eq!(
        helper.expect_exit(HelperExit::ProtocolError),
        "aisopod-plugin-host: the stream ended inside a frame of Ping (0x0010): 17 of its 19 bytes arrived\n"
    );

    let mut helper = Helper::start("closed-before-handshake");
    helper.close();
    assert_eq!(
        helper.expect_exit(HelperExit::ProtocolError),
        "aisopod-plugin-host: the channel closed before the handshake\n"
    );
}

#[test]
fn a_reply_the_host_will_not_read_is_a_channel_error() {
    let mut helper = Helper::start("host-stops-reading");
    helper.handshake();
    // On an AF_UNIX stream, the host's SHUT_RD makes the helper's next write fail with EPIPE.
    helper.channel().shutdown(std::net::Shutdown::Read).unwrap();
    helper.send(&ping(1, b"unheard"));
    assert_eq!(
        helper.expect_exit(HelperExit::ChannelIo),
        "aisopod-plugin-host: writing Pong (0x0011) to the channel failed: Broken pipe\n"
    );
}

/// Starts the helper with `args` and `inherited`, and returns its exit and stderr.
fn run_helper(args: &[String], inherited: Option<OwnedFd>) -> (Option<HelperExit>, String) {
    let stderr = stderr_file("arguments");
    let mut argv = vec![HELPER.to_owned()];
    argv.extend_from_slice(args);
    let mut helper = Helper {
        pid: spawn(&argv, inherited, &stderr),
        reaped: false,
        channel: None,
        decoder: Decoder::new(),
        received: VecDeque::new(),
        stderr,
        timeout: TIMEOUT,
    };
    let code = helper.wait();
    (HelperExit::from_code(code), helper.stderr_text())
}

#[test]
fn the_channel_must_be_an_open_stream_socket() {
    let fd_args = |fd: RawFd| vec![CHANNEL_FD_OPTION.to_owned(), fd.to_string()];
    let prefix = "aisopod-plugin-host: descriptor";

    let mut pipe = [-1; 2];
    // SAFETY: pipe2 writes two new descriptors into the array.
    assert_eq!(unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both are new and ours.
    let (read_end, _write_end) = unsafe { (OwnedFd::from_raw_fd(pipe[0]), OwnedFd::from_raw_fd(pipe[1])) };
    let fd = read_end.as_raw_fd();
    let (exit, stderr) = run_helper(&fd_args(fd), Some(read_end));
    assert_eq!((exit, stderr), (Some(HelperExit::NotASocket), format!("{prefix} {fd} is not a socket but a pipe\n")));

    let (datagram, _other) = socketpair(libc::SOCK_DGRAM);
    let fd = datagram.as_raw_fd();
    let (exit, stderr) = run_helper(&fd_args(fd), Some(datagram));
    assert_eq!(
        (exit, stderr),
        (
            Some(HelperExit::NotASocket),
            format!("{prefix} {fd} is a socket of type {}, not SOCK_STREAM\n", libc::SOCK_DGRAM)
        )
    );

    // The child inherits no descriptor but its stdio, so 4000 is not open there.
    let (exit, stderr) = run_helper(&fd_args(4000), None);
    assert_eq!((exit, stderr), (Some(HelperExit::NotASocket), format!("{prefix} 4000 is not open\n")));
}

#[test]
fn a_bad_command_line_is_a_usage_error() {
    let usage = "; usage: aisopod-plugin-host --channel-fd <N>\n";
    let cases: [(&[&str], &str); 5] = [
        (&[], "no arguments"),
        (&["--fd", "3"], "unknown argument \"--fd\""),
        (&["--channel-fd"], "--channel-fd needs a descriptor number"),
        (&["--channel-fd", "three"], "--channel-fd \"three\" is not a descriptor number"),
        (&["--channel-fd", "1"], "--channel-fd 1: the channel cannot be stdin, stdout or stderr"),
    ];
    for (args, why) in cases {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let (exit, stderr) = run_helper(&args, None);
        assert_eq!((exit, stderr), (Some(HelperExit::Usage), format!("aisopod-plugin-host: {why}{usage}")), "{args:?}");
    }
}

/// The path of `program` on `PATH`, if it is there.
fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(program)).find(|path| path.is_file())
}

#[test]
fn the_helper_runs_valgrind_clean() {
    let Some(valgrind) = find_on_path("valgrind") else {
        eprintln!("skipped: valgrind is not on PATH, so the helper's memory use is not checked");
        return;
    };
    let wrapper = [
        valgrind.display().to_string(),
        "--error-exitcode=99".to_owned(),
        "--leak-check=full".to_owned(),
        "--errors-for-leak-kinds=definite".to_owned(),
    ];
    let mut helper = Helper::start_under("valgrind", &wrapper, VALGRIND_TIMEOUT);
    helper.handshake();
    for i in 0..8u64 {
        helper.send(&ping(i, &vec![i as u8; 1000 * i as usize]));
    }
    for i in 0..8u64 {
        assert_eq!(helper.receive().request_id, i);
    }
    helper.send(&Frame::new(FrameKind(0xbeef), 9, Vec::new()));
    assert_eq!(error_reply(&helper.receive()).code, ErrorCode::UNKNOWN_KIND);
    helper.close();
    let code = helper.wait();
    let stderr = helper.stderr_text();
    assert_eq!(code, 0, "valgrind or the helper failed (99 is a valgrind error); stderr: {stderr}");
    assert!(
        stderr.contains("Memcheck") && stderr.contains("ERROR SUMMARY: 0 errors"),
        "not valgrind's report: {stderr}"
    );
}
