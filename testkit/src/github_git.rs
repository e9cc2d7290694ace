//! The stand-in's repositories: git objects (blobs with git's own ids, trees, commits),
//! branches, and pull requests, held in memory — enough for the Git Data API, comparisons
//! and pulls as the GitHub publishers use them, and for a test to act as a person (push a
//! commit, merge or close a pull request).

use std::collections::{BTreeMap, HashMap};

use sha1::{Digest, Sha1};

/// A commit author or committer.
pub type Person = (String, String);

/// One stored commit.
#[derive(Debug, Clone)]
pub struct StoredCommit {
    /// Its tree.
    pub tree: String,
    /// Its parents.
    pub parents: Vec<String>,
    /// Its message.
    pub message: String,
    /// Author (name, email).
    pub author: Person,
    /// Committer (name, email).
    pub committer: Person,
}

/// One pull request.
#[derive(Debug, Clone)]
pub struct StoredPull {
    /// Its number.
    pub number: u64,
    /// The branch it is from.
    pub head: String,
    /// The repository that branch is in (a fork's, for a fork's pull request).
    pub head_repo: String,
    /// The branch it is into.
    pub base: String,
    /// `open` or `closed`.
    pub state: String,
    /// Whether it was merged.
    pub merged: bool,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// What GitHub would say of merging it (`None`: not computed yet).
    pub mergeable: Option<bool>,
    /// Comments on it, oldest first.
    pub comments: Vec<String>,
}

/// Every repository's objects, branches and pull requests.
#[derive(Debug, Default)]
pub struct GitModel {
    blobs: HashMap<String, Vec<u8>>,
    /// Tree id → its entries (name → (mode, id)).
    trees: HashMap<String, BTreeMap<String, (String, String)>>,
    /// Commit id → the commit.
    pub commits: HashMap<String, StoredCommit>,
    /// (repository, branch) → head.
    pub refs: HashMap<(String, String), String>,
    /// (repository, branch) that refuse every update (a protected branch).
    pub protected: std::collections::HashSet<(String, String)>,
    /// Repository → its default branch.
    pub defaults: HashMap<String, String>,
    /// Repository → its pull requests.
    pub pulls: HashMap<String, Vec<StoredPull>>,
}

/// A regular file's mode; a symlink's; a folder's.
pub const REGULAR: &str = "100644";
/// A symlink's mode (its blob is the link's target).
pub const SYMLINK: &str = "120000";
const FOLDER: &str = "040000";

/// What an entry of `mode` is: `tree`, `commit` (a submodule) or `blob`.
pub fn kind_of(mode: &str) -> &'static str {
    match mode {
        FOLDER => "tree",
        "160000" => "commit",
        _ => "blob",
    }
}

