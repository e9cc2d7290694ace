//! Tests of a project's own changelog rules, on small files in each format written for them.

use super::*;
use crate::pack::TagRole;

mod hostile;

const CLIFF: &str = r##"
[changelog]
header = "# Changelog"

[git]
conventional_commits = true
filter_unconventional = false
protect_breaking_commits = true
tag_pattern = "^v[0-9]"
ignore_tags = "rc|v2.1.0|v2.1.1"
skip_tags = "^v0\\.0\\."
commit_preprocessors = [{ pattern = "\\s+", replace = " " }]
commit_parsers = [
  { message = "^chore\\(release\\)", skip = true },
  { message = "^chore\\(deps.*\\)", skip = true },
  { message = "^feat", group = "<!-- 0 -->⛰️  Features" },
  { message = "^fix", group = "<!-- 1 -->🐛 Bug Fixes", default_scope = "core" },
  { body = "(?i)security", group = "<!-- 2 -->🛡️ Security" },
  { message = "^(?P<kind>\\w+)\\(api\\)", group = "API: ${kind}", scope = "http" },
  { field = "author.name", pattern = "^renovate", skip = true },
  { footer = "^Changelog: ?skip", skip = true },
  { field = "github.pr_labels", pattern = "^internal$", skip = true },
  { field = "commit.weather", pattern = "sunny", group = "Never" },
  { message = "^doc", group = "<!-- 3 -->📚 Documentation" },
]
"##;

fn compiled(path: &str, text: &str) -> CompiledRules {
    parse(path, text).unwrap().unwrap().compile().unwrap()
}

fn commit<'a>(subject: &'a str, body: &'a str) -> CommitInput<'a> {
    let (head, _) = subject.split_once(':').unwrap_or(("other", ""));
    let kind = head.split(['(', '!']).next().unwrap_or_default();
    CommitInput {
        subject,
        body,
        kind,
        breaking: head.ends_with('!'),
        conventional: subject.contains(':'),
        author: "Ada",
        ..CommitInput::default()
    }
}

fn kept(d: Option<CommitDecision>) -> Option<String> {
    match d.expect("a decision") {
        CommitDecision::Keep { group, .. } => group.map(|g| g.title),
        CommitDecision::Skip { rule } => panic!("left out by {rule}"),
    }
}

fn skipped(d: Option<CommitDecision>) -> String {
    match d.expect("a decision") {
        CommitDecision::Skip { rule } => rule,
        keep => panic!("kept: {keep:?}"),
    }
}

#[test]
fn git_cliff_tags_fold_skip_and_cut_as_git_cliff_says() {
    let r = compiled("cliff.toml", CLIFF);
    assert_eq!(r.role("v2.1.0"), Some(TagRole::Folded), "ignore_tags");
    assert_eq!(r.role("v2.1.1"), Some(TagRole::Folded));
    assert_eq!(r.role("v2.2.0-rc.1"), Some(TagRole::Folded));
    assert_eq!(r.role("v2.2.0"), Some(TagRole::Cut));
    assert_eq!(r.role("v0.0.3"), Some(TagRole::Skipped), "skip_tags");
    assert_eq!(
        r.role("nightly"),
        Some(TagRole::Folded),
        "outside tag_pattern"
    );

    let counted = compiled("cliff.toml", "[git]\ncount_tags = '^v\\d+\\.\\d+\\.0$'");
    // Without ignore_tags the pack decides what the project's rules would cut (its default
    // folds SemVer pre-releases, which git-cliff's own default would cut).
    assert_eq!(counted.role("v1.2.0"), None);
    assert_eq!(counted.role("v1.2.1"), Some(TagRole::Folded));
    // Empty patterns are no patterns, as in git-cliff; no tag setting is no answer.
    let none = compiled("cliff.toml", "[git]\nskip_tags = ''\nignore_tags = ' '");
    assert_eq!(none.role("v1.0.0"), None);
    assert_eq!(
        compiled(".github/release.yml", "changelog: {}").role("v1"),
        None
    );
}

