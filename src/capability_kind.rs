//! The kinds of capability a plugin can register: their names, manifest keys and ABI values, listed once, and
//! [`PerKind`], a value for each kind.

use std::fmt;
use std::ops::{Index, IndexMut};

use crate::abi::{
    aisopod_capability_kind, AISOPOD_CAPABILITY_CHANNEL, AISOPOD_CAPABILITY_COMMAND, AISOPOD_CAPABILITY_HOOK,
    AISOPOD_CAPABILITY_PROVIDER, AISOPOD_CAPABILITY_TOOL,
};

/// The five kinds of capability a plugin can register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CapabilityKind {
    Tool,
    Command,
    Channel,
    Provider,
    Hook,
}

/// What each kind is called where, in the order of [`CapabilityKind::ALL`].
struct Names {
    /// Singular, as in messages.
    name: &'static str,
    /// The key under `[capabilities]`.
    manifest_key: &'static str,
    abi: aisopod_capability_kind,
}

const NAMES: [Names; CapabilityKind::COUNT] = [
    Names { name: "tool", manifest_key: "tools", abi: AISOPOD_CAPABILITY_TOOL },
    Names { name: "command", manifest_key: "commands", abi: AISOPOD_CAPABILITY_COMMAND },
    Names { name: "channel", manifest_key: "channels", abi: AISOPOD_CAPABILITY_CHANNEL },
    Names { name: "provider", manifest_key: "providers", abi: AISOPOD_CAPABILITY_PROVIDER },
    Names { name: "hook", manifest_key: "hooks", abi: AISOPOD_CAPABILITY_HOOK },
];

// A kind's index is its ABI value, so that `from_abi` is an array lookup.
const _: () = {
    let mut i = 0;
    while i < CapabilityKind::COUNT {
        assert!(NAMES[i].abi as usize == i && CapabilityKind::ALL[i] as usize == i);
        i += 1;
    }
};

impl CapabilityKind {
    /// How many kinds there are.
    ///
    /// cbindgen:ignore
    pub const COUNT: usize = 5;

    /// Every kind, in the order of their ABI values.
    pub const ALL: [CapabilityKind; CapabilityKind::COUNT] = [
        CapabilityKind::Tool,
        CapabilityKind::Command,
        CapabilityKind::Channel,
        CapabilityKind::Provider,
        CapabilityKind::Hook,
    ];

    /// The `[capabilities]` keys, in kind order.
    pub const MANIFEST_KEYS: [&'static str; CapabilityKind::COUNT] = {
        let mut keys = [""; CapabilityKind::COUNT];
        let mut i = 0;
        while i < CapabilityKind::COUNT {
            keys[i] = NAMES[i].manifest_key;
            i += 1;
        }
        keys
    };

    /// The kind for an ABI value (`AISOPOD_CAPABILITY_*`), if it is one.
    pub fn from_abi(value: aisopod_capability_kind) -> Option<Self> {
        Self::ALL.get(usize::try_from(value).ok()?).copied()
    }

    /// The kind whose `[capabilities]` key is `key` ("tools").
    pub fn from_manifest_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.manifest_key() == key)
    }

    /// The ABI value (`AISOPOD_CAPABILITY_*`).
    pub fn abi(self) -> aisopod_capability_kind {
        NAMES[self.index()].abi
    }

    /// The index of this kind in [`CapabilityKind::ALL`], equal to its ABI value.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The singular name, as used in messages ("tool").
    pub fn as_str(self) -> &'static str {
        NAMES[self.index()].name
    }

    /// The manifest key under `[capabilities]` ("tools").
    pub fn manifest_key(self) -> &'static str {
        NAMES[self.index()].manifest_key
    }
}

impl fmt::Display for CapabilityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `T` for each capability kind, indexed by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PerKind<T>([T; CapabilityKind::COUNT]);

impl<T> PerKind<T> {
    /// The value `f` gives for each kind.
    pub fn from_fn(mut f: impl FnMut(CapabilityKind) -> T) -> Self {
        PerKind(CapabilityKind::ALL.map(&mut f))
    }

    /// Each kind with its value, in kind order.
    pub fn iter(&self) -> impl Iterator<Item = (CapabilityKind, &T)> {
        CapabilityKind::ALL.into_iter().zip(&self.0)
    }

    /// Each kind with its value, mutably, in kind order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (CapabilityKind, &mut T)> {
        CapabilityKind::ALL.into_iter().zip(&mut self.0)
    }

    /// The values, in kind order.
    pub fn values(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    /// Applies `f` to each value.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> PerKind<U> {
        PerKind(self.0.map(f))
    }
}

impl<T> Index<CapabilityKind> for PerKind<T> {
    type Output = T;
    fn index(&self, kind: CapabilityKind) -> &T {
        &self.0[kind.index()]
    }
}

impl<T> IndexMut<CapabilityKind> for PerKind<T> {
    fn index_mut(&mut self, kind: CapabilityKind) -> &mut T {
        &mut self.0[kind.index()]
    }
}

impl<T> IntoIterator for PerKind<T> {
    type Item = (CapabilityKind, T);
    type IntoIter = std::iter::Zip<
        std::array::IntoIter<CapabilityKind, { CapabilityKind::COUNT }>,
        std::array::IntoIter<T, { CapabilityKind::COUNT }>,
    >;
    fn into_iter(self) -> Self::IntoIter {
        CapabilityKind::ALL.into_iter().zip(self.0)
    }
}

impl<'a, T> IntoIterator for &'a PerKind<T> {
    type Item = (CapabilityKind, &'a T);
    type IntoIter =
        std::iter::Zip<std::array::IntoIter<CapabilityKind, { CapabilityKind::COUNT }>, std::slice::Iter<'a, T>>;
    fn into_iter(self) -> Self::IntoIter {
        CapabilityKind::ALL.into_iter().zip(self.0.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_abi_values_and_manifest_keys() {
        for kind in CapabilityKind::ALL {
            assert_eq!(CapabilityKind::from_abi(kind.abi()), Some(kind));
            assert_eq!(CapabilityKind::from_manifest_key(kind.manifest_key()), Some(kind));
            assert_eq!(kind.manifest_key(), format!("{kind}s"));
        }
        assert_eq!(CapabilityKind::from_abi(CapabilityKind::COUNT as u32), None);
        assert_eq!(CapabilityKind::from_abi(u32::MAX), None);
        assert_eq!(CapabilityKind::from_manifest_key("tool"), None);
    }

    #[test]
    fn per_kind_is_indexed_by_kind() {
        let mut per: PerKind<Vec<&str>> = PerKind::default();
        per[CapabilityKind::Hook].push("on_start");
        assert_eq!(per[CapabilityKind::Hook], ["on_start"]);
        assert!(per[CapabilityKind::Tool].is_empty());
        let counts: Vec<(CapabilityKind, usize)> = per.iter().map(|(kind, v)| (kind, v.len())).collect();
        assert_eq!(counts.last(), Some(&(CapabilityKind::Hook, 1)));
        assert_eq!(counts.len(), CapabilityKind::COUNT);
        let names = PerKind::from_fn(CapabilityKind::as_str);
        assert_eq!(names.values().copied().collect::<Vec<_>>(), ["tool", "command", "channel", "provider", "hook"]);
    }
}
