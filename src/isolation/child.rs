//! One running helper process, from the loader's side: starting it, the handshake, requests, and reaping it.
//!
//! # Starting
//!
//! [`Child::spawn`] makes a `socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)` for the channel and a
//! `pipe2(O_CLOEXEC)` for the helper's stderr, and starts the helper with `posix_spawn`, never `fork`, since the
//! host may have threads. In the helper:
//!
//! - descriptor 3 is its end of the channel, 2 the pipe's write end, 0 and 1 `/dev/null`. `dup2` gives those
//!   copies no close-on-exec flag; everything this library opens is close-on-exec, and where the C library
//!   has `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34 and later) every descriptor from 4 up is
//!   closed too, so that a descriptor the host opened without close-on-exec does not reach the helper either;
//! - the signal mask is empty, and the signals a host commonly ignores or handles (`SIGPIPE`, `SIGCHLD`,
//!   `SIGINT`, `SIGTERM`, `SIGHUP`, `SIGQUIT`, `SIGALRM`, `SIGUSR1`, `SIGUSR2`, the job-control signals,
//!   `SIGXCPU`, `SIGXFSZ`) have their default disposition;
//! - argv is `aisopod-plugin-host --channel-fd 3`;
//! - the environment is the host's, unchanged (`environ` at the time of the call), so that a plugin in the
//!   helper sees the variables (`LD_LIBRARY_PATH`, `HOME`, locale, its own settings) it would see in the host.
//!   The helper itself reads none. As with any `posix_spawn`, a thread changing the environment during the
//!   call races with it.
//!
//! Then the loader sends its handshake and reads the helper's answer (see [`super::protocol`]).
//!
//! # Deadlines, and how a helper ends
//!
//! Every call takes a deadline and every wait is bounded by it: the channel is non-blocking and waited on with
//! `poll`. A helper that misses a deadline is killed with `SIGKILL` and reaped; so is one that breaks the frame
//! format. One that closes the channel is given until the deadline, and at least [`CLOSE_GRACE`], to exit.
//! While the loader waits for anything, it reads the helper's stderr and keeps its last [`STDERR_TAIL_LEN`]
//! bytes, so a helper that writes a lot never blocks on a full pipe. When the helper has ended, an [`Outcome`]
//! says how (an exit code, a signal by name, or a missed deadline) with the stderr tail.
//!
//! Linux only for now (`pipe2`, `MSG_NOSIGNAL`, `getauxval`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::{c_char, CString};
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use super::ending::{signal_name, Ending};
use super::helper::CHANNEL_FD_OPTION;
use super::protocol::{Decoder, Frame, FrameError, FrameKind, Handshake};
use crate::error::{Error, Status};
use crate::io_error::describe;

/// How many bytes of the helper's stderr are kept: the last 4 KiB.
pub const STDERR_TAIL_LEN: usize = 4096;
/// How long a helper that closed the channel is given to exit, at least, before it is killed.
pub const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How long `Drop` waits for a helper that is still running to exit once its channel is closed.
pub const DROP_GRACE: Duration = Duration::from_millis(500);
/// How long the loader waits for a helper it sent `SIGKILL` to be reaped.
const KILL_REAP_BOUND: Duration = Duration::from_secs(2);
/// The pause between two `waitpid(WNOHANG)` calls while a helper is exiting; stderr is read meanwhile.
const REAP_POLL: Duration = Duration::from_millis(5);
/// The descriptor number of the channel in the helper.
const CHILD_CHANNEL_FD: RawFd = 3;
/// How much is read from the channel or stderr at once.
const READ_CHUNK: usize = 64 * 1024;

extern "C" {
    static environ: *const *mut c_char;
}

/// How a helper ended, and the end of what it wrote to stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ending: Ending,
    /// What the helper used, from `wait4`, when it was reaped here.
    pub usage: Option<Usage>,
    /// The last [`STDERR_TAIL_LEN`] bytes the helper wrote to stderr, or all of them if fewer.
    pub stderr_tail: Vec<u8>,
    /// How many earlier bytes of stderr were dropped to keep the tail.
    pub stderr_dropped: u64,
}

