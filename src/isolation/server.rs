//! The helper's side of the channel: the handshake, then serving requests (pings, probes, and hosting one
//! plugin) on as many threads as there are requests in flight.
//!
//! Threads take turns reading the channel: the one holding the reader lock reads one frame, lets the lock go,
//! and serves the frame, while the next thread reads the next. A thread that takes the last frame while no
//! other waits to read starts one more, up to [`MAX_THREADS`], so a call that runs long never holds up the
//! others, and a lone caller's request is served by the thread that read it, with no hand-over. Every reply
//! is written whole under the writer lock.
//!
//! Any thread that finds the channel broken ends the process with the exit code of [`HelperExit`] and one
//! line on stderr.

use std::ffi::c_void;
use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::helper::{describe_io_error, HelperExit};
use super::probe::{probe_observed, read_plugin};
use super::protocol::hosting::{
    encode_loaded, CallResult, EmitRequest, InitRequest, InvokeRequest, LoadRequest, LogRecord, ResourceLimits, Sandbox,
};
use super::protocol::{
    frame_header, Decoder, ErrorCode, ErrorReply, Frame, FrameError, FrameKind, Handshake, HandshakeError,
    ProbeProgress, ProbeRequest, MAX_PAYLOAD_LEN,
};
use crate::abi::aisopod_sink;
use crate::error::{Error, Status};
use crate::loader::parse_host_version;
use crate::plugin::{HostShared, LoadContext, LoadedPlugin};
use crate::sync::{lock, read, write};

/// How much the helper reads from the channel at once.
const READ_CHUNK: usize = 64 * 1024;
/// The most threads serving requests at once.
pub const MAX_THREADS: usize = 64;

/// Why the helper stops: its exit and the line it writes to stderr.
#[derive(Debug)]
pub struct Stop {
    pub exit: HelperExit,
    pub why: String,
}

impl Stop {
    fn new(exit: HelperExit, why: impl Into<String>) -> Stop {
        Stop { exit, why: why.into() }
    }
}

/// The writing half of a channel: each frame is written whole under its lock.
struct Writer(Mutex<UnixStream>);

impl Writer {
    /// Writes a frame of `kind` for `request_id` whose payload is `payload`, from where it is.
    fn send_parts(&self, kind: FrameKind, request_id: u64, payload: &[u8]) -> Result<(), Stop> {
        let header = frame_header(kind, request_id, payload.len()).ok_or_else(|| {
            Stop::new(HelperExit::ProtocolError, format!("cannot send {kind}: a payload of {} bytes", payload.len()))
        })?;
        let mut stream = lock(&self.0);
        write_all_vectored(&mut stream, &header, payload).map_err(|e| {
            Stop::new(HelperExit::ChannelIo, format!("writing {kind} to the channel failed: {}", describe_io_error(&e)))
        })
    }

    fn send(&self, frame: &Frame) -> Result<(), Stop> {
        self.send_parts(frame.kind, frame.request_id, &frame.payload)
    }
}

thread_local! {
    /// The lane a lane thread serves: where the plugin's log messages during its calls go.
    static LANE: std::cell::RefCell<Option<Arc<Writer>>> = const { std::cell::RefCell::new(None) };
}

/// The helper's end of the channel, and what it hosts.
pub struct Server {
    reader: Mutex<Reader>,
    writer: Writer,
    /// The plugin loaded by a `Load` request, until `Unload`.
    hosted: RwLock<Option<Arc<LoadedPlugin>>>,
    shared: Arc<HostShared>,
    /// Threads waiting for the reader lock or reading.
    readers: AtomicUsize,
    threads: AtomicUsize,
    /// The pipe probe progress goes to, once the host passed one.
    progress: Mutex<Option<std::fs::File>>,
}

/// The reading half: the stream, the decoder and what was read but not decoded yet.
struct Reader {
    stream: UnixStream,
    decoder: Decoder,
    /// Allocated once; `buffer[start..end]` was read and not decoded yet.
    buffer: Vec<u8>,
    start: usize,
    end: usize,
    /// Set once the host closed the channel between frames.
    closed: bool,
    /// Descriptors that came with what was read (`SCM_RIGHTS`), for the `Attach` frames among it, in order.
    passed: std::collections::VecDeque<std::os::fd::OwnedFd>,
}

