//! The plugin manifest, `aisopod.plugin.toml`: reading it with a size cap, parsing it strictly, and validating
//! every field, with errors that name the file, the field and the line.

use std::fmt;
use std::fs::File;
use std::io::Read as _;
use std::path::Path;

use semver::Version;
use serde::Deserialize;
use toml::Spanned;

use crate::cache::FileStamp;
use crate::error::{Error, Result, Status};

/// The manifest's file name inside a plugin directory.
pub const MANIFEST_FILE_NAME: &str = "aisopod.plugin.toml";
/// The largest manifest the loader reads, in bytes.
pub const MANIFEST_MAX_BYTES: u64 = 64 * 1024;
/// The longest plugin id, in bytes.
pub const ID_MAX_LEN: usize = 64;
/// The longest capability name, in bytes.
pub const CAPABILITY_NAME_MAX_LEN: usize = 128;

/// The five kinds of capability a plugin can register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CapabilityKind {
    Tool,
    Command,
    Channel,
    Provider,
    Hook,
}

impl CapabilityKind {
    /// Every kind, in the order of their ABI values.
    pub const ALL: [CapabilityKind; 5] = [
        CapabilityKind::Tool,
        CapabilityKind::Command,
        CapabilityKind::Channel,
        CapabilityKind::Provider,
        CapabilityKind::Hook,
    ];

    /// The kind for an ABI value (`AISOPOD_CAPABILITY_*`), if it is one.
    pub fn from_abi(value: u32) -> Option<Self> {
        Self::ALL.get(usize::try_from(value).ok()?).copied()
    }

    /// The index of this kind in [`CapabilityKind::ALL`], equal to its ABI value.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The singular name, as used in messages ("tool").
    pub fn as_str(self) -> &'static str {
        match self {
            CapabilityKind::Tool => "tool",
            CapabilityKind::Command => "command",
            CapabilityKind::Channel => "channel",
            CapabilityKind::Provider => "provider",
            CapabilityKind::Hook => "hook",
        }
    }

    /// The manifest key under `[capabilities]` ("tools").
    pub fn manifest_key(self) -> &'static str {
        match self {
            CapabilityKind::Tool => "tools",
            CapabilityKind::Command => "commands",
            CapabilityKind::Channel => "channels",
            CapabilityKind::Provider => "providers",
            CapabilityKind::Hook => "hooks",
        }
    }
}

impl fmt::Display for CapabilityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub id: String,
    pub name: String,
    pub version: Version,
    pub description: String,
    pub author: String,
    /// The library stem: `lib<entry_point>.so` on Linux.
    pub entry_point: String,
    /// When false, the loader serializes every call into the plugin.
    pub thread_safe: bool,
    /// When false, the library stays mapped after unload (`RTLD_NODELETE`).
    pub unload: bool,
    /// Declared capability names, indexed by [`CapabilityKind::index`].
    pub capabilities: [Vec<String>; 5],
    /// Inclusive lower bound on the host version.
    pub min_host_version: Option<Version>,
    /// Inclusive upper bound on the host version.
    pub max_host_version: Option<Version>,
}

impl Manifest {
    /// Reads and validates the manifest at `path`, refusing files over [`MANIFEST_MAX_BYTES`].
    pub fn read(path: &Path) -> Result<Manifest> {
        match Manifest::read_stamped(path)? {
            Some((manifest, _)) => Ok(manifest),
            None => Err(Error::new(Status::Io, format!("{}: cannot read manifest: no such file", path.display()))),
        }
    }

    /// Reads and validates the manifest at `path`, with the identity of the file it read. `Ok(None)` when
    /// there is no manifest there (the path or its directory does not exist, or is not a directory).
    pub(crate) fn read_stamped(path: &Path) -> Result<Option<(Manifest, FileStamp)>> {
        Manifest::read_opened(File::open(path), path)
    }

