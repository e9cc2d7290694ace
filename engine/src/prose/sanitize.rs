//! A model's answer made safe for the docs: Markdown prose only.
//!
//! The answer is parsed as CommonMark and written out again from what is allowed:
//! paragraphs, list items (flattened), emphasis, strong text and code spans. Every text run
//! goes through [`markdown::inline`](crate::markdown::inline), so it cannot start HTML, a
//! heading, a table or a link of its own and a bare URL or a mention stays text; links are
//! kept only to the repository's own pages ([`markdown::link`](crate::markdown::link)),
//! images become their text; raw HTML, code blocks (unless they are the whole answer),
//! rules and headings' levels are dropped. The result is at most a given length, cut at a
//! word.

use pulldown_cmark::{Event, Parser, Tag, TagEnd};

use crate::markdown;

/// Longest answer read (characters); the rest is never parsed.
const RAW_MAX_CHARS: usize = 8_000;

#[derive(Debug, Default)]
struct Block {
    item: bool,
    /// The Markdown written out again.
    text: String,
    /// The same, as plain text (for the fallback).
    plain: String,
}

/// A link or image being read: its destination and label, as Markdown and as plain text.
#[derive(Debug, Default)]
struct Label {
    url: String,
    text: String,
    plain: String,
}

/// `raw` as safe Markdown for `repo`'s docs: paragraphs (or, `inline`, one line), at most
/// `max_chars`; `None` when nothing of it is left.
///
/// The result is parsed again and checked: no HTML, image, heading or code block, no link
/// but to the repository, and every code span written still a code span (a cut or two spans
/// side by side could open one that swallows what follows). If the check fails, the answer
/// is given as plain text instead, without backticks.
pub fn prose(raw: &str, repo: &str, inline: bool, max_chars: usize) -> Option<String> {
    let raw = &crate::text::clip(raw, RAW_MAX_CHARS);
    let mut blocks: Vec<Block> = Vec::new();
    let mut cur = Block::default();
    let mut links: Vec<Label> = Vec::new();
    let mut code_blocks = String::new();
    let mut in_code_block = false;
    let mut item_depth = 0usize;
    let mut spans = 0usize;
    let push =
        |cur: &mut Block, links: &mut Vec<Label>, md: &str, plain: &str| match links.last_mut() {
            Some(l) => {
                l.text.push_str(md);
                l.plain.push_str(plain);
            }
            None => {
                cur.text.push_str(md);
                cur.plain.push_str(plain);
            }
        };
    for event in Parser::new(raw) {
        match event {
            Event::Start(Tag::Item) => {
                flush(&mut blocks, &mut cur);
                item_depth += 1;
                cur.item = true;
            }
            Event::End(TagEnd::Item) => {
                flush(&mut blocks, &mut cur);
                item_depth = item_depth.saturating_sub(1);
                cur.item = item_depth > 0;
            }
            Event::End(TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::BlockQuote(_)) => {
                if item_depth == 0 {
                    flush(&mut blocks, &mut cur);
                } else {
                    push(&mut cur, &mut links, " ", " ");
                }
            }
            Event::Start(Tag::CodeBlock(_)) => in_code_block = true,
            Event::End(TagEnd::CodeBlock) => in_code_block = false,
            Event::Text(t) if in_code_block => code_blocks.push_str(&t),
            Event::Text(t) => push(&mut cur, &mut links, &text(&t), &t),
            Event::Code(c) => {
                spans += 1;
                // A space keeps it apart from a span just before it.
                let md = markdown::code_span(&c);
                let sep = if ends_with(&cur, &links, '`') {
                    " "
                } else {
                    ""
                };
                push(&mut cur, &mut links, &format!("{sep}{md}"), &c);
            }
            Event::Start(Tag::Emphasis) | Event::End(TagEnd::Emphasis) => {
                push(&mut cur, &mut links, "*", "")
            }
            Event::Start(Tag::Strong) | Event::End(TagEnd::Strong) => {
                push(&mut cur, &mut links, "**", "")
            }
            Event::Start(Tag::Link { dest_url, .. }) => links.push(Label {
                url: dest_url.to_string(),
                ..Label::default()
            }),
            Event::Start(Tag::Image { .. }) => links.push(Label::default()),
            Event::End(TagEnd::Link | TagEnd::Image) => {
                if let Some(l) = links.pop() {
                    let linked = markdown::link(l.text.trim(), &l.url, Some(repo));
                    // `!` right before a link would make it an image.
                    let sep = if ends_with(&cur, &links, '!') {
                        " "
                    } else {
                        ""
                    };
                    push(&mut cur, &mut links, &format!("{sep}{linked}"), &l.plain);
                }
            }
            Event::SoftBreak | Event::HardBreak => push(&mut cur, &mut links, " ", " "),
            _ => {}
        }
    }
    flush(&mut blocks, &mut cur);
    if blocks.is_empty() && !code_blocks.trim().is_empty() {
        // A model that fenced its whole answer: the text, as text.
        for para in code_blocks.split("\n\n") {
            blocks.push(Block {
                item: false,
                text: text(para.trim()),
                plain: para.trim().to_owned(),
            });
        }
        blocks.retain(|b| !b.text.trim().is_empty());
    }
    let rich = cap(&join(&blocks, inline, |b| &b.text), max_chars);
    if !rich.trim().is_empty() && safe(&rich, repo, Some(spans)) {
        return Some(rich);
    }
    let plain: Vec<Block> = blocks
        .iter()
        .map(|b| Block {
            item: b.item,
            text: markdown::inline(&b.plain.replace('`', "'")),
            plain: String::new(),
        })
        .collect();
    let plain = cap(&join(&plain, inline, |b| &b.text), max_chars);
    (!plain.trim().is_empty() && safe(&plain, repo, None)).then_some(plain)
}

