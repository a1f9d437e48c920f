//! The manifest's tables and keys: which ones this loader knows, and the raw values both readers produce,
//! with their spans, before validation.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use crate::capability_kind::{CapabilityKind, PerKind};

/// A table of the manifest, and the keys this loader knows in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    /// The top level, holding `manifest_version` and the tables.
    Top,
    Plugin,
    Capabilities,
    Compatibility,
    Permissions,
}

impl Table {
    /// The tables below the top level, as named there.
    pub(super) const NAMED: [(&'static str, Table); 4] = [
        ("plugin", Table::Plugin),
        ("capabilities", Table::Capabilities),
        ("compatibility", Table::Compatibility),
        ("permissions", Table::Permissions),
    ];

    /// The keys this loader knows in the table. Keys starting with [`EXTENSION_PREFIX`] are accepted
    /// everywhere besides.
    pub(super) fn keys(self) -> &'static [&'static str] {
        match self {
            Table::Top => &[
                "manifest_version",
                "plugin",
                "capabilities",
                "compatibility",
                "permissions",
                "dependencies",
                "metadata",
            ],
            Table::Plugin => &[
                "id",
                "name",
                "version",
                "description",
                "author",
                "entry_point",
                "thread_safe",
                "unload",
                "isolation",
                "license",
                "homepage",
                "repository",
                "sha256",
            ],
            Table::Capabilities => &CapabilityKind::MANIFEST_KEYS,
            Table::Compatibility => &["min_host_version", "max_host_version"],
            Table::Permissions => &["read", "write", "network", "subprocess"],
        }
    }

    /// "the top level", "table [plugin]".
    pub(super) fn describe(self) -> &'static str {
        match self {
            Table::Top => "the top level",
            Table::Plugin => "table [plugin]",
            Table::Capabilities => "table [capabilities]",
            Table::Compatibility => "table [compatibility]",
            Table::Permissions => "table [permissions]",
        }
    }
}

/// Keys starting with this are accepted in every table and ignored: room for tools and vendors.
pub(super) const EXTENSION_PREFIX: &str = "x-";

/// The free-form table the loader accepts and ignores.
pub(super) const METADATA_TABLE: &str = "metadata";

/// A key this loader does not know, found by the full reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct UnknownKey {
    pub(super) table: Table,
    pub(super) key: Spanned<String>,
    /// Whether its value is a table (`[plugins]` rather than `plugins = 1`).
    pub(super) is_table: bool,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(super) struct RawManifest {
    pub(super) manifest_version: Option<Spanned<i64>>,
    pub(super) plugin: RawPlugin,
    #[serde(default)]
    pub(super) capabilities: RawCapabilities,
    #[serde(default)]
    pub(super) compatibility: RawCompatibility,
    pub(super) permissions: Option<RawPermissions>,
    /// `[dependencies]`: its keys are plugin ids, so none of them is unknown; the values are checked here.
    #[serde(default)]
    pub(super) dependencies: RawDependencies,
    /// Keys no table of this loader knows, in the order of the file; filled by the full reader (the fast reader
    /// declines every manifest that has one).
    #[serde(skip)]
    pub(super) unknown: Vec<UnknownKey>,
}

#[derive(Deserialize)]
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
    pub(super) isolation: Option<Spanned<String>>,
    pub(super) license: Option<Spanned<String>>,
    pub(super) homepage: Option<Spanned<String>>,
    pub(super) repository: Option<Spanned<String>>,
    pub(super) sha256: Option<Spanned<String>>,
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
                while let Some(key) = map.next_key::<String>()? {
                    // Other keys are the full reader's business: it names them with their line.
                    let Some(kind) = CapabilityKind::from_manifest_key(&key) else {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    };
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

/// `[permissions]`: what the plugin needs when it runs sandboxed.
#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(super) struct RawPermissions {
    #[serde(default)]
    pub(super) read: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) write: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) network: bool,
    #[serde(default)]
    pub(super) subprocess: bool,
}

#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(super) struct RawCompatibility {
    pub(super) min_host_version: Option<Spanned<String>>,
    pub(super) max_host_version: Option<Spanned<String>>,
}

/// `[dependencies]`: for each plugin id, in the order of the file, a semver requirement, given alone
/// (`other = "^1.2"`) or in a table (`other = { version = "^1.2", optional = true }`).
#[derive(Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(super) struct RawDependencies(pub(super) Vec<(Spanned<String>, RawDependency)>);

/// One dependency's value: its requirement, with its span, and whether it is optional.
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(super) struct RawDependency {
    pub(super) version: Spanned<String>,
    pub(super) optional: bool,
}

impl<'de> Deserialize<'de> for RawDependencies {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = RawDependencies;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the [dependencies] table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<RawDependencies, A::Error> {
                let mut entries = Vec::new();
                while let Some(id) = map.next_key::<Spanned<String>>()? {
                    let dependency = map.next_value::<RawDependency>()?;
                    entries.push((id, dependency));
                }
                Ok(RawDependencies(entries))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

impl<'de> Deserialize<'de> for RawDependency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        /// The table form, whose unknown keys are refused by name.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            version: String,
            #[serde(default)]
            optional: bool,
        }
        /// Either form. Untagged enums buffer their input, which loses spans: the span is the whole value's.
        #[derive(Deserialize)]
        #[serde(untagged, expecting = "a semver requirement string, or a table with `version` and `optional`")]
        enum Either {
            Requirement(String),
            Table(Table),
        }
        let value = Spanned::<Either>::deserialize(deserializer)?;
        let span = value.span();
        Ok(match value.into_inner() {
            Either::Requirement(version) => RawDependency { version: Spanned::new(span, version), optional: false },
            Either::Table(Table { version, optional }) => {
                RawDependency { version: Spanned::new(span, version), optional }
            }
        })
    }
}
