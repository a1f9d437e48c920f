use super::*;
use std::path::{Path, PathBuf};

use crate::plugin::LoadStep;

fn decode_all(bytes: &[u8]) -> Result<Vec<Frame>, FrameError> {
    let mut decoder = Decoder::new();
    let mut input = bytes;
    let mut frames = Vec::new();
    while let Some(frame) = decoder.decode(&mut input)? {
        frames.push(frame);
    }
    assert!(input.is_empty(), "the decoder left {} bytes of input", input.len());
    decoder.finish()?;
    Ok(frames)
}

fn header(length: u32, kind: u16, flags: u16, request_id: u64) -> Vec<u8> {
    Header { length, kind: FrameKind(kind), flags, request_id }.encode().to_vec()
}

#[test]
fn the_header_is_laid_out_as_documented() {
    let bytes = Frame::new(FrameKind::PING, 0x0102_0304_0506_0708, *b"abc").encode().unwrap();
    assert_eq!(bytes, [3, 0, 0, 0, 0x10, 0x00, 0, 0, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, b'a', b'b', b'c'],);
}

#[test]
fn every_kind_round_trips_whole_and_byte_by_byte() {
    let mut frames: Vec<Frame> = FrameKind::KNOWN
        .iter()
        .enumerate()
        .map(|(i, &kind)| Frame::new(kind, i as u64 * 1000, vec![i as u8; i * 3]))
        .collect();
    frames.push(Frame::new(FrameKind(0x7777), u64::MAX, Vec::new()));
    frames.push(Frame::handshake(&Handshake::ours()));
    let mut stream = Vec::new();
    for frame in &frames {
        frame.encode_into(&mut stream).unwrap();
    }
    assert_eq!(decode_all(&stream).unwrap(), frames);

    let mut decoder = Decoder::new();
    let mut decoded = Vec::new();
    for byte in stream.chunks(1) {
        let mut input = byte;
        while let Some(frame) = decoder.decode(&mut input).unwrap() {
            decoded.push(frame);
        }
    }
    decoder.finish().unwrap();
    assert_eq!(decoded, frames);
}

#[test]
fn two_frames_in_one_chunk_come_out_one_call_each() {
    let mut stream = Frame::new(FrameKind::PING, 1, *b"one").encode().unwrap();
    Frame::new(FrameKind::PING, 2, *b"two").encode_into(&mut stream).unwrap();
    let mut decoder = Decoder::new();
    let mut input = &stream[..];
    assert_eq!(decoder.decode(&mut input).unwrap().unwrap().request_id, 1);
    assert_eq!(input.len(), HEADER_LEN + 3);
    assert_eq!(decoder.decode(&mut input).unwrap().unwrap().request_id, 2);
    assert!(input.is_empty());
    assert_eq!(decoder.decode(&mut input).unwrap(), None);
}

#[test]
fn the_largest_payload_is_accepted_and_one_more_byte_is_refused() {
    let largest = Frame::new(FrameKind::PING, 9, vec![7; MAX_PAYLOAD_LEN as usize]);
    let bytes = largest.encode().unwrap();
    assert_eq!(decode_all(&bytes).unwrap(), [largest]);

    let too_large = Frame::new(FrameKind::PING, 9, vec![7; MAX_PAYLOAD_LEN as usize + 1]);
    let error = too_large.encode().unwrap_err();
    assert_eq!(
        error,
        FrameError::TooLarge { kind: FrameKind::PING, request_id: 9, length: u64::from(MAX_PAYLOAD_LEN) + 1 }
    );
    let mut out = vec![1, 2];
    assert!(too_large.encode_into(&mut out).is_err());
    assert_eq!(out, [1, 2], "a failed encode wrote something");
}

#[test]
fn an_oversized_length_is_refused_from_the_header_alone_before_allocating() {
    let bytes = header(u32::MAX, 0x0010, 0, 5);
    let mut decoder = Decoder::new();
    let error = decoder.decode(&mut &bytes[..]).unwrap_err();
    assert_eq!(error, FrameError::TooLarge { kind: FrameKind::PING, request_id: 5, length: u64::from(u32::MAX) });
    assert_eq!(
        error.to_string(),
        "a frame of Ping (0x0010) for request 5 declares a payload of 4294967295 bytes, more than the maximum 16777216"
    );
    assert_eq!(decoder.allocated(), 0);
}

