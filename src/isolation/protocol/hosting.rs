//! The payloads of hosting one plugin in the helper: load it, `init` it, call its handlers and hooks, unload
//! it; the helper's replies, the output it streams, and the plugin's log messages.
//!
//! | kind | name | direction | payload |
//! |---|---|---|---|
//! | `0x0030` | `Load` | request | [`LoadRequest`] |
//! | `0x0031` | `Result` | reply to `Load`, `Init`, `Invoke`, `Emit`, `Unload` | [`CallResult`] |
//! | `0x0032` | `Init` | request | [`InitRequest`] |
//! | `0x0033` | `Invoke` | request | [`InvokeRequest`] |
//! | `0x0034` | `Output` | during an `Invoke` or `Emit`, one per write to the sink, before the `Result` | the bytes |
//! | `0x0035` | `Emit` | request | [`EmitRequest`] |
//! | `0x0036` | `Unload` | request: `shutdown`, `destroy`, `dlclose`; the helper then exits | empty |
//! | `0x0037` | `Log` | helper to host, request id 0, at any time | [`LogRecord`] |
//! | `0x0038` | `Attach` | request, with one descriptor passed as `SCM_RIGHTS` | empty; the `Result` is empty |
//!
//! # Lanes
//!
//! `Invoke` and `Emit` may also go over a **lane**: one more stream socket the host makes and passes with an
//! `Attach` request. The helper serves a lane on a thread of its own, one request at a time, in the order they
//! come, with its `Output` and `Log` frames (for messages the plugin logs during the call) on the same lane. A
//! host that gives each of its calling threads a lane of its own gets calls that run at the same time, with no
//! thread of the helper woken for nothing. A lane carries only `Invoke` and `Emit`; any other request there
//! gets an `Error` frame. Closing a lane ends its thread.
//!
//! A helper hosts at most one plugin. Requests other than `Load` before a `Load` succeeded, and a second
//! `Load`, get a `Result` of status `NotLoaded` or `AlreadyLoaded`. Calls are served concurrently, each on
//! a thread of the helper; the plugin's own `thread_safe = false` serialization applies there as it does in the
//! host's process.
//!
//! # Load payload
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | address space limit in bytes (`RLIMIT_AS`), 0 for none |
//! | 8 | 8 | CPU time limit in seconds (`RLIMIT_CPU`), 0 for none |
//! | 16 | 8 | open files limit (`RLIMIT_NOFILE`), 0 for none |
//! | 24 | 2 | `v`: the host version's length, 1 to 64 |
//! | 26 | 4 | `p`: the plugin directory's length, 1 to 4096 |
//! | 30 | `v` | the host version, UTF-8 |
//! | 30 + `v` | `p` | the plugin directory |
//! | 30 + `v` + `p` | 1 | sandbox flags: bit 0 sandbox the plugin, bit 1 refuse when the kernel cannot enforce it, bit 2 allow the network, bit 3 allow subprocesses; no other bit |
//! | then | 4 + paths | the paths it may read: a count, then each path as its length (4) and its bytes |
//! | then | 4 + paths | the paths it may write, the same way |
//!
//! The payload ends with the last path; without bit 0 both counts are 0. The helper applies the limits and the
//! sandbox to itself before it loads the plugin, while it runs a single thread. Its `Result` body is the
//! registered capabilities, encoded as in a `ProbeReport`.
//!
//! # Init payload
//!
//! `c` (4), `d` (4), then the config (`c` bytes, UTF-8) and the data directory (`d` bytes).
//!
//! # Invoke payload
//!
//! The capability kind (1, its `AISOPOD_CAPABILITY_*` value), `n` (1), the name (`n` bytes, 1 to 128), then the
//! input: the rest of the payload.
//!
//! # Emit payload
//!
//! `n` (1), the event's name (`n` bytes, 1 to 128), then the input: the rest. The `Result` body is one byte: 1
//! when the plugin has a hook for the event and it ran, 0 when not.
//!
//! # Result payload
//!
//! The status (4, an `aisopod_status`, 0 for success), `m` (4), the message (`m` bytes, UTF-8, empty on
//! success), then the body: the rest.
//!
//! # Log payload
//!
//! The level (1, an `AISOPOD_LOG_*` value), `s` (1), the source (`s` bytes: the plugin id or "loader"), then the
//! message: the rest, UTF-8.

