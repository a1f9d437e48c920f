//! The file-permission policy: a plugin's directory, manifest and library are trusted only when nobody but root
//! and this process's user can have written them, as sshd's `StrictModes` trusts `authorized_keys`. The policy
//! says whether an untrusted file is refused, accepted with a warning, or not looked at.
//!
//! Every check reads the mode and owner from a `stat` the loader makes anyway (of the open manifest, of the
//! library before it is opened); the only `stat` added is the plugin directory's, once per candidate.

use std::path::Path;

use crate::error::{Error, Result, Status};

/// What the loader does with a plugin file that someone else could have written: one writable by its group or
/// by others, or owned by a user other than root and this process's effective user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FilePolicy {
    /// Refused: a plugin directory or manifest at discovery (a diagnostic), a library at load, each with
    /// `Status::UnsafePermissions`. The default.
    #[default]
    Strict,
    /// Accepted, with a warning in the log naming the file, its mode and its owner.
    Warn,
    /// Not checked.
    Off,
}

/// Which of a plugin's files is checked, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    PluginDirectory,
    Manifest,
    Library,
    /// A directory between the plugin directory and the file a symlinked library resolves to.
    LibraryDirectory,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::PluginDirectory => "plugin directory",
            Role::Manifest => "manifest",
            Role::Library => "library",
            Role::LibraryDirectory => "directory holding the library",
        }
    }
}

/// Who owns a file and who may write to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Access {
    /// `st_mode`: only the permission bits matter here.
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

impl Access {
    #[cfg(unix)]
    pub(crate) fn of(metadata: &std::fs::Metadata) -> Access {
        use std::os::unix::fs::MetadataExt;
        Access { mode: metadata.mode(), uid: metadata.uid(), gid: metadata.gid() }
    }

    /// Files have no Unix owner or mode here, so every one reads as safe.
    #[cfg(not(unix))]
    pub(crate) fn of(_metadata: &std::fs::Metadata) -> Access {
        Access { mode: 0o644, uid: 0, gid: 0 }
    }
}

const GROUP_WRITE: u32 = 0o020;
const OTHERS_WRITE: u32 = 0o002;

/// Checks files under one policy, for one discovery or one load: the policy, and this process's effective uid
/// read once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileCheck {
    policy: FilePolicy,
    euid: u32,
}

impl FileCheck {
    pub(crate) fn new(policy: FilePolicy) -> FileCheck {
        FileCheck { policy, euid: if policy == FilePolicy::Off { 0 } else { effective_uid() } }
    }

    pub(crate) fn is_off(self) -> bool {
        self.policy == FilePolicy::Off
    }

    /// Checks `path`, the plugin's `role`, whose mode and owner are `access`. `Ok(None)` when the file is safe
    /// or the policy is off; `Ok(Some(warning))` when it is not and the policy is warn; an `UnsafePermissions`
    /// error naming the file, its mode and its owner when it is not and the policy is strict.
    pub(crate) fn check(self, role: Role, path: &Path, access: Access) -> Result<Option<String>> {
        if self.policy == FilePolicy::Off {
            return Ok(None);
        }
        let foreign_owner = access.uid != 0 && access.uid != self.euid;
        let writable = access.mode & (GROUP_WRITE | OTHERS_WRITE);
        if !foreign_owner && writable == 0 {
            return Ok(None);
        }
        let by_whom = match writable {
            0 => None,
            GROUP_WRITE => Some("its group"),
            OTHERS_WRITE => Some("others"),
            _ => Some("its group and by others"),
        };
        let owner = format!("uid {}", with_name(access.uid, user_name));
        let what = match (foreign_owner, by_whom) {
            (true, None) => format!("is owned by {owner}, who is neither root nor this process's user"),
            (true, Some(by_whom)) => {
                format!("is owned by {owner}, who is neither root nor this process's user, and writable by {by_whom}")
            }
            (false, by_whom) => format!("is writable by {}", by_whom.unwrap_or_default()),
        };
        let description = format!(
            "{}: the {} {what} (mode {:04o}, owner {owner}, group gid {}; this process runs as uid {}), so another \
             user could change the plugin's code",
            path.display(),
            role.name(),
            access.mode & 0o7777,
            with_name(access.gid, group_name),
            with_name(self.euid, user_name),
        );
        match self.policy {
            FilePolicy::Off => Ok(None),
            FilePolicy::Warn => Ok(Some(format!("{description}; accepted, since the file policy is warn"))),
            FilePolicy::Strict => {
                let chmod = match writable {
                    0 => None,
                    GROUP_WRITE => Some("chmod g-w"),
                    OTHERS_WRITE => Some("chmod o-w"),
                    _ => Some("chmod go-w"),
                };
                let chown = foreign_owner
                    .then(|| format!("chown {}", user_name(self.euid).unwrap_or_else(|| self.euid.to_string())));
                let fix = [chmod.map(str::to_owned), chown].into_iter().flatten().collect::<Vec<_>>().join(" and ");
                Err(Error::new(
                    Status::UnsafePermissions,
                    format!("{description}; the strict file policy refuses it ({fix} would make it safe)"),
                ))
            }
        }
    }
}

/// `65534 (nobody)`, or `1234` when the id has no name.
fn with_name(id: u32, name: fn(u32) -> Option<String>) -> String {
    match name(id) {
        Some(name) => format!("{id} ({name})"),
        None => id.to_string(),
    }
}