/// Whether the text being written (the open link's label, or the block) ends with `c`.
fn ends_with(cur: &Block, links: &[Label], c: char) -> bool {
    match links.last() {
        Some(l) => l.text.ends_with(c),
        None => cur.text.ends_with(c),
    }
}

/// Whether `md`, parsed, holds only what prose may: no HTML, image, heading, code block or
/// table, links only to `repo`'s pages, and (when given) exactly `spans` code spans.
fn safe(md: &str, repo: &str, spans: Option<usize>) -> bool {
    let mut seen = 0usize;
    let ok = Parser::new(md).all(|event| match event {
        Event::Html(_) | Event::InlineHtml(_) => false,
        Event::Start(
            Tag::Image { .. }
            | Tag::Heading { .. }
            | Tag::CodeBlock(_)
            | Tag::HtmlBlock
            | Tag::Table(_),
        ) => false,
        Event::Start(Tag::Link { dest_url, .. }) => {
            markdown::allowed_url(&dest_url, Some(repo)).is_some()
        }
        Event::Code(_) => {
            seen += 1;
            true
        }
        _ => true,
    });
    ok && spans.is_none_or(|n| n == seen)
}

/// A text run escaped, keeping a space at either end (the runs around emphasis need them).
fn text(t: &str) -> String {
    let core = markdown::inline(t);
    if core.is_empty() {
        return if t.chars().any(char::is_whitespace) {
            " ".into()
        } else {
            String::new()
        };
    }
    let lead = if t.starts_with(char::is_whitespace) {
        " "
    } else {
        ""
    };
    let trail = if t.ends_with(char::is_whitespace) {
        " "
    } else {
        ""
    };
    format!("{lead}{core}{trail}")
}

fn flush(blocks: &mut Vec<Block>, cur: &mut Block) {
    let text = cur.text.split_whitespace().collect::<Vec<_>>().join(" ");
    if !text.is_empty() {
        blocks.push(Block {
            item: cur.item,
            text,
            plain: cur.plain.split_whitespace().collect::<Vec<_>>().join(" "),
        });
    }
    cur.text.clear();
    cur.plain.clear();
}

fn join(blocks: &[Block], inline: bool, text: impl Fn(&Block) -> &String) -> String {
    if inline {
        return blocks
            .iter()
            .map(|b| text(b).as_str())
            .collect::<Vec<_>>()
            .join(" ");
    }
    let mut out = String::new();
    let mut prev_item = false;
    for (i, b) in blocks.iter().enumerate() {
        if i > 0 {
            out.push_str(if b.item && prev_item { "\n" } else { "\n\n" });
        }
        if b.item {
            out.push_str("- ");
        }
        out.push_str(text(b));
        prev_item = b.item;
    }
    out
}