#[test]
fn git_cliff_parsers_skip_group_and_protect_breaking_commits() {
    let r = compiled("cliff.toml", CLIFF);
    let rule = skipped(r.commit(&commit("chore(release): prepare for v1.0.0", "")));
    assert!(rule.contains("commit_parsers[0]"), "{rule}");
    assert!(skipped(r.commit(&commit("chore(deps): bump x to 2", ""))).contains("[1]"));
    assert_eq!(
        kept(r.commit(&commit("feat: x", ""))).as_deref(),
        Some("Features")
    );
    let Some(CommitDecision::Keep { group, .. }) = r.commit(&commit("feat: x", "")) else {
        panic!("kept")
    };
    assert_eq!(group.unwrap().sort_key, "<!-- 0 -->⛰️  Features");
    // protect_breaking_commits: a breaking commit is never skipped (no group: the parser's).
    assert_eq!(
        kept(r.commit(&commit("chore(deps)!: drop Node 18", ""))),
        None
    );
    // The body parser; the first parser that matches wins.
    assert_eq!(
        kept(r.commit(&commit("refactor: tidy", "Closes a SECURITY hole"))).as_deref(),
        Some("Security")
    );
    assert_eq!(
        kept(r.commit(&commit("fix: y", "security"))).as_deref(),
        Some("Bug Fixes")
    );
    // Unmatched and not filtered: git-cliff keeps it without a group.
    assert_eq!(kept(r.commit(&commit("Tidy up", ""))), None);
}

#[test]
fn git_cliff_groups_and_scopes_take_the_match_and_fields_footers_labels_count() {
    let r = compiled("cliff.toml", CLIFF);
    let d = r.commit(&commit("perf(api): faster", "")).unwrap();
    let CommitDecision::Keep { group, scope } = d else {
        panic!("{d:?}")
    };
    assert_eq!(group.unwrap().title, "API: perf");
    assert_eq!(scope.as_deref(), Some("http"));
    // default_scope only for a commit without a scope.
    let fix = r.commit(&commit("fix: z", "")).unwrap();
    assert!(matches!(fix, CommitDecision::Keep { scope: Some(ref s), .. } if s == "core"));
    let scoped = CommitInput {
        scope: Some("cli"),
        ..commit("fix(cli): z", "")
    };
    assert!(matches!(
        r.commit(&scoped),
        Some(CommitDecision::Keep { scope: None, .. })
    ));

    let bot = CommitInput {
        author: "renovate[bot]",
        ..commit("build: bump", "")
    };
    assert!(skipped(r.commit(&bot)).contains("author.name"));
    let footer = commit("refactor: rename", "Some words.\n\nChangelog: skip");
    assert!(skipped(r.commit(&footer)).contains("footer"));
    let labels = ["internal".to_owned()];
    let labelled = CommitInput {
        labels: &labels,
        ..commit("refactor: b", "")
    };
    assert!(skipped(r.commit(&labelled)).contains("pattern"));
    let notes = parse("cliff.toml", CLIFF)
        .unwrap()
        .unwrap()
        .not_followed()
        .join("\n");
    assert!(notes.contains("commit.weather"), "{notes}");
    assert!(notes.contains("commit_preprocessors"), "{notes}");
}

#[test]
fn git_cliff_filters_unmatched_and_unconventional_commits_when_asked() {
    let text = "[git]\nfilter_commits = true\nfilter_unconventional = true\n\
                commit_parsers = [{ sha = 'ABC123', skip = true }, \
                { message = '^feat', group = 'Features' }]";
    let r = compiled(".config/cliff.toml", text);
    assert!(skipped(r.commit(&commit("Update README", ""))).contains("filter_unconventional"));
    assert!(skipped(r.commit(&commit("docs: typo", ""))).contains("filter_commits"));
    let by_sha = CommitInput {
        sha: "abc123",
        ..commit("feat: gone", "")
    };
    assert!(skipped(r.commit(&by_sha)).contains("sha"));
    // Without conventional_commits there is nothing to filter by.
    let off = compiled(
        "cliff.toml",
        "[git]\nconventional_commits = false\nfilter_unconventional = true",
    );
    assert_eq!(off.commit(&commit("Update README", "")), None);
}

#[test]
fn manifests_count_only_with_git_cliffs_table() {
    assert_eq!(
        parse("Cargo.toml", "[package]\nname = 'x'\n").unwrap(),
        None
    );
    assert_eq!(
        parse("pyproject.toml", "[project\n").unwrap(),
        None,
        "not ours"
    );
    let cargo = "[package]\nname = 'x'\n[package.metadata.git-cliff.git]\nskip_tags = 'beta'\n";
    let rules = parse("Cargo.toml", cargo).unwrap().unwrap();
    assert_eq!(rules.source, ["Cargo.toml"]);
    assert_eq!(
        rules.compile().unwrap().role("v1-beta"),
        Some(TagRole::Skipped)
    );
    let py = "[tool.git-cliff.git]\ncommit_parsers = [{ message = '^wip', skip = true }]\n";
    let r = compiled("pyproject.toml", py);
    assert!(skipped(r.commit(&commit("wip: half", ""))).contains("pyproject.toml"));
    assert_eq!(
        parse("src/cliff.toml", CLIFF).unwrap(),
        None,
        "not at the root"
    );
    assert_eq!(parse("README.md", "# x").unwrap(), None);
}

