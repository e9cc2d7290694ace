//! The Historian (why it became so). Append-only:
//!
//! - `decisions/changelog.md`: one line per commit (short sha linking the full one), cut at
//!   each release or tag, grouped by type (the pack's sections), newest first.
//! - `decisions/architecture_decisions.md`: records of decisions only (the rules are in
//!   `records`): breaking changes, new or removed components, tools and infrastructure, a
//!   decision record added to the repository, commits or pull requests that state a
//!   decision, and the revert of a recorded one; numbered in order, never rewritten.
//! - `decisions/refactoring_history.md`: refactorings, renames and moves, removed components.
//!
//! Each list is a [`Journal`]: when it reaches `2 × PAGE` entries its oldest `PAGE` become a
//! write-once page (`decisions/<doc>/page-NNNN.md`), linked from the main file; state keeps
//! the recently archived keys, so redeliveries and replays change nothing. The changelog
//! pages out whole releases only, and keeps unreleased changes live until their release is
//! cut (`paging`).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::budget::halve;
use super::journal::Journal;
use super::orchestrator::join;
use super::{
    Agent, AgentInput, AgentRun, Finding, FindingKind, Plan, PlanItem, read_state, record_release,
    write_state,
};
use crate::doc::DocFile;
use crate::error::EngineError;
use crate::pack::AgentPack;
use crate::pack::TagRole;
use crate::project_rules::CommitDecision;
use crate::text::json_len;

/// The agent's name.
pub const NAME: &str = "historian";
/// Entries per archived page.
pub const PAGE: usize = 100;
const RELEASES: usize = 200;
/// Pre-releases waiting for the next cut, at most (a pack whose `tag_pattern` folds most tags
/// must not outgrow the state).
const FOLDED: usize = 50;
const DETAILS: usize = 20;
/// Commits the project's rules left out, remembered (idempotency).
const SKIPPED: usize = 300;
/// Archived keys and releases kept however tight the budget.
const KEYS_FLOOR: usize = 200;
const RELEASES_FLOOR: usize = 20;
/// The changelog type of history marks (a gap, a force-push).
pub const HISTORY_KIND: &str = "history";

mod state;

pub use state::{Adr, HistorianState, LogEntry, Refactoring};

/// The Historian agent.
#[derive(Debug)]
pub struct Historian {
    pack: Arc<AgentPack>,
}

impl Historian {
    /// The Historian rendering with `pack`.
    pub fn new(pack: Arc<AgentPack>) -> Self {
        Self { pack }
    }
}

pub(super) fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The commits the changelog holds, in the order they were applied: the keys of the most
/// recently archived entries (the last 2,000), then the current page. `repo_state` is the
/// whole repository state. This is how a check from outside (the load tester) sees whether
/// each commit was applied once and in order, without knowing the state's layout.
pub fn applied_commits(repo_state: &Value) -> Result<Vec<String>, EngineError> {
    match repo_state.as_object() {
        Some(slots) => applied_in(slots),
        None => Ok(Vec::new()),
    }
}

/// [`applied_commits`] of a state's parts.
pub fn applied_in(slots: &serde_json::Map<String, Value>) -> Result<Vec<String>, EngineError> {
    let Some(mine) = slots.get(NAME) else {
        return Ok(Vec::new());
    };
    let changelog = read_historian(mine)?.changelog;
    Ok(changelog
        .archived
        .into_iter()
        .chain(changelog.entries.into_iter().map(|e| e.sha))
        .collect())
}

/// Reads the Historian's state; the first cut's (`{entries, pages, archived}`: the changelog
/// alone) becomes the changelog journal.
fn read_historian(state: &Value) -> Result<HistorianState, EngineError> {
    if state.get("entries").is_some() && state.get("changelog").is_none() {
        let changelog: Journal<LogEntry> = read_state(NAME, state)?;
        return Ok(HistorianState {
            changelog,
            ..HistorianState::default()
        });
    }
    read_state(NAME, state)
}

