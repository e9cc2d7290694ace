//! The marked prose sections of a rendered doc.
//!
//! A template marks a section with `{{ prose_open("KIND") }}` before the deterministic text
//! and `{{ prose_close() }}` after it: HTML comments holding the pack's random nonce
//! ([`Markers`]), so text from a payload can never forge one. The model is given the part of
//! the doc under the heading the marker sits under; with `prose_open("KIND", from_text=true)`
//! it is given the deterministic text alone (for a section whose surroundings change more
//! often than what it describes, so that its prompt, and so its cache key, stays the same). Markers alone on their lines mark a
//! *block* (paragraphs); markers within a line mark *inline* text (the rest of a line).

use std::ops::Range;

pub use crate::pack::Markers;

const OPEN_END: &str = " -->";
/// The most of a section's surroundings passed to the model (characters).
pub const DATA_MAX_CHARS: usize = 4_000;

/// One marked section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Its kind: the prompt `prompts/KIND.md` writes it.
    pub kind: String,
    /// The markers and what they enclose (whole lines for a block).
    pub outer: Range<usize>,
    /// The deterministic text between the markers.
    pub inner: Range<usize>,
    /// Markers on lines of their own (paragraphs), or within a line (inline text).
    pub block: bool,
    /// The model is given the deterministic text only (`from=text`).
    pub from_text: bool,
}

/// The sections of `doc`, in order. An opening marker without its closing one, or with a
/// kind that is not a lowercase word, is no section (and stays in the doc as a comment).
pub fn find(doc: &str, markers: &Markers) -> Vec<Section> {
    let (open, close_marker) = (markers.open.as_str(), markers.close.as_str());
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = doc[from..].find(open).map(|i| i + from) {
        from = at + open.len();
        let Some(kind_end) = doc[from..].find(OPEN_END).map(|i| i + from) else {
            break;
        };
        let (kind, from_text) = match doc[from..kind_end].strip_suffix(" from=text") {
            Some(kind) => (kind, true),
            None => (&doc[from..kind_end], false),
        };
        if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            continue;
        }
        let inner_start = kind_end + OPEN_END.len();
        let Some(close) = doc[inner_start..]
            .find(close_marker)
            .map(|i| i + inner_start)
        else {
            break;
        };
        let close_end = close + close_marker.len();
        let line_start = doc[..at].rfind('\n').map_or(0, |i| i + 1);
        let line_end = doc[close_end..]
            .find('\n')
            .map_or(doc.len(), |i| close_end + i + 1);
        let block = doc[line_start..at].trim().is_empty()
            && doc[close_end..line_end].trim().is_empty()
            && doc[inner_start..].starts_with('\n')
            && doc[..close].ends_with('\n');
        let (outer, inner) = if block {
            (line_start..line_end, inner_start + 1..close)
        } else {
            (at..close_end, inner_start..close)
        };
        out.push(Section {
            kind: kind.to_owned(),
            outer,
            inner,
            block,
            from_text,
        });
        from = close_end;
    }
    out
}

/// `doc` with `fills[i]` in place of section `i` (its markers included); `None` keeps the
/// section's deterministic text. A block fill stands as paragraphs of its own, with one
/// blank line before and after.
pub fn replace(doc: &str, sections: &[Section], fills: &[Option<String>]) -> String {
    let mut out = String::with_capacity(doc.len() + 256);
    let mut at = 0;
    for (s, fill) in sections.iter().zip(fills) {
        out.push_str(&doc[at..s.outer.start]);
        match fill {
            Some(text) if s.block => {
                while out.ends_with("\n\n") {
                    out.pop();
                }
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(text.trim());
                out.push_str("\n\n");
                at = s.outer.end;
                // The blank line is ours now: skip the template's.
                while doc[at..].starts_with('\n') {
                    at += 1;
                }
                continue;
            }
            Some(text) => out.push_str(text.trim()),
            None => out.push_str(&doc[s.inner.clone()]),
        }
        at = s.outer.end;
        if s.block && fill.is_none() && doc[s.inner.clone()].trim().is_empty() {
            // An empty block leaves at most the one blank line the template had around it.
            let trailing = out.len() - out.trim_end_matches('\n').len();
            let mut leading = doc[at..].len() - doc[at..].trim_start_matches('\n').len();
            while trailing + leading > 2 && leading > 0 {
                at += 1;
                leading -= 1;
            }
        }
    }
    out.push_str(&doc[at..]);
    out
}

/// `doc` with every section's deterministic text and no markers.
pub fn strip(doc: &str, markers: &Markers) -> String {
    let sections = find(doc, markers);
    if sections.is_empty() {
        return doc.to_owned();
    }
    replace(doc, &sections, &vec![None; sections.len()])
}