    /// As [`Manifest::read_stamped`], for a file the caller opened (or failed to open) at `path`.
    pub(crate) fn read_opened(opened: std::io::Result<File>, path: &Path) -> Result<Option<(Manifest, FileStamp)>> {
        let io_error =
            |e: std::io::Error| Error::new(Status::Io, format!("{}: cannot read manifest: {e}", path.display()));
        let mut file = match opened {
            Ok(file) => file,
            // No manifest, or a directory entry that is not a directory: not a candidate. A manifest that is a
            // dangling symlink is a broken candidate, though, worth a diagnostic.
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {
                return match std::fs::symlink_metadata(path) {
                    Ok(_) => Err(io_error(e)),
                    Err(_) => Ok(None),
                };
            }
            Err(e) => return Err(io_error(e)),
        };
        let metadata = file.metadata().map_err(io_error)?;
        if metadata.is_dir() {
            return Err(Error::new(Status::Io, format!("{}: manifest is a directory, not a file", path.display())));
        }
        if metadata.len() > MANIFEST_MAX_BYTES {
            return Err(too_large(path, metadata.len()));
        }
        // One read of the size fstat gave, plus one byte to notice a file that grew meanwhile; a short read
        // of a regular file is its end. Never past the cap.
        let mut bytes = vec![0; metadata.len() as usize + 1];
        let mut filled = 0;
        loop {
            match file.read(&mut bytes[filled..]) {
                Ok(0) => break,
                Ok(n) => {
                    filled += n;
                    if filled == bytes.len() {
                        if filled as u64 > MANIFEST_MAX_BYTES {
                            return Err(too_large(path, filled as u64));
                        }
                        bytes.resize(bytes.len() * 2, 0);
                    } else if metadata.is_file() {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(e)),
            }
        }
        bytes.truncate(filled);
        Ok(Some((Manifest::parse_bytes(&bytes, path)?, FileStamp::of(&metadata))))
    }

    /// Validates a manifest held in memory; `path` is only used in messages.
    pub fn parse_bytes(bytes: &[u8], path: &Path) -> Result<Manifest> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let offset = e.valid_up_to();
            Error::new(
                Status::InvalidUtf8,
                format!(
                    "{}:{}: manifest is not valid UTF-8 (invalid byte at offset {offset})",
                    path.display(),
                    line_of(bytes, offset)
                ),
            )
        })?;
        Manifest::parse_str(text, path)
    }

    /// Validates a manifest held in memory; `path` is only used in messages.
    pub fn parse_str(text: &str, path: &Path) -> Result<Manifest> {
        // Most manifests use a small part of TOML; the fast reader takes those without building a document
        // tree, and declines everything else to the full parser. Both feed the same validation.
        let raw = match fast::read(text) {
            Some(raw) => raw,
            None => Manifest::parse_full(text, path)?,
        };
        Validator { text, path }.validate(raw)
    }

    /// Validates a manifest with the full TOML parser only, skipping the fast reader. The result must equal
    /// [`Manifest::parse_str`]'s for every input; the fuzzers check that.
    #[doc(hidden)]
    pub fn parse_str_with_full_parser(text: &str, path: &Path) -> Result<Manifest> {
        Validator { text, path }.validate(Manifest::parse_full(text, path)?)
    }

    /// The full TOML parser, which also words every syntax and schema error.
    fn parse_full(text: &str, path: &Path) -> Result<RawManifest> {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map(|span| line_of(text.as_bytes(), span.start)).unwrap_or(1);
            Error::new(Status::ManifestParse, format!("{}:{line}: {}", path.display(), e.message().trim_end()))
        })
    }

    /// Declared names of one capability kind.
    pub fn declared(&self, kind: CapabilityKind) -> &[String] {
        &self.capabilities[kind.index()]
    }

    /// Checks `host` against `[compatibility]`; `path` is only used in messages.
    pub fn check_host_version(&self, host: &Version, path: &Path) -> Result<()> {
        let refuse = |bound: &str, relation: &str, limit: &Version| {
            Error::new(
                Status::VersionIncompatible,
                format!(
                    "plugin '{}' requires host version {relation} {limit} ([compatibility].{bound} in {}), but the host is {host}",
                    self.id,
                    path.display()
                ),
            )
        };
        if let Some(min) = &self.min_host_version {
            if host < min {
                return Err(refuse("min_host_version", ">=", min));
            }
        }
        if let Some(max) = &self.max_host_version {
            if host > max {
                return Err(refuse("max_host_version", "<=", max));
            }
        }
        Ok(())
    }

    /// The platform file name of the plugin's library: `lib<entry_point>.so`, `lib<entry_point>.dylib` or
    /// `<entry_point>.dll`.
    pub fn library_file_name(&self) -> String {
        format!("{}{}{}", std::env::consts::DLL_PREFIX, self.entry_point, std::env::consts::DLL_SUFFIX)
    }
}

