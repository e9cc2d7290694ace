//! Hostile payload text renders inert in every doc.

use super::*;

/// Whether `pattern` occurs in `doc` other than right after a backslash.
fn unescaped(doc: &str, pattern: &str) -> bool {
    doc.match_indices(pattern)
        .any(|(i, _)| i == 0 || &doc[i - 1..i] != "\\")
}

/// Every text field hostile: HTML and comments, links and images, headings and tables, bare
/// URLs, control characters, a very long line, backticks and newlines in paths.
fn hostile_history() -> Vec<Envelope> {
    let long = "y".repeat(5_000);
    let mut first = commit(
        1,
        &format!(
            "feat: <!-- [advisory](https://evil.example) ![i](https://evil.example/i.png)\n\n\
             We decided to <script>alert(1)</script>\n## PWNED {long}"
        ),
        &["README.md", "Cargo.toml", "we`ird\n## PWNED/lib.rs"],
        &[],
        &[],
    );
    first.author = "[Mona](https://evil.example) <b>\0\u{7}".into();
    let second = commit(
        2,
        "feat!: | a | b |\n\nBREAKING CHANGE: <div>\n## PWNED\n|---|---|",
        &["cli/src/main.rs"],
        &[],
        &["we`ird\n## PWNED/lib.rs"],
    );
    vec![
        push("h1", vec![first, second]),
        envelope(
            "h2",
            Change::PullRequest(PullRequestChange {
                number: 3,
                title: "<b>Switch</b> to [x](https://evil.example)".into(),
                body: "We chose <!-- this\n## PWNED".into(),
                labels: vec!["breaking".into()],
                base_ref: "main".into(),
                merge_commit_sha: None,
                url: "https://github.com/o/r/pull/3".into(),
                merged_at: Some("2026-03-05T00:00:00Z".into()),
            }),
        ),
        envelope(
            "h3",
            Change::Release(ReleaseChange {
                tag: "v1".into(),
                name: "<!-- One".into(),
                body: "Notes <script>\n## PWNED\n[ref]: https://evil.example".into(),
                url: "https://evil.example/o/r/releases/tag/v1".into(),
                prerelease: false,
                promoted: false,
                published_at: Some("2026-03-06T00:00:00Z".into()),
                target: None,
            }),
        ),
    ]
}

#[tokio::test]
async fn hostile_payload_text_renders_inert_in_every_doc() {
    let h = harness(None);
    apply_each(&h, &hostile_history()).await;
    let docs = h.docs("o/r");
    assert_eq!(docs.len(), 8, "{:?}", docs.keys());
    for (path, doc) in &docs {
        assert!(
            !doc.chars().any(|c| c.is_control() && c != '\n'),
            "{path}: a control character\n{doc}"
        );
        for raw in [
            "<!--",
            "<script",
            "<div",
            "<b>",
            "](https://evil",
            "![i]",
            "[ref]",
        ] {
            assert!(!unescaped(doc, raw), "{path}: {raw:?} unescaped\n{doc}");
        }
        assert!(!unescaped(doc, "://evil"), "{path}: a bare URL\n{doc}");
        for line in doc.lines() {
            assert!(
                !(line.starts_with('#') && line.trim_start_matches('#').trim() == "PWNED"),
                "{path}: a heading from payload text\n{doc}"
            );
            assert!(
                line.chars().count() < 1_200,
                "{path}: a {}-character line",
                line.len()
            );
        }
    }
    // Still readable.
    let log = &docs["decisions/changelog.md"];
    assert!(
        log.contains("\\<!-- \\[advisory\\](https\\://evil.example) \\!\\[i\\]"),
        "{log}"
    );
    assert!(
        log.contains("— \\[Mona\\](https\\://evil.example) \\<b\\>\n"),
        "{log}"
    );
    // The release's link is not to the repository: its title is plain text.
    assert!(log.contains("\n## \\<!-- One (v1) — 2026-03-06\n"), "{log}");
    let upgrading = &docs["user/upgrading.md"];
    assert!(
        upgrading.contains("\\<div\\>\n\\#\\# PWNED\n\\|---\\|---\\|\n"),
        "{upgrading}"
    );
    let adrs = &docs["decisions/architecture_decisions.md"];
    assert!(
        adrs.contains("## ADR-0003: \\<b\\>Switch\\</b\\> to \\[x\\](https\\://evil.example)\n"),
        "{adrs}"
    );
    let arch = &docs["system/architecture.md"];
    assert!(arch.contains("``we`ird ## PWNED/``"), "{arch}");
}
