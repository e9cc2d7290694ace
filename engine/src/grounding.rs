//! Prose that cannot invent the repository. A model asked about a repository will name parts
//! of it; every name it gives must be one the engine knows at that commit, or the answer is
//! refused (the deterministic text stays, and the writer's summary says which names).
//!
//! What is checked: every code span of the answer, and every path-shaped word outside one
//! (`src/lib.rs`, `crates/core/`). A token is held to what its shape says it is:
//!
//! - a path (a `/`, or a file name with an extension) must be a path of the repository, a
//!   folder on one, or a file name in it;
//! - a commit (7–40 hex digits) must start a commit the changelog holds;
//! - a version (`v1.2.3`, `1.2`) must be a tag the repository has;
//! - in the architecture overview (`strict`), a single word in a code span must name a
//!   component, a folder or file name, a package, a tag or a tool the pack knows.
//!
//! Anything else in a code span (a command, a flag, a function) is left alone.

use std::collections::HashSet;

use pulldown_cmark::{Event, Parser};
use serde_json::{Map, Value};

use crate::agents::historian::HistorianState;
use crate::agents::inspector::InspectorState;
use crate::agents::{historian, inspector, read_state, tourist};
use crate::pack::AgentPack;

/// The prompt kinds whose single words in code spans must all be known.
pub const STRICT_KINDS: &[&str] = &["architecture_overview"];

/// What the repository has, as the engine knows it (lower case).
#[derive(Debug, Default)]
pub struct Inventory {
    /// Paths, their folders (with and without a trailing `/`) and their file names.
    paths: HashSet<String>,
    /// Single names: components, folder and file names, file stems, packages, tools.
    words: HashSet<String>,
    /// Tags, with and without a leading `v`.
    tags: HashSet<String>,
    /// Commit ids the changelog holds.
    shas: Vec<String>,
}

impl Inventory {
    /// The inventory of a repository's state (`slots`, the agents' parts), with the tool
    /// names of `pack`.
    pub fn of_state(slots: &Map<String, Value>, pack: &AgentPack) -> Self {
        let mut inv = Self::default();
        let part = |name: &str| slots.get(name).cloned().unwrap_or(Value::Null);
        if let Ok(mine) = read_state::<InspectorState>(inspector::NAME, &part(inspector::NAME)) {
            for p in mine.paths.iter().chain(mine.manifests.keys()) {
                inv.add_path(p);
            }
            for comp in mine.untracked.keys() {
                inv.add_path(&format!("{comp}/"));
            }
            for facts in mine.manifests.values() {
                if let Some(name) = &facts.name {
                    inv.words.insert(name.to_lowercase());
                }
                for member in &facts.members {
                    inv.add_path(member);
                }
            }
        }
        if let Ok(mine) = read_state::<HistorianState>(historian::NAME, &part(historian::NAME)) {
            inv.add_history(&mine);
        }
        if let Ok(mine) = read_state::<tourist::TouristState>(tourist::NAME, &part(tourist::NAME)) {
            for p in mine.entry_points.iter().chain(&mine.config_files) {
                inv.add_path(p);
            }
        }
        for tool in &pack.rules.tools {
            inv.words.insert(tool.name.to_lowercase());
        }
        inv
    }

    fn add_history(&mut self, mine: &HistorianState) {
        for r in &mine.releases {
            let tag = r.tag.to_lowercase();
            self.tags.insert(tag.trim_start_matches('v').to_owned());
            self.tags.insert(tag);
        }
        self.shas
            .extend(mine.changelog.entries.iter().map(|e| e.sha.to_lowercase()));
        self.shas
            .extend(mine.changelog.archived.iter().map(|k| k.to_lowercase()));
    }

    fn add_path(&mut self, path: &str) {
        let path = path.trim_matches('/').to_lowercase();
        if path.is_empty() {
            return;
        }
        let segments: Vec<&str> = path.split('/').collect();
        for (i, seg) in segments.iter().enumerate() {
            let prefix = segments[..=i].join("/");
            if i + 1 < segments.len() {
                self.paths.insert(format!("{prefix}/"));
            }
            self.paths.insert(prefix);
            self.words.insert((*seg).to_owned());
            if let Some((stem, _)) = seg.rsplit_once('.') {
                self.words.insert(stem.to_owned());
            }
        }
    }

