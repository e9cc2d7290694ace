//! GitHub's Git Data API as the two GitHub strategies use it: read a branch's head and the
//! blobs under the docs path, write a tree holding only the files that differ (contents
//! inline, so no blob calls), a commit, and move (or create) the branch.
//!
//! "Differ" is decided by git's own blob ids: each doc's id is computed here
//! (`sha1("blob <len>\0" + bytes)`) and compared with the tree's regular files (`100644`), so
//! an unchanged docs tree costs reads only, never a write.
//!
//! Whatever anyone committed at a doc's path is replaced by a regular file, never followed: a
//! symlink (`120000`), an executable or a submodule at the path is rewritten; one where a
//! folder of the path must be (the docs folder itself, one of its parents, or a folder inside
//! it) is replaced by a folder built afresh, since GitHub cannot put a file under a file.

use std::collections::HashMap;

use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use coderipple_core::WorkerError;
use coderipple_engine::DocFile;
use coderipple_github::{GitHubApi, Method};

/// A ref update GitHub refused because the branch is not where we read it (someone pushed
/// meanwhile, or created it): start again from its new head.
#[derive(Debug)]
pub(super) struct Moved;

/// A regular file's mode; a folder's.
const REGULAR: &str = "100644";
const FOLDER: &str = "040000";

/// What a tree holds under the docs folder.
#[derive(Debug, Default)]
pub(super) struct Existing {
    /// Regular files (`100644`), by path relative to the docs folder → blob id.
    files: HashMap<String, String>,
    /// Every other entry that is not a folder (symlinks, executables, submodules).
    others: Vec<Entry>,
    /// The first point of the docs folder's own path (from the root, e.g. `docs`) that is not
    /// a folder: nothing of the tree under the docs folder is then readable or kept.
    blocked: Option<String>,
}

/// A tree entry that is not a regular file nor a folder.
#[derive(Debug)]
struct Entry {
    path: String,
    mode: String,
    kind: String,
    sha: String,
}

impl Existing {
    /// Whether a non-folder stands where a folder of one of `files` goes.
    fn blocks(&self, files: &[DocFile]) -> bool {
        self.others
            .iter()
            .map(|e| &e.path)
            .chain(self.files.keys())
            .any(|p| files.iter().any(|f| under(&f.path, p)))
    }
}

