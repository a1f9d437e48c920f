//! The full TOML parser: it reads any manifest into the raw schema, and words every syntax and schema error
//! with its line (naming, for a duplicate key, the key and its table).

use std::ops::Range;
use std::path::Path;

use toml::de::{DeTable, DeValue};

use super::line_of;
use super::schema::RawManifest;
use crate::error::{Error, Result, Status};

/// Parses `text` into the raw schema; `path` is only used in messages.
pub(super) fn parse(text: &str, path: &Path) -> Result<RawManifest> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map(|span| line_of(text.as_bytes(), span.start)).unwrap_or(1);
        let message = match e.span() {
            Some(span) if e.message() == "duplicate key" => duplicate_key(text, span),
            _ => None,
        };
        let message = message.unwrap_or_else(|| e.message().trim_end().to_owned());
        Error::new(Status::ManifestParse, format!("{}:{line}: {message}", path.display()))
    })
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
    let Some((_, table, is_table)) = first else {
        return Some(format!("duplicate key `{key}`"));
    };
    let line_start = text[..span.start].rfind('\n').map_or(0, |at| at + 1);
    if is_table && text[line_start..span.start].trim_start().starts_with('[') {
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
