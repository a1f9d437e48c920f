//! What a loaded plugin holds until teardown (its vtable, handlers, library and host block), and teardown
//! itself: `shutdown`, `destroy`, then closing the library and freeing the host block.

use std::sync::Mutex;

use libloading::Library;

use super::guard::in_plugin;
use super::host::HostPtr;
use super::library::{self, FileKey, Opened};
use super::registration::Handlers;
use crate::abi::aisopod_plugin;
use crate::error::{Error, Result, Status};
use crate::log::{LogLevel, Logger};
use crate::sync::lock;

/// What a loaded plugin holds until teardown.
pub(super) struct Live {
    pub(super) plugin_id: String,
    /// Null once the plugin is closed to new calls.
    pub(super) vtable: *const aisopod_plugin,
    pub(super) handlers: Handlers,
    pub(super) initialized: bool,
    pub(super) init_failed: bool,
    pub(super) library: Option<Library>,
    /// For a pinned library, the file whose descriptor names it to the dynamic linker.
    named: Option<FileKey>,
    /// Outlives `destroy`: the plugin may use the host pointer until then.
    pub(super) host: Option<HostPtr>,
}

// SAFETY: the raw pointers point into the plugin's library and data, which the ABI's threading contract lets
// the loader use from any thread; the in-flight count, the state lock and `Serial` enforce the rest of it.
unsafe impl Send for Live {}
unsafe impl Sync for Live {}

impl Live {
    /// A plugin whose library is open and nothing else has run yet.
    pub(super) fn opened(plugin_id: &str, opened: Opened) -> Live {
        Live {
            plugin_id: plugin_id.to_owned(),
            vtable: std::ptr::null(),
            handlers: Default::default(),
            initialized: false,
            init_failed: false,
            library: Some(opened.library),
            named: opened.named,
            host: None,
        }
    }

    pub(super) fn open_vtable(&self) -> Result<*const aisopod_plugin> {
        if self.vtable.is_null() {
            Err(Error::new(Status::NotLoaded, format!("plugin '{}' is not loaded", self.plugin_id)))
        } else {
            Ok(self.vtable)
        }
    }

    /// Closes the plugin to new calls and takes what teardown releases.
    pub(super) fn close(&mut self) -> Closing {
        self.handlers = Default::default();
        Closing {
            plugin_id: std::mem::take(&mut self.plugin_id),
            vtable: std::mem::replace(&mut self.vtable, std::ptr::null()),
            initialized: std::mem::take(&mut self.initialized),
            library: self.library.take(),
            named: self.named.take(),
            host: self.host.take(),
        }
    }

    /// Keeps a plugin that cannot be destroyed (its struct is unusable) mapped, with its host block, for the
    /// life of the process: the plugin may still run code that uses them.
    pub(super) fn abandon(&mut self) {
        if let (Some(library), Some(host)) = (self.library.take(), self.host.take()) {
            lock(&ABANDONED).push((library, host));
        }
    }
}

impl Drop for Live {
    /// Tears down a plugin nothing can call any more: one whose load failed part-way, or one whose loader and
    /// last capability handle are gone.
    fn drop(&mut self) {
        self.close().finish();
    }
}

/// Libraries and host blocks of plugins that could not be destroyed. Nothing in it is ever used again; it only
/// keeps memory mapped and allocated.
static ABANDONED: Mutex<Vec<(Library, HostPtr)>> = Mutex::new(Vec::new());

/// The parts of a closed plugin that teardown still has to release, taken out of `Live` under its lock.
pub(super) struct Closing {
    plugin_id: String,
    vtable: *const aisopod_plugin,
    initialized: bool,
    library: Option<Library>,
    named: Option<FileKey>,
    host: Option<HostPtr>,
}

impl Closing {
    /// Calls `shutdown` (when initialized) and `destroy`, then closes the library and frees the host block.
    pub(super) fn finish(mut self) {
        if !self.vtable.is_null() {
            let vtable = self.vtable;
            // SAFETY: the vtable passed validation and no other call into the plugin is running or can start.
            in_plugin(|| unsafe {
                if self.initialized {
                    if let Some(shutdown) = (*vtable).shutdown {
                        shutdown(vtable);
                    }
                }
                if let Some(destroy) = (*vtable).destroy {
                    destroy(vtable);
                }
            });
        }
        if let Some(library) = self.library.take() {
            if let Err(e) = library.close() {
                let fallback = Logger::default();
                let logger = self.host.as_ref().map_or(&fallback, HostPtr::logger);
                logger.log(LogLevel::Warn, &format!("plugin '{}': closing its library failed: {e}", self.plugin_id));
            }
        }
        if let Some(named) = self.named.take() {
            library::release(named);
        }
        drop(self.host.take());
    }
}
