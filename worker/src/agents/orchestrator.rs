//! The Orchestrator: classifies each change (Conventional Commits via `git-conventional`,
//! the pack's message heuristics otherwise; path categories from the pack's rules), turns a
//! change set into an ordered [`Plan`], and decides which agents run and why.

use std::collections::BTreeSet;

use coderipple_core::envelope::{Change, Commit, PullRequestChange, PushChange, ReleaseChange};
use serde::Serialize;

use super::ChangeSet;
use super::budget::{NAME_CHARS, TEXT_CHARS, TITLE_CHARS, clip, clip_in_place};
use crate::WorkerError;
use crate::content::FileFacts;
use crate::pack::{AgentPack, Rules};

/// Paths a commit touched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PathChanges {
    /// Added paths.
    pub added: Vec<String>,
    /// Modified paths.
    pub modified: Vec<String>,
    /// Removed paths.
    pub removed: Vec<String>,
}

impl PathChanges {
    /// Every path, added, modified then removed.
    pub fn all(&self) -> impl Iterator<Item = &String> {
        self.added.iter().chain(&self.modified).chain(&self.removed)
    }
}

/// A commit with its classification, ready for the agents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassifiedCommit {
    /// Full sha (lower case).
    pub sha: String,
    /// Conventional type (`feat`, `fix`, …), a heuristic one, `merge`, or `other`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Conventional scope.
    pub scope: Option<String>,
    /// Breaking change (`!`, a `BREAKING CHANGE` footer, or a breaking phrase).
    pub breaking: bool,
    /// What breaks, when the message says (the footer's text).
    pub breaking_note: Option<String>,
    /// The subject line without the type prefix.
    pub summary: String,
    /// The message body (after the subject), trimmed.
    pub body: String,
    /// Whether the message follows Conventional Commits.
    pub conventional: bool,
    /// The message states a decision (a phrase of the pack's `signals.decision`).
    pub decision: bool,
    /// Path categories touched (pack rules), sorted.
    pub categories: Vec<String>,
    /// Author name.
    pub author: String,
    /// Commit timestamp (ISO 8601 as GitHub sent it).
    pub timestamp: String,
    /// Link to the commit.
    pub url: String,
    /// The delivery that brought it.
    pub delivery: String,
    /// Paths touched.
    pub paths: PathChanges,
}

impl ClassifiedCommit {
    /// The first seven characters of the sha.
    pub fn short(&self) -> &str {
        &self.sha[..7.min(self.sha.len())]
    }

    /// `YYYY-MM-DD` of the timestamp, when there is one.
    pub fn date(&self) -> Option<String> {
        date_of(&self.timestamp)
    }

    /// Whether it touches a path of `category`.
    pub fn touches(&self, category: &str) -> bool {
        self.categories.iter().any(|c| c == category)
    }
}

/// `YYYY-MM-DD` of an ISO 8601 timestamp.
pub fn date_of(timestamp: &str) -> Option<String> {
    let d = timestamp.get(..10)?;
    (d.as_bytes()[4] == b'-' && d.as_bytes()[7] == b'-').then(|| d.to_owned())
}

/// A release or a tag: the point where the changelog is cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseMark {
    /// The tag.
    pub tag: String,
    /// The release's name (empty for a bare tag).
    pub name: String,
    /// Release or tag page.
    pub url: String,
    /// `YYYY-MM-DD`, when known.
    pub date: Option<String>,
    /// Release notes.
    pub notes: String,
    /// A GitHub release (not only a tag).
    pub is_release: bool,
}

/// A merged pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergedPr {
    /// Number.
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Web URL.
    pub url: String,
    /// A breaking label, or `BREAKING CHANGE` in the body.
    pub breaking: bool,
    /// The body states a decision.
    pub decision: bool,
    /// `YYYY-MM-DD` of the merge.
    pub date: Option<String>,
}

/// The repository tree at one commit (bootstrap): the inventory is reset to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TreeSnapshot {
    /// The commit.
    pub sha: String,
    /// Link to it.
    pub url: String,
    /// Every path of the tree.
    pub paths: Vec<String>,
}

/// One step of a plan, in event order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "item", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // commits are by far the most common item
pub enum PlanItem {
    /// A commit on the default branch.
    Commit(ClassifiedCommit),
    /// A release or tag.
    Release(ReleaseMark),
    /// A merged pull request.
    PullRequest(MergedPr),
    /// A tree snapshot.
    Snapshot(TreeSnapshot),
}

/// An agent the plan runs, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedRun {
    /// Agent name.
    pub agent: &'static str,
    /// Why it runs.
    pub reason: String,
}