use std::path::PathBuf;

use super::{
    check_plugin_dir, decode_capabilities, encode_capabilities, Fields, Frame, FrameKind, PayloadError,
    HOST_VERSION_MAX_LEN, MAX_PAYLOAD_LEN,
};
use crate::capability_kind::{CapabilityKind, PerKind};
use crate::error::Status;
use crate::log::LogLevel;
use crate::manifest::CAPABILITY_NAME_MAX_LEN;
use crate::permissions::Permissions;

/// Resource limits the helper sets on itself before loading its plugin; 0 is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceLimits {
    /// `RLIMIT_AS`, in bytes.
    pub address_space: u64,
    /// `RLIMIT_CPU`, in seconds.
    pub cpu_seconds: u64,
    /// `RLIMIT_NOFILE`.
    pub open_files: u64,
}

/// The sandbox a helper puts itself in before it loads its plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    /// Refuse to load the plugin when the kernel cannot enforce the sandbox (no Landlock), rather than load
    /// it with a warning.
    pub require: bool,
    /// What the plugin may do.
    pub permissions: Permissions,
}

/// A request to load the plugin in `plugin_dir` for a host of `host_version`, within `limits` and `sandbox`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadRequest {
    pub plugin_dir: PathBuf,
    pub host_version: String,
    pub limits: ResourceLimits,
    pub sandbox: Option<Sandbox>,
}

impl LoadRequest {
    pub fn encode(&self) -> Result<Vec<u8>, PayloadError> {
        let unencodable = |why: String| PayloadError::Unencodable { kind: FrameKind::LOAD, why };
        let version = self.host_version.as_bytes();
        if !(1..=HOST_VERSION_MAX_LEN).contains(&version.len()) {
            return Err(unencodable(format!(
                "a host version of {} bytes, outside 1 to {HOST_VERSION_MAX_LEN}",
                version.len()
            )));
        }
        let dir = crate::paths::bytes(&self.plugin_dir);
        check_plugin_dir(dir).map_err(unencodable)?;
        let mut out = Vec::with_capacity(30 + version.len() + dir.len());
        for limit in [self.limits.address_space, self.limits.cpu_seconds, self.limits.open_files] {
            out.extend_from_slice(&limit.to_le_bytes());
        }
        out.extend_from_slice(&(version.len() as u16).to_le_bytes());
        out.extend_from_slice(&(dir.len() as u32).to_le_bytes());
        out.extend_from_slice(version);
        out.extend_from_slice(dir);
        let no_paths: &[PathBuf] = &[];
        let (flags, read, write) = match &self.sandbox {
            None => (0u8, no_paths, no_paths),
            Some(sandbox) => {
                let p = &sandbox.permissions;
                let flags = 1 | u8::from(sandbox.require) << 1 | u8::from(p.network) << 2 | u8::from(p.subprocess) << 3;
                (flags, &p.read[..], &p.write[..])
            }
        };
        out.push(flags);
        for list in [read, write] {
            out.extend_from_slice(&(list.len() as u32).to_le_bytes());
            for path in list {
                let bytes = crate::paths::bytes(path);
                out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                out.extend_from_slice(bytes);
            }
        }
        if out.len() > MAX_PAYLOAD_LEN as usize {
            return Err(unencodable(format!("a payload of {} bytes, more than the maximum", out.len())));
        }
        Ok(out)
    }

