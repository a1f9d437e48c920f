//! The wire protocol between the loader and its helper process: framing a byte stream, and the handshake.
//!
//! The codec does no I/O. [`Decoder`] takes bytes as they arrive, in pieces of any size, and yields whole
//! frames; [`Frame::encode_into`] writes one. Either side of a channel uses both.
//!
//! # Frames (protocol version 1)
//!
//! A channel is a reliable byte stream (one end of a `socketpair(AF_UNIX, SOCK_STREAM)`). It carries frames
//! back to back, with nothing between them. Each frame is a 16-byte header and then its payload. Every
//! integer is little-endian.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | `length`: the payload's size in bytes, at most [`MAX_PAYLOAD_LEN`] (16 MiB) |
//! | 4 | 2 | `kind`: what the frame is (table below) |
//! | 6 | 2 | `flags`: none is defined in version 1, so they must be 0 |
//! | 8 | 8 | `request_id`: pairs a reply with its request |
//! | 16 | `length` | the payload |
//!
//! A receiver checks `length` and `flags` as soon as it has the header, before it allocates anything for the
//! payload, and even then it allocates only as payload bytes arrive. So a peer cannot make it reserve
//! 16 MiB by sending 16 bytes. A bad header is fatal to the channel, because the stream cannot be
//! resynchronised: the receiver may send one `Error` frame and then closes.
//!
//! Requests carry an id that the requester chooses; each reply carries its request's id, so several
//! requests can be in flight on one channel at once, and their replies can come back in any order. Frames that
//! are not requests or replies (`Handshake`, `Refused`) carry request id 0.
//!
//! | kind | name | direction | payload |
//! |---|---|---|---|
//! | `0x0001` | `Handshake` | both: the host's first frame, then the helper's answer | [`Handshake`] |
//! | `0x0002` | `Refused` | either, instead of a handshake; the sender then closes | why, as UTF-8 text |
//! | `0x0003` | `Error` | reply to a request that could not be served | [`ErrorReply`] |
//! | `0x0010` | `Ping` | request | any bytes |
//! | `0x0011` | `Pong` | reply to `Ping` | the `Ping`'s payload, unchanged |
//! | `0x0020` | `Probe` | request: probe one plugin in the helper's process | [`ProbeRequest`] |
//! | `0x0021` | `ProbeReport` | reply to `Probe` | [`ProbeReport`] |
//! | `0x0022` | `ProbeProgress` | during a `Probe`, one per step that finished, before the `ProbeReport` | [`ProbeProgress`] |
//! | `0x0023` | `ProgressPipe` | request, with a pipe's write end passed as `SCM_RIGHTS`: send `ProbeProgress` frames there from now on | empty; the reply is an empty `Result` |
//! | `0x0030` to `0x0038` | `Load`, `Result`, `Init`, `Invoke`, `Output`, `Emit`, `Unload`, `Log`, `Attach` | hosting one plugin | see [`hosting`] |
//!
//! A receiver that gets a kind it does not know replies with an `Error` frame of code
//! [`ErrorCode::UNKNOWN_KIND`] that names the kind, and carries on. Later versions add kinds and flags.
//!
//! # Handshake payload
//!
//! The first 10 bytes are the same in every protocol version, so that any version can read another's
//! version number and name it in its refusal:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic: the ASCII bytes `AISOPOD` and a NUL ([`HANDSHAKE_MAGIC`]) |
//! | 8 | 2 | protocol version ([`PROTOCOL_VERSION`]) |
//! | 10 | 2 | `n`: the loader version's length in bytes, 1 to [`LOADER_VERSION_MAX_LEN`] |
//! | 12 | 4 | plugin ABI version (`AISOPOD_ABI_VERSION`) |
//! | 16 | `n` | loader version (`CARGO_PKG_VERSION`), UTF-8 |
//!
//! The payload is exactly `16 + n` bytes. The host sends its handshake first. The helper checks it: the magic,
//! then the protocol version, then the ABI version, then the loader version, all of which must equal its own.
//! It answers with its own handshake, or with a `Refused` frame whose text names both sides' values of the
//! first field that differs.
//!
//! # Error payload
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | code ([`ErrorCode`]) |
//! | 4 | rest | message, UTF-8 |
//!
//! # Probe payload
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | `init`: 1 to call the plugin's `init` with the config, 0 not to; no other value |
//! | 1 | 1 | reserved, 0 |
//! | 2 | 2 | `v`: the host version's length in bytes, 1 to [`HOST_VERSION_MAX_LEN`] |
//! | 4 | 4 | `p`: the plugin directory's length in bytes, 1 to [`PLUGIN_DIR_MAX_LEN`] |
//! | 8 | 4 | `c`: the config's length in bytes; 0 when `init` is 0 |
//! | 12 | `v` | the host version (semver), UTF-8 |
//! | 12 + `v` | `p` | the plugin directory's path, as the OS spells it, without a NUL |
//! | 12 + `v` + `p` | `c` | the config, UTF-8 |
//!
//! The payload is exactly `12 + v + p + c` bytes. The helper answers with a `ProbeReport` of the same request
//! id, or with an `Error` of code [`ErrorCode::BAD_PAYLOAD`] when the payload breaks this layout. Probes run one
//! at a time, in the order they arrive, so a batch is a series of `Probe` frames on one channel. A plugin that
//! crashes, exits or hangs the helper gets no reply: the host sees the channel close, or its deadline pass.
//!
//! # ProbeProgress payload
//!
//! Exactly one step record, as in a `ProbeReport`: the step's code (2), then its duration in nanoseconds (8).
//! The helper sends one for each step as it finishes, with the `Probe`'s request id, and the `ProbeReport`
//! after the last. When a plugin ends the helper in the middle of a step, the host knows from the last
//! progress it got which step that was: the next one the probe runs. After a `ProgressPipe` request, the
//! helper writes them to that pipe instead, which the host reads only when it wants them (after each report, or
//! after the helper died), so that the progress of a batch costs the host no wake-up.
//!
//! # ProbeReport payload
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | `failed`: 0 when every step succeeded, otherwise the failing step's code ([`ProbeStep`]) |
//! | 2 | 2 | `n`: how many steps ran, at most 14 |
//! | 4 | 4 | `status`: 0 when `failed` is 0, otherwise the failure's `aisopod_status` value (not 0) |
//! | 8 | 4 | `m`: the message's length in bytes: 0 when `failed` is 0, otherwise 1 to [`REPORT_MESSAGE_MAX_LEN`] |
//! | 12 | 10 each | `n` step records, in the order the steps ran: the step's code (2), then its duration in nanoseconds on the monotonic clock (8) |
//! | 12 + 10`n` | `m` | the failure's message, UTF-8; it names the plugin |
//! | 12 + 10`n` + `m` | rest | the registered capabilities: for each kind in ABI order (tool, command, channel, provider, hook), a count (2), then that many names, each as its length (1 byte, 1 to 128) and its bytes |
//!
//! The payload ends with the last name. Steps run in the order of [`ProbeStep::ALL`], each at most once, and
//! the records keep that order, and a failed step is one of them. That is not the order of the codes: the
//! integrity and signature checks run between the ELF header and `dlopen`, but their codes (13 and 14) came after
//! `init`'s and unloading's. Names keep the manifest's rules for capability names and
//! ascend bytewise within a kind. Both the encoder and the decoder enforce all of this.

