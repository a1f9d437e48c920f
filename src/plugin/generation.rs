//! Generations: the number each load of a plugin gets, and the mark a reload leaves on the version it
//! replaced, which makes that version's resolved handles stale.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Status};
use crate::manifest::CapabilityKind;

/// One loaded version of a plugin: its generation, and the generation that replaced it (0 while it is current).
#[derive(Default)]
pub(crate) struct Generation {
    number: AtomicU64,
    successor: AtomicU64,
}

impl Generation {
    /// Gives the version its number, before anyone else can see it.
    pub(crate) fn set(&self, number: u64) {
        self.number.store(number, Ordering::Relaxed);
    }

    /// The version's generation.
    pub(crate) fn number(&self) -> u64 {
        self.number.load(Ordering::Relaxed)
    }

    /// Marks the version replaced by generation `successor`: from now on its handles are stale.
    pub(crate) fn supersede(&self, successor: u64) {
        self.successor.store(successor, Ordering::Relaxed);
    }

    /// Whether a reload replaced this version: one relaxed load, on every call through a resolved handle.
    #[inline(always)]
    pub(crate) fn is_stale(&self) -> bool {
        self.successor.load(Ordering::Relaxed) != 0
    }

    /// The error for a call to capability `name` of `kind` of plugin `id` through this replaced version.
    #[cold]
    pub(crate) fn stale(&self, id: &str, kind: CapabilityKind, name: &str) -> Error {
        Error::new(
            Status::Stale,
            format!(
                "plugin '{id}' {kind} '{name}': this handle belongs to generation {}, and the plugin was reloaded \
                 as generation {}; resolve it again",
                self.number(),
                self.successor.load(Ordering::Relaxed)
            ),
        )
    }
}
