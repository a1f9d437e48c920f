//! The sandbox a helper process puts itself in before it loads its plugin (Linux): Landlock for files, TCP and
//! signals, seccomp for the system calls Landlock does not cover, and `PR_SET_NO_NEW_PRIVS`.
//!
//! What a sandboxed plugin may do:
//! - **read** (and map and execute) its plugin directory, the system's library directories and the dynamic
//!   linker's configuration (so that `dlopen` finds its dependencies), the directories of `LD_LIBRARY_PATH`, the
//!   time zone data, `/dev/null`, `/dev/zero`, `/dev/urandom` and `/proc/self`, plus the paths it was granted to
//!   read; **write** `/dev/null` and the paths it was granted to write;
//! - connect or bind **TCP** ports, and open **sockets** at all, only when granted the network;
//! - start **programs** (`execve`) or **processes** (`fork`, `vfork`, `clone` without `CLONE_THREAD`) only when
//!   granted subprocesses, and then read and run the system's program directories (`/bin`, `/usr/bin`, ...);
//!   threads are always allowed;
//! - **signal** only processes inside its own sandbox (Landlock ABI 6), so not the host.
//!
//! Whatever else it tries fails with `EACCES` (Landlock) or `EPERM` (seccomp); nothing kills it. The sandbox
//! holds for the calling thread and every thread it starts afterwards, so the helper enters it while it runs a
//! single thread. Landlock degrades with the kernel: rights an older kernel does not know are not enforced, and
//! [`Enforcement`] says how much was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
    ABI,
};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
};

use super::protocol::hosting::Sandbox;

/// The newest Landlock ABI this sandbox asks for: its rights are all it needs.
const LANDLOCK_ABI: ABI = ABI::V6;

/// What every sandboxed plugin may read, besides its directory and its grants.
const BASE_READ: &[&str] = &[
    "/lib",
    "/lib32",
    "/lib64",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/local/lib",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/usr/share/zoneinfo",
    "/dev/zero",
    "/dev/urandom",
    "/proc/self",
];

/// What a plugin granted subprocesses may also read and run: the system's program directories.
const PROGRAM_DIRS: &[&str] = &["/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin"];

/// What every sandboxed plugin may write.
const BASE_WRITE: &[&str] = &["/dev/null"];

/// How much of the sandbox the kernel enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    /// All of it.
    Full,
    /// Landlock, with the rights this kernel knows (an older ABI than the sandbox asks for), and seccomp.
    Partial,
    /// Only seccomp and `PR_SET_NO_NEW_PRIVS`: the kernel has no Landlock, so files are not restricted.
    SeccompOnly,
}

/// Puts this process's calling thread, and the threads it starts afterwards, in `sandbox`, for the plugin in
/// `plugin_dir`. Returns how much the kernel enforces, or why the sandbox could not be set up at all.
pub fn enter(plugin_dir: &Path, sandbox: &Sandbox) -> Result<Enforcement, String> {
    set_no_new_privs()?;
    let landlock = restrict_files(plugin_dir, sandbox)?;
    install_seccomp(sandbox)?;
    Ok(match landlock {
        RulesetStatus::FullyEnforced => Enforcement::Full,
        RulesetStatus::PartiallyEnforced => Enforcement::Partial,
        RulesetStatus::NotEnforced => Enforcement::SeccompOnly,
    })
}

