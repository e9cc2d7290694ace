//! GitHub's release notes settings, `.github/release.yml`: `changelog.exclude.labels` and
//! `.authors` leave pull requests out; `changelog.categories` (`title`, `labels`,
//! `exclude.labels`, `exclude.authors`) put each of the others under the first category
//! whose labels it has and whose exclusions it escapes, the label `*` matching any pull
//! request. Labels and logins compare without regard to case (GitHub's are), and a login
//! matches with or without its `[bot]` suffix. Commits are left out by the same excluded
//! authors (their author name or login) and labels (of the pull request that brought them).
//! YAML anchors and aliases, and flow collections nested past 32, are refused before the
//! YAML parser sees them (see `prescan`).

use serde::{Deserialize, Serialize};

use super::{
    CommitInput, Group, MAX_LIST, PullRequestDecision, bounded, bounded_list, bounded_names,
};

/// release.yml's settings, as read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GithubReleaseRules {
    /// The file they came from.
    pub path: String,
    /// Pull requests with any of these labels are left out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude_labels: Vec<String>,
    /// Pull requests by these logins are left out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude_authors: Vec<String>,
    /// The categories, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Category>,
}

/// One of `changelog.categories`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Category {
    /// The heading.
    pub title: String,
    /// Pull requests with any of these labels belong here (`*`: any).
    pub labels: Vec<String>,
    /// ... unless they have one of these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude_labels: Vec<String>,
    /// ... or are by one of these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude_authors: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReleaseFile {
    changelog: Option<ChangelogEntry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ChangelogEntry {
    exclude: ExcludeEntry,
    categories: Vec<CategoryEntry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ExcludeEntry {
    labels: Vec<String>,
    authors: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct CategoryEntry {
    title: String,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    exclude: ExcludeEntry,
}

/// Flow collections (`[…]`, `{…}`) nested deeper than this are refused.
const MAX_FLOW_DEPTH: usize = 32;

/// `.github/release.yml` (or `.yaml`).
pub(super) fn parse(path: &str, text: &str) -> Result<GithubReleaseRules, String> {
    prescan(path, text)?;
    // An empty file (or one with comments only) is a document with nothing in it.
    let file: Option<ReleaseFile> = serde_yaml_ng::from_str(text).map_err(|e| {
        format!(
            "{path}: not valid release notes settings: {}",
            crate::text::clip_plain(&e.to_string(), 300)
        )
    })?;
    let changelog = file.and_then(|f| f.changelog).unwrap_or_default();
    let categories = bounded_list(
        &format!("{path}: changelog.categories"),
        changelog.categories,
    )?;
    let mut out = Vec::with_capacity(categories.len().min(MAX_LIST));
    for (i, c) in categories.into_iter().enumerate() {
        let name = |key: &str| format!("{path}: changelog.categories[{i}].{key}");
        out.push(Category {
            title: bounded(&name("title"), c.title)?,
            labels: bounded_names(&name("labels"), c.labels)?,
            exclude_labels: bounded_names(&name("exclude.labels"), c.exclude.labels)?,
            exclude_authors: bounded_names(&name("exclude.authors"), c.exclude.authors)?,
        });
    }
    Ok(GithubReleaseRules {
        path: path.to_owned(),
        exclude_labels: bounded_names(
            &format!("{path}: changelog.exclude.labels"),
            changelog.exclude.labels,
        )?,
        exclude_authors: bounded_names(
            &format!("{path}: changelog.exclude.authors"),
            changelog.exclude.authors,
        )?,
        categories: out,
    })
}

/// Refuses, before the YAML parser sees them, what it would spend too long or too much memory
/// on: flow collections nested past [`MAX_FLOW_DEPTH`] (the parser's work grows with the square
/// of the depth), and anchors and aliases (an alias copies what it names, any number of
/// times). The scan skips quoted scalars and comments; a plain scalar like `R&D` or
/// `dependabot[bot]` is no anchor and no nesting.
fn prescan(path: &str, text: &str) -> Result<(), String> {
    let boundary = |c: char| c.is_whitespace() || matches!(c, '[' | '{' | ',' | ':' | '-');
    let name_char = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || "_-.".contains(*c));
    let (mut depth, mut quote, mut prev) = (0usize, None, '\n');
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        if let Some(q) = quote {
            if ch == '\\' && q == '"' {
                chars.next();
            } else if ch == q {
                quote = None;
            }
            prev = ch;
            continue;
        }
        match ch {
            '#' if boundary(prev) => while chars.next_if(|&c| c != '\n').is_some() {},
            '"' | '\'' if boundary(prev) => quote = Some(ch),
            '[' | '{' => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Err(format!(
                        "{path}: collections nested deeper than {MAX_FLOW_DEPTH} are not read"
                    ));
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            '&' | '*' if boundary(prev) && name_char(chars.peek()) => {
                return Err(format!("{path}: YAML anchors and aliases are not read"));
            }
            _ => {}
        }
        prev = ch;
    }
    Ok(())
}

/// The first of `wanted` among `labels` (`*` matches any pull request).
fn label_in<'a>(wanted: &'a [String], labels: &[String]) -> Option<&'a str> {
    wanted
        .iter()
        .find(|w| w.as_str() == "*" || labels.iter().any(|l| l.eq_ignore_ascii_case(w)))
        .map(String::as_str)
}

/// The first of `wanted` that is one of `authors`.
fn author_in<'a>(wanted: &'a [String], authors: &[&str]) -> Option<&'a str> {
    fn login(name: &str) -> &str {
        let name = name.trim();
        name.strip_suffix("[bot]").unwrap_or(name)
    }
    wanted
        .iter()
        .find(|w| {
            authors
                .iter()
                .any(|a| !a.trim().is_empty() && login(a).eq_ignore_ascii_case(login(w)))
        })
        .map(String::as_str)
}

impl GithubReleaseRules {
    /// Whether anything here speaks of commits (the excluded labels and authors).
    pub(super) fn about_commits(&self) -> bool {
        !self.exclude_labels.is_empty() || !self.exclude_authors.is_empty()
    }

    /// The rule that leaves a pull request (or a commit) by `authors` with `labels` out.
    fn excluded(&self, labels: &[String], authors: &[&str]) -> Option<String> {
        if let Some(a) = author_in(&self.exclude_authors, authors) {
            return Some(format!(
                "{}: changelog.exclude.authors lists {a}",
                self.path
            ));
        }
        label_in(&self.exclude_labels, labels)
            .map(|l| format!("{}: changelog.exclude.labels lists {l}", self.path))
    }

    /// The rule that leaves a commit out, if any.
    pub(super) fn commit_excluded(&self, c: &CommitInput<'_>) -> Option<String> {
        let authors: Vec<&str> = [Some(c.author), c.login].into_iter().flatten().collect();
        self.excluded(c.labels, &authors)
    }

    /// Whether a pull request is listed, and in which category.
    pub(super) fn pull_request(&self, labels: &[String], author: &str) -> PullRequestDecision {
        if let Some(rule) = self.excluded(labels, &[author]) {
            return PullRequestDecision::Skip { rule };
        }
        let category = self.categories.iter().enumerate().find(|(_, c)| {
            label_in(&c.labels, labels).is_some()
                && label_in(&c.exclude_labels, labels).is_none()
                && author_in(&c.exclude_authors, &[author]).is_none()
        });
        PullRequestDecision::Keep {
            category: category.map(|(i, c)| Group::at(i, &c.title)),
        }
    }
}
