//! Releases as projects cut them: pre-releases fold into the next final release, the pack's
//! `[releases]` rules, and release dates that are never the day an event was processed.

use std::sync::Arc;

use serde_json::json;

use crate::agents::AgentSet;
use crate::agents::testkit::{assert_inert, commit, push, push_to, release, run, sha, tag};
use coderipple_core::envelope::Change;

const LOG: &str = "decisions/changelog.md";

fn prerelease(delivery: &str, name: &str) -> coderipple_core::envelope::Envelope {
    let mut env = release(delivery, name, "Candidate");
    if let Some(Change::Release(r)) = &mut env.change {
        r.prerelease = true;
    }
    env
}

#[test]
fn pre_releases_fold_into_the_next_final_release_which_lists_them() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    let events = vec![
        push("p1", vec![commit(1, "feat: first", &["a"], &[], &[])]),
        tag("t1", "v1.0.0-rc.1"),
        push("p2", vec![commit(2, "fix: second", &["a"], &[], &[])]),
        prerelease("r2", "nightly-5"),
        push("p3", vec![commit(3, "feat: third", &["a"], &[], &[])]),
        tag("t3", "v1.0.0"),
    ];
    let text = run(&set, &mut state, events.clone(), LOG);
    assert_eq!(text.matches("\n## ").count(), 1, "one release: {text}");
    assert!(text.contains("## [v1.0.0]"), "{text}");
    assert!(
        !text.contains("## [v1.0.0-rc.1]") && !text.contains("Unreleased"),
        "{text}"
    );
    assert!(
        text.contains("\nPre-releases: `v1.0.0-rc.1`, `nightly-5`\n"),
        "the tag and the GitHub pre-release are listed, and only they: {text}"
    );
    let heading = text.find("## [v1.0.0]").unwrap();
    for n in 1..=3 {
        assert!(text.find(&sha(n)).unwrap() > heading, "{n} under v1.0.0");
    }
    // A redelivery of everything changes nothing.
    let again = run(&set, &mut state, events, LOG);
    assert_eq!(again, text);
}

/// A pre-release's tag is payload text: listed under the cut as code, it adds no Markdown.
#[test]
fn a_hostile_pre_release_tag_stays_text() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    let text = run(
        &set,
        &mut state,
        vec![
            push("p1", vec![commit(1, "feat: first", &["a"], &[], &[])]),
            prerelease(
                "r0",
                "x` <img src=x onerror=alert(1)> [a](https://evil.example)\n## PWNED",
            ),
            tag("t", "v3.0.0"),
        ],
        LOG,
    );
    assert!(text.contains("\nPre-releases: "), "{text}");
    assert_inert(&text);
}

/// GitHub sends `create`, the tag's push and `release` for one release, in any order: the
/// outcome is the same in every order, and a tag never lists itself as its pre-release.
#[test]
fn a_releases_events_in_any_order_give_the_same_changelog() {
    let set = AgentSet::builtin();
    let head = || push("p1", vec![commit(1, "feat: first", &["a"], &[], &[])]);
    let rc = || prerelease("r0", "v2.0.0-rc.1");
    let orders = [
        vec![
            head(),
            rc(),
            tag("t", "v2.0.0"),
            release("r", "v2.0.0", "Notes"),
        ],
        vec![
            head(),
            rc(),
            release("r", "v2.0.0", "Notes"),
            tag("t", "v2.0.0"),
        ],
        vec![
            head(),
            tag("t", "v2.0.0"),
            rc(),
            release("r", "v2.0.0", "Notes"),
        ],
    ];
    let mut seen = Vec::new();
    for events in orders {
        let mut state = json!({});
        seen.push(run(&set, &mut state, events, LOG));
    }
    let first = &seen[0];
    assert!(first.contains("## [Release v2.0.0 (v2.0.0)]"), "{first}");
    assert!(first.contains("\nPre-releases: `v2.0.0-rc.1`\n"), "{first}");
    // The third order saw the candidate after the cut: it is listed nowhere, folded into the
    // next release instead.
    assert_eq!(seen[0], seen[1]);
    assert!(!seen[2].contains("Pre-releases"), "{}", seen[2]);
    assert!(
        seen[2].contains("## [Release v2.0.0 (v2.0.0)]"),
        "{}",
        seen[2]
    );
}

