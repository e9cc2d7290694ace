//! A repository's own changelog rules, read from its config files: git-cliff's `cliff.toml`
//! (which tags cut a release, commit parsers), release-please's `release-please-config.json`
//! (a heading per commit type, hidden types) and GitHub's `.github/release.yml` (excluded
//! labels and authors, categories of pull requests).
//!
//! [`parse`] reads one file into [`ProjectRules`], plain data that is kept as JSON in the
//! repository's state; [`ProjectRules::merge`] puts the files of one repository together;
//! [`CompiledRules`] (compiled once) answers the changelog's questions: what a tag is
//! ([`CompiledRules::role`]), whether a commit is listed and under which heading
//! ([`CompiledRules::commit`]), the same for a pull request ([`CompiledRules::pull_request`]).
//! Every answer is `None` when the project's files say nothing about it, so the pack's
//! defaults apply.
//!
//! Which file decides what, when a repository has several:
//! - tags and commit parsers: git-cliff's file, the first of `cliff.toml`, `Cargo.toml`
//!   (`[package.metadata.git-cliff]` or `[workspace.metadata.git-cliff]`), `pyproject.toml`
//!   (`[tool.git-cliff]`), `.cliff.toml`, `.config/cliff.toml`: the order git-cliff looks in;
//! - a heading per commit type and hidden types: `release-please-config.json`;
//! - excluded authors and labels, categories: `.github/release.yml` (before `.yaml`).
//!
//! A commit is checked against release.yml's excluded authors and labels first; then
//! git-cliff's parsers decide (the first that matches); when none matched and nothing filters
//! unmatched commits, release-please's sections decide.
//!
//! Collaborators write these files, so everything is bounded: the file's size, the number of
//! parsers, sections, categories and labels, each string's length, each regex's length,
//! compiled size and nesting, and the size of the rules kept. A file past a bound, broken, or
//! with a bad regex is refused with a message naming the file and the setting; the caller
//! keeps the pack's defaults and can say why.

mod cliff;
mod compiled;
mod github_release;
mod release_please;
#[cfg(test)]
mod tests;

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

pub use cliff::{CliffRules, CommitParser};
pub use compiled::CompiledRules;
pub use github_release::{Category, GithubReleaseRules};
pub use release_please::{ChangelogSection, PackageComponent, ReleasePleaseRules};

/// The largest config file read (bytes).
const MAX_FILE_BYTES: usize = 256 * 1024;
/// The most commit parsers followed.
const MAX_PARSERS: usize = 100;
/// The most entries in any other list (sections, categories, labels, authors, packages).
const MAX_LIST: usize = 200;
/// The longest name, title, label, group or template (characters).
const MAX_NAME_CHARS: usize = 256;
/// The longest regex (bytes).
const MAX_PATTERN_BYTES: usize = 4096;
/// A regex's compiled size and lazy DFA cache (bytes), and its deepest nesting.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;
const REGEX_DFA_SIZE_LIMIT: usize = 256 * 1024;
const REGEX_NEST_LIMIT: u32 = 64;
/// The most of a commit message a regex is matched against (bytes).
const MAX_HAYSTACK_BYTES: usize = 4 * 1024;
/// The largest rules kept from one file (serialized bytes): they live in the repository's
/// state, beside the other files' (at most six).
const MAX_RULES_JSON: usize = 12 * 1024;

/// The paths [`parse`] reads (relative to the repository's root). `Cargo.toml` and
/// `pyproject.toml` count only when they hold git-cliff's settings.
pub const RULES_FILES: &[&str] = &[
    "cliff.toml",
    "Cargo.toml",
    "pyproject.toml",
    ".cliff.toml",
    ".config/cliff.toml",
    "release-please-config.json",
    ".github/release.yml",
    ".github/release.yaml",
];

