//! The loader's trust settings: the file-permission policy and the allow and deny lists, set by the host and
//! applied from the next discovery, load or probe.

use super::Loader;
use crate::discovery::PluginInfo;
use crate::error::Result;
use crate::sync::{read, write};
use crate::trust::{FilePolicy, List, Trust};

impl Loader {
    /// Sets what discovery and loading do with a plugin directory, manifest or library that someone other than
    /// root and this process's user could have written (default: [`FilePolicy::Strict`], refuse it). Applies
    /// from the next discovery (directories and manifests) and the next load or probe (libraries).
    pub fn set_file_policy(&self, policy: FilePolicy) {
        write(&self.trust).files = policy;
    }

    /// The file policy in force.
    pub fn file_policy(&self) -> FilePolicy {
        read(&self.trust).files
    }

    /// Adds `id` to the allow list: once it holds an id, only the plugins on it are discovered and loaded, and
    /// the others get a `Status::Denied` diagnostic. An id no manifest could have is refused with
    /// `Status::InvalidArgument`.
    pub fn allow(&self, id: &str) -> Result<()> {
        write(&self.trust).lists.add(List::Allow, id)
    }

    /// Adds `id` to the deny list: that plugin gets a `Status::Denied` diagnostic at discovery and its load or
    /// probe fails with `Status::Denied`, whatever the allow list says. An id no manifest could have is refused
    /// with `Status::InvalidArgument`.
    pub fn deny(&self, id: &str) -> Result<()> {
        write(&self.trust).lists.add(List::Deny, id)
    }

    /// Empties both lists: every plugin is let in again.
    pub fn clear_lists(&self) {
        write(&self.trust).lists.clear();
    }

    /// The settings one discovery applies.
    pub(crate) fn trust(&self) -> Trust {
        read(&self.trust).clone()
    }

    /// The `Status::Denied` error when the lists, as they are now, keep `info` out.
    pub(crate) fn check_lists(&self, info: &PluginInfo) -> Result<()> {
        match read(&self.trust).lists.refusal(&info.manifest.id, &info.manifest_path()) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}