impl Historian {
    /// One compaction step (see [`Agent::compact`]): the largest current page moves out
    /// early; then the longest list of archived keys, then the releases, lose their oldest half.
    fn compact_step(&self, mine: &mut HistorianState) -> Result<Option<Vec<DocFile>>, EngineError> {
        let sizes = [
            json_len(&mine.changelog.entries),
            json_len(&mine.adrs.entries),
            json_len(&mine.refactorings.entries),
        ];
        let largest = (0..3).filter(|&i| sizes[i] > 2).max_by_key(|&i| sizes[i]);
        let page = match largest {
            Some(0) => paging::page_out_early(mine).map(|(n, page)| {
                self.changelog_page(n, &project::overridden(mine, &page), &mine.releases)
            }),
            Some(1) => mine
                .adrs
                .page_out_early()
                .map(|(n, page)| self.adr_page(n, &page)),
            Some(_) => mine
                .refactorings
                .page_out_early()
                .map(|(n, page)| self.refactoring_page(n, &page)),
            None => None,
        };
        if let Some(page) = page {
            return Ok(Some(vec![page?]));
        }
        let lists = [
            &mut mine.changelog.archived,
            &mut mine.adrs.archived,
            &mut mine.refactorings.archived,
            &mut mine.skipped,
        ];
        if let Some(longest) = lists.into_iter().max_by_key(|l| l.len())
            && halve(longest, KEYS_FLOOR)
        {
            return Ok(Some(Vec::new()));
        }
        Ok(halve(&mut mine.releases, RELEASES_FLOOR).then(Vec::new))
    }
}

impl Agent for Historian {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Commits to list, stated decisions, breaking or infrastructure changes, releases.
    fn wants(&self, plan: &Plan) -> Option<String> {
        let mut why = Vec::new();
        let listed = plan.commits().filter(|c| !c.is_merge()).count();
        if listed > 0 {
            why.push(format!("{listed} commit(s) for the changelog"));
        }
        let decisions = plan.commits().filter(|c| c.decision).count()
            + plan.pull_requests().filter(|p| p.decision).count();
        if decisions > 0 {
            why.push(format!("{decisions} stated decision(s)"));
        }
        let breaking = plan.breaking_count();
        if breaking > 0 {
            why.push(format!("{breaking} breaking change(s) to record"));
        }
        if !plan.tools(&self.pack.rules).is_empty() {
            why.push("manifest/infrastructure changes".into());
        }
        let overrides = plan
            .pull_requests()
            .filter(|p| p.commit_override.is_some())
            .count();
        if overrides > 0 {
            why.push(format!("{overrides} pull request override(s) of entries"));
        }
        let files = plan
            .contents
            .values()
            .filter(|f| {
                matches!(
                    f,
                    crate::facts::FileFacts::ReleaseRules(_)
                        | crate::facts::FileFacts::Overrides(_)
                )
            })
            .count();
        if files > 0 {
            why.push(format!(
                "{files} file(s) of the repository's own changelog rules"
            ));
        }
        let marks = plan.history_marks().count();
        if marks > 0 {
            why.push(format!("{marks} history note(s) (a gap or a force-push)"));
        }
        if plan.releases().next().is_some() {
            why.push(format!(
                "changelog cut at {}",
                join(plan.releases().map(|r| r.tag.as_str()))
            ));
        }
        (!why.is_empty()).then(|| why.join("; "))
    }

