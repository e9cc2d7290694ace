//! The `git` strategy: the docs tree committed with the git CLI and pushed to any remote
//! (GitHub, GitLab, Gitea, a bare repository on disk).
//!
//! Every publish starts from the remote as it is now, in a fresh temporary repository: the
//! docs branch's head (or, when the branch is missing, the head of the remote's default
//! branch, so the branch starts there; or nothing, for an empty remote). Nothing is ever
//! checked out: the start point's tree is read into the index, each doc is stored as a blob
//! and put in the index at its path as a regular file (`100644`), replacing whatever was
//! there — a symlink at the doc's path or at one of its folders included — and the commit is
//! made from the index. So no link anyone committed to the branch is ever followed on this
//! machine. A commit is made only when the tree differs. The push is never forced: whoever
//! else committed to the branch stays, under our commit. A push refused because the branch
//! moved meanwhile is redone from the new head.
//!
//! Credentials in an HTTP(S) URL never reach git's argv (see [`super::credentials`]).

use std::path::Path;
use std::process::Stdio;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;

use super::config::PublishConfig;
use super::credentials::Remote;
pub(crate) use super::credentials::redact;
use super::{Published, Publisher};
use coderipple_core::WorkerError;
use coderipple_engine::DocFile;

/// Rounds of "fetch, commit, push" when the branch keeps moving under us.
const ROUNDS: usize = 3;
/// Longest failure text kept (characters).
const REASON_CHARS: usize = 400;

/// Publishes over git to the remote configured per repository.
#[derive(Debug, Clone)]
pub struct GitRemotes {
    config: PublishConfig,
}

impl GitRemotes {
    /// A publisher for `config`'s remotes.
    pub fn new(config: PublishConfig) -> Self {
        Self { config }
    }
}

#[async_trait]
impl Publisher for GitRemotes {
    fn strategy(&self) -> &'static str {
        "git"
    }

    fn target(&self, repo: &str) -> Option<String> {
        let url = self.config.remotes.get(repo)?;
        let shown = Remote::parse(url).map_or_else(|_| redact(url), |r| redact(&r.url));
        Some(format!("{shown} ({})", self.config.docs_branch()))
    }

    async fn publish(
        &self,
        repo: &str,
        files: &[DocFile],
        message: &str,
        _prose: Option<&str>,
    ) -> Result<Published, WorkerError> {
        let url = self
            .config
            .remotes
            .get(repo)
            .ok_or_else(|| WorkerError::invalid(format!("no docs remote for {repo}")))?;
        let remote = Remote::parse(url).map_err(|reason| WorkerError::Permanent {
            class: "config",
            reason: format!("the docs remote of {repo}: {reason}"),
        })?;
        for round in 1..=ROUNDS {
            let work = tempfile::tempdir()
                .map_err(|e| WorkerError::transient(format!("a temp dir for git: {e}")))?;
            let git = Git {
                dir: work.path(),
                config: &self.config,
                remote: &remote,
            };
            match git.publish_once(files, message).await {
                Err(Failure::Moved) if round < ROUNDS => {
                    tracing::info!(
                        round,
                        "the docs branch moved during the push; again from its new head"
                    );
                }
                Err(Failure::Moved) => {
                    return Err(WorkerError::transient(format!(
                        "the docs branch kept moving during {ROUNDS} pushes"
                    )));
                }
                Err(Failure::Error(e)) => return Err(e),
                Ok(done) => return Ok(done),
            }
        }
        unreachable!("the last round returns")
    }
}

enum Failure {
    /// The push was refused because the branch has commits we did not build on.
    Moved,
    Error(WorkerError),
}

impl From<WorkerError> for Failure {
    fn from(e: WorkerError) -> Self {
        Self::Error(e)
    }
}

struct Git<'a> {
    dir: &'a Path,
    config: &'a PublishConfig,
    remote: &'a Remote,
}

/// What `git ls-remote` says about the remote.
struct Heads {
    /// The docs branch's head, when it exists.
    branch: Option<String>,
    /// The default branch (`HEAD`'s target), when the remote has one.
    default: Option<String>,
}

