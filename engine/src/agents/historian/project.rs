//! The repository's own changelog rules in the Historian: which files it keeps (read through
//! the content source at the change's commit), the tag roles and commit decisions they give
//! over the pack's defaults, and where the project's own changelog is.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::{HistorianState, LogEntry};
use crate::agents::ClassifiedCommit;
use crate::facts::{self, FileFacts, RulesFacts};
use crate::overrides::{OVERRIDES_FILE, Override};
use crate::pack::TagRole;
use crate::plan::{Plan, PlanItem, ReleaseMark};
use crate::project_rules::{CommitDecision, CommitInput, CompiledRules, ProjectRules};

/// Whether `path` is a project's own changelog at the root (`CHANGELOG.md`, `CHANGES.rst`,
/// `HISTORY.md`, `NEWS`, …).
fn is_own_changelog(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    !path.contains('/')
        && ["changelog", "changes", "history", "news", "releases"]
            .iter()
            .any(|stem| {
                lower == *stem
                    || lower.strip_prefix(stem).is_some_and(|rest| {
                        [".md", ".markdown", ".rst", ".txt", ".adoc", ".org"].contains(&rest)
                    })
            })
}

/// Follows the plan's files: rules files read or removed, the root changelog added or
/// removed. Runs before the plan's items, so a change set that adds `cliff.toml` is read
/// under it.
pub(super) fn note_files(mine: &mut HistorianState, plan: &Plan) {
    for item in &plan.items {
        match item {
            PlanItem::Commit(c) => {
                for p in &c.paths.removed {
                    mine.project_rules.remove(p);
                    if p == OVERRIDES_FILE {
                        mine.file_overrides = None;
                    }
                    if mine.own_changelog.as_deref() == Some(p.as_str()) {
                        mine.own_changelog = None;
                    }
                }
                if let Some(p) = c.paths.added.iter().find(|p| is_own_changelog(p)) {
                    mine.own_changelog = Some(p.clone());
                }
            }
            PlanItem::Snapshot(s) => {
                mine.project_rules.retain(|p, _| s.paths.contains(p));
                if !s.paths.iter().any(|p| p == OVERRIDES_FILE) {
                    mine.file_overrides = None;
                }
                mine.own_changelog = s.paths.iter().find(|p| is_own_changelog(p)).cloned();
            }
            _ => {}
        }
    }
    for (path, f) in &plan.contents {
        match f {
            FileFacts::ReleaseRules(r) if facts::is_rules_file(path) => {
                mine.project_rules.insert(path.clone(), (**r).clone());
            }
            // A file that cannot be followed keeps the overrides read before, and says why.
            FileFacts::Overrides(o) => match (&o.error, &mut mine.file_overrides) {
                (Some(e), Some(kept)) => kept.error = Some(e.clone()),
                _ => mine.file_overrides = Some((**o).clone()),
            },
            _ => {}
        }
    }
    for p in plan.pull_requests() {
        if let (Some(sha), Some(lines)) = (&p.merge_commit, &p.commit_override) {
            mine.pr_overrides.insert(
                sha.clone(),
                Override {
                    source: format!("pr-{}", p.number),
                    lines: lines.clone(),
                },
            );
        }
    }
    while mine.pr_overrides.len() > MAX_PR_OVERRIDES {
        mine.pr_overrides.pop_first();
    }
}

/// Pull requests' overrides kept (beyond it, the lowest merge commit ids go first).
const MAX_PR_OVERRIDES: usize = 500;

/// `entries` as maintainers edited them: an entry with an override is replaced by the
/// override's lines (none: hidden). The repository's file wins over a pull request's block.
pub(super) fn overridden<'a>(
    mine: &HistorianState,
    entries: &'a [LogEntry],
) -> Cow<'a, [LogEntry]> {
    let file = mine
        .file_overrides
        .as_ref()
        .map_or(&[][..], |f| f.entries.as_slice());
    if file.is_empty() && mine.pr_overrides.is_empty() {
        return Cow::Borrowed(entries);
    }
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let found = file
            .iter()
            .find(|(prefix, _)| e.sha.starts_with(prefix.as_str()))
            .map(|(_, o)| o)
            .or_else(|| mine.pr_overrides.get(&e.sha));
        match found {
            None => out.push(e.clone()),
            Some(o) => out.extend(o.lines.iter().map(|line| rewritten(e, line))),
        }
    }
    Cow::Owned(out)
}

/// `e` with `line` as its message: a Conventional Commit line gives the type, scope and
/// breaking mark; any other line only the text.
fn rewritten(e: &LogEntry, line: &str) -> LogEntry {
    match git_conventional::Commit::parse(line) {
        Ok(cc) => LogEntry {
            kind: cc.type_().as_str().to_ascii_lowercase(),
            scope: cc.scope().map(|s| s.as_str().to_owned()),
            breaking: cc.breaking(),
            summary: cc.description().to_owned(),
            group: None,
            ..e.clone()
        },
        Err(_) => LogEntry {
            summary: line.to_owned(),
            ..e.clone()
        },
    }
}

