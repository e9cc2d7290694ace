//! The stand-in's repositories: git objects (blobs with git's own ids, trees, commits),
//! branches, and pull requests, held in memory — enough for the Git Data API, comparisons
//! and pulls as the GitHub publishers use them, and for a test to act as a person (push a
//! commit, merge or close a pull request).

use std::collections::{BTreeMap, HashMap};

use sha1::{Digest, Sha1};

use super::github_standin::{GitHubState, lock, person};

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
    /// Tree id → its entries (name → (`blob`|`tree`, id)).
    trees: HashMap<String, BTreeMap<String, (&'static str, String)>>,
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

fn hash(kind: &str, bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("{kind} {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex::encode(h.finalize())
}

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

    /// Stores the tree of `files` (path → blob id) and every subtree; the root's id.
    pub fn put_tree(&mut self, files: &BTreeMap<String, String>) -> String {
        let mut entries: BTreeMap<String, (&'static str, String)> = BTreeMap::new();
        let mut dirs: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (path, blob) in files {
            match path.split_once('/') {
                Some((dir, rest)) => {
                    dirs.entry(dir.to_owned())
                        .or_default()
                        .insert(rest.to_owned(), blob.clone());
                }
                None => {
                    entries.insert(path.clone(), ("blob", blob.clone()));
                }
            }
        }
        for (dir, sub) in dirs {
            let id = self.put_tree(&sub);
            entries.insert(dir, ("tree", id));
        }
        let listing: String = entries
            .iter()
            .map(|(name, (kind, id))| format!("{kind} {name} {id}\n"))
            .collect();
        let id = hash("tree", listing.as_bytes());
        self.trees.insert(id.clone(), entries);
        id
    }

    /// A tree's entries, with paths from its root (recursively) or its own level.
    pub fn tree_entries(
        &self,
        id: &str,
        recursive: bool,
    ) -> Option<Vec<(String, &'static str, String)>> {
        let entries = self.trees.get(id)?;
        let mut out = Vec::new();
        for (name, (kind, sha)) in entries {
            out.push((name.clone(), *kind, sha.clone()));
            if recursive && *kind == "tree" {
                for (path, k, s) in self.tree_entries(sha, true)? {
                    out.push((format!("{name}/{path}"), k, s));
                }
            }
        }
        Some(out)
    }

    /// Every file of a tree: path → blob id.
    pub fn files(&self, tree: &str) -> BTreeMap<String, String> {
        self.tree_entries(tree, true)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, kind, _)| *kind == "blob")
            .map(|(path, _, sha)| (path, sha))
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

    /// A commit on `branch` of `repo` (made when missing) changing `files` (path → contents),
    /// by `who`; its id.
    pub fn commit_files(
        &mut self,
        repo: &str,
        branch: &str,
        files: &[(&str, &str)],
        message: &str,
        who: &Person,
    ) -> String {
        let key = (repo.to_owned(), branch.to_owned());
        let parent = self.refs.get(&key).cloned();
        let mut tree = parent
            .as_ref()
            .and_then(|p| self.commits.get(p))
            .map(|c| self.files(&c.tree))
            .unwrap_or_default();
        for (path, contents) in files {
            let blob = self.put_blob(contents.as_bytes());
            tree.insert((*path).to_owned(), blob);
        }
        let tree = self.put_tree(&tree);
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

/// What a test does as a person, and reads back, on the stand-in's repositories.
impl GitHubState {
    /// `repo` exists with `default_branch`, whose first commit (by a person) holds `files`.
    pub fn seed_repo(&self, repo: &str, default_branch: &str, files: &[(&str, &str)]) {
        let mut git = lock(&self.git);
        git.defaults
            .insert(repo.to_owned(), default_branch.to_owned());
        git.commit_files(repo, default_branch, files, "Initial commit", &person());
    }

    /// A person pushes a commit changing `files` to `branch`; its id.
    pub fn push_as_person(
        &self,
        repo: &str,
        branch: &str,
        files: &[(&str, &str)],
        message: &str,
    ) -> String {
        lock(&self.git).commit_files(repo, branch, files, message, &person())
    }

    /// The head of `branch`.
    pub fn head(&self, repo: &str, branch: &str) -> Option<String> {
        lock(&self.git)
            .refs
            .get(&(repo.to_owned(), branch.to_owned()))
            .cloned()
    }

    /// The commit `id`.
    pub fn commit(&self, id: &str) -> Option<StoredCommit> {
        lock(&self.git).commits.get(id).cloned()
    }

    /// Commits reachable from `branch`, newest first.
    pub fn history(&self, repo: &str, branch: &str) -> Vec<String> {
        let head = self.head(repo, branch);
        head.map(|h| lock(&self.git).history(&h))
            .unwrap_or_default()
    }

    /// The files on `branch`: path → contents.
    pub fn files_on(&self, repo: &str, branch: &str) -> BTreeMap<String, String> {
        let git = lock(&self.git);
        let Some(tree) = git
            .refs
            .get(&(repo.to_owned(), branch.to_owned()))
            .and_then(|h| git.commits.get(h))
            .map(|c| c.tree.clone())
        else {
            return BTreeMap::new();
        };
        git.files(&tree)
            .into_iter()
            .map(|(path, blob)| {
                let text =
                    String::from_utf8_lossy(git.blob(&blob).unwrap_or_default()).into_owned();
                (path, text)
            })
            .collect()
    }

    /// `repo`'s pull requests.
    pub fn pulls(&self, repo: &str) -> Vec<StoredPull> {
        lock(&self.git).pulls.get(repo).cloned().unwrap_or_default()
    }

    /// A person merges pull request `number`: the base branch gets a merge commit.
    pub fn merge_pull(&self, repo: &str, number: u64) {
        let mut git = lock(&self.git);
        let pull = git
            .pulls
            .get(repo)
            .and_then(|ps| ps.iter().find(|p| p.number == number))
            .cloned()
            .expect("the pull request");
        let head = git.refs[&(repo.to_owned(), pull.head.clone())].clone();
        let base = git.refs[&(repo.to_owned(), pull.base.clone())].clone();
        let tree = git.commits[&head].tree.clone();
        let merge = git.put_commit(StoredCommit {
            tree,
            parents: vec![base, head],
            message: format!("Merge pull request #{number}"),
            author: person(),
            committer: person(),
        });
        git.refs.insert((repo.to_owned(), pull.base.clone()), merge);
        for p in git.pulls.get_mut(repo).into_iter().flatten() {
            if p.number == number {
                p.state = "closed".into();
                p.merged = true;
            }
        }
    }

    /// GitHub now says pull request `number` can (or cannot) be merged.
    pub fn set_mergeable(&self, repo: &str, number: u64, mergeable: bool) {
        let mut git = lock(&self.git);
        for p in git.pulls.get_mut(repo).into_iter().flatten() {
            if p.number == number {
                p.mergeable = Some(mergeable);
            }
        }
    }

    /// Someone opens a pull request into `base` from `branch` of `head_repo` (a fork, or
    /// this repository); its number.
    pub fn open_pull_as_person(
        &self,
        repo: &str,
        head_repo: &str,
        branch: &str,
        base: &str,
    ) -> u64 {
        let mut git = lock(&self.git);
        let pulls = git.pulls.entry(repo.to_owned()).or_default();
        let number = pulls.len() as u64 + 1;
        pulls.push(StoredPull {
            number,
            head: branch.to_owned(),
            head_repo: head_repo.to_owned(),
            base: base.to_owned(),
            state: "open".into(),
            merged: false,
            title: "Fix a typo".into(),
            body: "Please merge.".into(),
            mergeable: None,
            comments: Vec::new(),
        });
        number
    }

    /// `branch` refuses every update from now on, as a protected branch does.
    pub fn protect(&self, repo: &str, branch: &str) {
        lock(&self.git)
            .protected
            .insert((repo.to_owned(), branch.to_owned()));
    }
}
