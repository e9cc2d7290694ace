//! Tests of the Orchestrator: which agents run for a change set, and why.

use super::*;
use crate::agents::AgentSet;
use crate::agents::testkit::{commit, plan, pull_request, push, push_to, release, tag};
use crate::plan::PlanItem;
use coderipple_core::envelope::Change;

fn one(message: &str) -> ClassifiedCommit {
    one_with(message, &["src/lib.rs"])
}

fn one_with(message: &str, added: &[&str]) -> ClassifiedCommit {
    let set = AgentSet::builtin();
    let p = plan(
        &set,
        vec![push("d", vec![commit(1, message, added, &[], &[])])],
    );
    p.commits().next().expect("a commit").clone()
}

#[test]
fn conventional_commits_are_parsed() {
    let c = one("feat(api)!: drop v1 endpoints");
    assert_eq!(
        (
            c.kind.as_str(),
            c.scope.as_deref(),
            c.breaking,
            c.summary.as_str(),
            c.conventional
        ),
        ("feat", Some("api"), true, "drop v1 endpoints", true)
    );
    let footer = one("fix: handle nulls\n\nBREAKING CHANGE: nulls now error");
    assert!(footer.breaking && footer.conventional);
    assert_eq!(footer.breaking_note.as_deref(), Some("nulls now error"));
    assert!(
        one("feat: x")
            .url
            .ends_with(&format!("/commit/{}", crate::agents::testkit::sha(1)))
    );
    assert_eq!(one("docs: y").kind, "docs");
}

#[test]
fn free_form_messages_fall_back_to_the_packs_heuristics() {
    let c = one("Fix crash on empty input\n\nmore text");
    assert_eq!((c.kind.as_str(), c.conventional), ("fix", false));
    assert_eq!(
        (c.summary.as_str(), c.body.as_str()),
        ("Fix crash on empty input", "more text")
    );
    assert_eq!(one("Add dark mode").kind, "feat");
    assert_eq!(one("Rename the config loader").kind, "refactor");
    assert_eq!(one("Bump serde").kind, "build");
    assert_eq!(one("Whatever happened").kind, "other");
    assert!(one("Drop support for Python 2").breaking);
    assert!(!one("Add dark mode").breaking);
    assert!(one("Use SQLite\n\nWe decided to use SQLite instead of files.").decision);
}

#[test]
fn merge_commits_and_reverts_are_recognized() {
    let m = one("Merge pull request #12 from o/feature\n\nAdd things");
    assert_eq!(m.kind, "merge");
    assert_eq!(one("Merge branch 'main' into dev").kind, "merge");
    let r = one("Revert \"feat: add dark mode\"\n\nThis reverts commit abc.");
    assert_eq!(
        (r.kind.as_str(), r.summary.as_str()),
        ("revert", "revert \"feat: add dark mode\"")
    );
    assert_eq!(one("revert: undo x").kind, "revert");
    // Merges are not listed, so they do not plan the historian on their own.
    let set = AgentSet::builtin();
    let p = plan(
        &set,
        vec![push(
            "d",
            vec![commit(1, "Merge branch 'x'", &[], &[], &[])],
        )],
    );
    assert!(!p.runs_agent("historian"), "{:?}", p.runs);
}

#[test]
fn path_categories_come_from_the_pack() {
    let c = one_with(
        "feat: x",
        &[
            "README.md",
            "src/lib.rs",
            "tests/it.rs",
            "Dockerfile",
            "docs/guide.md",
        ],
    );
    assert_eq!(
        c.categories,
        ["config_infra", "core", "docs", "tests", "user_facing"]
    );
    // A pack with other rules categorizes differently.
    let dir = tempfile::tempdir().unwrap();
    let rules = include_str!("../../../pack/rules.toml")
        .replace("user_facing = [\n", "user_facing = [\n  \"src/**\",\n");
    std::fs::write(dir.path().join("rules.toml"), rules).unwrap();
    let set = AgentSet::with_pack(std::sync::Arc::new(
        crate::pack::tests::load_dir(dir.path()).unwrap(),
    ));
    let p = plan(
        &set,
        vec![push(
            "d",
            vec![commit(1, "feat: x", &["src/lib.rs"], &[], &[])],
        )],
    );
    assert!(p.commits().next().unwrap().touches("user_facing"));
}