/// The orchestrator's decision for one change set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// What happened, oldest first.
    pub items: Vec<PlanItem>,
    /// Agents to run, in order.
    pub runs: Vec<PlannedRun>,
    /// Events recorded but not analysed, with the reason.
    pub notes: Vec<String>,
    /// File contents read through the content source (path → facts), when there is one.
    pub contents: std::collections::BTreeMap<String, FileFacts>,
}

impl Plan {
    /// The commits, oldest first.
    pub fn commits(&self) -> impl Iterator<Item = &ClassifiedCommit> {
        self.items.iter().filter_map(|i| match i {
            PlanItem::Commit(c) => Some(c),
            _ => None,
        })
    }

    /// Whether `agent` is planned.
    pub fn runs_agent(&self, agent: &str) -> bool {
        self.runs.iter().any(|r| r.agent == agent)
    }

    /// One line per commit for the processing summary.
    pub fn classification(&self) -> Vec<serde_json::Value> {
        self.commits()
            .map(|c| {
                serde_json::json!({
                    "commit": c.short(),
                    "type": c.kind,
                    "breaking": c.breaking,
                    "conventional": c.conventional,
                    "decision": c.decision,
                    "categories": c.categories,
                })
            })
            .collect()
    }
}

/// Classifies and plans. Stateless.
#[derive(Debug, Clone, Copy, Default)]
pub struct Orchestrator;

impl Orchestrator {
    /// Plans the agents for a change set; a commit that violates an invariant (no valid
    /// sha) makes the whole set permanently invalid.
    pub fn plan(&self, change: &ChangeSet, pack: &AgentPack) -> Result<Plan, WorkerError> {
        let rules = &pack.rules;
        let mut plan = Plan::default();
        for env in &change.events {
            let delivery = env.delivery.as_str();
            match &env.change {
                Some(Change::Push(push)) => match analysable(push) {
                    Ok(PushKind::Commits) => {
                        for c in &push.commits {
                            let classified = classify(rules, &change.repo, push, c, delivery)?;
                            plan.items.push(PlanItem::Commit(classified));
                        }
                    }
                    Ok(PushKind::Tag(tag)) => {
                        plan.items.push(PlanItem::Release(ReleaseMark {
                            url: format!(
                                "{}/releases/tag/{tag}",
                                base_url(&change.repo, &push.repo_url)
                            ),
                            tag: tag.to_owned(),
                            name: String::new(),
                            date: push.commits.last().and_then(|c| date_of(&c.timestamp)),
                            notes: String::new(),
                            is_release: false,
                        }));
                    }
                    Err(why) => plan.notes.push(format!("{delivery}: {why}")),
                },
                Some(Change::PullRequest(pr)) => {
                    plan.items.push(PlanItem::PullRequest(merged_pr(rules, pr)));
                }
                Some(Change::Release(r)) => plan.items.push(PlanItem::Release(release(r))),
                Some(Change::Tag(t)) => plan.items.push(PlanItem::Release(ReleaseMark {
                    url: format!(
                        "{}/releases/tag/{}",
                        base_url(&change.repo, &t.repo_url),
                        t.tag
                    ),
                    tag: t.tag.clone(),
                    name: String::new(),
                    date: Some(env.received_at.format("%Y-%m-%d").to_string()),
                    notes: String::new(),
                    is_release: false,
                })),
                Some(Change::Snapshot(s)) => {
                    check_sha(&s.commit)?;
                    let base = base_url(&change.repo, &s.repo_url);
                    plan.items.push(PlanItem::Snapshot(TreeSnapshot {
                        url: format!("{base}/commit/{}", s.commit),
                        sha: s.commit.to_ascii_lowercase(),
                        paths: s.paths.clone(),
                    }));
                }
                None => {
                    return Err(WorkerError::invalid(format!(
                        "{delivery}: change was not resolved"
                    )));
                }
            }
        }
        decide(rules, &mut plan);
        Ok(plan)
    }
}