use std::fmt;
use std::path::PathBuf;

pub use super::probe::{ProbeOutcome, ProbeReport, ProbeStep, StepTiming};
use crate::abi::AISOPOD_ABI_VERSION;
use crate::capability_kind::{CapabilityKind, PerKind};
use crate::error::Status;
use crate::manifest::check_capability_name;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;
/// The size of a frame header in bytes.
pub const HEADER_LEN: usize = 16;
/// The largest payload a frame may carry, in bytes: 16 MiB.
pub const MAX_PAYLOAD_LEN: u32 = 16 << 20;
/// The first eight bytes of every handshake payload.
pub const HANDSHAKE_MAGIC: [u8; 8] = *b"AISOPOD\0";
/// The longest loader version a handshake carries, in bytes.
pub const LOADER_VERSION_MAX_LEN: usize = 64;
/// This build's loader version, as a handshake carries it.
pub const LOADER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The longest host version a `Probe` carries, in bytes.
pub const HOST_VERSION_MAX_LEN: usize = 64;
/// The longest plugin directory a `Probe` carries, in bytes: Linux's `PATH_MAX`.
pub const PLUGIN_DIR_MAX_LEN: usize = 4096;
/// The longest failure message a `ProbeReport` carries, in bytes.
pub const REPORT_MESSAGE_MAX_LEN: usize = 64 * 1024;

/// The size of the handshake's fixed part, before the loader version.
const HANDSHAKE_FIXED_LEN: usize = 16;
/// The bytes of a handshake that every protocol version keeps in place: the magic and the version.
const HANDSHAKE_STABLE_LEN: usize = 10;
/// A payload buffer starts at this capacity (or the payload's length, if smaller) and doubles from there.
const PAYLOAD_MIN_RESERVE: usize = 4096;

/// What a frame is: the header's `kind` field. Any value decodes; the receiver decides what it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameKind(pub u16);

impl FrameKind {
    /// A side's versions; the first frame each way.
    pub const HANDSHAKE: FrameKind = FrameKind(0x0001);
    /// A refused handshake, with the reason as text.
    pub const REFUSED: FrameKind = FrameKind(0x0002);
    /// A request that could not be served.
    pub const ERROR: FrameKind = FrameKind(0x0003);
    /// A request to echo the payload.
    pub const PING: FrameKind = FrameKind(0x0010);
    /// The reply to [`FrameKind::PING`].
    pub const PONG: FrameKind = FrameKind(0x0011);
    /// A request to probe one plugin.
    pub const PROBE: FrameKind = FrameKind(0x0020);
    /// The reply to [`FrameKind::PROBE`].
    pub const PROBE_REPORT: FrameKind = FrameKind(0x0021);
    /// A step of a probe that finished, sent while the probe goes on.
    pub const PROBE_PROGRESS: FrameKind = FrameKind(0x0022);
    /// A request to write probe progress to the pipe whose write end comes with the frame.
    pub const PROGRESS_PIPE: FrameKind = FrameKind(0x0023);
    /// A request to load the plugin the helper will host.
    pub const LOAD: FrameKind = FrameKind(0x0030);
    /// The reply to a hosting request.
    pub const RESULT: FrameKind = FrameKind(0x0031);
    /// A request to call the hosted plugin's `init`.
    pub const INIT: FrameKind = FrameKind(0x0032);
    /// A request to call one of its handlers.
    pub const INVOKE: FrameKind = FrameKind(0x0033);
    /// Bytes a handler wrote to its sink, sent while the call goes on.
    pub const OUTPUT: FrameKind = FrameKind(0x0034);
    /// A request to run its hook for an event.
    pub const EMIT: FrameKind = FrameKind(0x0035);
    /// A request to unload it.
    pub const UNLOAD: FrameKind = FrameKind(0x0036);
    /// A log message of the hosted plugin.
    pub const LOG: FrameKind = FrameKind(0x0037);
    /// A request to serve calls on one more channel, whose descriptor comes with the frame.
    pub const ATTACH: FrameKind = FrameKind(0x0038);

