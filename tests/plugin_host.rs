//! The helper executable, `aisopod-plugin-host`, started the way the loader will start it: over a socketpair,
//! with `posix_spawn`, the helper's end the only descriptor it inherits. Every wait has a deadline, so a helper
//! that hangs fails the test instead of hanging it.

mod plugin_host_harness;

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use aisopod_loader::isolation::helper::{HelperExit, CHANNEL_FD_OPTION};
use aisopod_loader::isolation::protocol::{
    Decoder, ErrorCode, ErrorReply, Frame, FrameKind, Handshake, HEADER_LEN, LOADER_VERSION, MAX_PAYLOAD_LEN,
    PROTOCOL_VERSION,
};
use plugin_host_harness::{
    error_reply, ping, socketpair, spawn, stderr_file, Helper, HELPER, TIMEOUT, VALGRIND_TIMEOUT,
};

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
    // Every ping is written before any reply is read; replies may come in any order.
    helper.send_bytes(&all);
    let mut pongs: Vec<Frame> = pings.iter().map(|_| helper.receive()).collect();
    pongs.sort_by_key(|pong| pong.request_id);
    for (sent, pong) in pings.iter().zip(&pongs) {
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
    let mut ids: Vec<u64> = (0..8).map(|_| helper.receive().request_id).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..8).collect::<Vec<u64>>());
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
