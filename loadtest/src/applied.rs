//! A repository's applied commits as the pipeline publishes them: `coderipple status --json
//! --repo R…` (the documented read API: each repository's state version and the commits its
//! docs hold, in the order they were applied). The tester reads them through the binary, as
//! any outside check would, never through the worker's state layout.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;

use anyhow::{Context, bail};
use serde::Deserialize;

/// Repositories asked about per `coderipple status` call (bounds the argument list).
const REPOS_PER_CALL: usize = 100;

/// Reads applied commits with a `coderipple` binary against one backend.
#[derive(Debug, Clone)]
pub struct AppliedReader {
    /// The `coderipple` binary.
    pub bin: PathBuf,
    /// What selects the backend (`--backend sqlite --data-dir D`, or `--backend aws` with the
    /// inherited `AWS_*` / `CODERIPPLE_*` environment).
    pub args: Vec<OsString>,
}

#[derive(Debug, Deserialize)]
struct Report {
    repos: HashMap<String, RepoReport>,
}

#[derive(Debug, Deserialize)]
struct RepoReport {
    applied_commits: Vec<String>,
}

impl AppliedReader {
    /// Each of `repos`' applied commits, oldest first (empty for a repository without state).
    pub async fn read(&self, repos: &[&str]) -> anyhow::Result<HashMap<String, Vec<String>>> {
        let mut all = HashMap::new();
        for chunk in repos.chunks(REPOS_PER_CALL) {
            let mut cmd = tokio::process::Command::new(&self.bin);
            cmd.arg("status").arg("--json").args(&self.args);
            for repo in chunk {
                cmd.arg("--repo").arg(repo);
            }
            let out = cmd
                .stdin(Stdio::null())
                .stderr(Stdio::piped())
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .output()
                .await
                .with_context(|| format!("cannot run {}", self.bin.display()))?;
            if !out.status.success() {
                bail!(
                    "{} status --repo …: {}",
                    self.bin.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            let report: Report = serde_json::from_slice(&out.stdout)
                .context("`coderipple status --json --repo` answered something else")?;
            all.extend(
                report
                    .repos
                    .into_iter()
                    .map(|(repo, r)| (repo, r.applied_commits)),
            );
        }
        Ok(all)
    }
}