    /// Every kind this version defines.
    pub const KNOWN: [FrameKind; 18] = [
        FrameKind::HANDSHAKE,
        FrameKind::REFUSED,
        FrameKind::ERROR,
        FrameKind::PING,
        FrameKind::PONG,
        FrameKind::PROBE,
        FrameKind::PROBE_REPORT,
        FrameKind::PROBE_PROGRESS,
        FrameKind::PROGRESS_PIPE,
        FrameKind::LOAD,
        FrameKind::RESULT,
        FrameKind::INIT,
        FrameKind::INVOKE,
        FrameKind::OUTPUT,
        FrameKind::EMIT,
        FrameKind::UNLOAD,
        FrameKind::LOG,
        FrameKind::ATTACH,
    ];

    /// The kind's name, or `None` for a kind this version does not define.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            FrameKind::HANDSHAKE => "Handshake",
            FrameKind::REFUSED => "Refused",
            FrameKind::ERROR => "Error",
            FrameKind::PING => "Ping",
            FrameKind::PONG => "Pong",
            FrameKind::PROBE => "Probe",
            FrameKind::PROBE_REPORT => "ProbeReport",
            FrameKind::PROBE_PROGRESS => "ProbeProgress",
            FrameKind::PROGRESS_PIPE => "ProgressPipe",
            FrameKind::LOAD => "Load",
            FrameKind::RESULT => "Result",
            FrameKind::INIT => "Init",
            FrameKind::INVOKE => "Invoke",
            FrameKind::OUTPUT => "Output",
            FrameKind::EMIT => "Emit",
            FrameKind::UNLOAD => "Unload",
            FrameKind::LOG => "Log",
            FrameKind::ATTACH => "Attach",
            _ => return None,
        })
    }
}

impl fmt::Display for FrameKind {
    /// `Ping (0x0010)`, or `unknown kind 0x7777`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({:#06x})", self.0),
            None => write!(f, "unknown kind {:#06x}", self.0),
        }
    }
}

/// One frame: its kind, its request id and its payload. Version 1 defines no flags, so a frame has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: FrameKind,
    pub request_id: u64,
    pub payload: Vec<u8>,
}

impl Frame {
    /// A frame of `kind` for `request_id` carrying `payload`.
    pub fn new(kind: FrameKind, request_id: u64, payload: impl Into<Vec<u8>>) -> Frame {
        Frame { kind, request_id, payload: payload.into() }
    }

    /// This side's handshake frame.
    pub fn handshake(handshake: &Handshake) -> Frame {
        Frame::new(FrameKind::HANDSHAKE, 0, handshake.encode())
    }

    /// A refusal of the peer's handshake, giving `why`.
    pub fn refused(why: &str) -> Frame {
        Frame::new(FrameKind::REFUSED, 0, why.as_bytes())
    }

    /// The reply to request `request_id` saying that it could not be served.
    pub fn error(request_id: u64, reply: &ErrorReply) -> Frame {
        Frame::new(FrameKind::ERROR, request_id, reply.encode())
    }

    /// Appends the frame, header and payload, to `out`. Fails, writing nothing, when the payload is larger than
    /// [`MAX_PAYLOAD_LEN`].
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), FrameError> {
        let length = u32::try_from(self.payload.len()).ok().filter(|&len| len <= MAX_PAYLOAD_LEN).ok_or(
            FrameError::TooLarge { kind: self.kind, request_id: self.request_id, length: self.payload.len() as u64 },
        )?;
        out.reserve(HEADER_LEN + self.payload.len());
        out.extend_from_slice(&Header { length, kind: self.kind, flags: 0, request_id: self.request_id }.encode());
        out.extend_from_slice(&self.payload);
        Ok(())
    }

    /// The frame's bytes, header and payload.
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let mut out = Vec::new();
        self.encode_into(&mut out)?;
        Ok(out)
    }
}

/// A frame header, as the first [`HEADER_LEN`] bytes of a frame hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    length: u32,
    kind: FrameKind,
    flags: u16,
    request_id: u64,
}

/// The header of a frame of `kind` for `request_id` whose payload is `payload_len` bytes, for a sender that
/// writes the payload from where it already is; `None` when the payload is over [`MAX_PAYLOAD_LEN`].
pub fn frame_header(kind: FrameKind, request_id: u64, payload_len: usize) -> Option<[u8; HEADER_LEN]> {
    let length = u32::try_from(payload_len).ok().filter(|&len| len <= MAX_PAYLOAD_LEN)?;
    Some(Header { length, kind, flags: 0, request_id }.encode())
}