/// The files' rules merged, and what of them cannot be followed (a file that does not parse,
/// settings not followed). Their patterns compiled when each file was read.
fn merged(files: &BTreeMap<String, RulesFacts>) -> (ProjectRules, Vec<String>) {
    let mut problems: Vec<String> = files
        .iter()
        .filter_map(|(path, f)| {
            f.error
                .as_ref()
                .map(|e| format!("{path} is not followed: {e}"))
        })
        .collect();
    let merged = ProjectRules::merge(files.values().filter_map(|f| f.rules.clone()));
    problems.extend(merged.not_followed());
    (merged, problems)
}

/// The project's rules as the Historian applies them.
#[derive(Debug, Default)]
pub(super) struct Followed {
    compiled: Option<CompiledRules>,
}

impl Followed {
    /// Every file's patterns compiled when it was read (a file whose patterns do not is
    /// kept as its error), so their merge compiles too; were it ever refused, the pack's
    /// rules would stay, as for a file that cannot be followed.
    pub(super) fn of(files: &BTreeMap<String, RulesFacts>) -> Self {
        let (merged, _) = merged(files);
        Self {
            compiled: (!merged.is_empty())
                .then(|| merged.compile().ok())
                .flatten(),
        }
    }

    /// `r` with the project's tag role, when its rules say one.
    pub(super) fn release(&self, r: &ReleaseMark) -> Option<ReleaseMark> {
        let role: TagRole = self.compiled.as_ref()?.role(&r.tag)?;
        (role != r.role).then(|| ReleaseMark { role, ..r.clone() })
    }

    /// What the project's rules decide for `c`, when they decide anything.
    pub(super) fn commit(&self, c: &ClassifiedCommit) -> Option<CommitDecision> {
        let rules = self.compiled.as_ref()?;
        // The first line as written (the classification keeps the description apart).
        let subject = if c.conventional {
            format!(
                "{}{}{}: {}",
                c.kind,
                c.scope
                    .as_deref()
                    .map(|s| format!("({s})"))
                    .unwrap_or_default(),
                if c.bang { "!" } else { "" },
                c.summary
            )
        } else {
            c.summary.clone()
        };
        rules.commit(&CommitInput {
            sha: &c.sha,
            subject: &subject,
            body: &c.body,
            kind: &c.kind,
            scope: c.scope.as_deref(),
            breaking: c.breaking,
            conventional: c.conventional,
            author: &c.author,
            ..CommitInput::default()
        })
    }
}

/// Re-cuts the live changelog under rules that just changed: a release still on the live
/// page (none of it archived) that the project now ignores is cut no more; its changes join
/// the next cut (or wait, unreleased), which lists it as a pre-release. This is how a
/// project's own changelog reads once regenerated under its new rules (`ignore_tags`
/// gaining a release already tagged). Archived pages are written once and stay.
pub(super) fn recut(mine: &mut HistorianState, followed: &Followed) {
    let Some(rules) = &followed.compiled else {
        return;
    };
    let mut i = 0;
    while i < mine.releases.len() {
        let r = &mine.releases[i];
        let live = mine
            .changelog
            .entries
            .iter()
            .any(|e| e.release.as_deref() == Some(r.tag.as_str()));
        let ignored = rules.role(&r.tag) == Some(TagRole::Folded);
        if r.skipped || !live || !r.earlier_pages.is_empty() || !ignored {
            i += 1;
            continue;
        }
        let gone = mine.releases.remove(i);
        let next = mine.releases.get(i).map(|n| n.tag.clone());
        for e in &mut mine.changelog.entries {
            if e.release.as_deref() == Some(gone.tag.as_str()) {
                e.release = next.clone();
            }
        }
        let mut folded = gone.pre_releases;
        folded.push(gone.tag);
        match mine.releases.get_mut(i) {
            Some(n) => {
                folded.append(&mut n.pre_releases);
                n.pre_releases = folded;
            }
            None => {
                folded.append(&mut mine.folded);
                mine.folded = folded;
            }
        }
    }
}

/// What the changelog page says of the project's own rules and changelog.
pub(super) fn about(mine: &HistorianState) -> serde_json::Value {
    // Said from the files as read: a render compiles nothing.
    let (merged, problems) = merged(&mine.project_rules);
    serde_json::json!({
        "followed": merged.source,
        "problems": problems,
        "skipped": mine.skipped_by_rules,
        "own_changelog": mine.own_changelog,
        "overrides": mine.pr_overrides.len()
            + mine.file_overrides.as_ref().map_or(0, |f| f.entries.len()),
        "overrides_error": mine.file_overrides.as_ref().and_then(|f| f.error.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_changelogs_are_recognized_at_the_root_only() {
        for p in [
            "CHANGELOG.md",
            "changelog",
            "CHANGES.rst",
            "HISTORY.md",
            "NEWS",
        ] {
            assert!(is_own_changelog(p), "{p}");
        }
        for p in ["docs/CHANGELOG.md", "changelogger.md", "src/history.rs"] {
            assert!(!is_own_changelog(p), "{p}");
        }
    }
}
