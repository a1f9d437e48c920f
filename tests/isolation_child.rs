//! The loader's side of the helper process, with real processes: the real helper, and fake helpers written as
//! shell scripts that crash, exit, hang, flood stderr or report what they inherited. The lookup of the helper
//! runs in a child process of this test (this test binary, run again), so that no test changes the
//! environment of another.

#![cfg(target_os = "linux")]

mod common;

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aisopod_loader::isolation::child::{Child, Ending, Failure, STDERR_TAIL_LEN};
use aisopod_loader::isolation::locate::{locate, HELPER_ENV, HELPER_NAME, INSTALL_SUBDIR};
use aisopod_loader::isolation::protocol::{ErrorCode, ErrorReply, FrameKind, Handshake};
use aisopod_loader::Status;

const HELPER: &str = env!("CARGO_BIN_EXE_aisopod-plugin-host");
/// The deadline of an exchange that should succeed.
const TIMEOUT: Duration = Duration::from_secs(20);

fn deadline() -> Instant {
    Instant::now() + TIMEOUT
}

/// A new, empty directory for one test, by its real path.
fn temp_dir(name: &str) -> PathBuf {
    std::fs::canonicalize(common::temp_dir(&format!("isolation-child-{name}"))).unwrap()
}

/// Writes an executable shell script named `name` with `body` and returns its path.
fn fake_helper(name: &str, body: &str) -> PathBuf {
    let path = temp_dir(name).join(HELPER_NAME);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Starts `helper`, expecting the start to fail, and returns the failure.
fn spawn_failure(helper: &Path, deadline: Instant) -> Failure {
    match Child::spawn(helper, deadline) {
        Ok(child) => panic!("{} started and answered the handshake (pid {})", helper.display(), child.pid()),
        Err(failure) => failure,
    }
}

#[test]
fn the_real_helper_answers_the_handshake_and_pings_and_exits_0_when_shut_down() {
    let mut child = Child::spawn(Path::new(HELPER), deadline()).unwrap_or_else(|f| panic!("{f}: {:?}", f.outcome));
    assert_eq!(child.peer(), Some(&Handshake::ours()));
    assert!(child.outcome().is_none());

    let first = child.request(FrameKind::PING, b"hello", deadline()).unwrap();
    assert_eq!((first.kind, first.payload.as_slice()), (FrameKind::PONG, &b"hello"[..]));
    let large: Vec<u8> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
    let second = child.request(FrameKind::PING, &large, deadline()).unwrap();
    assert_eq!(second.kind, FrameKind::PONG);
    assert!(second.payload == large, "a 256 KiB ping comes back unchanged");
    assert_ne!(first.request_id, second.request_id, "each request gets its own id");

    let unknown = child.request(FrameKind(0x7777), b"", deadline()).unwrap();
    assert_eq!(unknown.kind, FrameKind::ERROR);
    let reply = ErrorReply::decode(&unknown.payload).unwrap();
    assert_eq!(reply.code, ErrorCode::UNKNOWN_KIND, "{reply:?}");
    assert!(reply.message.contains(&format!("request {}", unknown.request_id)), "{reply:?}");

    let outcome = child.shutdown(deadline());
    assert_eq!(outcome.ending, Ending::Exited(0));
    assert_eq!(outcome.ending.to_string(), "exited with code 0");
    assert_eq!(outcome.stderr_text(), "", "a clean exit writes nothing");
}

#[test]
fn dropping_a_child_ends_the_helper() {
    let child = Child::spawn(Path::new(HELPER), deadline()).unwrap();
    let pid = child.pid();
    drop(child);
    // SAFETY: signal 0 only checks whether the pid exists; the child was reaped, so it should not.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    assert!(!alive, "the helper {pid} is still there after Drop");
}

#[test]
fn a_helper_killed_by_sigsegv_is_named_with_its_stderr() {
    let helper = fake_helper("segv", "echo 'fake helper: about to crash' >&2\nkill -SEGV $$");
    let failure = spawn_failure(&helper, deadline());
    let outcome = failure.outcome.expect("the helper ended");
    assert_eq!(outcome.ending, Ending::Signaled(libc::SIGSEGV));
    assert_eq!(outcome.stderr_text(), "fake helper: about to crash\n");
    assert_eq!(failure.error.status(), Status::HelperFailed);
    let message = failure.error.message();
    assert!(message.contains(&helper.display().to_string()), "{message}");
    assert!(message.ends_with("killed by signal SIGSEGV"), "{message}");
}

#[test]
fn a_helper_that_exits_before_the_handshake_gives_its_exit_code() {
    let helper = fake_helper("exit7", "exit 7");
    let failure = spawn_failure(&helper, deadline());
    assert_eq!(failure.outcome.as_ref().map(|o| o.ending), Some(Ending::Exited(7)));
    let message = failure.error.message();
    assert!(message.contains("during the handshake"), "{message}");
    assert!(message.ends_with(&format!("the helper {} exited with code 7", helper.display())), "{message}");
}

#[test]
fn a_helper_that_never_answers_is_killed_at_the_handshake_deadline() {
    let helper = fake_helper("sleeper", "exec sleep 1000");
    let started = Instant::now();
    let failure = spawn_failure(&helper, Instant::now() + Duration::from_millis(300));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "the deadline was 300 ms, the start took {took:?}");
    let outcome = failure.outcome.expect("the helper was reaped");
    let Ending::TimedOut(limit) = outcome.ending else { panic!("{:?}", outcome.ending) };
    assert!(limit <= Duration::from_millis(300) && limit >= Duration::from_millis(250), "{limit:?}");
    assert_eq!(outcome.ending.to_string(), format!("did not finish within {} ms, killed", limit.as_millis()));
    assert_eq!(failure.error.status(), Status::Timeout);
    let message = failure.error.message();
    assert!(message.contains("did not finish the handshake within"), "{message}");
    assert!(message.ends_with("it was killed"), "{message}");
}

