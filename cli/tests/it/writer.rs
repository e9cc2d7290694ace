//! The LLM writer through the real `coderipple up`: settings from the environment, a real
//! small model on loopback (llama.cpp's server, counted by a proxy), the writer's figures in
//! `coderipple status`, and a bad setting refused at start naming its variable.

use std::process::{Command, Stdio};
use std::time::Duration;

use coderipple_testkit::{LLM_MODEL, LlmServer};

use crate::common::*;

const REPO: &str = "acme/writer";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_with_a_model_writes_prose_and_status_counts_it() {
    let server = LlmServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let up = Server::start(
        dir.path(),
        &[
            ("CODERIPPLE_WRITER", "openai"),
            ("CODERIPPLE_WRITER_URL", &server.url),
            ("CODERIPPLE_WRITER_MODEL", LLM_MODEL),
            ("CODERIPPLE_WRITER_TIMEOUT_SECS", "120"),
            ("CODERIPPLE_WRITER_MAX_TOKENS", "48"),
        ],
    );
    let client = reqwest::Client::new();
    let body = push_body(REPO, &sha(7, 1), "feat!: the gears turn the other way");
    let (status, _) = post(&client, &up.url, "push", "writer-1", &body)
        .await
        .unwrap();
    assert_eq!(status, 202);
    let report = wait_drained(dir.path(), 1, Duration::from_secs(300));

    let writer = &report["writer_last_day"];
    assert_eq!(writer["model"], format!("openai:{LLM_MODEL}"), "{report}");
    assert!(writer["written"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(
        writer["calls"].as_u64().unwrap() as usize,
        server.requests()
    );
    let docs = coderipple_testkit::files_under(&dir.path().join("docs").join(REPO));
    let adrs = &docs["decisions/architecture_decisions.md"];
    assert!(adrs.contains("**Context.** "), "{adrs}");
    for (rel, text) in &docs {
        assert!(!text.contains("coderipple:prose"), "{rel}:\n{text}");
    }

    let (ok, out, err) = cli(dir.path(), &["status", "--delivery", "writer-1"]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("writer:   openai:{LLM_MODEL}")),
        "{out}"
    );
    let (ok, out, _) = cli(dir.path(), &["status"]);
    assert!(ok && out.contains("from the cache"), "{out}");
}

#[test]
fn a_writer_without_its_url_stops_up_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(bin())
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("CODERIPPLE_WRITER", "openai")
        .env("CODERIPPLE_WRITER_MODEL", "m")
        .env_remove("CODERIPPLE_WRITER_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CODERIPPLE_WRITER_URL"), "{err}");
    assert!(
        !dir.path().join("coderipple.db").exists(),
        "refused before anything was created"
    );
}
