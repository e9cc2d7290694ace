//! The Tourist Guide (how to use it): `user/whats_new.md` (user-visible changes, newest
//! first, under the release that shipped them), `user/upgrading.md` (every breaking change
//! with its commit) and `user/getting_started.md` (kept in step with the README, the command
//! line and configuration files; with a content source, the README's own install and usage
//! sections).

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::budget::{halve, halve_set};
use super::journal::{keep_last, remember};
use super::orchestrator::join;
use super::{
    Agent, AgentInput, AgentRun, ClassifiedCommit, Plan, PlanItem, ReleaseInfo, read_state,
    record_release, write_state,
};
use crate::doc::DocFile;
use crate::error::EngineError;
use crate::facts::{FileFacts, ReadmeFacts};
use crate::pack::AgentPack;
use crate::pack::Rules;
use crate::pack::TagRole;

/// The agent's name.
pub const NAME: &str = "tourist_guide";
const RELEASES: usize = 50;
const SEEN: usize = 2_000;
/// Remembered keys kept however tight the budget.
const SEEN_FLOOR: usize = 200;
const RECENT_GUIDE: usize = 10;
const GUIDE_FILES: usize = 30;

/// A what's-new entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct News {
    /// Commit.
    pub sha: String,
    /// Type.
    pub kind: String,
    /// Summary.
    pub summary: String,
    /// Link.
    pub url: String,
    /// Breaking.
    #[serde(default)]
    pub breaking: bool,
    /// The release that shipped it (none: unreleased).
    #[serde(default)]
    pub release: Option<String>,
}

/// An upgrade note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upgrade {
    /// Commit sha or `pr-N`.
    pub key: String,
    /// What changed.
    pub summary: String,
    /// How to upgrade, as the author wrote it.
    #[serde(default)]
    pub note: String,
    /// Link.
    pub url: String,
    /// Short id shown.
    pub short: String,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub date: Option<String>,
    /// The release that shipped it.
    #[serde(default)]
    pub release: Option<String>,
    /// The library packages it breaks, when it touches no executable (it affects the code
    /// that uses them only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub libraries: Vec<String>,
}

/// A change to a getting-started path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuideChange {
    /// Commit.
    pub sha: String,
    /// Summary.
    pub summary: String,
    /// Link.
    pub url: String,
    /// The paths.
    pub paths: Vec<String>,
}

/// The guide's part of the repository state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TouristState {
    /// What's new, oldest first.
    #[serde(default)]
    pub news: Vec<News>,
    /// Releases and tags, oldest first.
    #[serde(default)]
    pub releases: Vec<ReleaseInfo>,
    /// Upgrade notes, oldest first.
    #[serde(default)]
    pub upgrades: Vec<Upgrade>,
    /// The README's facts (content source).
    #[serde(default)]
    pub readme: Option<ReadmeFacts>,
    /// Entry points known.
    #[serde(default)]
    pub entry_points: BTreeSet<String>,
    /// Configuration files and manifests known.
    #[serde(default)]
    pub config_files: BTreeSet<String>,
    /// Recent changes to getting-started paths, oldest first.
    #[serde(default)]
    pub guide_changes: Vec<GuideChange>,
    /// Recently applied keys (idempotency).
    #[serde(default)]
    pub seen: Vec<String>,
    /// Commit authors seen so far, as short hashes (to tell a first-time contributor),
    /// oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<String>,
    /// Authors of the changes since the last cut (the first few named).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_authors: Vec<String>,
    /// How many more there were.
    #[serde(default, skip_serializing_if = "super::is_zero")]
    pub pending_more: u32,
    /// Those of them seen for the first time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_first: Vec<String>,
}

impl TouristState {
    /// One compaction step (see [`Agent::compact`]): remembered keys, then the oldest half of
    /// the news, upgrade notes, guide changes, known files and releases, in that order.
    fn compact_step(&mut self) -> bool {
        halve(&mut self.seen, SEEN_FLOOR)
            || halve(&mut self.news, 10)
            || halve(&mut self.upgrades, 5)
            || halve(&mut self.guide_changes, 2)
            || halve_set(&mut self.entry_points, 20)
            || halve_set(&mut self.config_files, 20)
            || halve(&mut self.releases, 10)
            || halve(&mut self.authors, 100)
    }
}