/// Whether `path` lies inside the folder `folder`.
fn under(path: &str, folder: &str) -> bool {
    path.strip_prefix(folder)
        .is_some_and(|rest| rest.starts_with('/'))
}

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

    /// What `tree` holds under `dir`: its regular files, everything else that is not a
    /// folder, or the point of `dir`'s path that is not a folder.
    pub async fn existing(&self, tree: &str, dir: &str) -> Result<Existing, WorkerError> {
        let mut sha = tree.to_owned();
        let mut walked = String::new();
        for segment in dir.split('/').filter(|s| !s.is_empty()) {
            walked.push_str(segment);
            let listing = self.tree(&sha, false).await?;
            let entry = listing["tree"]
                .as_array()
                .and_then(|entries| entries.iter().find(|e| e["path"] == segment).cloned());
            match entry {
                Some(e) if e["type"] == "tree" => match e["sha"].as_str() {
                    Some(next) => sha = next.to_owned(),
                    None => return Err(self.unreadable("a tree entry", "sha")),
                },
                // A symlink, a file or a submodule where the docs folder goes.
                Some(_) => {
                    return Ok(Existing {
                        blocked: Some(walked),
                        ..Existing::default()
                    });
                }
                None => return Ok(Existing::default()),
            }
            walked.push('/');
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
        let mut out = Existing::default();
        for e in listing["tree"].as_array().into_iter().flatten() {
            let (Some(kind), Some(mode), Some(path), Some(sha)) = (
                e["type"].as_str(),
                e["mode"].as_str(),
                e["path"].as_str(),
                e["sha"].as_str(),
            ) else {
                continue;
            };
            match (kind, mode) {
                ("tree", _) => {}
                ("blob", REGULAR) => {
                    out.files.insert(path.to_owned(), sha.to_owned());
                }
                _ => out.others.push(Entry {
                    path: path.to_owned(),
                    mode: mode.to_owned(),
                    kind: kind.to_owned(),
                    sha: sha.to_owned(),
                }),
            }
        }
        Ok(out)
    }

    /// The docs of `files` that differ from `existing`'s regular files (a doc whose path holds
    /// a symlink differs, whatever the link's blob).
    pub fn changed<'f>(files: &'f [DocFile], existing: &Existing) -> Vec<&'f DocFile> {
        files
            .iter()
            .filter(|f| existing.files.get(&f.path) != Some(&blob_id(f.contents.as_bytes())))
            .collect()
    }

    /// A commit on `parent` whose tree is its tree with `files` written under `dir` as
    /// regular files, where `existing` is what the parent holds there.
    pub async fn commit(
        &self,
        parent: &Head,
        dir: &str,
        files: &[DocFile],
        existing: &Existing,
        message: &str,
        identity: &(String, String),
    ) -> Result<String, WorkerError> {
        let inline = |path: String, f: &DocFile| json!({"path": path, "mode": REGULAR, "type": "blob", "content": f.contents});
        let request = if let Some(blocked) = &existing.blocked {
            // The docs cannot go under a non-folder: a folder built afresh replaces it.
            let below = dir[blocked.len()..].trim_start_matches('/');
            let entries: Vec<Value> = files
                .iter()
                .map(|f| inline(format!("{below}{}", f.path), f))
                .collect();
            let fresh = self.new_tree(None, entries).await?;
            json!({"base_tree": parent.tree,
                   "tree": [{"path": blocked, "mode": FOLDER, "type": "tree", "sha": fresh}]})
        } else if existing.blocks(files) {
            // A non-folder where a folder inside the docs folder goes: the docs folder is
            // built afresh, with everything else it held kept.
            let mut entries: Vec<Value> = existing
                .files
                .iter()
                .map(|(path, sha)| (path, REGULAR, "blob", sha))
                .chain(
                    existing
                        .others
                        .iter()
                        .map(|e| (&e.path, e.mode.as_str(), e.kind.as_str(), &e.sha)),
                )
                .filter(|(path, ..)| !files.iter().any(|f| f.path == **path || under(&f.path, path)))
                .map(|(path, mode, kind, sha)| json!({"path": path, "mode": mode, "type": kind, "sha": sha}))
                .collect();
            entries.extend(files.iter().map(|f| inline(f.path.clone(), f)));
            let fresh = self.new_tree(None, entries).await?;
            match dir.trim_end_matches('/') {
                "" => return self.new_commit(parent, &fresh, message, identity).await,
                folder => json!({"base_tree": parent.tree,
                                 "tree": [{"path": folder, "mode": FOLDER, "type": "tree", "sha": fresh}]}),
            }
        } else {
            let entries: Vec<Value> = Self::changed(files, existing)
                .into_iter()
                .map(|f| inline(format!("{dir}{}", f.path), f))
                .collect();
            json!({"base_tree": parent.tree, "tree": entries})
        };
        let tree = self
            .must_post(&format!("/repos/{}/git/trees", self.repo), &request)
            .await?;
        let tree = tree["sha"]
            .as_str()
            .ok_or_else(|| self.unreadable("the new tree", "sha"))?;
        self.new_commit(parent, tree, message, identity).await
    }

    /// A tree of `entries` (on `base`, if any); its id.
    async fn new_tree(
        &self,
        base: Option<&str>,
        entries: Vec<Value>,
    ) -> Result<String, WorkerError> {
        let mut request = json!({"tree": entries});
        if let Some(base) = base {
            request["base_tree"] = json!(base);
        }
        let tree = self
            .must_post(&format!("/repos/{}/git/trees", self.repo), &request)
            .await?;
        tree["sha"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| self.unreadable("the new tree", "sha"))
    }

    /// A commit of `tree` on `parent`; its id.
    async fn new_commit(
        &self,
        parent: &Head,
        tree: &str,
        message: &str,
        identity: &(String, String),
    ) -> Result<String, WorkerError> {
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
            coderipple_github::Refusal {
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
pub(super) fn ref_path(branch: &str) -> String {
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
        let existing = Existing {
            files: HashMap::from([
                ("a.md".to_owned(), blob_id(b"hello\n")),
                ("b.md".to_owned(), blob_id(b"old")),
            ]),
            ..Existing::default()
        };
        let changed = GitData::changed(&files, &existing);
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].path, "b.md");
        assert_eq!(GitData::changed(&files, &Existing::default()).len(), 2);
        // A symlink whose blob is the doc's own bytes is still rewritten as a file.
        let linked = Existing {
            others: vec![Entry {
                path: "a.md".into(),
                mode: "120000".into(),
                kind: "blob".into(),
                sha: blob_id(b"hello\n"),
            }],
            ..Existing::default()
        };
        assert_eq!(GitData::changed(&files, &linked).len(), 2);
        assert!(!linked.blocks(&files));
        let folder = DocFile {
            path: "a.md/inner.md".into(),
            contents: String::new(),
        };
        assert!(linked.blocks(&[folder]));
    }

    #[test]
    fn branch_names_are_one_segment() {
        assert_eq!(ref_path("coderipple/docs"), "heads%2Fcoderipple%2Fdocs");
    }
}
