//! Calls into a loaded plugin by name: `init`, handlers, hooks and `get_extension`, each counted in flight and
//! serialized when the plugin is not thread-safe.

use std::ffi::{c_void, CString};
use std::path::Path;

use super::registration::Handler;
use super::{describe_code, guard::in_plugin, live::Live, LoadedPlugin};
use crate::abi::{aisopod_init_context, aisopod_sink};
use crate::error::{Error, Result, Status};
use crate::manifest::CapabilityKind;
use crate::paths;
use crate::sync::{read, write};

impl LoadedPlugin {
    /// Calls `init`. The caller holds the loader's lifecycle lock, so no teardown runs meanwhile.
    pub(crate) fn init(&self, config: &str, data_dir: &Path) -> Result<()> {
        let id = self.id();
        let vtable = {
            let live = read(&self.live);
            let vtable = live.open_vtable()?;
            if live.initialized {
                return Err(Error::new(Status::AlreadyInitialized, format!("plugin '{id}' is already initialized")));
            }
            if live.init_failed {
                return Err(Error::new(
                    Status::InitFailed,
                    format!("plugin '{id}': init already failed for this load; unload it and load it again"),
                ));
            }
            vtable
        };
        let config_c = CString::new(config).map_err(|_| {
            Error::new(Status::InvalidArgument, format!("config for plugin '{id}' contains a NUL byte"))
        })?;
        let data_dir_c = paths::c_string(data_dir).ok_or_else(|| {
            Error::new(Status::InvalidArgument, format!("data directory for plugin '{id}' contains a NUL byte"))
        })?;
        let context = aisopod_init_context {
            struct_size: std::mem::size_of::<aisopod_init_context>() as u32,
            #[cfg(target_pointer_width = "64")]
            reserved: 0,
            config: config_c.as_ptr(),
            config_len: config.len(),
            data_dir: data_dir_c.as_ptr(),
        };
        // SAFETY: `vtable` was validated at load and stays valid: teardown needs the lifecycle lock the caller
        // holds. `init` is mandatory. `context` outlives the call.
        let code = in_plugin(|| unsafe { ((*vtable).init.expect("validated at load"))(vtable, &context) });
        let mut live = write(&self.live);
        if code != 0 {
            live.init_failed = true;
            return Err(Error::new(
                Status::InitFailed,
                format!("plugin '{id}': init returned {}", describe_code(code)),
            ));
        }
        live.initialized = true;
        Ok(())
    }

    /// Calls handler `name` of `kind`.
    pub(crate) fn call(
        &self,
        kind: CapabilityKind,
        name: &str,
        input: &[u8],
        sink: Option<&aisopod_sink>,
    ) -> Result<()> {
        let (handler, _in_flight) = {
            let live = read(&self.live);
            (self.handler(&live, kind, name)?, self.in_flight.enter())
        };
        self.run(&handler, kind, name, input, sink)
    }

    /// Calls this plugin's hook for `event`, if it has one and is initialized. Returns whether it ran.
    pub(crate) fn call_hook(&self, event: &str, input: &[u8], sink: Option<&aisopod_sink>) -> Result<bool> {
        let (handler, _in_flight) = {
            let live = read(&self.live);
            if live.vtable.is_null() || !live.initialized || self.generation.is_stale() {
                return Ok(false);
            }
            let Some(handler) = live.handlers[CapabilityKind::Hook].get(event).copied() else {
                return Ok(false);
            };
            (handler, self.in_flight.enter())
        };
        self.run(&handler, CapabilityKind::Hook, event, input, sink).map(|()| true)
    }

    /// Asks the plugin for its optional interface `extension_id`; null when it has none.
    pub(crate) fn extension(&self, extension_id: &str) -> Result<*const c_void> {
        let (vtable, _in_flight) = {
            let live = read(&self.live);
            (live.open_vtable()?, self.in_flight.enter())
        };
        let Ok(extension_id) = CString::new(extension_id) else {
            return Ok(std::ptr::null());
        };
        // SAFETY: the vtable stays valid while this call is in flight.
        let Some(get_extension) = (unsafe { (*vtable).get_extension }) else {
            return Ok(std::ptr::null());
        };
        let _serial = self.serial.as_ref().map(|s| s.enter(self.id())).transpose()?;
        // SAFETY: as above; the id string outlives the call.
        Ok(in_plugin(|| unsafe { get_extension(vtable, extension_id.as_ptr()) }))
    }

    /// The handler `name` of `kind`, if the plugin is open and initialized. The caller holds the state lock.
    pub(super) fn handler(&self, live: &Live, kind: CapabilityKind, name: &str) -> Result<Handler> {
        live.open_vtable()?;
        if self.generation.is_stale() {
            return Err(self.generation.stale(self.id(), kind, name));
        }
        if !live.initialized {
            return Err(Error::new(Status::NotInitialized, format!("plugin '{}' is not initialized", self.id())));
        }
        live.handlers[kind].get(name).copied().ok_or_else(|| {
            Error::new(Status::CapabilityNotFound, format!("plugin '{}' has no {kind} '{name}'", self.id()))
        })
    }

    /// Calls `handler`, which the caller keeps loaded (counted in flight, or pinned), measured while metrics are
    /// on.
    pub(super) fn run(
        &self,
        handler: &Handler,
        kind: CapabilityKind,
        name: &str,
        input: &[u8],
        sink: Option<&aisopod_sink>,
    ) -> Result<()> {
        if self.metrics.is_enabled() {
            if let Some(stats) = self.metrics.capability(kind, name) {
                return stats.measure_in_thread(|| self.run_unmeasured(handler, kind, name, input, sink));
            }
        }
        self.run_unmeasured(handler, kind, name, input, sink)
    }

    fn run_unmeasured(
        &self,
        handler: &Handler,
        kind: CapabilityKind,
        name: &str,
        input: &[u8],
        sink: Option<&aisopod_sink>,
    ) -> Result<()> {
        let sink = sink_or_discard(sink);
        let _serial = self.serial.as_ref().map(|s| s.enter(self.id())).transpose()?;
        // SAFETY: the handler was registered by this plugin, which stays loaded while the call is in flight;
        // `input` and `sink` outlive the call; a slice pointer is non-null even when empty.
        let code = in_plugin(|| unsafe { (handler.function)(handler.userdata, input.as_ptr(), input.len(), sink) });
        if code != 0 {
            return Err(self.handler_failed(kind, name, code));
        }
        Ok(())
    }

    #[cold]
    pub(super) fn handler_failed(&self, kind: CapabilityKind, name: &str, code: i32) -> Error {
        Error::new(
            Status::PluginError,
            format!("plugin '{}' {kind} '{name}' failed with code {}", self.id(), describe_code(code)),
        )
    }
}

/// The caller's sink, or one that accepts and discards everything when it gave none.
#[inline]
pub(super) fn sink_or_discard(sink: Option<&aisopod_sink>) -> &aisopod_sink {
    match sink {
        Some(sink) if sink.write.is_some() => sink,
        _ => &DISCARD.0,
    }
}

struct SharedSink(aisopod_sink);
// SAFETY: its context is null and its function keeps no state.
unsafe impl Sync for SharedSink {}
static DISCARD: SharedSink = SharedSink(aisopod_sink { context: std::ptr::null_mut(), write: Some(discard) });

unsafe extern "C" fn discard(_: *mut c_void, _: *const u8, _: usize) -> i32 {
    0
}
