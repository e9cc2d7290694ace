//! Escaping text from payloads (commit messages, author names, paths, pull request and
//! release text, README excerpts) for the Markdown docs, so that it reads as written and
//! cannot add HTML, links, images, headings, tables or fences of its own, nor hide or
//! restyle the rest of a document.
//!
//! The state keeps the raw text; the agents' templates escape it when they render, through
//! the filters the [agent pack](crate::pack) registers (so custom packs have them too):
//!
//! | filter | for | what it gives |
//! |---|---|---|
//! | `md_inline` | a line's worth of text (title, summary, author, cell) | [`inline`] |
//! | `md_block` | paragraphs (release notes, upgrade notes, README sections) | [`block`] |
//! | `md_code` | a path or a name shown as code | [`code`] |
//! | `md_link(url)` | link text, linked when `url` is allowed | [`link`] |
//! | `md_repo` | the repository's own text (README sections), kept as Markdown | [`repository_text`] |
//!
//! Each returns a *safe* string, which the others pass on unchanged (so `md_code` can be
//! the text of an `md_link`, and escaping twice changes nothing).
//!
//! Inline text keeps its `code spans` (nothing inside one is interpreted, so they are
//! re-encoded with a fence of their own rather than escaped); every other character that
//! could start Markdown or HTML is backslash-escaped, bare URLs and e-mail addresses are
//! kept from becoming links, control characters go and line breaks become spaces. Block
//! text is inline text line by line, keeping paragraph breaks, list items and fenced code
//! (re-fenced, so it cannot close early or run on).
//!
//! Links are kept only to the repository's own pages on [`LINK_HOST`]:
//! `https://github.com/<owner>/<repo>/…`, where `<owner>/<repo>` is the template's `repo`.

/// The only host links may point to. A GitHub Enterprise host would be a setting here.
pub const LINK_HOST: &str = "https://github.com";
/// Longest inline text kept (characters); longer is cut and ends with `…`.
pub const INLINE_MAX_CHARS: usize = 1_000;
/// Longest block text kept (characters); longer is cut and ends with `…`.
pub const BLOCK_MAX_CHARS: usize = 6_000;
/// Longest URL linked (characters); a longer one is not linked.
pub const MAX_URL_CHARS: usize = 2_000;
/// Fenced-code info strings GitHub renders as something other than code (diagrams, maps,
/// models, math): a fence from payload text never gets one.
const RENDERED_FENCES: &[&str] = &["mermaid", "geojson", "topojson", "stl", "math"];
const ELLIPSIS: char = '…';
/// Put after an `@` (unless a space follows) so that neither an e-mail autolink nor a mention
/// forms; it is invisible.
const WORD_JOINER: char = '\u{2060}';

/// Whether `c` is dropped from any text: control characters (other than line breaks and
/// tabs, which become spaces or line ends) and bidirectional overrides.
fn dropped(c: char) -> bool {
    (c.is_control() && !is_break(c) && c != '\t')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{0085}' | '\u{2028}' | '\u{2029}')
}

/// `text` cut to `max` characters when longer, the last being `…`.
fn cap(text: &str, max: usize) -> String {
    if text.chars().nth(max).is_none() {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push(ELLIPSIS);
    cut
}

/// One line: control characters dropped, each run of whitespace holding a line break or a
/// tab collapsed to one space, trimmed.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_break = false;
    let mut spaces = 0usize;
    for c in text.chars() {
        if dropped(c) {
            continue;
        }
        if is_break(c) || c == '\t' {
            pending_break = true;
        } else if c == ' ' {
            spaces += 1;
        } else {
            if pending_break {
                out.push(' ');
            } else {
                out.extend(std::iter::repeat_n(' ', spaces));
            }
            pending_break = false;
            spaces = 0;
            out.push(c);
        }
    }
    out.trim().to_owned()
}

/// Inline text, at most [`INLINE_MAX_CHARS`]: safe anywhere a line of text goes (a list
/// item, a heading, a table cell, link text).
pub fn inline(text: &str) -> String {
    inline_capped(text, INLINE_MAX_CHARS)
}