impl Header {
    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut bytes = [0; HEADER_LEN];
        bytes[0..4].copy_from_slice(&self.length.to_le_bytes());
        bytes[4..6].copy_from_slice(&self.kind.0.to_le_bytes());
        bytes[6..8].copy_from_slice(&self.flags.to_le_bytes());
        bytes[8..16].copy_from_slice(&self.request_id.to_le_bytes());
        bytes
    }

    fn decode(bytes: &[u8; HEADER_LEN]) -> Header {
        let [l0, l1, l2, l3, k0, k1, f0, f1, r @ ..] = *bytes;
        Header {
            length: u32::from_le_bytes([l0, l1, l2, l3]),
            kind: FrameKind(u16::from_le_bytes([k0, k1])),
            flags: u16::from_le_bytes([f0, f1]),
            request_id: u64::from_le_bytes(r),
        }
    }

    /// Checks the fields a receiver must check before it reads the payload.
    fn check(&self) -> Result<(), FrameError> {
        if self.length > MAX_PAYLOAD_LEN {
            return Err(FrameError::TooLarge {
                kind: self.kind,
                request_id: self.request_id,
                length: u64::from(self.length),
            });
        }
        if self.flags != 0 {
            return Err(FrameError::UnknownFlags { kind: self.kind, request_id: self.request_id, flags: self.flags });
        }
        Ok(())
    }
}

/// Why a byte stream is not a sequence of frames, or a frame cannot be encoded. Every error but `Truncated`
/// comes from a header, and names its kind and request id, so that the receiver can reply to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The header's length is larger than [`MAX_PAYLOAD_LEN`].
    #[error(
        "a frame of {kind} for request {request_id} declares a payload of {length} bytes, more than the maximum {}",
        MAX_PAYLOAD_LEN
    )]
    TooLarge { kind: FrameKind, request_id: u64, length: u64 },
    /// The header sets flags that this protocol version does not define.
    #[error(
        "a frame of {kind} for request {request_id} sets flags {flags:#06x}; protocol version {} defines none",
        PROTOCOL_VERSION
    )]
    UnknownFlags { kind: FrameKind, request_id: u64, flags: u16 },
    /// The stream ended inside a frame.
    #[error("{}", truncated_message(*.kind, *.received, *.expected))]
    Truncated {
        /// The frame's kind, once its header has arrived.
        kind: Option<FrameKind>,
        /// How many of the frame's bytes arrived.
        received: usize,
        /// How many bytes the frame needed: its header's, or once the header arrived, the whole frame's.
        expected: usize,
    },
}

fn truncated_message(kind: Option<FrameKind>, received: usize, expected: usize) -> String {
    match kind {
        None => format!("the stream ended inside a frame header: {received} of its {expected} bytes arrived"),
        Some(kind) => format!("the stream ended inside a frame of {kind}: {received} of its {expected} bytes arrived"),
    }
}

/// An incremental frame decoder: feed it bytes as they arrive, in pieces of any size, and take whole frames.
///
/// A decode error is final: the stream is out of step, so every later call returns the same error.
#[derive(Debug, Default)]
pub struct Decoder {
    header: [u8; HEADER_LEN],
    header_len: usize,
    /// The header of the frame whose payload is arriving.
    current: Option<Header>,
    payload: Vec<u8>,
    failed: Option<FrameError>,
}

impl Decoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Takes bytes from the front of `input` until a frame is complete, and returns it; or takes all of `input`
    /// and returns `None` when no frame is complete yet. Call it again with the rest of `input` for the next
    /// frame: `while let Some(frame) = decoder.decode(&mut input)? { ... }`.
    pub fn decode(&mut self, input: &mut &[u8]) -> Result<Option<Frame>, FrameError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let header = match self.current {
            Some(header) => header,
            None => {
                let wanted = (HEADER_LEN - self.header_len).min(input.len());
                let (taken, rest) = input.split_at(wanted);
                self.header[self.header_len..self.header_len + wanted].copy_from_slice(taken);
                self.header_len += wanted;
                *input = rest;
                if self.header_len < HEADER_LEN {
                    return Ok(None);
                }
                let header = Header::decode(&self.header);
                if let Err(error) = header.check() {
                    self.failed = Some(error.clone());
                    return Err(error);
                }
                self.current = Some(header);
                header
            }
        };
        let length = header.length as usize;
        let wanted = (length - self.payload.len()).min(input.len());
        let (taken, rest) = input.split_at(wanted);
        self.grow_payload(wanted, length);
        self.payload.extend_from_slice(taken);
        *input = rest;
        if self.payload.len() < length {
            return Ok(None);
        }
        self.current = None;
        self.header_len = 0;
        Ok(Some(Frame { kind: header.kind, request_id: header.request_id, payload: std::mem::take(&mut self.payload) }))
    }

    /// Makes room for `more` payload bytes, doubling the buffer but never past the payload's `length`, so that
    /// the buffer holds at most twice what has arrived and never more than the header declared.
    fn grow_payload(&mut self, more: usize, length: usize) {
        let needed = self.payload.len() + more;
        if needed <= self.payload.capacity() {
            return;
        }
        let doubled = (2 * self.payload.capacity()).max(PAYLOAD_MIN_RESERVE).min(length);
        self.payload.reserve_exact(needed.max(doubled) - self.payload.len());
    }

    /// Checks that the stream may end here: between frames, not inside one.
    pub fn finish(&self) -> Result<(), FrameError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        match self.current {
            Some(header) => Err(FrameError::Truncated {
                kind: Some(header.kind),
                received: HEADER_LEN + self.payload.len(),
                expected: HEADER_LEN + header.length as usize,
            }),
            None if self.header_len > 0 => {
                Err(FrameError::Truncated { kind: None, received: self.header_len, expected: HEADER_LEN })
            }
            None => Ok(()),
        }
    }

    /// The bytes the decoder holds allocated for a payload that is arriving.
    pub fn allocated(&self) -> usize {
        self.payload.capacity()
    }
}

