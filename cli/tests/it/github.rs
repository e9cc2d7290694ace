//! `coderipple up` as a GitHub App: a webhook carrying `installation.id` goes through ingest
//! into the envelope, and the worker reads the README and manifest at the pushed commit
//! through GitHub's API (a stand-in behind Prism's validating proxy) as that installation.
//! Incomplete App settings stop `up` before anything starts. `coderipple recover` has GitHub
//! redeliver what the store never accepted.

use std::process::{Command, Stdio};
use std::time::Duration;

use coderipple_core::signature::sign;
use coderipple_testkit::{GitHubStandIn, Prism, app_key};
use serde_json::json;

use crate::common::{SECRET, Server, bin, sha, wait_drained};

const REPO: &str = "acme/gearbox";

// Multi-threaded: the stand-in keeps answering while the test waits (blocking) for the drain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_as_a_github_app_reads_contents_as_the_webhooks_installation() {
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = app_key(keys.path());
    let standin = GitHubStandIn::start(4711, &public).await;
    let prism = Prism::start(&standin.url);
    let commit = sha(21, 1);
    standin.state.install(REPO, 99);
    standin.state.add_file(
        REPO,
        &commit,
        "README.md",
        "# Gearbox\n\n## Install\n\n```sh\ncargo install gearbox\n```\n",
    );

    let data = tempfile::tempdir().unwrap();
    let key_file = key.to_str().unwrap();
    let server = Server::start(
        data.path(),
        &[
            ("CODERIPPLE_GITHUB_APP_ID", "4711"),
            ("CODERIPPLE_GITHUB_APP_KEY_FILE", key_file),
            ("CODERIPPLE_GITHUB_API_URL", &prism.url),
        ],
    );
    let body = json!({
        "ref": "refs/heads/main", "before": "0".repeat(40), "after": commit,
        "repository": {"full_name": REPO, "html_url": format!("https://github.com/{REPO}"), "default_branch": "main"},
        "installation": {"id": 99, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uOTk="},
        "commits": [{"id": commit, "message": "docs: how to install", "author": {"name": "Mona"},
                     "added": ["README.md"]}],
    })
    .to_string();
    let answer = reqwest::Client::new()
        .post(&server.url)
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header("x-github-delivery", "gh-app-1")
        .header(
            "x-hub-signature-256",
            sign(SECRET.as_bytes(), body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    wait_drained(data.path(), 1, Duration::from_secs(60));
    let started = std::fs::read_to_string(
        data.path()
            .join("docs")
            .join(REPO)
            .join("user/getting_started.md"),
    )
    .unwrap();
    assert!(started.contains("cargo install gearbox"), "{started}");
    let calls = standin.state.calls();
    assert_eq!(
        standin
            .state
            .count("POST /app/installations/99/access_tokens 201"),
        1,
        "{calls:?}"
    );
    assert_eq!(
        standin.state.count("GET /repos/acme/gearbox/installation"),
        0,
        "{calls:?}"
    );
}

#[test]
fn incomplete_github_app_settings_stop_up_before_it_starts() {
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("never-created");
    let out = Command::new(bin())
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("CODERIPPLE_WEBHOOK_SECRET", "s")
        .env("CODERIPPLE_GITHUB_APP_ID", "4711")
        .env_remove("CODERIPPLE_GITHUB_APP_KEY_FILE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CODERIPPLE_GITHUB_APP_KEY_FILE"), "{err}");
    assert!(!data.exists(), "nothing was created");
}

/// `coderipple recover` as the GitHub App: a dry run reports the missed delivery and asks
/// nothing; the real run has GitHub redeliver it, and not the one ingest refused with 413
/// (reported with its status); a second run does not ask again; a bad `--since` is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_asks_github_to_redeliver_what_the_store_never_accepted() {
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = app_key(keys.path());
    let standin = GitHubStandIn::start(4712, &public).await;
    let prism = Prism::start(&standin.url);
    standin.state.add_hook_delivery("app", "lost-1", 503, 7);
    standin.state.add_hook_delivery("app", "fine-1", 202, 6);
    standin.state.add_hook_delivery("app", "huge-1", 413, 5);
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(bin())
            .args(args)
            .arg("--data-dir")
            .arg(data.path())
            .env("CODERIPPLE_GITHUB_APP_ID", "4712")
            .env("CODERIPPLE_GITHUB_APP_KEY_FILE", &key)
            .env("CODERIPPLE_GITHUB_API_URL", &prism.url)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, _, err) = run(&["init"]);
    assert!(ok, "{err}");
    let (ok, out, err) = run(&["recover", "--dry-run", "--json"]);
    assert!(ok, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["missing"], json!(["lost-1", "huge-1"]), "{report}");
    assert_eq!(report["not_redeliverable"], json!([["huge-1", 413]]));
    assert_eq!(report["delivered"], 1);
    assert!(standin.state.redeliveries("app").is_empty());

    let (ok, out, err) = run(&["recover"]);
    assert!(ok, "{err}");
    assert!(out.contains("redelivered lost-1"), "{out}");
    assert!(
        out.contains("not redeliverable huge-1: status 413"),
        "{out}"
    );
    assert!(!out.contains("redelivered huge-1"), "{out}");
    assert_eq!(standin.state.redeliveries("app").len(), 1);
    // The redelivery of lost-1 is still to come: a second run does not ask again.
    let (ok, out, err) = run(&["recover"]);
    assert!(ok, "{err}");
    assert!(out.contains("asked before lost-1"), "{out}");
    assert_eq!(standin.state.redeliveries("app").len(), 1);

    let (ok, _, err) = run(&["recover", "--since", "soon"]);
    assert!(!ok);
    assert!(err.contains("not a duration"), "{err}");
}
