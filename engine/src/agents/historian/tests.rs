//! Tests of the Historian: the changelog, decision records and refactoring history.

use super::*;
use crate::agents::AgentSet;
use crate::agents::testkit::{commit, plan, pull_request, push, release, render, run, sha, tag};
use serde_json::json;

fn log_of(state: &Value) -> String {
    render(&AgentSet::builtin(), state, "decisions/changelog.md")
}

#[test]
fn changelog_groups_by_type_with_short_and_full_sha() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    let text = run(
        &set,
        &mut state,
        vec![push(
            "d",
            vec![
                commit(1, "feat: first feature", &["a"], &[], &[]),
                commit(2, "fix: a fix", &["a"], &[], &[]),
                commit(3, "feat(api): second feature", &["a"], &[], &[]),
                commit(4, "wip: odd one", &["a"], &[], &[]),
                commit(5, "Merge branch 'x'", &["a"], &[], &[]),
            ],
        )],
        "decisions/changelog.md",
    );
    let line = format!(
        "- first feature ([`{}`](https://github.com/o/r/commit/{})) — Mona",
        &sha(1)[..7],
        sha(1)
    );
    assert!(text.contains(&line), "{text}");
    assert!(text.contains("- **api:** second feature"), "{text}");
    let features = text.find("### Features").unwrap();
    let fixes = text.find("### Bug Fixes").unwrap();
    let other = text.find("### Other Changes").unwrap();
    assert!(features < fixes && fixes < other);
    assert!(
        text.find("second feature").unwrap() < text.find("first feature").unwrap(),
        "newest first"
    );
    assert!(!text.contains("Merge branch"), "merges are not listed");
    assert!(!text.contains("Older changes"));
}

#[test]
fn releases_and_tags_cut_the_changelog_once() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    run(
        &set,
        &mut state,
        vec![
            push("d1", vec![commit(1, "feat: one", &["a"], &[], &[])]),
            tag("t", "v1.0"),
        ],
        "decisions/changelog.md",
    );
    // The release of an existing tag names the cut; it does not cut again.
    let text = run(
        &set,
        &mut state,
        vec![
            push("d2", vec![commit(2, "fix: two", &["a"], &[], &[])]),
            release("r", "v1.0", "Notes"),
        ],
        "decisions/changelog.md",
    );
    assert!(text.contains("## Unreleased"), "{text}");
    assert!(
        text.contains(
            "## [Release v1.0 (v1.0)](https://github.com/o/r/releases/tag/v1.0) — 2026-01-20"
        ),
        "{text}"
    );
    assert!(text.find("- two (").unwrap() < text.find("## [Release").unwrap());
    assert!(text.find("- one (").unwrap() > text.find("## [Release").unwrap());
}

#[test]
fn significant_changes_become_numbered_decision_records() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    let text = run(
        &set,
        &mut state,
        vec![
            push(
                "d",
                vec![
                    commit(
                        1,
                        "feat: add a queue\n\nWe decided to use SQS instead of polling.",
                        &["queue/mod.rs"],
                        &[],
                        &[],
                    ),
                    commit(2, "fix: typo", &[], &["queue/mod.rs"], &[]),
                    commit(
                        3,
                        "feat!: new config format\n\nBREAKING CHANGE: TOML instead of INI",
                        &[],
                        &["src/config.rs"],
                        &[],
                    ),
                    commit(4, "chore: add terraform", &["infra/main.tf"], &[], &[]),
                ],
            ),
            pull_request(
                "p",
                9,
                &[],
                "Switch to tokio.\n\nWe chose tokio over async-std.",
            ),
        ],
        "decisions/architecture_decisions.md",
    );
    assert!(text.contains("## ADR-0001: Add a queue"), "{text}");
    assert!(
        text.contains("**Decision.** We decided to use SQS instead of polling."),
        "{text}"
    );
    assert!(text.contains("- New component `queue/`"), "{text}");
    assert!(text.contains("## ADR-0002: New config format"), "{text}");
    assert!(text.contains("- Breaking: TOML instead of INI"), "{text}");
    assert!(text.contains("## ADR-0003: Add terraform"), "{text}");
    assert!(
        text.contains("- Terraform added (`infra/main.tf`)"),
        "{text}"
    );
    assert!(text.contains("## ADR-0004: PR 9"), "{text}");
    assert!(!text.contains("Typo"), "{text}");
    // Replayed: nothing new, numbers unchanged.
    let again = run(
        &set,
        &mut state,
        vec![push(
            "d",
            vec![commit(
                3,
                "feat!: new config format",
                &[],
                &["src/config.rs"],
                &[],
            )],
        )],
        "decisions/architecture_decisions.md",
    );
    assert_eq!(again, text);
}

