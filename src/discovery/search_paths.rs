//! Search paths: where discovery looks, in which order (`AISOPOD_PLUGIN_PATH`, the host's, the defaults),
//! with `~` expanded; and where the registry cache lives by default.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The environment variable holding extra search paths, `:`-separated (`;` on Windows).
pub const PLUGIN_PATH_ENV: &str = "AISOPOD_PLUGIN_PATH";

/// Which sources of search paths a loader uses, besides those the host adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchConfig {
    /// Paths the host added, searched after `AISOPOD_PLUGIN_PATH` and before the defaults.
    pub host_paths: Vec<PathBuf>,
    /// Whether to read `AISOPOD_PLUGIN_PATH` (never read in a setuid or setgid process).
    pub use_env: bool,
    /// Whether to search [`default_paths`].
    pub use_defaults: bool,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig { host_paths: Vec::new(), use_env: true, use_defaults: true }
    }
}

impl SearchConfig {
    /// The search paths in search order: `AISOPOD_PLUGIN_PATH` entries, host paths, defaults, each with a
    /// leading `~` expanded and repeats dropped.
    pub fn resolve(&self) -> Vec<PathBuf> {
        let mut paths = Vec::new();
        if self.use_env && !crate::privilege::is_secure_process() {
            if let Some(value) = std::env::var_os(PLUGIN_PATH_ENV) {
                paths.extend(std::env::split_paths(&value).filter(|p| !p.as_os_str().is_empty()));
            }
        }
        paths.extend(self.host_paths.iter().cloned());
        if self.use_defaults {
            paths.extend(default_paths());
        }
        let mut resolved: Vec<PathBuf> = Vec::with_capacity(paths.len());
        for path in paths.iter().filter_map(|p| expand_tilde(p)) {
            if !resolved.contains(&path) {
                resolved.push(path);
            }
        }
        resolved
    }
}

/// The default search paths: `~/.aisopod/plugins`, `$XDG_DATA_HOME/aisopod/plugins` (or
/// `~/.local/share/aisopod/plugins`), `/usr/local/lib/aisopod/plugins` and `/usr/lib/aisopod/plugins`.
pub fn default_paths() -> Vec<PathBuf> {
    let mut paths = vec![PathBuf::from("~/.aisopod/plugins")];
    match std::env::var_os("XDG_DATA_HOME").filter(|v| Path::new(v).is_absolute()) {
        Some(data_home) => paths.push(Path::new(&data_home).join("aisopod/plugins")),
        None => paths.push(PathBuf::from("~/.local/share/aisopod/plugins")),
    }
    if cfg!(unix) {
        paths.push(PathBuf::from("/usr/local/lib/aisopod/plugins"));
        paths.push(PathBuf::from("/usr/lib/aisopod/plugins"));
    }
    paths
}

/// The default registry cache file: `$XDG_CACHE_HOME/aisopod/registry.bin`, or `~/.cache/aisopod/registry.bin`.
/// `None` when neither a cache home nor a home directory is known.
pub fn default_cache_path() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| Path::new(v).is_absolute()) {
        Some(cache_home) => PathBuf::from(cache_home),
        None => expand_tilde(Path::new("~/.cache")).filter(|p| !p.starts_with("~"))?,
    };
    Some(base.join("aisopod/registry.bin"))
}

/// Expands a leading `~` or `~/` to the user's home directory. `~user` forms are left as they are. Returns
/// `None` for a `~` path when no home directory is known.
pub fn expand_tilde(path: &Path) -> Option<PathBuf> {
    let mut components = path.components();
    match components.next() {
        Some(std::path::Component::Normal(first)) if first == OsStr::new("~") => {
            #[allow(deprecated)] // Deprecated only for Windows quirks before Rust 1.85; correct on Unix.
            let home = std::env::home_dir().filter(|h| !h.as_os_str().is_empty())?;
            Some(home.join(components.as_path()))
        }
        _ => Some(path.to_path_buf()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_expands_to_home() {
        #[allow(deprecated)]
        let home = std::env::home_dir().unwrap();
        assert_eq!(expand_tilde(Path::new("~/.aisopod/plugins")).unwrap(), home.join(".aisopod/plugins"));
        assert_eq!(expand_tilde(Path::new("~")).unwrap(), home);
        assert_eq!(expand_tilde(Path::new("/abs/~/x")).unwrap(), PathBuf::from("/abs/~/x"));
        assert_eq!(expand_tilde(Path::new("~user/x")).unwrap(), PathBuf::from("~user/x"));
    }

    #[test]
    fn defaults_contain_no_literal_tilde_after_resolve() {
        let config = SearchConfig { host_paths: vec![], use_env: false, use_defaults: true };
        let resolved = config.resolve();
        assert!(!resolved.is_empty());
        assert!(resolved.iter().all(|p| !p.starts_with("~")), "{resolved:?}");
    }

    #[test]
    fn host_paths_keep_order_and_drop_repeats() {
        let config = SearchConfig {
            host_paths: vec!["/a".into(), "/b".into(), "/a".into()],
            use_env: false,
            use_defaults: false,
        };
        assert_eq!(config.resolve(), vec![PathBuf::from("/a"), PathBuf::from("/b")]);
    }
}
