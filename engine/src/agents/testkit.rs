//! Builders for the agents' unit tests: envelopes in, a plan out, agents applied in order.

use chrono::{TimeZone, Utc};
use coderipple_core::contract::fixtures;
use coderipple_core::envelope::{
    Change, Commit, Envelope, PullRequestChange, PushChange, ReleaseChange, TagChange,
};
use serde_json::Value;

use super::{AgentSet, ChangeSet, Plan};
use crate::doc::DocFile;

pub fn sha(n: u32) -> String {
    format!("{n:040x}")
}

/// A commit `n` with `message`, adding, modifying and removing the given paths.
pub fn commit(
    n: u32,
    message: &str,
    added: &[&str],
    modified: &[&str],
    removed: &[&str],
) -> Commit {
    let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    Commit {
        id: sha(n),
        message: message.into(),
        author: "Mona".into(),
        timestamp: format!("2026-01-{:02}T10:00:00Z", 1 + n % 28),
        added: own(added),
        modified: own(modified),
        removed: own(removed),
    }
}

fn envelope(delivery: &str, event: &str, change: Change) -> Envelope {
    Envelope {
        received_at: Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap(),
        ..fixtures::envelope("o/r", delivery, event, change)
    }
}

pub fn push_to(git_ref: &str, delivery: &str, commits: Vec<Commit>) -> Envelope {
    envelope(
        delivery,
        "push",
        Change::Push(PushChange {
            head_timestamp: None,
            head_commit: None,
            git_ref: git_ref.into(),
            before: sha(0),
            after: commits.last().map(|c| c.id.clone()).unwrap_or_default(),
            default_branch: Some("main".into()),
            repo_url: "https://github.com/o/r".into(),
            created: false,
            deleted: false,
            forced: false,
            commits,
        }),
    )
}

pub fn push(delivery: &str, commits: Vec<Commit>) -> Envelope {
    push_to("refs/heads/main", delivery, commits)
}

pub fn release(delivery: &str, tag: &str, body: &str) -> Envelope {
    envelope(
        delivery,
        "release",
        Change::Release(ReleaseChange {
            tag: tag.into(),
            name: format!("Release {tag}"),
            body: body.into(),
            url: format!("https://github.com/o/r/releases/tag/{tag}"),
            prerelease: false,
            promoted: false,
            published_at: Some("2026-01-20T00:00:00Z".into()),
            target: None,
        }),
    )
}

pub fn tag(delivery: &str, tag: &str) -> Envelope {
    envelope(
        delivery,
        "create",
        Change::Tag(TagChange {
            tag: tag.into(),
            repo_url: "https://github.com/o/r".into(),
            date: None,
        }),
    )
}

pub fn pull_request(delivery: &str, number: u64, labels: &[&str], body: &str) -> Envelope {
    envelope(
        delivery,
        "pull_request",
        Change::PullRequest(PullRequestChange {
            number,
            title: format!("PR {number}"),
            body: body.into(),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            base_ref: "main".into(),
            merge_commit_sha: None,
            url: format!("https://github.com/o/r/pull/{number}"),
            merged_at: Some("2026-01-15T00:00:00Z".into()),
        }),
    )
}

pub fn plan(set: &AgentSet, events: Vec<Envelope>) -> Plan {
    set.plan(&ChangeSet {
        repo: "o/r".into(),
        events,
    })
    .unwrap()
}

/// Applies the planned agents to `state` as the worker's `apply` does; returns their write-once files.
pub fn apply_all(set: &AgentSet, plan: &Plan, state: &mut Value) -> Vec<DocFile> {
    set.apply(plan, state.as_object_mut().unwrap())
        .unwrap()
        .write_once
}

/// The doc at `path` as a worker without the LLM writer writes it (prose markers removed).
pub fn render(set: &AgentSet, state: &Value, path: &str) -> String {
    let empty = serde_json::Map::new();
    let doc = set
        .render("o/r", state.as_object().unwrap_or(&empty), |_| true)
        .unwrap()
        .into_iter()
        .find(|doc| doc.path == path)
        .unwrap_or_else(|| panic!("no doc {path}"))
        .contents;
    crate::prose::sections::strip(&doc, set.pack.markers())
}

/// Plans and applies `events` on `state`; returns the doc at `path`.
pub fn run(set: &AgentSet, state: &mut Value, events: Vec<Envelope>, path: &str) -> String {
    let p = plan(set, events);
    apply_all(set, &p, state);
    render(set, state, path)
}

