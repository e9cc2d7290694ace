//! The changelog's pages never split a release. Entries are appended in history order and a
//! cut marks every unreleased entry with its release, so the current page reads: whole
//! releases, oldest first, then the unreleased changes. Paging out
//!
//! - moves whole releases only (a page may hold more than `PAGE` entries when a release is
//!   large), and only while the page holds at least `2 × PAGE` entries;
//! - keeps unreleased changes live until their release is cut, however many there are.
//!
//! The state's budget comes first: when it forces a step and the oldest entries are all
//! unreleased, their oldest half is archived anyway and the page number remembered; the next
//! cut links that page from its section (`ReleaseInfo::earlier_pages`), so the release still
//! reads whole from one place.

use super::{HistorianState, LogEntry};
use crate::agents::journal::Journal;

/// The number of entries at the front that form whole releases, taking releases until at
/// least `want` entries (or every released entry at the front, if fewer).
fn released_prefix(entries: &[LogEntry], want: usize) -> usize {
    let mut n = 0;
    while n < want {
        let Some(release) = entries.get(n).and_then(|e| e.release.as_deref()) else {
            break;
        };
        while entries
            .get(n)
            .is_some_and(|e| e.release.as_deref() == Some(release))
        {
            n += 1;
        }
    }
    n
}

/// Pages out whole releases while the page holds at least `2 × page` entries; returns the
/// archived pages (number, entries), oldest first.
pub(super) fn page_out(
    changelog: &mut Journal<LogEntry>,
    page: usize,
) -> Vec<(u32, Vec<LogEntry>)> {
    let mut out = Vec::new();
    while changelog.entries.len() >= 2 * page {
        let n = released_prefix(&changelog.entries, page);
        if n == 0 {
            break;
        }
        out.push(changelog.archive(n));
    }
    out
}

/// One step for the state's budget: the oldest release whole, or, when the oldest entries
/// are unreleased, their oldest half (remembered for the next cut); `None` when empty.
pub(super) fn page_out_early(mine: &mut HistorianState) -> Option<(u32, Vec<LogEntry>)> {
    let entries = &mine.changelog.entries;
    if entries.is_empty() {
        return None;
    }
    let whole = released_prefix(entries, 1);
    if whole > 0 {
        return Some(mine.changelog.archive(whole));
    }
    let unreleased = entries.iter().take_while(|e| e.release.is_none()).count();
    let (n, page) = mine.changelog.archive((unreleased / 2).max(1));
    mine.unreleased_pages.push(n);
    Some((n, page))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u32, release: Option<&str>) -> LogEntry {
        LogEntry {
            sha: format!("{n:040x}"),
            kind: "feat".into(),
            scope: None,
            breaking: false,
            summary: format!("change {n}"),
            author: String::new(),
            url: String::new(),
            release: release.map(str::to_owned),
            group: None,
        }
    }

    fn journal(runs: &[(usize, Option<&str>)]) -> Journal<LogEntry> {
        let mut n = 0;
        let mut j = Journal::default();
        for (count, release) in runs {
            for _ in 0..*count {
                j.entries.push(entry(n, *release));
                n += 1;
            }
        }
        j
    }

    #[test]
    fn pages_hold_whole_releases_and_unreleased_changes_stay() {
        let mut j = journal(&[
            (30, Some("v1")),
            (90, Some("v2")),
            (10, Some("v3")),
            (150, None),
        ]);
        let pages = page_out(&mut j, 100);
        // v1 and v2 reach 100 together (120 entries); v3 alone cannot make a page of 100, and
        // after the first page 160 entries remain, under 2 × 100.
        assert_eq!(pages.len(), 1);
        let releases: Vec<_> = pages[0].1.iter().map(|e| e.release.clone()).collect();
        assert_eq!(releases.len(), 120);
        assert!(
            releases
                .iter()
                .all(|r| matches!(r.as_deref(), Some("v1" | "v2")))
        );
        assert_eq!(j.entries.len(), 160);
        assert!(
            j.entries[..10]
                .iter()
                .all(|e| e.release.as_deref() == Some("v3"))
        );
    }

    #[test]
    fn unreleased_changes_are_never_paged_out_without_budget_pressure() {
        let mut j = journal(&[(450, None)]);
        assert!(page_out(&mut j, 100).is_empty());
        assert_eq!(j.entries.len(), 450);
    }

    #[test]
    fn budget_steps_take_a_whole_release_or_remember_the_unreleased_page() {
        let mut mine = HistorianState {
            changelog: journal(&[(40, Some("v1")), (60, None)]),
            ..HistorianState::default()
        };
        let (n, first) = page_out_early(&mut mine).unwrap();
        assert_eq!((n, first.len()), (1, 40));
        assert!(mine.unreleased_pages.is_empty());
        let (n, second) = page_out_early(&mut mine).unwrap();
        assert_eq!((n, second.len()), (2, 30));
        assert_eq!(mine.unreleased_pages, vec![2]);
    }
}
