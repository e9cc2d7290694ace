//! Tests of the Markdown helpers: payload text stays inert, links go to the repository only.

use super::*;

#[test]
fn plain_text_is_unchanged() {
    for s in [
        "Add the command line",
        "Mona Lisa",
        "serve needs --port",
        "2026-04-01",
        "fix (cli): exit codes, 3 of them.",
        "R&D — café ünïcode 🦀",
        "a - b + c = d",
    ] {
        assert_eq!(inline(s), s);
        assert_eq!(block(s), s);
    }
}

#[test]
fn inline_escapes_what_could_start_markdown_or_html() {
    assert_eq!(
        inline("<!-- hide the rest"),
        "\\<!-- hide the rest",
        "an HTML comment"
    );
    assert_eq!(
        inline("<script>alert(1)</script>"),
        "\\<script\\>alert(1)\\</script\\>"
    );
    assert_eq!(
        inline("[advisory](https://evil.example)"),
        "\\[advisory\\](https\\://evil.example)"
    );
    assert_eq!(
        inline("![x](https://e.x/p.png)"),
        "\\!\\[x\\](https\\://e.x/p.png)"
    );
    assert_eq!(inline("## pwned"), "\\#\\# pwned");
    assert_eq!(inline("a | b | c"), "a \\| b \\| c");
    assert_eq!(
        inline("*bold* _em_ ~~del~~"),
        "\\*bold\\* \\_em\\_ \\~\\~del\\~\\~"
    );
    assert_eq!(inline("C:\\path\\"), "C:\\\\path\\\\");
    assert_eq!(
        inline("&lt;b&gt; &#60; &#x3C; & x &y z;"),
        "\\&lt;b\\&gt; \\&\\#60; \\&\\#x3C; & x &y z;"
    );
    assert_eq!(inline("$x$"), "\\$x\\$");
    assert_eq!(inline("[ref]: https://e.x"), "\\[ref\\]: https\\://e.x");
}

#[test]
fn bare_urls_and_addresses_do_not_autolink() {
    assert_eq!(
        inline("see HTTPS://evil.example"),
        "see HTTPS\\://evil.example"
    );
    assert_eq!(inline("www.evil.example"), "www\\.evil.example");
    assert_eq!(inline("go to WWW.evil.example"), "go to WWW\\.evil.example");
    assert_eq!(inline("awww.x"), "awww.x");
    assert_eq!(inline("mona@evil.example"), "mona@\u{2060}evil.example");
    assert_eq!(inline("thanks @mona"), "thanks @\u{2060}mona");
    assert_eq!(inline("a @ b"), "a @ b");
    assert_eq!(inline("a--@.x"), "a--@\u{2060}.x");
}

#[test]
fn inline_cannot_start_a_block_where_it_starts_a_line() {
    assert_eq!(inline("- item"), "\\- item");
    assert_eq!(inline("+ item"), "\\+ item");
    assert_eq!(inline("==="), "\\===");
    assert_eq!(inline("---"), "\\---");
    assert_eq!(inline("1. first"), "1\\. first");
    assert_eq!(inline("2024) x"), "2024\\) x");
    assert_eq!(inline("> quote"), "\\> quote");
    assert_eq!(inline("    indented"), "indented");
    assert_eq!(inline("v1.2"), "v1.2");
    assert_eq!(inline(":-"), "\\:-");
    assert_eq!(block("Line one\n:-:"), "Line one\n\\:-:");
    assert_eq!(inline("a: b"), "a: b");
}

#[test]
fn inline_collapses_lines_and_drops_control_characters() {
    assert_eq!(inline("one\ntwo\r\n\r\n## three"), "one two \\#\\# three");
    assert_eq!(inline("tab\there"), "tab here");
    assert_eq!(
        inline("nul\0 bell\u{7} esc\u{1b}[31m"),
        "nul bell esc\\[31m"
    );
    assert_eq!(inline("a\u{2028}b\u{85}c"), "a b c");
    assert_eq!(inline("evil\u{202E}txt.exe"), "eviltxt.exe");
    assert_eq!(inline("two  spaces"), "two  spaces");
    assert_eq!(inline("trailing  \n"), "trailing");
}

#[test]
fn long_lines_are_capped_with_an_ellipsis() {
    let long = "x".repeat(INLINE_MAX_CHARS * 3);
    let out = inline(&long);
    assert_eq!(out.chars().count(), INLINE_MAX_CHARS);
    assert!(out.ends_with('…'));
    assert_eq!(inline_capped("abcdef", 4), "abc…");
    assert_eq!(inline_capped("ab  cdef", 4), "ab…");
    assert_eq!(inline_capped("abcd", 4), "abcd");
    // Cut inside a code span: the opener is left unmatched, so escaped.
    assert_eq!(inline_capped("`abcdef`", 5), "\\`abc…");
}

