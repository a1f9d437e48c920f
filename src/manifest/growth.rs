//! How manifests grow without breaking older loaders: `manifest_version`, and what becomes of a key this
//! loader does not know. In a manifest of a version this loader reads, an unknown key is a mistake, refused
//! with the nearest known key as a suggestion. In a newer manifest it is presumed to be a later addition, and
//! ignored with a warning naming both versions.

use std::path::Path;

use toml::Spanned;

use super::schema::{Table, UnknownKey, EXTENSION_PREFIX};
use super::validate::Validator;
use super::{line_of, MANIFEST_VERSION};
use crate::error::{Error, Result, Status};

/// " (manifest_version 2 is newer than 1, the newest this loader reads)": added to every warning and
/// error about a newer manifest.
pub(super) fn newer_version_note(declared: i64) -> String {
    format!(" (manifest_version {declared} is newer than {MANIFEST_VERSION}, the newest this loader reads)")
}

impl Validator<'_> {
    /// The declared `manifest_version` (1 when absent), which must be 1 or more.
    pub(super) fn manifest_version(&self, declared: &Option<Spanned<i64>>) -> Result<i64> {
        match declared {
            None => Ok(1),
            Some(version) if *version.get_ref() >= 1 => Ok(*version.get_ref()),
            Some(version) => self.invalid("manifest_version", version, "must be 1 or more"),
        }
    }

    /// Refuses the first unknown key of a manifest this loader reads in full; for a newer one, returns a
    /// warning for each.
    pub(super) fn unknown_keys(&self, unknown: &[UnknownKey], declared: i64) -> Result<Vec<String>> {
        let line = |key: &UnknownKey| self.line(key.key.span().start);
        if declared <= i64::from(MANIFEST_VERSION) {
            return match unknown.first() {
                None => Ok(Vec::new()),
                Some(first) => Err(refuse(first, self.text, self.path)),
            };
        }
        let note = newer_version_note(declared);
        let path = self.path.display();
        Ok(unknown.iter().map(|key| format!("{path}:{}: ignored {}{note}", line(key), what(key))).collect())
    }
}

/// The error for an unknown key in a manifest this loader reads in full.
pub(super) fn refuse(unknown: &UnknownKey, text: &str, path: &Path) -> Error {
    let line = line_of(text.as_bytes(), unknown.key.span().start);
    Error::new(Status::ManifestParse, format!("{}:{line}: {}", path.display(), refusal(unknown)))
}

/// "unknown field `nmae` in table [plugin]", "unknown table [plugins]".
fn what(unknown: &UnknownKey) -> String {
    let key = unknown.key.get_ref();
    match (unknown.table, unknown.is_table) {
        (Table::Top, true) => format!("unknown table [{key}]"),
        (Table::Top, false) => format!("unknown key `{key}` at the top level"),
        (table, _) => format!("unknown field `{key}` in {}", table.describe()),
    }
}

/// Why an unknown key is refused, with the nearest known key or else the known ones.
fn refusal(unknown: &UnknownKey) -> String {
    let known = unknown.table.keys();
    // At the top level every known key but `manifest_version` names a table.
    let show = |key: &str| match unknown.table == Table::Top && key != "manifest_version" {
        true => format!("[{key}]"),
        false => format!("`{key}`"),
    };
    match nearest(unknown.key.get_ref(), known) {
        Some(near) => format!("{}: did you mean {}?", what(unknown), show(near)),
        None => {
            let known: Vec<String> = known.iter().map(|key| show(key)).collect();
            format!(
                "{} (known: {}; keys starting with `{EXTENSION_PREFIX}` are ignored)",
                what(unknown),
                known.join(", ")
            )
        }
    }
}

/// The known key nearest to `key` by edit distance (ignoring case), if one is near enough to be a typo.
fn nearest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let key = key.to_ascii_lowercase();
    known
        .iter()
        .map(|candidate| (edit_distance(&key, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// The optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Three rows of the distance table: two back, one back, current.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            current[j] = (previous[j] + 1).min(current[j - 1] + 1).min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                current[j] = current[j].min(before[j - 2] + 1);
            }
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_typos() {
        assert_eq!(edit_distance("version", "version"), 0);
        assert_eq!(edit_distance("verison", "version"), 1);
        assert_eq!(edit_distance("entrypoint", "entry_point"), 1);
        assert_eq!(edit_distance("nmae", "name"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn only_near_keys_are_suggested() {
        let known = Table::Plugin.keys();
        assert_eq!(nearest("Verison", known), Some("version"));
        assert_eq!(nearest("thread-safe", known), Some("thread_safe"));
        assert_eq!(nearest("licence", known), Some("license"));
        assert_eq!(nearest("colour", known), None);
        assert_eq!(nearest("tool", Table::Capabilities.keys()), Some("tools"));
        assert_eq!(nearest("widgets", Table::Capabilities.keys()), None);
    }
}