/// What a file is to [`parse`], with its rank among the files of its kind (lower first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    /// git-cliff's own file.
    Cliff(usize),
    /// A manifest that may hold git-cliff's settings under this table path.
    Manifest(usize, &'static [&'static [&'static str]]),
    ReleasePlease,
    GithubRelease(usize),
}

fn file_kind(path: &str) -> Option<FileKind> {
    const CARGO: &[&[&str]] = &[
        &["package", "metadata", "git-cliff"],
        &["workspace", "metadata", "git-cliff"],
    ];
    const PYPROJECT: &[&[&str]] = &[&["tool", "git-cliff"]];
    Some(match normalize(path) {
        "cliff.toml" => FileKind::Cliff(0),
        "Cargo.toml" => FileKind::Manifest(1, CARGO),
        "pyproject.toml" => FileKind::Manifest(2, PYPROJECT),
        ".cliff.toml" => FileKind::Cliff(3),
        ".config/cliff.toml" => FileKind::Cliff(4),
        "release-please-config.json" => FileKind::ReleasePlease,
        ".github/release.yml" => FileKind::GithubRelease(0),
        ".github/release.yaml" => FileKind::GithubRelease(1),
        _ => return None,
    })
}

fn normalize(path: &str) -> &str {
    path.trim_start_matches("./").trim_start_matches('/')
}

/// Precedence among the files of one kind (lower wins).
fn rank(path: &str) -> usize {
    match file_kind(path) {
        Some(FileKind::Cliff(r) | FileKind::Manifest(r, _) | FileKind::GithubRelease(r)) => r,
        Some(FileKind::ReleasePlease) => 0,
        None => usize::MAX,
    }
}

/// Whether `path` is one of the files [`parse`] reads.
pub fn is_rules_file(path: &str) -> bool {
    file_kind(path).is_some()
}

/// A repository's own changelog rules, from one file or merged from several.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectRules {
    /// The files followed: git-cliff's, release-please's, release.yml, in that order.
    pub source: Vec<String>,
    /// git-cliff's settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cliff: Option<CliffRules>,
    /// release-please's settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_please: Option<ReleasePleaseRules>,
    /// GitHub's release notes settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github: Option<GithubReleaseRules>,
}

impl ProjectRules {
    /// The rules of several files of one repository: of each kind, the file that comes first
    /// in the order its tool looks (see the module's documentation); the others are left out.
    pub fn merge(parts: impl IntoIterator<Item = ProjectRules>) -> ProjectRules {
        fn pick<T>(slot: &mut Option<T>, new: Option<T>, path: impl Fn(&T) -> &str) {
            if let Some(new) = new
                && slot
                    .as_ref()
                    .is_none_or(|old| rank(path(&new)) < rank(path(old)))
            {
                *slot = Some(new);
            }
        }
        let mut out = ProjectRules::default();
        for part in parts {
            pick(&mut out.cliff, part.cliff, |c| &c.path);
            pick(&mut out.release_please, part.release_please, |r| &r.path);
            pick(&mut out.github, part.github, |g| &g.path);
        }
        out.source = [
            out.cliff.as_ref().map(|c| c.path.clone()),
            out.release_please.as_ref().map(|r| r.path.clone()),
            out.github.as_ref().map(|g| g.path.clone()),
        ]
        .into_iter()
        .flatten()
        .collect();
        out
    }

    /// Whether no file was followed.
    pub fn is_empty(&self) -> bool {
        self.cliff.is_none() && self.release_please.is_none() && self.github.is_none()
    }

    /// What the files leave out or say that is not followed here, one line each.
    pub fn not_followed(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(c) = &self.cliff {
            out.extend(c.not_followed.iter().map(|n| format!("{}: {n}", c.path)));
        }
        out
    }

    /// The rules compiled for the decisions ([`CompiledRules::new`]).
    pub fn compile(&self) -> Result<CompiledRules, String> {
        CompiledRules::new(self)
    }
}

/// The rules in one file: `Ok(None)` when `path` is none of [`RULES_FILES`] (or a manifest
/// without git-cliff's settings), `Err` with a message naming the file and the setting when
/// the text is broken, past a bound, or has a bad regex.
pub fn parse(path: &str, text: &str) -> Result<Option<ProjectRules>, String> {
    let Some(kind) = file_kind(path) else {
        return Ok(None);
    };
    let path = normalize(path);
    if let FileKind::Manifest(..) = kind
        && !text.contains("git-cliff")
    {
        return Ok(None);
    }
    if text.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{path}: {} bytes; files over {} KiB are not read",
            text.len(),
            MAX_FILE_BYTES / 1024
        ));
    }
    let mut rules = ProjectRules {
        source: vec![path.to_owned()],
        ..ProjectRules::default()
    };
    match kind {
        FileKind::Cliff(_) => rules.cliff = Some(cliff::parse_file(path, text)?),
        FileKind::Manifest(_, tables) => match cliff::parse_manifest(path, text, tables)? {
            Some(c) => rules.cliff = Some(c),
            None => return Ok(None),
        },
        FileKind::ReleasePlease => rules.release_please = Some(release_please::parse(path, text)?),
        FileKind::GithubRelease(_) => rules.github = Some(github_release::parse(path, text)?),
    }
    // Every regex compiles within its bounds, and the rules fit what the state keeps.
    CompiledRules::new(&rules)?;
    let kept = crate::text::json_len(&rules);
    if kept > MAX_RULES_JSON {
        return Err(format!(
            "{path}: the rules take {kept} bytes once read; at most {} KiB are kept",
            MAX_RULES_JSON / 1024
        ));
    }
    Ok(Some(rules))
}

