//! Shared harness for the end-to-end tests: the real `coderipple` binary on port 0.

#![allow(dead_code)]

pub mod aws;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use coderipple_core::signature::sign;
use serde_json::Value;

pub const SECRET: &str = "e2e-secret";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_coderipple")
}

/// A running `coderipple up`.
pub struct Server {
    pub child: Child,
    pub url: String,
    /// The console's base URL as `up` printed it (`http://ADDR`, without `/ui`), if it serves
    /// one.
    pub console: Option<String>,
    pub data_dir: PathBuf,
}

impl Server {
    pub fn start(data_dir: &Path, envs: &[(&str, &str)]) -> Server {
        Self::start_with_args(data_dir, &[], envs)
    }

    /// `up` with extra `args` (e.g. `--docs-remote o/r=PATH`).
    pub fn start_with_args(data_dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(bin());
        cmd.args([
            "up",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--data-dir",
        ])
        .arg(data_dir)
        .args(args)
        .env("CODERIPPLE_WEBHOOK_SECRET", SECRET)
        .env("CODERIPPLE_SQLITE_SYNC", "normal")
        .env("RUST_LOG", "warn")
        .stderr(Stdio::inherit());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let (child, url, console) = spawn_up_with_console(cmd);
        Server {
            child,
            url,
            console,
            data_dir: data_dir.to_path_buf(),
        }
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns a prepared `coderipple … up --listen 127.0.0.1:0 …` command and waits until it
/// listens; returns the child and its webhook URL. Its stdout keeps being drained.
pub fn spawn_up(cmd: Command) -> (Child, String) {
    let (child, url, _) = spawn_up_with_console(cmd);
    (child, url)
}

/// [`spawn_up`], and the console's base URL that `up` printed (`None`: `console: off`). The
/// console gets a free port of its own unless the command sets `CODERIPPLE_CONSOLE_LISTEN`.
pub fn spawn_up_with_console(mut cmd: Command) -> (Child, String, Option<String>) {
    if !cmd
        .get_envs()
        .any(|(k, _)| k == "CODERIPPLE_CONSOLE_LISTEN")
    {
        cmd.env("CODERIPPLE_CONSOLE_LISTEN", "127.0.0.1:0");
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .expect("start coderipple up");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut url = None;
    let console = loop {
        let line = lines
            .next()
            .expect("coderipple up exited before listening")
            .expect("read stdout");
        if let Some(addr) = line.strip_prefix("listening on ") {
            url = Some(format!("{addr}/webhook"));
        }
        if let Some(rest) = line.strip_prefix("console: ") {
            let first = rest.split_whitespace().next().unwrap_or("");
            break first
                .strip_prefix("http://")
                .map(|_| first.trim_end_matches("/ui").to_owned());
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (
        child,
        url.expect("`listening on` before `console:`"),
        console,
    )
}

/// Runs a `coderipple` subcommand to completion; returns (exit ok, stdout, stderr).
pub fn cli(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin())
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("CODERIPPLE_WEBHOOK_SECRET", SECRET)
        .stdin(Stdio::null())
        .output()
        .expect("run coderipple");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn status(data_dir: &Path) -> Value {
    let (ok, out, err) = cli(data_dir, &["status", "--json"]);
    assert!(ok, "status failed: {err}");
    serde_json::from_str(&out).expect("status json")
}

/// Waits until the queue is empty and `completed` deliveries reach `completed`.
pub fn wait_drained(data_dir: &Path, completed: u64, limit: Duration) -> Value {
    let start = Instant::now();
    loop {
        let s = status(data_dir);
        let queue_empty = s["queue"]["visible"] == 0 && s["queue"]["in_flight"] == 0;
        let done = s["deliveries"]["completed"].as_u64().unwrap_or(0);
        if queue_empty && done >= completed {
            return s;
        }
        assert!(start.elapsed() < limit, "not drained within {limit:?}: {s}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A distinct, sha-shaped id (its first 7 characters differ between calls, like real ones).
pub fn sha(seed: u64, n: u64) -> String {
    let x = ((seed << 32) | n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{x:016x}{:016x}{n:08x}", x.rotate_left(17) ^ seed)
}

pub fn push_body(repo: &str, commit_id: &str, message: &str) -> String {
    serde_json::json!({
        "ref": "refs/heads/main",
        "before": "0".repeat(40),
        "after": commit_id,
        "repository": {"full_name": repo, "html_url": format!("https://github.com/{repo}"), "default_branch": "main"},
        "commits": [{"id": commit_id, "message": message, "author": {"name": "E2E"}, "modified": ["src/lib.rs"]}],
    })
    .to_string()
}

/// Posts a signed push; returns (status, json body).
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    event: &str,
    delivery: &str,
    body: &str,
) -> reqwest::Result<(u16, Value)> {
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .header(
            "x-hub-signature-256",
            sign(SECRET.as_bytes(), body.as_bytes()),
        )
        .body(body.to_owned())
        .send()
        .await?;
    let status = resp.status().as_u16();
    let json = resp.json().await.unwrap_or(Value::Null);
    Ok((status, json))
}

/// The commits `repo`'s docs hold, in applied order, through the documented read API
/// (`coderipple status --json --repo`).
pub async fn applied_shas(data_dir: &Path, repo: &str) -> Vec<String> {
    let (ok, out, err) = cli(data_dir, &["status", "--json", "--repo", repo]);
    assert!(ok, "status --repo failed: {err}");
    let report: Value = serde_json::from_str(&out).expect("status --repo json");
    report["repos"][repo]["applied_commits"]
        .as_array()
        .unwrap_or_else(|| panic!("no applied_commits for {repo}: {report}"))
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

pub fn changelog(data_dir: &Path, repo: &str) -> String {
    std::fs::read_to_string(
        data_dir
            .join("docs")
            .join(repo)
            .join("decisions/changelog.md"),
    )
    .unwrap_or_default()
}