#[test]
fn a_helper_that_breaks_the_frame_format_is_killed() {
    // A frame header with flags 0x0004, which protocol version 1 does not define; then the helper hangs.
    let header = r"\000\000\000\000\001\000\004\000\000\000\000\000\000\000\000\000";
    let helper = fake_helper("bad-frame", &format!("printf '{header}' >&3\nexec sleep 1000"));
    let started = Instant::now();
    let failure = spawn_failure(&helper, deadline());
    assert!(started.elapsed() < Duration::from_secs(5), "killed at once, not at the deadline");
    assert_eq!(failure.outcome.map(|o| o.ending), Some(Ending::Signaled(libc::SIGKILL)));
    assert_eq!(failure.error.status(), Status::HelperFailed);
    assert_eq!(
        failure.error.message(),
        format!(
            "the helper {} broke the frame format during the handshake: a frame of Handshake (0x0001) for \
             request 0 sets flags 0x0004; protocol version 1 defines none; it was killed",
            helper.display()
        )
    );
}

#[test]
fn only_the_last_4_kib_of_stderr_are_kept() {
    // 3200 lines of 32 bytes: 100 KiB, more than the pipe holds, so the loader must read while it waits.
    let helper = fake_helper("flood", "seq -f '%031g' 0 3199 >&2\nexit 0");
    let failure = spawn_failure(&helper, deadline());
    let outcome = failure.outcome.expect("the helper ended");
    assert_eq!(outcome.ending, Ending::Exited(0));
    let expected: String = (3200 - STDERR_TAIL_LEN / 32..3200).map(|i| format!("{i:031}\n")).collect();
    assert_eq!(outcome.stderr_tail.len(), STDERR_TAIL_LEN);
    assert_eq!(outcome.stderr_text(), expected);
    assert_eq!(outcome.stderr_dropped, (100 * 1024 - STDERR_TAIL_LEN) as u64);
}

