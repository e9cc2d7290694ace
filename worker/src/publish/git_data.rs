//! GitHub's Git Data API as the two GitHub strategies use it: read a branch's head and the
//! blobs under the docs path, write a tree holding only the files that differ (contents
//! inline, so no blob calls), a commit, and move (or create) the branch.
//!
//! "Differ" is decided by git's own blob ids: each doc's id is computed here
//! (`sha1("blob <len>\0" + bytes)`) and compared with the tree's, so an unchanged docs tree
//! costs reads only, never a write.

use std::collections::HashMap;

use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::WorkerError;
use crate::github::{GitHubApi, Method};
use crate::sink::DocFile;

/// A ref update GitHub refused because the branch is not where we read it (someone pushed
/// meanwhile, or created it): start again from its new head.
#[derive(Debug)]
pub(super) struct Moved;

/// One repository's Git Data, as its installation.
pub(super) struct GitData<'a> {
    pub api: &'a GitHubApi,
    pub repo: &'a str,
}

/// A commit as far as publishing cares.
#[derive(Debug, Clone)]
pub(super) struct Head {
    pub sha: String,
    pub tree: String,
}

impl GitData<'_> {
    /// The repository's default branch.
    pub async fn default_branch(&self) -> Result<String, WorkerError> {
        let about = self.must_get(&format!("/repos/{}", self.repo)).await?;
        about["default_branch"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| self.unreadable("the repository", "default_branch"))
    }

    /// The head of `branch` and its tree; `None` when the branch does not exist.
    pub async fn head(&self, branch: &str) -> Result<Option<Head>, WorkerError> {
        let path = format!("/repos/{}/git/ref/{}", self.repo, ref_path(branch));
        let Some(found) = self.api.get(self.repo, &path).await? else {
            return Ok(None);
        };
        let sha = found["object"]["sha"]
            .as_str()
            .ok_or_else(|| self.unreadable("the branch", "object.sha"))?
            .to_owned();
        let commit = self
            .must_get(&format!("/repos/{}/git/commits/{sha}", self.repo))
            .await?;
        let tree = commit["tree"]["sha"]
            .as_str()
            .ok_or_else(|| self.unreadable("the commit", "tree.sha"))?
            .to_owned();
        Ok(Some(Head { sha, tree }))
    }

    /// The blob ids of the files under `dir` (relative to it) in `tree`; empty when `dir`
    /// does not exist there.
    pub async fn blobs_under(
        &self,
        tree: &str,
        dir: &str,
    ) -> Result<HashMap<String, String>, WorkerError> {
        let mut sha = tree.to_owned();
        for segment in dir.split('/').filter(|s| !s.is_empty()) {
            let listing = self.tree(&sha, false).await?;
            let next = listing["tree"].as_array().and_then(|entries| {
                entries.iter().find_map(|e| {
                    (e["path"] == segment && e["type"] == "tree")
                        .then(|| e["sha"].as_str().map(str::to_owned))
                        .flatten()
                })
            });
            match next {
                Some(next) => sha = next,
                None => return Ok(HashMap::new()),
            }
        }
        let listing = self.tree(&sha, true).await?;
        if listing["truncated"] == true {
            return Err(WorkerError::Permanent {
                class: "publish",
                reason: format!(
                    "GitHub, {}: the docs folder {dir:?} holds more entries than one tree listing returns",
                    self.repo
                ),
            });
        }
        let mut out = HashMap::new();
        for e in listing["tree"].as_array().into_iter().flatten() {
            if let (Some("blob"), Some(path), Some(sha)) =
                (e["type"].as_str(), e["path"].as_str(), e["sha"].as_str())
            {
                out.insert(path.to_owned(), sha.to_owned());
            }
        }
        Ok(out)
    }

    /// The docs of `files` that differ from `existing` (blob ids by path).
    pub fn changed<'f>(
        files: &'f [DocFile],
        existing: &HashMap<String, String>,
    ) -> Vec<&'f DocFile> {
        files
            .iter()
            .filter(|f| existing.get(&f.path) != Some(&blob_id(f.contents.as_bytes())))
            .collect()
    }

    /// A commit on `parent` whose tree is `base_tree` with `files` written under `dir`.
    pub async fn commit(
        &self,
        parent: &Head,
        dir: &str,
        files: &[&DocFile],
        message: &str,
        identity: &(String, String),
    ) -> Result<String, WorkerError> {
        let entries: Vec<Value> = files
            .iter()
            .map(|f| {
                json!({"path": format!("{dir}{}", f.path), "mode": "100644", "type": "blob",
                       "content": f.contents})
            })
            .collect();
        let tree = self
            .must_post(
                &format!("/repos/{}/git/trees", self.repo),
                &json!({"base_tree": parent.tree, "tree": entries}),
            )
            .await?;
        let tree = tree["sha"]
            .as_str()
            .ok_or_else(|| self.unreadable("the new tree", "sha"))?;
        let who = json!({"name": identity.0, "email": identity.1,
                         "date": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)});
        let commit = self
            .must_post(
                &format!("/repos/{}/git/commits", self.repo),
                &json!({"message": message, "tree": tree, "parents": [parent.sha],
                        "author": who, "committer": who}),
            )
            .await?;
        commit["sha"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| self.unreadable("the new commit", "sha"))
    }

    /// Points `branch` at `commit`, where `read` is the head we built on (`None`: the branch
    /// did not exist, so it is created); a fast-forward unless `force`. A forced move reads
    /// the branch once more first, so a push that landed while we built is not replaced.
    /// A refusal (`422`) is [`Moved`] when the branch did move, and a permanent error when
    /// it did not (a protected branch, a ruleset, required signatures).
    pub async fn set_branch(
        &self,
        branch: &str,
        commit: &str,
        read: Option<&str>,
        force: bool,
    ) -> Result<Result<(), Moved>, WorkerError> {
        if force && self.head_sha(branch).await?.as_deref() != read {
            return Ok(Err(Moved));
        }
        let answer = if read.is_some() {
            let path = format!("/repos/{}/git/refs/{}", self.repo, ref_path(branch));
            let body = json!({"sha": commit, "force": force});
            self.api
                .send(self.repo, Method::PATCH, &path, Some(&body))
                .await?
        } else {
            let path = format!("/repos/{}/git/refs", self.repo);
            let body = json!({"ref": format!("refs/heads/{branch}"), "sha": commit});
            self.api
                .send(self.repo, Method::POST, &path, Some(&body))
                .await?
        };
        match answer {
            Ok(_) => Ok(Ok(())),
            Err(r) if r.status.as_u16() == 422 => {
                if self.head_sha(branch).await?.as_deref() != read {
                    // "Update is not a fast forward" / "Reference already exists".
                    return Ok(Err(Moved));
                }
                Err(WorkerError::Permanent {
                    class: "publish",
                    reason: format!(
                        "GitHub, {}: the branch {branch:?} may not be moved there (protected? a \
                         ruleset?): 422 {}",
                        self.repo, r.message
                    ),
                })
            }
            Err(r) => Err(r.into_error(self.repo)),
        }
    }

    /// The head of `branch` (no tree), `None` when it does not exist.
    async fn head_sha(&self, branch: &str) -> Result<Option<String>, WorkerError> {
        let path = format!("/repos/{}/git/ref/{}", self.repo, ref_path(branch));
        Ok(self
            .api
            .get(self.repo, &path)
            .await?
            .and_then(|r| r["object"]["sha"].as_str().map(str::to_owned)))
    }

    async fn tree(&self, sha: &str, recursive: bool) -> Result<Value, WorkerError> {
        let query = if recursive { "?recursive=1" } else { "" };
        self.must_get(&format!("/repos/{}/git/trees/{sha}{query}", self.repo))
            .await
    }

    /// `GET path`, where a 404 means the repository (or the App's access to it) is gone.
    pub async fn must_get(&self, path: &str) -> Result<Value, WorkerError> {
        self.api.get(self.repo, path).await?.ok_or_else(|| {
            crate::github::Refusal {
                status: reqwest::StatusCode::NOT_FOUND,
                message: format!("GET {path}"),
            }
            .into_error(self.repo)
        })
    }

    /// `POST path` with `body`; any refusal is an error.
    pub async fn must_post(&self, path: &str, body: &Value) -> Result<Value, WorkerError> {
        self.api
            .send(self.repo, Method::POST, path, Some(body))
            .await?
            .map_err(|r| r.into_error(self.repo))
    }

    fn unreadable(&self, what: &str, field: &str) -> WorkerError {
        WorkerError::transient(format!(
            "GitHub, {}: {what} came without `{field}`",
            self.repo
        ))
    }
}

/// `heads/<branch>` as one path segment (its `/`s escaped), as GitHub's refs endpoints take it.
fn ref_path(branch: &str) -> String {
    format!("heads/{branch}").replace('/', "%2F")
}

/// Git's blob id of `bytes`.
pub(super) fn blob_id(bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_ids_are_gits() {
        // `printf 'hello\n' | git hash-object --stdin`, and the empty blob
        assert_eq!(
            blob_id(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        assert_eq!(blob_id(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
    }

    #[test]
    fn only_differing_docs_are_written() {
        let files = vec![
            DocFile {
                path: "a.md".into(),
                contents: "hello\n".into(),
            },
            DocFile {
                path: "b.md".into(),
                contents: "new".into(),
            },
        ];
        let existing = HashMap::from([
            ("a.md".to_owned(), blob_id(b"hello\n")),
            ("b.md".to_owned(), blob_id(b"old")),
        ]);
        let changed = GitData::changed(&files, &existing);
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].path, "b.md");
        assert_eq!(GitData::changed(&files, &HashMap::new()).len(), 2);
    }

    #[test]
    fn branch_names_are_one_segment() {
        assert_eq!(ref_path("coderipple/docs"), "heads%2Fcoderipple%2Fdocs");
    }
}