#[test]
fn code_spans_are_kept_and_cannot_break_out() {
    assert_eq!(
        inline("`gearbox serve` now requires `--port`."),
        "`gearbox serve` now requires `--port`."
    );
    assert_eq!(inline("a `<b>` c"), "a `<b>` c");
    assert_eq!(inline("unmatched ` tick"), "unmatched \\` tick");
    assert_eq!(inline("`a``b`"), "```a``b```");
    assert_eq!(inline("`` a`b ``"), "``a`b``");
    assert_eq!(inline("`x|y` in a cell"), "x\\|y in a cell");
    // Shown as text, a span's content cannot start a list item either.
    assert_eq!(inline("`` - x|y ``"), "\\- x\\|y");
    assert_eq!(inline("`  - x|y`"), "  \\- x\\|y");
    assert_eq!(code_span("a`b"), "``a`b``");
    assert_eq!(code_span("`a"), "`` `a ``");
    assert_eq!(code_span(" a "), "`  a  `");
    assert_eq!(code_span("  "), "`  `");
    assert_eq!(code_span("a\nb\0c"), "`a bc`");
    assert_eq!(code_span(""), "");
    // What `code_span` makes, `inline` keeps.
    for s in ["a`b", "`a", "a``", " a ", "x", "``` fence", "a\u{1}b"] {
        assert_eq!(inline(&code_span(s)), code_span(s), "{s:?}");
    }
}

#[test]
fn code_shows_paths_verbatim() {
    assert_eq!(code("src/my_file.rs"), "`src/my_file.rs`");
    assert_eq!(code("a`b/c.rs"), "``a`b/c.rs``");
    assert_eq!(code("x\n## y"), "`x ## y`");
    assert_eq!(code("a|b"), "a\\|b");
    assert_eq!(code(""), "");
}

#[test]
fn block_keeps_paragraphs_lists_and_code() {
    let text = "First line\nsecond line.\n\n\n\n- one\n* two\n1. three\n\n```sh\n# a comment\ncargo install x\n```\nAfter.";
    assert_eq!(
        block(text),
        "First line\nsecond line.\n\n- one\n- two\n1. three\n\n```sh\n# a comment\ncargo install x\n```\nAfter."
    );
}

#[test]
fn block_lines_cannot_start_blocks() {
    let text = "## heading\n<!-- hide\n<div>\n[ref]: https://evil.example\n| a | b |\n|---|---|\n> quote\n    indented\nTitle\n===\n---\n-\n~~~~\n";
    let out = block(text);
    for line in out.lines().filter(|l| !l.is_empty()) {
        assert!(
            line.starts_with('\\')
                || line.starts_with("```")
                || line.chars().next().unwrap().is_alphanumeric(),
            "{line:?} in\n{out}"
        );
    }
    assert!(
        out.contains("\\#\\# heading\n\\<!-- hide\n\\<div\\>"),
        "{out}"
    );
    assert!(out.contains("\\| a \\| b \\|\n\\|---\\|---\\|"), "{out}");
    assert!(out.contains("indented\nTitle\n\\===\n\\---\n\\-"), "{out}");
    // The unclosed `~~~~` fence is closed.
    assert!(out.ends_with("```\n```"), "{out}");
}

#[test]
fn fences_cannot_close_early_or_render_as_diagrams() {
    let out = block("````\n```\n<b>\n````\n\n```mermaid\nclick A \"https://e.x\"\n```");
    assert_eq!(
        out,
        "````\n```\n<b>\n````\n\n```\nclick A \"https://e.x\"\n```"
    );
    assert_eq!(block("~~~\n```\n~~~"), "````\n```\n````");
    assert_eq!(block("```rust ignore\nfn\n```"), "```rust\nfn\n```");
    assert_eq!(block("```<b>\nx\n```"), "```\nx\n```");
    assert_eq!(block("``` a`b\n"), "\\`\\`\\` a\\`b");
}

#[test]
fn block_is_capped() {
    let long = "word ".repeat(BLOCK_MAX_CHARS);
    let out = block(&long);
    assert!(out.chars().count() <= BLOCK_MAX_CHARS);
    assert!(out.ends_with('…'));
    assert_eq!(block("\0\u{1b}\r\n a \r\n"), "a");
}