/// [`inline`] with its own limit (characters).
pub fn inline_capped(text: &str, max: usize) -> String {
    escape_line(&cap(&one_line(text), max.max(1)), true)
}

/// `text` (already one line) escaped: code spans re-encoded, the rest escaped; `at_start`
/// when it begins a line (so it cannot start a list, a setext underline or a rule).
fn escape_line(line: &str, at_start: bool) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len() + 8);
    let mut text_from = 0;
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            i += 1;
            continue;
        }
        let run = run_len(&chars, i);
        match closing_run(&chars, i + run, run) {
            Some(close) => {
                escape_text(&chars[text_from..i], at_start && text_from == 0, &mut out);
                let mut content: String = chars[i + run..close].iter().collect();
                if content.len() > 2
                    && content.starts_with(' ')
                    && content.ends_with(' ')
                    && !content.bytes().all(|b| b == b' ')
                {
                    content = content[1..content.len() - 1].to_owned();
                }
                out.push_str(&code_or_text(&content, at_start && out.is_empty()));
                i = close + run;
                text_from = i;
            }
            // An unmatched run is literal backticks (escaped with the text).
            None => i += run,
        }
    }
    escape_text(&chars[text_from..], at_start && text_from == 0, &mut out);
    out
}

fn run_len(chars: &[char], from: usize) -> usize {
    chars[from..].iter().take_while(|c| **c == '`').count()
}

/// The start of the next backtick run of exactly `len` from `from`.
fn closing_run(chars: &[char], mut from: usize, len: usize) -> Option<usize> {
    while from < chars.len() {
        if chars[from] == '`' {
            let run = run_len(chars, from);
            if run == len {
                return Some(from);
            }
            from += run;
        } else {
            from += 1;
        }
    }
    None
}

/// A code span of `content`, or — when it holds a `|`, which would split a table cell even
/// inside a code span — the content as escaped text (`at_start`: of a line).
fn code_or_text(content: &str, at_start: bool) -> String {
    if content.contains('|') {
        let chars: Vec<char> = content.chars().collect();
        let mut out = String::new();
        escape_text(&chars, at_start, &mut out);
        out
    } else {
        code_span(content)
    }
}

/// Plain text escaped into `out`; `at_start` when it begins a line (after any spaces).
fn escape_text(chars: &[char], at_start: bool, out: &mut String) {
    let at = |i: usize| chars.get(i).copied();
    let lead = if at_start {
        chars.iter().take_while(|c| **c == ' ').count()
    } else {
        usize::MAX
    };
    for (i, &c) in chars.iter().enumerate() {
        let escape = match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' | '$' => true,
            // `![` would start an image (the `[` is escaped anyway).
            '!' => at(i + 1) == Some('['),
            // An entity or a numeric character reference (`&lt;`, `&#60;`).
            '&' => is_reference(&chars[i + 1..]),
            // `scheme://` would be autolinked; `:-` starting a line would be a table's
            // delimiter row (it needs no pipe).
            ':' => i == lead || (at(i + 1) == Some('/') && at(i + 2) == Some('/')),
            // `www.` would be autolinked; `1.` starting a line would be a list item.
            '.' => {
                let www = i >= 3
                    && chars[i - 3..i].iter().all(|w| w.eq_ignore_ascii_case(&'w'))
                    && (i == 3 || !chars[i - 4].is_alphanumeric());
                www || ordinal(chars, i, lead)
            }
            ')' => ordinal(chars, i, lead),
            // A list item, a setext underline or a thematic break at the start of a line.
            '-' | '+' | '=' => i == lead,
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
        if c == '@' && at(i + 1).is_some_and(|n| !n.is_whitespace()) {
            out.push(WORD_JOINER);
        }
    }
}

/// Whether `after` (what follows an `&`) makes a character reference: `name;`, `#60;` or
/// `#x3C;`.
fn is_reference(after: &[char]) -> bool {
    let body = match after {
        ['#', 'x' | 'X', rest @ ..] => rest,
        ['#', rest @ ..] => rest,
        rest => rest,
    };
    let len = body
        .iter()
        .take(32)
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    len > 0 && body.get(len) == Some(&';')
}

