//! What the docs sink holds, remembered in the repository's state (`docs`: a short content
//! hash per doc path), so that a change set writes only the docs whose text changed. On S3
//! each unchanged doc is a `PutObject` saved; in a directory, a read and compare.
//!
//! The hashes are stored with the state, before the docs are written, so they are trusted
//! only once the change set that stored them is known to have finished: they name its first
//! delivery (`by`), and the next change set writes every doc it renders unless that delivery
//! is recorded `completed` (which happens after its docs were written). A crash in between,
//! a change set dead-lettered after its state write, a purged head: the docs are all
//! written again by the next change set, whatever the hashes say.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::doc::DocFile;
use crate::error::EngineError;

/// The state key the hashes live under.
const DOCS_KEY: &str = "docs";

/// The most the hashes take in the state (serialized); kept out of the agents' budget. A doc
/// whose hash would not fit is not remembered: it is written every time, as before.
pub const HASHES_BUDGET_BYTES: usize = 16 * 1024;

/// A remembered doc's share of the serialized map: its path, the hash and the JSON around.
fn entry_len(path: &str) -> usize {
    path.len() + 2 * 8 + 6
}

/// Room for `by` (a delivery id) beside the entries.
const BY_RESERVE: usize = 256;

/// Doc path → hash of the contents last written, and the change set that wrote them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DocHashes {
    /// The first delivery of the change set that stored these hashes.
    #[serde(default)]
    by: String,
    /// Doc path → hash.
    #[serde(default)]
    files: BTreeMap<String, String>,
}

impl DocHashes {
    /// Takes the hashes out of `slots` (none in a state written before they existed).
    pub fn take(slots: &mut Map<String, Value>) -> Result<Self, EngineError> {
        match slots.remove(DOCS_KEY) {
            None | Some(Value::Null) => Ok(Self::default()),
            Some(v) => serde_json::from_value(v)
                .map_err(|e| EngineError::invalid(format!("doc hashes in state: {e}"))),
        }
    }

    /// The delivery whose completion makes these hashes true (none: nothing to trust).
    pub fn stored_by(&self) -> Option<&str> {
        (!self.by.is_empty() && !self.files.is_empty()).then_some(self.by.as_str())
    }

    /// Puts them back (nothing when there are none).
    pub fn put(&self, slots: &mut Map<String, Value>) -> Result<(), EngineError> {
        if !self.files.is_empty() {
            let v = serde_json::to_value(self)
                .map_err(|e| EngineError::invalid(format!("doc hashes: {e}")))?;
            slots.insert(DOCS_KEY.to_owned(), v);
        }
        Ok(())
    }

    /// Drops from `files` the docs the sink holds already, unless `write_all`; remembers
    /// every file kept as written by the change set whose first delivery is `by` (unless no
    /// hash changed).
    pub fn keep_changed(&mut self, files: &mut Vec<DocFile>, write_all: bool, by: &str) {
        let mut changed = false;
        let mut used: usize = self.files.keys().map(|p| entry_len(p)).sum();
        files.retain(|f| {
            let hash = digest(&f.contents);
            let same = self.files.get(&f.path) == Some(&hash);
            let known = self.files.contains_key(&f.path);
            if !same && (known || used + entry_len(&f.path) + BY_RESERVE <= HASHES_BUDGET_BYTES) {
                if !known {
                    used += entry_len(&f.path);
                }
                changed = true;
                self.files.insert(f.path.clone(), hash);
            }
            write_all || !same
        });
        // A change set that changed no hash (a replay) leaves them as they were, naming the
        // change set that wrote them: the state of a replay is the state before it.
        if changed || self.by.is_empty() {
            self.by = by.to_owned();
        }
    }
}

/// The first 8 bytes of the contents' SHA-256, in hex.
fn digest(contents: &str) -> String {
    hex::encode(&Sha256::digest(contents.as_bytes())[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(path: &str, contents: &str) -> DocFile {
        DocFile {
            path: path.into(),
            contents: contents.into(),
        }
    }

    #[test]
    fn only_changed_docs_are_kept_and_the_hashes_survive_the_state() {
        let mut slots = Map::new();
        let mut hashes = DocHashes::take(&mut slots).unwrap();
        let mut files = vec![doc("a.md", "one"), doc("b.md", "two")];
        hashes.keep_changed(&mut files, false, "d1");
        assert_eq!(files.len(), 2, "nothing written yet");
        assert_eq!(hashes.stored_by(), Some("d1"));
        hashes.put(&mut slots).unwrap();
        let mut again = DocHashes::take(&mut slots).unwrap();
        assert_eq!(again, hashes);
        assert!(slots.is_empty(), "taken out while agents work");
        let mut files = vec![doc("a.md", "one"), doc("b.md", "two, changed")];
        again.keep_changed(&mut files, false, "d2");
        assert_eq!(files, [doc("b.md", "two, changed")]);
        // A redelivery writes everything, since the docs of the first try may be missing.
        let mut files = vec![doc("a.md", "one"), doc("b.md", "two, changed")];
        again.keep_changed(&mut files, true, "d3");
        assert_eq!(files.len(), 2);
        assert_eq!(
            again.stored_by(),
            Some("d2"),
            "nothing changed: still d2's hashes"
        );
    }

    #[test]
    fn hashes_stay_within_their_budget_and_unremembered_docs_are_always_written() {
        let mut hashes = DocHashes::default();
        let many: Vec<DocFile> = (0..2000)
            .map(|i| {
                doc(
                    &format!("decisions/adr/{i:04}-a-decision-with-a-long-title.md"),
                    "x",
                )
            })
            .collect();
        let mut files = many.clone();
        hashes.keep_changed(&mut files, false, &"d".repeat(200));
        assert_eq!(files.len(), 2000);
        let mut slots = Map::new();
        hashes.put(&mut slots).unwrap();
        let len = serde_json::to_vec(&slots[DOCS_KEY]).unwrap().len();
        assert!(len <= HASHES_BUDGET_BYTES, "{len} bytes");
        let mut files = many;
        hashes.keep_changed(&mut files, false, "d2");
        let kept = files.len();
        assert!(
            kept > 0 && kept < 2000,
            "the remembered ones are skipped, the rest written: {kept}"
        );
    }

    #[test]
    fn a_malformed_hash_map_is_refused_not_guessed() {
        let mut slots = Map::new();
        slots.insert(DOCS_KEY.into(), Value::String("<script>".into()));
        assert!(DocHashes::take(&mut slots).is_err());
    }
}