/// What a helper process used over its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU time in user mode, in microseconds.
    pub user_micros: u64,
    /// CPU time in the kernel, in microseconds.
    pub system_micros: u64,
    /// The largest resident set, in bytes.
    pub peak_rss_bytes: u64,
}

impl Usage {
    fn from_rusage(usage: &libc::rusage) -> Usage {
        let micros = |time: libc::timeval| (time.tv_sec.max(0) as u64) * 1_000_000 + time.tv_usec.max(0) as u64;
        Usage {
            user_micros: micros(usage.ru_utime),
            system_micros: micros(usage.ru_stime),
            // Linux counts ru_maxrss in KiB.
            peak_rss_bytes: (usage.ru_maxrss.max(0) as u64) * 1024,
        }
    }

    /// What the running process `pid` has used so far, from `/proc/<pid>/stat` and `/proc/<pid>/status`;
    /// `None` when they cannot be read.
    pub fn of_running(pid: libc::pid_t) -> Option<Usage> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
        // SAFETY: sysconf has no preconditions.
        let ticks = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).ok().filter(|&t| t > 0)?;
        let (user, system): (u64, u64) = (fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let peak_kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        Some(Usage {
            user_micros: user * 1_000_000 / ticks,
            system_micros: system * 1_000_000 / ticks,
            peak_rss_bytes: peak_kib * 1024,
        })
    }
}

impl Outcome {
    /// The stderr tail as text, with invalid UTF-8 replaced.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr_tail).into_owned()
    }
}

/// A failed exchange with a helper: the error, and how the helper ended when the failure ended it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub error: Error,
    pub outcome: Option<Outcome>,
    /// Whether the helper ended on its own (it exited or a signal killed it) while the loader waited for it,
    /// as when plugin code in it crashes or calls `exit`; not when the loader killed it.
    pub ended_on_its_own: bool,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.error.message())
    }
}

impl std::error::Error for Failure {}

impl From<Failure> for Error {
    fn from(failure: Failure) -> Error {
        failure.error
    }
}

/// Why reading or writing the channel stopped.
enum Stop {
    TimedOut,
    Closed,
    Io(io::Error),
    BadFrame(FrameError),
    /// The helper sent a frame the protocol does not allow here; the text says which.
    Unexpected(String),
}

/// The last bytes of a stream, in a buffer of fixed size.
#[derive(Debug, Default)]
struct Tail {
    bytes: VecDeque<u8>,
    dropped: u64,
}

impl Tail {
    fn push(&mut self, data: &[u8]) {
        let keep = &data[data.len().saturating_sub(STDERR_TAIL_LEN)..];
        self.dropped += (data.len() - keep.len()) as u64;
        self.bytes.extend(keep);
        let excess = self.bytes.len().saturating_sub(STDERR_TAIL_LEN);
        self.bytes.drain(..excess);
        self.dropped += excess as u64;
    }
}

/// A running helper process and the loader's end of its channel.
#[derive(Debug)]
pub struct Child {
    pid: libc::pid_t,
    path: PathBuf,
    /// The loader's end of the channel, non-blocking; `None` once closed.
    channel: Option<OwnedFd>,
    /// The read end of the helper's stderr, non-blocking; `None` at end of file.
    stderr: Option<OwnedFd>,
    tail: Tail,
    decoder: Decoder,
    /// Frames decoded but not yet taken.
    inbox: VecDeque<Frame>,
    /// Frames that arrived for requests in flight, by request id, in arrival order.
    replies: HashMap<u64, VecDeque<Frame>>,
    in_flight: HashSet<u64>,
    next_request_id: u64,
    peer: Option<Handshake>,
    /// What the helper used, once `wait4` reaped it.
    usage: Option<Usage>,
    /// The channel's read buffer, allocated once.
    read_buffer: Vec<u8>,
    /// Set once the helper has been reaped (or given up on).
    outcome: Option<Outcome>,
}