/// Whether the `.` or `)` at `i` ends the digits that start a line at `lead` (`1.` would be
/// a list item).
fn ordinal(chars: &[char], i: usize, lead: usize) -> bool {
    i > lead && chars[lead..i].iter().all(char::is_ascii_digit)
}

/// `content` as a code span whose fence is longer than any run of backticks in it, so it
/// cannot close early; padded where CommonMark strips a space. Control characters dropped
/// and line breaks made spaces (a code span cannot span lines). Nothing inside a code span
/// is interpreted, so this is the way to show a path or a name verbatim; [`inline`] keeps
/// such spans as they are. Empty for empty content.
pub fn code_span(content: &str) -> String {
    let content: String = content
        .chars()
        .filter(|c| !dropped(*c))
        .map(|c| if is_break(c) || c == '\t' { ' ' } else { c })
        .collect();
    if content.is_empty() {
        return String::new();
    }
    let chars: Vec<char> = content.chars().collect();
    let longest = (0..chars.len())
        .filter(|&i| chars[i] == '`' && (i == 0 || chars[i - 1] != '`'))
        .map(|i| run_len(&chars, i))
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = content.starts_with('`')
        || content.ends_with('`')
        || (content.starts_with(' ')
            && content.ends_with(' ')
            && !content.bytes().all(|b| b == b' '));
    let pad = if pad { " " } else { "" };
    format!("{fence}{pad}{content}{pad}{fence}")
}

/// A path or a name shown as code (see [`code_span`]), at most [`INLINE_MAX_CHARS`]; with a
/// `|` in it, escaped text instead (safe in a table cell).
pub fn code(text: &str) -> String {
    code_or_text(&cap(&one_line(text), INLINE_MAX_CHARS), true)
}

/// Block text, at most [`BLOCK_MAX_CHARS`]: paragraphs (one blank line between them), list
/// items and fenced code are kept; every other line is [`inline`] text that cannot start a
/// heading, an HTML block, a link reference definition, a table, a quote or indented code.
/// Safe where a paragraph goes (after a blank line).
pub fn block(text: &str) -> String {
    let text: String = text
        .replace("\r\n", "\n")
        .chars()
        .filter(|c| !dropped(*c))
        .map(|c| if is_break(c) { '\n' } else { c })
        .collect();
    let text = cap(text.trim_matches('\n'), BLOCK_MAX_CHARS);
    let mut out: Vec<String> = Vec::new();
    let mut fence: Option<Fence> = None;
    for line in text.split('\n') {
        if let Some(open) = &mut fence {
            if open.closed_by(line) {
                out.extend(fence.take().expect("open").lines());
            } else {
                open.body.push(line.replace('\t', "    "));
            }
            continue;
        }
        if let Some(open) = Fence::opened_by(line) {
            fence = Some(open);
            continue;
        }
        let line = line.replace('\t', " ");
        let line = line.trim();
        if line.is_empty() {
            if out.last().is_some_and(|l| !l.is_empty()) {
                out.push(String::new());
            }
            continue;
        }
        out.push(block_line(line));
    }
    if let Some(open) = fence {
        out.extend(open.lines());
    }
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out.join("\n")
}

/// One prose line of block text: a list item keeps its marker (`- `, or `1. `), the rest is
/// escaped as a line start.
fn block_line(line: &str) -> String {
    let bytes = line.as_bytes();
    if let [b'-' | b'*' | b'+', b' ', ..] = bytes {
        return format!("- {}", escape_line(line[2..].trim_start(), true));
    }
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if (1..=9).contains(&digits)
        && matches!(bytes.get(digits), Some(b'.' | b')'))
        && bytes.get(digits + 1) == Some(&b' ')
    {
        let (marker, rest) = line.split_at(digits + 2);
        return format!("{marker}{}", escape_line(rest.trim_start(), true));
    }
    escape_line(line, true)
}

/// A fenced code block of block text, re-fenced when it closes.
struct Fence {
    marker: char,
    len: usize,
    info: String,
    body: Vec<String>,
}