fn decide(rules: &Rules, plan: &mut Plan) {
    let commits: Vec<&ClassifiedCommit> = plan.commits().collect();
    let releases: Vec<&str> = plan
        .items
        .iter()
        .filter_map(|i| match i {
            PlanItem::Release(r) => Some(r.tag.as_str()),
            _ => None,
        })
        .collect();
    let prs: Vec<&MergedPr> = plan
        .items
        .iter()
        .filter_map(|i| match i {
            PlanItem::PullRequest(p) => Some(p),
            _ => None,
        })
        .collect();
    let snapshot = plan.items.iter().find_map(|i| match i {
        PlanItem::Snapshot(s) => Some(s),
        _ => None,
    });
    let mut runs = Vec::new();

    let (mut added, mut removed, mut paths) = (0, 0, 0);
    let mut tools = BTreeSet::new();
    for c in &commits {
        added += c.paths.added.len();
        removed += c.paths.removed.len();
        paths += c.paths.all().count();
        tools.extend(
            c.paths
                .all()
                .filter_map(|p| rules.tool_of(p))
                .map(|t| t.name.as_str()),
        );
    }
    if paths > 0 || snapshot.is_some() {
        let mut reason = match snapshot {
            Some(s) => format!(
                "tree snapshot of {} path(s) at {}",
                s.paths.len(),
                &s.sha[..7.min(s.sha.len())]
            ),
            None => format!(
                "{} commit(s) touched {paths} path(s) ({added} added, {removed} removed)",
                commits
                    .iter()
                    .filter(|c| c.paths.all().next().is_some())
                    .count()
            ),
        };
        if !tools.is_empty() {
            reason.push_str(&format!("; manifests/tools: {}", join(tools.iter())));
        }
        runs.push(PlannedRun {
            agent: super::inspector::NAME,
            reason,
        });
    }

    let visible = commits.iter().filter(|c| user_visible(rules, c)).count();
    let breaking =
        commits.iter().filter(|c| c.breaking).count() + prs.iter().filter(|p| p.breaking).count();
    let guide: BTreeSet<&str> = commits
        .iter()
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
            join(guide.iter().take(5))
        ));
    }
    if !releases.is_empty() {
        why.push(format!("release/tag {}", join(releases.iter())));
    }
    if snapshot.is_some() {
        why.push("tree snapshot".into());
    }
    if !why.is_empty() {
        runs.push(PlannedRun {
            agent: super::tourist::NAME,
            reason: why.join("; "),
        });
    }

    let mut why = Vec::new();
    let listed = commits.iter().filter(|c| c.kind != "merge").count();
    if listed > 0 {
        why.push(format!("{listed} commit(s) for the changelog"));
    }
    let decisions =
        commits.iter().filter(|c| c.decision).count() + prs.iter().filter(|p| p.decision).count();
    if decisions > 0 {
        why.push(format!("{decisions} stated decision(s)"));
    }
    if breaking > 0 {
        why.push(format!("{breaking} breaking change(s) to record"));
    }
    if !tools.is_empty() {
        why.push("manifest/infrastructure changes".into());
    }
    if !releases.is_empty() {
        why.push(format!("changelog cut at {}", join(releases.iter())));
    }
    if !why.is_empty() {
        runs.push(PlannedRun {
            agent: super::historian::NAME,
            reason: why.join("; "),
        });
    }
    for pr in &prs {
        if !pr.breaking && !pr.decision {
            plan.notes.push(format!(
                "merged pull request #{} recorded (its commits arrive with the push)",
                pr.number
            ));
        }
    }
    plan.runs = runs;
}

fn join<'a>(items: impl Iterator<Item = &'a &'a str>) -> String {
    items.copied().collect::<Vec<_>>().join(", ")
}

/// Whether the Tourist Guide lists the commit in what's new.
pub fn user_visible(rules: &Rules, c: &ClassifiedCommit) -> bool {
    if c.kind == "merge" {
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

enum PushKind<'a> {
    Commits,
    Tag(&'a str),
}

fn analysable(push: &PushChange) -> Result<PushKind<'_>, String> {
    if push.deleted {
        return Err(format!(
            "deletion of {} recorded, not analysed",
            push.git_ref
        ));
    }
    if let Some(tag) = push.tag() {
        return Ok(PushKind::Tag(tag));
    }
    let Some(branch) = push.branch() else {
        return Err(format!("push to {} recorded, not analysed", push.git_ref));
    };
    if push
        .default_branch
        .as_deref()
        .is_some_and(|default| default != branch)
    {
        return Err(format!(
            "push to non-default branch {branch} recorded, not analysed"
        ));
    }
    if push.commits.is_empty() {
        return Err("push without commits recorded, not analysed".into());
    }
    Ok(PushKind::Commits)
}

fn base_url(repo: &str, url: &str) -> String {
    if url.is_empty() {
        format!("https://github.com/{repo}")
    } else {
        url.trim_end_matches('/').to_owned()
    }
}

fn check_sha(sha: &str) -> Result<(), WorkerError> {
    if !(7..=64).contains(&sha.len()) || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(WorkerError::invalid(format!(
            "commit id {:?} is not a hex sha",
            sha.chars().take(80).collect::<String>()
        )));
    }
    Ok(())
}