fn set_no_new_privs() -> Result<(), String> {
    // SAFETY: prctl with PR_SET_NO_NEW_PRIVS takes plain integers.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!("PR_SET_NO_NEW_PRIVS failed: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// The Landlock part: files, TCP unless the network is granted, and signals.
fn restrict_files(plugin_dir: &Path, sandbox: &Sandbox) -> Result<RulesetStatus, String> {
    let permissions = &sandbox.permissions;
    let library_path: Vec<PathBuf> = std::env::var_os("LD_LIBRARY_PATH")
        .map(|value| std::env::split_paths(&value).filter(|p| p.is_absolute()).collect())
        .unwrap_or_default();
    let read: Vec<PathBuf> = std::iter::once(plugin_dir.to_path_buf())
        .chain(BASE_READ.iter().map(PathBuf::from))
        .chain(library_path)
        .chain(PROGRAM_DIRS.iter().filter(|_| permissions.subprocess).map(PathBuf::from))
        .chain(permissions.read.iter().cloned())
        .collect();
    let write: Vec<PathBuf> = BASE_WRITE.iter().map(PathBuf::from).chain(permissions.write.iter().cloned()).collect();
    let failed = |e: landlock::RulesetError| format!("Landlock: {e}");
    let mut ruleset = Ruleset::default().handle_access(AccessFs::from_all(LANDLOCK_ABI)).map_err(failed)?;
    if !permissions.network {
        ruleset = ruleset.handle_access(AccessNet::from_all(LANDLOCK_ABI)).map_err(failed)?;
    }
    let status = ruleset
        .scope(Scope::Signal | Scope::AbstractUnixSocket)
        .map_err(failed)?
        .create()
        .map_err(failed)?
        .add_rules(path_beneath_rules(&read, AccessFs::from_read(LANDLOCK_ABI)))
        .map_err(failed)?
        .add_rules(path_beneath_rules(&write, AccessFs::from_all(LANDLOCK_ABI)))
        .map_err(failed)?
        .restrict_self()
        .map_err(failed)?;
    Ok(status.ruleset)
}

/// The seccomp part: sockets unless the network is granted, new programs and processes unless subprocesses
/// are. Each refused call fails with `EPERM`.
fn install_seccomp(sandbox: &Sandbox) -> Result<(), String> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    if !sandbox.permissions.network {
        rules.insert(libc::SYS_socket, vec![]);
        rules.insert(libc::SYS_connect, vec![]);
    }
    if !sandbox.permissions.subprocess {
        for call in [libc::SYS_execve, libc::SYS_execveat] {
            rules.insert(call, vec![]);
        }
        #[cfg(target_arch = "x86_64")]
        for call in [libc::SYS_fork, libc::SYS_vfork] {
            rules.insert(call, vec![]);
        }
        // clone without CLONE_THREAD makes a process; with it, a thread, which stays allowed. clone3 passes its
        // flags in memory, where seccomp cannot look: it gets ENOSYS below, and the C library falls back to
        // clone.
        let process =
            SeccompCondition::new(0, SeccompCmpArgLen::Qword, SeccompCmpOp::MaskedEq(libc::CLONE_THREAD as u64), 0)
                .map_err(|e| format!("seccomp: {e}"))?;
        rules.insert(libc::SYS_clone, vec![SeccompRule::new(vec![process]).map_err(|e| format!("seccomp: {e}"))?]);
    }
    let arch = std::env::consts::ARCH.try_into().map_err(|e| format!("seccomp: {e:?}"))?;
    let refuse = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(libc::EPERM as u32), arch)
        .map_err(|e| format!("seccomp: {e}"))?;
    let program: BpfProgram = refuse.try_into().map_err(|e| format!("seccomp: {e:?}"))?;
    seccompiler::apply_filter(&program).map_err(|e| format!("seccomp: {e}"))?;
    if !sandbox.permissions.subprocess {
        let clone3 = SeccompFilter::new(
            [(libc::SYS_clone3, vec![])].into_iter().collect(),
            SeccompAction::Allow,
            SeccompAction::Errno(libc::ENOSYS as u32),
            arch,
        )
        .map_err(|e| format!("seccomp: {e}"))?;
        let program: BpfProgram = clone3.try_into().map_err(|e| format!("seccomp: {e:?}"))?;
        seccompiler::apply_filter(&program).map_err(|e| format!("seccomp: {e}"))?;
    }
    Ok(())
}
