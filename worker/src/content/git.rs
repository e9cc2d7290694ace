//! Local checkouts read through the `git` command line.
//!
//! Every git process runs under a timeout ([`GIT_TIMEOUT`] by default) and is killed when it
//! passes it. Objects are looked up with `git cat-file --batch-check` (the name on stdin, never
//! in argv), which tells a missing object apart from a failing git: a path, commit or blob the
//! checkout lacks is skipped (`None`), as a checkout that is behind is expected; a git that
//! fails, hangs or cannot run is a transient error, so the message is retried rather than
//! dead-lettered or analysed without its files. A blob's size is checked before it is read:
//! one over [`MAX_FILE_BYTES`] is skipped unread.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;

use super::{ContentSource, MAX_FILE_BYTES};
use coderipple_core::WorkerError;

/// How long one git process of the content source may run before it is killed (a hung
/// filesystem, a lock, a lazy fetch); the change set is then retried.
pub const GIT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one git process reading a whole history ([`git_ok`], bootstrap) may run.
pub const HISTORY_GIT_TIMEOUT: Duration = Duration::from_secs(600);

/// One checkout per repository (`owner/repo=PATH`).
#[derive(Debug, Clone)]
pub struct GitCheckouts {
    roots: BTreeMap<String, PathBuf>,
    timeout: Duration,
}

impl Default for GitCheckouts {
    fn default() -> Self {
        Self {
            roots: BTreeMap::new(),
            timeout: GIT_TIMEOUT,
        }
    }
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
        Ok(Self {
            roots,
            ..Self::default()
        })
    }

    /// The same checkouts with another timeout per git process (default [`GIT_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
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

    /// What the checkout of `repo` knows of the object `name` (`<commit>:<path>` or an id).
    async fn object(&self, repo: &str, name: &str) -> Result<Option<ObjectInfo>, WorkerError> {
        let root = self.root(repo)?;
        if name.is_empty() || name.contains(['\n', '\r', '\0']) {
            return Ok(None); // not a name batch-check can be asked about: nothing to read
        }
        let args = [
            "cat-file",
            "--batch-check=%(objectname) %(objecttype) %(objectsize)",
        ];
        let out = run(
            root,
            &args,
            Some(format!("{name}\n").as_bytes()),
            self.timeout,
        )
        .await?;
        if !out.status.success() {
            return Err(failed(root, &args, &out));
        }
        ObjectInfo::parse(&String::from_utf8_lossy(&out.stdout)).map_err(|line| {
            WorkerError::transient(format!(
                "git cat-file --batch-check in {}: unexpected answer {line:?}",
                root.display()
            ))
        })
    }
}

/// One line of `git cat-file --batch-check`, for an object that exists.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ObjectInfo {
    id: String,
    kind: String,
    size: u64,
}

impl ObjectInfo {
    /// `Ok(None)` for `<name> missing` (or `ambiguous`), the object's line otherwise.
    fn parse(stdout: &str) -> Result<Option<Self>, String> {
        let line = stdout.trim_end_matches(['\n', '\r']);
        if line.ends_with(" missing") || line.ends_with(" ambiguous") {
            return Ok(None);
        }
        let mut fields = line.split(' ');
        match (fields.next(), fields.next(), fields.next(), fields.next()) {
            (Some(id), Some(kind), Some(size), None)
                if !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                let size = size.parse().map_err(|_| line.to_owned())?;
                Ok(Some(Self {
                    id: id.to_owned(),
                    kind: kind.to_owned(),
                    size,
                }))
            }
            _ => Err(line.to_owned()),
        }
    }
}

