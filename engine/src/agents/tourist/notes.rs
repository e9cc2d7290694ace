//! Release notes as people read them, in `user/whats_new.md`: each release's changes grouped
//! by type (breaking changes first), a pull request's `#N` linked, the release's contributors
//! and first-time contributors, a link to the comparison with the previous release. A change
//! reverted before its release was cut drops out with its revert. The list is capped by whole
//! releases, never in the middle of one.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use super::{News, TouristState};
use crate::agents::ClassifiedCommit;

/// Authors remembered to tell a first-time contributor, as short hashes (beyond it, the
/// oldest are forgotten and may be counted as new again; the state's budget may halve it).
const KNOWN_AUTHORS: usize = 2_000;
/// Contributors named per release (first-time ones too); the rest are counted.
pub(super) const NAMED: usize = 20;
/// Releases that keep their contributors: older ones forget them (what's new shows the
/// latest releases; the state stays small however many people contribute).
const CREDITED_RELEASES: usize = 10;

/// A name's key in the known set: 12 hex digits of its SHA-256.
fn author_key(name: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(name.as_bytes())[..6])
}

/// Counts `c`'s author for the next release: a contributor, and a first-time one when never
/// seen before.
pub(super) fn count_author(mine: &mut TouristState, c: &ClassifiedCommit) {
    let author = c.author.trim();
    if author.is_empty() || c.is_merge() {
        return;
    }
    let listed = mine.pending_authors.iter().any(|a| a == author);
    if !listed {
        if mine.pending_authors.len() < NAMED {
            mine.pending_authors.push(author.to_owned());
        } else {
            mine.pending_more += 1;
        }
    }
    let key = author_key(author);
    if !mine.authors.contains(&key) {
        mine.authors.push(key);
        if mine.pending_first.len() < NAMED {
            mine.pending_first.push(author.to_owned());
        }
        let excess = mine.authors.len().saturating_sub(KNOWN_AUTHORS);
        mine.authors.drain(..excess);
    }
}

/// Gives the release just cut (the last of `mine.releases`) its contributors. The first
/// release CodeRipple sees names no first-time contributors: everyone is new to a history
/// that starts there, which says nothing (a repository joining mid-life has had others).
pub(super) fn close_release(mine: &mut TouristState) {
    let authors = std::mem::take(&mut mine.pending_authors);
    let first = std::mem::take(&mut mine.pending_first);
    let more = std::mem::take(&mut mine.pending_more);
    let earlier = mine.releases.len() > 1;
    if let Some(cut) = mine.releases.last_mut() {
        cut.contributors = authors;
        cut.more_contributors = more;
        cut.first_contributors = if earlier { first } else { Vec::new() };
    }
    let old = mine.releases.len().saturating_sub(CREDITED_RELEASES);
    for r in &mut mine.releases[..old] {
        r.contributors.clear();
        r.first_contributors.clear();
        r.more_contributors = 0;
    }
}

/// The Conventional Commits summary a revert names (`Revert "feat(x): add y"` → `add y`).
fn reverted(c: &ClassifiedCommit) -> Option<&str> {
    if c.kind != "revert" {
        return None;
    }
    let quoted = c.summary.strip_prefix("revert \"")?.strip_suffix('"')?;
    Some(match quoted.split_once(": ") {
        Some((head, rest)) if !head.contains(' ') => rest,
        _ => quoted,
    })
}

/// When `c` reverts a change not yet released, that change leaves what's new (and the revert
/// is not listed either); returns whether it did.
pub(super) fn drop_reverted(mine: &mut TouristState, c: &ClassifiedCommit) -> bool {
    let Some(summary) = reverted(c) else {
        return false;
    };
    match mine
        .news
        .iter()
        .rposition(|n| n.release.is_none() && n.summary == summary)
    {
        Some(at) => {
            mine.news.remove(at);
            true
        }
        None => false,
    }
}

/// Keeps at most `cap` entries, dropping whole releases from the oldest; the newest release
/// stays whole even when it alone is over. Unreleased changes alone over the cap keep their
/// newest `cap` (there is no release to split).
pub(super) fn cap_by_release(news: &mut Vec<News>, cap: usize) {
    while news.len() > cap {
        let oldest = news[0].release.clone();
        let run = news.iter().take_while(|n| n.release == oldest).count();
        if run == news.len() {
            if oldest.is_none() {
                news.drain(..news.len() - cap);
            }
            break;
        }
        news.drain(..run);
    }
}

