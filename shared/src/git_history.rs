//! A repository's first-parent history as envelope [`Commit`]s, read with `git log` from a
//! checkout: what the worker's bootstrap imports and the load tester replays. Oldest first;
//! each commit carries its paths against its first parent (a merge lists what it brought).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::envelope::Commit;
use crate::error::{Error, Result};

/// The first-parent history of `root`'s HEAD, oldest first. `git` runs under `timeout`
/// (killed when it is reached: [`Error::Unavailable`]); a failing `git` (not a repository,
/// no commits) is [`Error::BadRequest`] with its message.
pub async fn first_parent_commits(root: &Path, timeout: Duration) -> Result<Vec<Commit>> {
    let args = [
        "-c",
        "core.quotepath=off",
        "log",
        "--first-parent",
        "--diff-merges=first-parent",
        "--reverse",
        "--root",
        "--no-renames",
        "--name-status",
        "--format=%x1e%H%x1f%an%x1f%aI%x1f%B%x1f",
        "HEAD",
    ];
    let child = tokio::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::Unavailable(format!("cannot run git: {e}")))?;
    let out = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| {
            Error::Unavailable(format!(
                "git log in {} did not finish within {} s",
                root.display(),
                timeout.as_secs()
            ))
        })?
        .map_err(|e| Error::Unavailable(format!("git log in {}: {e}", root.display())))?;
    if !out.status.success() {
        return Err(Error::BadRequest(format!(
            "git log in {}: {}",
            root.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let log = String::from_utf8(out.stdout)
        .map_err(|e| Error::Corrupt(format!("git log in {}: not UTF-8: {e}", root.display())))?;
    parse_log(&log)
}

/// Parses `git log --name-status` output in the format [`first_parent_commits`] asks for.
pub fn parse_log(log: &str) -> Result<Vec<Commit>> {
    let mut commits = Vec::new();
    for record in log.split('\x1e').filter(|r| !r.trim().is_empty()) {
        let mut fields = record.splitn(5, '\x1f');
        let (Some(sha), Some(author), Some(date), Some(message), Some(files)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return Err(Error::Corrupt(format!(
                "unexpected git log record: {:?}",
                record.chars().take(80).collect::<String>()
            )));
        };
        let mut commit = Commit {
            id: sha.trim().to_owned(),
            message: message.trim().to_owned(),
            author: author.to_owned(),
            timestamp: date.to_owned(),
            added: Vec::new(),
            modified: Vec::new(),
            removed: Vec::new(),
        };
        for line in files.lines().filter(|l| !l.is_empty()) {
            let Some((status, path)) = line.split_once('\t') else {
                continue;
            };
            let list = match status.chars().next() {
                Some('A') | Some('C') => &mut commit.added,
                Some('D') => &mut commit.removed,
                _ => &mut commit.modified,
            };
            list.push(path.to_owned());
        }
        commits.push(commit);
    }
    Ok(commits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_log_records_become_commits() {
        let log = "\x1eaaaa\x1fMona\x1f2026-01-02T03:04:05+00:00\x1ffeat: x\n\nbody\n\x1f\n\nA\tsrc/a.rs\nM\tREADME.md\nD\told.txt\nT\tlink\n\x1ebbbb\x1fHubot\x1f2026-01-03T00:00:00+00:00\x1fchore: empty\n\x1f\n";
        let commits = parse_log(log).unwrap();
        assert_eq!(commits.len(), 2);
        assert_eq!(commits[0].message, "feat: x\n\nbody");
        assert_eq!(commits[0].added, ["src/a.rs"]);
        assert_eq!(commits[0].modified, ["README.md", "link"]);
        assert_eq!(commits[0].removed, ["old.txt"]);
        assert!(commits[1].added.is_empty() && commits[1].author == "Hubot");
        assert!(parse_log("\x1ebroken").is_err());
    }

    #[tokio::test]
    async fn a_directory_that_is_no_repository_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = first_parent_commits(dir.path(), Duration::from_secs(30))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "{err:?}");
        assert!(err.to_string().contains("git log in"), "{err}");
    }
}