/// The versions one side of a channel speaks, as its handshake carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    pub protocol_version: u16,
    pub abi_version: u32,
    pub loader_version: String,
}

impl Handshake {
    /// This build's handshake.
    pub fn ours() -> Handshake {
        Handshake {
            protocol_version: PROTOCOL_VERSION,
            abi_version: AISOPOD_ABI_VERSION,
            loader_version: LOADER_VERSION.to_owned(),
        }
    }

    /// The handshake payload, in the version 1 layout whatever `protocol_version` says.
    pub fn encode(&self) -> Vec<u8> {
        let version = self.loader_version.as_bytes();
        let mut out = Vec::with_capacity(HANDSHAKE_FIXED_LEN + version.len());
        out.extend_from_slice(&HANDSHAKE_MAGIC);
        out.extend_from_slice(&self.protocol_version.to_le_bytes());
        out.extend_from_slice(&(version.len() as u16).to_le_bytes());
        out.extend_from_slice(&self.abi_version.to_le_bytes());
        out.extend_from_slice(version);
        out
    }

    /// Reads a handshake payload. A protocol version other than ours is refused here, since the rest of the
    /// payload may be laid out differently; the other versions are compared by [`Handshake::check`].
    pub fn decode(payload: &[u8]) -> Result<Handshake, HandshakeError> {
        let Some((stable, _)) = payload.split_first_chunk::<HANDSHAKE_STABLE_LEN>() else {
            return Err(HandshakeError::NotAHandshake { length: payload.len() });
        };
        let (magic, version) = stable.split_at(HANDSHAKE_MAGIC.len());
        if magic != HANDSHAKE_MAGIC {
            return Err(HandshakeError::NotAHandshake { length: payload.len() });
        }
        let protocol_version = u16::from_le_bytes([version[0], version[1]]);
        if protocol_version != PROTOCOL_VERSION {
            return Err(HandshakeError::ProtocolMismatch { ours: PROTOCOL_VERSION, theirs: protocol_version });
        }
        let malformed = |why: String| HandshakeError::Malformed { why };
        let Some((fixed, version)) = payload.split_first_chunk::<HANDSHAKE_FIXED_LEN>() else {
            return Err(malformed(format!(
                "{} bytes, fewer than the {HANDSHAKE_FIXED_LEN} of its fixed part",
                payload.len()
            )));
        };
        let version_len = usize::from(u16::from_le_bytes([fixed[10], fixed[11]]));
        if !(1..=LOADER_VERSION_MAX_LEN).contains(&version_len) {
            return Err(malformed(format!(
                "a loader version of {version_len} bytes, outside 1 to {LOADER_VERSION_MAX_LEN}"
            )));
        }
        if version.len() != version_len {
            return Err(malformed(format!(
                "{} bytes after the fixed part where the loader version's length says {version_len}",
                version.len()
            )));
        }
        let loader_version = std::str::from_utf8(version)
            .map_err(|e| malformed(format!("a loader version that is not UTF-8 ({e})")))?
            .to_owned();
        Ok(Handshake {
            protocol_version,
            abi_version: u32::from_le_bytes([fixed[12], fixed[13], fixed[14], fixed[15]]),
            loader_version,
        })
    }

    /// Checks the peer's handshake against ours: the ABI version, then the loader version (the protocol version
    /// was checked by [`Handshake::decode`]).
    pub fn check(&self) -> Result<(), HandshakeError> {
        let ours = Handshake::ours();
        if self.protocol_version != ours.protocol_version {
            return Err(HandshakeError::ProtocolMismatch {
                ours: ours.protocol_version,
                theirs: self.protocol_version,
            });
        }
        if self.abi_version != ours.abi_version {
            return Err(HandshakeError::AbiMismatch { ours: ours.abi_version, theirs: self.abi_version });
        }
        if self.loader_version != ours.loader_version {
            return Err(HandshakeError::LoaderMismatch {
                ours: ours.loader_version,
                theirs: self.loader_version.clone(),
            });
        }
        Ok(())
    }

    /// Reads the peer's handshake payload and checks it against ours.
    pub fn accept(payload: &[u8]) -> Result<Handshake, HandshakeError> {
        let theirs = Handshake::decode(payload)?;
        theirs.check()?;
        Ok(theirs)
    }
}

/// Why a side refuses the peer's handshake. Each mismatch names the peer's value and ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The payload does not start with [`HANDSHAKE_MAGIC`] and a version: the peer is not an aisopod channel.
    #[error("the peer's handshake ({length} bytes) does not start with the aisopod magic and a protocol version")]
    NotAHandshake { length: usize },
    #[error("protocol version mismatch: the peer speaks version {theirs}, this side speaks version {ours}")]
    ProtocolMismatch { ours: u16, theirs: u16 },
    #[error("plugin ABI version mismatch: the peer has ABI version {theirs}, this side has ABI version {ours}")]
    AbiMismatch { ours: u32, theirs: u32 },
    #[error("loader version mismatch: the peer is aisopod-loader {theirs}, this side is aisopod-loader {ours}")]
    LoaderMismatch { ours: String, theirs: String },
    /// The payload has the right magic and version but not the version's layout.
    #[error("the peer's handshake is malformed: {why}")]
    Malformed { why: String },
}

