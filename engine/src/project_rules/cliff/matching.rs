//! git-cliff's settings compiled: what a tag is, and what the commit parsers make of a
//! commit, with git-cliff's meaning.
//!
//! What a parser's regexes are matched against (trimmed, as git-cliff does, and cut to
//! their first 16 KiB; the first parser with a match wins): `message` the whole message (the
//! first line as written, a blank line, the body), `body` the body as given, `footer` each
//! Conventional Commits footer (`token: value`), `field` the named value (`body`, `message`
//! — the description of a Conventional Commit, else the whole message —, `raw_message`,
//! `id`, `scope`, `breaking`, `conventional`, `author.name`, `<remote>.username`,
//! `<remote>.pr_labels`). A parser that names an unknown field never matches by it.

use std::borrow::Cow;

use regex::{Captures, Regex};

use super::CliffRules;
use crate::pack::TagRole;
use crate::project_rules::{
    CommitDecision, CommitInput, Group, MAX_NAME_CHARS, MAX_PARSERS, compile_regex, haystack,
};

/// The values a parser's `field` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Body,
    Message,
    RawMessage,
    Id,
    Scope,
    Breaking,
    Conventional,
    AuthorName,
    Login,
    Labels,
}

impl Field {
    pub(super) fn named(name: &str) -> Option<Self> {
        const REMOTES: [&str; 6] = [
            "remote",
            "github",
            "gitlab",
            "gitea",
            "bitbucket",
            "azure_devops",
        ];
        Some(match name {
            "body" => Self::Body,
            "message" => Self::Message,
            "raw_message" => Self::RawMessage,
            "id" => Self::Id,
            "scope" => Self::Scope,
            "breaking" => Self::Breaking,
            "conventional" => Self::Conventional,
            "author.name" => Self::AuthorName,
            _ => {
                let (remote, key) = name.split_once('.')?;
                if !REMOTES.contains(&remote) {
                    return None;
                }
                match key {
                    "username" => Self::Login,
                    "pr_labels" => Self::Labels,
                    _ => return None,
                }
            }
        })
    }
}

/// git-cliff's settings, compiled.
#[derive(Debug, Clone)]
pub(in crate::project_rules) struct CompiledCliff {
    path: String,
    tag_pattern: Option<Regex>,
    ignore: Option<Regex>,
    skip: Option<Regex>,
    count: Option<Regex>,
    parsers: Vec<CompiledParser>,
    filter_unconventional: bool,
    filter_commits: bool,
    protect_breaking: bool,
    /// Whether any setting speaks of commits.
    about_commits: bool,
}

#[derive(Debug, Clone)]
struct CompiledParser {
    sha: Option<String>,
    message: Option<Regex>,
    body: Option<Regex>,
    footer: Option<Regex>,
    field: Option<(Field, Regex)>,
    group: Option<String>,
    scope: Option<String>,
    default_scope: Option<String>,
    skip: bool,
    /// How the rule is named when it leaves a commit out.
    rule: String,
}