    pub fn decode(payload: &[u8]) -> Result<LoadRequest, PayloadError> {
        let mut fields = Fields::new(FrameKind::LOAD, payload);
        let limits = ResourceLimits {
            address_space: fields.u64("the address space limit")?,
            cpu_seconds: fields.u64("the CPU time limit")?,
            open_files: fields.u64("the open files limit")?,
        };
        let version_len = usize::from(fields.u16("the host version's length")?);
        if !(1..=HOST_VERSION_MAX_LEN).contains(&version_len) {
            return Err(
                fields.malformed(format!("a host version of {version_len} bytes, outside 1 to {HOST_VERSION_MAX_LEN}"))
            );
        }
        let dir_len = fields.u32("the plugin directory's length")? as usize;
        let host_version = fields.text(version_len, "the host version")?.to_owned();
        let dir = fields.bytes(dir_len, "the plugin directory")?;
        check_plugin_dir(dir).map_err(|why| fields.malformed(why))?;
        let flags = fields.u8("the sandbox flags")?;
        if flags & !0b1111 != 0 || (flags & 1 == 0 && flags != 0) {
            return Err(fields.malformed(format!("the sandbox flags are {flags:#04x}")));
        }
        let mut lists = [Vec::new(), Vec::new()];
        for (list, what) in lists.iter_mut().zip(["read", "write"]) {
            let count = fields.u32(format_args!("the count of paths to {what}"))?;
            if flags == 0 && count != 0 {
                return Err(fields.malformed(format!("{count} paths to {what} without a sandbox")));
            }
            for i in 0..count {
                let len = fields.u32(format_args!("path {i} to {what}'s length"))? as usize;
                let path = fields.bytes(len, format_args!("path {i} to {what}"))?;
                if path.is_empty() || path.contains(&0) {
                    return Err(fields.malformed(format!("path {i} to {what} is empty or holds a NUL byte")));
                }
                list.push(crate::paths::from_bytes(path));
            }
        }
        fields.end()?;
        let [read, write] = lists;
        let sandbox = (flags & 1 != 0).then_some(Sandbox {
            require: flags & 2 != 0,
            permissions: Permissions { read, write, network: flags & 4 != 0, subprocess: flags & 8 != 0 },
        });
        Ok(LoadRequest { plugin_dir: crate::paths::from_bytes(dir), host_version, limits, sandbox })
    }
}

/// A request to call `init` with `config` and `data_dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitRequest {
    pub config: String,
    pub data_dir: PathBuf,
}

impl InitRequest {
    pub fn encode(&self) -> Result<Vec<u8>, PayloadError> {
        let dir = crate::paths::bytes(&self.data_dir);
        let total = 8 + self.config.len() + dir.len();
        if total > MAX_PAYLOAD_LEN as usize {
            return Err(PayloadError::Unencodable {
                kind: FrameKind::INIT,
                why: format!("a payload of {total} bytes, more than the maximum {MAX_PAYLOAD_LEN}"),
            });
        }
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&(self.config.len() as u32).to_le_bytes());
        out.extend_from_slice(&(dir.len() as u32).to_le_bytes());
        out.extend_from_slice(self.config.as_bytes());
        out.extend_from_slice(dir);
        Ok(out)
    }

    pub fn decode(payload: &[u8]) -> Result<InitRequest, PayloadError> {
        let mut fields = Fields::new(FrameKind::INIT, payload);
        let config_len = fields.u32("the config's length")? as usize;
        let dir_len = fields.u32("the data directory's length")? as usize;
        let config = fields.text(config_len, "the config")?.to_owned();
        let dir = fields.bytes(dir_len, "the data directory")?;
        fields.end()?;
        Ok(InitRequest { config, data_dir: crate::paths::from_bytes(dir) })
    }
}

/// A request to call handler `name` of `kind` with `input`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvokeRequest<'a> {
    pub kind: CapabilityKind,
    pub name: &'a str,
    pub input: &'a [u8],
}

impl<'a> InvokeRequest<'a> {
    /// Writes the payload into `out`, which is cleared first, so that a caller can reuse one buffer.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), PayloadError> {
        encode_named(FrameKind::INVOKE, Some(self.kind), self.name, self.input, out)
    }

    pub fn decode(payload: &'a [u8]) -> Result<InvokeRequest<'a>, PayloadError> {
        let mut fields = Fields::new(FrameKind::INVOKE, payload);
        let value = fields.u8("the capability kind")?;
        let kind = CapabilityKind::from_abi(u32::from(value))
            .ok_or_else(|| fields.malformed(format!("capability kind {value} is no AISOPOD_CAPABILITY_* value")))?;
        let (name, input) = decode_named(fields, "the capability name")?;
        Ok(InvokeRequest { kind, name, input })
    }
}

/// A request to run the hook for `event` with `input`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmitRequest<'a> {
    pub event: &'a str,
    pub input: &'a [u8],
}