/// What the model is given for `section`: the part of `doc` under the heading the marker
/// sits under (up to the next heading of that level or higher), markers removed, at most
/// [`DATA_MAX_CHARS`].
pub fn data(doc: &str, section: &Section, markers: &Markers) -> String {
    if section.from_text {
        let text = strip(&doc[section.inner.clone()], markers);
        return crate::text::clip(text.trim(), DATA_MAX_CHARS);
    }
    let heading = |line: &str| {
        let hashes = line.bytes().take_while(|b| *b == b'#').count();
        (1..=6).contains(&hashes) && line[hashes..].starts_with(' ')
    };
    let level = |line: &str| line.bytes().take_while(|b| *b == b'#').count();
    let mut start = 0;
    let mut start_level = 0;
    let mut offset = 0;
    for line in doc[..section.outer.start].split_inclusive('\n') {
        if heading(line) {
            start = offset;
            start_level = level(line);
        }
        offset += line.len();
    }
    let mut end = doc.len();
    let mut offset = section.outer.end;
    for line in doc[section.outer.end..].split_inclusive('\n') {
        if heading(line) && (start_level == 0 || level(line) <= start_level) {
            end = offset;
            break;
        }
        offset += line.len();
    }
    let text = strip(&doc[start..end], markers);
    crate::text::clip(text.trim(), DATA_MAX_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> Markers {
        Markers::with_nonce("N")
    }

    const DOC: &str = "# Title\n\nIntro.\n\n## v2\n\n<!-- coderipple:prose:N release_summary -->\n<!-- /coderipple:prose:N -->\n\n### Features\n\n- a\n\n## v1\n\n**Context.** <!-- coderipple:prose:N adr_context -->It changed.<!-- /coderipple:prose:N -->\n";

    #[test]
    fn blocks_and_inline_sections_are_found_with_their_deterministic_text() {
        let found = find(DOC, &m());
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].kind, "release_summary");
        assert!(found[0].block);
        assert_eq!(&DOC[found[0].inner.clone()], "");
        assert_eq!(found[1].kind, "adr_context");
        assert!(!found[1].block);
        assert_eq!(&DOC[found[1].inner.clone()], "It changed.");
    }

    #[test]
    fn stripping_leaves_the_deterministic_doc() {
        assert_eq!(
            strip(DOC, &m()),
            "# Title\n\nIntro.\n\n## v2\n\n### Features\n\n- a\n\n## v1\n\n**Context.** It changed.\n"
        );
    }

    #[test]
    fn empty_blocks_leave_no_blank_lines() {
        let doc = "## v1 — d\n<!-- coderipple:prose:N release_summary -->\n<!-- /coderipple:prose:N -->\n\n\n### Features\n";
        assert_eq!(strip(doc, &m()), "## v1 — d\n\n### Features\n");
        let doc = "x\n\n<!-- coderipple:prose:N release_summary -->\n<!-- /coderipple:prose:N -->\n\n\n### F\n";
        assert_eq!(strip(doc, &m()), "x\n\n### F\n");
    }

    #[test]
    fn fills_take_the_place_of_the_deterministic_text() {
        let found = find(DOC, &m());
        let out = replace(
            DOC,
            &found,
            &[Some("What is new.".into()), Some("Because.".into())],
        );
        assert!(
            out.contains("## v2\n\nWhat is new.\n\n### Features\n"),
            "{out}"
        );
        assert!(out.contains("**Context.** Because.\n"), "{out}");
        assert!(!out.contains("coderipple:prose"));
    }

    #[test]
    fn the_data_is_the_section_under_the_markers_heading() {
        let found = find(DOC, &m());
        assert_eq!(data(DOC, &found[0], &m()), "## v2\n\n### Features\n\n- a");
        assert_eq!(
            data(DOC, &found[1], &m()),
            "## v1\n\n**Context.** It changed."
        );
    }

    #[test]
    fn from_text_sections_give_the_model_their_text_only() {
        let doc = "# A\n\n9 files.\n<!-- coderipple:prose:N architecture_overview from=text -->\nCore and cli.\n<!-- /coderipple:prose:N -->\n\n## Components\n";
        let found = find(doc, &m());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, "architecture_overview");
        assert!(found[0].from_text && found[0].block);
        assert_eq!(data(doc, &found[0], &m()), "Core and cli.");
        assert_eq!(
            strip(doc, &m()),
            "# A\n\n9 files.\nCore and cli.\n\n## Components\n"
        );
    }

    #[test]
    fn markers_without_the_nonce_or_unclosed_are_no_sections() {
        // What a commit message can hold: markers in a code span, without the nonce.
        let doc = "- fix `<!-- coderipple:prose adr_context -->`x`<!-- /coderipple:prose -->`\n";
        assert!(find(doc, &m()).is_empty());
        assert_eq!(strip(doc, &m()), doc);
        let doc = "<!-- coderipple:prose:M adr_context -->x<!-- /coderipple:prose:M -->";
        assert!(find(doc, &m()).is_empty());
        let doc = "<!-- coderipple:prose:N Evil Kind -->x<!-- /coderipple:prose:N -->";
        assert!(find(doc, &m()).is_empty());
        let doc = "a <!-- coderipple:prose:N adr_context -->never closed";
        assert!(find(doc, &m()).is_empty());
        assert_eq!(strip(doc, &m()), doc);
    }
}
