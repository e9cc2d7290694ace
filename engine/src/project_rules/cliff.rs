//! git-cliff's settings: the `[git]` table of `cliff.toml` (or of a manifest's git-cliff
//! metadata) read into plain data, and compiled to say what a tag is and what the commit
//! parsers make of a commit, with git-cliff's meaning.
//!
//! Read: `tag_pattern`, `ignore_tags`, `skip_tags`, `count_tags`, `commit_parsers` (`sha`,
//! `message`, `body`, `footer`, `field` + `pattern`, `group`, `scope`, `default_scope`,
//! `skip`), `conventional_commits`, `filter_unconventional`, `filter_commits`,
//! `protect_breaking_commits`. A setting the file leaves out says nothing (git-cliff would
//! take its built-in default; here the pack's defaults stay). Settings that change messages
//! or runs (`commit_preprocessors`, `split_commits`, `require_conventional`, …) are listed as
//! not followed. `matching` says what a parser's regexes are matched against.

use serde::{Deserialize, Serialize};

use super::{MAX_NAME_CHARS, MAX_PARSERS, bounded};

mod matching;

pub(super) use matching::CompiledCliff;
use matching::Field;

/// git-cliff's settings, as read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CliffRules {
    /// The file they came from.
    pub path: String,
    /// Only tags matching this are releases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_pattern: Option<String>,
    /// Tags matching this cut nothing: their changes go into the next release.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignore_tags: Option<String>,
    /// Tags matching this are left out, with their changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_tags: Option<String>,
    /// Only tags matching this count as releases (others fold like `ignore_tags`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count_tags: Option<String>,
    /// The commit parsers, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub commit_parsers: Vec<CommitParser>,
    /// `conventional_commits`, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conventional_commits: Option<bool>,
    /// `filter_unconventional`, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_unconventional: Option<bool>,
    /// `filter_commits`, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_commits: Option<bool>,
    /// `protect_breaking_commits`, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protect_breaking_commits: Option<bool>,
    /// Settings present but not followed here.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_followed: Vec<String>,
}