    /// The names in `answer` the repository does not have (see the module docs); empty
    /// when the answer is grounded.
    pub fn unknown_names(&self, answer: &str, strict: bool) -> Vec<String> {
        let mut unknown = Vec::new();
        let mut check = |token: &str, in_code: bool| {
            if let Some(false) = self.knows(token, in_code && strict) {
                let name = token.to_owned();
                if !unknown.contains(&name) {
                    unknown.push(name);
                }
            }
        };
        for event in Parser::new(answer) {
            match event {
                Event::Code(code) => {
                    let code = code.trim();
                    if !code.contains(char::is_whitespace) {
                        check(code, true);
                    }
                }
                Event::Text(text) => {
                    for word in text.split_whitespace() {
                        let word = word.trim_matches(|c: char| ",;:!?()'\"".contains(c));
                        let word = word.trim_end_matches('.');
                        if word.contains('/') && !word.contains("://") && path_shaped(word) {
                            check(word, false);
                        }
                    }
                }
                _ => {}
            }
        }
        unknown
    }

    /// Whether the repository has `token`: `None` when its shape names nothing checked.
    fn knows(&self, token: &str, strict: bool) -> Option<bool> {
        let t = token.to_lowercase();
        if t.len() >= 7 && t.len() <= 40 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Some(self.shas.iter().any(|s| s.starts_with(&t)));
        }
        if version_shaped(&t) {
            return Some(self.tags.contains(&t) || self.tags.contains(t.trim_start_matches('v')));
        }
        if path_shaped(&t) && (t.contains('/') || file_shaped(&t)) {
            let bare = t.trim_start_matches("./");
            return Some(
                self.paths.contains(bare)
                    || self.paths.contains(bare.trim_end_matches('/'))
                    || (!bare.contains('/') && self.words.contains(bare)),
            );
        }
        if strict
            && !t.starts_with('-')
            && t.chars().all(|c| c.is_alphanumeric() || "-_".contains(c))
        {
            return Some(self.words.contains(&t));
        }
        None
    }
}

/// Letters, digits and `/ . - _` only, with a letter or digit in it.
fn path_shaped(t: &str) -> bool {
    t.chars().any(char::is_alphanumeric)
        && t.chars().all(|c| c.is_alphanumeric() || "/.-_".contains(c))
}

/// `name.ext` with an extension of 1–8 letters or digits (not a number like `1.5`).
fn file_shaped(t: &str) -> bool {
    match t.rsplit_once('.') {
        Some((stem, ext)) => {
            !stem.is_empty()
                && (1..=8).contains(&ext.len())
                && ext.chars().all(|c| c.is_ascii_alphanumeric())
                && ext.chars().any(|c| c.is_ascii_alphabetic())
        }
        None => false,
    }
}

/// `v1.2`, `1.2.3`, `v2.0.0-rc.1`.
fn version_shaped(t: &str) -> bool {
    let t = t.strip_prefix('v').unwrap_or(t);
    let core = t.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    (2..=4).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inventory() -> Inventory {
        let mut inv = Inventory::default();
        for p in [
            "src/main.rs",
            "src/lib.rs",
            "git-cliff-core/src/lib.rs",
            "Cargo.toml",
        ] {
            inv.add_path(p);
        }
        inv.words.insert("git-cliff-core".into());
        inv.words.insert("cargo".into());
        inv.tags.extend(["v2.0.0".to_owned(), "2.0.0".to_owned()]);
        inv.shas
            .push("5963160d7303111a217ee8453189d23a1c87925a".into());
        inv
    }

    #[test]
    fn invented_components_are_named_and_real_ones_pass() {
        let inv = inventory();
        let answer = "The `src` component holds the CLI; `data` and `metadata` keep the state, \
                      built on `git-cliff-core` with `Cargo`.";
        assert_eq!(inv.unknown_names(answer, true), vec!["data", "metadata"]);
        // Outside the architecture overview a bare word is not held to the inventory.
        assert!(inv.unknown_names(answer, false).is_empty());
    }

    #[test]
    fn paths_commits_and_versions_must_exist() {
        let inv = inventory();
        let answer = "See `src/lib.rs`, `git-cliff-core/` and src/main.rs; not `src/parser.rs` \
                      nor lib/util.rs. Since `v2.0.0` (commit `5963160`), not `v3.1.0` or `deadbeef`. \
                      Run `cargo install git-cliff` or `--help`; read https://git-cliff.org/docs.";
        assert_eq!(
            inv.unknown_names(answer, false),
            vec!["src/parser.rs", "lib/util.rs", "v3.1.0", "deadbeef"]
        );
    }
}