#[test]
fn no_descriptor_but_the_channel_and_stdio_reaches_the_helper() {
    // A descriptor opened without close-on-exec, as a C host may: it must not reach the helper either.
    let path = CString::new(HELPER).unwrap();
    // SAFETY: opening a file read-only with a NUL-terminated path; closed below.
    let leaky = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY) };
    assert!(leaky >= 0);
    // `ls` lists the shell's descriptors; the redirection is made in the subshell, so it changes none of them.
    let helper = fake_helper("fds", "(ls -l /proc/$$/fd >&2)\nexit 0");
    let failure = spawn_failure(&helper, deadline());
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(leaky) };
    let outcome = failure.outcome.expect("the helper ended");
    assert_eq!(outcome.ending, Ending::Exited(0), "{}", outcome.stderr_text());
    let listing = outcome.stderr_text();
    let mut fds: Vec<(u32, String)> = listing
        .lines()
        .filter_map(|line| {
            let (left, target) = line.split_once(" -> ")?;
            Some((left.rsplit(' ').next()?.parse().ok()?, target.to_owned()))
        })
        // The shell's own descriptor on the script it runs.
        .filter(|(_, target)| Path::new(target) != helper)
        .collect();
    fds.sort();
    let numbers: Vec<u32> = fds.iter().map(|(fd, _)| *fd).collect();
    assert_eq!(numbers, [0, 1, 2, 3], "{listing}");
    assert_eq!((fds[0].1.as_str(), fds[1].1.as_str()), ("/dev/null", "/dev/null"), "{listing}");
    assert!(fds[2].1.starts_with("pipe:"), "{listing}");
    assert!(fds[3].1.starts_with("socket:"), "{listing}");
}

#[test]
fn the_helper_starts_with_no_blocked_or_ignored_signals_and_the_hosts_environment() {
    // The test harness ignores SIGPIPE, as every Rust program does, and ignores SIGUSR1 and SIGTERM for this
    // test's spawn; the helper must not inherit that.
    let helper =
        fake_helper("signals", "printf '%s\\n' \"$PATH\" >&2\nexec grep -E '^Sig(Blk|Ign):' /proc/self/status >&2");
    let failure = {
        let _ignored = IgnoredSignals::new(&[libc::SIGUSR1, libc::SIGTERM]);
        spawn_failure(&helper, deadline())
    };
    let outcome = failure.outcome.expect("the helper ended");
    let text = outcome.stderr_text();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(std::env::var("PATH").unwrap().as_str()), "{text}");
    let mask = |name: &str, line: Option<&str>| {
        let value = line.and_then(|l| l.strip_prefix(name)).unwrap_or_else(|| panic!("no {name} in {text}"));
        u64::from_str_radix(value.trim(), 16).unwrap()
    };
    assert_eq!(mask("SigBlk:", lines.next()), 0, "no signal is blocked: {text}");
    let ignored = mask("SigIgn:", lines.next());
    for signal in aisopod_loader::isolation::child::DEFAULT_SIGNALS {
        assert_eq!(ignored & (1 << (signal - 1)), 0, "signal {signal} is ignored in the helper: {text}");
    }
    // Only glibc's two internal signals (32 and 33), which its posix_spawn ignores while it sets up the
    // child, may remain.
    assert_eq!(ignored & !(0b11 << 31), 0, "{text}");
}

/// Ignores `signals` in this process until dropped. The other tests' spawns may see them ignored meanwhile,
/// which is what the helper must be protected from anyway.
struct IgnoredSignals(Vec<(libc::c_int, libc::sighandler_t)>);

impl IgnoredSignals {
    fn new(signals: &[libc::c_int]) -> IgnoredSignals {
        // SAFETY: setting a disposition to SIG_IGN and keeping the previous one to restore.
        IgnoredSignals(signals.iter().map(|&s| (s, unsafe { libc::signal(s, libc::SIG_IGN) })).collect())
    }
}

impl Drop for IgnoredSignals {
    fn drop(&mut self) {
        for &(signal, previous) in &self.0 {
            // SAFETY: restoring the disposition saved in `new`.
            unsafe { libc::signal(signal, previous) };
        }
    }
}