fn release(r: &ReleaseChange) -> ReleaseMark {
    ReleaseMark {
        tag: r.tag.clone(),
        name: clip(&r.name, TITLE_CHARS),
        url: r.url.clone(),
        date: r.published_at.as_deref().and_then(date_of),
        notes: clip(r.body.trim(), TEXT_CHARS),
        is_release: true,
    }
}

fn merged_pr(rules: &Rules, pr: &PullRequestChange) -> MergedPr {
    let labelled = pr
        .labels
        .iter()
        .any(|l| rules.signals.breaking_labels.contains(&l.to_lowercase()));
    MergedPr {
        number: pr.number,
        title: clip(pr.title.trim(), TITLE_CHARS),
        body: clip(pr.body.trim(), TEXT_CHARS),
        url: pr.url.clone(),
        breaking: labelled || pr.body.contains("BREAKING CHANGE"),
        decision: Rules::mentions(&pr.body, &rules.signals.decision),
        date: pr.merged_at.as_deref().and_then(date_of),
    }
}

/// Whether a commit message is a merge commit's (`Merge pull request #…`, `Merge branch …`):
/// such commits are classified `merge` and never listed in the changelog.
pub fn is_merge_message(message: &str) -> bool {
    let subject = message.trim().lines().next().unwrap_or("").trim();
    MERGE_PREFIXES.iter().any(|p| subject.starts_with(p))
}

const MERGE_PREFIXES: &[&str] = &[
    "Merge pull request #",
    "Merge branch ",
    "Merge remote-tracking branch ",
    "Merge tag ",
    "Merge commit ",
];

/// Classifies one commit.
pub fn classify(
    rules: &Rules,
    repo: &str,
    push: &PushChange,
    commit: &Commit,
    delivery: &str,
) -> Result<ClassifiedCommit, WorkerError> {
    let sha = commit.id.as_str();
    check_sha(sha)?;
    let message = commit.message.trim();
    let subject = message.lines().next().unwrap_or("").trim();
    let body = message
        .split_once('\n')
        .map_or("", |(_, rest)| rest)
        .trim()
        .to_owned();
    let mut c = ClassifiedCommit {
        sha: sha.to_ascii_lowercase(),
        kind: "other".into(),
        scope: None,
        breaking: false,
        breaking_note: None,
        summary: subject.to_owned(),
        body,
        conventional: false,
        decision: Rules::mentions(message, &rules.signals.decision),
        categories: Vec::new(),
        author: commit.author.clone(),
        timestamp: commit.timestamp.clone(),
        url: format!("{}/commit/{sha}", base_url(repo, &push.repo_url)),
        delivery: delivery.to_owned(),
        paths: PathChanges {
            added: commit.added.clone(),
            modified: commit.modified.clone(),
            removed: commit.removed.clone(),
        },
    };
    if is_merge_message(message) {
        c.kind = "merge".into();
    } else if let Some(reverted) = subject
        .strip_prefix("Revert \"")
        .and_then(|s| s.strip_suffix('"'))
    {
        c.kind = "revert".into();
        c.summary = format!("revert \"{reverted}\"");
    } else if let Ok(cc) = git_conventional::Commit::parse(message) {
        c.kind = cc.type_().as_str().to_ascii_lowercase();
        c.scope = cc.scope().map(|s| s.as_str().to_owned());
        c.breaking = cc.breaking();
        c.breaking_note = cc
            .breaking_description()
            .filter(|d| *d != cc.description())
            .map(|d| d.trim().to_owned());
        c.summary = cc.description().to_owned();
        c.body = cc.body().unwrap_or("").trim().to_owned();
        c.conventional = true;
    } else {
        let first = subject
            .split(|ch: char| !ch.is_alphanumeric())
            .next()
            .unwrap_or("");
        c.kind = rules.heuristic_kind(first).unwrap_or("other").to_owned();
        c.breaking = Rules::mentions(message, &rules.signals.breaking);
    }
    let mut cats = BTreeSet::new();
    for p in c.paths.all() {
        cats.extend(rules.categories_of(p));
    }
    c.categories = cats.into_iter().map(str::to_owned).collect();
    // Payload text enters the state here, so this is where it is bounded.
    clip_in_place(&mut c.summary, TITLE_CHARS);
    clip_in_place(&mut c.body, TEXT_CHARS);
    clip_in_place(&mut c.author, NAME_CHARS);
    if let Some(note) = &mut c.breaking_note {
        clip_in_place(note, TEXT_CHARS);
    }
    if let Some(scope) = &mut c.scope {
        clip_in_place(scope, NAME_CHARS);
    }
    Ok(c)
}

#[cfg(test)]
mod tests;