/// Whether the Tourist Guide lists the commit in what's new.
pub(crate) fn user_visible(rules: &Rules, c: &ClassifiedCommit) -> bool {
    if c.is_merge() {
        return false;
    }
    c.breaking
        || rules.tourist.user_visible_types.contains(&c.kind)
        || (!c.conventional
            && c.kind != "test"
            && c.kind != "docs"
            && rules
                .tourist
                .user_visible_categories
                .iter()
                .any(|cat| c.touches(cat)))
}

/// The Tourist Guide.
#[derive(Debug)]
pub struct TouristGuide {
    pack: Arc<AgentPack>,
}

impl TouristGuide {
    /// The guide rendering with `pack`.
    pub fn new(pack: Arc<AgentPack>) -> Self {
        Self { pack }
    }

    fn track_paths(&self, mine: &mut TouristState, added: &[String], removed: &[String]) {
        let rules = &self.pack.rules;
        for p in added {
            if rules.is_entry_point(p) {
                mine.entry_points.insert(p.clone());
            }
            let config = rules
                .tool_of(p)
                .is_some_and(|t| t.kind == "manifest" || t.kind == "config")
                || (rules.tourist.getting_started.is_match(p.as_str())
                    && !rules.is_entry_point(p)
                    && !p.contains("/cli/")
                    && !p.contains("/cmd/"));
            if config && !crate::facts::is_readme(p) && mine.config_files.len() < GUIDE_FILES {
                mine.config_files.insert(p.clone());
            }
        }
        for p in removed {
            mine.entry_points.remove(p);
            mine.config_files.remove(p);
        }
    }

    fn apply_commit(&self, mine: &mut TouristState, c: &ClassifiedCommit) {
        let rules = &self.pack.rules;
        notes::count_author(mine, c);
        if notes::drop_reverted(mine, c) {
            return;
        }
        if user_visible(rules, c) {
            mine.news.push(News {
                sha: c.sha.clone(),
                kind: c.kind.clone(),
                summary: c.summary.clone(),
                url: c.url.clone(),
                breaking: c.breaking,
                release: None,
            });
        }
        if c.breaking {
            mine.upgrades.push(Upgrade {
                key: c.sha.clone(),
                summary: c.summary.clone(),
                note: upgrades::note_of(c),
                url: c.url.clone(),
                short: c.short().to_owned(),
                date: c.date(),
                release: None,
                libraries: Vec::new(),
            });
        }
        let guide: Vec<String> = c
            .paths
            .added
            .iter()
            .chain(&c.paths.modified)
            .chain(&c.paths.removed)
            .filter(|p| rules.tourist.getting_started.is_match(p.as_str()))
            .take(6)
            .cloned()
            .collect();
        if !guide.is_empty() && !c.is_merge() {
            mine.guide_changes.push(GuideChange {
                sha: c.sha.clone(),
                summary: c.summary.clone(),
                url: c.url.clone(),
                paths: guide,
            });
        }
        let added: Vec<String> = c
            .paths
            .added
            .iter()
            .chain(&c.paths.modified)
            .cloned()
            .collect();
        self.track_paths(mine, &added, &c.paths.removed);
    }
}