#[test]
fn edits_fixtures_and_unrecorded_reverts_get_no_record() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    let text = run(
        &set,
        &mut state,
        vec![push(
            "d",
            vec![
                commit(
                    1,
                    "chore: start",
                    &["src/lib.rs", "Cargo.toml", ".github/workflows/ci.yml"],
                    &[],
                    &[],
                ),
                commit(
                    2,
                    "ci: bump the runner",
                    &[],
                    &[".github/workflows/ci.yml"],
                    &[],
                ),
                commit(3, "chore(deps): bump serde", &[], &["Cargo.toml"], &[]),
                commit(
                    4,
                    "test: a fixture project",
                    &[
                        ".github/fixtures/new-case/Cargo.toml",
                        "tests/data/Dockerfile",
                    ],
                    &[],
                    &[],
                ),
                commit(5, "Revert \"fix: a typo\"", &[], &["src/lib.rs"], &[]),
            ],
        )],
        "decisions/architecture_decisions.md",
    );
    // The first commit adds the component `src/`, a manifest and a workflow: one record.
    assert!(text.contains("## ADR-0001: Start"), "{text}");
    assert!(text.contains("A component was added or removed"), "{text}");
    for quiet in [
        "Bump the runner",
        "Bump serde",
        "A fixture project",
        "Revert",
        "ADR-0002",
    ] {
        assert!(!text.contains(quiet), "{quiet}: {text}");
    }
}

#[test]
fn an_added_decision_record_and_the_revert_of_a_recorded_change_get_records() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    let text = run(
        &set,
        &mut state,
        vec![push(
            "d",
            vec![
                commit(1, "chore: start", &["src/lib.rs"], &[], &[]),
                commit(
                    2,
                    "docs: record the queue choice\n\nWe use SQS FIFO, one group per repository.",
                    &["docs/adr/0001-queue.md"],
                    &[],
                    &[],
                ),
                commit(
                    3,
                    "feat!: new config format\n\nBREAKING CHANGE: TOML instead of INI",
                    &[],
                    &["src/lib.rs"],
                    &[],
                ),
                commit(
                    4,
                    "Revert \"feat!: new config format\"",
                    &[],
                    &["src/lib.rs"],
                    &[],
                ),
            ],
        )],
        "decisions/architecture_decisions.md",
    );
    assert!(
        text.contains("## ADR-0002: Record the queue choice"),
        "{text}"
    );
    assert!(
        text.contains("Recorded in `docs/adr/0001-queue.md`"),
        "{text}"
    );
    assert!(
        text.contains("**Decision.** We use SQS FIFO, one group per repository."),
        "{text}"
    );
    assert!(text.contains("## ADR-0003: New config format"), "{text}");
    // The revert states nothing itself: its record exists because ADR-0003 does.
    assert!(text.contains("Reverts ADR-0003"), "{text}");
    assert!(text.contains("## ADR-0004: Revert"), "{text}");
}

#[test]
fn refactorings_and_moves_are_appended_in_order() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    run(
        &set,
        &mut state,
        vec![push(
            "d1",
            vec![commit(1, "feat: x", &["old/a.rs", "old/b.rs"], &[], &[])],
        )],
        "decisions/refactoring_history.md",
    );
    let text = run(
        &set,
        &mut state,
        vec![push(
            "d2",
            vec![
                commit(2, "refactor: split parser", &[], &["old/a.rs"], &[]),
                commit(3, "chore: move a", &["new/a.rs"], &[], &["old/a.rs"]),
            ],
        )],
        "decisions/refactoring_history.md",
    );
    let split = text.find("Split parser").expect("refactor listed");
    let moved = text
        .find("- `old/a.rs` moved to `new/a.rs`")
        .expect("move listed");
    assert!(split < moved, "oldest first: {text}");
    assert!(!text.contains("## 2026-01-02 — X"), "{text}");
}