#[test]
fn a_helper_that_is_not_executable_or_missing_cannot_start() {
    let dir = temp_dir("not-executable");
    let plain = dir.join("plain");
    std::fs::write(&plain, "#!/bin/sh\n").unwrap();
    let failure = spawn_failure(&plain, deadline());
    assert_eq!(failure.outcome, None);
    assert_eq!(failure.error.status(), Status::HelperUnavailable);
    assert_eq!(failure.error.message(), format!("cannot start the helper {}: Permission denied", plain.display()));
    let missing = dir.join("missing");
    let failure = spawn_failure(&missing, deadline());
    assert_eq!(
        failure.error.message(),
        format!("cannot start the helper {}: No such file or directory", missing.display())
    );
}

/// What [`locate`] says in a child process: `LOCATED <origin> <path>` or `FAILED <status> <message>`.
fn locate_in_child(exe: &Path, explicit: Option<&Path>, helper_env: Option<&Path>) -> String {
    let mut command = Command::new(exe);
    command.args(["locate_probe", "--exact", "--nocapture", "--test-threads", "1"]);
    command.env("AISOPOD_TEST_LOCATE_PROBE", explicit.map(|p| p.as_os_str()).unwrap_or_default());
    match helper_env {
        Some(value) => command.env(HELPER_ENV, value),
        None => command.env_remove(HELPER_ENV),
    };
    let output = command.output().unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    let line = stdout.lines().find_map(|line| line.split_once("locate-probe: ").map(|(_, result)| result));
    line.unwrap_or_else(|| panic!("no result from the probe: {stdout}")).to_owned()
}

/// The entry point of [`locate_in_child`]: it does something only in the child process that function starts.
#[test]
fn locate_probe() {
    let Some(explicit) = std::env::var_os("AISOPOD_TEST_LOCATE_PROBE") else { return };
    let explicit = (!explicit.is_empty()).then(|| PathBuf::from(explicit));
    match locate(explicit.as_deref()) {
        Ok(found) => println!("locate-probe: LOCATED {:?} {}", found.origin, found.path.display()),
        Err(e) => println!("locate-probe: FAILED {:?} {}", e.status(), e.message()),
    }
}

/// This test binary, hard-linked (or copied) into `dir`, so that the library it carries sits outside the
/// build tree.
fn test_binary_in(dir: &Path) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let copy = dir.join("isolation_child_host");
    if std::fs::hard_link(&exe, &copy).is_err() {
        std::fs::copy(&exe, &copy).unwrap();
    }
    copy
}

fn canonical_helper() -> PathBuf {
    std::fs::canonicalize(HELPER).unwrap()
}

#[test]
fn the_build_tree_lookup_finds_the_helper_when_nothing_else_is_given() {
    let exe = std::env::current_exe().unwrap();
    let result = locate_in_child(&exe, None, None);
    let path = result.strip_prefix("LOCATED BuildTree ").unwrap_or_else(|| panic!("{result}"));
    assert_eq!(std::fs::canonicalize(path).unwrap(), canonical_helper());
}

#[test]
fn aisopod_helper_is_honoured_and_an_explicit_path_comes_before_it() {
    let fake = fake_helper("env", "exit 0");
    let exe = std::env::current_exe().unwrap();
    assert_eq!(locate_in_child(&exe, None, Some(&fake)), format!("LOCATED Environment {}", fake.display()));
    assert_eq!(locate_in_child(&exe, Some(Path::new(HELPER)), Some(&fake)), format!("LOCATED Explicit {HELPER}"));
    // An unusable explicit path is the only one tried.
    let missing = fake.with_file_name("missing");
    assert_eq!(
        locate_in_child(&exe, Some(&missing), Some(&fake)),
        format!(
            "FAILED HelperUnavailable the helper executable named by the host cannot be used: the path given by \
             the caller: {} (No such file or directory)",
            missing.display()
        )
    );
}

#[test]
fn the_installed_location_is_next_to_the_library() {
    let dir = temp_dir("installed");
    let exe = test_binary_in(&dir);
    std::fs::create_dir(dir.join(INSTALL_SUBDIR)).unwrap();
    let installed = dir.join(INSTALL_SUBDIR).join(HELPER_NAME);
    std::fs::copy(HELPER, &installed).unwrap();
    assert_eq!(locate_in_child(&exe, None, None), format!("LOCATED Installed {}", installed.display()));
}