impl Reader {
    /// A reader at the start of `stream`, with its buffer allocated once.
    fn new(stream: UnixStream) -> Reader {
        Reader {
            stream,
            decoder: Decoder::new(),
            buffer: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            closed: false,
            passed: std::collections::VecDeque::new(),
        }
    }
}

impl Server {
    /// A server on `stream`, the helper's end of the channel.
    pub fn new(stream: UnixStream) -> Result<Arc<Server>, Stop> {
        let writer = stream.try_clone().map_err(|e| {
            Stop::new(HelperExit::ChannelIo, format!("cannot use the channel: {}", describe_io_error(&e)))
        })?;
        Ok(Arc::new(Server {
            reader: Mutex::new(Reader::new(stream)),
            writer: Writer(Mutex::new(writer)),
            hosted: RwLock::new(None),
            shared: Arc::default(),
            readers: AtomicUsize::new(0),
            threads: AtomicUsize::new(1),
            progress: Mutex::new(None),
        }))
    }

    /// Reads the host's handshake and answers with ours, or refuses it.
    pub fn handshake(&self) -> Result<(), Stop> {
        let frame = self
            .receive()?
            .ok_or_else(|| Stop::new(HelperExit::ProtocolError, "the channel closed before the handshake"))?;
        let accepted = if frame.kind == FrameKind::HANDSHAKE {
            Handshake::accept(&frame.payload).map_err(|e: HandshakeError| e.to_string())
        } else {
            Err(format!("the first frame is {}, not a handshake", frame.kind))
        };
        if let Err(why) = accepted {
            let why = format!("refused the handshake: {why}");
            self.send(&Frame::refused(&why))?;
            return Err(Stop::new(HelperExit::HandshakeRefused, why));
        }
        self.send(&Frame::handshake(&Handshake::ours()))
    }

    /// Serves requests until the host closes the channel; plugin log messages go to the host from now on.
    pub fn serve(self: &Arc<Server>) -> Result<(), Stop> {
        let weak = Arc::downgrade(self);
        self.shared.logger.set_callback(Some(Arc::new(move |level, source: &str, message: &str| {
            if let Some(server) = weak.upgrade() {
                let record = LogRecord { level, source: source.to_owned(), message: message.to_owned() };
                // During a call on a lane, the line goes with the call's output; otherwise on the channel. A line
                // that cannot be sent is dropped: the call it came from reports the broken channel.
                let lane = LANE.with(|lane| lane.borrow().clone());
                let _ = match lane {
                    Some(lane) => lane.send(&record.frame()),
                    None => server.send(&record.frame()),
                };
            }
        })));
        self.work()
    }

    /// One thread's loop: read a frame, serve it, again. A `Probe` is served before the reader lock is let go,
    /// so that probes run one at a time in the order they came, and a plugin that ends the helper is the one
    /// whose probe was in flight.
    fn work(self: &Arc<Server>) -> Result<(), Stop> {
        loop {
            self.readers.fetch_add(1, Ordering::SeqCst);
            let mut reader = lock(&self.reader);
            let frame = self.receive_locked(&mut reader);
            let waiting = self.readers.fetch_sub(1, Ordering::SeqCst) - 1;
            let Some(frame) = frame? else { return Ok(()) };
            if frame.kind == FrameKind::PROBE {
                let reply = self.probe(frame.request_id, &frame.payload)?;
                self.send(&reply)?;
                continue;
            }
            if frame.kind == FrameKind::LOAD {
                // Served by this thread before any other starts: the sandbox it may enter holds for the thread
                // that enters it and the threads that thread starts.
                self.send(&self.load(&frame.payload).frame(frame.request_id))?;
                continue;
            }
            if frame.kind == FrameKind::PROGRESS_PIPE {
                let passed = reader.passed.pop_front();
                drop(reader);
                let reply = match passed {
                    Some(fd) => {
                        *lock(&self.progress) = Some(std::fs::File::from(fd));
                        CallResult::ok(Vec::new())
                    }
                    None => {
                        CallResult::failed(Status::InvalidArgument, "a ProgressPipe request came with no descriptor")
                    }
                };
                self.send(&reply.frame(frame.request_id))?;
                continue;
            }
            if frame.kind == FrameKind::ATTACH {
                let passed = reader.passed.pop_front();
                drop(reader);
                self.send(&self.attach(passed).frame(frame.request_id))?;
                continue;
            }
            drop(reader);
            if waiting == 0 {
                self.start_thread();
            }
            self.serve_frame(frame)?;
        }
    }