impl Child {
    /// Starts the helper at `path` and does the handshake, all by `deadline`.
    pub fn spawn(path: &Path, deadline: Instant) -> Result<Child, Failure> {
        let started = Instant::now();
        let failure = |message: String| Failure {
            error: Error::new(Status::HelperUnavailable, message),
            outcome: None,
            ended_on_its_own: false,
        };
        let fds = SpawnFds::new().map_err(|e| {
            failure(format!("cannot start the helper {}: making its channel failed: {}", path.display(), describe(&e)))
        })?;
        let pid = posix_spawn_helper(path, &fds)
            .map_err(|e| failure(format!("cannot start the helper {}: {}", path.display(), describe(&e))))?;
        // The parent's copies of the helper's descriptors close here, so that the channel and the pipe reach
        // end of file when the helper's copies close.
        let SpawnFds { host, child, stderr_read, stderr_write, null } = fds;
        drop((child, stderr_write, null));
        let mut child = Child {
            pid,
            path: path.to_path_buf(),
            channel: Some(host),
            stderr: Some(stderr_read),
            tail: Tail::default(),
            decoder: Decoder::new(),
            inbox: VecDeque::new(),
            replies: HashMap::new(),
            in_flight: HashSet::new(),
            next_request_id: 1,
            peer: None,
            usage: None,
            read_buffer: Vec::new(),
            outcome: None,
        };
        let ours = [child.channel.as_ref(), child.stderr.as_ref()].map(|fd| fd.map(AsRawFd::as_raw_fd));
        for fd in ours.into_iter().flatten() {
            if let Err(e) = set_nonblocking(fd) {
                let message = format!("cannot start the helper {}: {}", path.display(), describe(&e));
                return Err(child.fail_now(Status::HelperUnavailable, message));
            }
        }
        child.handshake(started, deadline)?;
        Ok(child)
    }

    /// The helper's process id.
    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// The helper's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The helper's handshake: its protocol, ABI and loader versions.
    pub fn peer(&self) -> Option<&Handshake> {
        self.peer.as_ref()
    }

    /// How the helper ended, once it has.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// Takes the loader's end of the channel, for a caller that does its own reading and writing; `request`
    /// then fails as on a closed channel. The caller closes it (or shuts it down) to ask the helper to exit.
    pub(crate) fn take_channel(&mut self) -> Option<OwnedFd> {
        self.channel.take()
    }

    /// The read end of the helper's stderr, until the helper is reaped.
    pub(crate) fn stderr_fd(&self) -> Option<RawFd> {
        self.stderr.as_ref().map(AsRawFd::as_raw_fd)
    }

    fn handshake(&mut self, started: Instant, deadline: Instant) -> Result<(), Failure> {
        let doing = "the handshake";
        let ours = Frame::handshake(&Handshake::ours()).encode().expect("a handshake is far below the frame limit");
        if let Err(stop) = self.send_bytes(&ours, deadline) {
            // A helper may refuse before it has read the handshake, and exit: its refusal says more than the
            // closed channel.
            let _ = self.read_channel();
            if self.inbox.front().is_none_or(|frame| frame.kind != FrameKind::REFUSED) {
                return Err(self.fail(doing, stop, started, deadline));
            }
        }
        let answer = match self.next_frame(deadline) {
            Ok(frame) => frame,
            Err(stop) => return Err(self.fail(doing, stop, started, deadline)),
        };
        let path = self.path.display().to_string();
        let refusal = match answer.kind {
            FrameKind::HANDSHAKE => match Handshake::accept(&answer.payload) {
                Ok(peer) => {
                    self.peer = Some(peer);
                    return Ok(());
                }
                Err(e) => format!("the helper {path} is not this loader's: {e}"),
            },
            FrameKind::REFUSED => {
                format!("the helper {path} {}", String::from_utf8_lossy(&answer.payload))
            }
            kind => format!("the helper {path} answered the handshake with {kind}"),
        };
        let mut failure = self.fail_now(Status::HelperMismatch, refusal);
        // A refusing helper exits by itself; the outcome says how, unless it is still running.
        if let Some(outcome) = &failure.outcome {
            let message = format!("{}; it {}", failure.error.message(), outcome.ending);
            failure.error = Error::new(Status::HelperMismatch, message);
        }
        Err(failure)
    }

