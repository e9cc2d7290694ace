//! Docs into the repository with the real binary: `coderipple up --docs-remote` pushing to a
//! local bare repository (the quick start), a remote that is not there leaving the publish
//! pending (`status`), `coderipple publish --pending` catching up, `bootstrap` publishing one
//! commit, and bad publishing settings refused before anything starts.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use coderipple_testkit::git;

use crate::common::{Server, bin, cli, post, push_body, sha, status, wait_drained};

const BRANCH: &str = "coderipple/docs";

/// A bare repository at `path` with one commit on `main`; returns main's head.
fn bare_with_main(path: &Path) -> String {
    std::fs::create_dir_all(path).unwrap();
    git(path, &["init", "-q", "--bare", "-b", "main"]);
    let work = tempfile::tempdir().unwrap();
    git(work.path(), &["init", "-q", "-b", "main"]);
    std::fs::write(work.path().join("README.md"), "# Project\n").unwrap();
    git(work.path(), &["add", "-A"]);
    git(work.path(), &["commit", "-q", "-m", "Initial commit"]);
    git(work.path(), &["push", "-q", path.to_str().unwrap(), "main"]);
    git(work.path(), &["rev-parse", "HEAD"]).trim().to_owned()
}

/// `path`'s file at `file` on the docs branch.
fn on_branch(repo: &Path, file: &str) -> String {
    git(repo, &["show", &format!("{BRANCH}:{file}")])
}

async fn post_push(url: &str, repo: &str, delivery: &str, commit: &str, message: &str) {
    let client = reqwest::Client::new();
    let (code, body) = post(
        &client,
        url,
        "push",
        delivery,
        &push_body(repo, commit, message),
    )
    .await
    .unwrap();
    assert_eq!(code, 202, "{body}");
}

#[tokio::test]
async fn up_with_a_docs_remote_pushes_the_docs_to_a_local_bare_repository() {
    let data = tempfile::tempdir().unwrap();
    let remotes = tempfile::tempdir().unwrap();
    let bare = remotes.path().join("r.git");
    let main = bare_with_main(&bare);
    let remote = format!("o/r={}", bare.display());
    let commit = sha(14, 1);
    {
        let server = Server::start_with_args(data.path(), &["--docs-remote", &remote], &[]);
        post_push(
            &server.url,
            "o/r",
            "pub-1",
            &commit,
            "feat: docs where the code is",
        )
        .await;
        wait_drained(data.path(), 1, Duration::from_secs(60));
    }
    let changelog = on_branch(&bare, "docs/coderipple/decisions/changelog.md");
    assert!(changelog.contains("docs where the code is"), "{changelog}");
    assert_eq!(
        git(&bare, &["rev-parse", &format!("{BRANCH}^")]).trim(),
        main
    );
    let subject = git(&bare, &["log", "-1", "--format=%an %s", BRANCH]);
    assert!(
        subject.starts_with(&format!(
            "CodeRipple docs(coderipple): update for push {}",
            &commit[..7]
        )),
        "{subject}"
    );
    let s = status(data.path());
    assert_eq!(s["pending_publishes"], serde_json::json!([]), "{s}");
}

