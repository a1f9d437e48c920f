//! Starts the helper executable, `aisopod-plugin-host`, the way the loader will: over a socketpair, with
//! `posix_spawn`, the helper's end the only descriptor it inherits. Every wait has a deadline, so a helper that
//! hangs fails the test instead of hanging it. Shared by the helper's test files.
#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::collections::VecDeque;
use std::ffi::{c_char, CString};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aisopod_loader::isolation::helper::{HelperExit, CHANNEL_FD_OPTION};
use aisopod_loader::isolation::protocol::{Decoder, ErrorReply, Frame, FrameKind, Handshake};

pub const HELPER: &str = env!("CARGO_BIN_EXE_aisopod-plugin-host");
/// How long any one wait may take; valgrind runs get [`VALGRIND_TIMEOUT`].
pub const TIMEOUT: Duration = Duration::from_secs(20);
pub const VALGRIND_TIMEOUT: Duration = Duration::from_secs(120);

extern "C" {
    static environ: *const *mut c_char;
}

/// Held from clearing close-on-exec on a child's end until the parent has closed its copy, so that a helper
/// spawned by another test thread in between does not inherit that end too.
static SPAWN_LOCK: Mutex<()> = Mutex::new(());

/// A connected pair of stream sockets, both close-on-exec.
pub fn socketpair(kind: libc::c_int) -> (OwnedFd, OwnedFd) {
    let mut fds = [-1; 2];
    // SAFETY: socketpair writes two descriptors into the array on success.
    let rc = unsafe { libc::socketpair(libc::AF_UNIX, kind | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) };
    assert_eq!(rc, 0, "socketpair: {}", io::Error::last_os_error());
    // SAFETY: both descriptors are new and owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

pub fn stderr_file(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "plugin-host-{name}-{}-{}.stderr",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Starts `argv` with `posix_spawn`, its stderr going to `stderr`, `inherited` (if any) left open across exec
/// under its own number, and every other descriptor of this process closed by close-on-exec.
pub fn spawn(argv: &[String], inherited: Option<OwnedFd>, stderr: &Path) -> libc::pid_t {
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

/// What waiting for a frame gave.
#[derive(Debug, PartialEq)]
pub enum Received {
    Frame(Frame),
    /// The helper closed the channel between frames.
    Closed,
    TimedOut,
}

/// A running helper and the host's end of its channel.
pub struct Helper {
    pub pid: libc::pid_t,
    pub reaped: bool,
    pub channel: Option<UnixStream>,
    pub decoder: Decoder,
    pub received: VecDeque<Frame>,
    pub stderr: PathBuf,
    pub timeout: Duration,
}

impl Helper {
    pub fn start(name: &str) -> Helper {
        Helper::start_under(name, &[], TIMEOUT)
    }

    /// Starts the helper under `wrapper` (a program and its options, such as valgrind), or directly.
    pub fn start_under(name: &str, wrapper: &[String], timeout: Duration) -> Helper {
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

    pub fn channel(&mut self) -> &mut UnixStream {
        self.channel.as_mut().expect("the channel is open")
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_else(|e| format!("(no stderr: {e})"))
    }

    /// Waits until the channel is ready for `events`, or panics at the deadline.
    fn poll(&mut self, events: libc::c_short, deadline: Instant) {
        let ready = self.poll_until(events, deadline);
        assert!(ready, "timed out waiting on the channel; helper stderr: {}", self.stderr_text());
    }

    /// Waits until the channel is ready for `events` (true), or the deadline passes (false).
    fn poll_until(&mut self, events: libc::c_short, deadline: Instant) -> bool {
        let fd = self.channel().as_raw_fd();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let mut pollfd = libc::pollfd { fd, events, revents: 0 };
            // SAFETY: one valid pollfd.
            let rc = unsafe { libc::poll(&mut pollfd, 1, left.as_millis().clamp(1, 1000) as libc::c_int) };
            if rc > 0 {
                return true;
            }
            let error = io::Error::last_os_error();
            assert!(rc == 0 || error.kind() == io::ErrorKind::Interrupted, "poll: {error}");
        }
    }

    pub fn send_bytes(&mut self, mut bytes: &[u8]) {
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

    pub fn send(&mut self, frame: &Frame) {
        self.send_bytes(&frame.encode().unwrap());
    }

    /// The next frame from the helper, or `None` when it closed the channel between frames.
    pub fn receive_or_closed(&mut self) -> Option<Frame> {
        let deadline = Instant::now() + self.timeout;
        match self.receive_until(deadline) {
            Received::Frame(frame) => Some(frame),
            Received::Closed => None,
            Received::TimedOut => {
                panic!("timed out waiting on the channel; helper stderr: {}", self.stderr_text())
            }
        }
    }

    /// The next frame from the helper, its closing the channel between frames, or the deadline passing.
    pub fn receive_until(&mut self, deadline: Instant) -> Received {
        let mut buffer = vec![0; 64 * 1024];
        loop {
            if let Some(frame) = self.received.pop_front() {
                return Received::Frame(frame);
            }
            match self.channel().read(&mut buffer) {
                Ok(0) => {
                    self.decoder.finish().expect("the helper closed the channel inside a frame");
                    return Received::Closed;
                }
                Ok(read) => {
                    let mut input = &buffer[..read];
                    while let Some(frame) = self.decoder.decode(&mut input).expect("the helper sent a bad frame") {
                        self.received.push_back(frame);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !self.poll_until(libc::POLLIN, deadline) {
                        return Received::TimedOut;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!("reading the channel: {e}; helper stderr: {}", self.stderr_text()),
            }
        }
    }

    pub fn receive(&mut self) -> Frame {
        self.receive_or_closed()
            .unwrap_or_else(|| panic!("the helper closed the channel; its stderr: {}", self.stderr_text()))
    }

    /// Sends our handshake and checks the helper's answer.
    pub fn handshake(&mut self) {
        self.send(&Frame::handshake(&Handshake::ours()));
        let answer = self.receive();
        assert_eq!((answer.kind, answer.request_id), (FrameKind::HANDSHAKE, 0), "{answer:?}");
        assert_eq!(Handshake::accept(&answer.payload).unwrap(), Handshake::ours());
    }

    pub fn close(&mut self) {
        self.channel = None;
    }

    /// Waits for the helper to exit and returns its exit code; kills it and panics at the deadline.
    pub fn wait(&mut self) -> i32 {
        let status = self.wait_status();
        assert!(
            libc::WIFEXITED(status),
            "the helper died of signal {}; its stderr: {}",
            libc::WTERMSIG(status),
            self.stderr_text()
        );
        libc::WEXITSTATUS(status)
    }

    /// Waits for the helper to end and returns its `waitpid` status; kills it and panics at the deadline.
    pub fn wait_status(&mut self) -> libc::c_int {
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
        status
    }

    /// Waits for the helper to be killed by `signal`, and returns its stderr.
    pub fn expect_signal(&mut self, signal: libc::c_int) -> String {
        let status = self.wait_status();
        let stderr = self.stderr_text();
        assert!(
            libc::WIFSIGNALED(status),
            "the helper was not killed by a signal (status {status:#x}); stderr: {stderr}"
        );
        assert_eq!(libc::WTERMSIG(status), signal, "the helper died of another signal; stderr: {stderr}");
        stderr
    }

    /// Waits for the helper to exit with `expected`, and returns its stderr.
    pub fn expect_exit(&mut self, expected: HelperExit) -> String {
        let code = self.wait();
        let stderr = self.stderr_text();
        assert_eq!(HelperExit::from_code(code), Some(expected), "exit code {code}; stderr: {stderr}");
        stderr
    }

    pub fn kill(&mut self) {
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

pub fn ping(request_id: u64, payload: &[u8]) -> Frame {
    Frame::new(FrameKind::PING, request_id, payload)
}

pub fn error_reply(frame: &Frame) -> ErrorReply {
    assert_eq!(frame.kind, FrameKind::ERROR, "{frame:?}");
    ErrorReply::decode(&frame.payload).expect("an Error payload")
}