#[cfg(unix)]
fn effective_uid() -> u32 {
    // SAFETY: geteuid takes no arguments and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(not(unix))]
fn effective_uid() -> u32 {
    0
}

/// Calls a `get*_r` lookup with a buffer that grows while the entry does not fit (`ERANGE`), up to 1 MiB; gives
/// the name it found.
#[cfg(unix)]
fn lookup_name(
    mut lookup: impl FnMut(&mut [libc::c_char]) -> (libc::c_int, Option<*const libc::c_char>),
) -> Option<String> {
    let mut buffer = vec![0 as libc::c_char; 1024];
    loop {
        match lookup(&mut buffer) {
            (libc::ERANGE, _) if buffer.len() < 1 << 20 => buffer.resize(buffer.len() * 2, 0),
            (0, Some(name)) if !name.is_null() => {
                // SAFETY: the lookup succeeded, so `name` points at a NUL-terminated string inside `buffer`.
                return Some(unsafe { std::ffi::CStr::from_ptr(name) }.to_string_lossy().into_owned());
            }
            _ => return None,
        }
    }
}

/// The name of user `uid`, if the user database has one.
#[cfg(unix)]
fn user_name(uid: u32) -> Option<String> {
    lookup_name(|buffer| {
        let mut entry = std::mem::MaybeUninit::<libc::passwd>::uninit();
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call; on success `found` points at `entry`, whose strings live in
        // `buffer`.
        let rc = unsafe { libc::getpwuid_r(uid, entry.as_mut_ptr(), buffer.as_mut_ptr(), buffer.len(), &mut found) };
        (rc, (!found.is_null()).then(|| unsafe { (*found).pw_name.cast_const() }))
    })
}

/// The name of group `gid`, if the group database has one.
#[cfg(unix)]
fn group_name(gid: u32) -> Option<String> {
    lookup_name(|buffer| {
        let mut entry = std::mem::MaybeUninit::<libc::group>::uninit();
        let mut found: *mut libc::group = std::ptr::null_mut();
        // SAFETY: as in `user_name`.
        let rc = unsafe { libc::getgrgid_r(gid, entry.as_mut_ptr(), buffer.as_mut_ptr(), buffer.len(), &mut found) };
        (rc, (!found.is_null()).then(|| unsafe { (*found).gr_name.cast_const() }))
    })
}

#[cfg(not(unix))]
fn user_name(_uid: u32) -> Option<String> {
    None
}

#[cfg(not(unix))]
fn group_name(_gid: u32) -> Option<String> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn access(mode: u32, uid: u32) -> Access {
        Access { mode: 0o100000 | mode, uid, gid: 0 }
    }

    #[test]
    fn root_or_own_files_writable_by_their_owner_alone_are_safe() {
        let check = FileCheck { policy: FilePolicy::Strict, euid: 1000 };
        let path = Path::new("/p/libx.so");
        for safe in [access(0o755, 0), access(0o644, 1000), access(0o700, 1000), access(0o4755, 0)] {
            assert_eq!(check.check(Role::Library, path, safe), Ok(None), "{safe:?}");
        }
    }

    #[test]
    fn each_unsafe_file_names_its_mode_owner_and_fix() {
        let check = FileCheck { policy: FilePolicy::Strict, euid: 0 };
        let path = Path::new("/p/libx.so");
        let cases = [
            (access(0o664, 0), "is writable by its group (mode 0664, owner uid 0 (root),", "chmod g-w would"),
            (access(0o646, 0), "is writable by others (mode 0646,", "chmod o-w would"),
            (access(0o777, 0), "is writable by its group and by others (mode 0777,", "chmod go-w would"),
            (
                access(0o644, 4242),
                "is owned by uid 4242, who is neither root nor this process's user (mode 0644, owner uid 4242,",
                "chown root would",
            ),
            (
                access(0o666, 4242),
                "user, and writable by its group and by others (mode 0666,",
                "chmod go-w and chown root",
            ),
        ];
        for (access, what, fix) in cases {
            let error = check.check(Role::Library, path, access).unwrap_err();
            assert_eq!(error.status(), Status::UnsafePermissions);
            let message = error.message();
            assert!(message.starts_with("/p/libx.so: the library "), "{message}");
            assert!(message.contains(what), "no `{what}` in: {message}");
            assert!(message.contains(fix), "no `{fix}` in: {message}");
            assert!(message.contains("this process runs as uid 0 (root)"), "{message}");
        }
    }

    #[test]
    fn warn_accepts_with_the_same_description_and_off_looks_at_nothing() {
        let unsafe_file = access(0o777, 4242);
        let path = Path::new("/p/aisopod.plugin.toml");
        let strict = FileCheck { policy: FilePolicy::Strict, euid: 0 }.check(Role::Manifest, path, unsafe_file);
        let warned = FileCheck { policy: FilePolicy::Warn, euid: 0 }.check(Role::Manifest, path, unsafe_file);
        let warning = warned.unwrap().expect("a warning");
        let description = strict.unwrap_err().message().split("; the strict").next().unwrap().to_owned();
        assert_eq!(warning, format!("{description}; accepted, since the file policy is warn"));
        assert_eq!(FileCheck::new(FilePolicy::Off).check(Role::Manifest, path, unsafe_file), Ok(None));
    }
}
