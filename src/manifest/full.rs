//! The full TOML parser: it reads any manifest into the raw schema, finds the keys this loader does not know,
//! and words every syntax and schema error with its line (naming, for a duplicate key, the key and its table).

use std::ops::Range;
use std::path::Path;

use serde::Deserialize as _;
use toml::de::{DeString, DeTable, DeValue};
use toml::Spanned;

use super::growth::{self, newer_version_note};
use super::schema::{RawManifest, Table, UnknownKey, EXTENSION_PREFIX, METADATA_TABLE};
use super::{line_of, MANIFEST_VERSION};
use crate::error::{Error, Result, Status};

/// Parses `text` into the raw schema, with the keys this loader does not know; `path` is only used in
/// messages.
pub(super) fn parse(text: &str, path: &Path) -> Result<RawManifest> {
    let failed = |e: toml::de::Error, newer: Option<i64>| {
        let line = e.span().map(|span| line_of(text.as_bytes(), span.start)).unwrap_or(1);
        let message = match e.span() {
            Some(span) if e.message() == "duplicate key" => duplicate_key(text, span),
            _ => None,
        };
        let message = message.unwrap_or_else(|| e.message().trim_end().to_owned());
        let note = newer.map(newer_version_note).unwrap_or_default();
        Error::new(Status::ManifestParse, format!("{}:{line}: {message}{note}", path.display()))
    };
    let root = DeTable::parse(text).map_err(|e| failed(e, None))?;
    let newer = declared_version(root.get_ref()).filter(|&v| v > i64::from(MANIFEST_VERSION));
    let unknown = unknown_keys(root.get_ref()).map_err(|(span, why)| {
        let line = line_of(text.as_bytes(), span.start);
        Error::new(Status::ManifestParse, format!("{}:{line}: {why}", path.display()))
    })?;
    // In a manifest this loader reads in full, an unknown key is most likely a misspelt known one: saying so
    // explains a "missing field" that would follow.
    if let (None, Some(first)) = (newer, unknown.first()) {
        return Err(growth::refuse(first, text, path));
    }
    let mut raw = RawManifest::deserialize(toml::de::Deserializer::from(root)).map_err(|e| failed(e, newer))?;
    raw.unknown = unknown;
    Ok(raw)
}

/// `manifest_version`, when it is an integer.
fn declared_version(root: &DeTable<'_>) -> Option<i64> {
    let value = root.get("manifest_version")?.get_ref().as_integer()?;
    i64::from_str_radix(value.as_str(), value.radix()).ok()
}

/// Every key of a known table that this loader does not know, in the order of the file: neither one of the
/// table's keys nor an `x-` key. `[metadata]` is free-form, but must be a table.
fn unknown_keys(root: &DeTable<'_>) -> std::result::Result<Vec<UnknownKey>, (Range<usize>, String)> {
    let mut unknown = Vec::new();
    let mut check = |table: Table, key: &Spanned<DeString<'_>>, value: &Spanned<DeValue<'_>>| {
        let name: &str = key.get_ref();
        if !name.starts_with(EXTENSION_PREFIX) && !table.keys().contains(&name) {
            let is_table = value.get_ref().is_table();
            unknown.push(UnknownKey { table, key: Spanned::new(key.span(), name.to_owned()), is_table });
        }
    };
    for (key, value) in root {
        let name: &str = key.get_ref();
        check(Table::Top, key, value);
        if name == METADATA_TABLE && !value.get_ref().is_table() {
            return Err((key.span(), format!("[metadata] must be a table, not {}", value.get_ref().type_str())));
        }
        let known = Table::NAMED.iter().find(|(table_name, _)| *table_name == name);
        if let (Some((_, table)), Some(inner)) = (known, value.get_ref().as_table()) {
            for (key, value) in inner {
                check(*table, key, value);
            }
        }
    }
    unknown.sort_by_key(|u| u.key.span().start);
    Ok(unknown)
}

/// "duplicate key `name` in table [plugin]", for the key at `span`: the parser says only "duplicate key".
/// The table is found in the document the parser recovers: the one holding the nearest earlier definition.
fn duplicate_key(text: &str, span: Range<usize>) -> Option<String> {
    let key = decode_key(text.get(span.clone())?)?;
    let key = key.as_str();
    let (root, _) = DeTable::parse_recoverable(text);
    let mut first: Option<(usize, Vec<String>, bool)> = None;
    visit(root.get_ref(), &mut Vec::new(), &mut |path, name, name_span, is_table| {
        let nearer = first.as_ref().is_none_or(|(start, ..)| name_span.start >= *start);
        if name == key && name_span.start <= span.start && nearer {
            first = Some((name_span.start, path.to_vec(), is_table));
        }
    });
    let line_start = text[..span.start].rfind('\n').map_or(0, |at| at + 1);
    let line_end = text[span.end..].find('\n').map_or(text.len(), |at| span.end + at);
    // A table header ("[plugin]") naming a table defined before, with a header or with dotted keys.
    let header = Some(text[line_start..line_end].trim())
        .filter(|line| line.starts_with('[') && text[line_start..span.start].trim_start().starts_with('['))
        .and_then(|line| Some(line.trim_start_matches('[').split(']').next()?.trim()));
    let Some((_, table, is_table)) = first else {
        return Some(match header {
            Some(header) => format!("duplicate key `{key}`: table [{header}] is defined twice"),
            None => format!("duplicate key `{key}`"),
        });
    };
    if is_table && header.is_some() {
        let mut defined = table;
        defined.push(key.to_owned());
        return Some(format!("duplicate key `{key}`: table [{}] is defined twice", dotted(&defined)));
    }
    Some(match table.is_empty() {
        true => format!("duplicate key `{key}` at the top level"),
        false => format!("duplicate key `{key}` in table [{}]", dotted(&table)),
    })
}

/// Calls `f` with the path of its table, the key, its span and whether its value is a table, for every key.
fn visit(table: &DeTable<'_>, path: &mut Vec<String>, f: &mut impl FnMut(&[String], &str, Range<usize>, bool)) {
    for (key, value) in table {
        let name: &str = key.get_ref();
        match value.get_ref() {
            DeValue::Table(inner) => {
                f(path, name, key.span(), true);
                path.push(name.to_owned());
                visit(inner, path, f);
                path.pop();
            }
            DeValue::Array(items) => {
                f(path, name, key.span(), false);
                path.push(name.to_owned());
                for item in items.iter() {
                    if let DeValue::Table(inner) = item.get_ref() {
                        visit(inner, path, f);
                    }
                }
                path.pop();
            }
            _ => f(path, name, key.span(), false),
        }
    }
}

/// The key a single key segment as written (`name`, `"na\u006de"`, `'name'`) stands for.
fn decode_key(written: &str) -> Option<String> {
    let table: toml::Table = toml::from_str(&format!("{written} = 0")).ok()?;
    let mut keys = table.into_iter().map(|(key, _)| key);
    keys.next().filter(|_| keys.next().is_none())
}

/// A table path as TOML writes it: `plugin`, `a."b c"`.
fn dotted(path: &[String]) -> String {
    let bare = |k: &str| !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let parts: Vec<String> = path.iter().map(|k| if bare(k) { k.clone() } else { format!("{k:?}") }).collect();
    parts.join(".")
}