/// Runs `git -C root args…` (with `stdin` as its input) to completion within `timeout`; the
/// process is killed when the timeout passes. Failing to run or to finish is transient.
async fn run(
    root: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output, WorkerError> {
    let what = || format!("git {} in {}", args.join(" "), root.display());
    let mut cmd = tokio::process::Command::new("git");
    cmd.arg("-C")
        .arg(root)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        // A partial clone would fetch a missing object over the network: a checkout that lacks
        // it lacks it.
        .env("GIT_NO_LAZY_FETCH", "1")
        .env("LC_ALL", "C")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let finished = async {
        let mut child = cmd
            .spawn()
            .map_err(|e| WorkerError::transient(format!("cannot run git: {e}")))?;
        // Written while the output is read: a long input whose answers fill the output
        // pipe would otherwise leave git and us each waiting for the other.
        let pipe = child.stdin.take();
        let write = async move {
            if let (Some(input), Some(mut pipe)) = (stdin, pipe) {
                pipe.write_all(input).await?;
            }
            Ok::<(), std::io::Error>(())
        };
        let (written, output) = tokio::join!(write, child.wait_with_output());
        written.map_err(|e| WorkerError::transient(format!("{}: stdin: {e}", what())))?;
        output.map_err(|e| WorkerError::transient(format!("{}: {e}", what())))
    };
    // Dropping the unfinished future drops the child, which kills it (`kill_on_drop`).
    tokio::time::timeout(timeout, finished)
        .await
        .unwrap_or_else(|_| {
            Err(WorkerError::transient(format!(
                "{} did not finish within {} s; killed",
                what(),
                timeout.as_secs_f64()
            )))
        })
}

/// A git that exited non-zero: transient, with its stderr.
fn failed(root: &Path, args: &[&str], out: &Output) -> WorkerError {
    WorkerError::transient(format!(
        "git {} in {} exited with {}: {}",
        args.join(" "),
        root.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}

/// Runs `git -C root args…` within [`HISTORY_GIT_TIMEOUT`]; a non-zero exit is an error
/// naming the command (bootstrap reads histories with it).
pub async fn git_ok(root: &Path, args: &[&str]) -> Result<String, WorkerError> {
    let out = run(root, args, None, HISTORY_GIT_TIMEOUT).await?;
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
        let found = self.object(repo, &format!("{commit}:{path}")).await?;
        // A tree or a submodule (a commit) at that path is not a file to read.
        Ok(found.filter(|o| o.kind == "blob").map(|o| o.id))
    }

    async fn read_blob(&self, repo: &str, blob: &str) -> Result<Option<Vec<u8>>, WorkerError> {
        let Some(info) = self.object(repo, blob).await? else {
            tracing::debug!(%blob, "blob not in the checkout; skipped");
            return Ok(None);
        };
        if info.kind != "blob" {
            return Ok(None);
        }
        if info.size > MAX_FILE_BYTES as u64 {
            tracing::debug!(%blob, size = info.size, "blob over the size cap; skipped unread");
            return Ok(None);
        }
        let root = self.root(repo)?;
        let args = ["cat-file", "blob", info.id.as_str()];
        let out = run(root, &args, None, self.timeout).await?;
        if !out.status.success() {
            return Err(failed(root, &args, &out));
        }
        Ok(Some(out.stdout))
    }

    async fn sizes(
        &self,
        repo: &str,
        commit: &str,
        paths: &[String],
    ) -> Result<BTreeMap<String, u64>, WorkerError> {
        let root = self.root(repo)?;
        // One `<commit>:<path>` a line; batch-check answers each line with exactly one.
        let names: Vec<&String> = paths
            .iter()
            .filter(|p| !p.is_empty() && !p.contains(['\n', '\r', '\0']))
            .collect();
        if names.is_empty() || commit.contains(['\n', '\r', '\0', ':']) {
            return Ok(BTreeMap::new());
        }
        let input: String = names.iter().map(|p| format!("{commit}:{p}\n")).collect();
        let args = [
            "cat-file",
            "--batch-check=%(objectname) %(objecttype) %(objectsize)",
        ];
        let out = run(root, &args, Some(input.as_bytes()), self.timeout).await?;
        if !out.status.success() {
            return Err(failed(root, &args, &out));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        if stdout.lines().count() != names.len() {
            return Err(WorkerError::transient(format!(
                "git cat-file --batch-check in {}: {} answers to {} names",
                root.display(),
                stdout.lines().count(),
                names.len()
            )));
        }
        let mut sizes = BTreeMap::new();
        for (path, line) in names.iter().zip(stdout.lines()) {
            if let Ok(Some(info)) = ObjectInfo::parse(line)
                && info.kind == "blob"
            {
                sizes.insert((*path).clone(), info.size);
            }
        }
        Ok(sizes)
    }
}

#[cfg(test)]
mod tests;