    /// Sends a request of `kind` carrying `payload`, and returns the helper's reply to it (of whatever kind,
    /// an `Error` frame included). A missed `deadline` kills the helper.
    pub fn request(&mut self, kind: FrameKind, payload: &[u8], deadline: Instant) -> Result<Frame, Failure> {
        self.request_with(kind, payload, deadline, &mut |_| false)
    }

    /// As [`Child::request`], passing each frame of the request's own id to `interim` first: a frame for which
    /// it returns `true` was an interim one (progress, output) and the wait goes on; any other is the reply.
    pub fn request_with(
        &mut self,
        kind: FrameKind,
        payload: &[u8],
        deadline: Instant,
        interim: &mut dyn FnMut(&Frame) -> bool,
    ) -> Result<Frame, Failure> {
        let started = Instant::now();
        if let Some(outcome) = &self.outcome {
            return Err(Failure {
                error: Error::new(
                    Status::HelperFailed,
                    format!("the helper {} has ended: it {}", self.path.display(), outcome.ending),
                ),
                outcome: Some(outcome.clone()),
                ended_on_its_own: false,
            });
        }
        let request_id = self.next_request_id;
        self.next_request_id += 1;
        let bytes = Frame::new(kind, request_id, payload).encode().map_err(|e| Failure {
            error: Error::new(Status::InvalidArgument, e),
            outcome: None,
            ended_on_its_own: false,
        })?;
        let doing = format!("request {request_id} ({kind})");
        self.in_flight.insert(request_id);
        let result = self.send_bytes(&bytes, deadline).and_then(|()| loop {
            let frame = self.reply_to(request_id, deadline)?;
            if !interim(&frame) {
                break Ok(frame);
            }
        });
        self.in_flight.remove(&request_id);
        self.replies.remove(&request_id);
        result.map_err(|stop| self.fail(&doing, stop, started, deadline))
    }

    /// Sends a request of `kind` with no payload, passing the descriptor `fd` with it (`SCM_RIGHTS`), and
    /// returns the helper's reply. A missed `deadline` kills the helper.
    pub fn request_passing(&mut self, kind: FrameKind, fd: RawFd, deadline: Instant) -> Result<Frame, Failure> {
        use super::connection::{send_frame, SendError};
        let started = Instant::now();
        let request_id = self.next_request_id;
        self.next_request_id += 1;
        let doing = format!("request {request_id} ({kind})");
        let channel = match self.channel_fd() {
            Ok(channel) => channel,
            Err(stop) => return Err(self.fail(&doing, stop, started, deadline)),
        };
        self.in_flight.insert(request_id);
        let sent = send_frame(channel, kind, request_id, &[], Some(fd), deadline).map_err(|error| match error {
            SendError::TimedOut => Stop::TimedOut,
            SendError::Gone => Stop::Closed,
            SendError::TooLarge => Stop::Unexpected("an empty payload was too large".to_owned()),
            SendError::Failed(error) => Stop::Io(error),
        });
        let result = sent.and_then(|()| self.reply_to(request_id, deadline));
        self.in_flight.remove(&request_id);
        self.replies.remove(&request_id);
        result.map_err(|stop| self.fail(&doing, stop, started, deadline))
    }

    /// Forgets the stderr the helper wrote so far, after reading what the pipe holds: the tail of a later
    /// failure then holds only what came after this call.
    pub fn clear_stderr_tail(&mut self) {
        self.drain_stderr();
        self.tail = Tail::default();
    }

    /// Reads frames until the next one for `request_id` arrives, keeping frames for other requests in flight.
    fn reply_to(&mut self, request_id: u64, deadline: Instant) -> Result<Frame, Stop> {
        loop {
            if let Some(reply) = self.replies.get_mut(&request_id).and_then(VecDeque::pop_front) {
                return Ok(reply);
            }
            let frame = self.next_frame(deadline)?;
            if !self.in_flight.contains(&frame.request_id) {
                return Err(Stop::Unexpected(format!(
                    "sent {} for request {}, which is not in flight",
                    frame.kind, frame.request_id
                )));
            }
            self.replies.entry(frame.request_id).or_default().push_back(frame);
        }
    }

