//! A helper hosting a plugin, shared by every thread that calls it: requests from several threads are in
//! flight together on its one channel, each waiting for its own reply.
//!
//! Writing a request takes the writer lock for that frame only. Reading is done by whichever waiting thread
//! finds no one reading: it reads what the channel holds, sorts the frames by request id, and wakes the
//! others; a lone caller reads its own reply with no hand-over. `Log` frames go to the log callback of the
//! thread that read them. When the helper ends, or a call misses its deadline (the helper is then killed),
//! every call in flight fails with how the helper ended.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::child::{Child, Outcome, Usage, CLOSE_GRACE};
use super::ending::Ending;
use super::protocol::hosting::{CallResult, LogRecord};
use super::protocol::{frame_header, Decoder, Frame, FrameKind};
use crate::io_error::describe;
use crate::sync::lock;

/// How long after killing a helper for a missed deadline the loader waits to see it end.
const KILL_BOUND: Duration = Duration::from_secs(2);
/// How much is read from the channel at once.
const READ_CHUNK: usize = 64 * 1024;

/// How a call ended without a reply: the helper ended, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Died {
    pub outcome: Outcome,
    /// This call missed its deadline of this length, and the helper was killed for it.
    pub timed_out: Option<Duration>,
    /// Another call missed its deadline, and the helper was killed for it.
    pub killed_for_another: bool,
    /// The channel failed or the helper broke the protocol: the message says how.
    pub protocol: Option<String>,
}

/// What a connection reports to the thread that reads a `Log` frame.
pub type LogSink = Box<dyn Fn(LogRecord) + Send + Sync>;

/// A running helper and the loader's end of its channel, for calls from any thread.
pub struct Connection {
    pid: libc::pid_t,
    channel: OwnedFd,
    child: Mutex<Child>,
    writer: Mutex<()>,
    state: Mutex<State>,
    wake: Condvar,
    next_request_id: AtomicU64,
    on_log: LogSink,
    read_buffer: Mutex<Vec<u8>>,
    /// Lanes made before and idle now.
    lanes: Mutex<Vec<Lane>>,
}

/// A lane: one more socket to the helper, used by one call at a time, with what was read of it.
struct Lane {
    fd: OwnedFd,
    decoder: Decoder,
    buffer: Vec<u8>,
    start: usize,
    end: usize,
}

#[derive(Default)]
struct State {
    decoder: Decoder,
    /// Frames that arrived for requests in flight, by request id, in arrival order.
    frames: HashMap<u64, VecDeque<Frame>>,
    in_flight: HashSet<u64>,
    /// A thread is reading the channel.
    reading: bool,
    /// The request whose deadline made the loader kill the helper, and that deadline's length.
    killed_for: Option<(u64, Duration)>,
    /// Set once the helper has ended.
    ended: Option<Ended>,
}

#[derive(Clone)]
struct Ended {
    outcome: Outcome,
    protocol: Option<String>,
}

impl Connection {
    /// Takes over `child`, a helper past its handshake; `on_log` gets the `Log` frames it sends.
    pub fn new(mut child: Child, on_log: LogSink) -> io::Result<Connection> {
        let channel = child.take_channel().ok_or_else(|| io::Error::other("the helper's channel is closed"))?;
        Ok(Connection {
            pid: child.pid(),
            channel,
            child: Mutex::new(child),
            writer: Mutex::new(()),
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            next_request_id: AtomicU64::new(1),
            on_log,
            read_buffer: Mutex::new(Vec::new()),
            lanes: Mutex::new(Vec::new()),
        })
    }

    /// The helper's process id.
    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// What the helper has used so far; once it has ended, what `wait4` reported.
    pub fn usage(&self) -> Option<Usage> {
        match &lock(&self.state).ended {
            Some(ended) => ended.outcome.usage,
            None => Usage::of_running(self.pid),
        }
    }

    /// Whether the helper has ended.
    pub fn has_ended(&self) -> bool {
        lock(&self.state).ended.is_some()
    }