/// Panics unless `doc` took nothing from payload text as Markdown structure: no control
/// characters; outside code, no raw HTML (an unescaped `<`), no image, no link but to the
/// repository's own pages (`o/r`) or the docs' own files, no bare URL, `www.` or address
/// GitHub would link, no table row with more cells than its header, no quote; and no
/// heading made of `PWNED` (the hostile payloads of the tests put it only after `#`s).
pub fn assert_inert(doc: &str) {
    assert!(
        !doc.chars().any(|c| c.is_control() && c != '\n'),
        "a control character in\n{doc}"
    );
    let prose = outside_code(doc);
    let escaped = |i: usize| prose[..i].bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 1;
    let at = |i: usize| {
        let (mut from, mut to) = (i.saturating_sub(40), (i + 40).min(prose.len()));
        while !prose.is_char_boundary(from) {
            from -= 1;
        }
        while !prose.is_char_boundary(to) {
            to += 1;
        }
        format!("{:?}", &prose[from..to])
    };
    for (i, _) in prose.match_indices('<') {
        assert!(escaped(i), "raw HTML at {}\n{doc}", at(i));
    }
    for (i, _) in prose.match_indices('[') {
        // The first unescaped `]` after an unescaped `[`, on its line, followed by `(`.
        let close = prose[i + 1..]
            .match_indices(']')
            .map(|(j, _)| i + 1 + j)
            .find(|&j| !escaped(j))
            .filter(|&j| !prose[i..j].contains('\n') && prose[j + 1..].starts_with('('));
        let Some(close) = close.filter(|_| !escaped(i)) else {
            continue;
        };
        let url = &prose[close + 2..];
        let own = [
            "https://github.com/o/r/",
            "../decisions/changelog.md)",
            "upgrading.md)",
            "changelog/page-",
            "architecture_decisions/page-",
            "refactoring_history/page-",
        ];
        assert!(
            own.iter().any(|p| url.starts_with(p)) && !prose[..i].ends_with('!'),
            "a link or an image at {}\n{doc}",
            at(i)
        );
    }
    for (i, _) in prose.match_indices("://") {
        assert!(
            escaped(i) || prose[..i].ends_with("](https"),
            "a bare URL at {}\n{doc}",
            at(i)
        );
    }
    for (i, _) in prose.to_ascii_lowercase().match_indices("www.") {
        let word_start = !prose[..i]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric);
        assert!(
            !word_start || escaped(i + 3),
            "a www. link at {}\n{doc}",
            at(i)
        );
    }
    for (i, _) in prose.match_indices('@') {
        let next = prose[i + 1..].chars().next();
        assert!(
            !next.is_some_and(char::is_alphanumeric),
            "an address or mention at {}\n{doc}",
            at(i)
        );
    }
    let mut cells = None;
    for line in prose.lines() {
        let item = line.trim_start_matches(['-', '>', ' ']);
        let heading = item.trim_start_matches('#');
        assert!(
            !(heading.len() < item.len() && heading.trim_start().starts_with("PWNED")),
            "a heading from payload text: {line:?}\n{doc}"
        );
        assert!(!line.starts_with('>'), "a quote: {line:?}\n{doc}");
        if !line.starts_with('|') {
            cells = None;
            continue;
        }
        let pipes = line
            .match_indices('|')
            .filter(|(i, _)| line[..*i].bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 0)
            .count();
        assert_eq!(*cells.get_or_insert(pipes), pipes, "{line:?}\n{doc}");
    }
}

/// `doc` without its fenced code blocks and code spans (each span left as a space).
fn outside_code(doc: &str) -> String {
    let mut out = String::new();
    let mut fence: Option<String> = None;
    for line in doc.lines() {
        let trimmed = line.trim_start();
        if let Some(open) = &fence {
            if trimmed.starts_with(open.as_str()) && trimmed.trim_end().chars().all(|c| c == '`') {
                fence = None;
            }
            out.push('\n');
            continue;
        }
        let run: String = trimmed.chars().take_while(|c| *c == '`').collect();
        if run.len() >= 3 && !trimmed[run.len()..].contains('`') {
            fence = Some(run);
            out.push('\n');
            continue;
        }
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '\\' => {
                    out.extend(&chars[i..(i + 2).min(chars.len())]);
                    i += 2;
                }
                '`' => {
                    let run = chars[i..].iter().take_while(|c| **c == '`').count();
                    let mut j = i + run;
                    let close = loop {
                        if j >= chars.len() {
                            break None;
                        }
                        let n = chars[j..].iter().take_while(|c| **c == '`').count();
                        match n {
                            0 => j += 1,
                            n if n == run => break Some(j),
                            n => j += n,
                        }
                    };
                    match close {
                        Some(j) => {
                            out.push(' ');
                            i = j + run;
                        }
                        None => {
                            out.extend(&chars[i..i + run]);
                            i += run;
                        }
                    }
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        out.push('\n');
    }
    out
}