#[test]
fn the_packs_rules_skip_and_pattern_tags_as_git_cliff_does() {
    let dir = tempfile::tempdir().unwrap();
    let rules = include_str!("../../../pack/rules.toml")
        .replace("skip_tags = \"\"", "skip_tags = '^v0\\.'")
        .replace("[releases]", "[releases]\ntag_pattern = '^v[0-9]'");
    std::fs::write(dir.path().join("rules.toml"), rules).unwrap();
    let set = AgentSet::with_pack(Arc::new(crate::pack::tests::load_dir(dir.path()).unwrap()));
    let mut state = json!({});
    let text = run(
        &set,
        &mut state,
        vec![
            push("p1", vec![commit(1, "feat: early work", &["a"], &[], &[])]),
            tag("t1", "v0.1.0"),
            push("p2", vec![commit(2, "feat: real work", &["a"], &[], &[])]),
            tag("t2", "nightly"),
            push("p3", vec![commit(3, "fix: more work", &["a"], &[], &[])]),
            tag("t3", "v1.0.0"),
        ],
        LOG,
    );
    assert!(
        !text.contains(&sha(1)),
        "a skipped release's changes are left out: {text}"
    );
    assert!(!text.contains("v0.1.0"), "{text}");
    assert!(
        text.contains("## [v1.0.0]") && text.contains("Pre-releases: `nightly`"),
        "{text}"
    );
    assert!(text.contains(&sha(2)) && text.contains(&sha(3)), "{text}");

    let bad = dir.path().join("rules.toml");
    let text = std::fs::read_to_string(&bad)
        .unwrap()
        .replace("skip_tags = '^v0\\.'", "skip_tags = '('");
    std::fs::write(&bad, text).unwrap();
    let err = crate::pack::tests::load_dir(dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("rules.toml") && err.contains("skip_tags"),
        "{err}"
    );
}

#[test]
fn a_release_is_dated_by_its_release_or_its_tagged_commit_never_by_processing() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    // `create` says nothing of the tag's time: undated (the envelope was received on
    // 2026-02-01, which must not show), until the release is published.
    let text = run(
        &set,
        &mut state,
        vec![
            push("p1", vec![commit(1, "feat: first", &["a"], &[], &[])]),
            tag("t1", "v1.0.0"),
        ],
        LOG,
    );
    assert!(
        text.contains("## [v1.0.0](https://github.com/o/r/releases/tag/v1.0.0)\n"),
        "{text}"
    );
    assert!(!text.contains("2026-02-01"), "{text}");
    let text = run(
        &set,
        &mut state,
        vec![release("r1", "v1.0.0", "Notes")],
        LOG,
    );
    assert!(text.contains("— 2026-01-20"), "published_at: {text}");
    // A tag's push is dated by the tagged commit (`head_commit`; its `commits` is empty).
    let mut tag_push = push_to("refs/tags/v1.1.0", "t2", vec![]);
    if let Some(Change::Push(p)) = &mut tag_push.change {
        p.head_timestamp = Some("2026-01-10T10:00:00Z".into());
    }
    let text = run(
        &set,
        &mut state,
        vec![
            push("p2", vec![commit(2, "fix: second", &["a"], &[], &[])]),
            tag_push,
        ],
        LOG,
    );
    assert!(
        text.contains("v1.1.0") && text.contains("— 2026-01-10"),
        "{text}"
    );
}

/// GitHub's `released`: a pre-release made a release.
fn promoted(delivery: &str, name: &str) -> coderipple_core::envelope::Envelope {
    let mut env = release(delivery, name, "Now final");
    if let Some(Change::Release(r)) = &mut env.change {
        r.promoted = true;
    }
    env
}

#[test]
fn a_pre_release_promoted_to_a_release_gets_its_cut() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    let folded = vec![
        push("p1", vec![commit(1, "feat: first", &["a"], &[], &[])]),
        prerelease("r1", "v2.0.0"),
    ];
    let text = run(&set, &mut state, folded, LOG);
    assert!(
        !text.contains("## [Release v2.0.0"),
        "folded at first: {text}"
    );
    let text = run(
        &set,
        &mut state,
        vec![promoted("r1-released", "v2.0.0")],
        LOG,
    );
    let heading = text.find("## [Release v2.0.0").expect("cut when promoted");
    assert!(
        text.find(&sha(1)).unwrap() > heading,
        "its commit is under it: {text}"
    );
    assert!(!text.contains("Pre-releases: `v2.0.0`"), "{text}");
    // The same promotion again (a redelivery) changes nothing.
    let again = run(
        &set,
        &mut state,
        vec![promoted("r1-released", "v2.0.0")],
        LOG,
    );
    assert_eq!(again, text);
}

#[test]
fn a_promotion_after_a_later_release_took_the_tag_in_changes_nothing() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    let events = vec![
        push("p1", vec![commit(1, "feat: first", &["a"], &[], &[])]),
        prerelease("r1", "nightly-5"),
        push("p2", vec![commit(2, "feat: second", &["a"], &[], &[])]),
        tag("t2", "v2.0.0"),
    ];
    let text = run(&set, &mut state, events, LOG);
    let again = run(
        &set,
        &mut state,
        vec![promoted("r1-late", "nightly-5")],
        LOG,
    );
    assert_eq!(again, text, "the nightly stays listed under v2.0.0");
}