    /// Sends a request of `kind` with `payload` and waits, for at most `timeout`, for its reply: the first frame
    /// of its request id that is not an `Output`. Each `Output` frame before it goes to `on_output`, on this
    /// thread. A missed deadline kills the helper.
    pub fn call(
        &self,
        kind: FrameKind,
        payload: &[u8],
        timeout: Duration,
        on_output: &mut dyn FnMut(&[u8]),
    ) -> Result<Frame, Box<Died>> {
        self.call_passing(kind, payload, None, timeout, on_output)
    }

    /// As [`Connection::call`], passing the descriptor `pass` with the request when given.
    fn call_passing(
        &self,
        kind: FrameKind,
        payload: &[u8],
        pass: Option<RawFd>,
        timeout: Duration,
        on_output: &mut dyn FnMut(&[u8]),
    ) -> Result<Frame, Box<Died>> {
        let deadline = Instant::now() + timeout;
        let request_id = self.next_request_id.fetch_add(1, Ordering::Relaxed);
        self.still_running(request_id)?.in_flight.insert(request_id);
        let result = self.send(kind, request_id, payload, pass, deadline, timeout).and_then(|()| loop {
            let frames = self.wait_for_frames(request_id, timeout, deadline)?;
            let mut reply = None;
            for frame in frames {
                if frame.kind == FrameKind::OUTPUT {
                    on_output(&frame.payload);
                } else {
                    reply = Some(frame);
                    break;
                }
            }
            if let Some(reply) = reply {
                break Ok(reply);
            }
        });
        let mut state = lock(&self.state);
        state.in_flight.remove(&request_id);
        state.frames.remove(&request_id);
        result
    }

