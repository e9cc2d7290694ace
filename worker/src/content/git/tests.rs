//! The git content source against real repositories made in temp dirs.

use std::path::Path;
use std::time::Duration;

use super::*;

const REPO: &str = "o/r";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Mona")
        .env("GIT_AUTHOR_EMAIL", "mona@example.com")
        .env("GIT_COMMITTER_NAME", "Mona")
        .env("GIT_COMMITTER_EMAIL", "mona@example.com")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A repository with a README, a file one byte over the size cap and a directory; returns
/// it and its commit.
fn repository() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "-q", "-b", "main"]);
    std::fs::write(root.join("README.md"), "# Gears\n\nTurns things.\n").unwrap();
    std::fs::write(root.join("big.bin"), vec![b'x'; MAX_FILE_BYTES + 1]).unwrap();
    std::fs::create_dir(root.join("src")).unwrap();
    std::fs::write(root.join("src/lib.rs"), "pub fn f() {}\n").unwrap();
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "first"]);
    let head = git(root, &["rev-parse", "HEAD"]);
    (dir, head)
}

fn checkouts(root: &Path) -> GitCheckouts {
    GitCheckouts::parse(&[format!("{REPO}={}", root.display())]).unwrap()
}

#[tokio::test]
async fn present_files_are_read_and_missing_ones_skipped() {
    let (dir, head) = repository();
    let source = checkouts(dir.path());
    let blob = source
        .blob_id(REPO, &head, "README.md")
        .await
        .unwrap()
        .expect("README.md at HEAD");
    let bytes = source.read_blob(REPO, &blob).await.unwrap().unwrap();
    assert!(String::from_utf8(bytes).unwrap().starts_with("# Gears"));
    // A path, a commit or a blob the checkout lacks: skipped, not an error.
    assert_eq!(
        source.blob_id(REPO, &head, "no/such.md").await.unwrap(),
        None
    );
    let unknown = "0123456789abcdef0123456789abcdef01234567";
    assert_eq!(
        source.blob_id(REPO, unknown, "README.md").await.unwrap(),
        None
    );
    assert_eq!(source.read_blob(REPO, unknown).await.unwrap(), None);
    // A directory is not a file to read; odd names are not passed to git.
    assert_eq!(source.blob_id(REPO, &head, "src").await.unwrap(), None);
    assert_eq!(
        source
            .blob_id(REPO, &head, "README.md\nHEAD")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_blob_over_the_size_cap_is_skipped_unread() {
    let (dir, head) = repository();
    let source = checkouts(dir.path());
    let blob = source
        .blob_id(REPO, &head, "big.bin")
        .await
        .unwrap()
        .expect("big.bin at HEAD");
    assert_eq!(source.read_blob(REPO, &blob).await.unwrap(), None);
}

#[tokio::test]
async fn a_failing_git_is_transient_not_missing() {
    let (dir, head) = repository();
    let source = checkouts(dir.path());
    let blob = source
        .blob_id(REPO, &head, "README.md")
        .await
        .unwrap()
        .unwrap();
    // The checkout breaks under the worker (moved, deleted, corrupted): nothing is "missing",
    // git fails, and the change set must be retried rather than analysed without its files.
    std::fs::remove_dir_all(dir.path().join(".git")).unwrap();
    let err = source.blob_id(REPO, &head, "README.md").await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let err = source.read_blob(REPO, &blob).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test]
async fn a_hung_git_is_killed_at_its_timeout_and_transient() {
    let (dir, head) = repository();
    // Git opens the alternates file when it looks an object up; a FIFO nobody writes to
    // blocks that open for ever: a git stuck on a dead filesystem, made reproducible.
    let alternates = dir.path().join(".git/objects/info/alternates");
    let made = std::process::Command::new("mkfifo")
        .arg(&alternates)
        .status()
        .unwrap();
    assert!(made.success());
    let source = checkouts(dir.path()).with_timeout(Duration::from_millis(500));
    // Generous bound: proves the call ends, not how fast.
    let err = tokio::time::timeout(
        Duration::from_secs(60),
        source.blob_id(REPO, &head, "README.md"),
    )
    .await
    .expect("the git timeout ends the call")
    .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("did not finish"), "{err}");
}

#[test]
fn batch_check_answers_are_parsed() {
    let id = "a".repeat(40);
    assert_eq!(
        ObjectInfo::parse(&format!("{id} blob 12\n")),
        Ok(Some(ObjectInfo {
            id: id.clone(),
            kind: "blob".into(),
            size: 12
        }))
    );
    assert_eq!(ObjectInfo::parse("HEAD:a file missing\n"), Ok(None));
    assert_eq!(ObjectInfo::parse("abc ambiguous\n"), Ok(None));
    assert!(ObjectInfo::parse("fatal: nonsense").is_err());
    assert_eq!(GitCheckouts::default().timeout, GIT_TIMEOUT);
}

#[tokio::test]
async fn sizes_come_from_one_batch_and_skip_what_is_no_file() {
    let (dir, head) = repository();
    let src = checkouts(dir.path());
    let asked: Vec<String> = [
        "README.md",
        "src/lib.rs",
        "src",
        "missing.rs",
        "bad\nname",
        "big.bin",
    ]
    .map(str::to_owned)
    .to_vec();
    let sizes = src.sizes(REPO, &head, &asked).await.unwrap();
    let got: Vec<(&str, u64)> = sizes.iter().map(|(p, s)| (p.as_str(), *s)).collect();
    assert_eq!(
        got,
        [
            ("README.md", "# Gears\n\nTurns things.\n".len() as u64),
            ("big.bin", MAX_FILE_BYTES as u64 + 1),
            ("src/lib.rs", 14)
        ]
    );
    // An unknown commit answers "missing" for every line: no sizes, no error.
    let none = src.sizes(REPO, &"0".repeat(40), &asked).await.unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn thousands_of_sizes_in_one_batch_do_not_deadlock_on_the_pipes() {
    let (dir, head) = repository();
    let src = checkouts(dir.path());
    // ~60 bytes of answer a name: 5,000 names fill the output pipe many times over.
    let mut asked: Vec<String> = (0..5_000).map(|i| format!("missing/{i:05}.rs")).collect();
    asked.push("src/lib.rs".into());
    let sizes = src.sizes(REPO, &head, &asked).await.unwrap();
    assert_eq!(sizes.len(), 1);
    assert_eq!(sizes["src/lib.rs"], 14);
}