impl Fence {
    fn opened_by(line: &str) -> Option<Self> {
        let rest = line.strip_prefix("   ").or_else(|| line.strip_prefix("  "));
        let rest = rest.or_else(|| line.strip_prefix(' ')).unwrap_or(line);
        let marker = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
        let len = rest.chars().take_while(|c| *c == marker).count();
        let info = &rest[len..];
        if len < 3 || (marker == '`' && info.contains('`')) {
            return None;
        }
        let word = info.split_whitespace().next().unwrap_or("");
        let safe = word.len() <= 30
            && word
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-_.#".contains(&b))
            && !RENDERED_FENCES.iter().any(|r| r.eq_ignore_ascii_case(word));
        Some(Self {
            marker,
            len,
            info: if safe { word.to_owned() } else { String::new() },
            body: Vec::new(),
        })
    }

    fn closed_by(&self, line: &str) -> bool {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let rest = line.trim();
        indent <= 3 && rest.len() >= self.len && rest.chars().all(|c| c == self.marker)
    }

    /// The block, fenced with more backticks than any run in it.
    fn lines(self) -> Vec<String> {
        let fence = block_fence(&self.body.join("\n"));
        let mut lines = vec![format!("{fence}{}", self.info)];
        lines.extend(self.body);
        lines.push(fence);
        lines
    }
}

/// A backtick fence for a fenced block of `text`: longer than any run of backticks in it
/// (at least three), so nothing in `text` can close the block early.
pub fn block_fence(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat((longest + 1).max(3))
}

/// Whether `repo` is an `owner/name` GitHub could have.
fn valid_repo(repo: &str) -> bool {
    let mut parts = repo.split('/');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| {
            !p.is_empty()
                && p != "."
                && p != ".."
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// `url` as a link destination, when it is a page of `repo` on [`LINK_HOST`]
/// (`https://github.com/<owner>/<repo>/…`, owner and name in any case); characters Markdown
/// or a table would read are percent-encoded. `None` (no link) otherwise: another host or
/// repository, a scheme other than `https`, a `.`/`..` path segment, or over
/// [`MAX_URL_CHARS`]. Without a `repo` (a page rendered where it is not known), any
/// repository's pages on the host are allowed.
pub fn allowed_url(url: &str, repo: Option<&str>) -> Option<String> {
    if url.chars().count() > MAX_URL_CHARS {
        return None;
    }
    let host = url.get(..LINK_HOST.len() + 1)?;
    if !host.eq_ignore_ascii_case(&format!("{LINK_HOST}/")) {
        return None;
    }
    let rest = &url[host.len()..];
    let repo_len = match repo {
        Some(repo) => {
            let prefix = rest.get(..repo.len() + 1)?;
            (valid_repo(repo) && prefix.eq_ignore_ascii_case(&format!("{repo}/")))
                .then_some(repo.len())?
        }
        None => {
            let mut slashes = rest.match_indices('/').map(|(i, _)| i);
            let (_, end) = (slashes.next()?, slashes.next()?);
            valid_repo(&rest[..end]).then_some(end)?
        }
    };
    let path = &rest[repo_len + 1..];
    let dots = path
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .split(['/', '\\'])
        .map(|seg| seg.to_ascii_lowercase().replace("%2e", "."))
        .any(|seg| seg == "." || seg == "..");
    if dots {
        return None;
    }
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..host.len() + repo_len + 1]);
    let bytes = path.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let keep = b.is_ascii_alphanumeric() || b"-._~/?#=&+,;:@!$'*".contains(&b);
        let percent = b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if keep || percent {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Some(out)
}

/// `text` (already Markdown, e.g. from [`inline`] or [`code`]) linked to `url` when
/// [`allowed_url`] allows it; otherwise `text` alone. Empty text is never linked.
pub fn link(text: &str, url: &str, repo: Option<&str>) -> String {
    match allowed_url(url, repo) {
        Some(url) if !text.is_empty() => format!("[{text}]({url})"),
        _ => text.to_owned(),
    }
}

mod repo_text;

pub use repo_text::repository_text;

#[cfg(test)]
mod tests;