    /// The state, locked, while the helper has not ended; otherwise how request `request_id` died.
    fn still_running(&self, request_id: u64) -> Result<MutexGuard<'_, State>, Box<Died>> {
        let state = lock(&self.state);
        match &state.ended {
            Some(ended) => Err(died(ended, &state, request_id)),
            None => Ok(state),
        }
    }

    /// Sends an `Invoke` or `Emit` request on a lane of its own (see [`super::protocol::hosting`]) and waits, for
    /// at most `timeout`, for its reply, as [`Connection::call`] does. The lane is one this connection made
    /// before and is idle, or a new one; no other thread reads it meanwhile, and no thread of the helper but the
    /// lane's is woken. A missed deadline kills the helper.
    pub fn call_on_lane(
        &self,
        kind: FrameKind,
        payload: &[u8],
        timeout: Duration,
        on_output: &mut dyn FnMut(&[u8]),
    ) -> Result<Frame, Box<Died>> {
        let request_id = self.next_request_id.fetch_add(1, Ordering::Relaxed);
        drop(self.still_running(request_id)?);
        let idle = lock(&self.lanes).pop();
        let mut lane = match idle {
            Some(lane) => lane,
            None => self.open_lane(timeout)?,
        };
        let result = self.exchange_on_lane(&mut lane, kind, request_id, payload, timeout, on_output);
        // A lane whose call failed is out of step, or its helper is gone: it is closed, not kept.
        if result.is_ok() {
            lock(&self.lanes).push(lane);
        }
        result
    }

    /// A new lane: a socket pair whose one end goes to the helper with an `Attach` request.
    fn open_lane(&self, timeout: Duration) -> Result<Lane, Box<Died>> {
        let mut fds = [0; 2];
        // SAFETY: socketpair writes two descriptors into the array.
        let rc =
            unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) };
        let request_id = self.next_request_id.load(Ordering::Relaxed);
        if rc != 0 {
            let why = format!("making a lane failed: {}", describe(&io::Error::last_os_error()));
            return Err(self.end(Some(why), request_id));
        }
        // SAFETY: socketpair just made both; nothing else owns them.
        let (host, helper) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // Only the host's end is non-blocking: the helper's lane thread blocks in its reads.
        // SAFETY: fcntl on a descriptor we own.
        let flags = unsafe { libc::fcntl(host.as_raw_fd(), libc::F_GETFL) };
        // SAFETY: as above.
        if flags < 0 || unsafe { libc::fcntl(host.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
            let why = format!("making a lane failed: {}", describe(&io::Error::last_os_error()));
            return Err(self.end(Some(why), request_id));
        }
        let reply = self.call_passing(FrameKind::ATTACH, &[], Some(helper.as_raw_fd()), timeout, &mut |_| {})?;
        drop(helper);
        match CallResult::decode(&reply.payload) {
            Ok(result) if reply.kind == FrameKind::RESULT && result.status == crate::error::Status::Ok => {
                Ok(Lane { fd: host, decoder: Decoder::new(), buffer: vec![0; READ_CHUNK], start: 0, end: 0 })
            }
            _ => Err(self.end(Some(format!("the helper answered an Attach with {}", reply.kind)), request_id)),
        }
    }

    /// One request and its reply on `lane`.
    fn exchange_on_lane(
        &self,
        lane: &mut Lane,
        kind: FrameKind,
        request_id: u64,
        payload: &[u8],
        timeout: Duration,
        on_output: &mut dyn FnMut(&[u8]),
    ) -> Result<Frame, Box<Died>> {
        let deadline = Instant::now() + timeout;
        let fd = lane.fd.as_raw_fd();
        send_frame(fd, kind, request_id, payload, None, deadline)
            .map_err(|failed| self.send_failed(failed, kind, request_id, payload.len(), timeout))?;
        let mut until = deadline;
        let mut killed = false;
        loop {
            loop {
                let mut input = &lane.buffer[lane.start..lane.end];
                let decoded = lane.decoder.decode(&mut input);
                lane.start = lane.end - input.len();
                match decoded {
                    Ok(Some(frame)) if frame.kind == FrameKind::OUTPUT && frame.request_id == request_id => {
                        on_output(&frame.payload)
                    }
                    Ok(Some(frame)) if frame.kind == FrameKind::LOG && frame.request_id == 0 => {
                        if let Ok(record) = LogRecord::decode(&frame.payload) {
                            (self.on_log)(record);
                        }
                    }
                    Ok(Some(frame)) if frame.request_id == request_id => return Ok(frame),
                    Ok(Some(frame)) => {
                        let why = format!("the helper sent {} for request {} on a lane", frame.kind, frame.request_id);
                        return Err(self.end(Some(why), request_id));
                    }
                    Ok(None) => break,
                    Err(error) => {
                        return Err(self.end(Some(format!("the helper broke the frame format: {error}")), request_id))
                    }
                }
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                if killed {
                    return Err(self.end(Some("the helper was killed but did not end".to_owned()), request_id));
                }
                self.kill(request_id, timeout);
                killed = true;
                until = Instant::now() + KILL_BOUND;
                continue;
            }
            if !self.readable(fd, left) {
                continue;
            }
            // SAFETY: reads into the lane's buffer, of the given length; the socket is non-blocking.
            let rc = unsafe { libc::recv(fd, lane.buffer.as_mut_ptr().cast(), lane.buffer.len(), libc::MSG_DONTWAIT) };
            if rc > 0 {
                (lane.start, lane.end) = (0, rc as usize);
                continue;
            }
            if rc == 0 {
                return Err(self.end(None, request_id));
            }
            let error = io::Error::last_os_error();
            match error.kind() {
                io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock => {}
                io::ErrorKind::ConnectionReset => return Err(self.end(None, request_id)),
                _ => {
                    let why = format!("reading a lane failed: {}", describe(&error));
                    return Err(self.end(Some(why), request_id));
                }
            }
        }
    }

    /// Writes one frame whole on the channel by `deadline`, passing `pass` with it (`SCM_RIGHTS`) when given. A
    /// helper that stops reading is killed at the deadline.
    fn send(
        &self,
        kind: FrameKind,
        request_id: u64,
        payload: &[u8],
        pass: Option<RawFd>,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), Box<Died>> {
        let writing = lock(&self.writer);
        let sent = send_frame(self.channel.as_raw_fd(), kind, request_id, payload, pass, deadline);
        drop(writing);
        sent.map_err(|failed| self.send_failed(failed, kind, request_id, payload.len(), timeout))
    }

    /// How a call whose request could not be written died.
    fn send_failed(
        &self,
        failed: SendError,
        kind: FrameKind,
        request_id: u64,
        len: usize,
        timeout: Duration,
    ) -> Box<Died> {
        match failed {
            SendError::TooLarge => {
                let outcome = Outcome { ending: Ending::Lost, usage: None, stderr_tail: Vec::new(), stderr_dropped: 0 };
                Box::new(Died {
                    outcome,
                    timed_out: None,
                    killed_for_another: false,
                    protocol: Some(format!("a {kind} payload of {len} bytes is too large for a frame")),
                })
            }
            SendError::TimedOut => {
                self.kill(request_id, timeout);
                self.end(None, request_id)
            }
            // A helper that died resets the connection: how it ended says more than the reset.
            SendError::Gone => self.end(None, request_id),
            SendError::Failed(error) => {
                self.end(Some(format!("writing {kind} to the channel failed: {}", describe(&error))), request_id)
            }
        }
    }

    /// Waits for frames of `request_id`, reading the channel when no other thread does.
    fn wait_for_frames(&self, request_id: u64, timeout: Duration, deadline: Instant) -> Result<Vec<Frame>, Box<Died>> {
        let mut state = lock(&self.state);
        loop {
            if let Some(frames) = state.frames.get_mut(&request_id).filter(|frames| !frames.is_empty()) {
                return Ok(frames.drain(..).collect());
            }
            if let Some(ended) = &state.ended {
                return Err(died(ended, &state, request_id));
            }
            let now = Instant::now();
            if now >= deadline && state.killed_for.is_none() {
                drop(state);
                self.kill(request_id, timeout);
                state = lock(&self.state);
                continue;
            }
            // Past a deadline, the helper was killed: wait a bounded time to see it end.
            let until = if state.killed_for.is_some() { deadline.max(now) + KILL_BOUND } else { deadline };
            if !state.reading {
                state.reading = true;
                drop(state);
                let (frames, logs, end) = self.read_some(until);
                state = lock(&self.state);
                state.reading = false;
                for frame in frames {
                    if state.in_flight.contains(&frame.request_id) {
                        state.frames.entry(frame.request_id).or_default().push_back(frame);
                    }
                }
                if let Some(why) = end {
                    drop(state);
                    self.end(why, request_id);
                    state = lock(&self.state);
                }
                self.wake.notify_all();
                if !logs.is_empty() {
                    drop(state);
                    logs.into_iter().for_each(|record| (self.on_log)(record));
                    state = lock(&self.state);
                }
                if Instant::now() >= until && state.killed_for.is_some() && state.ended.is_none() {
                    drop(state);
                    self.end(Some("the helper was killed but did not end".to_owned()), request_id);
                    state = lock(&self.state);
                }
                continue;
            }
            let left = until.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
            state = self.wake.wait_timeout(state, left).map(|(guard, _)| guard).unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Reads what arrives on the channel until some frames came, the channel ends, or `until` passes, draining
    /// the helper's stderr meanwhile. Returns the frames, the `Log` records among them, and, when the channel
    /// ended, `Some` with the reason for a broken channel or `None` for a plain close.
    fn read_some(&self, until: Instant) -> (Vec<Frame>, Vec<LogRecord>, Option<Option<String>>) {
        let fd = self.channel.as_raw_fd();
        // Only one thread reads at a time, so this lock is never contended; the buffer is allocated once.
        let mut buffer = lock(&self.read_buffer);
        buffer.resize(READ_CHUNK, 0);
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return (Vec::new(), Vec::new(), None);
            }
            if !self.readable(fd, left) {
                continue;
            }
            // SAFETY: reads into a valid buffer of the given length; the socket is non-blocking.
            let rc = unsafe { libc::recv(fd, buffer.as_mut_ptr().cast(), buffer.len(), libc::MSG_DONTWAIT) };
            if rc == 0 {
                let finished = lock(&self.state).decoder.finish();
                return (Vec::new(), Vec::new(), Some(finished.err().map(|e| e.to_string())));
            }
            if rc < 0 {
                let error = io::Error::last_os_error();
                match error.kind() {
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock => continue,
                    io::ErrorKind::ConnectionReset => return (Vec::new(), Vec::new(), Some(None)),
                    _ => {
                        let why = format!("reading the channel failed: {}", describe(&error));
                        return (Vec::new(), Vec::new(), Some(Some(why)));
                    }
                }
            }
            let mut input = &buffer[..rc as usize];
            let mut frames = Vec::new();
            let mut logs = Vec::new();
            let mut state = lock(&self.state);
            loop {
                match state.decoder.decode(&mut input) {
                    Ok(Some(frame)) if frame.kind == FrameKind::LOG && frame.request_id == 0 => {
                        if let Ok(record) = LogRecord::decode(&frame.payload) {
                            logs.push(record);
                        }
                    }
                    Ok(Some(frame)) => frames.push(frame),
                    Ok(None) => break,
                    Err(error) => {
                        drop(state);
                        return (frames, logs, Some(Some(format!("the helper broke the frame format: {error}"))));
                    }
                }
            }
            drop(state);
            if !frames.is_empty() || !logs.is_empty() {
                return (frames, logs, None);
            }
        }
    }

    /// Waits at most `timeout` for `fd` (the channel or a lane) to be readable, draining the helper's stderr
    /// meanwhile, so that a helper writing a lot there never blocks; returns whether `fd` is readable.
    fn readable(&self, fd: RawFd, timeout: Duration) -> bool {
        let stderr = lock(&self.child).stderr_fd();
        let (readable, stderr_ready) = poll_two(fd, stderr, timeout);
        if stderr_ready {
            lock(&self.child).drain_stderr();
        }
        readable
    }

    /// Kills the helper because request `request_id` missed its deadline of `limit`.
    fn kill(&self, request_id: u64, limit: Duration) {
        let mut state = lock(&self.state);
        if state.killed_for.is_some() || state.ended.is_some() {
            return;
        }
        state.killed_for = Some((request_id, limit));
        drop(state);
        // SAFETY: the pid is our child's, not reaped yet (only `end` reaps, and it has not run), so it names
        // no other process.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
    }

    /// Records that the helper ended (reaping it, killing it first if it still runs), wakes every waiting
    /// call, and returns how `request_id` died.
    fn end(&self, protocol: Option<String>, request_id: u64) -> Box<Died> {
        {
            let state = lock(&self.state);
            if let Some(ended) = &state.ended {
                return died(ended, &state, request_id);
            }
        }
        // SAFETY: shutting down our own socket; it stays open (so its number is not reused) until drop.
        unsafe { libc::shutdown(self.channel.as_raw_fd(), libc::SHUT_RDWR) };
        let outcome = {
            let mut child = lock(&self.child);
            let limit = if protocol.is_some() { None } else { Some(CLOSE_GRACE) };
            child.reap(Instant::now() + CLOSE_GRACE, limit)
        };
        let mut state = lock(&self.state);
        let ended = state.ended.get_or_insert(Ended { outcome, protocol }).clone();
        self.wake.notify_all();
        died(&ended, &state, request_id)
    }

    /// Asks the helper to exit by closing the channel, and reaps it, killing it after `grace`.
    pub fn shutdown(&self, grace: Duration) -> Option<Outcome> {
        // SAFETY: as in `end`.
        unsafe { libc::shutdown(self.channel.as_raw_fd(), libc::SHUT_RDWR) };
        let outcome = lock(&self.child).reap(Instant::now() + grace, Some(grace));
        let mut state = lock(&self.state);
        state.ended.get_or_insert(Ended { outcome: outcome.clone(), protocol: None });
        self.wake.notify_all();
        Some(outcome)
    }
}