const RELEASE_PLEASE: &str = r#"{
  "release-type": "rust",
  "include-component-in-tag": false,
  "changelog-sections": [
    { "type": "feat", "section": "New stuff" },
    { "type": "feature", "section": "New stuff" },
    { "type": "fix", "section": "Fixes" },
    { "type": "chore", "section": "Chores", "hidden": true }
  ],
  "packages": { "crates/lib": { "component": "lib" }, ".": { "component": "app" } }
}"#;

#[test]
fn release_please_hides_types_renames_sections_and_keeps_breaking_commits() {
    let r = compiled("release-please-config.json", RELEASE_PLEASE);
    assert!(skipped(r.commit(&commit("chore: tidy", ""))).contains("hides chore"));
    assert_eq!(
        kept(r.commit(&commit("feat: x", ""))).as_deref(),
        Some("New stuff")
    );
    let feature = r.commit(&commit("feature: y", "")).unwrap();
    let feat = r.commit(&commit("feat: y", "")).unwrap();
    assert_eq!(feature, feat, "one heading, one place");
    assert_eq!(
        kept(r.commit(&commit("chore!: drop Node 18", ""))).as_deref(),
        Some("Chores")
    );
    assert!(skipped(r.commit(&commit("docs: typo", ""))).contains("no section for docs"));
    assert_eq!(kept(r.commit(&commit("docs!: moved", ""))), None);
    assert!(skipped(r.commit(&commit("Update things", ""))).contains("Conventional"));

    let rules = parse("release-please-config.json", RELEASE_PLEASE)
        .unwrap()
        .unwrap();
    let rp = rules.release_please.unwrap();
    assert_eq!(rp.include_component_in_tag, Some(false));
    assert_eq!(rp.components.len(), 2);

    // The root package's own sections win; without any, release-please's defaults.
    let root = r#"{"changelog-sections": [{"type": "fix", "section": "Top"}],
        "packages": {".": {"changelog-sections": [{"type": "fix", "section": "Root"}]}}}"#;
    let r = compiled("release-please-config.json", root);
    assert_eq!(
        kept(r.commit(&commit("fix: a", ""))).as_deref(),
        Some("Root")
    );
    let r = compiled("release-please-config.json", r#"{"packages": {".": {}}}"#);
    assert!(skipped(r.commit(&commit("chore: a", ""))).contains("hides"));
    assert_eq!(
        kept(r.commit(&commit("perf: a", ""))).as_deref(),
        Some("Performance Improvements")
    );
}

const RELEASE_YML: &str = r#"
# Release notes settings.
changelog:
  exclude:
    labels:
      - ignore-for-release
    authors:
      - "dependabot[bot]"
      - octo-bot
  categories:
    - title: Breaking changes 💥
      labels: [breaking]
    - title: "🚀 Features"
      labels: [enhancement, feature]
      exclude:
        labels: [internal]
    - title: Other Changes
      labels: ["*"]
      exclude:
        authors: [renovate]
"#;

