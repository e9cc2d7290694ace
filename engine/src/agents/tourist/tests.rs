//! Tests of the Tourist Guide: what's new, upgrading notes and getting started.

use super::*;
use crate::agents::AgentSet;
use crate::agents::testkit::tag;
use crate::agents::testkit::{
    apply_all, commit, plan, pull_request, push, release, render, run, sha,
};
use crate::facts::FileFacts;
use serde_json::json;

#[test]
fn whats_new_lists_user_visible_changes_under_their_release() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    run(
        &set,
        &mut state,
        vec![
            push(
                "d1",
                vec![
                    commit(1, "feat: export to CSV", &["src/export.rs"], &[], &[]),
                    commit(2, "test: cover export", &["tests/export.rs"], &[], &[]),
                    commit(3, "chore: tidy", &["src/a.rs"], &[], &[]),
                ],
            ),
            release("r1", "v1.0.0", "First release.\n\nDetails."),
        ],
        "user/whats_new.md",
    );
    let doc = run(
        &set,
        &mut state,
        vec![push(
            "d2",
            vec![commit(4, "fix: CSV quoting", &["src/export.rs"], &[], &[])],
        )],
        "user/whats_new.md",
    );
    assert!(doc.contains("## Unreleased"), "{doc}");
    assert!(
        doc.contains(
            "## [Release v1.0.0 (v1.0.0)](https://github.com/o/r/releases/tag/v1.0.0) — 2026-01-20"
        ),
        "{doc}"
    );
    assert!(doc.contains("First release."), "{doc}");
    assert!(!doc.contains("Details."), "{doc}");
    let fix = doc
        .find("### Bug Fixes\n\n- CSV quoting")
        .expect("fix listed");
    let feat = doc
        .find("### Features\n\n- export to CSV")
        .expect("feat listed");
    assert!(fix < doc.find("## [Release").unwrap() && feat > doc.find("## [Release").unwrap());
    assert!(
        !doc.contains("cover export") && !doc.contains("tidy"),
        "{doc}"
    );
    assert!(doc.contains(&format!(
        "[`{}`](https://github.com/o/r/commit/{})",
        &sha(4)[..7],
        sha(4)
    )));
}

#[test]
fn upgrading_keeps_every_breaking_change_with_its_commit() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    let doc = run(
        &set,
        &mut state,
        vec![
            push(
                "d1",
                vec![commit(
                    1,
                    "feat(cli)!: rename --out\n\nBREAKING CHANGE: use --output instead of --out",
                    &["src/cli.rs"],
                    &[],
                    &[],
                )],
            ),
            pull_request(
                "p",
                5,
                &["semver-major"],
                "Moves config.\n\nBREAKING CHANGE: config lives in ~/.config now",
            ),
        ],
        "user/upgrading.md",
    );
    assert!(
        doc.contains(
            "### rename --out\n\nuse --output instead of --out\n\nIntroduced by [`0000000`]"
        ),
        "{doc}"
    );
    assert!(
        doc.contains("### PR 5\n\nconfig lives in \\~/.config now"),
        "{doc}"
    );
    let empty = render(&set, &json!({}), "user/upgrading.md");
    assert!(empty.contains("No breaking changes recorded."), "{empty}");
}

#[test]
fn getting_started_follows_readme_cli_and_config() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    let mut p = plan(
        &set,
        vec![push(
            "d",
            vec![commit(
                1,
                "feat: cli",
                &[
                    "README.md",
                    "cli/src/main.rs",
                    "config.example.toml",
                    "Cargo.toml",
                ],
                &[],
                &[],
            )],
        )],
    );
    p.contents.insert(
        "README.md".into(),
        FileFacts::Readme(crate::facts::ReadmeFacts {
            title: Some("Widget".into()),
            description: Some("Turns gears.".into()),
            install: Some("cargo install widget".into()),
            usage: None,
        }),
    );
    apply_all(&set, &p, &mut state);
    let doc = render(&set, &state, "user/getting_started.md");
    assert!(doc.starts_with("# Getting started with Widget\n"), "{doc}");
    assert!(
        doc.contains("## Install\n\ncargo install widget\n"),
        "{doc}"
    );
    assert!(
        doc.contains("## Entry points\n\n- `cli/src/main.rs`\n"),
        "{doc}"
    );
    assert!(doc.contains("- `Cargo.toml`"), "{doc}");
    assert!(doc.contains("- cli ([`0000000`]"), "{doc}");
    let empty = render(&set, &json!({}), "user/getting_started.md");
    assert!(empty.contains("Nothing known yet"), "{empty}");
}

