//! Who may call into a plugin, and when: the per-thread "inside plugin code" mark that refuses re-entrant
//! lifecycle calls, the in-flight count teardown waits on, and the mutex that serializes `thread_safe = false`
//! plugins.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::error::{Error, Result, Status};
use crate::sync::lock;

thread_local! {
    /// How many calls into plugin code are active on this thread.
    static PLUGIN_DEPTH: Cell<u32> = const { Cell::new(0) };
    /// A small unique id for this thread, for re-entrancy checks on serialized plugins.
    static THREAD_TOKEN: u64 = {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        NEXT.fetch_add(1, Ordering::Relaxed)
    };
}

/// Runs `f`, which calls plugin code, with this thread marked as inside a plugin.
pub(super) fn in_plugin<R>(f: impl FnOnce() -> R) -> R {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            PLUGIN_DEPTH.with(|d| d.set(d.get() - 1));
        }
    }
    PLUGIN_DEPTH.with(|d| d.set(d.get() + 1));
    let _leave = Leave;
    f()
}

/// Refuses a lifecycle call made from inside plugin code on this thread, which would deadlock.
pub(crate) fn refuse_reentry(operation: &str) -> Result<()> {
    if PLUGIN_DEPTH.with(Cell::get) > 0 {
        return Err(Error::new(
            Status::Reentrant,
            format!("{operation} was called from inside a plugin callback; lifecycle calls must come from host code"),
        ));
    }
    Ok(())
}

/// The calls running in one plugin. Counted without a lock; teardown sets `closing`, then waits on `drained`
/// for the count to reach zero, and the call that brings it there wakes it.
#[derive(Default)]
pub(super) struct InFlightCount {
    count: AtomicUsize,
    closing: AtomicBool,
    drain_lock: Mutex<()>,
    drained: Condvar,
}

impl InFlightCount {
    /// Counts a call in. The caller holds the plugin's state read lock, so teardown, which closes the plugin
    /// under the write lock before waiting, cannot miss it.
    pub(super) fn enter(&self) -> InFlight<'_> {
        self.count.fetch_add(1, Ordering::SeqCst);
        InFlight(self)
    }

    /// Waits until every call counted in has left. The plugin is already closed to new calls.
    pub(super) fn drain(&self) {
        // Sequentially consistent with the exits' decrement and load of `closing`: either an exit sees
        // `closing` and wakes us, or we see its decrement.
        self.closing.store(true, Ordering::SeqCst);
        let mut guard = lock(&self.drain_lock);
        while self.count.load(Ordering::SeqCst) > 0 {
            guard = self.drained.wait(guard).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

/// One call counted in flight; counts it out when dropped, waking a waiting teardown.
pub(super) struct InFlight<'a>(&'a InFlightCount);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let count = self.0;
        if count.count.fetch_sub(1, Ordering::SeqCst) == 1 && count.closing.load(Ordering::SeqCst) {
            // Taking the lock orders this wake-up after teardown's check, so it cannot be lost.
            let _guard = lock(&count.drain_lock);
            count.drained.notify_all();
        }
    }
}

/// Serializes the calls into a `thread_safe = false` plugin, and refuses same-thread re-entry, which would
/// otherwise deadlock.
#[derive(Default)]
pub(super) struct Serial {
    lock: Mutex<()>,
    owner: AtomicU64,
}

impl Serial {
    /// Takes the plugin's call lock, or refuses when this thread already holds it.
    pub(super) fn enter(&self, plugin_id: &str) -> Result<SerialGuard<'_>> {
        let me = THREAD_TOKEN.with(|t| *t);
        if self.owner.load(Ordering::Acquire) == me {
            return Err(Error::new(
                Status::Reentrant,
                format!("plugin '{plugin_id}' has thread_safe = false and was re-entered from its own callback"),
            ));
        }
        let guard = lock(&self.lock);
        self.owner.store(me, Ordering::Release);
        Ok(SerialGuard { serial: self, _guard: guard })
    }
}

pub(super) struct SerialGuard<'a> {
    serial: &'a Serial,
    _guard: MutexGuard<'a, ()>,
}

impl Drop for SerialGuard<'_> {
    fn drop(&mut self) {
        self.serial.owner.store(0, Ordering::Release);
    }
}
