//! Where docs are published: the strategy, the remotes, the branch, the path, the author.

use std::collections::BTreeMap;
use std::time::Duration;

use coderipple_core::webhook::validate_repo;

pub(super) use crate::vars::config;
use crate::vars::whole_number;
use coderipple_core::WorkerError;

/// `CODERIPPLE_DOC_STRATEGY`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DocStrategy {
    /// Docs stay in the store (the data dir or S3).
    #[default]
    Store,
    /// Docs are committed and pushed to a git remote with the git CLI.
    Git,
    /// One commit per change set onto a branch through GitHub's Git Data API.
    GitHubDirect,
    /// A standing pull request through GitHub's API.
    GitHubPr,
}

impl DocStrategy {
    /// The name `CODERIPPLE_DOC_STRATEGY` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Store => "store",
            Self::Git => "git",
            Self::GitHubDirect => "github_direct",
            Self::GitHubPr => "github_pr",
        }
    }

    /// Parses a strategy name.
    pub fn parse(raw: &str) -> Result<Self, WorkerError> {
        match raw.trim() {
            "store" | "" => Ok(Self::Store),
            "git" => Ok(Self::Git),
            "github_direct" => Ok(Self::GitHubDirect),
            "github_pr" => Ok(Self::GitHubPr),
            other => Err(config(format!(
                "CODERIPPLE_DOC_STRATEGY must be `store`, `git`, `github_direct` or `github_pr`, got {other:?}"
            ))),
        }
    }
}

/// A commit author and committer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
}

impl Identity {
    /// Parses `Name <email>`.
    pub fn parse(raw: &str) -> Result<Self, WorkerError> {
        let bad = || {
            config(format!(
                "CODERIPPLE_DOCS_AUTHOR must be `Name <email>`, got {raw:?}"
            ))
        };
        let (name, rest) = raw.split_once('<').ok_or_else(bad)?;
        let email = rest.strip_suffix('>').ok_or_else(bad)?.trim();
        let name = name.trim();
        if name.is_empty() || email.is_empty() || !email.contains('@') {
            return Err(bad());
        }
        if raw.chars().any(char::is_control) {
            return Err(bad());
        }
        Ok(Self {
            name: name.into(),
            email: email.into(),
        })
    }
}

impl Default for Identity {
    fn default() -> Self {
        Self {
            name: "CodeRipple".into(),
            email: "coderipple@users.noreply.github.com".into(),
        }
    }
}

/// Publishing settings (see `docs/publishing.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishConfig {
    /// The strategy.
    pub strategy: DocStrategy,
    /// `owner/repo` → git remote URL (`git` strategy).
    pub remotes: BTreeMap<String, String>,
    /// The branch docs are committed to (`CODERIPPLE_DOCS_BRANCH`); unset: `coderipple/docs`
    /// (`git`, `github_pr`) or the repository's default branch (`github_direct`).
    pub branch: Option<String>,
    /// Where the docs go inside the repository (`CODERIPPLE_DOCS_PATH`), ending in `/`.
    pub path: String,
    /// Author and committer (`CODERIPPLE_DOCS_AUTHOR`); unset: the GitHub App's bot
    /// account with the GitHub strategies, else [`Identity::default`].
    pub author: Option<Identity>,
    /// Longest one git command may take (`CODERIPPLE_DOCS_GIT_TIMEOUT_SECS`).
    pub git_timeout: Duration,
    /// The first retry's delay (`CODERIPPLE_DOCS_RETRY_MS`).
    pub retry_delay: Duration,
    /// How often long-running workers publish pending repositories again
    /// (`CODERIPPLE_DOCS_REPUBLISH_EVERY_SECS`; 0: never).
    pub republish_every: Duration,
}

impl Default for PublishConfig {
    fn default() -> Self {
        Self {
            strategy: DocStrategy::Store,
            remotes: BTreeMap::new(),
            branch: None,
            path: "docs/coderipple/".into(),
            author: None,
            git_timeout: Duration::from_secs(120),
            retry_delay: Duration::from_secs(1),
            republish_every: Duration::from_secs(300),
        }
    }
}

