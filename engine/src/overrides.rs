//! Maintainers' edits to the changelog, which no regeneration discards: a merged pull
//! request's body may replace its commit's entry with a `BEGIN_COMMIT_OVERRIDE` …
//! `END_COMMIT_OVERRIDE` block (one Conventional Commit message a line; an empty block hides
//! it), and the repository's `.coderipple/overrides.toml` may rewrite or hide any entry by
//! commit id. Overrides are kept apart from the entries and applied when a page is rendered,
//! so replays, redeliveries and re-cuts keep them.
//!
//! Both are written by people with push or pull-request access: they are bounded, and their
//! text is payload text (escaped when rendered).

use serde::{Deserialize, Serialize};

use crate::text::clip_plain;

/// The repository's overrides file.
pub const OVERRIDES_FILE: &str = ".coderipple/overrides.toml";
/// Most lines an override gives.
pub const MAX_LINES: usize = 20;
/// Most overrides a file gives.
pub const MAX_FILE_ENTRIES: usize = 200;
/// Longest line kept (characters).
const LINE_CHARS: usize = 300;
/// Largest overrides file read (bytes).
const MAX_FILE_BYTES: usize = 64 * 1024;

/// What replaces a commit's entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    /// Where it comes from: `pr-N` or the overrides file.
    pub source: String,
    /// The entries in its place, one message a line; none hides the entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<String>,
}

/// The lines of the first `BEGIN_COMMIT_OVERRIDE` … `END_COMMIT_OVERRIDE` block of `body`,
/// or `None` without a complete block. An empty block is `Some` of no lines (hide).
pub fn commit_override(body: &str) -> Option<Vec<String>> {
    let start = body.find("BEGIN_COMMIT_OVERRIDE")? + "BEGIN_COMMIT_OVERRIDE".len();
    let len = body[start..].find("END_COMMIT_OVERRIDE")?;
    Some(lines(&body[start..start + len]))
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(MAX_LINES)
        .map(|l| clip_plain(l, LINE_CHARS))
        .collect()
}

/// One `[[entry]]` of the overrides file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    commit: String,
    #[serde(default)]
    hide: bool,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverridesFile {
    #[serde(default)]
    entry: Vec<FileEntry>,
}

/// The overrides file: `(commit id prefix, override)` pairs, or why it cannot be followed.
///
/// ```toml
/// [[entry]]
/// commit = "1a2b3c4"          # 7 to 40 hex digits
/// message = "fix(cli): exit with 2 on a bad flag"   # one line a new entry
///
/// [[entry]]
/// commit = "5d6e7f8"
/// hide = true
/// ```
pub fn parse_file(text: &str) -> Result<Vec<(String, Override)>, String> {
    if text.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{OVERRIDES_FILE} is over {} KiB",
            MAX_FILE_BYTES / 1024
        ));
    }
    let file: OverridesFile =
        toml::from_str(text).map_err(|e| format!("{OVERRIDES_FILE}: {}", e.message()))?;
    if file.entry.len() > MAX_FILE_ENTRIES {
        return Err(format!(
            "{OVERRIDES_FILE} has {} entries, more than {MAX_FILE_ENTRIES}",
            file.entry.len()
        ));
    }
    let mut out = Vec::new();
    for (i, e) in file.entry.into_iter().enumerate() {
        let commit = e.commit.trim().to_ascii_lowercase();
        if !(7..=40).contains(&commit.len()) || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "{OVERRIDES_FILE}: entry {}: commit must be 7 to 40 hex digits",
                i + 1
            ));
        }
        let lines = match (e.hide, e.message) {
            (true, None) => Vec::new(),
            (false, Some(m)) if !lines(&m).is_empty() => lines(&m),
            _ => {
                return Err(format!(
                    "{OVERRIDES_FILE}: entry {}: give either `hide = true` or a `message`",
                    i + 1
                ));
            }
        };
        out.push((
            commit,
            Override {
                source: OVERRIDES_FILE.into(),
                lines,
            },
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pull_requests_block_gives_lines_or_hides() {
        let body =
            "Text\n\nBEGIN_COMMIT_OVERRIDE\nfeat: a\n\n  fix(cli): b  \nEND_COMMIT_OVERRIDE\nmore";
        assert_eq!(commit_override(body).unwrap(), ["feat: a", "fix(cli): b"]);
        assert_eq!(
            commit_override("BEGIN_COMMIT_OVERRIDE\n\nEND_COMMIT_OVERRIDE"),
            Some(vec![])
        );
        assert_eq!(commit_override("BEGIN_COMMIT_OVERRIDE\nfeat: a"), None);
        assert_eq!(commit_override("no block"), None);
        let many = format!(
            "BEGIN_COMMIT_OVERRIDE\n{}END_COMMIT_OVERRIDE",
            "feat: x\n".repeat(100)
        );
        assert_eq!(commit_override(&many).unwrap().len(), MAX_LINES);
    }

    #[test]
    fn the_file_rewrites_or_hides_by_commit_and_refuses_what_is_unclear() {
        let got = parse_file(
            "[[entry]]\ncommit = \"ABCDEF1\"\nmessage = \"fix: better words\"\n\
             [[entry]]\ncommit = \"1234567890\"\nhide = true\n",
        )
        .unwrap();
        assert_eq!(got[0].0, "abcdef1");
        assert_eq!(got[0].1.lines, ["fix: better words"]);
        assert!(got[1].1.lines.is_empty());
        for bad in [
            "[[entry]]\ncommit = \"xyz\"\nhide = true\n",
            "[[entry]]\ncommit = \"abcdef1\"\n",
            "[[entry]]\ncommit = \"abcdef1\"\nhide = true\nmessage = \"x\"\n",
            "[[entry]]\ncommit = \"abcdef1\"\nsummary = \"x\"\n",
            "not toml [",
        ] {
            let err = parse_file(bad).unwrap_err();
            assert!(err.starts_with(OVERRIDES_FILE), "{err}");
        }
        let huge = "[[entry]]\ncommit = \"abcdef1\"\nhide = true\n".repeat(300);
        assert!(parse_file(&huge).unwrap_err().contains("more than 200"));
    }
}
