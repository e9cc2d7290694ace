//! Classification: each change of a change set becomes a plan item. Commits are classified
//! by Conventional Commits (`git-conventional`) or the pack's message heuristics, with path
//! categories from the pack's rules; releases, tags, merged pull requests and snapshots are
//! recorded. Payload text enters the repository state here, so this is where it is clipped
//! (the limits below). Depends on no agent.

use std::collections::BTreeSet;

use coderipple_core::envelope::{
    Change, Commit, HistoryChange, HistoryNote, PullRequestChange, PushChange, ReleaseChange,
    is_own_docs_message,
};

use crate::error::EngineError;
use crate::pack::{AgentPack, Rules};
use crate::plan::{
    ChangeSet, ClassifiedCommit, HistoryMark, MERGE_KIND, MergedPr, PathChanges, Plan, PlanItem,
    ReleaseMark, TreeSnapshot, date_of,
};
use crate::text::{clip, clip_in_place};

/// A commit subject, PR or release title (characters).
pub const TITLE_CHARS: usize = 300;
/// A commit body, PR body or release notes, as kept (characters).
pub const TEXT_CHARS: usize = 4_000;
/// An author name, a scope (characters).
pub const NAME_CHARS: usize = 100;
/// A path kept by name (bytes); longer ones are only counted.
pub const PATH_BYTES: usize = 512;

