//! The command line's own behaviour: configuration errors name what is wrong; the generated
//! secret is private, shared with `send` and never printed; the data dir is private.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;

fn run_with(args: &[&str], envs: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env_remove("CODERIPPLE_WEBHOOK_SECRET")
        .stdin(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn bad_configuration_fails_at_start_naming_the_variable_or_flag() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (ok, out) = run_with(
        &["up", "--data-dir", d, "--listen", "127.0.0.1:0"],
        &[("CODERIPPLE_MAX_RECEIVES", "many")],
    );
    assert!(!ok && out.contains("CODERIPPLE_MAX_RECEIVES"), "{out}");
    let (ok, out) = run_with(&["up", "--data-dir", d, "--workers", "300"], &[]);
    assert!(!ok && out.contains("--workers"), "{out}");
    let (ok, out) = run_with(&["worker", "--data-dir", d, "--workers", "0"], &[]);
    assert!(!ok && out.contains("--workers"), "{out}");
    let (ok, out) = run_with(&["up", "--data-dir", d, "--listen", "nowhere"], &[]);
    assert!(!ok && out.contains("--listen"), "{out}");
    let (ok, out) = run_with(
        &["up", "--data-dir", d],
        &[("CODERIPPLE_WEBHOOK_SECRET", "")],
    );
    assert!(!ok && out.contains("CODERIPPLE_WEBHOOK_SECRET"), "{out}");
    let (ok, out) = run_with(&["worker", "--data-dir", &format!("{d}/missing")], &[]);
    assert!(!ok && out.contains("coderipple up"), "{out}");
    let (ok, out) = run_with(
        &["up", "--data-dir", d],
        &[("CODERIPPLE_SQLITE_SYNC", "sometimes")],
    );
    assert!(!ok && out.contains("CODERIPPLE_SQLITE_SYNC"), "{out}");
    assert!(
        !dir.path().join("coderipple.db").exists()
            || std::fs::metadata(dir.path().join("coderipple.db")).is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_secret_is_private_and_used_by_send() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin());
    cmd.args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("CODERIPPLE_WEBHOOK_SECRET")
        .env("RUST_LOG", "warn");
    let (mut child, url) = spawn_up(cmd);
    let secret_file = dir.path().join("webhook-secret");
    let mode = std::fs::metadata(&secret_file)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(std::fs::read_to_string(&secret_file).unwrap().len(), 64);
    for args in [
        vec!["send", "--url", &url],
        vec!["send", "--url", &url, "--form", "--event", "release"],
    ] {
        let out = Command::new(bin())
            .args(&args)
            .arg("--data-dir")
            .arg(dir.path())
            .env_remove("CODERIPPLE_WEBHOOK_SECRET")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.starts_with("202"), "{text}");
    }
    // A wrong secret is refused by the server, and send says so with its exit code.
    let out = Command::new(bin())
        .args(["send", "--url", &url, "--data-dir"])
        .arg(dir.path())
        .env("CODERIPPLE_WEBHOOK_SECRET", "wrong")
        .output()
        .unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("401"));
    wait_drained(dir.path(), 2, Duration::from_secs(30));
    assert!(changelog(dir.path(), "octo-org/hello-world").contains("add a sample command"));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn up_prints_where_the_secret_is_never_the_secret_and_keeps_its_data_private() {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data"); // made by `up`
    let mut child = Command::new(bin())
        .args([
            "up",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--data-dir",
        ])
        .arg(&dir)
        .env_remove("CODERIPPLE_WEBHOOK_SECRET")
        .env("CODERIPPLE_CONSOLE_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut printed = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let last = line.starts_with("send a test event");
        printed.push(line);
        if last {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let secret_file = dir.join("webhook-secret");
    let secret = std::fs::read_to_string(&secret_file).unwrap();
    assert_eq!(secret.trim().len(), 64);
    let stdout = printed.join("\n");
    assert!(
        !stdout.contains(secret.trim()),
        "the secret was printed:\n{stdout}"
    );
    assert!(
        stdout.contains(&secret_file.display().to_string()),
        "the secret file's path is printed:\n{stdout}"
    );
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700, "data dir");
    assert_eq!(mode(&secret_file), 0o600, "secret");
    for db in ["coderipple.db", "coderipple.db-wal", "coderipple.db-shm"] {
        let path = dir.join(db);
        if db == "coderipple.db" || path.exists() {
            assert_eq!(mode(&path), 0o600, "{db}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_delivery_and_the_repo() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin());
    cmd.args([
        "--log-format",
        "json",
        "up",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
    ])
    .arg(dir.path())
    .env("CODERIPPLE_WEBHOOK_SECRET", SECRET)
    .env("RUST_LOG", "info")
    .stderr(Stdio::piped());
    let (mut child, url) = spawn_up(cmd);
    let client = reqwest::Client::new();
    let body = push_body("acme/logs", &sha(3, 3), "feat: logged");
    let (status, _) = post(&client, &url, "push", "log-1", &body).await.unwrap();
    assert_eq!(status, 202);
    wait_drained(dir.path(), 1, Duration::from_secs(30));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let applied = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["fields"]["message"] == "change set applied")
        .unwrap_or_else(|| panic!("no JSON log line for the change set:\n{stderr}"));
    let span = applied["span"].to_string();
    assert!(
        span.contains("acme/logs") && span.contains("log-1"),
        "{applied}"
    );
}

fn git(dir: &std::path::Path, args: &[&str]) {
    let ok = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Mona")
        .env("GIT_AUTHOR_EMAIL", "mona@example.com")
        .env("GIT_COMMITTER_NAME", "Mona")
        .env("GIT_COMMITTER_EMAIL", "mona@example.com")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}

#[test]
fn bootstrap_builds_the_docs_of_a_checkout_once_and_a_bad_pack_is_refused() {
    let repo = tempfile::tempdir().unwrap();
    let r = repo.path();
    git(r, &["init", "-q", "-b", "main"]);
    std::fs::write(
        r.join("README.md"),
        "# Tool\n\nDoes things.\n\n## Install\n\nmake install\n",
    )
    .unwrap();
    std::fs::write(r.join("Cargo.toml"), "[package]\nname = \"tool\"\n").unwrap();
    git(r, &["add", "-A"]);
    git(r, &["commit", "-q", "-m", "feat: first"]);
    std::fs::create_dir(r.join("src")).unwrap();
    std::fs::write(r.join("src/main.rs"), "fn main() {}\n").unwrap();
    git(r, &["add", "-A"]);
    git(r, &["commit", "-q", "-m", "fix: second"]);
    git(r, &["tag", "v1.0.0"]);

    let data = tempfile::tempdir().unwrap();
    let d = data.path().to_str().unwrap();
    let root = r.to_str().unwrap();
    let (ok, out) = run_with(
        &["bootstrap", "o/tool", "--repo-root", root, "--data-dir", d],
        &[],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("bootstrapped o/tool: 2 commit(s), 1 tag(s), 3 path(s)"),
        "{out}"
    );
    let docs = data.path().join("docs/o/tool");
    let read = |p: &str| std::fs::read_to_string(docs.join(p)).unwrap();
    assert!(read("decisions/changelog.md").contains("## [v1.0.0]"));
    assert!(read("user/getting_started.md").contains("## Install\n\nmake install"));
    assert!(read("system/tech_stack.md").contains("— tool"));
    let before = read("decisions/changelog.md");
    let (ok, out) = run_with(
        &["bootstrap", "o/tool", "--repo-root", root, "--data-dir", d],
        &[],
    );
    assert!(ok, "{out}");
    assert_eq!(read("decisions/changelog.md"), before);

    // Not a checkout; a pack that does not parse: clear errors, nothing written.
    let empty = tempfile::tempdir().unwrap();
    let (ok, out) = run_with(
        &[
            "bootstrap",
            "o/x",
            "--repo-root",
            empty.path().to_str().unwrap(),
            "--data-dir",
            d,
        ],
        &[],
    );
    assert!(!ok && out.contains("is not a git checkout"), "{out}");
    let pack = tempfile::tempdir().unwrap();
    std::fs::write(pack.path().join("rules.toml"), "nonsense = [").unwrap();
    let (ok, out) = run_with(
        &["bootstrap", "o/y", "--repo-root", root, "--data-dir", d],
        &[("CODERIPPLE_AGENT_PACK", pack.path().to_str().unwrap())],
    );
    assert!(!ok && out.contains("rules.toml"), "{out}");
    assert!(!data.path().join("docs/o/x").exists() && !data.path().join("docs/o/y").exists());
}

#[test]
fn status_of_a_repository_refuses_a_bad_name_and_reports_one_without_state() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (ok, _) = run_with(&["init", "--data-dir", d], &[]);
    assert!(ok);
    for bad in ["../etc", "no-slash", "o/r/extra", "o/\u{1b}[31m"] {
        let (ok, out) = run_with(&["status", "--data-dir", d, "--repo", bad], &[]);
        assert!(!ok && out.contains("--repo"), "{bad}: {out}");
    }
    let (ok, out) = run_with(
        &["status", "--data-dir", d, "--json", "--repo", "octo/none"],
        &[],
    );
    assert!(ok, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let repo = &report["repos"]["octo/none"];
    assert_eq!(repo["version"], serde_json::Value::Null);
    assert_eq!(repo["applied_commits"], serde_json::json!([]));
    let (ok, out) = run_with(&["status", "--data-dir", d, "--repo", "octo/none"], &[]);
    assert!(ok && out.contains("octo/none: no state yet"), "{out}");
}
