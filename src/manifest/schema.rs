//! The manifest's tables as the full TOML parser deserializes them: raw values with their spans, before
//! validation.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use crate::capability_kind::{CapabilityKind, PerKind};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(super) struct RawManifest {
    pub(super) plugin: RawPlugin,
    #[serde(default)]
    pub(super) capabilities: RawCapabilities,
    #[serde(default)]
    pub(super) compatibility: RawCompatibility,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(super) struct RawPlugin {
    pub(super) id: Spanned<String>,
    pub(super) name: Spanned<String>,
    pub(super) version: Spanned<String>,
    #[serde(default = "empty")]
    pub(super) description: Spanned<String>,
    #[serde(default = "empty")]
    pub(super) author: Spanned<String>,
    pub(super) entry_point: Spanned<String>,
    #[serde(default = "default_true")]
    pub(super) thread_safe: bool,
    #[serde(default = "default_true")]
    pub(super) unload: bool,
}

/// The value of an optional string field that is absent.
pub(super) fn empty() -> Spanned<String> {
    Spanned::new(0..0, String::new())
}

fn default_true() -> bool {
    true
}

/// `[capabilities]`: a list of names for each kind, keyed by [`CapabilityKind::manifest_key`].
#[derive(Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(super) struct RawCapabilities(pub(super) PerKind<Vec<Spanned<String>>>);

impl<'de> Deserialize<'de> for RawCapabilities {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Lists;
        impl<'de> Visitor<'de> for Lists {
            type Value = RawCapabilities;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the [capabilities] table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<RawCapabilities, A::Error> {
                let mut lists: PerKind<Option<Vec<Spanned<String>>>> = PerKind::default();
                while let Some(KindKey(kind)) = map.next_key()? {
                    if lists[kind].is_some() {
                        return Err(de::Error::duplicate_field(kind.manifest_key()));
                    }
                    lists[kind] = Some(map.next_value()?);
                }
                Ok(RawCapabilities(lists.map(Option::unwrap_or_default)))
            }
        }
        deserializer.deserialize_map(Lists)
    }
}

/// A `[capabilities]` key. An unknown one is refused while the key is read, so the error has the key's line.
struct KindKey(CapabilityKind);

impl<'de> Deserialize<'de> for KindKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Key;
        impl Visitor<'_> for Key {
            type Value = KindKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a capability kind")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> std::result::Result<KindKey, E> {
                CapabilityKind::from_manifest_key(key)
                    .map(KindKey)
                    .ok_or_else(|| E::unknown_field(key, &CapabilityKind::MANIFEST_KEYS))
            }
        }
        deserializer.deserialize_identifier(Key)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(super) struct RawCompatibility {
    pub(super) min_host_version: Option<Spanned<String>>,
    pub(super) max_host_version: Option<Spanned<String>>,
}