impl<'a> EmitRequest<'a> {
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), PayloadError> {
        encode_named(FrameKind::EMIT, None, self.event, self.input, out)
    }

    pub fn decode(payload: &'a [u8]) -> Result<EmitRequest<'a>, PayloadError> {
        let (event, input) = decode_named(Fields::new(FrameKind::EMIT, payload), "the event")?;
        Ok(EmitRequest { event, input })
    }
}

fn encode_named(
    kind: FrameKind,
    capability: Option<CapabilityKind>,
    name: &str,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), PayloadError> {
    let unencodable = |why: String| PayloadError::Unencodable { kind, why };
    if !(1..=CAPABILITY_NAME_MAX_LEN).contains(&name.len()) {
        return Err(unencodable(format!("a name of {} bytes, outside 1 to {CAPABILITY_NAME_MAX_LEN}", name.len())));
    }
    let total = 2 + name.len() + input.len();
    if total > MAX_PAYLOAD_LEN as usize {
        return Err(unencodable(format!(
            "an input of {} bytes makes the payload {total} bytes, more than the maximum {MAX_PAYLOAD_LEN}",
            input.len()
        )));
    }
    out.clear();
    out.reserve(total);
    if let Some(capability) = capability {
        out.push(capability.abi() as u8);
    }
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(input);
    Ok(())
}

fn decode_named<'a>(mut fields: Fields<'a>, what: &'static str) -> Result<(&'a str, &'a [u8]), PayloadError> {
    let len = usize::from(fields.u8(format_args!("{what}'s length"))?);
    if len == 0 {
        return Err(fields.malformed(format!("{what} is empty")));
    }
    let name = fields.text(len, what)?;
    let input = fields.bytes(fields.payload.len() - fields.at, "the input")?;
    Ok((name, input))
}

/// The reply to a hosting request: a status, its message, and a body that depends on the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallResult {
    pub status: Status,
    pub message: String,
    pub body: Vec<u8>,
}

impl CallResult {
    /// Success with `body`.
    pub fn ok(body: Vec<u8>) -> CallResult {
        CallResult { status: Status::Ok, message: String::new(), body }
    }

    /// A failure: `status` (not `Ok`) and `message`.
    pub fn failed(status: Status, message: impl Into<String>) -> CallResult {
        CallResult { status, message: message.into(), body: Vec::new() }
    }

    /// The `Result` frame replying to request `request_id`.
    pub fn frame(&self, request_id: u64) -> Frame {
        let mut out = Vec::with_capacity(8 + self.message.len() + self.body.len());
        out.extend_from_slice(&(self.status as u32).to_le_bytes());
        out.extend_from_slice(&(self.message.len() as u32).to_le_bytes());
        out.extend_from_slice(self.message.as_bytes());
        out.extend_from_slice(&self.body);
        Frame::new(FrameKind::RESULT, request_id, out)
    }

    pub fn decode(payload: &[u8]) -> Result<CallResult, PayloadError> {
        let mut fields = Fields::new(FrameKind::RESULT, payload);
        let value = fields.u32("the status")?;
        let status = Status::from_u32(value)
            .ok_or_else(|| fields.malformed(format!("the status is {value}, which is no aisopod_status")))?;
        let message_len = fields.u32("the message's length")? as usize;
        let message = fields.text(message_len, "the message")?.to_owned();
        let body = fields.bytes(fields.payload.len() - fields.at, "the body")?.to_vec();
        Ok(CallResult { status, message, body })
    }
}

/// The capability names of a `Load` result's body.
pub fn encode_loaded(capabilities: &PerKind<Vec<String>>) -> Vec<u8> {
    let mut out = Vec::new();
    encode_capabilities(capabilities, &mut out);
    out
}

/// Reads the body [`encode_loaded`] wrote.
pub fn decode_loaded(body: &[u8]) -> Result<PerKind<Vec<String>>, PayloadError> {
    let mut fields = Fields::new(FrameKind::RESULT, body);
    let capabilities = decode_capabilities(&mut fields)?;
    fields.end()?;
    Ok(capabilities)
}

/// A log message of the hosted plugin (or of the loader code in the helper).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub level: LogLevel,
    pub source: String,
    pub message: String,
}