    fn apply(&self, input: AgentInput<'_>, state: &mut Value) -> Result<AgentRun, EngineError> {
        let mut mine = read_historian(state)?;
        let mut logged = mine.changelog.keys();
        logged.extend(mine.skipped.iter().cloned());
        let mut recorded = mine.adrs.keys();
        let mut refactored = mine.refactorings.keys();
        let mut by_commit: HashMap<&str, Vec<&Finding>> = HashMap::new();
        for f in input.findings {
            by_commit.entry(f.sha.as_str()).or_default().push(f);
        }
        let mut run = AgentRun::default();
        project::note_files(&mut mine, input.plan);
        let followed = project::Followed::of(&mine.project_rules);
        if input
            .plan
            .contents
            .values()
            .any(|f| matches!(f, crate::facts::FileFacts::ReleaseRules(_)))
        {
            project::recut(&mut mine, &followed);
        }
        for item in &input.plan.items {
            let adjusted = match item {
                PlanItem::Release(r) => followed.release(r).map(PlanItem::Release),
                _ => None,
            };
            match adjusted.as_ref().unwrap_or(item) {
                PlanItem::Commit(c) => {
                    let findings = by_commit
                        .get(c.sha.as_str())
                        .map(Vec::as_slice)
                        .unwrap_or(&[]);
                    let mut applied = false;
                    // A merge commit is never listed, so the rules are not asked about it.
                    let decision = (!c.is_merge()).then(|| followed.commit(c)).flatten();
                    let (group, scope) = match decision {
                        Some(CommitDecision::Skip { .. }) => {
                            if logged.insert(c.sha.clone()) {
                                mine.skipped_by_rules += 1;
                                mine.skipped.push(c.sha.clone());
                                super::journal::keep_last(&mut mine.skipped, SKIPPED);
                                applied = true;
                            }
                            (None, None)
                        }
                        Some(CommitDecision::Keep { group, scope }) => {
                            (group.map(|g| g.title), scope.or_else(|| c.scope.clone()))
                        }
                        None => (None, c.scope.clone()),
                    };
                    if !c.is_merge() && logged.insert(c.sha.clone()) {
                        mine.changelog.entries.push(LogEntry {
                            sha: c.sha.clone(),
                            kind: c.kind.clone(),
                            scope,
                            breaking: c.breaking,
                            summary: c.summary.clone(),
                            author: c.author.clone(),
                            url: c.url.clone(),
                            release: None,
                            group,
                        });
                        applied = true;
                    }
                    if let Some(mut adr) = records::adr_for(c, findings, &mine.adrs.entries)
                        && recorded.insert(adr.key.clone())
                    {
                        mine.adr_count += 1;
                        adr.number = mine.adr_count;
                        mine.adrs.entries.push(adr);
                        applied = true;
                    }
                    let details: Vec<String> = findings
                        .iter()
                        .filter(|f| {
                            matches!(
                                f.what,
                                FindingKind::Renamed { .. } | FindingKind::ComponentRemoved { .. }
                            )
                        })
                        .take(DETAILS)
                        .map(|f| capitalize(&f.what.describe()))
                        .collect();
                    if !c.is_merge()
                        && (c.kind == "refactor" || !details.is_empty())
                        && refactored.insert(c.sha.clone())
                    {
                        mine.refactorings.entries.push(Refactoring {
                            sha: c.sha.clone(),
                            summary: capitalize(&c.summary),
                            date: c.date(),
                            url: c.url.clone(),
                            author: c.author.clone(),
                            details,
                        });
                        applied = true;
                    }
                    if applied {
                        run.applied += 1;
                    } else {
                        run.already_applied += 1;
                    }
                }
                // A tag that folded stays folded, and one that cut stays a cut, whatever a
                // later event of it says (GitHub sends `create`, the tag's push and `release`
                // in any order; a `prerelease` flag after the cut changes nothing). Only a
                // promotion (a pre-release made a release) cuts a tag still folded, as long
                // as no later release took it in.
                PlanItem::Release(r)
                    if r.role == TagRole::Folded
                        || (mine.folded.contains(&r.tag)
                            && !(r.promoted && r.role == TagRole::Cut))
                        || mine
                            .releases
                            .iter()
                            .any(|k| k.pre_releases.contains(&r.tag)) =>
                {
                    let known = mine.folded.contains(&r.tag)
                        || mine
                            .releases
                            .iter()
                            .any(|k| k.tag == r.tag || k.pre_releases.contains(&r.tag));
                    if known {
                        run.already_applied += 1;
                    } else {
                        mine.folded.push(r.tag.clone());
                        super::journal::keep_last(&mut mine.folded, FOLDED);
                        run.applied += 1;
                    }
                }
                PlanItem::Release(r) => {
                    mine.folded.retain(|t| *t != r.tag);
                    if record_release(&mut mine.releases, r, RELEASES) {
                        for e in mine
                            .changelog
                            .entries
                            .iter_mut()
                            .filter(|e| e.release.is_none())
                        {
                            e.release = Some(r.tag.clone());
                        }
                        if let Some(cut) = mine.releases.last_mut() {
                            cut.pre_releases = std::mem::take(&mut mine.folded);
                            cut.earlier_pages = std::mem::take(&mut mine.unreleased_pages);
                        }
                        run.applied += 1;
                    } else {
                        run.already_applied += 1;
                    }
                }
                PlanItem::History(h) => {
                    if logged.insert(h.key.clone()) {
                        mine.changelog.entries.push(LogEntry {
                            sha: h.key.clone(),
                            kind: HISTORY_KIND.into(),
                            scope: None,
                            breaking: false,
                            summary: h.summary.clone(),
                            author: String::new(),
                            url: h.url.clone(),
                            release: None,
                            group: None,
                        });
                        run.applied += 1;
                    } else {
                        run.already_applied += 1;
                    }
                }
                PlanItem::PullRequest(p) if p.breaking || p.decision => {
                    let key = format!("pr-{}", p.number);
                    if !recorded.insert(key.clone()) {
                        run.already_applied += 1;
                        continue;
                    }
                    let mut reasons = Vec::new();
                    if p.breaking {
                        reasons.push("A breaking change (pull request)".to_owned());
                    }
                    if p.decision {
                        reasons.push("The pull request states a decision".to_owned());
                    }
                    mine.adr_count += 1;
                    mine.adrs.entries.push(Adr {
                        key,
                        number: mine.adr_count,
                        title: capitalize(&p.title),
                        date: p.date.clone(),
                        short: format!("#{}", p.number),
                        url: p.url.clone(),
                        author: String::new(),
                        reasons,
                        decision: p
                            .body
                            .split("\n\n")
                            .next()
                            .unwrap_or("")
                            .trim()
                            .replace('\n', " "),
                        consequences: Vec::new(),
                    });
                    run.applied += 1;
                }
                _ => {}
            }
        }
        for (n, page) in paging::page_out(&mut mine.changelog, PAGE) {
            run.write_once.push(self.changelog_page(
                n,
                &project::overridden(&mine, &page),
                &mine.releases,
            )?);
        }
        for (n, page) in mine.adrs.page_out(PAGE) {
            run.write_once.push(self.adr_page(n, &page)?);
        }
        for (n, page) in mine.refactorings.page_out(PAGE) {
            run.write_once.push(self.refactoring_page(n, &page)?);
        }
        *state = write_state(NAME, &mine)?;
        Ok(run)
    }