#[test]
fn the_same_events_twice_change_nothing() {
    let set = AgentSet::builtin();
    let events = || {
        vec![
            push(
                "d",
                vec![commit(
                    1,
                    "feat: a\n\nBREAKING CHANGE: b",
                    &["README.md"],
                    &[],
                    &[],
                )],
            ),
            release("r", "v1", ""),
        ]
    };
    let mut state = json!({});
    let p = plan(&set, events());
    apply_all(&set, &p, &mut state);
    let once = state.clone();
    let guide = set.get(NAME).unwrap();
    let again = guide
        .apply(
            AgentInput {
                plan: &p,
                findings: &[],
            },
            state.get_mut(NAME).unwrap(),
        )
        .unwrap();
    assert_eq!((again.applied, again.already_applied), (0, 2));
    assert_eq!(state, once);
}

#[test]
fn payload_text_cannot_break_or_inject_into_the_guide() {
    use crate::agents::testkit::assert_inert;
    use crate::facts::ReadmeFacts;
    let set = AgentSet::builtin();
    let mut state = json!({});
    let mut p = plan(
        &set,
        vec![
            push(
                "d1",
                vec![commit(
                    1,
                    "feat!: drop <b>v1</b> [api](https://evil.example)\n\n\
                     BREAKING CHANGE: run `migrate --all` <!-- the rest is hidden",
                    &["README.md", "cli/src/main.rs"],
                    &[],
                    &[],
                )],
            ),
            release(
                "r1",
                "v2",
                "Notes with <!-- a comment\n## PWNED\n[ref]: https://evil.example\n\
                 | a | b |\n|---|---|\n```mermaid\nclick A \"https://evil.example\"\n\n\
                 Second paragraph.",
            ),
            pull_request(
                "p",
                9,
                &["breaking"],
                "BREAKING CHANGE: <script>alert(1)</script>\n> [!WARNING]\n> www.evil.example\n\
                 ## PWNED\n- a list\n- stays",
            ),
        ],
    );
    p.contents.insert(
        "README.md".into(),
        FileFacts::Readme(ReadmeFacts {
            title: Some("<img src=x onerror=alert(1)> Widget\n## PWNED".into()),
            description: Some("[Widget](https://evil.example) turns gears.".into()),
            install: Some("```sh\ncargo install widget\n```\n<!-- hidden -->\n## PWNED".into()),
            usage: Some("Run `widget` | see https://evil.example".into()),
        }),
    );
    apply_all(&set, &p, &mut state);
    let news = render(&set, &state, "user/whats_new.md");
    let upgrading = render(&set, &state, "user/upgrading.md");
    let guide = render(&set, &state, "user/getting_started.md");
    for doc in [&news, &upgrading] {
        assert_inert(doc);
    }
    // The README's own sections are Markdown the repository wrote: kept as Markdown (its
    // https links too), sanitized. Judged as GitHub renders it.
    let mut page = String::new();
    pulldown_cmark::html::push_html(&mut page, pulldown_cmark::Parser::new(&guide));
    for bad in ["<img", "<script", "<!--"] {
        assert!(!page.contains(bad), "{bad} in {page}");
    }
    assert!(
        news.contains(
            "Notes with \\<!-- a comment\n\\#\\# PWNED\n\\[ref\\]: https\\://evil.example\n\
             \\| a \\| b \\|\n\\|---\\|---\\|\n```\nclick A \"https://evil.example\"\n```\n"
        ),
        "{news}"
    );
    assert!(
        news.contains(
            "### Breaking Changes\n\n- drop \\<b\\>v1\\</b\\> \\[api\\](https\\://evil.example) (["
        ),
        "{news}"
    );
    assert!(
        upgrading.contains("### drop \\<b\\>v1\\</b\\> \\[api\\](https\\://evil.example)\n\n"),
        "{upgrading}"
    );
    assert!(
        upgrading.contains("run `migrate --all` \\<!-- the rest is hidden\n\nIntroduced by"),
        "{upgrading}"
    );
    assert!(
        upgrading.contains(
            "\\<script\\>alert(1)\\</script\\>\n\\> \\[!WARNING\\]\n\\> www\\.evil.example\n\
             \\#\\# PWNED\n- a list\n- stays\n\nIntroduced by [`#9`](https://github.com/o/r/pull/9)"
        ),
        "{upgrading}"
    );
    assert!(
        guide.starts_with(
            "# Getting started with \\<img src=x onerror=alert(1)\\> Widget \\#\\# PWNED\n"
        ),
        "{guide}"
    );
    assert!(
        page.contains("<p><a href=\"https://evil.example\">Widget</a> turns gears.</p>"),
        "{page}"
    );
    assert!(
        page.contains(
            "<h2>Install</h2>\n<pre><code class=\"language-sh\">cargo install widget\n</code></pre>\n\
             <h4>PWNED</h4>\n<h2>Usage</h2>\n<p>Run <code>widget</code> | see https://evil.example</p>"
        ),
        "{page}"
    );
}