#[test]
fn long_histories_move_whole_releases_into_write_once_pages_and_state_stays_bounded() {
    let set = AgentSet::builtin();
    let historian = set.get(NAME).unwrap();
    let mut state = Value::Null;
    let mut pages = Vec::new();
    for batch in 0..30u32 {
        let commits = (0..25)
            .map(|i| {
                commit(
                    batch * 25 + i,
                    &format!("feat: change {}", batch * 25 + i),
                    &[],
                    &[],
                    &[],
                )
            })
            .collect();
        // A release every 50 commits: pages hold whole releases.
        let mut events = vec![push("d", commits)];
        if batch % 2 == 1 {
            events.push(tag(&format!("t{batch}"), &format!("v0.{batch}.0")));
        }
        let p = plan(&set, events);
        pages.extend(
            historian
                .apply(
                    AgentInput {
                        plan: &p,
                        findings: &[],
                    },
                    &mut state,
                )
                .unwrap()
                .write_once,
        );
    }
    let mine = read_historian(&state).unwrap();
    assert!(mine.changelog.entries.len() < 2 * PAGE);
    assert_eq!(mine.changelog.pages as usize, pages.len());
    assert_eq!(pages[0].path, "decisions/changelog/page-0001.md");
    assert!(pages[0].contents.contains("change 0 ") && pages[0].contents.contains("change 99 "));
    assert!(!pages[0].contents.contains("change 100 "));
    let main = historian.render("o/r", &state).unwrap()[0].contents.clone();
    assert!(main.contains("](changelog/page-0001.md)"), "{main}");
    for i in 0..750 {
        let count = pages
            .iter()
            .map(|p| &p.contents)
            .chain([&main])
            .filter(|c| c.contains(&sha(i)))
            .count();
        assert_eq!(count, 1, "commit {i}");
    }
    let p = plan(
        &set,
        vec![push("d", vec![commit(5, "feat: change 5", &[], &[], &[])])],
    );
    let replay = historian
        .apply(
            AgentInput {
                plan: &p,
                findings: &[],
            },
            &mut state,
        )
        .unwrap();
    assert_eq!((replay.applied, replay.already_applied), (0, 1));
    assert!(serde_json::to_string(&state).unwrap().len() < 100_000);
}

#[test]
fn the_first_cuts_state_is_read_as_the_changelog() {
    let old = json!({"entries": [{"sha": sha(1), "type": "feat", "scope": null, "breaking": false,
        "summary": "old entry", "conventional": true, "author": "Mona", "timestamp": "",
        "url": "https://github.com/o/r/commit/x", "delivery": "d"}], "pages": 0, "archived": []});
    let state = json!({ NAME: old });
    assert!(log_of(&state).contains("- old entry"));
}

#[test]
fn applied_commits_are_the_archived_keys_then_the_current_page() {
    let entry = |sha: &str| json!({"sha": sha, "type": "feat", "summary": "s", "url": "u"});
    let state = json!({"historian": {"changelog": {
        "entries": [entry("c3"), entry("c4")], "pages": 1, "archived": ["c1", "c2"]
    }}});
    assert_eq!(applied_commits(&state).unwrap(), ["c1", "c2", "c3", "c4"]);
    // The first layout (a bare journal) reads the same; no Historian state is no commits.
    let old = json!({"historian": {"entries": [entry("c1")]}});
    assert_eq!(applied_commits(&old).unwrap(), ["c1"]);
    assert!(applied_commits(&json!({})).unwrap().is_empty());
    let broken = json!({"historian": {"changelog": {"entries": "not a list"}}});
    assert!(applied_commits(&broken).is_err());
}