/// One of `commit_parsers`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommitParser {
    /// Matches the commit with this id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
    /// Regex on the whole message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Regex on the body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Regex on each footer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// The field `pattern` is matched against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Regex on `field`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The heading (may name the match's groups: `$1`, `${name}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The scope shown instead of the commit's (may name the match's groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The scope shown for a commit without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_scope: Option<String>,
    /// Leaves the matching commits out.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skip: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CliffFile {
    git: Option<GitTable>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GitTable {
    tag_pattern: Option<String>,
    ignore_tags: Option<String>,
    skip_tags: Option<String>,
    count_tags: Option<String>,
    commit_parsers: Vec<ParserEntry>,
    conventional_commits: Option<bool>,
    filter_unconventional: Option<bool>,
    filter_commits: Option<bool>,
    protect_breaking_commits: Option<bool>,
    // Present in many files, not followed here.
    require_conventional: Option<bool>,
    split_commits: Option<bool>,
    fail_on_unmatched_commit: Option<bool>,
    commit_preprocessors: Option<toml::Value>,
    processing_order: Option<toml::Value>,
    include_paths: Option<toml::Value>,
    exclude_paths: Option<toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ParserEntry {
    sha: Option<String>,
    message: Option<String>,
    body: Option<String>,
    footer: Option<String>,
    field: Option<String>,
    pattern: Option<String>,
    group: Option<String>,
    scope: Option<String>,
    default_scope: Option<String>,
    skip: Option<bool>,
}

/// `cliff.toml` (or `.cliff.toml`, `.config/cliff.toml`).
pub(super) fn parse_file(path: &str, text: &str) -> Result<CliffRules, String> {
    let file: CliffFile = toml::from_str(text).map_err(|e| toml_error(path, &e))?;
    from_table(path, file.git.unwrap_or_default())
}

/// A manifest's git-cliff settings under the first of `tables` it has; `None` without any.
pub(super) fn parse_manifest(
    path: &str,
    text: &str,
    tables: &[&[&str]],
) -> Result<Option<CliffRules>, String> {
    let root: toml::Table = toml::from_str(text).map_err(|e| toml_error(path, &e))?;
    for keys in tables {
        let mut at = Some(&root);
        for key in *keys {
            at = at.and_then(|t| t.get(*key)).and_then(toml::Value::as_table);
        }
        if let Some(table) = at {
            let file: CliffFile = toml::Value::Table(table.clone())
                .try_into()
                .map_err(|e| format!("{path}: [{}]: {e}", keys.join(".")))?;
            return from_table(path, file.git.unwrap_or_default()).map(Some);
        }
    }
    Ok(None)
}

/// The parser's message without its excerpt of the file: where, and what is wrong.
fn toml_error(path: &str, e: &toml::de::Error) -> String {
    let why = e.to_string();
    let mut lines = why.lines().map(str::trim).filter(|l| !l.is_empty());
    let place = lines.next().unwrap_or_default();
    let what = lines.next_back().unwrap_or_default();
    format!(
        "{path}: not valid TOML: {}: {}",
        crate::text::clip_plain(place, 100),
        crate::text::clip_plain(what, 200)
    )
}

fn from_table(path: &str, git: GitTable) -> Result<CliffRules, String> {
    if git.commit_parsers.len() > MAX_PARSERS {
        return Err(format!(
            "{path}: [git] commit_parsers: {} parsers; at most {MAX_PARSERS} are followed",
            git.commit_parsers.len()
        ));
    }
    let mut not_followed = Vec::new();
    let settings = [
        ("require_conventional", git.require_conventional.is_some()),
        ("split_commits", git.split_commits == Some(true)),
        (
            "fail_on_unmatched_commit",
            git.fail_on_unmatched_commit.is_some(),
        ),
        ("commit_preprocessors", non_empty(&git.commit_preprocessors)),
        ("processing_order", git.processing_order.is_some()),
        ("include_paths", non_empty(&git.include_paths)),
        ("exclude_paths", non_empty(&git.exclude_paths)),
    ];
    for (name, present) in settings {
        if present {
            not_followed.push(format!("[git] {name} is not followed"));
        }
    }
    let mut parsers = Vec::with_capacity(git.commit_parsers.len());
    for (i, p) in git.commit_parsers.into_iter().enumerate() {
        let name = |key: &str| format!("{path}: [git] commit_parsers[{i}].{key}");
        let text = |key: &str, v: Option<String>| v.map(|v| bounded(&name(key), v)).transpose();
        if let Some(field) = &p.field
            && Field::named(field).is_none()
        {
            not_followed.push(format!(
                "[git] commit_parsers[{i}]: field {:?} is not known here; that test never matches",
                crate::text::clip_plain(field, MAX_NAME_CHARS)
            ));
        }
        parsers.push(CommitParser {
            sha: text("sha", p.sha)?,
            message: p.message,
            body: p.body,
            footer: p.footer,
            field: text("field", p.field)?,
            pattern: p.pattern,
            group: text("group", p.group)?,
            scope: text("scope", p.scope)?,
            default_scope: text("default_scope", p.default_scope)?,
            skip: p.skip.unwrap_or(false),
        });
    }
    Ok(CliffRules {
        path: path.to_owned(),
        tag_pattern: git.tag_pattern,
        ignore_tags: git.ignore_tags,
        skip_tags: git.skip_tags,
        count_tags: git.count_tags,
        commit_parsers: parsers,
        conventional_commits: git.conventional_commits,
        filter_unconventional: git.filter_unconventional,
        filter_commits: git.filter_commits,
        protect_breaking_commits: git.protect_breaking_commits,
        not_followed,
    })
}

fn non_empty(value: &Option<toml::Value>) -> bool {
    match value {
        None => false,
        Some(toml::Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}