/// The items and notes of `change`, classified (no agents planned yet); a commit that
/// violates an invariant (no valid sha) makes the whole set permanently invalid.
pub fn classify_change_set(change: &ChangeSet, pack: &AgentPack) -> Result<Plan, EngineError> {
    let rules = &pack.rules;
    let mut plan = Plan::default();
    for env in &change.events {
        let delivery = env.delivery.as_str();
        match &env.change {
            Some(Change::Push(push)) => match analysable(push) {
                Ok(PushKind::Commits) => {
                    for c in &push.commits {
                        if is_own_docs_message(&c.message) {
                            let short: String = c.id.chars().take(7).collect();
                            plan.notes.push(format!(
                                "{delivery}: CodeRipple's own docs commit {} not analysed",
                                clip(&short, 12)
                            ));
                            continue;
                        }
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
                        date: push
                            .head_timestamp
                            .as_deref()
                            .and_then(date_of)
                            .or_else(|| push.commits.last().and_then(|c| date_of(&c.timestamp))),
                        notes: String::new(),
                        is_release: false,
                        role: rules.releases.role(tag, false),
                        promoted: false,
                    }));
                }
                Err(why) => plan.notes.push(format!("{delivery}: {why}")),
            },
            Some(Change::PullRequest(pr)) if is_own_docs_message(&pr.title) => {
                plan.notes.push(format!(
                    "{delivery}: CodeRipple's own docs pull request #{} not analysed",
                    pr.number
                ));
            }
            Some(Change::PullRequest(pr)) => {
                plan.items.push(PlanItem::PullRequest(merged_pr(rules, pr)));
            }
            Some(Change::Release(r)) => plan.items.push(PlanItem::Release(release(rules, r))),
            Some(Change::Tag(t)) => plan.items.push(PlanItem::Release(ReleaseMark {
                url: format!(
                    "{}/releases/tag/{}",
                    base_url(&change.repo, &t.repo_url),
                    t.tag
                ),
                tag: t.tag.clone(),
                name: String::new(),
                // GitHub's `create` carries no time of the tag; the day it was processed is not
                // the release's day: undated until its release or the tag's push dates it.
                date: t.date.as_deref().and_then(date_of),
                notes: String::new(),
                is_release: false,
                role: rules.releases.role(&t.tag, false),
                promoted: false,
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
            Some(Change::Wake) => {}
            Some(Change::History(h)) => {
                plan.items
                    .push(PlanItem::History(history_mark(&change.repo, h)?));
            }
            None => {
                return Err(EngineError::invalid(format!(
                    "{delivery}: change was not resolved"
                )));
            }
        }
    }
    Ok(plan)
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

fn check_sha(sha: &str) -> Result<(), EngineError> {
    if !(7..=64).contains(&sha.len()) || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(EngineError::invalid(format!(
            "commit id {:?} is not a hex sha",
            sha.chars().take(80).collect::<String>()
        )));
    }
    Ok(())
}

fn history_mark(repo: &str, h: &HistoryChange) -> Result<HistoryMark, EngineError> {
    check_sha(&h.to)?;
    let from = (!crate::chain::is_zero(&h.from)).then_some(h.from.as_str());
    if let Some(from) = from {
        check_sha(from)?;
    }
    let base = base_url(repo, &h.repo_url);
    let short = |s: &str| s.chars().take(7).collect::<String>();
    let (to, branch) = (short(&h.to), clip(&h.branch, TITLE_CHARS));
    let url = match from {
        Some(from) => format!("{base}/compare/{from}...{}", h.to),
        None => format!("{base}/commit/{}", h.to),
    };
    let (kind, summary) = match (h.note, from) {
        (HistoryNote::Gap, Some(from)) => (
            "gap",
            format!(
                "Commits after {} up to {to} on {branch} were not received; this changelog has no entries for them",
                short(from)
            ),
        ),
        (HistoryNote::Gap, None) => (
            "gap",
            format!(
                "Commits up to {to} on {branch} were not received; this changelog has no entries for them"
            ),
        ),
        (HistoryNote::ForcePush, Some(from)) => (
            "force-push",
            format!(
                "{branch} was force-pushed from {} to {to}; entries before this one may name commits no longer on it",
                short(from)
            ),
        ),
        (HistoryNote::ForcePush, None) => (
            "force-push",
            format!(
                "{branch} was force-pushed to {to}; entries before this one may name commits no longer on it"
            ),
        ),
    };
    Ok(HistoryMark {
        key: format!("{}~{kind}", h.to.to_ascii_lowercase()),
        summary,
        url,
    })
}

fn release(rules: &Rules, r: &ReleaseChange) -> ReleaseMark {
    ReleaseMark {
        role: rules.releases.role(&r.tag, r.prerelease),
        tag: r.tag.clone(),
        name: clip(&r.name, TITLE_CHARS),
        url: r.url.clone(),
        date: r.published_at.as_deref().and_then(date_of),
        notes: clip(r.body.trim(), TEXT_CHARS),
        is_release: true,
        promoted: r.promoted,
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
        breaking: labelled
            || pr.body.contains("BREAKING CHANGE")
            || breaking_footer(&pr.body).is_some(),
        decision: Rules::mentions(&pr.body, &rules.signals.decision),
        date: pr.merged_at.as_deref().and_then(date_of),
        merge_commit: pr
            .merge_commit_sha
            .as_deref()
            .filter(|s| s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_ascii_lowercase),
        commit_override: crate::overrides::commit_override(&pr.body),
    }
}

/// Classifies one commit.
pub fn classify(
    rules: &Rules,
    repo: &str,
    push: &PushChange,
    commit: &Commit,
    delivery: &str,
) -> Result<ClassifiedCommit, EngineError> {
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
        bang: false,
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
    if coderipple_core::envelope::is_merge_message(message) {
        c.kind = MERGE_KIND.into();
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
        c.bang = subject
            .split_once(':')
            .is_some_and(|(head, _)| head.trim_end().ends_with('!'));
        c.breaking_note = cc
            .breaking_description()
            .filter(|d| *d != cc.description())
            .map(|d| d.trim().to_owned());
        c.summary = cc.description().to_owned();
        c.body = cc.body().unwrap_or("").trim().to_owned();
        c.conventional = true;
        // `BREAKING:` is a footer people write though the specification names only
        // `BREAKING CHANGE:` and `BREAKING-CHANGE:` (which the parser reads).
        if !c.breaking
            && let Some(note) = breaking_footer(message)
        {
            c.breaking = true;
            c.breaking_note = (!note.is_empty()).then_some(note);
        }
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

/// The text of a breaking-change footer in `message`, in any of the forms people write
/// (`BREAKING CHANGE:`, `BREAKING-CHANGE:`, `BREAKING:`), upper case, at a line's start.
fn breaking_footer(message: &str) -> Option<String> {
    message.lines().find_map(|line| {
        ["BREAKING CHANGE:", "BREAKING-CHANGE:", "BREAKING:"]
            .iter()
            .find_map(|form| line.trim_start().strip_prefix(form))
            .map(|rest| rest.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use coderipple_core::contract::fixtures;

    #[test]
    fn every_breaking_form_is_read() {
        for (message, note) in [
            ("feat!: drop v1", None),
            (
                "feat: drop v1\n\nBREAKING CHANGE: v1 is gone",
                Some("v1 is gone"),
            ),
            (
                "feat: drop v1\n\nBREAKING-CHANGE: v1 is gone",
                Some("v1 is gone"),
            ),
            ("feat: drop v1\n\nBREAKING: v1 is gone", Some("v1 is gone")),
        ] {
            let env = fixtures::push("o/r", "d", vec![fixtures::commit(1, message)]);
            let change = ChangeSet {
                repo: "o/r".into(),
                events: vec![env],
            };
            let plan = classify_change_set(&change, &AgentPack::builtin()).unwrap();
            let c = plan.commits().next().unwrap();
            assert!(c.breaking, "{message}");
            assert_eq!(c.breaking_note.as_deref(), note, "{message}");
        }
        assert_eq!(breaking_footer("fix: a\n\nnot breaking: at all"), None);
    }

    #[test]
    fn coderipples_own_docs_commits_and_pull_requests_are_not_analysed() {
        use coderipple_core::contract::fixtures;
        use coderipple_core::envelope::Envelope;
        let pack = AgentPack::builtin();
        let ours = fixtures::commit(
            2,
            "docs(coderipple): update for push abc1234\n\nDeliveries: d1",
        );
        let push = fixtures::push("o/r", "d1", vec![fixtures::commit(1, "feat: gears"), ours]);
        let pr = Envelope {
            change: Some(Change::PullRequest(PullRequestChange {
                number: 7,
                title: "docs(coderipple): update for push abc1234".into(),
                body: String::new(),
                labels: Vec::new(),
                base_ref: "main".into(),
                merge_commit_sha: None,
                url: String::new(),
                merged_at: None,
            })),
            ..fixtures::push("o/r", "d2", Vec::new())
        };
        let change = ChangeSet {
            repo: "o/r".into(),
            events: vec![push, pr],
        };
        let plan = classify_change_set(&change, &pack).unwrap();
        assert_eq!(plan.items.len(), 1, "{:?}", plan.items);
        assert!(matches!(&plan.items[0], PlanItem::Commit(c) if c.summary == "gears"));
        assert_eq!(plan.notes.len(), 2, "{:?}", plan.notes);
        assert!(plan.notes[0].contains("own docs commit"));
        assert!(plan.notes[1].contains("own docs pull request #7"));
    }
}
