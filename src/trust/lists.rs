//! The host's allow and deny lists of plugin ids, and the refusal of a plugin they keep out.

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::{Error, Result, Status};
use crate::manifest::check_id_syntax;

/// How many ids of the allow list a refusal quotes.
const QUOTED_IDS: usize = 8;

/// Which plugins the host lets in by id. Both lists empty (the default): every plugin. A plugin on the deny list
/// is kept out, and so is one missing from an allow list that is not empty; the deny list wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PluginLists {
    allow: BTreeSet<String>,
    deny: BTreeSet<String>,
}

/// Which list a plugin is kept out by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum List {
    Allow,
    Deny,
}

impl PluginLists {
    /// Adds `id` to `list`. An id no manifest could have is refused, so that a misspelt one fails here rather
    /// than match nothing.
    pub(crate) fn add(&mut self, list: List, id: &str) -> Result<()> {
        check_id_syntax(id).map_err(|why| {
            Error::new(Status::InvalidArgument, format!("argument 'id' is {id:?}, which is no plugin id: it {why}"))
        })?;
        match list {
            List::Allow => self.allow.insert(id.to_owned()),
            List::Deny => self.deny.insert(id.to_owned()),
        };
        Ok(())
    }

    /// Empties both lists: every plugin is let in again.
    pub(crate) fn clear(&mut self) {
        self.allow.clear();
        self.deny.clear();
    }

    /// The `Denied` error keeping plugin `id`, whose manifest is `manifest_path`, out; `None` when the lists let
    /// it in.
    /// Whether both lists are empty, so that no plugin is kept out.
    pub(crate) fn lets_all_in(&self) -> bool {
        self.deny.is_empty() && self.allow.is_empty()
    }

    pub(crate) fn refusal(&self, id: &str, manifest_path: &Path) -> Option<Error> {
        let why = if self.deny.contains(id) {
            "is on the host's deny list".to_owned()
        } else if !self.allow.is_empty() && !self.allow.contains(id) {
            let mut quoted: Vec<String> = self.allow.iter().take(QUOTED_IDS).map(|id| format!("'{id}'")).collect();
            if self.allow.len() > QUOTED_IDS {
                quoted.push(format!("{} more", self.allow.len() - QUOTED_IDS));
            }
            format!("is not on the host's allow list ({})", quoted.join(", "))
        } else {
            return None;
        };
        Some(Error::new(Status::Denied, format!("{}: plugin '{id}' {why}", manifest_path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_lists_let_everything_in_and_the_deny_list_wins() {
        let path = Path::new("/p/a/aisopod.plugin.toml");
        let mut lists = PluginLists::default();
        assert_eq!(lists.refusal("a", path), None);
        lists.add(List::Deny, "a").unwrap();
        let denied = lists.refusal("a", path).unwrap();
        assert_eq!(denied.status(), Status::Denied);
        assert_eq!(denied.message(), "/p/a/aisopod.plugin.toml: plugin 'a' is on the host's deny list");
        assert_eq!(lists.refusal("b", path), None, "a deny list alone lets the others in");
        lists.add(List::Allow, "a").unwrap();
        assert!(lists.refusal("a", path).unwrap().message().contains("deny list"), "on both lists: denied");
        lists.add(List::Allow, "c").unwrap();
        assert_eq!(
            lists.refusal("b", path).unwrap().message(),
            "/p/a/aisopod.plugin.toml: plugin 'b' is not on the host's allow list ('a', 'c')"
        );
        assert_eq!(lists.refusal("c", path), None);
        lists.clear();
        assert_eq!(lists.refusal("a", path), None);
    }

    #[test]
    fn a_long_allow_list_is_quoted_in_part_and_bad_ids_are_refused() {
        let mut lists = PluginLists::default();
        for i in 0..10 {
            lists.add(List::Allow, &format!("p{i}")).unwrap();
        }
        let message = lists.refusal("x", Path::new("m")).unwrap().message().to_owned();
        assert!(message.ends_with("('p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 2 more)"), "{message}");
        let error = lists.add(List::Deny, "Hello").unwrap_err();
        assert_eq!(error.status(), Status::InvalidArgument);
        assert_eq!(
            error.message(),
            "argument 'id' is \"Hello\", which is no plugin id: it must match [a-z0-9][a-z0-9._-]*"
        );
        assert_eq!(lists.add(List::Deny, "").unwrap_err().status(), Status::InvalidArgument);
    }
}