#[test]
fn a_missing_helper_gives_every_place_tried_and_why() {
    let dir = temp_dir("missing");
    let exe = test_binary_in(&dir);
    let plain = dir.join("plain");
    std::fs::write(&plain, "not a program").unwrap();
    let d = dir.display();
    let result = locate_in_child(&exe, None, Some(&plain));
    assert_eq!(
        result,
        format!(
            "FAILED HelperUnavailable the helper executable aisopod-plugin-host was not found; tried \
             the path given by the caller: none given; \
             AISOPOD_HELPER: {d}/plain (not executable); \
             the installed location: {d}/aisopod_loader/aisopod-plugin-host (No such file or directory); \
             the build tree: {d} is not a cargo profile directory"
        )
    );

    let result = locate_in_child(&exe, None, Some(&dir));
    assert!(
        result.starts_with(&format!(
            "FAILED HelperUnavailable the helper executable aisopod-plugin-host was not found; tried \
             the path given by the caller: none given; AISOPOD_HELPER: {d} (a directory); "
        )),
        "{result}"
    );
}

#[test]
fn a_helper_that_refuses_the_handshake_is_a_version_mismatch_with_its_reason() {
    // A `Refused` frame (kind 2, request 0) of 11 bytes: "old version".
    let frame = r"\013\000\000\000\002\000\000\000\000\000\000\000\000\000\000\000old version";
    let helper = fake_helper("refuser", &format!("printf '{frame}' >&3\nexit 4"));
    let failure = spawn_failure(&helper, deadline());
    assert_eq!(failure.error.status(), Status::HelperMismatch);
    assert_eq!(failure.error.message(), format!("the helper {} old version; it exited with code 4", helper.display()));
}

#[test]
fn after_a_progress_pipe_probe_progress_goes_to_the_pipe_not_the_channel() {
    use aisopod_loader::isolation::probe::{ProbeReport, ProbeStep};
    use aisopod_loader::isolation::protocol::{Decoder, ProbeProgress, ProbeRequest};
    use std::io::Read;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    let root = temp_dir("progress-pipe");
    let dir = common::add_test_plugin(&root, "piped", &[]);
    let mut child = Child::spawn(Path::new(HELPER), deadline()).unwrap();
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: just made; nothing else owns them.
    let (read_end, write_end) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let reply = child.request_passing(FrameKind::PROGRESS_PIPE, write_end.as_raw_fd(), deadline()).unwrap();
    assert_eq!(reply.kind, FrameKind::RESULT, "{reply:?}");
    drop(write_end);

    let request = ProbeRequest { plugin_dir: dir, host_version: "1.0.0".into(), init_config: None };
    let mut on_channel = 0;
    let reply = child
        .request_with(FrameKind::PROBE, &request.encode().unwrap(), deadline(), &mut |frame| {
            let progress = frame.kind == FrameKind::PROBE_PROGRESS;
            on_channel += usize::from(progress);
            progress
        })
        .unwrap();
    assert_eq!(reply.kind, FrameKind::PROBE_REPORT);
    assert_eq!(on_channel, 0, "no progress on the channel");
    let report = ProbeReport::decode(&reply.payload).unwrap();
    assert!(report.is_ok(), "{report:?}");

    // The helper's copy of the write end closes when it exits; then the pipe reads to its end.
    child.shutdown(deadline());
    let mut bytes = Vec::new();
    std::fs::File::from(read_end).read_to_end(&mut bytes).unwrap();
    let (mut decoder, mut input) = (Decoder::new(), &bytes[..]);
    let mut steps = Vec::new();
    while let Some(frame) = decoder.decode(&mut input).unwrap() {
        steps.push(ProbeProgress::decode(&frame.payload).unwrap().0);
    }
    assert_eq!(steps, report.steps, "the pipe holds one progress frame per step, as the report lists them");
    assert_eq!(steps.last().map(|timing| timing.step), Some(ProbeStep::Unload));
}
