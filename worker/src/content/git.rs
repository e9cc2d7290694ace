//! Local checkouts read through the `git` command line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::ContentSource;
use crate::WorkerError;

/// One checkout per repository (`owner/repo=PATH`).
#[derive(Debug, Clone, Default)]
pub struct GitCheckouts {
    roots: BTreeMap<String, PathBuf>,
}

impl GitCheckouts {
    /// Parses `owner/repo=PATH` specs; each path must be a git work tree or repository.
    pub fn parse(specs: &[String]) -> Result<Self, WorkerError> {
        let mut roots = BTreeMap::new();
        for spec in specs {
            let (repo, path) = spec.split_once('=').ok_or_else(|| {
                WorkerError::invalid(format!("--repo-root {spec:?}: expected owner/repo=PATH"))
            })?;
            coderipple_core::webhook::validate_repo(repo)
                .map_err(|e| WorkerError::invalid(format!("--repo-root {spec:?}: {e}")))?;
            let path = PathBuf::from(path);
            if !path.join(".git").exists() && !path.join("HEAD").exists() {
                return Err(WorkerError::invalid(format!(
                    "--repo-root {spec:?}: {} is not a git checkout",
                    path.display()
                )));
            }
            roots.insert(repo.to_owned(), path);
        }
        Ok(Self { roots })
    }

    /// Whether no checkout is configured.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    fn root(&self, repo: &str) -> Result<&Path, WorkerError> {
        self.roots
            .get(repo)
            .map(PathBuf::as_path)
            .ok_or_else(|| WorkerError::invalid(format!("no checkout for {repo}")))
    }
}

async fn output(root: &Path, args: &[&str]) -> Result<std::process::Output, WorkerError> {
    tokio::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| WorkerError::transient(format!("cannot run git: {e}")))
}

/// Runs `git -C root args…`; `Ok(None)` when git exits non-zero (an unknown object).
pub async fn git(root: &Path, args: &[&str]) -> Result<Option<Vec<u8>>, WorkerError> {
    let out = output(root, args).await?;
    Ok(out.status.success().then_some(out.stdout))
}

/// Like [`git`], but a failure is an error naming the command.
pub async fn git_ok(root: &Path, args: &[&str]) -> Result<String, WorkerError> {
    let out = output(root, args).await?;
    if !out.status.success() {
        return Err(WorkerError::invalid(format!(
            "git {} in {}: {}",
            args.join(" "),
            root.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    String::from_utf8(out.stdout)
        .map_err(|e| WorkerError::invalid(format!("git {}: not UTF-8: {e}", args.join(" "))))
}

#[async_trait]
impl ContentSource for GitCheckouts {
    fn covers(&self, repo: &str) -> bool {
        self.roots.contains_key(repo)
    }

    async fn blob_id(
        &self,
        repo: &str,
        commit: &str,
        path: &str,
    ) -> Result<Option<String>, WorkerError> {
        let spec = format!("{commit}:{path}");
        let out = git(
            self.root(repo)?,
            &["rev-parse", "--verify", "--quiet", &spec],
        )
        .await?;
        Ok(out
            .map(|o| String::from_utf8_lossy(&o).trim().to_owned())
            .filter(|s| !s.is_empty()))
    }

    async fn read_blob(&self, repo: &str, blob: &str) -> Result<Vec<u8>, WorkerError> {
        git(self.root(repo)?, &["cat-file", "blob", blob])
            .await?
            .ok_or_else(|| WorkerError::invalid(format!("blob {blob} of {repo} unreadable")))
    }
}