#[test]
fn a_payload_buffer_grows_with_what_arrives_not_with_what_is_declared() {
    let mut bytes = header(MAX_PAYLOAD_LEN, 0x0010, 0, 1);
    bytes.extend_from_slice(&[0; 100]);
    let mut decoder = Decoder::new();
    assert_eq!(decoder.decode(&mut &bytes[..]).unwrap(), None);
    assert!(decoder.allocated() <= PAYLOAD_MIN_RESERVE, "{} bytes allocated for 100", decoder.allocated());
    let more = vec![0; 1 << 20];
    decoder.decode(&mut &more[..]).unwrap();
    assert!(decoder.allocated() <= 2 * ((1 << 20) + 100), "{} bytes allocated for 1 MiB", decoder.allocated());

    let small = Frame::new(FrameKind::PING, 1, vec![1; 10]).encode().unwrap();
    let mut decoder = Decoder::new();
    decoder.decode(&mut &small[..HEADER_LEN + 5]).unwrap();
    assert_eq!(decoder.allocated(), 10, "a small payload's buffer is its length");
}

#[test]
fn unknown_flags_are_refused_and_named() {
    let bytes = header(0, 0x0011, 0x8001, 77);
    let error = decode_all(&bytes).unwrap_err();
    assert_eq!(error, FrameError::UnknownFlags { kind: FrameKind::PONG, request_id: 77, flags: 0x8001 });
    assert_eq!(
        error.to_string(),
        "a frame of Pong (0x0011) for request 77 sets flags 0x8001; protocol version 1 defines none"
    );
}

#[test]
fn a_decode_error_is_final() {
    let mut bytes = header(0, 0x0010, 1, 3);
    bytes.extend(Frame::new(FrameKind::PING, 4, Vec::new()).encode().unwrap());
    let mut decoder = Decoder::new();
    let mut input = &bytes[..];
    let first = decoder.decode(&mut input).unwrap_err();
    assert_eq!(decoder.decode(&mut input).unwrap_err(), first);
    assert_eq!(decoder.finish().unwrap_err(), first);
}

#[test]
fn a_stream_that_ends_inside_a_frame_is_truncated() {
    let frame = Frame::new(FrameKind::PING, 3, *b"hello").encode().unwrap();
    let mut decoder = Decoder::new();
    decoder.decode(&mut &frame[..7]).unwrap();
    let error = decoder.finish().unwrap_err();
    assert_eq!(error, FrameError::Truncated { kind: None, received: 7, expected: HEADER_LEN });
    assert_eq!(error.to_string(), "the stream ended inside a frame header: 7 of its 16 bytes arrived");

    decoder.decode(&mut &frame[7..HEADER_LEN + 2]).unwrap();
    let error = decoder.finish().unwrap_err();
    assert_eq!(error, FrameError::Truncated { kind: Some(FrameKind::PING), received: 18, expected: 21 });
    assert_eq!(error.to_string(), "the stream ended inside a frame of Ping (0x0010): 18 of its 21 bytes arrived");

    assert_eq!(decoder.decode(&mut &frame[HEADER_LEN + 2..]).unwrap().unwrap().payload, b"hello");
    decoder.finish().unwrap();
}

#[test]
fn kinds_display_their_name_or_their_number() {
    assert_eq!(FrameKind::HANDSHAKE.to_string(), "Handshake (0x0001)");
    assert_eq!(FrameKind(0x7777).to_string(), "unknown kind 0x7777");
    for kind in FrameKind::KNOWN {
        assert!(kind.name().is_some());
    }
}

