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

use std::fmt;

use crate::abi::AISOPOD_ABI_VERSION;

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

    /// Every kind this version defines.
    pub const KNOWN: [FrameKind; 5] =
        [FrameKind::HANDSHAKE, FrameKind::REFUSED, FrameKind::ERROR, FrameKind::PING, FrameKind::PONG];

    /// The kind's name, or `None` for a kind this version does not define.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            FrameKind::HANDSHAKE => "Handshake",
            FrameKind::REFUSED => "Refused",
            FrameKind::ERROR => "Error",
            FrameKind::PING => "Ping",
            FrameKind::PONG => "Pong",
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

#[cfg(test)]
mod tests;
