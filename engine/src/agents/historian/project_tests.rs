//! The changelog follows a repository's own release rules when it has them: git-cliff's
//! tags to ignore and commits to skip, its headings; release.yml's excluded authors; a
//! broken file leaves the pack's rules in force and says why.

use serde_json::json;

use crate::agents::AgentSet;
use crate::agents::testkit::{apply_all, assert_inert, commit, plan, push, render, sha, tag};
use crate::facts::analyse;
use crate::pack::AgentPack;

const LOG: &str = "decisions/changelog.md";

const CLIFF: &str = r#"
[git]
conventional_commits = true
filter_unconventional = false
protect_breaking_commits = true
ignore_tags = "rc|v2.1.0"
commit_parsers = [
  { message = "^chore\\(release\\)", skip = true },
  { message = "^chore\\(deps", skip = true },
  { message = "^feat", group = "<!-- 0 -->⛰️  Features" },
  { message = "^fix", group = "<!-- 1 -->🐛 Bug Fixes" },
  { message = "^perf", group = "<!-- 2 -->⚡ Performance tweaks" },
]
"#;

fn history(set: &AgentSet, rules: &[(&str, &str)]) -> serde_json::Value {
    let mut state = json!({});
    let mut first = plan(
        set,
        vec![push(
            "p1",
            vec![
                commit(1, "feat: first", &["cliff.toml", "CHANGELOG.md"], &[], &[]),
                commit(2, "chore(deps): bump serde", &[], &["Cargo.toml"], &[]),
                commit(3, "perf: faster", &["src/a.rs"], &[], &[]),
            ],
        )],
    );
    for (path, text) in rules {
        first.contents.insert(
            (*path).into(),
            analyse(&AgentPack::builtin(), path, text).unwrap(),
        );
    }
    apply_all(set, &first, &mut state);
    let rest = plan(
        set,
        vec![
            tag("t1", "v2.0.0"),
            push(
                "p2",
                vec![commit(4, "fix: second", &["src/b.rs"], &[], &[])],
            ),
            tag("t2", "v2.1.0"),
            push(
                "p3",
                vec![
                    commit(
                        5,
                        "chore(release): prepare for v2.2.0",
                        &[],
                        &["CHANGELOG.md"],
                        &[],
                    ),
                    commit(
                        6,
                        "chore(deps)!: drop the old parser",
                        &[],
                        &["Cargo.toml"],
                        &[],
                    ),
                ],
            ),
            tag("t3", "v2.2.0"),
        ],
    );
    apply_all(set, &rest, &mut state);
    state
}

#[test]
fn git_cliffs_own_rules_decide_cuts_skips_and_headings() {
    let set = AgentSet::builtin();
    let state = history(&set, &[("cliff.toml", CLIFF)]);
    let text = render(&set, &state, LOG);
    assert_inert(&text);
    // v2.1.0 is ignored by the project: its fix joins v2.2.0.
    assert!(!text.contains("## [v2.1.0]"), "{text}");
    let v22 = text.find("## [v2.2.0]").expect("v2.2.0 cut");
    let v20 = text.find("## [v2.0.0]").expect("v2.0.0 cut");
    let fix = text.find(&sha(4)).unwrap();
    assert!(v22 < fix && fix < v20, "{text}");
    // Skipped: dependency bumps and release commits; a breaking one is protected.
    assert!(!text.contains(&sha(2)) && !text.contains(&sha(5)), "{text}");
    assert!(text.contains(&sha(6)), "{text}");
    // The project's headings, without the ordering comment and the emoji.
    assert!(text.contains("\n### Features\n"), "{text}");
    assert!(text.contains("\n### Performance tweaks\n"), "{text}");
    assert!(
        text.contains("own release rules in `cliff.toml`; 2 commit(s) those rules leave out"),
        "{text}"
    );
    assert!(text.contains("own changelog in `CHANGELOG.md`"), "{text}");
}

#[test]
fn without_rules_the_pack_decides_and_a_broken_file_says_why() {
    let set = AgentSet::builtin();
    let plain = render(&set, &history(&set, &[]), LOG);
    assert!(plain.contains("## [v2.1.0]"), "{plain}");
    assert!(plain.contains(&sha(2)), "{plain}");
    assert!(!plain.contains("own release rules"), "{plain}");

    let broken = render(
        &set,
        &history(
            &set,
            &[(
                "cliff.toml",
                "[git]\ncommit_parsers = [{ message = \"(\" }]\n",
            )],
        ),
        LOG,
    );
    assert_inert(&broken);
    assert!(
        broken.contains("## [v2.1.0]"),
        "the pack's rules stay: {broken}"
    );
    assert!(broken.contains("Not followed: cliff.toml"), "{broken}");
}

#[test]
fn release_yml_leaves_out_the_authors_it_excludes() {
    let set = AgentSet::builtin();
    let yml = "changelog:\n  exclude:\n    authors:\n      - Mona\n";
    let text = render(&set, &history(&set, &[(".github/release.yml", yml)]), LOG);
    assert!(text.contains("`.github/release.yml`"), "{text}");
    assert!(!text.contains(&sha(1)), "{text}");
}

#[test]
fn rules_that_come_to_ignore_a_live_release_recut_it_into_the_next() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    let before = "[git]\nignore_tags = \"rc\"\n";
    let after = "[git]\nignore_tags = \"rc|v2.1.0\"\n";
    let with_rules = |events, text: &str| {
        let mut p = plan(&set, events);
        p.contents.insert(
            "cliff.toml".into(),
            analyse(&AgentPack::builtin(), "cliff.toml", text).unwrap(),
        );
        p
    };
    let first = with_rules(
        vec![
            push(
                "p1",
                vec![commit(1, "feat: one", &["cliff.toml"], &[], &[])],
            ),
            tag("t1", "v2.0.0"),
            push("p2", vec![commit(2, "fix: two", &["a.rs"], &[], &[])]),
            tag("t2", "v2.1.0"),
        ],
        before,
    );
    apply_all(&set, &first, &mut state);
    let cut = render(&set, &state, LOG);
    assert!(cut.contains("## [v2.1.0]"), "{cut}");
    let second = with_rules(
        vec![push(
            "p3",
            vec![commit(
                3,
                "chore(release): v2.2.0",
                &[],
                &["cliff.toml"],
                &[],
            )],
        )],
        after,
    );
    apply_all(&set, &second, &mut state);
    let waiting = render(&set, &state, LOG);
    assert!(!waiting.contains("## [v2.1.0]"), "{waiting}");
    assert!(waiting.contains("## Unreleased"), "{waiting}");
    apply_all(&set, &plan(&set, vec![tag("t3", "v2.2.0")]), &mut state);
    let text = render(&set, &state, LOG);
    assert!(text.contains("\nPre-releases: `v2.1.0`\n"), "{text}");
    let v22 = text.find("## [v2.2.0]").unwrap();
    let v20 = text.find("## [v2.0.0]").unwrap();
    let two = text.find(&sha(2)).unwrap();
    assert!(v22 < two && two < v20, "{text}");
}