fn hash(kind: &str, bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("{kind} {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex::encode(h.finalize())
}

/// Every entry that is not a folder, by path from a tree's root → (mode, id).
pub type Leaves = BTreeMap<String, (String, String)>;

impl GitModel {
    /// Stores `bytes` as a blob; its git id.
    pub fn put_blob(&mut self, bytes: &[u8]) -> String {
        let id = hash("blob", bytes);
        self.blobs.insert(id.clone(), bytes.to_vec());
        id
    }

    /// A blob's bytes.
    pub fn blob(&self, id: &str) -> Option<&[u8]> {
        self.blobs.get(id).map(Vec::as_slice)
    }

    /// Stores the tree of `leaves` and every subtree; the root's id.
    pub fn put_leaves(&mut self, leaves: &Leaves) -> String {
        let mut entries: BTreeMap<String, (String, String)> = BTreeMap::new();
        let mut dirs: BTreeMap<String, Leaves> = BTreeMap::new();
        for (path, leaf) in leaves {
            match path.split_once('/') {
                Some((dir, rest)) => {
                    dirs.entry(dir.to_owned())
                        .or_default()
                        .insert(rest.to_owned(), leaf.clone());
                }
                None => {
                    entries.insert(path.clone(), leaf.clone());
                }
            }
        }
        for (dir, sub) in dirs {
            let id = self.put_leaves(&sub);
            entries.insert(dir, (FOLDER.to_owned(), id));
        }
        let listing: String = entries
            .iter()
            .map(|(name, (mode, id))| format!("{mode} {name} {id}\n"))
            .collect();
        let id = hash("tree", listing.as_bytes());
        self.trees.insert(id.clone(), entries);
        id
    }

    /// A tree's entries (path from its root, mode, id), recursively or its own level.
    pub fn tree_entries(&self, id: &str, recursive: bool) -> Option<Vec<(String, String, String)>> {
        let entries = self.trees.get(id)?;
        let mut out = Vec::new();
        for (name, (mode, sha)) in entries {
            out.push((name.clone(), mode.clone(), sha.clone()));
            if recursive && mode == FOLDER {
                for (path, m, s) in self.tree_entries(sha, true)? {
                    out.push((format!("{name}/{path}"), m, s));
                }
            }
        }
        Some(out)
    }

    /// Every entry of a tree that is not a folder: path → (mode, id).
    pub fn leaves(&self, tree: &str) -> Leaves {
        self.tree_entries(tree, true)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, mode, _)| mode != FOLDER)
            .map(|(path, mode, sha)| (path, (mode, sha)))
            .collect()
    }

    /// Every blob of a tree (files and symlinks): path → blob id.
    pub fn files(&self, tree: &str) -> BTreeMap<String, String> {
        self.leaves(tree)
            .into_iter()
            .filter(|(_, (mode, _))| kind_of(mode) == "blob")
            .map(|(path, (_, sha))| (path, sha))
            .collect()
    }

    /// Stores a commit; its id.
    pub fn put_commit(&mut self, commit: StoredCommit) -> String {
        let text = format!(
            "tree {}\nparents {}\nauthor {:?}\ncommitter {:?}\n\n{}",
            commit.tree,
            commit.parents.join(" "),
            commit.author,
            commit.committer,
            commit.message
        );
        let id = hash("commit", text.as_bytes());
        self.commits.insert(id.clone(), commit);
        id
    }

    /// Commits reachable from `head`, newest first.
    pub fn history(&self, head: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut todo = vec![head.to_owned()];
        while let Some(id) = todo.pop() {
            if out.contains(&id) {
                continue;
            }
            if let Some(c) = self.commits.get(&id) {
                todo.extend(c.parents.iter().rev().cloned());
            }
            out.push(id);
        }
        out
    }

    /// A commit on `branch` of `repo` (made when missing) changing `files` (path → contents)
    /// as regular files, by `who`; its id.
    pub fn commit_files(
        &mut self,
        repo: &str,
        branch: &str,
        files: &[(&str, &str)],
        message: &str,
        who: &Person,
    ) -> String {
        let changes: Vec<(&str, &str, &str)> =
            files.iter().map(|(p, c)| (*p, REGULAR, *c)).collect();
        self.commit_leaves(repo, branch, &changes, message, who)
    }

    /// A commit on `branch` of `repo` (made when missing) setting each `(path, mode,
    /// contents)` — a symlink's contents are its target — and removing whatever was inside a
    /// path (a folder it replaces), by `who`; its id.
    pub fn commit_leaves(
        &mut self,
        repo: &str,
        branch: &str,
        changes: &[(&str, &str, &str)],
        message: &str,
        who: &Person,
    ) -> String {
        let key = (repo.to_owned(), branch.to_owned());
        let parent = self.refs.get(&key).cloned();
        let mut leaves = parent
            .as_ref()
            .and_then(|p| self.commits.get(p))
            .map(|c| self.leaves(&c.tree))
            .unwrap_or_default();
        for (path, mode, contents) in changes {
            let inside = format!("{path}/");
            leaves.retain(|p, _| !p.starts_with(&inside));
            let blob = self.put_blob(contents.as_bytes());
            leaves.insert((*path).to_owned(), ((*mode).to_owned(), blob));
        }
        let tree = self.put_leaves(&leaves);
        let id = self.put_commit(StoredCommit {
            tree,
            parents: parent.into_iter().collect(),
            message: message.to_owned(),
            author: who.clone(),
            committer: who.clone(),
        });
        self.refs.insert(key, id.clone());
        id
    }
}

/// One delivery attempt GitHub made.
#[derive(Debug, Clone)]
pub struct HookDelivery {
    /// The attempt's id.
    pub id: u64,
    /// The delivery's GUID (`X-GitHub-Delivery`), shared by its redeliveries.
    pub guid: String,
    /// When it was made.
    pub delivered_at: chrono::DateTime<chrono::Utc>,
    /// The answer's status (0: no answer).
    pub status_code: u16,
    /// The event.
    pub event: String,
}

/// Deliveries per hook (`app`, or `owner/repo:ID`), newest last, and redeliveries asked for.
#[derive(Debug, Default)]
pub struct Hooks {
    pub(super) deliveries: HashMap<String, Vec<HookDelivery>>,
    pub(super) redelivered: HashMap<String, Vec<u64>>,
    pub(super) next_id: u64,
}
