//! The standing pull request's body: what it is, the writer's summary of the update (when
//! there is one), and the change lines since it opened, kept between our markers and bounded.

use coderipple_engine::text::clip_plain as clip;

/// Change lines the body keeps (newest last) before folding the oldest into a count.
const BODY_LINES: usize = 30;
/// Longest change line kept (characters).
pub(super) const LINE_CHARS: usize = 300;
const START: &str = "<!-- coderipple:changes -->";
const END: &str = "<!-- /coderipple:changes -->";
const FOLDED: &str = "… and ";

/// `text` clipped and set as inline code: payload text (tags, paths in reasons) cannot
/// mention people (`@team`), link, or format anything.
fn as_code(text: &str) -> String {
    format!("`{}`", clip(text, LINE_CHARS).replace('`', "'"))
}

/// Where a publish put the docs.
pub(super) struct Target<'a> {
    /// The docs branch.
    pub(super) branch: &'a str,
    /// The repository's default branch.
    pub(super) default: &'a str,
    /// Whether every commit on the branch is ours.
    pub(super) ours: bool,
    /// The LLM writer's summary of this update, shown in the body.
    pub(super) prose: Option<&'a str>,
}

/// The pull request's body: what it is, then the change lines kept from `previous` (between
/// our markers; anything else in it is not ours and is dropped) plus `line`.
pub(super) fn body(previous: &str, line: &str, target: &Target<'_>, note: Option<&str>) -> String {
    let listed = previous
        .split_once(START)
        .and_then(|(_, rest)| rest.split_once(END))
        .map(|(list, _)| list)
        .unwrap_or_default();
    let mut earlier = 0usize;
    let mut lines: Vec<String> = Vec::new();
    for l in listed.lines().filter_map(|l| l.strip_prefix("- ")) {
        match l
            .strip_prefix(FOLDED)
            .and_then(|n| n.split(' ').next()?.parse::<usize>().ok())
        {
            Some(n) => earlier += n,
            None => lines.push(as_code(l.trim_matches('`'))),
        }
    }
    lines.push(as_code(line));
    let cut = lines.len().saturating_sub(BODY_LINES);
    let folded = earlier + cut;
    let kept = &lines[cut..];
    let mut out = String::from(
        "CodeRipple keeps this pull request up to date with the repository's documentation. \
         Merge it to take the docs in; the next change after that opens a new one.\n\n",
    );
    if let Some(note) = note {
        out.push_str(note);
        out.push_str("\n\n");
    }
    if !target.ours {
        out.push_str(&format!(
            "**Someone else has pushed to `{}`**, so CodeRipple no longer rebuilds the \
             branch: it adds its commits on top and never force-pushes it.\n\n",
            target.branch
        ));
    }
    // A summary holding our list markers (in a code span, say) would be taken for the list.
    if let Some(prose) = target
        .prose
        .filter(|p| !p.contains(START) && !p.contains(END))
    {
        // Already sanitized by the writer: Markdown prose, no HTML, no foreign links.
        out.push_str("### This update\n\n");
        out.push_str(prose.trim());
        out.push_str("\n\n");
    }
    out.push_str("### Changes since this pull request opened\n\n");
    out.push_str(START);
    out.push('\n');
    if folded > 0 {
        out.push_str(&format!("- {FOLDED}{folded} earlier change(s)\n"));
    }
    for l in kept {
        out.push_str(&format!("- {l}\n"));
    }
    out.push_str(END);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: Target<'static> = Target {
        branch: "d",
        default: "main",
        ours: true,
        prose: None,
    };

    #[test]
    fn the_body_accumulates_change_lines_and_stays_bounded() {
        let mut b = body("", "update for push abc1234 — historian (x)", &OURS, None);
        assert!(
            b.contains("- `update for push abc1234 — historian (x)`\n"),
            "{b}"
        );
        for i in 0..40 {
            b = body(&b, &format!("update {i}"), &OURS, None);
        }
        let listed = b.lines().filter(|l| l.starts_with("- `update")).count();
        assert_eq!(listed, BODY_LINES, "{b}");
        assert!(b.contains("- `update 39`\n"));
        assert!(!b.contains("- `update 0`\n"));
        // 41 lines in all, 30 listed.
        assert!(b.contains("- … and 11 earlier change(s)\n"), "{b}");
        assert!(!b.contains("Someone else"));
        let theirs = Target {
            ours: false,
            ..OURS
        };
        assert!(body(&b, "x", &theirs, None).contains("Someone else has pushed to `d`"));
        assert!(body("", "x", &OURS, Some("Continues #1.")).contains("Continues #1.\n"));
        let summarized = Target {
            prose: Some("Adds the gear docs."),
            ..OURS
        };
        let b = body("", "x", &summarized, None);
        assert!(
            b.contains("### This update\n\nAdds the gear docs.\n\n### Changes"),
            "{b}"
        );
        // A summary holding our list's marker (in a code span, say) is left out: the next
        // update must find the real list.
        let forged = format!("See `{START}` - fake");
        let sneaky = Target {
            prose: Some(&forged),
            ..OURS
        };
        let b = body("", "real", &sneaky, None);
        assert!(!b.contains("### This update"), "{b}");
        assert_eq!(b.matches(START).count(), 1, "{b}");
        assert!(body(&b, "next", &OURS, None).contains("`real`"));
    }

    #[test]
    fn text_outside_the_markers_is_not_carried_over() {
        let edited = format!("hi <script>\n{START}\n- kept\n{END}\n- outside\n");
        let b = body(&edited, "new", &OURS, None);
        assert!(b.contains("- `kept`\n- `new`\n"), "{b}");
        // A long carried line stays code after it is clipped.
        let long = body(&b, &"y".repeat(400), &OURS, None);
        let again = body(&long, "z", &OURS, None);
        let kept = again.lines().find(|l| l.contains("yyy")).unwrap();
        assert!(kept.starts_with("- `y") && kept.ends_with("…`"), "{kept}");
        let hostile = body(
            "",
            "release @acme/everyone `x` [a](https://evil)",
            &OURS,
            None,
        );
        assert!(
            hostile.contains("- `release @acme/everyone 'x' [a](https://evil)`\n"),
            "{hostile}"
        );
        assert!(!b.contains("outside") && !b.contains("<script>"), "{b}");
    }
}