#[test]
fn our_handshake_round_trips_and_is_accepted() {
    let ours = Handshake::ours();
    assert_eq!(ours.loader_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(ours.abi_version, AISOPOD_ABI_VERSION);
    let payload = ours.encode();
    assert_eq!(&payload[..8], b"AISOPOD\0");
    assert_eq!(payload[8..10], PROTOCOL_VERSION.to_le_bytes());
    assert_eq!(usize::from(u16::from_le_bytes([payload[10], payload[11]])), LOADER_VERSION.len());
    assert_eq!(payload[12..16], AISOPOD_ABI_VERSION.to_le_bytes());
    assert_eq!(&payload[16..], LOADER_VERSION.as_bytes());
    assert_eq!(Handshake::accept(&payload).unwrap(), ours);
}

#[test]
fn each_mismatch_names_both_versions() {
    let ours = Handshake::ours();
    let newer = Handshake { protocol_version: PROTOCOL_VERSION + 1, ..ours.clone() };
    let error = Handshake::accept(&newer.encode()).unwrap_err();
    assert_eq!(error, HandshakeError::ProtocolMismatch { ours: 1, theirs: 2 });
    assert_eq!(error.to_string(), "protocol version mismatch: the peer speaks version 2, this side speaks version 1");
    assert_eq!(newer.check().unwrap_err(), error);

    let error = Handshake::accept(&Handshake { abi_version: 7, ..ours.clone() }.encode()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "plugin ABI version mismatch: the peer has ABI version 7, this side has ABI version {AISOPOD_ABI_VERSION}"
        )
    );

    let other = Handshake { loader_version: "9.9.9-rc.1".into(), ..ours };
    let error = Handshake::accept(&other.encode()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("loader version mismatch: the peer is aisopod-loader 9.9.9-rc.1, this side is aisopod-loader {LOADER_VERSION}")
    );
}

#[test]
fn a_handshake_without_the_magic_is_not_one() {
    for payload in [&b""[..], b"AISOPOD\0\x01", b"AISOPOD\x01\x01\x00rest", b"PING"] {
        assert_eq!(
            Handshake::decode(payload).unwrap_err(),
            HandshakeError::NotAHandshake { length: payload.len() },
            "{payload:?}"
        );
    }
    assert_eq!(
        HandshakeError::NotAHandshake { length: 4 }.to_string(),
        "the peer's handshake (4 bytes) does not start with the aisopod magic and a protocol version"
    );
}

#[test]
fn a_malformed_handshake_says_what_is_wrong() {
    let good = Handshake::ours().encode();
    let malformed = |payload: &[u8]| match Handshake::decode(payload) {
        Err(HandshakeError::Malformed { why }) => why,
        other => panic!("{payload:?} gave {other:?}"),
    };
    assert_eq!(malformed(&good[..12]), "12 bytes, fewer than the 16 of its fixed part");
    assert_eq!(
        malformed(&good[..good.len() - 1]),
        format!(
            "{} bytes after the fixed part where the loader version's length says {}",
            LOADER_VERSION.len() - 1,
            LOADER_VERSION.len()
        )
    );
    let mut trailing = good.clone();
    trailing.push(b'x');
    assert!(malformed(&trailing).starts_with(&format!("{} bytes after the fixed part", LOADER_VERSION.len() + 1)));

    let mut empty_version = good[..16].to_vec();
    empty_version[10..12].copy_from_slice(&0u16.to_le_bytes());
    assert_eq!(malformed(&empty_version), "a loader version of 0 bytes, outside 1 to 64");

    let long = Handshake { loader_version: "1".repeat(65), ..Handshake::ours() };
    assert_eq!(malformed(&long.encode()), "a loader version of 65 bytes, outside 1 to 64");

    let mut not_utf8 = good[..16].to_vec();
    not_utf8[10..12].copy_from_slice(&2u16.to_le_bytes());
    not_utf8.extend_from_slice(&[0xff, 0xfe]);
    assert!(malformed(&not_utf8).starts_with("a loader version that is not UTF-8"), "{}", malformed(&not_utf8));
}

#[test]
fn error_replies_round_trip() {
    let reply = ErrorReply::new(ErrorCode::UNKNOWN_KIND, "no such kind: unknown kind 0x7777");
    let payload = reply.encode();
    assert_eq!(payload[..4], [1, 0, 0, 0]);
    assert_eq!(ErrorReply::decode(&payload), Some(reply.clone()));
    let frame = Frame::error(12, &reply);
    assert_eq!((frame.kind, frame.request_id), (FrameKind::ERROR, 12));
    assert_eq!(ErrorReply::decode(&[1, 0, 0]), None);
    assert_eq!(ErrorReply::decode(&[1, 0, 0, 0, 0xff]), None);
    assert_eq!(ErrorReply::decode(&[3, 0, 0, 0]), Some(ErrorReply::new(ErrorCode::BAD_FRAME, "")));
}

fn probe_request(init_config: Option<&str>) -> ProbeRequest {
    ProbeRequest {
        plugin_dir: PathBuf::from("/plugins/hello"),
        host_version: "1.2.3".to_owned(),
        init_config: init_config.map(str::to_owned),
    }
}

