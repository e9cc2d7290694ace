//! An append-only list of keyed entries that stays bounded: when it reaches twice its page
//! size, its oldest page moves out into a write-once file, and only the keys of recently
//! archived entries are kept (so a late redelivery is still recognised).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

/// Archived keys remembered for idempotency.
const RECENT_ARCHIVED: usize = 2_000;

/// An entry with a stable identity (a commit sha, `pr-12`, …).
pub trait Keyed {
    /// The identity.
    fn key(&self) -> &str;
}

/// The journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Journal<T> {
    /// The current page, in application order.
    #[serde(default)]
    pub entries: Vec<T>,
    /// Number of archived pages.
    #[serde(default)]
    pub pages: u32,
    /// Keys of the most recently archived entries, oldest first.
    #[serde(default)]
    pub archived: Vec<String>,
}

impl<T> Default for Journal<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            pages: 0,
            archived: Vec::new(),
        }
    }
}

impl<T: Keyed> Journal<T> {
    /// Every key known (current page and recently archived).
    pub fn keys(&self) -> HashSet<String> {
        self.entries
            .iter()
            .map(|e| e.key().to_owned())
            .chain(self.archived.iter().cloned())
            .collect()
    }

    /// Moves the oldest `page` entries out while there are at least `2 × page`; returns the
    /// archived pages (number, entries) for the caller to render, oldest first.
    pub fn page_out(&mut self, page: usize) -> Vec<(u32, Vec<T>)> {
        let mut out = Vec::new();
        while self.entries.len() >= 2 * page {
            out.push(self.archive(page));
        }
        out
    }

    /// Moves the oldest half of the current page (at least one entry) out early, to keep the
    /// state's budget; returns the archived page (number, entries), or `None` when empty.
    pub fn page_out_early(&mut self) -> Option<(u32, Vec<T>)> {
        if self.entries.is_empty() {
            return None;
        }
        Some(self.archive((self.entries.len() / 2).max(1)))
    }

    /// Moves the oldest `n` entries (at most all) into the next page, remembering their keys.
    pub fn archive(&mut self, n: usize) -> (u32, Vec<T>) {
        let n = n.min(self.entries.len());
        let moved: Vec<T> = self.entries.drain(..n).collect();
        self.pages += 1;
        self.archived
            .extend(moved.iter().map(|e| e.key().to_owned()));
        keep_last(&mut self.archived, RECENT_ARCHIVED);
        (self.pages, moved)
    }
}

/// Keeps the last `keep` keys of a bounded "seen" list after appending `new`.
pub fn remember(seen: &mut Vec<String>, new: impl IntoIterator<Item = String>, keep: usize) {
    seen.extend(new);
    keep_last(seen, keep);
}

/// Drops the oldest (first) items of `list` beyond the last `keep`.
pub fn keep_last<T>(list: &mut Vec<T>, keep: usize) {
    let excess = list.len().saturating_sub(keep);
    list.drain(..excess);
}