#[test]
fn empty_pushes_deletions_and_other_branches_are_noted_not_analysed() {
    let set = AgentSet::builtin();
    let mut deleted = push("del", vec![]);
    if let Some(Change::Push(p)) = &mut deleted.change {
        p.deleted = true;
    }
    let p = plan(
        &set,
        vec![
            push("empty", vec![]),
            deleted,
            push_to(
                "refs/heads/dev",
                "dev",
                vec![commit(1, "feat: x", &["a"], &[], &[])],
            ),
        ],
    );
    assert!(p.items.is_empty() && p.runs.is_empty());
    let notes = p.notes.join("\n");
    assert!(notes.contains("empty: push without commits"), "{notes}");
    assert!(
        notes.contains("del: deletion of refs/heads/main"),
        "{notes}"
    );
    assert!(notes.contains("non-default branch dev"), "{notes}");
}

#[test]
fn tags_releases_and_pull_requests_become_plan_items() {
    let set = AgentSet::builtin();
    let p = plan(
        &set,
        vec![
            push_to("refs/tags/v0.9", "t", vec![]),
            tag("c", "v1.0"),
            release("r", "v1.0", "Notes"),
            pull_request(
                "pr",
                7,
                &["breaking-change"],
                "BREAKING CHANGE: config moved",
            ),
            pull_request("pr2", 8, &[], "small"),
        ],
    );
    let tags: Vec<&str> = p
        .items
        .iter()
        .filter_map(|i| match i {
            PlanItem::Release(r) => Some(r.tag.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(tags, ["v0.9", "v1.0", "v1.0"]);
    assert!(p.runs_agent("historian") && p.runs_agent("tourist_guide"));
    assert!(!p.runs_agent("building_inspector"));
    assert!(p.notes.iter().any(|n| n.contains("#8")), "{:?}", p.notes);
}

#[test]
fn the_plan_says_which_agents_run_and_why() {
    let set = AgentSet::builtin();
    let p = plan(
        &set,
        vec![push(
            "d",
            vec![
                commit(
                    1,
                    "feat: add export",
                    &["src/export.rs", "Cargo.toml"],
                    &[],
                    &[],
                ),
                commit(2, "test: cover export", &["tests/export.rs"], &[], &[]),
            ],
        )],
    );
    let agents: Vec<&str> = p.runs.iter().map(|r| r.agent).collect();
    assert_eq!(agents, ["building_inspector", "tourist_guide", "historian"]);
    let reason = |a: &str| p.runs.iter().find(|r| r.agent == a).unwrap().reason.clone();
    assert!(reason("building_inspector").contains("3 path(s) (3 added, 0 removed)"));
    assert!(reason("building_inspector").contains("Cargo"));
    assert!(reason("tourist_guide").contains("1 user-visible change(s)"));
    assert!(reason("historian").contains("2 commit(s) for the changelog"));
    // Only tests: no user-visible change, so no tourist guide.
    let p = plan(
        &set,
        vec![push(
            "d",
            vec![commit(3, "test: more", &["tests/a.rs"], &[], &[])],
        )],
    );
    assert!(!p.runs_agent("tourist_guide"), "{:?}", p.runs);
}

#[test]
fn a_commit_without_a_hex_sha_is_permanent() {
    let set = AgentSet::builtin();
    let mut bad = commit(1, "feat: x", &[], &[], &[]);
    bad.id = "not-a-sha".into();
    let err = set
        .plan(&ChangeSet {
            repo: "o/r".into(),
            events: vec![push("d", vec![bad])],
        })
        .unwrap_err();
    assert!(!err.is_retryable() && err.to_string().contains("not a hex sha"));
}