#[tokio::test]
async fn a_missing_remote_leaves_the_publish_pending_until_publish_catches_up() {
    let data = tempfile::tempdir().unwrap();
    let remotes = tempfile::tempdir().unwrap();
    let bare = remotes.path().join("later.git");
    let remote = format!("o/r={}", bare.display());
    let envs = [
        ("CODERIPPLE_DOCS_RETRY_MS", "10"),
        ("CODERIPPLE_DOCS_REPUBLISH_EVERY_SECS", "0"),
    ];
    {
        let server = Server::start_with_args(data.path(), &["--docs-remote", &remote], &envs);
        post_push(
            &server.url,
            "o/r",
            "pend-1",
            &sha(15, 1),
            "feat: written before the remote",
        )
        .await;
        wait_drained(data.path(), 1, Duration::from_secs(60));
    }
    let s = status(data.path());
    let pending = &s["pending_publishes"][0];
    assert_eq!(pending["repo"], "o/r", "{s}");
    assert!(
        pending["reason"]
            .as_str()
            .unwrap()
            .contains("git ls-remote"),
        "{s}"
    );
    let (ok, out, _) = cli(data.path(), &["status"]);
    assert!(ok && out.contains("docs of o/r not published"), "{out}");

    // Without a remote, publishing is refused with what to set.
    let (ok, _, err) = cli(data.path(), &["publish", "o/r"]);
    assert!(!ok && err.contains("CODERIPPLE_DOC_STRATEGY=git"), "{err}");

    // The remote appears: `publish --pending` catches up and clears the record.
    bare_with_main(&bare);
    let (ok, out, err) = cli(
        data.path(),
        &["publish", "--pending", "--docs-remote", &remote],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("o/r: published"), "{out}");
    let changelog = on_branch(&bare, "docs/coderipple/decisions/changelog.md");
    assert!(
        changelog.contains("written before the remote"),
        "{changelog}"
    );
    assert_eq!(
        status(data.path())["pending_publishes"],
        serde_json::json!([])
    );
    // Again: nothing changed, no commit.
    let before = git(&bare, &["rev-parse", BRANCH]);
    let (ok, out, _) = cli(data.path(), &["publish", "o/r", "--docs-remote", &remote]);
    assert!(ok && out.contains("already holds these docs"), "{out}");
    assert_eq!(git(&bare, &["rev-parse", BRANCH]), before);
}

#[test]
fn bootstrap_publishes_the_whole_history_as_one_commit() {
    let repo = tempfile::tempdir().unwrap();
    let r = repo.path();
    git(r, &["init", "-q", "-b", "main"]);
    std::fs::write(r.join("README.md"), "# Tool\n").unwrap();
    git(r, &["add", "-A"]);
    git(r, &["commit", "-q", "-m", "feat: first"]);
    std::fs::write(r.join("lib.rs"), "pub fn f() {}\n").unwrap();
    git(r, &["add", "-A"]);
    git(r, &["commit", "-q", "-m", "fix: second"]);
    let main = git(r, &["rev-parse", "HEAD"]).trim().to_owned();
    let data = tempfile::tempdir().unwrap();
    // The checkout is its own remote: the docs branch is not checked out, so it takes pushes.
    let remote = format!("o/tool={}", r.display());
    let (ok, out, err) = cli(
        data.path(),
        &[
            "bootstrap",
            "o/tool",
            "--repo-root",
            r.to_str().unwrap(),
            "--docs-remote",
            &remote,
        ],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("o/tool: published"), "{out}");
    assert_eq!(
        git(r, &["rev-list", "--count", &format!("{main}..{BRANCH}")]).trim(),
        "1"
    );
    let changelog = on_branch(r, "docs/coderipple/decisions/changelog.md");
    assert!(
        changelog.contains("first") && changelog.contains("second"),
        "{changelog}"
    );
}

#[test]
fn bad_publishing_settings_are_refused_before_anything_starts() {
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("never-created");
    for (args, envs, needle) in [
        (
            vec!["--docs-remote", "not-a-spec"],
            vec![],
            "owner/repo=URL",
        ),
        (
            vec![],
            vec![("CODERIPPLE_DOC_STRATEGY", "git")],
            "needs remotes",
        ),
        (
            vec!["--docs-remote", "o/r=/tmp/x.git"],
            vec![("CODERIPPLE_DOCS_BRANCH", "bad..name")],
            "CODERIPPLE_DOCS_BRANCH",
        ),
    ] {
        let out = Command::new(bin())
            .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .args(&args)
            .envs(envs.iter().copied())
            .env("CODERIPPLE_WEBHOOK_SECRET", "s")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} started");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("listening on"),
            "{args:?} listened before refusing"
        );
        assert!(
            !data.exists(),
            "{args:?} created the data dir before refusing"
        );
    }
}