    /// Starts one more serving thread, unless there are [`MAX_THREADS`]; a thread that cannot start is no
    /// error: the requests wait for a free one.
    fn start_thread(self: &Arc<Server>) {
        if self.threads.fetch_add(1, Ordering::SeqCst) >= MAX_THREADS {
            self.threads.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        let server = self.clone();
        let started = std::thread::Builder::new().name("aisopod-serve".into()).spawn(move || {
            if let Err(stop) = server.work() {
                exit_now(&stop);
            }
        });
        if started.is_err() {
            self.threads.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// The next frame, or `None` once the host closed the channel between frames.
    fn receive(&self) -> Result<Option<Frame>, Stop> {
        self.receive_locked(&mut lock(&self.reader))
    }

    fn receive_locked(&self, reader: &mut Reader) -> Result<Option<Frame>, Stop> {
        loop {
            if reader.closed {
                return Ok(None);
            }
            let mut input = &reader.buffer[reader.start..reader.end];
            let decoded = reader.decoder.decode(&mut input);
            reader.start = reader.end - input.len();
            match decoded {
                Ok(Some(frame)) => return Ok(Some(frame)),
                Ok(None) => {}
                Err(error) => return Err(self.refuse_bad_frame(error)),
            }
            let read = loop {
                match receive_with_fds(&reader.stream, &mut reader.buffer, &mut reader.passed) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            };
            let read = read.map_err(|e| {
                Stop::new(HelperExit::ChannelIo, format!("reading the channel failed: {}", describe_io_error(&e)))
            })?;
            (reader.start, reader.end) = (0, read);
            if read == 0 {
                reader.decoder.finish().map_err(|error| Stop::new(HelperExit::ProtocolError, error.to_string()))?;
                reader.closed = true;
            }
        }
    }

    /// Writes `frame` whole.
    pub fn send(&self, frame: &Frame) -> Result<(), Stop> {
        self.writer.send(frame)
    }

    /// Serves a lane, passed with an `Attach` request, on a thread of its own.
    fn attach(self: &Arc<Server>, passed: Option<std::os::fd::OwnedFd>) -> CallResult {
        let Some(fd) = passed else {
            return CallResult::failed(Status::InvalidArgument, "an Attach request came with no descriptor");
        };
        let stream = UnixStream::from(fd);
        let writer = match stream.try_clone() {
            Ok(writer) => Arc::new(Writer(Mutex::new(writer))),
            Err(e) => return CallResult::failed(Status::Io, format!("cannot use the lane: {}", describe_io_error(&e))),
        };
        let server = self.clone();
        let started = std::thread::Builder::new().name("aisopod-lane".into()).spawn(move || {
            LANE.with(|lane| *lane.borrow_mut() = Some(writer.clone()));
            if let Err(stop) = server.serve_lane(stream, &writer) {
                exit_now(&stop);
            }
        });
        match started {
            Ok(_) => CallResult::ok(Vec::new()),
            Err(e) => CallResult::failed(Status::Io, format!("cannot start a thread for the lane: {e}")),
        }
    }

    /// Serves `Invoke` and `Emit` requests on a lane, one at a time, until the host closes it.
    fn serve_lane(&self, stream: UnixStream, writer: &Writer) -> Result<(), Stop> {
        let mut reader = Reader::new(stream);
        while let Some(request) = self.receive_locked(&mut reader)? {
            let id = request.request_id;
            let reply = match request.kind {
                FrameKind::INVOKE => self.invoke(writer, id, &request.payload).frame(id),
                FrameKind::EMIT => self.emit(writer, id, &request.payload).frame(id),
                kind => Frame::error(
                    id,
                    &ErrorReply::new(ErrorCode::UNEXPECTED_KIND, format!("request {id}: a lane carries no {kind}")),
                ),
            };
            writer.send(&reply)?;
        }
        Ok(())
    }

    /// Replies to a frame whose header broke the format, naming what was wrong, and stops: the stream cannot
    /// be read any further.
    fn refuse_bad_frame(&self, error: FrameError) -> Stop {
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

    /// Serves one request and sends its reply.
    fn serve_frame(&self, request: Frame) -> Result<(), Stop> {
        let id = request.request_id;
        let reply = match request.kind {
            FrameKind::PING => Frame::new(FrameKind::PONG, id, request.payload),
            FrameKind::INIT => self.init(&request.payload).frame(id),
            FrameKind::INVOKE => self.invoke(&self.writer, id, &request.payload).frame(id),
            FrameKind::EMIT => self.emit(&self.writer, id, &request.payload).frame(id),
            FrameKind::UNLOAD => self.unload().frame(id),
            kind if kind.name().is_none() => Frame::error(
                id,
                &ErrorReply::new(
                    ErrorCode::UNKNOWN_KIND,
                    format!("request {id}: {kind} is not a frame kind this helper knows"),
                ),
            ),
            kind => Frame::error(
                id,
                &ErrorReply::new(
                    ErrorCode::UNEXPECTED_KIND,
                    format!("request {id}: the helper does not accept {kind} here"),
                ),
            ),
        };
        self.send(&reply)
    }

    /// Probes the plugin a `Probe` payload names, sending a `ProbeProgress` as each step finishes; returns the
    /// `ProbeReport`, or an `Error` saying what is wrong with the payload or the report.
    fn probe(&self, request_id: u64, payload: &[u8]) -> Result<Frame, Stop> {
        let bad = |why: String| Frame::error(request_id, &ErrorReply::new(ErrorCode::BAD_PAYLOAD, why));
        let request = match ProbeRequest::decode(payload) {
            Ok(request) => request,
            Err(e) => return Ok(bad(format!("request {request_id}: {e}"))),
        };
        let mut sent = Ok(());
        let report =
            probe_observed(&request.plugin_dir, &request.host_version, request.init_config.as_deref(), &mut |step| {
                if sent.is_ok() {
                    let frame = ProbeProgress(step).frame(request_id);
                    let mut pipe = lock(&self.progress);
                    sent = match pipe.as_mut() {
                        // A pipe the host no longer reads is dropped, and progress goes on the channel again.
                        Some(file) => match frame.encode().map(|bytes| file.write_all(&bytes)) {
                            Ok(Ok(())) => Ok(()),
                            _ => {
                                *pipe = None;
                                self.send(&frame)
                            }
                        },
                        None => self.send(&frame),
                    };
                }
            });
        sent?;
        Ok(report.frame(request_id).unwrap_or_else(|e| bad(format!("request {request_id}: {e}"))))
    }

    /// Loads the plugin to host, within the request's resource limits.
    fn load(&self, payload: &[u8]) -> CallResult {
        let request = match LoadRequest::decode(payload) {
            Ok(request) => request,
            Err(e) => return CallResult::failed(Status::InvalidArgument, e.to_string()),
        };
        let mut hosted = write(&self.hosted);
        if let Some(plugin) = hosted.as_ref() {
            let message = format!("this helper already hosts plugin '{}'", plugin.info.manifest.id);
            return CallResult::failed(Status::AlreadyLoaded, message);
        }
        // The manifest is read before the sandbox, which may not let the plugin read it again, and names the
        // plugin in what follows; reading it runs no plugin code.
        let info = match parse_host_version(&request.host_version).and_then(|_| read_plugin(&request.plugin_dir)) {
            Ok(info) => info,
            Err(error) => return failed(&error),
        };
        let culprit = format!("plugin '{}' ({})", info.manifest.id, request.plugin_dir.display());
        if let Err(error) = apply_limits(&request.limits) {
            return CallResult::failed(Status::Io, format!("{culprit}: {error}"));
        }
        if let Some(sandbox) = &request.sandbox {
            if let Err(error) = self.enter_sandbox(&culprit, &request.plugin_dir, sandbox) {
                return CallResult::failed(Status::SandboxUnavailable, error);
            }
        }
        // The loader checked the library under its file policy before sending the request.
        let loaded = parse_host_version(&request.host_version)
            .and_then(|version| LoadedPlugin::load(info, &LoadContext::in_helper(&version, &self.shared)));
        match loaded {
            Ok(plugin) => {
                let body = encode_loaded(&plugin.registered_capabilities());
                *hosted = Some(Arc::new(plugin));
                CallResult::ok(body)
            }
            Err(error) => failed(&error),
        }
    }

    /// Enters `sandbox` for the plugin in `plugin_dir`; where the kernel enforces less than asked, refuses when
    /// the sandbox is required and warns otherwise.
    #[cfg(target_os = "linux")]
    fn enter_sandbox(&self, culprit: &str, plugin_dir: &std::path::Path, sandbox: &Sandbox) -> Result<(), String> {
        use super::sandbox::{enter, Enforcement};
        let warn = |message: String| self.shared.logger.log(crate::log::LogLevel::Warn, &message);
        match enter(plugin_dir, sandbox) {
            Ok(Enforcement::Full) => Ok(()),
            Ok(Enforcement::Partial) => {
                warn(format!("{}: this kernel's Landlock enforces only part of the sandbox", culprit));
                Ok(())
            }
            Ok(Enforcement::SeccompOnly) if sandbox.require => {
                Err(format!("{}: the sandbox is required, but this kernel has no Landlock to restrict files", culprit))
            }
            Ok(Enforcement::SeccompOnly) => {
                warn(format!(
                    "{}: this kernel has no Landlock: the plugin's files are not restricted, only its system calls",
                    culprit
                ));
                Ok(())
            }
            Err(why) if sandbox.require => Err(format!("{}: cannot set up the sandbox: {why}", culprit)),
            Err(why) => {
                warn(format!("{}: running without a sandbox: {why}", culprit));
                Ok(())
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn enter_sandbox(&self, culprit: &str, _plugin_dir: &std::path::Path, sandbox: &Sandbox) -> Result<(), String> {
        if sandbox.require {
            return Err(format!("{}: the sandbox is required, and this system has none", culprit));
        }
        self.shared.logger.log(
            crate::log::LogLevel::Warn,
            &format!("{}: this system has no sandbox: the plugin runs unrestricted", culprit),
        );
        Ok(())
    }

    fn hosted(&self) -> Result<Arc<LoadedPlugin>, Error> {
        read(&self.hosted).clone().ok_or_else(|| Error::new(Status::NotLoaded, "this helper hosts no plugin yet"))
    }

    fn init(&self, payload: &[u8]) -> CallResult {
        serve(InitRequest::decode(payload), |request| {
            self.hosted()?.init(&request.config, &request.data_dir).map(|()| Vec::new())
        })
    }

    fn invoke(&self, writer: &Writer, request_id: u64, payload: &[u8]) -> CallResult {
        let mut output = Output { writer, request_id };
        let sink = output.sink();
        serve(InvokeRequest::decode(payload), |request| {
            self.hosted()?.call(request.kind, request.name, request.input, Some(&sink)).map(|()| Vec::new())
        })
    }

    fn emit(&self, writer: &Writer, request_id: u64, payload: &[u8]) -> CallResult {
        let mut output = Output { writer, request_id };
        let sink = output.sink();
        serve(EmitRequest::decode(payload), |request| {
            let ran = self.hosted()?.call_hook(request.event, request.input, Some(&sink))?;
            Ok(vec![u8::from(ran)])
        })
    }

    fn unload(&self) -> CallResult {
        let mut hosted = write(&self.hosted);
        let Some(plugin) = hosted.as_ref() else {
            return CallResult::failed(Status::NotLoaded, "this helper hosts no plugin");
        };
        match plugin.teardown() {
            Ok(()) => {
                *hosted = None;
                CallResult::ok(Vec::new())
            }
            Err(error) => failed(&error),
        }
    }
}

/// Reads what the socket holds into `buffer` with `recvmsg`, keeping the descriptors passed with it
/// (`SCM_RIGHTS`), close-on-exec, in `passed`. Returns how many bytes were read.
fn receive_with_fds(
    stream: &UnixStream,
    buffer: &mut [u8],
    passed: &mut std::collections::VecDeque<std::os::fd::OwnedFd>,
) -> io::Result<usize> {
    use std::os::fd::{AsRawFd, FromRawFd};
    // Room for a few descriptors: one comes with each Attach.
    let mut control = [0u64; 8];
    let mut iov = libc::iovec { iov_base: buffer.as_mut_ptr().cast(), iov_len: buffer.len() };
    // SAFETY: msghdr is plain data; every pointer set below outlives the call.
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = &mut iov;
    message.msg_iovlen = 1;
    message.msg_control = control.as_mut_ptr().cast();
    message.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: recvmsg writes at most the buffer's and the control buffer's lengths, as given.
    let read = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut message, libc::MSG_CMSG_CLOEXEC) };
    if read < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the CMSG macros walk the control buffer recvmsg filled, within msg_controllen.
    unsafe {
        let mut header = libc::CMSG_FIRSTHDR(&message);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(header).cast::<libc::c_int>();
                let count =
                    ((*header).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / std::mem::size_of::<libc::c_int>();
                for i in 0..count {
                    passed.push_back(std::os::fd::OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                }
            }
            header = libc::CMSG_NXTHDR(&message, header);
        }
    }
    Ok(read as usize)
}

/// Writes `header` then `payload`, with as few system calls as the socket allows.
fn write_all_vectored(stream: &mut UnixStream, header: &[u8], payload: &[u8]) -> io::Result<()> {
    let (mut header, mut payload) = (header, payload);
    while !header.is_empty() || !payload.is_empty() {
        let written = match stream.write_vectored(&[io::IoSlice::new(header), io::IoSlice::new(payload)]) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(written) => written,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let from_header = written.min(header.len());
        header = &header[from_header..];
        payload = &payload[written - from_header..];
    }
    Ok(())
}

/// The `Result` of a request whose payload decoded to `request` (or did not), served by `body`, which returns the
/// result's body.
fn serve<T>(
    request: Result<T, super::protocol::PayloadError>,
    body: impl FnOnce(T) -> Result<Vec<u8>, Error>,
) -> CallResult {
    match request {
        Err(e) => CallResult::failed(Status::InvalidArgument, e.to_string()),
        Ok(request) => match body(request) {
            Ok(body) => CallResult::ok(body),
            Err(error) => failed(&error),
        },
    }
}

fn failed(error: &Error) -> CallResult {
    CallResult::failed(error.status(), error.message())
}

/// Writes `stop`'s line to stderr and ends the process with its code, from any thread.
pub fn exit_now(stop: &Stop) -> ! {
    eprintln!("aisopod-plugin-host: {}", stop.why);
    std::process::exit(i32::from(stop.exit.code()))
}

/// Sets the limits that are not 0 on this process, soft and hard.
fn apply_limits(limits: &ResourceLimits) -> Result<(), String> {
    let all = [
        (libc::RLIMIT_AS, limits.address_space, "address space"),
        (libc::RLIMIT_CPU, limits.cpu_seconds, "CPU time"),
        (libc::RLIMIT_NOFILE, limits.open_files, "open files"),
    ];
    for (resource, value, what) in all {
        if value == 0 {
            continue;
        }
        // The CPU hard limit is a second above the soft one, so that the helper gets SIGXCPU, which names
        // the reason, before the kernel's SIGKILL at the hard limit.
        let hard = if resource == libc::RLIMIT_CPU { value.saturating_add(1) } else { value };
        let limit = libc::rlimit { rlim_cur: value as libc::rlim_t, rlim_max: hard as libc::rlim_t };
        // SAFETY: setrlimit reads the struct it is given.
        if unsafe { libc::setrlimit(resource, &limit) } != 0 {
            let error = io::Error::last_os_error();
            return Err(format!("cannot limit the helper's {what} to {value}: {}", describe_io_error(&error)));
        }
    }
    Ok(())
}

/// A handler's sink in the helper: each write becomes `Output` frames of the call's request id.
struct Output<'a> {
    writer: &'a Writer,
    request_id: u64,
}

impl Output<'_> {
    fn sink(&mut self) -> aisopod_sink {
        aisopod_sink { context: (self as *mut Output<'_>).cast(), write: Some(write_output) }
    }
}

unsafe extern "C" fn write_output(context: *mut c_void, data: *const u8, len: usize) -> i32 {
    if len == 0 {
        return 0;
    }
    if data.is_null() {
        return 1;
    }
    let sent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: `context` is the `Output` that made this sink, alive for the call; the plugin passes `len`
        // readable bytes at `data`.
        let output = unsafe { &*context.cast::<Output<'_>>() };
        let bytes = unsafe { std::slice::from_raw_parts(data, len) };
        bytes
            .chunks(MAX_PAYLOAD_LEN as usize)
            .try_for_each(|chunk| output.writer.send_parts(FrameKind::OUTPUT, output.request_id, chunk))
    }));
    match sent {
        Ok(Ok(())) => 0,
        _ => 1,
    }
}