    /// Closes the channel, which asks the helper to exit, and waits for it until `deadline`; then kills it.
    pub fn shutdown(mut self, deadline: Instant) -> Outcome {
        let limit = deadline.saturating_duration_since(Instant::now());
        self.reap(deadline, Some(limit))
    }

    /// Ends the helper (closing the channel, then at most [`CLOSE_GRACE`] before `SIGKILL`) and fails with
    /// `message`: for failures after which the channel is of no use.
    fn fail_now(&mut self, status: Status, message: String) -> Failure {
        let outcome = self.reap(Instant::now() + CLOSE_GRACE, Some(CLOSE_GRACE));
        Failure { error: Error::new(status, message), outcome: Some(outcome), ended_on_its_own: false }
    }

    /// Ends the helper after `stop` while `doing`, and describes the failure.
    fn fail(&mut self, doing: &str, stop: Stop, started: Instant, deadline: Instant) -> Failure {
        let path = self.path.display().to_string();
        let limit = deadline.saturating_duration_since(started);
        let mut ended_on_its_own = false;
        let (status, message, outcome) = match stop {
            Stop::TimedOut => {
                let outcome = self.reap(Instant::now(), Some(limit));
                (
                    Status::Timeout,
                    format!("the helper {path} did not finish {doing} within {} ms: it was killed", limit.as_millis()),
                    outcome,
                )
            }
            Stop::Closed | Stop::Io(_) => {
                let why = match &stop {
                    Stop::Io(e) => format!("the channel failed during {doing} ({})", describe(e)),
                    _ => format!("the helper closed the channel during {doing}"),
                };
                let bound = deadline.max(Instant::now() + CLOSE_GRACE);
                let outcome = self.reap(bound, Some(bound.saturating_duration_since(started)));
                ended_on_its_own = matches!(outcome.ending, Ending::Exited(_) | Ending::Signaled(_));
                (Status::HelperFailed, format!("{why}: the helper {path} {}", outcome.ending), outcome)
            }
            Stop::BadFrame(e) => {
                let outcome = self.reap(Instant::now(), None);
                let message = format!("the helper {path} broke the frame format during {doing}: {e}; it was killed");
                (Status::HelperFailed, message, outcome)
            }
            Stop::Unexpected(what) => {
                let outcome = self.reap(Instant::now(), None);
                (Status::HelperFailed, format!("the helper {path} {what}, during {doing}; it was killed"), outcome)
            }
        };
        Failure { error: Error::new(status, message), outcome: Some(outcome), ended_on_its_own }
    }