impl CompiledCliff {
    pub(in crate::project_rules) fn new(rules: &CliffRules) -> Result<Self, String> {
        let path = &rules.path;
        // Like git-cliff, an empty pattern is no pattern.
        let tag = |key: &str, v: &Option<String>| match v.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(_) => {
                compile_regex(&format!("{path}: [git] {key}"), v.as_deref().unwrap_or("")).map(Some)
            }
        };
        let mut parsers = Vec::with_capacity(rules.commit_parsers.len());
        for (i, p) in rules.commit_parsers.iter().enumerate().take(MAX_PARSERS) {
            let setting = |key: &str| format!("{path}: [git] commit_parsers[{i}].{key}");
            let re = |key: &str, v: &Option<String>| {
                v.as_deref()
                    .map(|v| compile_regex(&setting(key), v))
                    .transpose()
            };
            let field = match (p.field.as_deref().and_then(Field::named), &p.pattern) {
                (Some(f), Some(pattern)) => Some((f, compile_regex(&setting("pattern"), pattern)?)),
                _ => None,
            };
            let quoted = |v: &str| crate::text::clip_plain(&format!("{v:?}"), 100);
            let what = [
                ("sha", &p.sha),
                ("message", &p.message),
                ("body", &p.body),
                ("footer", &p.footer),
            ]
            .into_iter()
            .find_map(|(k, v)| v.as_deref().map(|v| format!("{k} = {}", quoted(v))))
            .or_else(|| {
                let (f, pattern) = (p.field.as_deref()?, p.pattern.as_deref()?);
                Some(format!(
                    "field = {}, pattern = {}",
                    quoted(f),
                    quoted(pattern)
                ))
            })
            .unwrap_or_default();
            parsers.push(CompiledParser {
                sha: p.sha.as_deref().map(str::to_ascii_lowercase),
                message: re("message", &p.message)?,
                body: re("body", &p.body)?,
                footer: re("footer", &p.footer)?,
                field,
                group: p.group.clone(),
                scope: p.scope.clone(),
                default_scope: p.default_scope.clone(),
                skip: p.skip,
                rule: format!("{path}: commit_parsers[{i}] skips it ({what})"),
            });
        }
        let filter_unconventional =
            rules.conventional_commits != Some(false) && rules.filter_unconventional == Some(true);
        let filter_commits = rules.filter_commits == Some(true);
        Ok(Self {
            path: path.clone(),
            tag_pattern: tag("tag_pattern", &rules.tag_pattern)?,
            ignore: tag("ignore_tags", &rules.ignore_tags)?,
            skip: tag("skip_tags", &rules.skip_tags)?,
            count: tag("count_tags", &rules.count_tags)?,
            about_commits: !parsers.is_empty() || filter_unconventional || filter_commits,
            parsers,
            filter_unconventional,
            filter_commits,
            protect_breaking: rules.protect_breaking_commits == Some(true),
        })
    }

    /// What `tag` is; `None` without any tag setting, or when only the pack can say (a tag
    /// the settings would cut while they name no tags to ignore).
    pub(in crate::project_rules) fn role(&self, tag: &str) -> Option<TagRole> {
        let set = |r: &Option<Regex>| r.is_some();
        if !(set(&self.tag_pattern) || set(&self.ignore) || set(&self.skip) || set(&self.count)) {
            return None;
        }
        let matches = |r: &Option<Regex>| r.as_ref().is_some_and(|r| r.is_match(tag));
        // A tag outside `tag_pattern` is no release at all.
        if self.tag_pattern.as_ref().is_some_and(|r| !r.is_match(tag)) {
            return Some(TagRole::Folded);
        }
        if matches(&self.skip) {
            return Some(TagRole::Skipped);
        }
        let counted = self.count.as_ref().is_none_or(|r| r.is_match(tag));
        if !counted || matches(&self.ignore) {
            return Some(TagRole::Folded);
        }
        // A project that names no tags to ignore has said nothing about pre-releases: the
        // pack's default (a SemVer pre-release folds into the next release) decides them.
        self.ignore.as_ref().map(|_| TagRole::Cut)
    }

    /// Whether any setting speaks of commits.
    pub(in crate::project_rules) fn about_commits(&self) -> bool {
        self.about_commits
    }

    /// What the settings make of a commit; `None` when no parser matched and nothing filters.
    pub(in crate::project_rules) fn commit(&self, c: &CommitInput<'_>) -> Option<CommitDecision> {
        if self.filter_unconventional && !c.conventional {
            return Some(CommitDecision::Skip {
                rule: format!(
                    "{}: filter_unconventional leaves out what is not a Conventional Commit",
                    self.path
                ),
            });
        }
        let body = haystack(c.body.trim());
        let whole = if body.is_empty() {
            Cow::Borrowed(c.subject.trim())
        } else {
            Cow::Owned(format!("{}\n\n{body}", c.subject.trim()))
        };
        let message = haystack(&whole);
        let needs_parse = self
            .parsers
            .iter()
            .any(|p| p.footer.is_some() || matches!(p.field, Some((Field::Message, _))));
        let parsed = needs_parse
            .then(|| git_conventional::Commit::parse(message).ok())
            .flatten();
        let footers: Vec<String> = parsed
            .as_ref()
            .map(|p| p.footers().iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        for p in &self.parsers {
            if let Some(sha) = &p.sha
                && !c.sha.is_empty()
                && c.sha.eq_ignore_ascii_case(sha)
            {
                return Some(self.outcome(p, c, None));
            }
            let mut checks: Vec<(&Regex, &str)> = Vec::new();
            if let Some(r) = &p.message {
                checks.push((r, message));
            }
            if let Some(r) = &p.body {
                checks.push((r, body));
            }
            if let Some(r) = &p.footer {
                checks.extend(footers.iter().map(|f| (r, f.as_str())));
            }
            if let Some((field, r)) = &p.field {
                let values: Vec<&str> = match field {
                    Field::Body => vec![body],
                    Field::Message => vec![parsed.as_ref().map_or(message, |p| p.description())],
                    Field::RawMessage => vec![message],
                    Field::Id => vec![c.sha],
                    Field::Scope => c.scope.into_iter().collect(),
                    Field::Breaking => {
                        vec![if c.breaking { "true" } else { "false" }]
                    }
                    Field::Conventional => {
                        vec![if c.conventional { "true" } else { "false" }]
                    }
                    Field::AuthorName => vec![c.author],
                    Field::Login => c.login.into_iter().collect(),
                    Field::Labels => c.labels.iter().map(String::as_str).collect(),
                };
                checks.extend(values.into_iter().map(|v| (r, v)));
            }
            for (r, text) in checks {
                if let Some(caps) = r.captures(haystack(text.trim())) {
                    return Some(self.outcome(p, c, Some(&caps)));
                }
            }
        }
        self.filter_commits.then(|| CommitDecision::Skip {
            rule: format!(
                "{}: filter_commits leaves out what no commit parser matches",
                self.path
            ),
        })
    }

    fn outcome(
        &self,
        p: &CompiledParser,
        c: &CommitInput<'_>,
        caps: Option<&Captures<'_>>,
    ) -> CommitDecision {
        if p.skip && !(self.protect_breaking && c.breaking) {
            return CommitDecision::Skip {
                rule: p.rule.clone(),
            };
        }
        let fill = |template: &String| match caps {
            Some(caps) => expand(template, caps),
            None => template.clone(),
        };
        let scope = match (&p.scope, c.scope) {
            (Some(s), _) => Some(fill(s)),
            (None, None) => p.default_scope.clone(),
            (None, Some(_)) => None,
        };
        CommitDecision::Keep {
            group: p.group.as_ref().and_then(|g| Group::named(&fill(g))),
            scope: scope.filter(|s| !s.trim().is_empty()),
        }
    }
}

/// `template` with `$1`, `$name`, `${name}` replaced by the match's groups (`$$` is `$`), as
/// the regex crate expands them, cut to at most [`MAX_NAME_CHARS`] characters.
fn expand(template: &str, caps: &Captures<'_>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let (name, after) = if let Some(inner) = rest.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (&inner[..end], &inner[end + 1..]),
                None => {
                    out.push('$');
                    continue;
                }
            }
        } else {
            let end = rest
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                .unwrap_or(rest.len());
            if end == 0 {
                out.push('$');
                continue;
            }
            (&rest[..end], &rest[end..])
        };
        let value = match name.parse::<usize>() {
            Ok(i) => caps.get(i),
            Err(_) => caps.name(name),
        };
        if let Some(m) = value {
            out.push_str(m.as_str());
        }
        rest = after;
        if out.len() > MAX_NAME_CHARS * 4 {
            break;
        }
    }
    out.push_str(rest);
    crate::text::clip(&out, MAX_NAME_CHARS)
}
