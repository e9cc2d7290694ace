//! What the docs sink holds, remembered in the repository's state (`docs`: a short content
//! hash per doc path), so that a change set writes only the docs whose text changed. On S3
//! each unchanged doc is a `PutObject` saved; in a directory, a read and compare.
//!
//! The hashes are stored with the state, before the docs are written. A crash in between
//! leaves hashes of docs never written; the redelivery that follows finds its entries
//! already applied, and then every rendered doc is written again, whatever the hashes say.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::WorkerError;
use crate::sink::DocFile;

/// The state key the hashes live under.
const DOCS_KEY: &str = "docs";

/// The most the hashes take in the state (serialized); kept out of the agents' budget. A doc
/// whose hash would not fit is not remembered: it is written every time, as before.
pub(crate) const HASHES_BUDGET_BYTES: usize = 16 * 1024;

/// A remembered doc's share of the serialized map: its path, the hash and the JSON around.
fn entry_len(path: &str) -> usize {
    path.len() + 2 * 8 + 6
}

/// Doc path → hash of the contents last written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DocHashes(BTreeMap<String, String>);

impl DocHashes {
    /// Takes the hashes out of `slots` (none in a state written before they existed).
    pub(crate) fn take(slots: &mut Map<String, Value>) -> Result<Self, WorkerError> {
        match slots.remove(DOCS_KEY) {
            None | Some(Value::Null) => Ok(Self::default()),
            Some(v) => serde_json::from_value(v)
                .map(Self)
                .map_err(|e| WorkerError::invalid(format!("doc hashes in state: {e}"))),
        }
    }

    /// Puts them back (nothing when there are none).
    pub(crate) fn put(&self, slots: &mut Map<String, Value>) {
        if !self.0.is_empty() {
            let map = self
                .0
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            slots.insert(DOCS_KEY.to_owned(), Value::Object(map));
        }
    }

    /// Drops from `files` the docs the sink holds already, unless `write_all`; remembers
    /// every file kept as written.
    pub(crate) fn keep_changed(&mut self, files: &mut Vec<DocFile>, write_all: bool) {
        let mut used: usize = self.0.keys().map(|p| entry_len(p)).sum();
        files.retain(|f| {
            let hash = digest(&f.contents);
            let same = self.0.get(&f.path) == Some(&hash);
            if self.0.contains_key(&f.path) {
                self.0.insert(f.path.clone(), hash);
            } else if used + entry_len(&f.path) <= HASHES_BUDGET_BYTES {
                used += entry_len(&f.path);
                self.0.insert(f.path.clone(), hash);
            }
            write_all || !same
        });
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
        hashes.keep_changed(&mut files, false);
        assert_eq!(files.len(), 2, "nothing written yet");
        hashes.put(&mut slots);
        let mut again = DocHashes::take(&mut slots).unwrap();
        assert_eq!(again, hashes);
        assert!(slots.is_empty(), "taken out while agents work");
        let mut files = vec![doc("a.md", "one"), doc("b.md", "two, changed")];
        again.keep_changed(&mut files, false);
        assert_eq!(files, [doc("b.md", "two, changed")]);
        // A redelivery writes everything, since the docs of the first try may be missing.
        let mut files = vec![doc("a.md", "one"), doc("b.md", "two, changed")];
        again.keep_changed(&mut files, true);
        assert_eq!(files.len(), 2);
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
        hashes.keep_changed(&mut files, false);
        assert_eq!(files.len(), 2000);
        let mut slots = Map::new();
        hashes.put(&mut slots);
        let len = serde_json::to_vec(&slots[DOCS_KEY]).unwrap().len();
        assert!(len <= HASHES_BUDGET_BYTES, "{len} bytes");
        let mut files = many;
        hashes.keep_changed(&mut files, false);
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