/// At most `max` characters, cut at a word and ended with `…`.
fn cap(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let end = text
        .char_indices()
        .nth(max.saturating_sub(1))
        .map_or(text.len(), |(i, _)| i);
    let cut = &text[..end];
    let cut = match cut.rfind(char::is_whitespace) {
        Some(i) if i > cut.len() / 2 => &cut[..i],
        _ => cut,
    };
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPO: &str = "acme/gearbox";

    #[test]
    fn prose_and_its_emphasis_survive() {
        let out = prose(
            "This release adds **ports** and *faster* gears.\n\n- one\n- two `x`",
            REPO,
            false,
            500,
        )
        .unwrap();
        assert_eq!(
            out,
            "This release adds **ports** and *faster* gears.\n\n- one\n- two `x`"
        );
    }

    #[test]
    fn html_headings_foreign_links_and_images_do_not() {
        let out = prose(
            "# Big\n\n<script>alert(1)</script>\n\nSee [here](https://evil.example/x) and \
             [ours](https://github.com/acme/gearbox/pull/1) ![img](https://evil.example/i.png) \
             https://evil.example <b>bold</b> @someone",
            REPO,
            false,
            1_000,
        )
        .unwrap();
        assert!(!out.contains("<script"), "{out}");
        assert!(!out.contains("<b>"), "{out}");
        assert!(!out.contains("](https://evil"), "{out}");
        assert!(
            out.contains("[ours](https://github.com/acme/gearbox/pull/1)"),
            "{out}"
        );
        assert!(!out.starts_with('#'), "{out}");
        assert!(out.contains("here"), "link text stays: {out}");
        // A bare URL stays text and a mention cannot form.
        assert!(!out.contains("https://evil.example "), "{out}");
        assert!(!out.contains(" @someone"), "{out}");
    }

    #[test]
    fn inline_answers_are_one_line_and_everything_is_capped() {
        let out = prose("First.\n\nSecond.\n\n- third", REPO, true, 500).unwrap();
        assert_eq!(out, "First. Second. third");
        let long = "word ".repeat(400);
        let out = prose(&long, REPO, false, 100).unwrap();
        assert!(out.chars().count() <= 100, "{}", out.chars().count());
        assert!(out.ends_with('…'));
    }

    #[test]
    fn pieces_put_together_never_make_html_an_image_or_an_open_span() {
        // Two code spans with only a dropped tag between them.
        let out = prose(
            "``<img src=https://evil.example/x.png>` ``<b>`z`",
            REPO,
            false,
            500,
        )
        .unwrap();
        assert!(safe(&out, REPO, None), "{out}");
        assert!(
            !Parser::new(&out).any(|e| matches!(e, Event::InlineHtml(_) | Event::Html(_))),
            "{out}"
        );
        // `!` then a link of the repository: not an image.
        let out = prose(
            "Wow![x](https://github.com/acme/gearbox/pull/1)",
            REPO,
            false,
            500,
        )
        .unwrap();
        assert!(
            !Parser::new(&out).any(|e| matches!(e, Event::Start(Tag::Image { .. }))),
            "{out}"
        );
        // A cut inside a code span: the answer becomes plain text.
        let long = format!(
            "{} `<img src=x onerror=alert(1)> and more`",
            "word ".repeat(30)
        );
        let out = prose(&long, REPO, true, 170).unwrap();
        assert!(out.chars().count() <= 170, "{out}");
        assert!(
            !Parser::new(&out).any(|e| matches!(e, Event::InlineHtml(_) | Event::Html(_))),
            "{out}"
        );
    }

    #[test]
    fn a_fenced_answer_is_read_as_text_and_an_empty_one_is_none() {
        let out = prose("```\nPlain words.\n```", REPO, false, 100).unwrap();
        assert_eq!(out, "Plain words.");
        assert_eq!(prose("  \n<div></div>\n", REPO, false, 100), None);
    }
}