#[test]
fn release_notes_group_by_type_link_pull_requests_and_name_contributors() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    let by = |n: u32, message: &str, author: &str| {
        let mut c = commit(n, message, &["src/lib.rs"], &[], &[]);
        c.author = author.into();
        c
    };
    let first = vec![by(1, "feat: the first feature", "Mona")];
    let second = vec![
        by(2, "fix: a crash on start (#12)", "Hubot"),
        by(3, "feat: a reverted idea", "Mona"),
        by(4, "feat!: a new config format", "Octo Cat"),
        by(5, "Revert \"feat: a reverted idea\"", "Mona"),
        by(6, "feat: export to CSV", "Mona"),
    ];
    let doc = run(
        &set,
        &mut state,
        vec![
            push("d1", first),
            tag("t1", "v1.0.0"),
            push("d2", second),
            tag("t2", "v1.1.0"),
        ],
        "user/whats_new.md",
    );
    let v11 =
        &doc[doc.find("## [v1.1.0]").expect("v1.1.0")..doc.find("## [v1.0.0]").expect("v1.0.0")];
    let breaking = v11
        .find("### Breaking Changes\n\n- a new config format")
        .expect("breaking first");
    let features = v11
        .find("### Features\n\n- export to CSV")
        .expect("features");
    let fixes = v11
        .find("### Bug Fixes\n\n- a crash on start ([\\#12](https://github.com/o/r/pull/12))")
        .unwrap_or_else(|| panic!("the PR linked: {v11}"));
    assert!(breaking < features && features < fixes, "{v11}");
    // The reverted idea and its revert both dropped out of the release.
    assert!(!v11.contains("reverted idea"), "{v11}");
    assert!(
        v11.contains(
            "**Contributors:** Hubot, Mona, Octo Cat. First contribution: Hubot, Octo Cat."
        ),
        "{v11}"
    );
    assert!(
        v11.contains("**Full comparison:** [`v1.0.0...v1.1.0`](https://github.com/o/r/compare/v1.0.0...v1.1.0)"),
        "{v11}"
    );
    let v10 = &doc[doc.find("## [v1.0.0]").unwrap()..];
    // The first release seen names nobody as new: the history starts there.
    assert!(v10.contains("**Contributors:** Mona.\n"), "{v10}");
    assert!(!v10.contains("First contribution"), "{v10}");
    assert!(!v10.contains("Full comparison"), "{v10}");
}

#[test]
fn a_release_names_its_first_contributors_and_counts_the_rest() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    let commits = |from: u32, to: u32| -> Vec<_> {
        (from..to)
            .map(|n| {
                let mut c = commit(n, &format!("fix: change {n}"), &["src/lib.rs"], &[], &[]);
                c.author = format!("Person {n:02}");
                c
            })
            .collect()
    };
    let doc = run(
        &set,
        &mut state,
        vec![
            push("d1", commits(0, 2)),
            tag("t1", "v1.0.0"),
            push("d2", commits(2, 30)),
            tag("t2", "v2.0.0"),
        ],
        "user/whats_new.md",
    );
    let v2 = &doc[doc.find("## [v2.0.0]").unwrap()..doc.find("## [v1.0.0]").unwrap()];
    let named: Vec<String> = (2..22).map(|n| format!("Person {n:02}")).collect();
    assert!(
        v2.contains(&format!(
            "**Contributors:** {} and 8 more.",
            named.join(", ")
        )),
        "{v2}"
    );
    assert!(
        v2.contains(&format!("First contribution: {}.", named.join(", "))),
        "{v2}"
    );
    // Known authors are kept as short hashes, never as names.
    let tourist = &state[NAME]["authors"];
    assert_eq!(tourist.as_array().unwrap().len(), 30);
    assert!(tourist[0].as_str().unwrap().len() == 12, "{tourist}");
}