impl Agent for TouristGuide {
    fn name(&self) -> &'static str {
        NAME
    }

    /// User-visible or breaking changes, getting-started paths, releases, a snapshot.
    fn wants(&self, plan: &Plan) -> Option<String> {
        let rules = &self.pack.rules;
        let visible = plan.commits().filter(|c| user_visible(rules, c)).count();
        let breaking = plan.breaking_count();
        let guide: BTreeSet<&str> = plan
            .commits()
            .flat_map(|c| c.paths.added.iter().chain(&c.paths.modified))
            .filter(|p| rules.tourist.getting_started.is_match(p.as_str()))
            .map(String::as_str)
            .collect();
        let mut why = Vec::new();
        if visible > 0 {
            why.push(format!("{visible} user-visible change(s)"));
        }
        if breaking > 0 {
            why.push(format!("{breaking} breaking change(s)"));
        }
        if !guide.is_empty() {
            why.push(format!(
                "getting-started paths changed: {}",
                join(guide.into_iter().take(5))
            ));
        }
        if plan.releases().next().is_some() {
            why.push(format!(
                "release/tag {}",
                join(plan.releases().map(|r| r.tag.as_str()))
            ));
        }
        if plan.snapshot().is_some() {
            why.push("tree snapshot".into());
        }
        (!why.is_empty()).then(|| why.join("; "))
    }

    fn apply(&self, input: AgentInput<'_>, state: &mut Value) -> Result<AgentRun, EngineError> {
        let mut mine: TouristState = read_state(NAME, state)?;
        let mut seen: HashSet<String> = mine.seen.iter().cloned().collect();
        let mut run = AgentRun::default();
        let mut fresh = Vec::new();
        for item in &input.plan.items {
            let key = match item {
                PlanItem::Commit(c) => c.sha.clone(),
                PlanItem::Release(r) => format!("release:{}:{}", r.tag, r.is_release),
                PlanItem::PullRequest(p) => format!("pr:{}", p.number),
                PlanItem::Snapshot(s) => format!("snapshot:{}", s.sha),
                // The changelog's business only.
                PlanItem::History(_) => continue,
            };
            if !seen.insert(key.clone()) {
                run.already_applied += 1;
                continue;
            }
            match item {
                PlanItem::Commit(c) => {
                    self.apply_commit(&mut mine, c);
                    upgrades::toolchain(&mut mine, c, input.findings);
                }
                // What's new follows the cuts only: a folded or skipped tag's news goes on
                // into the next cut.
                PlanItem::Release(r) if r.role != TagRole::Cut => {}
                PlanItem::Release(r) => {
                    if record_release(&mut mine.releases, r, RELEASES) {
                        for n in mine.news.iter_mut().filter(|n| n.release.is_none()) {
                            n.release = Some(r.tag.clone());
                        }
                        for u in mine.upgrades.iter_mut().filter(|u| u.release.is_none()) {
                            u.release = Some(r.tag.clone());
                        }
                        notes::close_release(&mut mine);
                    }
                }
                PlanItem::PullRequest(p) => {
                    if p.breaking {
                        mine.upgrades.push(Upgrade {
                            key: format!("pr-{}", p.number),
                            summary: p.title.clone(),
                            note: breaking_text(&p.body),
                            url: p.url.clone(),
                            short: format!("#{}", p.number),
                            date: p.date.clone(),
                            release: None,
                            libraries: Vec::new(),
                        });
                    }
                }
                PlanItem::Snapshot(s) => {
                    mine.entry_points.clear();
                    mine.config_files.clear();
                    self.track_paths(&mut mine, &s.paths, &[]);
                }
                PlanItem::History(_) => {}
            }
            fresh.push(key);
            run.applied += 1;
        }
        for (path, facts) in &input.plan.contents {
            if let FileFacts::Readme(r) = facts
                && crate::facts::is_readme(path)
            {
                mine.readme = Some(r.clone());
            }
        }
        upgrades::libraries(&mut mine, input.findings);
        let t = &self.pack.rules.tourist;
        notes::cap_by_release(&mut mine.news, t.whats_new_entries);
        keep_last(&mut mine.upgrades, t.upgrading_entries);
        keep_last(&mut mine.guide_changes, RECENT_GUIDE);
        remember(&mut mine.seen, fresh, SEEN);
        *state = write_state(NAME, &mine)?;
        Ok(run)
    }

    fn compact(&self, state: &mut Value) -> Result<Option<Vec<DocFile>>, EngineError> {
        let mut mine: TouristState = read_state(NAME, state)?;
        if !mine.compact_step() {
            return Ok(None);
        }
        *state = write_state(NAME, &mine)?;
        Ok(Some(Vec::new()))
    }

    fn render(&self, repo: &str, state: &Value) -> Result<Vec<DocFile>, EngineError> {
        let mine: TouristState = read_state(NAME, state)?;
        let titles: Vec<(String, String)> = self
            .pack
            .rules
            .changelog
            .iter()
            .map(|s| (s.kind.clone(), s.title.clone()))
            .collect();
        let mut releases = Vec::new();
        let unreleased = notes::groups(&mine.news, None, &titles, repo);
        if !unreleased.is_empty() {
            releases.push(json!({"title": "Unreleased", "groups": unreleased}));
        }
        let cuts: Vec<&ReleaseInfo> = mine.releases.iter().filter(|r| !r.skipped).collect();
        for (i, r) in cuts.iter().enumerate().rev() {
            let groups = notes::groups(&mine.news, Some(&r.tag), &titles, repo);
            if groups.is_empty() && r.notes.is_empty() {
                continue;
            }
            let compare = i.checked_sub(1).map(|p| {
                (
                    cuts[p].tag.as_str(),
                    notes::compare_url(repo, &cuts[p].tag, &r.tag),
                )
            });
            releases.push(json!({
                "title": r.title, "url": r.url, "date": r.date, "notes": r.notes,
                "groups": groups,
                "compare": compare.map(|(from, url)| json!({"from": from, "to": r.tag, "url": url})),
                "contributors": r.contributors, "first_contributors": r.first_contributors,
                "more_contributors": r.more_contributors,
            }));
        }
        let whats_new = self.pack.render(
            "whats_new.md",
            minijinja::context! { repo, releases, upgrading => !mine.upgrades.is_empty() },
        )?;

        let mut groups: Vec<(Option<&str>, Vec<&Upgrade>)> = Vec::new();
        for u in mine.upgrades.iter().rev() {
            match groups.last_mut() {
                Some((rel, list)) if *rel == u.release.as_deref() => list.push(u),
                _ => groups.push((u.release.as_deref(), vec![u])),
            }
        }
        let release_title = |tag: Option<&str>| match tag {
            None => "Unreleased".to_owned(),
            Some(tag) => mine
                .releases
                .iter()
                .find(|r| r.tag == tag)
                .map_or(tag.to_owned(), |r| r.title.clone()),
        };
        let upgrade_groups: Vec<Value> = groups
            .into_iter()
            .map(|(tag, notes)| json!({"title": release_title(tag), "notes": notes}))
            .collect();
        let upgrading = self.pack.render(
            "upgrading.md",
            minijinja::context! { repo, releases => upgrade_groups },
        )?;

        let readme = mine.readme.clone().unwrap_or_default();
        let recent: Vec<Value> = mine
            .guide_changes
            .iter()
            .rev()
            .map(|g| json!({"summary": g.summary, "url": g.url, "paths": g.paths, "short": &g.sha[..7.min(g.sha.len())]}))
            .collect();
        let getting_started = self.pack.render(
            "getting_started.md",
            minijinja::context! {
                repo,
                project => readme.title,
                description => readme.description,
                install => readme.install,
                usage => readme.usage,
                entry_points => mine.entry_points,
                config_files => mine.config_files,
                recent,
            },
        )?;
        Ok(vec![
            DocFile {
                path: "user/whats_new.md".into(),
                contents: whats_new,
            },
            DocFile {
                path: "user/upgrading.md".into(),
                contents: upgrading,
            },
            DocFile {
                path: "user/getting_started.md".into(),
                contents: getting_started,
            },
        ])
    }
}

/// The `BREAKING CHANGE:` paragraph of a PR body, or its first paragraph.
fn breaking_text(body: &str) -> String {
    match body.find("BREAKING CHANGE") {
        Some(i) => body[i..]
            .trim_start_matches("BREAKING CHANGE")
            .trim_start_matches(':')
            .split("\n\n")
            .next()
            .unwrap_or("")
            .trim()
            .to_owned(),
        None => body.split("\n\n").next().unwrap_or("").trim().to_owned(),
    }
}

mod notes;
mod upgrades;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod upgrade_tests;