    fn compact(&self, state: &mut Value) -> Result<Option<Vec<DocFile>>, EngineError> {
        let mut mine = read_historian(state)?;
        let Some(pages) = self.compact_step(&mut mine)? else {
            return Ok(None);
        };
        *state = write_state(NAME, &mine)?;
        Ok(Some(pages))
    }

    fn render(&self, repo: &str, state: &Value) -> Result<Vec<DocFile>, EngineError> {
        let mine = read_historian(state)?;
        Ok(vec![
            DocFile {
                path: "decisions/changelog.md".into(),
                contents: self.render_changelog(
                    Some(repo),
                    &format!("Changelog — {repo}"),
                    &project::overridden(&mine, &mine.changelog.entries),
                    &mine.releases,
                    mine.changelog.pages,
                    Some(&project::about(&mine)),
                )?,
            },
            DocFile {
                path: "decisions/architecture_decisions.md".into(),
                contents: self.render_adrs(
                    Some(repo),
                    &format!("Architecture decisions — {repo}"),
                    &mine.adrs.entries,
                    mine.adrs.pages,
                )?,
            },
            DocFile {
                path: "decisions/refactoring_history.md".into(),
                contents: self.render_refactorings(
                    Some(repo),
                    &format!("Refactoring history — {repo}"),
                    &mine.refactorings.entries,
                    mine.refactorings.pages,
                )?,
            },
        ])
    }
}

mod paging;
mod project;
mod records;
mod render;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod release_tests;

#[cfg(test)]
mod project_tests;

#[cfg(test)]
mod override_tests;