impl PublishConfig {
    /// From `CODERIPPLE_DOC_STRATEGY`, `CODERIPPLE_DOCS_REMOTES` (`a/b=URL,c/d=URL`) plus
    /// `extra_remotes` (`--docs-remote a/b=URL`), `CODERIPPLE_DOCS_BRANCH`,
    /// `CODERIPPLE_DOCS_PATH`, `CODERIPPLE_DOCS_AUTHOR`, `CODERIPPLE_DOCS_GIT_TIMEOUT_SECS`
    /// and `CODERIPPLE_DOCS_RETRY_MS`.
    pub fn from_env(
        lookup: impl Fn(&str) -> Option<String>,
        extra_remotes: &[String],
    ) -> Result<Self, WorkerError> {
        let d = Self::default();
        let mut remotes = BTreeMap::new();
        let listed = lookup("CODERIPPLE_DOCS_REMOTES").unwrap_or_default();
        for spec in listed
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .chain(extra_remotes.iter().map(String::as_str))
        {
            let (repo, url) = parse_remote(spec)?;
            remotes.insert(repo, url);
        }
        let strategy = match lookup("CODERIPPLE_DOC_STRATEGY") {
            Some(raw) => DocStrategy::parse(&raw)?,
            // Remotes given on the command line mean the git strategy.
            None if !remotes.is_empty() => DocStrategy::Git,
            None => DocStrategy::Store,
        };
        let number = |name: &str, default: u64| whole_number(&lookup, name, default);
        let out = Self {
            strategy,
            remotes,
            branch: lookup("CODERIPPLE_DOCS_BRANCH").filter(|b| !b.trim().is_empty()),
            path: normalized_path(&lookup("CODERIPPLE_DOCS_PATH").unwrap_or(d.path))?,
            author: match lookup("CODERIPPLE_DOCS_AUTHOR") {
                Some(raw) => Some(Identity::parse(&raw)?),
                None => d.author,
            },
            git_timeout: Duration::from_secs(
                number("CODERIPPLE_DOCS_GIT_TIMEOUT_SECS", d.git_timeout.as_secs())?.max(1),
            ),
            retry_delay: Duration::from_millis(number(
                "CODERIPPLE_DOCS_RETRY_MS",
                d.retry_delay.as_millis() as u64,
            )?),
            republish_every: Duration::from_secs(number(
                "CODERIPPLE_DOCS_REPUBLISH_EVERY_SECS",
                d.republish_every.as_secs(),
            )?),
        };
        if let Some(branch) = &out.branch {
            check_branch(branch)?;
        }
        if out.strategy == DocStrategy::Git && out.remotes.is_empty() {
            return Err(config(
                "CODERIPPLE_DOC_STRATEGY=git needs remotes: CODERIPPLE_DOCS_REMOTES=owner/repo=URL \
                 or --docs-remote owner/repo=URL",
            ));
        }
        Ok(out)
    }

    /// The docs branch of the `git` and `github_pr` strategies.
    pub fn docs_branch(&self) -> &str {
        self.branch.as_deref().unwrap_or("coderipple/docs")
    }
}

/// `owner/repo=URL`.
fn parse_remote(spec: &str) -> Result<(String, String), WorkerError> {
    let (repo, url) = spec
        .split_once('=')
        .ok_or_else(|| config(format!("a docs remote is `owner/repo=URL`, got {spec:?}")))?;
    let (repo, url) = (repo.trim(), url.trim());
    validate_repo(repo).map_err(|e| config(format!("docs remote {spec:?}: {e}")))?;
    if url.is_empty() || url.starts_with('-') || url.chars().any(char::is_control) {
        return Err(config(format!(
            "docs remote of {repo}: not a git URL: {:?}",
            super::credentials::redact(url)
        )));
    }
    super::credentials::Remote::parse(url)
        .map_err(|reason| config(format!("docs remote of {repo}: {reason}")))?;
    Ok((repo.into(), url.into()))
}

/// A relative path of plain segments, ending in `/` (empty = the repository root).
fn normalized_path(raw: &str) -> Result<String, WorkerError> {
    let trimmed = raw.trim().trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let ok = trimmed.split('/').all(|seg| {
        !seg.is_empty()
            && seg != "."
            && seg != ".."
            && seg != ".git"
            && !seg.chars().any(|c| c.is_control() || c == '\\')
    });
    if !ok {
        return Err(config(format!(
            "CODERIPPLE_DOCS_PATH must be a relative path inside the repository, got {raw:?}"
        )));
    }
    Ok(format!("{trimmed}/"))
}