    /// Writes all of `bytes` to the channel by `deadline`, reading whatever the helper sends meanwhile.
    fn send_bytes(&mut self, mut bytes: &[u8], deadline: Instant) -> Result<(), Stop> {
        while !bytes.is_empty() {
            let fd = self.channel_fd()?;
            // SAFETY: writes from a valid buffer of the given length; MSG_NOSIGNAL turns a dead peer into EPIPE
            // instead of a SIGPIPE that could kill the host.
            let rc = unsafe { libc::send(fd, bytes.as_ptr().cast(), bytes.len(), libc::MSG_NOSIGNAL) };
            if rc >= 0 {
                bytes = &bytes[rc as usize..];
                continue;
            }
            let error = io::Error::last_os_error();
            match error.kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock => {
                    if self.wait(libc::POLLOUT | libc::POLLIN, deadline)? & libc::POLLIN != 0 {
                        self.read_channel()?;
                    }
                }
                _ => return Err(Stop::Io(error)),
            }
        }
        Ok(())
    }

    /// The next frame from the helper, by `deadline`.
    fn next_frame(&mut self, deadline: Instant) -> Result<Frame, Stop> {
        loop {
            if let Some(frame) = self.inbox.pop_front() {
                return Ok(frame);
            }
            if !self.read_channel()? {
                self.wait(libc::POLLIN, deadline)?;
            }
        }
    }

    /// Reads what the channel holds into the inbox; `Ok(false)` when it held nothing.
    fn read_channel(&mut self) -> Result<bool, Stop> {
        let fd = self.channel_fd()?;
        let mut buffer = std::mem::take(&mut self.read_buffer);
        buffer.resize(READ_CHUNK, 0);
        let result = self.read_channel_into(fd, &mut buffer);
        self.read_buffer = buffer;
        result
    }

    fn read_channel_into(&mut self, fd: RawFd, buffer: &mut [u8]) -> Result<bool, Stop> {
        loop {
            // SAFETY: reads into a valid buffer of the given length.
            let rc = unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) };
            if rc > 0 {
                let mut input = &buffer[..rc as usize];
                while let Some(frame) = self.decoder.decode(&mut input).map_err(Stop::BadFrame)? {
                    self.inbox.push_back(frame);
                }
                return Ok(true);
            }
            if rc == 0 {
                return Err(match self.decoder.finish() {
                    Ok(()) => Stop::Closed,
                    Err(e) => Stop::BadFrame(e),
                });
            }
            let error = io::Error::last_os_error();
            match error.kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock => return Ok(false),
                _ => return Err(Stop::Io(error)),
            }
        }
    }

    fn channel_fd(&self) -> Result<RawFd, Stop> {
        self.channel.as_ref().map(AsRawFd::as_raw_fd).ok_or(Stop::Closed)
    }

    /// Waits until the channel is ready for `events` (returning the events that are), reading stderr meanwhile.
    fn wait(&mut self, events: libc::c_short, deadline: Instant) -> Result<libc::c_short, Stop> {
        let fd = self.channel_fd()?;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Stop::TimedOut);
            }
            let revents = self.poll_with_stderr(Some((fd, events)), left);
            if revents != 0 {
                return Ok(revents);
            }
        }
    }

    /// Polls `channel` (if any) and stderr for at most `timeout`, draining stderr when it is readable; returns
    /// the channel's events.
    fn poll_with_stderr(&mut self, channel: Option<(RawFd, libc::c_short)>, timeout: Duration) -> libc::c_short {
        let mut fds = Vec::with_capacity(2);
        if let Some((fd, events)) = channel {
            fds.push(libc::pollfd { fd, events, revents: 0 });
        }
        let stderr_at = self.stderr.as_ref().map(|fd| {
            fds.push(libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 });
            fds.len() - 1
        });
        let millis = timeout.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        if fds.is_empty() {
            std::thread::sleep(timeout);
            return 0;
        }
        // SAFETY: `fds` is a valid array of pollfd of the given length.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) };
        if rc <= 0 {
            return 0;
        }
        if stderr_at.is_some_and(|at| fds[at].revents != 0) {
            self.drain_stderr();
        }
        match channel {
            Some(_) => fds[0].revents,
            None => 0,
        }
    }

    /// Reads everything the stderr pipe holds now into the tail, without waiting; closes it at end of file.
    pub(crate) fn drain_stderr(&mut self) {
        let Some(fd) = self.stderr.as_ref().map(AsRawFd::as_raw_fd) else { return };
        let mut buffer = [0u8; 8192];
        loop {
            // SAFETY: reads into a valid buffer of the given length.
            let rc = unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) };
            if rc > 0 {
                self.tail.push(&buffer[..rc as usize]);
                continue;
            }
            if rc < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            if rc == 0 || io::Error::last_os_error().kind() != io::ErrorKind::WouldBlock {
                self.stderr = None;
            }
            return;
        }
    }

    /// Closes the channel and waits for the helper to exit until `deadline`, reading its stderr; then kills it
    /// with `SIGKILL` and records that it did not finish within `limit`, or with no limit (a helper killed for
    /// what it sent), that `SIGKILL` ended it. Returns how it ended (the recorded outcome, if it was reaped
    /// before).
    pub(crate) fn reap(&mut self, deadline: Instant, limit: Option<Duration>) -> Outcome {
        if let Some(outcome) = &self.outcome {
            return outcome.clone();
        }
        self.channel = None;
        let mut ending = self.wait_for_exit(deadline);
        if ending.is_none() {
            // SAFETY: the pid is our child's and it has not been reaped, so it names no other process.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            let killed = self.wait_for_exit(Instant::now() + KILL_REAP_BOUND);
            ending = Some(match (killed, limit) {
                (Some(Ending::Lost), _) => Ending::Lost,
                // Killed by us at the deadline, or (rarely) it exited just before: either way it was late.
                (_, Some(limit)) => Ending::TimedOut(limit),
                (Some(ending), None) => ending,
                (None, None) => Ending::Signaled(libc::SIGKILL),
            });
        }
        self.drain_stderr();
        self.stderr = None;
        let outcome = Outcome {
            ending: ending.unwrap_or(Ending::Signaled(libc::SIGKILL)),
            usage: self.usage.take(),
            stderr_tail: self.tail.bytes.iter().copied().collect(),
            stderr_dropped: self.tail.dropped,
        };
        self.outcome = Some(outcome.clone());
        outcome
    }

    /// Polls `waitpid(WNOHANG)` until the helper is reaped or `deadline` passes, reading stderr in between.
    fn wait_for_exit(&mut self, deadline: Instant) -> Option<Ending> {
        // A helper asked to exit usually has within microseconds: the pause between checks starts short.
        let mut pause = Duration::from_micros(50);
        loop {
            let mut status = 0;
            // SAFETY: rusage is plain data; all zeroes is a valid value.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: wait4 on our own child, writing its status and usage into the given buffers.
            let rc = unsafe { libc::wait4(self.pid, &mut status, libc::WNOHANG, &mut usage) };
            if rc == self.pid {
                self.usage = Some(Usage::from_rusage(&usage));
                if libc::WIFEXITED(status) {
                    return Some(Ending::Exited(libc::WEXITSTATUS(status)));
                }
                if libc::WIFSIGNALED(status) {
                    return Some(Ending::Signaled(libc::WTERMSIG(status)));
                }
            } else if rc < 0 {
                match io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => continue,
                    _ => return Some(Ending::Lost),
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.poll_with_stderr(None, left.min(pause));
            pause = (pause * 2).min(REAP_POLL);
        }
    }
}