/// The code of an `Error` frame: which kind of request failed, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// The request's kind is one the receiver does not know.
    pub const UNKNOWN_KIND: ErrorCode = ErrorCode(1);
    /// The kind is known, but not one the receiver accepts in this direction or at this point.
    pub const UNEXPECTED_KIND: ErrorCode = ErrorCode(2);
    /// The frame header is invalid; the sender of the error closes the channel next.
    pub const BAD_FRAME: ErrorCode = ErrorCode(3);
    /// The request's payload breaks its kind's layout, or the reply could not be encoded; the message says which
    /// field. The channel stays usable.
    pub const BAD_PAYLOAD: ErrorCode = ErrorCode(4);
}

/// The payload of an `Error` frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    pub code: ErrorCode,
    pub message: String,
}

impl ErrorReply {
    /// An error of `code` with `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ErrorReply {
        ErrorReply { code, message: message.into() }
    }

    /// The payload: the code, then the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.message.len());
        out.extend_from_slice(&self.code.0.to_le_bytes());
        out.extend_from_slice(self.message.as_bytes());
        out
    }

    /// Reads an `Error` payload; `None` when it is shorter than a code or its message is not UTF-8.
    pub fn decode(payload: &[u8]) -> Option<ErrorReply> {
        let (code, message) = payload.split_first_chunk::<4>()?;
        Some(ErrorReply {
            code: ErrorCode(u32::from_le_bytes(*code)),
            message: std::str::from_utf8(message).ok()?.to_owned(),
        })
    }
}

/// Why a request or reply payload cannot be encoded or decoded. The message names the frame kind and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The bytes break the kind's layout.
    #[error("a {kind} payload is malformed: {why}")]
    Malformed { kind: FrameKind, why: String },
    /// A value does not fit the kind's layout, so nothing was encoded.
    #[error("cannot encode a {kind} payload: {why}")]
    Unencodable { kind: FrameKind, why: String },
}

/// Reads a payload's fields front to back; every read names the field it wanted when the payload ends first.
struct Fields<'a> {
    kind: FrameKind,
    payload: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    fn new(kind: FrameKind, payload: &'a [u8]) -> Fields<'a> {
        Fields { kind, payload, at: 0 }
    }

    fn malformed(&self, why: impl Into<String>) -> PayloadError {
        PayloadError::Malformed { kind: self.kind, why: why.into() }
    }

    fn bytes(&mut self, len: usize, what: impl fmt::Display) -> Result<&'a [u8], PayloadError> {
        let rest = &self.payload[self.at..];
        if rest.len() < len {
            return Err(self.malformed(format!(
                "it ends after {} bytes, inside {what} (bytes {} to {})",
                self.payload.len(),
                self.at,
                self.at.saturating_add(len)
            )));
        }
        self.at += len;
        Ok(&rest[..len])
    }

    fn array<const N: usize>(&mut self, what: impl fmt::Display) -> Result<[u8; N], PayloadError> {
        Ok(self.bytes(N, what)?.try_into().expect("N bytes"))
    }

    fn u8(&mut self, what: impl fmt::Display) -> Result<u8, PayloadError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: impl fmt::Display) -> Result<u16, PayloadError> {
        self.array(what).map(u16::from_le_bytes)
    }

    fn u32(&mut self, what: impl fmt::Display) -> Result<u32, PayloadError> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: impl fmt::Display) -> Result<u64, PayloadError> {
        self.array(what).map(u64::from_le_bytes)
    }

    fn text(&mut self, len: usize, what: impl fmt::Display + Copy) -> Result<&'a str, PayloadError> {
        let at = self.at;
        let bytes = self.bytes(len, what)?;
        std::str::from_utf8(bytes).map_err(|e| self.malformed(format!("{what} at byte {at} is not UTF-8 ({e})")))
    }

    /// Checks that nothing follows the last field.
    fn end(&self) -> Result<(), PayloadError> {
        match self.payload.len() - self.at {
            0 => Ok(()),
            extra => Err(self.malformed(format!("{extra} bytes follow its last field, at byte {}", self.at))),
        }
    }
}

/// A request to probe one plugin: the `Probe` frame's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRequest {
    /// The plugin directory, the one holding `aisopod.plugin.toml`.
    pub plugin_dir: PathBuf,
    /// The host's version, as `Loader::new` takes it.
    pub host_version: String,
    /// The config to call `init` with, or `None` not to call it.
    pub init_config: Option<String>,
}

/// The fixed part of a `Probe` payload, before its strings.
const PROBE_FIXED_LEN: usize = 12;

impl ProbeRequest {
    /// The `Probe` frame for request `request_id`.
    pub fn frame(&self, request_id: u64) -> Result<Frame, PayloadError> {
        Ok(Frame::new(FrameKind::PROBE, request_id, self.encode()?))
    }

    /// The payload. Fails, naming the field, when a field is outside its documented bounds.
    pub fn encode(&self) -> Result<Vec<u8>, PayloadError> {
        let unencodable = |why: String| PayloadError::Unencodable { kind: FrameKind::PROBE, why };
        let version = self.host_version.as_bytes();
        let dir = crate::paths::bytes(&self.plugin_dir);
        let config = self.init_config.as_deref().unwrap_or("").as_bytes();
        if !(1..=HOST_VERSION_MAX_LEN).contains(&version.len()) {
            return Err(unencodable(format!(
                "a host version of {} bytes, outside 1 to {HOST_VERSION_MAX_LEN}",
                version.len()
            )));
        }
        check_plugin_dir(dir).map_err(unencodable)?;
        let total = PROBE_FIXED_LEN + version.len() + dir.len() + config.len();
        if total > MAX_PAYLOAD_LEN as usize {
            return Err(unencodable(format!(
                "a config of {} bytes makes the payload {total} bytes, more than the maximum {MAX_PAYLOAD_LEN}",
                config.len()
            )));
        }
        let mut out = Vec::with_capacity(total);
        out.push(u8::from(self.init_config.is_some()));
        out.push(0);
        out.extend_from_slice(&(version.len() as u16).to_le_bytes());
        out.extend_from_slice(&(dir.len() as u32).to_le_bytes());
        out.extend_from_slice(&(config.len() as u32).to_le_bytes());
        out.extend_from_slice(version);
        out.extend_from_slice(dir);
        out.extend_from_slice(config);
        Ok(out)
    }

