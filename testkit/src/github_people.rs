//! What a test does on the stand-in as a person (seeds a repository, pushes, merges or opens
//! a pull request, protects a branch, makes GitHub report deliveries), and reads back.

use std::collections::BTreeMap;

use crate::github_git::{HookDelivery, SYMLINK, StoredCommit, StoredPull};
use crate::github_state::{GitHubState, lock, person};

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

    /// A person pushes a commit to `branch` making `path` a symlink to `target` (replacing
    /// a folder there); its id.
    pub fn push_symlink_as_person(
        &self,
        repo: &str,
        branch: &str,
        path: &str,
        target: &str,
        message: &str,
    ) -> String {
        let change = [(path, SYMLINK, target)];
        lock(&self.git).commit_leaves(repo, branch, &change, message, &person())
    }

    /// The mode and contents (a symlink's: its target) of `path` on `branch`, unless it is a
    /// folder or missing.
    pub fn entry_on(&self, repo: &str, branch: &str, path: &str) -> Option<(String, String)> {
        let git = lock(&self.git);
        let head = git.refs.get(&(repo.to_owned(), branch.to_owned()))?;
        let tree = git.commits.get(head)?.tree.clone();
        let (mode, blob) = git.leaves(&tree).remove(path)?;
        let text = String::from_utf8_lossy(git.blob(&blob).unwrap_or_default()).into_owned();
        Some((mode, text))
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

impl GitHubState {
    /// GitHub delivered `guid` from `hook` (`app` or `owner/repo:ID`) `minutes_ago`, and got
    /// `status_code` back (0: no answer, a timeout).
    pub fn add_hook_delivery(&self, hook: &str, guid: &str, status_code: u16, minutes_ago: i64) {
        let mut hooks = lock(&self.hooks);
        hooks.next_id += 1;
        let id = 1000 + hooks.next_id;
        let list = hooks.deliveries.entry(hook.to_owned()).or_default();
        list.push(HookDelivery {
            id,
            guid: guid.to_owned(),
            delivered_at: chrono::Utc::now() - chrono::Duration::minutes(minutes_ago),
            status_code,
            event: "push".into(),
        });
        list.sort_by_key(|d| d.delivered_at);
    }

    /// The attempt ids whose redelivery was asked for on `hook`.
    pub fn redeliveries(&self, hook: &str) -> Vec<u64> {
        lock(&self.hooks)
            .redelivered
            .get(hook)
            .cloned()
            .unwrap_or_default()
    }

    /// The GUID of attempt `id` on `hook`.
    pub fn guid_of(&self, hook: &str, id: u64) -> Option<String> {
        lock(&self.hooks)
            .deliveries
            .get(hook)?
            .iter()
            .find(|d| d.id == id)
            .map(|d| d.guid.clone())
    }
}
