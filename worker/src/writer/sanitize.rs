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
    text: String,
}

/// `raw` as safe Markdown for `repo`'s docs: paragraphs (or, `inline`, one line), at most
/// `max_chars`; `None` when nothing of it is left.
pub fn prose(raw: &str, repo: &str, inline: bool, max_chars: usize) -> Option<String> {
    let raw = super::clip(raw, RAW_MAX_CHARS);
    let mut blocks: Vec<Block> = Vec::new();
    let mut cur = Block::default();
    let mut links: Vec<(String, String)> = Vec::new();
    let mut code_blocks = String::new();
    let mut in_code_block = false;
    let mut item_depth = 0usize;
    let push = |cur: &mut Block, links: &mut Vec<(String, String)>, s: &str| match links.last_mut()
    {
        Some((_, text)) => text.push_str(s),
        None => cur.text.push_str(s),
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
                    push(&mut cur, &mut links, " ");
                }
            }
            Event::Start(Tag::CodeBlock(_)) => in_code_block = true,
            Event::End(TagEnd::CodeBlock) => in_code_block = false,
            Event::Text(t) if in_code_block => code_blocks.push_str(&t),
            Event::Text(t) => push(&mut cur, &mut links, &text(&t)),
            Event::Code(c) => push(&mut cur, &mut links, &markdown::code_span(&c)),
            Event::Start(Tag::Emphasis) | Event::End(TagEnd::Emphasis) => {
                push(&mut cur, &mut links, "*")
            }
            Event::Start(Tag::Strong) | Event::End(TagEnd::Strong) => {
                push(&mut cur, &mut links, "**")
            }
            Event::Start(Tag::Link { dest_url, .. }) => {
                links.push((dest_url.to_string(), String::new()))
            }
            Event::Start(Tag::Image { .. }) => links.push((String::new(), String::new())),
            Event::End(TagEnd::Link | TagEnd::Image) => {
                if let Some((url, label)) = links.pop() {
                    let linked = markdown::link(label.trim(), &url, Some(repo));
                    push(&mut cur, &mut links, &linked);
                }
            }
            Event::SoftBreak | Event::HardBreak => push(&mut cur, &mut links, " "),
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
            });
        }
        blocks.retain(|b| !b.text.trim().is_empty());
    }
    let joined = join(&blocks, inline);
    let capped = cap(&joined, max_chars);
    (!capped.trim().is_empty()).then_some(capped)
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
        });
    }
    cur.text.clear();
}

fn join(blocks: &[Block], inline: bool) -> String {
    if inline {
        return blocks
            .iter()
            .map(|b| b.text.as_str())
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
        out.push_str(&b.text);
        prev_item = b.item;
    }
    out
}

/// At most `max` characters, cut at a word and ended with `…`.
fn cap(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut = super::clip(text, max.saturating_sub(1));
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
    fn a_fenced_answer_is_read_as_text_and_an_empty_one_is_none() {
        let out = prose("```\nPlain words.\n```", REPO, false, 100).unwrap();
        assert_eq!(out, "Plain words.");
        assert_eq!(prose("  \n<div></div>\n", REPO, false, 100), None);
    }
}