fn labels(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[test]
fn release_yml_excludes_authors_and_labels_and_sorts_into_categories() {
    let r = compiled(".github/release.yml", RELEASE_YML);
    let pr = |l: &[&str], author: &str| r.pull_request(&labels(l), author).unwrap();
    let title = |d: PullRequestDecision| match d {
        PullRequestDecision::Keep { category } => category.map(|c| c.title),
        PullRequestDecision::Skip { rule } => panic!("left out by {rule}"),
    };
    assert!(
        matches!(pr(&[], "dependabot[bot]"), PullRequestDecision::Skip { ref rule }
        if rule.contains("exclude.authors"))
    );
    assert!(matches!(
        pr(&[], "Octo-Bot[bot]"),
        PullRequestDecision::Skip { .. }
    ));
    assert!(
        matches!(pr(&["Ignore-For-Release"], "ada"), PullRequestDecision::Skip { ref rule }
        if rule.contains("exclude.labels"))
    );
    assert_eq!(title(pr(&["feature"], "ada")).as_deref(), Some("Features"));
    assert_eq!(
        title(pr(&["breaking", "feature"], "ada")).as_deref(),
        Some("Breaking changes 💥")
    );
    assert_eq!(
        title(pr(&["feature", "internal"], "ada")).as_deref(),
        Some("Other Changes"),
        "excluded from Features, caught by *"
    );
    assert_eq!(title(pr(&[], "renovate")), None, "no category takes it");
    let PullRequestDecision::Keep { category: Some(c) } = pr(&["bug"], "ada") else {
        panic!()
    };
    assert_eq!(c.sort_key, "0002");

    // Commits: by an excluded author, or brought by a pull request with an excluded label.
    let bot = CommitInput {
        author: "dependabot[bot]",
        ..commit("chore(deps): bump x", "")
    };
    assert!(skipped(r.commit(&bot)).contains("dependabot[bot]"));
    let l = labels(&["ignore-for-release"]);
    let labelled = CommitInput {
        labels: &l,
        ..commit("feat: x", "")
    };
    assert!(skipped(r.commit(&labelled)).contains("ignore-for-release"));
    assert_eq!(kept(r.commit(&commit("feat: x", ""))), None);

    // An empty file is no settings; `.yaml` comes after `.yml`.
    let empty = parse(".github/release.yaml", "# nothing yet\n")
        .unwrap()
        .unwrap();
    assert_eq!(empty.github.as_ref().unwrap().categories.len(), 0);
    assert_eq!(
        empty.compile().unwrap().commit(&commit("feat: x", "")),
        None
    );
}

#[test]
fn merging_follows_each_tools_own_order_and_survives_json() {
    let dot = parse(".cliff.toml", "[git]\nskip_tags = 'dot'")
        .unwrap()
        .unwrap();
    let root = parse("cliff.toml", CLIFF).unwrap().unwrap();
    let yaml = parse(".github/release.yaml", "changelog: {}")
        .unwrap()
        .unwrap();
    let yml = parse(".github/release.yml", RELEASE_YML).unwrap().unwrap();
    let rp = parse("./release-please-config.json", RELEASE_PLEASE)
        .unwrap()
        .unwrap();
    let merged = ProjectRules::merge([dot, yaml, rp, root, yml]);
    assert_eq!(
        merged.source,
        [
            "cliff.toml",
            "release-please-config.json",
            ".github/release.yml"
        ]
    );
    let r = merged.compile().unwrap();
    assert_eq!(r.role("dot"), Some(TagRole::Folded), "cliff.toml's rules");
    // release.yml's exclusions first, git-cliff's parsers next, release-please's last.
    let bot = CommitInput {
        author: "dependabot[bot]",
        ..commit("feat: x", "")
    };
    assert!(skipped(r.commit(&bot)).contains("release.yml"));
    assert_eq!(
        kept(r.commit(&commit("feat: x", ""))).as_deref(),
        Some("Features")
    );
    assert!(skipped(r.commit(&commit("chore: tidy", ""))).contains("hides chore"));

    let json = serde_json::to_string(&merged).unwrap();
    assert_eq!(serde_json::from_str::<ProjectRules>(&json).unwrap(), merged);
    assert!(ProjectRules::default().is_empty());
    assert_eq!(
        ProjectRules::default()
            .compile()
            .unwrap()
            .commit(&commit("a: b", "")),
        None
    );
}

#[test]
fn titles_lose_their_ordering_comments_and_leading_symbols() {
    assert_eq!(display_title("<!-- 0 -->⛰️  Features"), "Features");
    assert_eq!(display_title("<!-- 10 -->💼 Other"), "Other");
    assert_eq!(display_title("🐛 Bug Fixes 🐛"), "Bug Fixes 🐛");
    assert_eq!(display_title("Features"), "Features");
    assert_eq!(display_title(".NET"), ".NET");
    assert_eq!(display_title("<!-- unclosed Features"), "");
    assert_eq!(display_title("🛡️"), "🛡️");
}

#[test]
fn broken_files_are_refused_with_the_file_and_the_setting() {
    let err = parse("cliff.toml", "[git\ntag_pattern = 'v'").unwrap_err();
    assert!(err.starts_with("cliff.toml: not valid TOML"), "{err}");
    let err = parse("cliff.toml", "[git]\ncommit_parsers = [{ message = '(' }]").unwrap_err();
    assert!(err.contains("commit_parsers[0].message"), "{err}");
    assert!(err.contains("bad regex"), "{err}");
    let err = parse("cliff.toml", "[git]\nskip_tags = '['").unwrap_err();
    assert!(err.contains("skip_tags"), "{err}");
    let err = parse("cliff.toml", "[git]\ncommit_parsers = [{ skip = 'yes' }]").unwrap_err();
    assert!(err.starts_with("cliff.toml:"), "{err}");
    let err = parse("release-please-config.json", "{\"changelog-sections\": [").unwrap_err();
    assert!(err.starts_with("release-please-config.json:"), "{err}");
    let err = parse(
        ".github/release.yml",
        "changelog:\n  categories: [{labels: [x]}]",
    )
    .unwrap_err();
    assert!(err.contains("title"), "{err}");
    let err = parse(".github/release.yml", "changelog: [\n").unwrap_err();
    assert!(err.starts_with(".github/release.yml:"), "{err}");
}
