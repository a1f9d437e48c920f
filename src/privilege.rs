//! Whether this process's environment may choose what it runs: not in a setuid or setgid process, nor one that
//! gained privileges another way (file capabilities), where the environment belongs to a less privileged user.
//! Discovery ignores `AISOPOD_PLUGIN_PATH` there, and the helper lookup ignores `AISOPOD_HELPER`.

/// Whether the process runs with privileges its environment's owner does not have (setuid, setgid, file
/// capabilities), so that environment variables must not choose what it executes.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn is_secure_process() -> bool {
    // SAFETY: getauxval reads the auxiliary vector the kernel passed; AT_SECURE is always present on Linux.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

#[cfg(any(target_vendor = "apple", target_os = "freebsd", target_os = "openbsd", target_os = "netbsd"))]
pub(crate) fn is_secure_process() -> bool {
    // SAFETY: issetugid takes no arguments and only reads the process's credentials.
    unsafe { libc::issetugid() != 0 }
}

#[cfg(all(
    unix,
    not(any(
        target_os = "linux",
        target_os = "android",
        target_vendor = "apple",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd"
    ))
))]
pub(crate) fn is_secure_process() -> bool {
    // SAFETY: these calls only read the process's credentials.
    unsafe { libc::getuid() != libc::geteuid() || libc::getgid() != libc::getegid() }
}

#[cfg(not(unix))]
pub(crate) fn is_secure_process() -> bool {
    false
}
