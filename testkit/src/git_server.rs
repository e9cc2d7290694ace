//! A real git server on loopback (`git daemon`, anonymous push enabled) over bare
//! repositories in a temp dir, and the git commands tests check a remote with.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `git daemon` serving `<root>/<owner>/<repo>.git` at `git://127.0.0.1:<port>/`; stopped
/// (by its PID) when dropped.
#[derive(Debug)]
pub struct GitServer {
    child: Child,
    /// Where the bare repositories are.
    pub root: tempfile::TempDir,
    /// The port it listens on.
    pub port: u16,
}

impl GitServer {
    /// Starts a daemon and waits until it accepts connections.
    pub fn start() -> Self {
        let root = tempfile::tempdir().expect("a temp dir");
        let port = free_port();
        let child = Command::new("git")
            .args([
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--enable=receive-pack",
                "--informative-errors",
                "--listen=127.0.0.1",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", root.path().display()))
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon starts (git is installed)");
        let server = Self { child, root, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "git daemon did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// The URL of `repo` (`owner/name`).
    pub fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}.git", self.port)
    }

    /// The bare repository of `repo` on disk.
    pub fn path(&self, repo: &str) -> PathBuf {
        self.root.path().join(format!("{repo}.git"))
    }

    /// Creates `repo`, with one commit (`README.md`) on `main` unless `empty`; returns the
    /// head of `main` (empty for an empty repository).
    pub fn create(&self, repo: &str, empty: bool) -> String {
        create_bare(&self.path(repo), empty)
    }

    /// A working clone of `repo` at `branch`.
    pub fn clone(&self, repo: &str, branch: &str) -> tempfile::TempDir {
        let work = tempfile::tempdir().expect("a temp dir");
        git(
            work.path(),
            &["clone", "-q", "--branch", branch, &self.url(repo), "."],
        );
        work
    }
}

/// Creates the bare repository `bare`, with one commit (`README.md`) on `main` unless `empty`;
/// returns the head of `main` (empty for an empty repository).
pub(super) fn create_bare(bare: &Path, empty: bool) -> String {
    std::fs::create_dir_all(bare).expect("the bare repository's dir");
    git(bare, &["init", "-q", "--bare", "-b", "main"]);
    if empty {
        return String::new();
    }
    let work = tempfile::tempdir().expect("a temp dir");
    git(work.path(), &["init", "-q", "-b", "main"]);
    std::fs::write(work.path().join("README.md"), "# A project\n").expect("write");
    git(work.path(), &["add", "-A"]);
    git(work.path(), &["commit", "-q", "-m", "Initial commit"]);
    git(
        work.path(),
        &["push", "-q", &bare.display().to_string(), "main"],
    );
    git(work.path(), &["rev-parse", "HEAD"]).trim().to_owned()
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Runs `git args` in `dir` as a test user, without user or system config; its stdout.
/// Panics with git's stderr when it fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "A Human")
        .env("GIT_AUTHOR_EMAIL", "human@example.com")
        .env("GIT_COMMITTER_NAME", "A Human")
        .env("GIT_COMMITTER_EMAIL", "human@example.com")
        .env("GIT_TERMINAL_PROMPT", "0")
        .args(["-c", "init.defaultBranch=main"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