impl Drop for Child {
    /// Closes the channel and gives the helper [`DROP_GRACE`] to exit before killing it.
    fn drop(&mut self) {
        if self.outcome.is_none() {
            self.reap(Instant::now() + DROP_GRACE, Some(DROP_GRACE));
        }
    }
}

/// The descriptors a spawn makes: the loader's end of the channel and the helper's, the stderr pipe, and
/// `/dev/null`. All are close-on-exec, and the helper's are numbered 4 or more, so that no `dup2` onto 0 to 3
/// overwrites another before it is copied.
struct SpawnFds {
    host: OwnedFd,
    child: OwnedFd,
    stderr_read: OwnedFd,
    stderr_write: OwnedFd,
    null: OwnedFd,
}

impl SpawnFds {
    fn new() -> io::Result<SpawnFds> {
        let mut pair = [-1; 2];
        // SAFETY: socketpair writes two descriptors into the array on success.
        if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, pair.as_mut_ptr()) } != 0
        {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors are new and owned by nobody else.
        let (host, child) = unsafe { (OwnedFd::from_raw_fd(pair[0]), OwnedFd::from_raw_fd(pair[1])) };
        let mut pipe = [-1; 2];
        // SAFETY: pipe2 writes two descriptors into the array on success.
        if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: as above.
        let (stderr_read, stderr_write) = unsafe { (OwnedFd::from_raw_fd(pipe[0]), OwnedFd::from_raw_fd(pipe[1])) };
        // SAFETY: a NUL-terminated path; the result is checked.
        let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if null < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: new and ours.
        let null = unsafe { OwnedFd::from_raw_fd(null) };
        Ok(SpawnFds {
            host,
            child: above_stdio(child)?,
            stderr_read,
            stderr_write: above_stdio(stderr_write)?,
            null: above_stdio(null)?,
        })
    }
}