/// Random hostile text through every filter, in every place the templates put it.
#[test]
fn random_hostile_text_stays_inert_everywhere() {
    let parts = [
        "<",
        ">",
        "<!--",
        "<script>",
        "[",
        "]",
        "(",
        ")",
        "![",
        "](",
        "https://",
        "HTTPS://",
        "www.",
        "@",
        "a@b.co",
        "`",
        "``",
        "```",
        "~",
        "~~",
        "*",
        "_",
        "#",
        "## PWNED",
        "\n",
        "\n\n",
        "\r",
        "\t",
        "|",
        "|---|",
        ":-",
        "- ",
        "1. ",
        "> ",
        "    ",
        "&lt;",
        "&#60;",
        "\\",
        "$",
        "=",
        "---",
        ":",
        "\0",
        "\u{1b}",
        "\u{202e}",
        "é",
        "x",
        " ",
        "[x]: ",
        "~~~",
        "```mermaid",
        "\n```\n",
        "\n## PWNED",
        "\n- ",
        "\n> ",
        "\n    ",
        "\n|",
        "\n:-",
    ];
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as usize
    };
    for _ in 0..3_000 {
        let text: String = (0..1 + next() % 16)
            .map(|_| parts[next() % parts.len()])
            .collect();
        let (line, cell, block) = (inline(&text), code(&text), block(&text));
        let doc = format!(
            "## {line}\n\n| a | b |\n|---|---|\n| {line} | {cell} |\n\n- {line}\n\n{line}\n\
             Then:\n{line}\n\n{block}\n\nAfter {cell}, {}.\n",
            link(&line, "https://github.com/o/r/x", Some("o/r"))
        );
        crate::agents::testkit::assert_inert(&doc);
        assert!(!line.contains('\n') && !cell.contains('\n'), "{text:?}");
    }
}

#[test]
fn only_the_repositorys_own_pages_are_linked() {
    let repo = Some("acme/gearbox");
    let ok = "https://github.com/acme/gearbox/commit/0b7bb01";
    assert_eq!(allowed_url(ok, repo).as_deref(), Some(ok));
    assert_eq!(
        allowed_url("https://github.com/Acme/GearBox/pull/4", repo).as_deref(),
        Some("https://github.com/Acme/GearBox/pull/4")
    );
    assert_eq!(
        allowed_url(
            "https://github.com/acme/gearbox/releases/tag/v1 (b)|c",
            repo
        )
        .as_deref(),
        Some("https://github.com/acme/gearbox/releases/tag/v1%20%28b%29%7Cc")
    );
    for bad in [
        "https://evil.example/acme/gearbox/commit/1",
        "http://github.com/acme/gearbox/commit/1",
        "https://github.com.evil.example/acme/gearbox/",
        "https://github.com/acme/gearbox-evil/commit/1",
        "https://github.com/acme/gearbox",
        "https://github.com/evil/repo/commit/1",
        "https://github.com/acme/gearbox/../../evil/x",
        "https://github.com/acme/gearbox/%2E%2e/x",
        "https://github.com/acme/gearbox/a/..\\x",
        "javascript:alert(1)//https://github.com/acme/gearbox/",
        "",
    ] {
        assert_eq!(allowed_url(bad, repo), None, "{bad}");
    }
    let long = format!("{ok}/{}", "x".repeat(MAX_URL_CHARS));
    assert_eq!(allowed_url(&long, repo), None);
    // A repository name that could not be one allows nothing.
    assert_eq!(
        allowed_url("https://github.com/a/b/c/x", Some("a/b/c")),
        None
    );
    assert_eq!(allowed_url("https://github.com/../b/x", Some("../b")), None);
    // Unknown repository: any repository's pages on the host.
    assert!(allowed_url("https://github.com/other/repo/commit/1", None).is_some());
    assert_eq!(allowed_url("https://github.com/other/commit", None), None);
    assert_eq!(allowed_url("https://github.com/../x/y", None), None);
}

#[test]
fn a_link_that_fails_the_check_is_text() {
    let repo = Some("o/r");
    assert_eq!(
        link("`abc1234`", "https://github.com/o/r/commit/abc", repo),
        "[`abc1234`](https://github.com/o/r/commit/abc)"
    );
    assert_eq!(link("v1", "https://evil.example/", repo), "v1");
    assert_eq!(link("v1", "", repo), "v1");
    assert_eq!(link("", "https://github.com/o/r/x", repo), "");
}