/// What a commit's message and metadata are, for [`CompiledRules::commit`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CommitInput<'a> {
    /// The commit's id (`sha` parsers), empty when unknown.
    pub sha: &'a str,
    /// The message's first line as written: `type(scope)!: subject` for a Conventional
    /// Commit.
    pub subject: &'a str,
    /// The rest of the message (footers included).
    pub body: &'a str,
    /// Conventional type (`feat`, `fix`, …; a heuristic one for other commits).
    pub kind: &'a str,
    /// Conventional scope.
    pub scope: Option<&'a str>,
    /// A breaking change.
    pub breaking: bool,
    /// The message follows Conventional Commits.
    pub conventional: bool,
    /// Author name.
    pub author: &'a str,
    /// Author's GitHub login, when known.
    pub login: Option<&'a str>,
    /// Labels of the pull request that brought it, when known.
    pub labels: &'a [String],
}

/// A heading of the changelog a project's rules name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The heading to show ([`display_title`] of the name in the file).
    pub title: String,
    /// Orders the headings: git-cliff's raw group name (its `<!-- N -->` prefixes order
    /// them), or the position in release-please's or release.yml's list.
    pub sort_key: String,
}

impl Group {
    fn named(raw: &str) -> Option<Self> {
        let title = display_title(raw);
        (!title.is_empty()).then(|| Self {
            title,
            sort_key: raw.to_owned(),
        })
    }

    fn at(position: usize, raw: &str) -> Self {
        Self {
            title: display_title(raw),
            sort_key: format!("{position:04}"),
        }
    }
}

/// Whether a commit is listed, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum CommitDecision {
    /// Listed; under `group` when the project names one, with `scope` shown when the project
    /// sets it (git-cliff's `scope`, or `default_scope` for a commit without one).
    Keep {
        /// The heading.
        group: Option<Group>,
        /// The scope to show instead of the commit's own.
        scope: Option<String>,
    },
    /// Left out, by the rule named (file and setting).
    Skip {
        /// The file and the setting.
        rule: String,
    },
}

/// Whether a pull request is listed, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum PullRequestDecision {
    /// Listed; under `category` when one of release.yml's takes it.
    Keep {
        /// The heading.
        category: Option<Group>,
    },
    /// Left out, by the rule named (file and setting).
    Skip {
        /// The file and the setting.
        rule: String,
    },
}

/// A heading as shown: HTML comments (`<!-- 0 -->`, used to order git-cliff's groups)
/// removed, and the leading emoji, symbols and spaces trimmed: `<!-- 0 -->⛰️  Features` is
/// `Features`. A title that is nothing but symbols stays as it is, trimmed.
pub fn display_title(raw: &str) -> String {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        rest = match rest[start + 4..].find("-->") {
            Some(end) => &rest[start + 4 + end + 3..],
            // An unclosed comment hides the rest in HTML.
            None => "",
        };
    }
    out.push_str(rest);
    let kept = |c: char| c.is_alphanumeric() || matches!(c, '(' | '[' | '"' | '\'' | '`' | '.');
    let trimmed = out.trim_start_matches(|c: char| !kept(c)).trim_end();
    if trimmed.is_empty() {
        out.trim().to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// `pattern` compiled within the bounds, or why not (naming `setting`).
fn compile_regex(setting: &str, pattern: &str) -> Result<Regex, String> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(format!(
            "{setting}: the regex is {} bytes long; at most {MAX_PATTERN_BYTES} are accepted",
            pattern.len()
        ));
    }
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
        .nest_limit(REGEX_NEST_LIMIT)
        .build()
        .map_err(|e| {
            let why = e.to_string();
            let why = why.lines().last().unwrap_or_default().trim();
            format!(
                "{setting}: bad regex {}: {}",
                crate::text::clip_plain(&format!("{pattern:?}"), 120),
                crate::text::clip_plain(why, 200)
            )
        })
}

/// `value` when it is at most [`MAX_NAME_CHARS`] long, or why not.
fn bounded(setting: &str, value: String) -> Result<String, String> {
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "{setting}: {} characters; at most {MAX_NAME_CHARS} are accepted",
            value.chars().count()
        ));
    }
    Ok(value)
}

/// A list's length within [`MAX_LIST`], or why not.
fn bounded_list<T>(setting: &str, list: Vec<T>) -> Result<Vec<T>, String> {
    if list.len() > MAX_LIST {
        return Err(format!(
            "{setting}: {} entries; at most {MAX_LIST} are followed",
            list.len()
        ));
    }
    Ok(list)
}

/// A list of names, each bounded.
fn bounded_names(setting: &str, list: Vec<String>) -> Result<Vec<String>, String> {
    bounded_list(setting, list)?
        .into_iter()
        .enumerate()
        .map(|(i, v)| bounded(&format!("{setting}[{i}]"), v))
        .collect()
}

/// `text` cut to at most [`MAX_HAYSTACK_BYTES`] at a character boundary.
fn haystack(text: &str) -> &str {
    if text.len() <= MAX_HAYSTACK_BYTES {
        return text;
    }
    let mut end = MAX_HAYSTACK_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