    /// Reads a `Probe` payload; the error names the first field that breaks the layout.
    pub fn decode(payload: &[u8]) -> Result<ProbeRequest, PayloadError> {
        let mut fields = Fields::new(FrameKind::PROBE, payload);
        let init = fields.u8("the init flag")?;
        if init > 1 {
            return Err(fields.malformed(format!("the init flag is {init}, neither 0 nor 1")));
        }
        let reserved = fields.u8("the reserved byte")?;
        if reserved != 0 {
            return Err(fields.malformed(format!("the reserved byte is {reserved}, not 0")));
        }
        let version_len = usize::from(fields.u16("the host version's length")?);
        if !(1..=HOST_VERSION_MAX_LEN).contains(&version_len) {
            return Err(
                fields.malformed(format!("a host version of {version_len} bytes, outside 1 to {HOST_VERSION_MAX_LEN}"))
            );
        }
        let dir_len = fields.u32("the plugin directory's length")? as usize;
        if !(1..=PLUGIN_DIR_MAX_LEN).contains(&dir_len) {
            return Err(
                fields.malformed(format!("a plugin directory of {dir_len} bytes, outside 1 to {PLUGIN_DIR_MAX_LEN}"))
            );
        }
        let config_len = fields.u32("the config's length")? as usize;
        if init == 0 && config_len != 0 {
            return Err(fields.malformed(format!("a config of {config_len} bytes with the init flag 0")));
        }
        let host_version = fields.text(version_len, "the host version")?.to_owned();
        let dir = fields.bytes(dir_len, "the plugin directory")?;
        check_plugin_dir(dir).map_err(|why| fields.malformed(why))?;
        let plugin_dir = crate::paths::from_bytes(dir);
        let config = fields.text(config_len, "the config")?;
        fields.end()?;
        Ok(ProbeRequest { plugin_dir, host_version, init_config: (init == 1).then(|| config.to_owned()) })
    }
}

fn check_plugin_dir(dir: &[u8]) -> Result<(), String> {
    if !(1..=PLUGIN_DIR_MAX_LEN).contains(&dir.len()) {
        return Err(format!("a plugin directory of {} bytes, outside 1 to {PLUGIN_DIR_MAX_LEN}", dir.len()));
    }
    if let Some(at) = dir.iter().position(|&b| b == 0) {
        return Err(format!("the plugin directory holds a NUL byte at its byte {at}"));
    }
    Ok(())
}

/// One finished step of a probe in flight: the `ProbeProgress` frame's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeProgress(pub StepTiming);

impl ProbeProgress {
    /// The `ProbeProgress` frame for the probe of request `request_id`.
    pub fn frame(&self, request_id: u64) -> Frame {
        let mut payload = Vec::with_capacity(STEP_RECORD_LEN);
        payload.extend_from_slice(&self.0.step.code().to_le_bytes());
        payload.extend_from_slice(&self.0.nanos.to_le_bytes());
        Frame::new(FrameKind::PROBE_PROGRESS, request_id, payload)
    }

    /// Reads a `ProbeProgress` payload.
    pub fn decode(payload: &[u8]) -> Result<ProbeProgress, PayloadError> {
        let mut fields = Fields::new(FrameKind::PROBE_PROGRESS, payload);
        let code = fields.u16("the step code")?;
        let step =
            ProbeStep::from_code(code).ok_or_else(|| fields.malformed(format!("step code {code} is no step")))?;
        let nanos = fields.u64("the step's duration")?;
        fields.end()?;
        Ok(ProbeProgress(StepTiming { step, nanos }))
    }
}

/// Appends capability names: for each kind in ABI order, a count (2 bytes), then each name as its length (1
/// byte) and its bytes.
fn encode_capabilities(capabilities: &PerKind<Vec<String>>, out: &mut Vec<u8>) {
    for (_, names) in capabilities.iter() {
        out.extend_from_slice(&(names.len() as u16).to_le_bytes());
        for name in names {
            out.push(name.len() as u8);
            out.extend_from_slice(name.as_bytes());
        }
    }
}

/// Reads what [`encode_capabilities`] wrote.
fn decode_capabilities(fields: &mut Fields<'_>) -> Result<PerKind<Vec<String>>, PayloadError> {
    let mut capabilities = PerKind::<Vec<String>>::default();
    for kind in CapabilityKind::ALL {
        let count = fields.u16(format_args!("the {kind} count"))?;
        for i in 0..count {
            let len = usize::from(fields.u8(format_args!("{kind} name {i}'s length"))?);
            capabilities[kind].push(fields.text(len, format_args!("{kind} name {i}"))?.to_owned());
        }
    }
    Ok(capabilities)
}

/// The fixed part of a `ProbeReport` payload, before its step records.
const REPORT_FIXED_LEN: usize = 12;
/// The size of one step record.
const STEP_RECORD_LEN: usize = 10;