/// `fd`, or a close-on-exec copy of it numbered 4 or more when it is one of 0 to 3 (a host that closed its
/// stdio gets those numbers back from `socketpair` and `open`).
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > CHILD_CHANNEL_FD {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC on an open descriptor returns a new one or -1.
    let copy = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, CHILD_CHANNEL_FD + 1) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: new and ours.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL on an open descriptor.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// `posix_spawn_file_actions_addclosefrom_np`, looked up at run time: glibc has it from 2.34 on, and a direct
/// reference would keep the library from loading on an older one.
fn addclosefrom() -> Option<unsafe extern "C" fn(*mut libc::posix_spawn_file_actions_t, libc::c_int) -> libc::c_int> {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name; a non-null result is that function.
    unsafe {
        let symbol = libc::dlsym(libc::RTLD_DEFAULT, c"posix_spawn_file_actions_addclosefrom_np".as_ptr());
        (!symbol.is_null()).then(|| std::mem::transmute::<*mut libc::c_void, _>(symbol))
    }
}

/// The signals whose disposition the helper gets back to the default: those a host commonly ignores or
/// handles, since an ignored disposition survives `exec`.
pub const DEFAULT_SIGNALS: [libc::c_int; 14] = [
    libc::SIGPIPE,
    libc::SIGCHLD,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGALRM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
    libc::SIGXCPU,
    libc::SIGXFSZ,
];

/// Starts the helper with the descriptors, signals, argv and environment the module documentation gives.
fn posix_spawn_helper(path: &Path, fds: &SpawnFds) -> io::Result<libc::pid_t> {
    let program = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "the path holds a NUL byte"))?;
    let argv_strings = [
        CString::new(super::locate::HELPER_NAME).expect("no NUL"),
        CString::new(CHANNEL_FD_OPTION).expect("no NUL"),
        CString::new(CHILD_CHANNEL_FD.to_string()).expect("no NUL"),
    ];
    let mut argv: Vec<*mut c_char> = argv_strings.iter().map(|a| a.as_ptr().cast_mut()).collect();
    argv.push(std::ptr::null_mut());
    let check = |rc: libc::c_int| if rc == 0 { Ok(()) } else { Err(io::Error::from_raw_os_error(rc)) };
    let mut pid: libc::pid_t = 0;
    // SAFETY: the file actions and attributes are initialised before use and destroyed after; every descriptor
    // named is open for the whole call; argv is a NULL-terminated array of NUL-terminated strings that outlive
    // the call; environ is the process's environment.
    unsafe {
        let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        let mut attr: libc::posix_spawnattr_t = std::mem::zeroed();
        check(libc::posix_spawn_file_actions_init(&mut actions))?;
        if let Err(e) = check(libc::posix_spawnattr_init(&mut attr)) {
            libc::posix_spawn_file_actions_destroy(&mut actions);
            return Err(e);
        }
        let result = (|| {
            check(libc::posix_spawn_file_actions_adddup2(&mut actions, fds.child.as_raw_fd(), CHILD_CHANNEL_FD))?;
            check(libc::posix_spawn_file_actions_adddup2(&mut actions, fds.stderr_write.as_raw_fd(), 2))?;
            check(libc::posix_spawn_file_actions_adddup2(&mut actions, fds.null.as_raw_fd(), 0))?;
            check(libc::posix_spawn_file_actions_adddup2(&mut actions, fds.null.as_raw_fd(), 1))?;
            if let Some(closefrom) = addclosefrom() {
                check(closefrom(&mut actions, CHILD_CHANNEL_FD + 1))?;
            }
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            check(libc::posix_spawnattr_setsigmask(&mut attr, &empty))?;
            let mut defaults: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut defaults);
            for signal in DEFAULT_SIGNALS {
                libc::sigaddset(&mut defaults, signal);
            }
            check(libc::posix_spawnattr_setsigdefault(&mut attr, &defaults))?;
            check(libc::posix_spawnattr_setflags(
                &mut attr,
                (libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF) as libc::c_short,
            ))?;
            check(libc::posix_spawn(&mut pid, program.as_ptr(), &actions, &attr, argv.as_ptr(), environ))
        })();
        libc::posix_spawnattr_destroy(&mut attr);
        libc::posix_spawn_file_actions_destroy(&mut actions);
        result?;
    }
    Ok(pid)
}