/// How request `request_id` died, given how the helper ended.
fn died(ended: &Ended, state: &MutexGuard<'_, State>, request_id: u64) -> Box<Died> {
    let (timed_out, killed_for_another) = match state.killed_for {
        Some((id, limit)) if id == request_id => (Some(limit), false),
        Some(_) => (None, true),
        None => (None, false),
    };
    Box::new(Died { outcome: ended.outcome.clone(), timed_out, killed_for_another, protocol: ended.protocol.clone() })
}

/// Why a frame could not be written.
pub(crate) enum SendError {
    /// The payload is over the frame limit.
    TooLarge,
    /// The peer did not take it by the deadline.
    TimedOut,
    /// The peer is gone (`EPIPE`, `ECONNRESET`).
    Gone,
    Failed(io::Error),
}

/// Writes a frame of `kind` for `request_id` with `payload`, whole, on the non-blocking socket `fd` by
/// `deadline`, passing the descriptor `pass` with its first byte when given.
pub(crate) fn send_frame(
    fd: RawFd,
    kind: FrameKind,
    request_id: u64,
    payload: &[u8],
    mut pass: Option<RawFd>,
    deadline: Instant,
) -> Result<(), SendError> {
    let header = frame_header(kind, request_id, payload.len()).ok_or(SendError::TooLarge)?;
    let mut parts = [&header[..], payload];
    // Room for one descriptor's control message, aligned as cmsghdr wants.
    let mut control = [0u64; 4];
    while parts.iter().any(|part| !part.is_empty()) {
        let slices = [
            libc::iovec { iov_base: parts[0].as_ptr() as *mut _, iov_len: parts[0].len() },
            libc::iovec { iov_base: parts[1].as_ptr() as *mut _, iov_len: parts[1].len() },
        ];
        // SAFETY: msghdr is plain data; the pointers set below outlive the call.
        let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
        message.msg_iov = slices.as_ptr() as *mut _;
        message.msg_iovlen = 2;
        if let Some(fd) = pass {
            // SAFETY: the control buffer holds CMSG_SPACE(sizeof(int)) bytes, which the macros stay within.
            unsafe {
                message.msg_control = control.as_mut_ptr().cast();
                message.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) as _;
                let header = libc::CMSG_FIRSTHDR(&message);
                (*header).cmsg_level = libc::SOL_SOCKET;
                (*header).cmsg_type = libc::SCM_RIGHTS;
                (*header).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as _;
                libc::CMSG_DATA(header).cast::<libc::c_int>().write_unaligned(fd);
            }
        }
        // SAFETY: the iovecs point into live buffers of the given lengths; MSG_NOSIGNAL turns a dead peer into
        // EPIPE instead of a SIGPIPE that could kill the host.
        let rc = unsafe { libc::sendmsg(fd, &message, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) };
        if rc >= 0 {
            // The descriptor went with the first byte.
            pass = None;
            let mut written = rc as usize;
            for part in &mut parts {
                let taken = written.min(part.len());
                *part = &part[taken..];
                written -= taken;
            }
            continue;
        }
        let error = io::Error::last_os_error();
        match error.kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(SendError::TimedOut);
                }
                poll_one(fd, libc::POLLOUT, left);
            }
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => return Err(SendError::Gone),
            _ => return Err(SendError::Failed(error)),
        }
    }
    Ok(())
}

/// Polls `fd` for `events` for at most `timeout`.
fn poll_one(fd: RawFd, events: libc::c_short, timeout: Duration) {
    let mut fds = [libc::pollfd { fd, events, revents: 0 }];
    let millis = timeout.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
    // SAFETY: a valid array of one pollfd.
    unsafe { libc::poll(fds.as_mut_ptr(), 1, millis) };
}

/// Polls the channel and stderr (when open) for reading, for at most `timeout`; returns which are ready.
fn poll_two(channel: RawFd, stderr: Option<RawFd>, timeout: Duration) -> (bool, bool) {
    let mut fds = [
        libc::pollfd { fd: channel, events: libc::POLLIN, revents: 0 },
        libc::pollfd { fd: stderr.unwrap_or(-1), events: libc::POLLIN, revents: 0 },
    ];
    let millis = timeout.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
    // SAFETY: a valid array of two pollfd; a negative fd is ignored by poll.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, millis) };
    if rc <= 0 {
        return (false, false);
    }
    (fds[0].revents != 0, fds[1].revents != 0)
}

impl Drop for Connection {
    fn drop(&mut self) {
        if lock(&self.state).ended.is_none() {
            self.shutdown(super::child::DROP_GRACE);
        }
    }
}
