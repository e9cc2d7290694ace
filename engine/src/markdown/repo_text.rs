//! Text the repository itself holds (a README's description, install and usage sections),
//! shown as Markdown rather than escaped: a person reading the page on GitHub sees what the
//! README says. It is still not trusted. The text is parsed as CommonMark and written out
//! again from a safe subset only:
//!
//! - paragraphs, headings (demoted under the page's own), lists, emphasis, strong,
//!   strikethrough, code spans, fenced code (re-fenced, no rendered info strings such as
//!   `mermaid`), thematic breaks;
//! - links only to `https` pages (their text kept, the link dropped otherwise: `javascript:`,
//!   `data:`, `http:`, `mailto:`, relative paths that would point nowhere from the docs);
//! - no raw HTML, no images (a remote image is a request from every reader's browser), no
//!   tables, no link reference definitions; their text, when they have any, is dropped too;
//! - every piece of text escaped as [`inline`](super::inline) escapes it.
//!
//! Payload text (commit messages, names, pull request bodies) never comes here: it stays
//! escaped with [`block`](super::block).

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use super::{BLOCK_MAX_CHARS, MAX_URL_CHARS, RENDERED_FENCES, cap, inline_capped};

/// `text` (Markdown from the repository) as safe Markdown, at most about
/// [`BLOCK_MAX_CHARS`] of input.
pub fn repository_text(text: &str) -> String {
    let text = cap(text, BLOCK_MAX_CHARS);
    let mut out = Writer::default();
    let mut hidden = 0usize;
    let mut code: Option<(String, String)> = None;
    for event in Parser::new_ext(&text, Options::ENABLE_STRIKETHROUGH) {
        if let Some((info, body)) = &mut code {
            match event {
                Event::Text(t) => body.push_str(&t),
                Event::End(TagEnd::CodeBlock) => {
                    out.fenced(info, body);
                    code = None;
                }
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(Tag::Image { .. } | Tag::Table(_) | Tag::HtmlBlock) => hidden += 1,
            Event::End(TagEnd::Image | TagEnd::Table | TagEnd::HtmlBlock) => {
                hidden = hidden.saturating_sub(1)
            }
            _ if hidden > 0 => {}
            Event::Start(Tag::Paragraph) => out.open_block(),
            Event::End(TagEnd::Paragraph) => out.close_block(),
            Event::Start(Tag::Heading { level, .. }) => {
                out.open_block();
                out.push(&"#".repeat(demoted(level)));
                out.push(" ");
            }
            Event::End(TagEnd::Heading(_)) => out.close_block(),
            Event::Start(Tag::BlockQuote(_)) | Event::End(TagEnd::BlockQuote(_)) => {}
            Event::Start(Tag::CodeBlock(kind)) => {
                let info = match kind {
                    CodeBlockKind::Fenced(info) => language(&info),
                    CodeBlockKind::Indented => String::new(),
                };
                code = Some((info, String::new()));
            }
            Event::Start(Tag::List(start)) => out.lists.push(start),
            Event::End(TagEnd::List(_)) => {
                out.lists.pop();
                if out.lists.is_empty() {
                    out.close_block();
                }
            }
            Event::Start(Tag::Item) => out.item(),
            Event::End(TagEnd::Item) => {}
            Event::Start(Tag::Emphasis) | Event::End(TagEnd::Emphasis) => out.push("*"),
            Event::Start(Tag::Strong) | Event::End(TagEnd::Strong) => out.push("**"),
            Event::Start(Tag::Strikethrough) | Event::End(TagEnd::Strikethrough) => out.push("~~"),
            Event::Start(Tag::Link { dest_url, .. }) => {
                let url = https(&dest_url);
                if url.is_some() {
                    out.push("[");
                }
                out.links.push(url);
            }
            Event::End(TagEnd::Link) => {
                if let Some(Some(url)) = out.links.pop() {
                    out.push(&format!("]({url})"));
                }
            }
            Event::Text(t) => out.text_run(&t),
            Event::Code(c) => out.push(&super::code_span(&c)),
            Event::SoftBreak => out.push(" "),
            Event::HardBreak => out.line_break(),
            Event::Rule => {
                out.open_block();
                out.push("---");
                out.close_block();
            }
            // Raw HTML, footnotes, math, task markers and the like: nothing.
            _ => {}
        }
    }
    out.text.trim().to_owned()
}

/// A README heading under the page's `## Install` / `## Usage`: `###` or deeper.
fn demoted(level: HeadingLevel) -> usize {
    (level as usize + 2).min(6)
}

/// A fence's language, when it is a plain name GitHub highlights as code.
fn language(info: &str) -> String {
    let word = info.split_whitespace().next().unwrap_or("");
    let plain = !word.is_empty()
        && word.len() <= 32
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-_#.".contains(&b));
    if plain && !RENDERED_FENCES.contains(&word.to_ascii_lowercase().as_str()) {
        word.to_owned()
    } else {
        String::new()
    }
}

/// `url` as a link destination when it is an `https` page, with every character Markdown
/// or a browser could read otherwise percent-encoded.
fn https(url: &str) -> Option<String> {
    let scheme = url.get(..8)?;
    if !scheme.eq_ignore_ascii_case("https://") || url.chars().count() > MAX_URL_CHARS {
        return None;
    }
    let host = url[8..].split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains('@') {
        return None;
    }
    let mut out = String::with_capacity(url.len());
    for b in url.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/?#=&+,;:!$'*%".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Some(out)
}

/// The Markdown written so far, and where it stands.
#[derive(Default)]
struct Writer {
    text: String,
    /// Open lists: the next number of an ordered one, `None` for bullets.
    lists: Vec<Option<u64>>,
    /// Open links: the destination kept, or `None` when only the text stays.
    links: Vec<Option<String>>,
}

impl Writer {
    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// A run of text, escaped; the spaces around it (which escaping trims) kept.
    fn text_run(&mut self, t: &str) {
        if t.starts_with(char::is_whitespace) && !self.text.ends_with([' ', '\n']) {
            self.text.push(' ');
        }
        self.text.push_str(&inline_capped(t, BLOCK_MAX_CHARS));
        if t.ends_with(char::is_whitespace) && t.trim() != "" {
            self.text.push(' ');
        }
    }

    fn indent(&self) -> String {
        "   ".repeat(self.lists.len().saturating_sub(1))
    }

    fn open_block(&mut self) {
        if !self.lists.is_empty() {
            return;
        }
        if !self.text.is_empty() && !self.text.ends_with("\n\n") {
            self.text.push_str(if self.text.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            });
        }
    }

    fn close_block(&mut self) {
        if self.lists.is_empty() {
            self.text.push_str("\n\n");
        }
    }

    fn line_break(&mut self) {
        let indent = self.indent();
        self.text.push_str("\\\n");
        self.text.push_str(&indent);
        if !self.lists.is_empty() {
            self.text.push_str("   ");
        }
    }

    fn item(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.text.push('\n');
        }
        let indent = self.indent();
        let marker = match self.lists.last_mut() {
            Some(Some(n)) => {
                let m = format!("{n}. ");
                *n += 1;
                m
            }
            _ => "- ".to_owned(),
        };
        self.text.push_str(&indent);
        self.text.push_str(&marker);
    }

    fn fenced(&mut self, info: &str, body: &str) {
        self.open_block();
        let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
        let fence = "`".repeat(longest.max(2) + 1);
        let indent = self.indent();
        let body: String = body
            .chars()
            .filter(|c| *c == '\n' || *c == '\t' || !c.is_control())
            .collect();
        self.text.push_str(&format!("{indent}{fence}{info}\n"));
        for line in body.trim_end_matches('\n').split('\n') {
            self.text.push_str(&indent);
            self.text.push_str(line);
            self.text.push('\n');
        }
        self.text.push_str(&format!("{indent}{fence}\n"));
        if self.lists.is_empty() {
            self.text.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The HTML GitHub's renderer (CommonMark + GFM) would make of `md`.
    fn html(md: &str) -> String {
        let mut out = String::new();
        let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
        pulldown_cmark::html::push_html(&mut out, Parser::new_ext(md, options));
        out
    }

    #[test]
    fn a_readme_intro_reads_as_written() {
        let readme = "**git-cliff** can generate [changelog](https://en.wikipedia.org/wiki/Changelog) \
                      files from the *Git* history by utilizing `conventional commits`.";
        let md = repository_text(readme);
        let page = html(&md);
        assert!(page.contains("<strong>git-cliff</strong>"), "{page}");
        assert!(
            page.contains(r#"<a href="https://en.wikipedia.org/wiki/Changelog">changelog</a>"#),
            "{page}"
        );
        assert!(page.contains("<em>Git</em>"), "{page}");
        assert!(page.contains("<code>conventional commits</code>"), "{page}");
        assert!(!md.contains("\\*\\*"), "{md}");
    }

    #[test]
    fn install_and_usage_keep_their_code_lists_and_headings() {
        let readme = "Install it:\n\n```sh\ncargo install git-cliff\n```\n\n\
                      ### From source\n\n1. clone\n2. build with `cargo build`\n\n- one\n- two\n";
        let page = html(&repository_text(readme));
        assert!(
            page.contains(
                "<pre><code class=\"language-sh\">cargo install git-cliff\n</code></pre>"
            ),
            "{page}"
        );
        assert!(page.contains("<h5>From source</h5>"), "{page}");
        assert!(
            page.contains(
                "<ol>\n<li>clone</li>\n<li>build with <code>cargo build</code></li>\n</ol>"
            ),
            "{page}"
        );
        assert!(
            page.contains("<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
            "{page}"
        );
    }

    #[test]
    fn hostile_readme_text_stays_inert() {
        let readme = "<script>alert(1)</script>\n\n\
                      <p align=\"center\"><img src=\"https://tracker.example/p.png\"></p>\n\n\
                      Click [me](javascript:alert(1)) or [this](data:text/html,x) or \
                      [plain](http://example.com) or [rel](docs/x.md) or [mail](mailto:a@b.c).\n\n\
                      ![badge](https://img.shields.io/badge.svg) text <b>bold</b> @team\n\n\
                      ```mermaid\ngraph TD; A-->B\n```\n\n\
                      ````\n```\nnot closed early\n````\n\n\
                      | a | b |\n|---|---|\n| 1 | 2 |\n\n\
                      [ref]: https://evil.example\n";
        let md = repository_text(readme);
        let page = html(&md);
        for bad in [
            "<script",
            "<img",
            "<p align",
            "javascript:",
            "data:text",
            "http://example.com",
            "href=\"docs",
            "mailto:",
            "<b>",
            "language-mermaid",
            "<table",
            "tracker.example",
            "shields.io",
        ] {
            assert!(!page.contains(bad), "{bad} in {page}");
        }
        for kept in [
            "Click me or this or plain or rel or mail.",
            "not closed early",
        ] {
            assert!(page.contains(kept), "{kept} missing from {page}");
        }
        // The re-fenced block holds the inner fence as text.
        assert!(
            page.contains("<pre><code>```\nnot closed early\n</code></pre>"),
            "{page}"
        );
    }
}