/// A trailing `(#N)` (a squash merge's pull request): the summary without it, and `N`.
fn pull_request_of(summary: &str) -> (&str, Option<u64>) {
    let trimmed = summary.trim_end();
    if let Some(open) = trimmed.rfind("(#")
        && let Some(number) = trimmed[open + 2..].strip_suffix(')')
        && let Ok(n) = number.parse::<u64>()
    {
        return (trimmed[..open].trim_end(), Some(n));
    }
    (summary, None)
}

/// The entries of `release`, grouped: breaking changes first, then the pack's sections in
/// their order (`titles`), then the rest.
pub(super) fn groups(
    news: &[News],
    release: Option<&str>,
    titles: &[(String, String)],
    repo: &str,
) -> Vec<Value> {
    let order: HashMap<&str, usize> = titles
        .iter()
        .enumerate()
        .map(|(i, (kind, _))| (kind.as_str(), i + 1))
        .collect();
    let mut grouped: BTreeMap<usize, Vec<Value>> = BTreeMap::new();
    for n in news
        .iter()
        .rev()
        .filter(|n| n.release.as_deref() == release)
    {
        let at = if n.breaking {
            0
        } else {
            order
                .get(n.kind.as_str())
                .copied()
                .unwrap_or(titles.len() + 1)
        };
        let (summary, pr) = pull_request_of(&n.summary);
        grouped.entry(at).or_default().push(json!({
            "summary": summary,
            "url": n.url,
            "short": &n.sha[..7.min(n.sha.len())],
            "pr": pr,
            "pr_url": pr.map(|n| format!("https://github.com/{repo}/pull/{n}")),
        }));
    }
    grouped
        .into_iter()
        .map(|(at, entries)| {
            let title = match at {
                0 => "Breaking Changes",
                i => titles
                    .get(i - 1)
                    .map_or("Other Changes", |(_, t)| t.as_str()),
            };
            json!({"title": title, "entries": entries})
        })
        .collect()
}

/// The link comparing `previous` with `tag` on GitHub.
pub(super) fn compare_url(repo: &str, previous: &str, tag: &str) -> String {
    format!("https://github.com/{repo}/compare/{previous}...{tag}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn news(n: u32, release: Option<&str>) -> News {
        News {
            sha: format!("{n:040x}"),
            kind: "feat".into(),
            summary: format!("change {n}"),
            url: String::new(),
            breaking: false,
            release: release.map(str::to_owned),
        }
    }

    #[test]
    fn a_trailing_pull_request_number_is_taken_apart() {
        assert_eq!(pull_request_of("add x (#12)"), ("add x", Some(12)));
        assert_eq!(pull_request_of("add x (#12) "), ("add x", Some(12)));
        assert_eq!(
            pull_request_of("add x (#twelve)"),
            ("add x (#twelve)", None)
        );
        assert_eq!(pull_request_of("see (#1) later"), ("see (#1) later", None));
    }

    #[test]
    fn the_cap_drops_whole_releases_only() {
        let mut list: Vec<News> = (0..5)
            .map(|i| news(i, Some("v1")))
            .chain((5..9).map(|i| news(i, Some("v2"))))
            .chain((9..11).map(|i| news(i, None)))
            .collect();
        cap_by_release(&mut list, 7);
        // v1 (5 entries) goes whole; v2 and the unreleased stay (6 entries).
        assert_eq!(list.len(), 6);
        assert_eq!(list[0].release.as_deref(), Some("v2"));
        // One release over the cap on its own stays whole.
        let mut one: Vec<News> = (0..20).map(|i| news(i, Some("v3"))).collect();
        cap_by_release(&mut one, 7);
        assert_eq!(one.len(), 20);
        let mut unreleased: Vec<News> = (0..20).map(|i| news(i, None)).collect();
        cap_by_release(&mut unreleased, 7);
        assert_eq!(unreleased.len(), 7);
        assert_eq!(unreleased[0].summary, "change 13");
    }
}