#[test]
fn payload_text_cannot_break_or_inject_into_the_decisions() {
    use crate::agents::testkit::{apply_all, assert_inert};
    use crate::markdown::INLINE_MAX_CHARS;
    let set = AgentSet::builtin();
    let mut state = json!({});
    let long = "x".repeat(3 * INLINE_MAX_CHARS);
    let mut hostile = commit(
        1,
        &format!(
            "feat: <!-- hide [advisory](https://evil.example) ![i](https://evil.example/i.png)\n\n\
             We decided to <script>alert(1)</script>\n## PWNED\n| a | b |\n|---|---|\n\
             mail mona@evil.example or see www.evil.example {long}"
        ),
        &["Cargo.toml"],
        &[],
        &[],
    );
    hostile.author = "[advisory](https://evil.example) <img src=x>\0\u{1b}[31m".into();
    let moved = commit(
        2,
        "refactor: move `a` | b",
        &["new/a`b\n## PWNED.rs"],
        &[],
        &["old/a`b\n## PWNED.rs"],
    );
    let p = plan(
        &set,
        vec![
            push("d1", vec![hostile, moved]),
            release("r1", "v1 <!--", "Notes <!--\n## PWNED"),
            pull_request(
                "p",
                7,
                &["breaking"],
                "<!-- [x](https://evil.example)\n## PWNED",
            ),
        ],
    );
    apply_all(&set, &p, &mut state);
    let log = render(&set, &state, "decisions/changelog.md");
    let adrs = render(&set, &state, "decisions/architecture_decisions.md");
    let history = render(&set, &state, "decisions/refactoring_history.md");
    for doc in [&log, &adrs, &history] {
        assert_inert(doc);
    }
    // Everything is still there to read, escaped.
    assert!(
        log.contains(
            "- \\<!-- hide \\[advisory\\](https\\://evil.example) \
             \\!\\[i\\](https\\://evil.example/i.png) ("
        ),
        "{log}"
    );
    assert!(
        log.contains("— \\[advisory\\](https\\://evil.example) \\<img src=x\\>\\[31m\n"),
        "{log}"
    );
    assert!(
        log.contains(
            "## [Release v1 \\<!-- (v1 \\<!--)](https://github.com/o/r/releases/tag/v1%20%3C!--) \
             — 2026-01-20\n"
        ),
        "{log}"
    );
    // One line, capped.
    let decision = adrs
        .lines()
        .find(|l| l.starts_with("**Decision.** We decided"))
        .unwrap();
    assert!(
        decision.starts_with(
            "**Decision.** We decided to \\<script\\>alert(1)\\</script\\> \\#\\# PWNED \
             \\| a \\| b \\| \\|---\\|---\\| mail mona@\u{2060}evil.example or see \
             www\\.evil.example xxx"
        ),
        "{decision}"
    );
    assert!(decision.ends_with("x…"), "{decision}");
    assert!(decision.chars().count() < INLINE_MAX_CHARS + 100);
    assert!(
        adrs.contains("**Decision.** \\<!-- \\[x\\](https\\://evil.example) \\#\\# PWNED\n"),
        "{adrs}"
    );
    // A path's backtick and newline stay inside its code span.
    assert!(history.contains("— Move `a` \\| b\n"), "{history}");
    assert!(
        history.contains("- ``old/a`b ## PWNED.rs`` moved to ``new/a`b ## PWNED.rs``\n"),
        "{history}"
    );
}

#[test]
fn links_go_only_to_the_repositorys_own_pages() {
    use crate::agents::testkit::assert_inert;
    use coderipple_core::envelope::Change;
    let set = AgentSet::builtin();
    let mut state = json!({});
    let mut pushed = push("d1", vec![commit(1, "feat: one", &["a"], &[], &[])]);
    if let Some(Change::Push(p)) = &mut pushed.change {
        p.repo_url = "https://evil.example/o/r".into();
    }
    let mut released = release("r1", "v1", "");
    if let Some(Change::Release(r)) = &mut released.change {
        r.url = "https://github.com/evil/r/releases/tag/v1".into();
    }
    let log = run(
        &set,
        &mut state,
        vec![pushed, released],
        "decisions/changelog.md",
    );
    assert_inert(&log);
    assert!(log.contains("## Release v1 (v1) — 2026-01-20\n"), "{log}");
    assert!(
        log.contains(&format!("- one (`{}`) — Mona\n", &sha(1)[..7])),
        "{log}"
    );
    assert!(!log.contains("evil"), "{log}");
}

#[test]
fn a_release_archived_early_under_the_budget_links_its_page_when_it_is_cut() {
    let set = AgentSet::builtin();
    let historian = set.get(NAME).unwrap();
    let apply = |state: &mut Value, events| {
        let p = plan(&set, events);
        let input = AgentInput {
            plan: &p,
            findings: &[],
        };
        historian.apply(input, state).unwrap()
    };
    let mut state = Value::Null;
    let commits = (0..10)
        .map(|i| commit(i, &format!("feat: change {i}"), &[], &[], &[]))
        .collect();
    apply(&mut state, vec![push("d", commits)]);
    // The budget forces a step while everything is unreleased: half goes to page 1.
    let mut mine = read_historian(&state).unwrap();
    let (n, early) = paging::page_out_early(&mut mine).unwrap();
    assert_eq!((n, early.len()), (1, 5));
    let page = Historian::new(set.pack.clone())
        .changelog_page(n, &early, &mine.releases)
        .unwrap();
    assert!(
        page.contents.contains("Not yet released when archived"),
        "{}",
        page.contents
    );
    state = write_state(NAME, &mine).unwrap();
    apply(&mut state, vec![tag("t", "v1.0.0")]);
    let main = historian.render("o/r", &state).unwrap()[0].contents.clone();
    let section = &main[main
        .find("## [v1.0.0]")
        .unwrap_or_else(|| panic!("no v1.0.0 in {main}"))..];
    assert!(
        section.contains("archived before it was cut: [page 1](changelog/page-0001.md)"),
        "{main}"
    );
    for i in 5..10 {
        assert!(section.contains(&format!("change {i} ")), "{main}");
    }
    assert!(read_historian(&state).unwrap().unreleased_pages.is_empty());
}