/// A branch name git accepts (the subset of `git check-ref-format --branch` we allow).
fn check_branch(branch: &str) -> Result<(), WorkerError> {
    let ok = !branch.is_empty()
        && !branch.starts_with(['-', '/'])
        && !branch.ends_with(['/', '.'])
        && !branch.contains("..")
        && !branch.contains("//")
        && !branch.contains("@{")
        && !branch.ends_with(".lock")
        && branch
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    if ok {
        Ok(())
    } else {
        Err(config(format!(
            "CODERIPPLE_DOCS_BRANCH is not a valid branch name: {branch:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)], extra: &[&str]) -> Result<PublishConfig, WorkerError> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        let extra: Vec<String> = extra.iter().map(|s| (*s).into()).collect();
        PublishConfig::from_env(|k| vars.get(k).cloned(), &extra)
    }

    #[test]
    fn defaults_to_the_store_and_remotes_imply_git() {
        let c = from(&[], &[]).unwrap();
        assert_eq!(c.strategy, DocStrategy::Store);
        assert!(c.publishing(None).unwrap().is_none());
        let c = from(&[], &["o/r=file:///srv/r.git"]).unwrap();
        assert_eq!(c.strategy, DocStrategy::Git);
        assert_eq!(c.remotes["o/r"], "file:///srv/r.git");
        assert_eq!(
            (c.docs_branch(), c.path.as_str()),
            ("coderipple/docs", "docs/coderipple/")
        );
    }

    #[test]
    fn every_setting_is_read_and_checked() {
        let c = from(
            &[
                ("CODERIPPLE_DOC_STRATEGY", "git"),
                (
                    "CODERIPPLE_DOCS_REMOTES",
                    "a/b=https://h/a/b.git, c/d=git://h/c/d",
                ),
                ("CODERIPPLE_DOCS_BRANCH", "docs/live"),
                ("CODERIPPLE_DOCS_PATH", "/handbook/generated/"),
                ("CODERIPPLE_DOCS_AUTHOR", "Docs Bot <bot@example.com>"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(c.remotes.len(), 2);
        assert_eq!(c.path, "handbook/generated/");
        assert_eq!(c.author.unwrap().email, "bot@example.com");
        assert_eq!(c.branch.as_deref(), Some("docs/live"));
    }

    #[test]
    fn the_github_strategies_need_credentials() {
        for strategy in ["github_direct", "github_pr"] {
            let c = from(&[("CODERIPPLE_DOC_STRATEGY", strategy)], &[]).unwrap();
            assert_eq!(c.strategy.name(), strategy);
            let err = c.publishing(None).expect_err(strategy).to_string();
            assert!(err.contains("needs GitHub credentials"), "{err}");
        }
    }

    #[test]
    fn bad_settings_are_refused_with_the_variable_named() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
        let cases: &[Case] = &[
            (
                &[("CODERIPPLE_DOC_STRATEGY", "ftp")],
                &[],
                "CODERIPPLE_DOC_STRATEGY",
            ),
            (&[("CODERIPPLE_DOC_STRATEGY", "git")], &[], "needs remotes"),
            (&[], &["no-equals-sign"], "owner/repo=URL"),
            (&[], &["../x=file:///x"], "docs remote"),
            (&[], &["o/r=--upload-pack=evil"], "not a git URL"),
            (&[], &["o/r=https://bot:pa/ss@h/r.git"], "percent-encoded"),
            (
                &[("CODERIPPLE_DOCS_PATH", "../outside")],
                &["o/r=u"],
                "CODERIPPLE_DOCS_PATH",
            ),
            (
                &[("CODERIPPLE_DOCS_PATH", "a/.git/hooks")],
                &["o/r=u"],
                "CODERIPPLE_DOCS_PATH",
            ),
            (
                &[("CODERIPPLE_DOCS_BRANCH", "-f")],
                &["o/r=u"],
                "CODERIPPLE_DOCS_BRANCH",
            ),
            (
                &[("CODERIPPLE_DOCS_BRANCH", "a..b")],
                &["o/r=u"],
                "CODERIPPLE_DOCS_BRANCH",
            ),
            (
                &[("CODERIPPLE_DOCS_AUTHOR", "nobody")],
                &["o/r=u"],
                "CODERIPPLE_DOCS_AUTHOR",
            ),
        ];
        for (vars, extra, needle) in cases {
            let err = from(vars, extra).expect_err(needle).to_string();
            assert!(err.contains(needle), "{vars:?} {extra:?}: {err}");
            assert!(!err.contains("pa/ss"), "a password in an error: {err}");
        }
    }
}