fn too_large(path: &Path, len: u64) -> Error {
    Error::new(
        Status::ManifestTooLarge,
        format!("{}: manifest is {len} bytes, over the {MANIFEST_MAX_BYTES}-byte limit", path.display()),
    )
}

/// 1-based line number of byte `offset` in `bytes`.
fn line_of(bytes: &[u8], offset: usize) -> usize {
    1 + bytes[..offset.min(bytes.len())].iter().filter(|&&b| b == b'\n').count()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct RawManifest {
    plugin: RawPlugin,
    #[serde(default)]
    capabilities: RawCapabilities,
    #[serde(default)]
    compatibility: RawCompatibility,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct RawPlugin {
    id: Spanned<String>,
    name: Spanned<String>,
    version: Spanned<String>,
    #[serde(default = "empty")]
    description: Spanned<String>,
    #[serde(default = "empty")]
    author: Spanned<String>,
    entry_point: Spanned<String>,
    #[serde(default = "default_true")]
    thread_safe: bool,
    #[serde(default = "default_true")]
    unload: bool,
}

fn empty() -> Spanned<String> {
    Spanned::new(0..0, String::new())
}

fn default_true() -> bool {
    true
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct RawCapabilities {
    #[serde(default)]
    tools: Vec<Spanned<String>>,
    #[serde(default)]
    commands: Vec<Spanned<String>>,
    #[serde(default)]
    channels: Vec<Spanned<String>>,
    #[serde(default)]
    providers: Vec<Spanned<String>>,
    #[serde(default)]
    hooks: Vec<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct RawCompatibility {
    min_host_version: Option<Spanned<String>>,
    max_host_version: Option<Spanned<String>>,
}

struct Validator<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Validator<'_> {
    fn invalid<T>(&self, field: &str, value: &Spanned<String>, why: impl fmt::Display) -> Result<T> {
        Err(Error::new(
            Status::ManifestInvalid,
            format!(
                "{}:{}: {field} = {:?}: {why}",
                self.path.display(),
                line_of(self.text.as_bytes(), value.span().start),
                value.get_ref()
            ),
        ))
    }

    fn validate(&self, raw: RawManifest) -> Result<Manifest> {
        let plugin = raw.plugin;
        self.check_id(&plugin.id)?;
        if plugin.name.get_ref().trim().is_empty() {
            return self.invalid("[plugin].name", &plugin.name, "must not be empty");
        }
        for (field, value) in [
            ("[plugin].name", &plugin.name),
            ("[plugin].description", &plugin.description),
            ("[plugin].author", &plugin.author),
        ] {
            if value.get_ref().contains('\0') {
                return self.invalid(field, value, "must not contain a NUL character");
            }
        }
        let version = self.semver("[plugin].version", &plugin.version)?;
        self.check_entry_point(&plugin.entry_point)?;

        let min_host_version =
            self.optional_semver("[compatibility].min_host_version", &raw.compatibility.min_host_version)?;
        let max_host_version =
            self.optional_semver("[compatibility].max_host_version", &raw.compatibility.max_host_version)?;
        if let (Some(min), Some(max), Some(max_raw)) =
            (&min_host_version, &max_host_version, &raw.compatibility.max_host_version)
        {
            if min > max {
                return self.invalid(
                    "[compatibility].max_host_version",
                    max_raw,
                    format!("is lower than min_host_version {min}"),
                );
            }
        }

        let caps = raw.capabilities;
        let lists = [caps.tools, caps.commands, caps.channels, caps.providers, caps.hooks];
        let mut capabilities: [Vec<String>; 5] = Default::default();
        for (kind, list) in CapabilityKind::ALL.into_iter().zip(lists) {
            capabilities[kind.index()] = self.capability_names(kind, list)?;
        }

        Ok(Manifest {
            id: plugin.id.into_inner(),
            name: plugin.name.into_inner(),
            version,
            description: plugin.description.into_inner(),
            author: plugin.author.into_inner(),
            entry_point: plugin.entry_point.into_inner(),
            thread_safe: plugin.thread_safe,
            unload: plugin.unload,
            capabilities,
            min_host_version,
            max_host_version,
        })
    }

    fn check_id(&self, id: &Spanned<String>) -> Result<()> {
        let value = id.get_ref();
        if value.is_empty() {
            return self.invalid("[plugin].id", id, "must not be empty");
        }
        if value.len() > ID_MAX_LEN {
            return self.invalid(
                "[plugin].id",
                id,
                format!("is {} bytes, over the {ID_MAX_LEN}-byte limit", value.len()),
            );
        }
        let first_ok = value.as_bytes()[0].is_ascii_lowercase() || value.as_bytes()[0].is_ascii_digit();
        let rest_ok = value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if !first_ok || !rest_ok {
            return self.invalid("[plugin].id", id, "must match [a-z0-9][a-z0-9._-]*");
        }
        Ok(())
    }

    fn check_entry_point(&self, entry: &Spanned<String>) -> Result<()> {
        let value = entry.get_ref();
        if value.is_empty() {
            return self.invalid("[plugin].entry_point", entry, "must not be empty");
        }
        if value.contains(['/', '\\']) || value.contains("..") || value.contains('\0') {
            return self.invalid(
                "[plugin].entry_point",
                entry,
                "must be a library stem without path separators, '..' or NUL",
            );
        }
        Ok(())
    }

    fn semver(&self, field: &str, value: &Spanned<String>) -> Result<Version> {
        Version::parse(value.get_ref()).or_else(|e| self.invalid(field, value, format!("is not a semver version: {e}")))
    }

    fn optional_semver(&self, field: &str, value: &Option<Spanned<String>>) -> Result<Option<Version>> {
        value.as_ref().map(|v| self.semver(field, v)).transpose()
    }

    fn capability_names(&self, kind: CapabilityKind, list: Vec<Spanned<String>>) -> Result<Vec<String>> {
        let field = format!("[capabilities].{}", kind.manifest_key());
        let mut names: Vec<String> = Vec::with_capacity(list.len());
        for name in list {
            if let Err(why) = check_capability_name(name.get_ref()) {
                return self.invalid(&field, &name, why);
            }
            if names.iter().any(|n| n == name.get_ref()) {
                return self.invalid(&field, &name, "is listed twice");
            }
            names.push(name.into_inner());
        }
        Ok(names)
    }
}

/// A reader for the common shape of a manifest: the three known tables, bare keys, basic strings without
/// escapes, literal strings, booleans and arrays of those strings, comments. It builds the same
/// [`RawManifest`] the full parser would, and returns `None` for anything else (other syntax, unknown or
/// repeated keys and tables, missing fields, wrong types), which the full parser then reads and words.
mod fast {
    use super::{RawCapabilities, RawCompatibility, RawManifest, RawPlugin};
    use toml::Spanned;

    #[derive(Clone, Copy, PartialEq)]
    enum Table {
        Plugin,
        Capabilities,
        Compatibility,
    }

    struct Cursor<'a> {
        text: &'a str,
        at: usize,
    }

    impl<'a> Cursor<'a> {
        fn peek(&self) -> Option<u8> {
            self.text.as_bytes().get(self.at).copied()
        }

        fn skip_blanks(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t')) {
                self.at += 1;
            }
        }

        /// Skips blanks and a comment; then requires the end of the line (or of the text).
        fn end_of_line(&mut self) -> Option<()> {
            self.skip_blanks();
            if self.peek() == Some(b'#') {
                let rest = &self.text[self.at..];
                let len = rest.find('\n').unwrap_or(rest.len());
                // Control characters other than tab are invalid in comments too; a CR only before the LF.
                let comment = rest[..len].strip_suffix('\r').unwrap_or(&rest[..len]);
                if comment.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
                    return None;
                }
                self.at += comment.len();
            }
            match self.peek() {
                None => Some(()),
                Some(b'\n') => {
                    self.at += 1;
                    Some(())
                }
                Some(b'\r') if self.text.as_bytes().get(self.at + 1) == Some(&b'\n') => {
                    self.at += 2;
                    Some(())
                }
                _ => None,
            }
        }

        /// Skips whitespace, newlines and comments (inside arrays).
        fn skip_space(&mut self) -> Option<()> {
            loop {
                self.skip_blanks();
                match self.peek() {
                    Some(b'\n' | b'\r' | b'#') => self.end_of_line()?,
                    _ => return Some(()),
                }
            }
        }

        fn bare_key(&mut self) -> Option<&'a str> {
            let start = self.at;
            while matches!(self.peek(), Some(b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-')) {
                self.at += 1;
            }
            (self.at > start).then(|| &self.text[start..self.at])
        }

        /// A one-line basic string without escapes, or a one-line literal string.
        fn string(&mut self) -> Option<Spanned<String>> {
            let start = self.at;
            let quote = self.peek().filter(|q| *q == b'"' || *q == b'\'')?;
            let rest = &self.text[start + 1..];
            let len = rest.find(quote as char)?;
            let value = &rest[..len];
            // Multi-line strings, escapes and control characters are the full parser's business.
            if len == 0 && rest.as_bytes().get(1) == Some(&quote) {
                return None;
            }
            let escapes = quote == b'"' && value.contains('\\');
            if escapes || value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
                return None;
            }
            self.at = start + 1 + len + 1;
            Some(Spanned::new(start..self.at, value.to_owned()))
        }

        fn boolean(&mut self) -> Option<bool> {
            let rest = &self.text[self.at..];
            let (value, len) = if rest.starts_with("true") {
                (true, 4)
            } else if rest.starts_with("false") {
                (false, 5)
            } else {
                return None;
            };
            self.at += len;
            Some(value)
        }

        fn string_array(&mut self) -> Option<Vec<Spanned<String>>> {
            if self.peek() != Some(b'[') {
                return None;
            }
            self.at += 1;
            let mut values = Vec::new();
            loop {
                self.skip_space()?;
                if self.peek() == Some(b']') {
                    self.at += 1;
                    return Some(values);
                }
                values.push(self.string()?);
                self.skip_space()?;
                match self.peek()? {
                    b',' => self.at += 1,
                    b']' => {
                        self.at += 1;
                        return Some(values);
                    }
                    _ => return None,
                }
            }
        }
    }

    /// Sets a field that must not be set twice.
    fn set<T>(slot: &mut Option<T>, value: T) -> Option<()> {
        match slot {
            Some(_) => None,
            None => {
                *slot = Some(value);
                Some(())
            }
        }
    }

    pub(super) fn read(text: &str) -> Option<RawManifest> {
        let mut cursor = Cursor { text, at: 0 };
        let mut table: Option<Table> = None;
        let mut seen = [false; 3];
        let (mut id, mut name, mut version, mut entry_point) = (None, None, None, None);
        let (mut description, mut author, mut thread_safe, mut unload) = (None, None, None, None);
        let mut lists: [Option<Vec<Spanned<String>>>; 5] = Default::default();
        let (mut min_host_version, mut max_host_version) = (None, None);
        while cursor.peek().is_some() {
            cursor.skip_blanks();
            match cursor.peek() {
                Some(b'#' | b'\n' | b'\r') | None => cursor.end_of_line()?,
                Some(b'[') => {
                    cursor.at += 1;
                    let next = match cursor.bare_key()? {
                        "plugin" => Table::Plugin,
                        "capabilities" => Table::Capabilities,
                        "compatibility" => Table::Compatibility,
                        _ => return None,
                    };
                    if cursor.peek() != Some(b']') || std::mem::replace(&mut seen[next as usize], true) {
                        return None;
                    }
                    cursor.at += 1;
                    cursor.end_of_line()?;
                    table = Some(next);
                }
                Some(_) => {
                    let key = cursor.bare_key()?;
                    cursor.skip_blanks();
                    if cursor.peek() != Some(b'=') {
                        return None;
                    }
                    cursor.at += 1;
                    cursor.skip_blanks();
                    match (table?, key) {
                        (Table::Plugin, "id") => set(&mut id, cursor.string()?)?,
                        (Table::Plugin, "name") => set(&mut name, cursor.string()?)?,
                        (Table::Plugin, "version") => set(&mut version, cursor.string()?)?,
                        (Table::Plugin, "description") => set(&mut description, cursor.string()?)?,
                        (Table::Plugin, "author") => set(&mut author, cursor.string()?)?,
                        (Table::Plugin, "entry_point") => set(&mut entry_point, cursor.string()?)?,
                        (Table::Plugin, "thread_safe") => set(&mut thread_safe, cursor.boolean()?)?,
                        (Table::Plugin, "unload") => set(&mut unload, cursor.boolean()?)?,
                        (Table::Capabilities, key) => {
                            let slot = ["tools", "commands", "channels", "providers", "hooks"]
                                .iter()
                                .position(|k| *k == key)?;
                            set(&mut lists[slot], cursor.string_array()?)?
                        }
                        (Table::Compatibility, "min_host_version") => set(&mut min_host_version, cursor.string()?)?,
                        (Table::Compatibility, "max_host_version") => set(&mut max_host_version, cursor.string()?)?,
                        _ => return None,
                    }
                    cursor.end_of_line()?;
                }
            }
        }
        if !seen[Table::Plugin as usize] {
            return None;
        }
        let [tools, commands, channels, providers, hooks] = lists.map(Option::unwrap_or_default);
        Some(RawManifest {
            plugin: RawPlugin {
                id: id?,
                name: name?,
                version: version?,
                description: description.unwrap_or_else(super::empty),
                author: author.unwrap_or_else(super::empty),
                entry_point: entry_point?,
                thread_safe: thread_safe.unwrap_or(true),
                unload: unload.unwrap_or(true),
            },
            capabilities: RawCapabilities { tools, commands, channels, providers, hooks },
            compatibility: RawCompatibility { min_host_version, max_host_version },
        })
    }
}

