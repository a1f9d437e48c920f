//! A reader for the common shape of a manifest: the known keys of the three known tables, bare keys, basic
//! strings without escapes, literal strings, booleans, arrays of those strings, a plain `manifest_version`,
//! comments. It builds the same [`RawManifest`] the full parser would, and returns `None` for anything else
//! (other syntax, unknown, `x-` or repeated keys and tables, `[metadata]`, missing fields, wrong types), which
//! the full parser then reads and words.
use toml::Spanned;

use super::schema::{empty, RawCapabilities, RawCompatibility, RawManifest, RawPlugin, Table};
use crate::capability_kind::{CapabilityKind, PerKind};

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

    /// A decimal integer without sign, underscores or leading zeros.
    fn integer(&mut self) -> Option<Spanned<i64>> {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        let digits = &self.text[start..self.at];
        if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
            return None;
        }
        Some(Spanned::new(start..self.at, digits.parse().ok()?))
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
    let mut table = Table::Top;
    let mut seen = [false; Table::NAMED.len()];
    let mut manifest_version = None;
    let (mut id, mut name, mut version, mut entry_point) = (None, None, None, None);
    let (mut description, mut author, mut thread_safe, mut unload) = (None, None, None, None);
    let (mut license, mut homepage, mut repository, mut isolation) = (None, None, None, None);
    let mut sha256 = None;
    let mut lists: PerKind<Option<Vec<Spanned<String>>>> = PerKind::default();
    let (mut min_host_version, mut max_host_version) = (None, None);
    while cursor.peek().is_some() {
        cursor.skip_blanks();
        match cursor.peek() {
            Some(b'#' | b'\n' | b'\r') | None => cursor.end_of_line()?,
            Some(b'[') => {
                cursor.at += 1;
                let header = cursor.bare_key()?;
                let index = Table::NAMED.iter().position(|(name, _)| *name == header)?;
                if cursor.peek() != Some(b']') || std::mem::replace(&mut seen[index], true) {
                    return None;
                }
                cursor.at += 1;
                cursor.end_of_line()?;
                table = Table::NAMED[index].1;
            }
            Some(_) => {
                let key = cursor.bare_key()?;
                cursor.skip_blanks();
                if cursor.peek() != Some(b'=') {
                    return None;
                }
                cursor.at += 1;
                cursor.skip_blanks();
                match (table, key) {
                    (Table::Top, "manifest_version") => set(&mut manifest_version, cursor.integer()?)?,
                    (Table::Plugin, "id") => set(&mut id, cursor.string()?)?,
                    (Table::Plugin, "name") => set(&mut name, cursor.string()?)?,
                    (Table::Plugin, "version") => set(&mut version, cursor.string()?)?,
                    (Table::Plugin, "description") => set(&mut description, cursor.string()?)?,
                    (Table::Plugin, "author") => set(&mut author, cursor.string()?)?,
                    (Table::Plugin, "entry_point") => set(&mut entry_point, cursor.string()?)?,
                    (Table::Plugin, "thread_safe") => set(&mut thread_safe, cursor.boolean()?)?,
                    (Table::Plugin, "unload") => set(&mut unload, cursor.boolean()?)?,
                    (Table::Plugin, "isolation") => set(&mut isolation, cursor.string()?)?,
                    (Table::Plugin, "license") => set(&mut license, cursor.string()?)?,
                    (Table::Plugin, "homepage") => set(&mut homepage, cursor.string()?)?,
                    (Table::Plugin, "repository") => set(&mut repository, cursor.string()?)?,
                    (Table::Plugin, "sha256") => set(&mut sha256, cursor.string()?)?,
                    (Table::Capabilities, key) => {
                        let kind = CapabilityKind::from_manifest_key(key)?;
                        set(&mut lists[kind], cursor.string_array()?)?
                    }
                    (Table::Compatibility, "min_host_version") => set(&mut min_host_version, cursor.string()?)?,
                    (Table::Compatibility, "max_host_version") => set(&mut max_host_version, cursor.string()?)?,
                    _ => return None,
                }
                cursor.end_of_line()?;
            }
        }
    }
    Some(RawManifest {
        manifest_version,
        plugin: RawPlugin {
            id: id?,
            name: name?,
            version: version?,
            description: description.unwrap_or_else(empty),
            author: author.unwrap_or_else(empty),
            entry_point: entry_point?,
            thread_safe: thread_safe.unwrap_or(true),
            unload: unload.unwrap_or(true),
            isolation,
            license,
            homepage,
            repository,
            sha256,
        },
        capabilities: RawCapabilities(lists.map(Option::unwrap_or_default)),
        compatibility: RawCompatibility { min_host_version, max_host_version },
        // A [permissions] table is the full reader's: this one declines its keys.
        permissions: None,
        // So is [dependencies], whose keys are ids: this one knows no such table.
        dependencies: Default::default(),
        unknown: Vec::new(),
    })
}
