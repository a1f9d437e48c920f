//! Permissions: what a plugin declares it needs (`[permissions]` in its manifest), what the host grants, and
//! what a sandboxed plugin gets: the intersection of the two.

use std::path::{Path, PathBuf};

/// A set of permissions: paths to read, paths to write (which may also be read), the network, and starting
/// programs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Files or directories (and everything below them) to read. In a manifest, a relative path is relative to
    /// the plugin directory.
    pub read: Vec<PathBuf>,
    /// Files or directories (and everything below them) to read, write, create and remove in.
    pub write: Vec<PathBuf>,
    /// Opening sockets: the network, and local sockets.
    pub network: bool,
    /// Starting programs (`execve`) and processes (`fork`).
    pub subprocess: bool,
}

/// One permission the host grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    Read(PathBuf),
    Write(PathBuf),
    Network,
    Subprocess,
}

impl Permissions {
    /// Adds `grant`.
    pub fn add(&mut self, grant: Grant) {
        match grant {
            Grant::Read(path) => self.read.push(path),
            Grant::Write(path) => self.write.push(path),
            Grant::Network => self.network = true,
            Grant::Subprocess => self.subprocess = true,
        }
    }

    /// What a plugin in `plugin_dir` that declares `self` gets when the host grants `granted`: each declared
    /// path that lies inside a granted path of the same kind (a granted write path covers reading too), and the
    /// network and subprocesses when both sides say so. Paths are compared as written, after relative declared
    /// paths are taken from `plugin_dir`; `..` components are refused, since they could leave a granted tree.
    pub fn intersect(&self, granted: &Permissions, plugin_dir: &Path) -> Permissions {
        let absolute = |path: &Path| if path.is_absolute() { path.to_path_buf() } else { plugin_dir.join(path) };
        let inside = |path: &Path, roots: &[&PathBuf]| {
            !path.components().any(|c| c == std::path::Component::ParentDir)
                && roots.iter().any(|root| path.starts_with(root))
        };
        let readable: Vec<&PathBuf> = granted.read.iter().chain(&granted.write).collect();
        let writable: Vec<&PathBuf> = granted.write.iter().collect();
        Permissions {
            read: self.read.iter().map(|p| absolute(p)).filter(|p| inside(p, &readable)).collect(),
            write: self.write.iter().map(|p| absolute(p)).filter(|p| inside(p, &writable)).collect(),
            network: self.network && granted.network,
            subprocess: self.subprocess && granted.subprocess,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plugin_gets_what_it_declares_within_what_the_host_grants() {
        let declared = Permissions {
            read: vec!["data".into(), "/etc/app/conf".into(), "/etc/passwd".into(), "/srv/x/../../etc".into()],
            write: vec!["/tmp/app/cache".into(), "/var/app".into()],
            network: true,
            subprocess: true,
        };
        let mut granted = Permissions::default();
        granted.add(Grant::Read("/plugins/p".into()));
        granted.add(Grant::Read("/etc/app".into()));
        granted.add(Grant::Write("/tmp/app".into()));
        granted.add(Grant::Read("/srv/x".into()));
        granted.add(Grant::Network);
        let got = declared.intersect(&granted, Path::new("/plugins/p"));
        assert_eq!(got.read, [PathBuf::from("/plugins/p/data"), PathBuf::from("/etc/app/conf")]);
        assert_eq!(got.write, [PathBuf::from("/tmp/app/cache")]);
        assert!(got.network && !got.subprocess);
        // Prefixes are path components, not strings.
        let mut near = Permissions::default();
        near.add(Grant::Read("/etc/ap".into()));
        assert!(declared.intersect(&near, Path::new("/plugins/p")).read.is_empty());
    }
}
