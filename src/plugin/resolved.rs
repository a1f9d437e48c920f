//! Resolved capabilities: a handle that pins its plugin and calls one handler with no lookup and no lock.
//!
//! The handle owns a reference to its plugin, so the plugin's code stays mapped for as long as any handle
//! lives, whatever order the host frees things in: a pinned plugin cannot be unloaded (`Status::Busy`), and
//! one whose loader is gone, or that a reload replaced, is torn down when its last handle is dropped. A handle
//! of a replaced version is stale: it fails with `Status::Stale` and never calls the old code.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::call::sink_or_discard;
use super::registration::Handler;
use super::LoadedPlugin;
use crate::abi::aisopod_sink;
use crate::error::Result;
use crate::manifest::CapabilityKind;
use crate::sync::read;

/// A resolved capability: the plugin, pinned, and its handler.
pub(crate) struct Resolved {
    plugin: Arc<LoadedPlugin>,
    handler: Handler,
    kind: CapabilityKind,
    name: Box<str>,
}

// SAFETY: the handler may be called from any thread by the ABI's threading contract; `Serial` covers
// `thread_safe = false` plugins.
unsafe impl Send for Resolved {}
unsafe impl Sync for Resolved {}

impl LoadedPlugin {
    /// Resolves handler `name` of `kind` into a handle that calls it without a lookup or a lock. The plugin
    /// cannot be unloaded while the handle lives.
    pub(crate) fn resolve(self: &Arc<Self>, kind: CapabilityKind, name: &str) -> Result<Resolved> {
        let live = read(&self.live);
        let handler = self.handler(&live, kind, name)?;
        // Counted under the state lock, which teardown takes to check the count.
        self.pins.fetch_add(1, Ordering::Relaxed);
        Ok(Resolved { plugin: self.clone(), handler, kind, name: name.into() })
    }
}

impl Resolved {
    /// Calls the handler: no lookup, no lock (unless the plugin is serialized), no allocation.
    ///
    /// The re-entrancy mark `run` sets is not needed here: no loader lock is held and the plugin is pinned,
    /// so a lifecycle call from inside the handler cannot deadlock on this call.
    #[inline]
    pub(crate) fn invoke(&self, input: &[u8], sink: Option<&aisopod_sink>) -> Result<()> {
        // A reload replaced this version: its code may still be mapped (this handle keeps it), but it is no longer
        // the plugin's, so it is never called.
        if self.plugin.generation.is_stale() {
            return Err(self.plugin.generation.stale(self.plugin.id(), self.kind, &self.name));
        }
        if self.plugin.serial.is_some() {
            return self.plugin.run(&self.handler, self.kind, &self.name, input, sink);
        }
        // Metrics off costs this one relaxed load and branch.
        if self.plugin.metrics.is_enabled() {
            return self.invoke_measured(input, sink);
        }
        self.call(input, sink)
    }

    #[cold]
    #[inline(never)]
    fn invoke_measured(&self, input: &[u8], sink: Option<&aisopod_sink>) -> Result<()> {
        match self.plugin.metrics.capability(self.kind, &self.name) {
            Some(stats) => stats.measure_in_thread(|| self.call(input, sink)),
            None => self.call(input, sink),
        }
    }

    #[inline]
    fn call(&self, input: &[u8], sink: Option<&aisopod_sink>) -> Result<()> {
        let sink = sink_or_discard(sink);
        // SAFETY: the plugin is pinned (it cannot be unloaded while this handle lives) and initialized; the
        // handler's contract allows concurrent calls; `input` and `sink` outlive the call.
        let code = unsafe { (self.handler.function)(self.handler.userdata, input.as_ptr(), input.len(), sink) };
        if code == 0 {
            Ok(())
        } else {
            Err(self.plugin.handler_failed(self.kind, &self.name, code))
        }
    }
}

impl Drop for Resolved {
    fn drop(&mut self) {
        self.plugin.pins.fetch_sub(1, Ordering::Relaxed);
    }
}