/// Checks a capability name: 1 to 128 bytes of `[A-Za-z0-9_.:/-]`, starting with a letter, digit or `_`.
pub fn check_capability_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("a capability name must not be empty".into());
    }
    if name.len() > CAPABILITY_NAME_MAX_LEN {
        return Err(format!("a capability name is at most {CAPABILITY_NAME_MAX_LEN} bytes"));
    }
    let first = name.as_bytes()[0];
    let valid = (first.is_ascii_alphanumeric() || first == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.:/-".contains(&b));
    if !valid {
        return Err("a capability name must match [A-Za-z0-9_][A-Za-z0-9_.:/-]*".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[plugin]
id = "hello"
name = "Hello"
version = "1.2.3"
description = "Says hello"
author = "A. Author"
entry_point = "hello"

[capabilities]
tools = ["greet"]
hooks = ["on_start"]

[compatibility]
min_host_version = "0.1.0"
max_host_version = "2.0.0"
"#;

    fn parse(text: &str) -> Result<Manifest> {
        Manifest::parse_str(text, Path::new("/p/aisopod.plugin.toml"))
    }

    fn error(text: &str) -> Error {
        parse(text).expect_err("manifest should be refused")
    }

    #[test]
    fn good_manifest_parses() {
        let m = parse(GOOD).unwrap();
        assert_eq!(m.id, "hello");
        assert_eq!(m.version, Version::new(1, 2, 3));
        assert_eq!(m.declared(CapabilityKind::Tool), ["greet"]);
        assert_eq!(m.declared(CapabilityKind::Hook), ["on_start"]);
        assert!(m.declared(CapabilityKind::Channel).is_empty());
        assert!(m.thread_safe && m.unload);
        assert_eq!(
            m.library_file_name(),
            format!("{}hello{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX)
        );
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let e = error(&GOOD.replace("author =", "colour = \"red\"\nauthor ="));
        assert_eq!(e.status(), Status::ManifestParse);
        assert!(e.message().contains("colour"), "{e}");
        assert!(e.message().starts_with("/p/aisopod.plugin.toml:7:"), "{e}");
    }

    #[test]
    fn missing_field_is_named() {
        let e = error(&GOOD.replace("name = \"Hello\"\n", ""));
        assert_eq!(e.status(), Status::ManifestParse);
        assert!(e.message().contains("`name`"), "{e}");
    }

    #[test]
    fn invalid_values_name_field_and_line() {
        let cases = [
            ("id = \"hello\"", "id = \"\"", "[plugin].id"),
            ("id = \"hello\"", "id = \"Hello World\"", "[plugin].id"),
            ("id = \"hello\"", &format!("id = \"{}\"", "a".repeat(65)), "[plugin].id"),
            ("version = \"1.2.3\"", "version = \"1.2\"", "[plugin].version"),
            ("entry_point = \"hello\"", "entry_point = \"../evil\"", "[plugin].entry_point"),
            ("entry_point = \"hello\"", "entry_point = \"a/b\"", "[plugin].entry_point"),
            ("min_host_version = \"0.1.0\"", "min_host_version = \">=0.1\"", "[compatibility].min_host_version"),
            ("max_host_version = \"2.0.0\"", "max_host_version = \"0.0.1\"", "[compatibility].max_host_version"),
            ("tools = [\"greet\"]", "tools = [\"greet\", \"greet\"]", "[capabilities].tools"),
            ("hooks = [\"on_start\"]", "hooks = [\"bad name\"]", "[capabilities].hooks"),
            ("author = \"A. Author\"", "author = \"A\\u0000B\"", "[plugin].author"),
        ];
        for (from, to, field) in cases {
            let text = GOOD.replace(from, to);
            let line = 1 + text[..text.find(to).unwrap()].matches('\n').count();
            let e = error(&text);
            assert_eq!(e.status(), Status::ManifestInvalid, "{to}: {e}");
            assert!(e.message().contains(field), "{to}: {e}");
            assert!(e.message().starts_with(&format!("/p/aisopod.plugin.toml:{line}: ")), "{to}: {e}");
        }
    }

    #[test]
    fn id_of_exactly_64_bytes_is_accepted() {
        let id = format!("a{}", "-".repeat(63));
        assert_eq!(parse(&GOOD.replace("id = \"hello\"", &format!("id = \"{id}\""))).unwrap().id, id);
    }

    #[test]
    fn non_utf8_is_refused_with_offset() {
        let mut bytes = GOOD.as_bytes().to_vec();
        bytes.extend_from_slice(b"# \xff\n");
        let e = Manifest::parse_bytes(&bytes, Path::new("m.toml")).unwrap_err();
        assert_eq!(e.status(), Status::InvalidUtf8);
        assert!(e.message().contains("offset"), "{e}");
    }

    #[test]
    fn host_range_is_inclusive() {
        let m = parse(GOOD).unwrap();
        let path = Path::new("m.toml");
        assert!(m.check_host_version(&Version::new(0, 1, 0), path).is_ok());
        assert!(m.check_host_version(&Version::new(2, 0, 0), path).is_ok());
        let old = m.check_host_version(&Version::new(0, 0, 9), path).unwrap_err();
        assert_eq!(old.status(), Status::VersionIncompatible);
        assert!(old.message().contains("min_host_version") && old.message().contains("'hello'"), "{old}");
        let new = m.check_host_version(&Version::new(2, 0, 1), path).unwrap_err();
        assert!(new.message().contains("max_host_version"), "{new}");
    }

    /// The fast reader either declines or agrees exactly (values and spans) with the full parser.
    #[test]
    fn fast_reader_agrees_with_the_full_parser() {
        let cases = [
            GOOD.to_string(),
            GOOD.replace('\n', "\r\n"),
            GOOD.replace("tools = [\"greet\"]", "tools = [\n  \"greet\", # the one tool\n  'b',\n]"),
            GOOD.replace("author = \"A. Author\"", "author = 'lit\\eral'   # comment"),
            GOOD.replace("[compatibility]", "[compatibility] # trailing comment"),
            GOOD.replace("entry_point = \"hello\"", "entry_point = \"hello\"\nthread_safe = false\nunload = true"),
            GOOD.replace("author = \"A. Author\"", "author = \"\""),
            GOOD.replace("tools = [\"greet\"]", "tools = []"),
            GOOD.replace("author = \"A. Author\"", "author = \"esc\\\"aped\""),
            GOOD.replace("author = \"A. Author\"", "author = \"\"\"multi\"\"\""),
            GOOD.replace("[plugin]", "[ plugin ]"),
            GOOD.replace("id = \"hello\"", "\"id\" = \"hello\""),
            GOOD.replace("id = \"hello\"", "id = \"hello\"\nid = \"again\""),
            GOOD.replace("author = ", "colour = \"red\"\nauthor = "),
            GOOD.replace("name = \"Hello\"\n", ""),
            GOOD.replace("entry_point = \"hello\"", "entry_point = \"hello\"\nunload = 1"),
            GOOD.replace("tools = [\"greet\"]", "tools = [\"greet\",,]"),
            GOOD.replace("tools = [\"greet\"]", "tools = [\"greet\"] # x\r"),
            format!("{GOOD}\n[capabilities]\n"),
            "[plugin]\r".to_string(),
            String::new(),
        ];
        let mut accepted = 0;
        for text in &cases {
            let full: std::result::Result<RawManifest, _> = toml::from_str(text);
            if let Some(fast) = fast::read(text) {
                accepted += 1;
                assert_eq!(Some(fast), full.ok(), "the fast reader disagrees on:\n{text}");
            }
        }
        assert!(accepted >= 8, "the fast reader took only {accepted} cases");
    }

    #[test]
    fn capability_kinds_round_trip_abi_values() {
        for kind in CapabilityKind::ALL {
            assert_eq!(CapabilityKind::from_abi(kind.index() as u32), Some(kind));
        }
        assert_eq!(CapabilityKind::from_abi(5), None);
        assert_eq!(CapabilityKind::from_abi(u32::MAX), None);
    }
}