impl LogRecord {
    /// The `Log` frame. A source longer than 255 bytes is cut, and the message to what fits a frame.
    pub fn frame(&self) -> Frame {
        let source = prefix(&self.source, 255);
        let message = prefix(&self.message, MAX_PAYLOAD_LEN as usize - 2 - source.len());
        let mut out = Vec::with_capacity(2 + source.len() + message.len());
        out.push(self.level as u8);
        out.push(source.len() as u8);
        out.extend_from_slice(source.as_bytes());
        out.extend_from_slice(message.as_bytes());
        Frame::new(FrameKind::LOG, 0, out)
    }

    pub fn decode(payload: &[u8]) -> Result<LogRecord, PayloadError> {
        let mut fields = Fields::new(FrameKind::LOG, payload);
        let level = LogLevel::from_abi(u32::from(fields.u8("the level")?));
        let source_len = usize::from(fields.u8("the source's length")?);
        let source = fields.text(source_len, "the source")?.to_owned();
        let message = fields.text(fields.payload.len() - fields.at, "the message")?.to_owned();
        Ok(LogRecord { level, source, message })
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosting_payloads_round_trip() {
        let load = LoadRequest {
            plugin_dir: PathBuf::from("/plugins/echo"),
            host_version: "1.2.3".to_owned(),
            limits: ResourceLimits { address_space: 1 << 30, cpu_seconds: 5, open_files: 64 },
            sandbox: Some(Sandbox {
                require: true,
                permissions: Permissions {
                    read: vec!["/etc/app".into()],
                    write: vec!["/tmp/a".into(), "/tmp/b".into()],
                    network: false,
                    subprocess: true,
                },
            }),
        };
        assert_eq!(LoadRequest::decode(&load.encode().unwrap()), Ok(load));
        let init = InitRequest { config: "{\"a\": 1}".to_owned(), data_dir: PathBuf::from("/data") };
        assert_eq!(InitRequest::decode(&init.encode().unwrap()), Ok(init));
        let mut buffer = Vec::new();
        let invoke = InvokeRequest { kind: CapabilityKind::Provider, name: "p.q", input: b"\x00in" };
        invoke.encode_into(&mut buffer).unwrap();
        assert_eq!(buffer[..5], [3, 3, b'p', b'.', b'q']);
        assert_eq!(InvokeRequest::decode(&buffer), Ok(invoke));
        let emit = EmitRequest { event: "on_start", input: b"" };
        emit.encode_into(&mut buffer).unwrap();
        assert_eq!(EmitRequest::decode(&buffer), Ok(emit));
        let result = CallResult { status: Status::PluginError, message: "failed".to_owned(), body: vec![1, 2] };
        assert_eq!(CallResult::decode(&result.frame(9).payload), Ok(result));
        let mut capabilities = PerKind::<Vec<String>>::default();
        capabilities[CapabilityKind::Hook] = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(decode_loaded(&encode_loaded(&capabilities)), Ok(capabilities));
        let log = LogRecord { level: LogLevel::Warn, source: "echo".to_owned(), message: "héllo".to_owned() };
        let frame = log.frame();
        assert_eq!((frame.kind, frame.request_id), (FrameKind::LOG, 0));
        assert_eq!(LogRecord::decode(&frame.payload), Ok(log));
    }

    #[test]
    fn malformed_hosting_payloads_name_the_field() {
        let why = |result: Result<InvokeRequest<'_>, PayloadError>| match result {
            Err(PayloadError::Malformed { why, .. }) => why,
            other => panic!("{other:?}"),
        };
        assert_eq!(why(InvokeRequest::decode(&[9, 1, b'x'])), "capability kind 9 is no AISOPOD_CAPABILITY_* value");
        assert_eq!(why(InvokeRequest::decode(&[0, 0])), "the capability name is empty");
        assert_eq!(
            why(InvokeRequest::decode(&[0, 5, b'x'])),
            "it ends after 3 bytes, inside the capability name (bytes 2 to 7)"
        );
        let mut buffer = Vec::new();
        let long = "n".repeat(CAPABILITY_NAME_MAX_LEN + 1);
        let error = InvokeRequest { kind: CapabilityKind::Tool, name: &long, input: b"" }.encode_into(&mut buffer);
        assert!(matches!(error, Err(PayloadError::Unencodable { .. })), "{error:?}");
        assert!(CallResult::decode(&[0x99, 0x99, 0, 0, 0, 0, 0, 0]).is_err());
        assert_eq!(prefix("aé", 2), "a");
    }
}