impl Git<'_> {
    async fn publish_once(&self, files: &[DocFile], message: &str) -> Result<Published, Failure> {
        let url = self.remote.url.as_str();
        self.run(&["init", "-q"], None).await?;
        let heads = self.heads().await?;
        let base = match (&heads.branch, &heads.default) {
            (Some(_), _) => Some(format!("refs/heads/{}", self.config.docs_branch())),
            (None, Some(default)) => Some(default.clone()),
            (None, None) => None,
        };
        let parent = match base {
            Some(base) => {
                self.run(&["fetch", "-q", "--depth=1", "--", url, &base], None)
                    .await?;
                let parent = self
                    .run(&["rev-parse", "FETCH_HEAD^{commit}"], None)
                    .await?;
                let parent = parent.trim().to_owned();
                // Into the index only: nothing is written to the work tree.
                self.run(&["read-tree", &parent], None).await?;
                Some(parent)
            }
            None => None,
        };
        self.stage(files).await?;
        let tree = self.run(&["write-tree"], None).await?.trim().to_owned();
        let unchanged = match &parent {
            Some(parent) => {
                let spec = format!("{parent}^{{tree}}");
                self.run(&["rev-parse", &spec], None).await?.trim() == tree
            }
            None => files.is_empty(),
        };
        if unchanged {
            return Ok(Published::Unchanged);
        }
        let mut commit_tree = vec!["commit-tree", tree.as_str()];
        if let Some(parent) = &parent {
            commit_tree.extend(["-p", parent.as_str()]);
        }
        commit_tree.extend(["-F", "-"]);
        let commit = self
            .run(&commit_tree, Some(message))
            .await?
            .trim()
            .to_owned();
        let dest = format!("{commit}:refs/heads/{}", self.config.docs_branch());
        match self.run(&["push", "-q", "--", url, &dest], None).await {
            Ok(_) => Ok(Published::Committed { commit }),
            Err(WorkerError::Permanent { reason, .. }) | Err(WorkerError::Transient(reason))
                if moved(&reason) =>
            {
                Err(Failure::Moved)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn heads(&self) -> Result<Heads, WorkerError> {
        let branch = format!("refs/heads/{}", self.config.docs_branch());
        let url = self.remote.url.as_str();
        let out = self
            .run(&["ls-remote", "--symref", "--", url, "HEAD", &branch], None)
            .await?;
        let (mut symref, mut head_exists, mut on_branch) = (None, false, None);
        for line in out.lines() {
            if let Some(target) = line.strip_prefix("ref: ") {
                if let Some((target, "HEAD")) = target.split_once('\t') {
                    symref = Some(target.to_owned());
                }
            } else if let Some((sha, name)) = line.split_once('\t') {
                if name == "HEAD" {
                    head_exists = true;
                } else if name == branch {
                    on_branch = Some(sha.to_owned());
                }
            }
        }
        Ok(Heads {
            branch: on_branch,
            // An empty remote may name an unborn default branch: nothing to start from.
            default: symref.filter(|_| head_exists),
        })
    }

    /// Stores every doc as a blob and puts it in the index as a regular file at its path
    /// under the docs path, replacing what is there (a symlink, or a file or symlink where a
    /// folder of the path must be). The blobs are hashed from files of our own, in a
    /// directory of our own, never from the work tree.
    async fn stage(&self, files: &[DocFile]) -> Result<(), WorkerError> {
        if files.is_empty() {
            return Ok(());
        }
        let mut paths = Vec::with_capacity(files.len());
        for file in files {
            file.checked_path()?;
            paths.push(format!("{}{}", self.config.path, file.path));
        }
        let blobs = tempfile::tempdir()
            .map_err(|e| WorkerError::transient(format!("a temp dir for the docs: {e}")))?;
        let dir = blobs.path().to_path_buf();
        let contents: Vec<Vec<u8>> = files.iter().map(|f| f.contents.clone().into()).collect();
        let listed = tokio::task::spawn_blocking(move || {
            let mut listed = String::new();
            for (i, bytes) in contents.iter().enumerate() {
                let path = dir.join(i.to_string());
                std::fs::write(&path, bytes)
                    .map_err(|e| WorkerError::transient(format!("write a doc blob: {e}")))?;
                listed.push_str(&format!("{}\n", path.display()));
            }
            Ok::<_, WorkerError>(listed)
        })
        .await
        .map_err(|e| WorkerError::transient(format!("doc blobs: {e}")))??;
        let hashed = self
            .run(
                &["hash-object", "-w", "--no-filters", "--stdin-paths"],
                Some(&listed),
            )
            .await?;
        let ids: Vec<&str> = hashed.lines().collect();
        if ids.len() != paths.len() {
            return Err(WorkerError::transient(format!(
                "git hash-object returned {} ids for {} docs",
                ids.len(),
                paths.len()
            )));
        }
        let entries: String = ids
            .iter()
            .zip(&paths)
            .map(|(id, path)| format!("100644 {id}\t{path}\0"))
            .collect();
        self.run(
            &["update-index", "--add", "--replace", "-z", "--index-info"],
            Some(&entries),
        )
        .await?;
        Ok(())
    }

    /// Runs `git args` (with `stdin`), returning its stdout.
    async fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<String, WorkerError> {
        let mut cmd = self.command(args);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = cmd
            .spawn()
            .map_err(|e| WorkerError::transient(format!("git {}: {e}", args[0])))?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes())
                .await
                .map_err(|e| WorkerError::transient(format!("git {}: {e}", args[0])))?;
        }
        let out = tokio::time::timeout(self.config.git_timeout, child.wait_with_output())
            .await
            .map_err(|_| self.timed_out(args))?
            .map_err(|e| WorkerError::transient(format!("git {}: {e}", args[0])))?;
        if !out.status.success() {
            return Err(self.failed(args, &out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("git");
        let who = self.config.author.clone().unwrap_or_default();
        cmd.current_dir(self.dir)
            // No prompt, no user or system config: the same behaviour on every machine.
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", &who.name)
            .env("GIT_AUTHOR_EMAIL", &who.email)
            .env("GIT_COMMITTER_NAME", &who.name)
            .env("GIT_COMMITTER_EMAIL", &who.email)
            // The credentials, if any, and the helper that hands them to git.
            .envs(self.remote.env())
            .args([
                "-c",
                "init.defaultBranch=main",
                "-c",
                "commit.gpgsign=false",
                "-c",
                "core.symlinks=false",
            ])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    fn timed_out(&self, args: &[&str]) -> WorkerError {
        WorkerError::transient(format!(
            "git {} on {} took longer than {} s",
            args[0],
            redact(&self.remote.url),
            self.config.git_timeout.as_secs()
        ))
    }

    fn failed(&self, args: &[&str], stderr: &[u8]) -> WorkerError {
        let text = redact(String::from_utf8_lossy(stderr).trim());
        let text: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(REASON_CHARS)
            .collect();
        let reason = format!("git {} on {}: {text}", args[0], redact(&self.remote.url));
        if transient(&text) {
            WorkerError::transient(reason)
        } else {
            WorkerError::Permanent {
                class: "publish",
                reason,
            }
        }
    }
}

/// The push was refused because the branch has commits we did not build on.
fn moved(stderr: &str) -> bool {
    stderr.contains("[rejected]")
        || stderr.contains("non-fast-forward")
        || stderr.contains("fetch first")
}

/// Failures that may pass on a retry: the network, the server's load.
fn transient(stderr: &str) -> bool {
    let lower = stderr.to_ascii_lowercase();
    [
        "could not resolve host",
        "connection refused",
        "connection timed out",
        "connection reset",
        "operation timed out",
        "early eof",
        "the remote end hung up unexpectedly",
        "returned error: 5",
        "returned error: 429",
        "temporarily unavailable",
        "unable to connect",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_failures_are_transient_and_refusals_are_not() {
        assert!(transient(
            "fatal: unable to access 'x': Could not resolve host: h"
        ));
        assert!(transient("fatal: unable to connect to 127.0.0.1:"));
        assert!(!transient("remote: Permission to o/r.git denied to bot."));
        assert!(!transient("fatal: repository 'x' not found"));
        assert!(moved(
            " ! [rejected]        HEAD -> coderipple/docs (fetch first)"
        ));
    }

    #[test]
    fn no_git_command_carries_the_remotes_credentials_in_its_argv() {
        let config = PublishConfig::default();
        let remote = Remote::parse("https://x-access-token:s3cr%2Ft@git.example.com/o/r.git")
            .expect("a remote");
        let dir = std::env::temp_dir();
        let git = Git {
            dir: &dir,
            config: &config,
            remote: &remote,
        };
        let url = remote.url.as_str();
        for args in [
            vec!["ls-remote", "--symref", "--", url, "HEAD"],
            vec!["fetch", "-q", "--depth=1", "--", url, "refs/heads/main"],
            vec!["push", "-q", "--", url, "abc:refs/heads/coderipple/docs"],
        ] {
            let cmd = git.command(&args);
            let argv: Vec<String> = cmd
                .as_std()
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            let line = argv.join(" ");
            assert!(!line.contains("s3cr"), "{line}");
            assert!(!line.contains("x-access-token"), "{line}");
            assert!(line.contains("https://git.example.com/o/r.git"), "{line}");
            let password = cmd
                .as_std()
                .get_envs()
                .find(|(k, _)| *k == "CODERIPPLE_GIT_PASSWORD")
                .and_then(|(_, v)| v.map(|v| v.to_string_lossy().into_owned()));
            assert_eq!(password.as_deref(), Some("s3cr/t"), "the helper's input");
        }
    }
}