fn probe_malformed(payload: &[u8]) -> String {
    match ProbeRequest::decode(payload) {
        Err(PayloadError::Malformed { kind, why }) => {
            assert_eq!(kind, FrameKind::PROBE);
            why
        }
        other => panic!("not malformed: {other:?}"),
    }
}

#[test]
fn a_probe_request_is_laid_out_as_documented_and_round_trips() {
    let request = probe_request(Some("{}"));
    let payload = request.encode().unwrap();
    let mut expected = vec![1, 0, 5, 0, 14, 0, 0, 0, 2, 0, 0, 0];
    expected.extend_from_slice(b"1.2.3/plugins/hello{}");
    assert_eq!(payload, expected);
    assert_eq!(ProbeRequest::decode(&payload).unwrap(), request);

    let without_init = probe_request(None);
    let payload = without_init.encode().unwrap();
    assert_eq!(payload[..12], [0, 0, 5, 0, 14, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(ProbeRequest::decode(&payload).unwrap(), without_init);
    // An empty config is still a request to call init.
    let empty = probe_request(Some(""));
    assert_eq!(ProbeRequest::decode(&empty.encode().unwrap()).unwrap(), empty);

    let frame = request.frame(77).unwrap();
    assert_eq!((frame.kind, frame.request_id), (FrameKind::PROBE, 77));
}

#[cfg(unix)]
#[test]
fn a_probe_request_keeps_a_path_that_is_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let plugin_dir = Path::new(std::ffi::OsStr::from_bytes(b"/plugins/caf\xe9")).to_path_buf();
    let request = ProbeRequest { plugin_dir, ..probe_request(None) };
    assert_eq!(ProbeRequest::decode(&request.encode().unwrap()).unwrap(), request);
}

#[test]
fn a_malformed_probe_request_is_refused_naming_the_field() {
    let good = probe_request(Some("{}")).encode().unwrap();
    let with = |at: usize, bytes: &[u8]| {
        let mut payload = good.clone();
        payload[at..at + bytes.len()].copy_from_slice(bytes);
        payload
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (with(0, &[2]), "the init flag is 2, neither 0 nor 1"),
        (with(1, &[1]), "the reserved byte is 1, not 0"),
        (with(2, &[0, 0]), "a host version of 0 bytes, outside 1 to 64"),
        (with(2, &[65, 0]), "a host version of 65 bytes, outside 1 to 64"),
        (with(4, &[0, 0, 0, 0]), "a plugin directory of 0 bytes, outside 1 to 4096"),
        (with(4, &[1, 16, 0, 0]), "a plugin directory of 4097 bytes, outside 1 to 4096"),
        (with(0, &[0]), "a config of 2 bytes with the init flag 0"),
        (with(8, &[3, 0, 0, 0]), "it ends after 33 bytes, inside the config (bytes 31 to 34)"),
        (with(8, &[0xff, 0xff, 0xff, 0xff]), "it ends after 33 bytes, inside the config (bytes 31 to 4294967326)"),
        (
            with(12, &[0xff]),
            "the host version at byte 12 is not UTF-8 (invalid utf-8 sequence of 1 bytes from index 0)",
        ),
        (with(17, &[0]), "the plugin directory holds a NUL byte at its byte 0"),
        (with(32, &[0xc3]), "the config at byte 31 is not UTF-8 (incomplete utf-8 byte sequence from index 1)"),
        ([&good[..], b"x"].concat(), "1 bytes follow its last field, at byte 33"),
        (good[..3].to_vec(), "it ends after 3 bytes, inside the host version's length (bytes 2 to 4)"),
    ];
    for (payload, why) in cases {
        assert_eq!(probe_malformed(&payload), why, "{payload:?}");
    }
    // Every strict prefix is refused, none panics.
    for len in 0..good.len() {
        assert!(ProbeRequest::decode(&good[..len]).is_err(), "a prefix of {len} bytes decoded");
    }
}

#[test]
fn a_probe_request_that_breaks_a_bound_is_not_encoded() {
    let unencodable = |request: ProbeRequest| match request.encode() {
        Err(PayloadError::Unencodable { kind: FrameKind::PROBE, why }) => why,
        other => panic!("encoded: {other:?}"),
    };
    assert_eq!(
        unencodable(ProbeRequest { host_version: String::new(), ..probe_request(None) }),
        "a host version of 0 bytes, outside 1 to 64"
    );
    assert_eq!(
        unencodable(ProbeRequest { plugin_dir: PathBuf::new(), ..probe_request(None) }),
        "a plugin directory of 0 bytes, outside 1 to 4096"
    );
    assert_eq!(
        unencodable(ProbeRequest { plugin_dir: PathBuf::from("/a\0b"), ..probe_request(None) }),
        "the plugin directory holds a NUL byte at its byte 2"
    );
    let huge = "x".repeat(MAX_PAYLOAD_LEN as usize);
    assert!(unencodable(probe_request(Some(&huge))).starts_with("a config of 16777216 bytes makes the payload"));
}

fn failed_report() -> ProbeReport {
    let mut capabilities = PerKind::<Vec<String>>::default();
    capabilities[CapabilityKind::Tool] = vec!["echo".to_owned(), "upper".to_owned()];
    capabilities[CapabilityKind::Hook] = vec!["ping".to_owned()];
    ProbeReport {
        outcome: ProbeOutcome::Failed {
            step: ProbeStep::Init,
            status: Status::InitFailed,
            message: "plugin 'p': init returned 3".to_owned(),
        },
        steps: ProbeStep::ALL
            .iter()
            .enumerate()
            .map(|(i, &step)| StepTiming { step, nanos: 1000 * i as u64 + 1 })
            .collect(),
        capabilities,
    }
}

fn report_malformed(payload: &[u8]) -> String {
    match ProbeReport::decode(payload) {
        Err(PayloadError::Malformed { kind, why }) => {
            assert_eq!(kind, FrameKind::PROBE_REPORT);
            why
        }
        other => panic!("not malformed: {other:?}"),
    }
}

#[test]
fn a_probe_report_is_laid_out_as_documented_and_round_trips() {
    let ok = ProbeReport {
        outcome: ProbeOutcome::Ok,
        steps: vec![StepTiming { step: ProbeStep::Manifest, nanos: 0x0102 }],
        capabilities: PerKind::from_fn(
            |kind| if kind == CapabilityKind::Command { vec!["go".to_owned()] } else { vec![] },
        ),
    };
    let payload = ok.encode().unwrap();
    #[rustfmt::skip]
    let expected = [
        0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        1, 0, 0x02, 0x01, 0, 0, 0, 0, 0, 0,
        0, 0, 1, 0, 2, b'g', b'o', 0, 0, 0, 0, 0, 0,
    ];
    assert_eq!(payload, expected);
    assert_eq!(ProbeReport::decode(&payload).unwrap(), ok);

    let failed = failed_report();
    let payload = failed.encode().unwrap();
    assert_eq!(payload[..12], [11, 0, 14, 0, 0x2c, 1, 0, 0, 27, 0, 0, 0]);
    assert_eq!(ProbeReport::decode(&payload).unwrap(), failed);
    let frame = failed.frame(5).unwrap();
    assert_eq!((frame.kind, frame.request_id), (FrameKind::PROBE_REPORT, 5));
    for len in 0..payload.len() {
        assert!(ProbeReport::decode(&payload[..len]).is_err(), "a prefix of {len} bytes decoded");
    }
}

#[test]
fn a_malformed_probe_report_is_refused_naming_the_field_or_rule() {
    let good = failed_report().encode().unwrap();
    let with = |at: usize, bytes: &[u8]| {
        let mut payload = good.clone();
        payload[at..at + bytes.len()].copy_from_slice(bytes);
        payload
    };
    let steps_end = 12 + 10 * 14;
    // Records 4, 5 and 6 are the integrity check (code 13), the signature check (code 14) and dlopen (code 5):
    // in the order they ran.
    let swapped = |first: usize, second: usize| {
        let mut payload = good.clone();
        let (a, b) = (12 + 10 * first, 12 + 10 * second);
        let record = payload[a..a + 2].to_vec();
        payload.copy_within(b..b + 2, a);
        payload[b..b + 2].copy_from_slice(&record);
        payload
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (with(2, &[15, 0]), "15 steps, more than the 14 a probe has"),
        (with(8, &[1, 0, 1, 0]), "a message of 65537 bytes, more than the maximum 65536"),
        (with(12, &[15, 0]), "step record 0 has step code 15, which is no step"),
        (swapped(5, 6), "step signature is listed after step dlopen"),
        (swapped(4, 5), "step integrity is listed after step signature"),
        (with(22, &[1, 0]), "step manifest is listed after step manifest"),
        (with(0, &[0, 0]), "no step failed, yet the status is 300 and the message 27 bytes long"),
        (with(0, &[99, 0]), "the failed step is 99, which is no step"),
        (with(4, &[0x99, 0x99, 0, 0]), "the status is 39321, which is no aisopod_status"),
        (with(4, &[0, 0, 0, 0]), "step init failed with status 0 (Ok)"),
        (with(steps_end + 27 + 3, b"zzzz"), "tool 'upper' is listed after tool 'zzzz'"),
        (
            with(steps_end + 27 + 3, b"e ho"),
            "tool \"e ho\": a capability name must match [A-Za-z0-9_][A-Za-z0-9_.:/-]*",
        ),
        (
            with(steps_end + 27 + 3, &[0xff]),
            "tool name 0 at byte 182 is not UTF-8 (invalid utf-8 sequence of 1 bytes from index 0)",
        ),
        ([&good[..], &[0]].concat(), "1 bytes follow its last field, at byte 205"),
    ];
    for (payload, why) in cases {
        assert_eq!(report_malformed(&payload), why, "{payload:?}");
    }
    let mut not_ran = failed_report();
    not_ran.steps.pop();
    not_ran.steps.pop();
    assert_eq!(
        not_ran.encode(),
        Err(PayloadError::Unencodable {
            kind: FrameKind::PROBE_REPORT,
            why: "the failed step init is not among the steps that ran".to_owned()
        })
    );
}

#[test]
fn probe_progress_round_trips_and_names_what_is_wrong() {
    let progress = ProbeProgress(StepTiming { step: ProbeStep::Init, nanos: 0x0102_0304_0506_0708 });
    let frame = progress.frame(9);
    assert_eq!((frame.kind, frame.request_id), (FrameKind::PROBE_PROGRESS, 9));
    assert_eq!(frame.payload, [ProbeStep::Init.code().to_le_bytes().as_slice(), &[8, 7, 6, 5, 4, 3, 2, 1]].concat());
    assert_eq!(ProbeProgress::decode(&frame.payload), Ok(progress));
    let malformed = |payload: &[u8]| match ProbeProgress::decode(payload) {
        Err(PayloadError::Malformed { kind, why }) => {
            assert_eq!(kind, FrameKind::PROBE_PROGRESS);
            why
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(malformed(&[99, 0, 0, 0, 0, 0, 0, 0, 0, 0]), "step code 99 is no step");
    assert_eq!(malformed(&[1, 0, 0]), "it ends after 3 bytes, inside the step's duration (bytes 2 to 10)");
    assert_eq!(malformed(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), "1 bytes follow its last field, at byte 10");
}

#[test]
fn step_codes_never_change_and_a_step_added_later_takes_the_next_one() {
    let codes: Vec<u16> = ProbeStep::ALL.iter().map(|step| step.code()).collect();
    assert_eq!(codes, [1, 2, 3, 4, 13, 14, 5, 6, 7, 8, 9, 10, 11, 12]);
    for step in ProbeStep::ALL {
        assert_eq!(ProbeStep::from_code(step.code()), Some(step));
    }
    let mut sorted = ProbeStep::ALL;
    sorted.sort();
    assert_eq!(sorted, ProbeStep::ALL, "steps order as they run");
}

#[test]
fn the_step_after_each_step_skips_init_unless_the_probe_calls_it() {
    let load = |step| ProbeStep::Load(step);
    assert_eq!(ProbeStep::Manifest.next(false), Some(load(LoadStep::HostVersion)));
    assert_eq!(load(LoadStep::ElfHeader).next(false), Some(load(LoadStep::Integrity)));
    assert_eq!(load(LoadStep::Integrity).next(false), Some(load(LoadStep::Signature)));
    assert_eq!(load(LoadStep::Signature).next(false), Some(load(LoadStep::Dlopen)));
    assert_eq!(load(LoadStep::Dlopen).next(false), Some(load(LoadStep::AbiGate)));
    assert_eq!(load(LoadStep::Registration).next(false), Some(ProbeStep::Unload));
    assert_eq!(load(LoadStep::Registration).next(true), Some(ProbeStep::Init));
    assert_eq!(ProbeStep::Init.next(true), Some(ProbeStep::Unload));
    assert_eq!(ProbeStep::Unload.next(true), None);
}