impl ProbeReport {
    /// The `ProbeReport` frame replying to request `request_id`.
    pub fn frame(&self, request_id: u64) -> Result<Frame, PayloadError> {
        Ok(Frame::new(FrameKind::PROBE_REPORT, request_id, self.encode()?))
    }

    /// The payload. Fails, naming the rule, when the report breaks one the decoder checks.
    pub fn encode(&self) -> Result<Vec<u8>, PayloadError> {
        self.check().map_err(|why| PayloadError::Unencodable { kind: FrameKind::PROBE_REPORT, why })?;
        let (failed, status, message) = match &self.outcome {
            ProbeOutcome::Ok => (0, 0, ""),
            ProbeOutcome::Failed { step, status, message } => (step.code(), *status as u32, message.as_str()),
        };
        let names: usize =
            self.capabilities.iter().map(|(_, names)| names.iter().map(|n| 1 + n.len()).sum::<usize>()).sum();
        let mut out = Vec::with_capacity(
            REPORT_FIXED_LEN + STEP_RECORD_LEN * self.steps.len() + message.len() + 2 * CapabilityKind::COUNT + names,
        );
        out.extend_from_slice(&failed.to_le_bytes());
        out.extend_from_slice(&(self.steps.len() as u16).to_le_bytes());
        out.extend_from_slice(&status.to_le_bytes());
        out.extend_from_slice(&(message.len() as u32).to_le_bytes());
        for timing in &self.steps {
            out.extend_from_slice(&timing.step.code().to_le_bytes());
            out.extend_from_slice(&timing.nanos.to_le_bytes());
        }
        out.extend_from_slice(message.as_bytes());
        encode_capabilities(&self.capabilities, &mut out);
        Ok(out)
    }

    /// Reads a `ProbeReport` payload; the error names the first field or rule it breaks.
    pub fn decode(payload: &[u8]) -> Result<ProbeReport, PayloadError> {
        let mut fields = Fields::new(FrameKind::PROBE_REPORT, payload);
        let failed = fields.u16("the failed step")?;
        let step_count = usize::from(fields.u16("the step count")?);
        if step_count > ProbeStep::ALL.len() {
            return Err(
                fields.malformed(format!("{step_count} steps, more than the {} a probe has", ProbeStep::ALL.len()))
            );
        }
        let status = fields.u32("the status")?;
        let message_len = fields.u32("the message's length")? as usize;
        if message_len > REPORT_MESSAGE_MAX_LEN {
            return Err(fields.malformed(format!(
                "a message of {message_len} bytes, more than the maximum {REPORT_MESSAGE_MAX_LEN}"
            )));
        }
        let mut steps = Vec::with_capacity(step_count);
        for i in 0..step_count {
            let code = fields.u16(format_args!("step record {i}"))?;
            let step = ProbeStep::from_code(code)
                .ok_or_else(|| fields.malformed(format!("step record {i} has step code {code}, which is no step")))?;
            steps.push(StepTiming { step, nanos: fields.u64(format_args!("step record {i}'s duration"))? });
        }
        let message = fields.text(message_len, "the message")?;
        let outcome = if failed == 0 {
            if status != 0 || message_len != 0 {
                return Err(fields.malformed(format!(
                    "no step failed, yet the status is {status} and the message {message_len} bytes long"
                )));
            }
            ProbeOutcome::Ok
        } else {
            let step = ProbeStep::from_code(failed)
                .ok_or_else(|| fields.malformed(format!("the failed step is {failed}, which is no step")))?;
            let status = Status::from_u32(status)
                .ok_or_else(|| fields.malformed(format!("the status is {status}, which is no aisopod_status")))?;
            ProbeOutcome::Failed { step, status, message: message.to_owned() }
        };
        let capabilities = decode_capabilities(&mut fields)?;
        fields.end()?;
        let report = ProbeReport { outcome, steps, capabilities };
        report.check().map_err(|why| fields.malformed(why))?;
        Ok(report)
    }

    /// The rules a report's payload keeps, beyond its layout.
    fn check(&self) -> Result<(), String> {
        for pair in self.steps.windows(2) {
            if pair[0].step >= pair[1].step {
                return Err(format!("step {} is listed after step {}", pair[1].step, pair[0].step));
            }
        }
        match &self.outcome {
            ProbeOutcome::Ok => {}
            ProbeOutcome::Failed { step, status, message } => {
                if !self.steps.iter().any(|timing| timing.step == *step) {
                    return Err(format!("the failed step {step} is not among the steps that ran"));
                }
                if *status == Status::Ok {
                    return Err(format!("step {step} failed with status 0 (Ok)"));
                }
                if !(1..=REPORT_MESSAGE_MAX_LEN).contains(&message.len()) {
                    return Err(format!(
                        "a failure message of {} bytes, outside 1 to {REPORT_MESSAGE_MAX_LEN}",
                        message.len()
                    ));
                }
            }
        }
        for (kind, names) in self.capabilities.iter() {
            if names.len() > usize::from(u16::MAX) {
                return Err(format!("{} {kind} names, more than {}", names.len(), u16::MAX));
            }
            for name in names {
                check_capability_name(name).map_err(|why| format!("{kind} {name:?}: {why}"))?;
            }
            for pair in names.windows(2) {
                if pair[0] >= pair[1] {
                    return Err(format!("{kind} '{}' is listed after {kind} '{}'", pair[1], pair[0]));
                }
            }
        }
        Ok(())
    }
}

pub mod hosting;
#[cfg(test)]
mod tests;
