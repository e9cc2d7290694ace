//! The operator console on the AWS backend (moto): `coderipple console --backend aws` lists a
//! dead letter from SQS with its reason, shows its envelope escaped, and purges it; against an
//! endpoint that does not answer, every page shows the backend's banner instead of failing.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use coderipple_core::contract::aws::clients;
use coderipple_core::queue::{DeadLetterReason, OutgoingMessage, Queue};
use reqwest::StatusCode;

use crate::aws_cli::{Names, command, envelope, names, queue_urls, run, status};
use crate::common::sha;
use crate::console::{TextNow, csrf_of};

/// Starts a prepared `coderipple console … --listen 127.0.0.1:0`; returns it and its base URL.
pub(crate) fn spawn_console(mut cmd: Command) -> (ChildGuard, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .expect("start coderipple console");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("coderipple console exited before listening")
            .expect("read stdout");
        if let Some(rest) = line.strip_prefix("console on ") {
            let url = rest.split_whitespace().next().unwrap();
            break url.trim_end_matches("/ui").to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (ChildGuard(child), base)
}

pub(crate) struct ChildGuard(pub(crate) Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn console(n: &Names, dir: &std::path::Path) -> Command {
    command(
        n,
        dir,
        &["console", "--backend", "aws", "--listen", "127.0.0.1:0"],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_aws_the_console_lists_shows_and_purges_a_dead_letter() {
    let n = names();
    let dir = tempfile::tempdir().unwrap();
    assert!(run(&n, dir.path(), &["init", "--backend", "aws"]).0);
    let (_, dlq) = queue_urls(&clients().await, &n).await;
    let failed = envelope("o/b", "console-aws-1", &sha(80, 0));
    let mut held = OutgoingMessage::new("o/b", "console-aws-1", failed.to_json());
    held.attributes = DeadLetterReason {
        reason: "docs bucket was unavailable <b>bold</b>".into(),
        error_class: "transient".into(),
    }
    .attributes_over(BTreeMap::new(), 5, "o/b");
    dlq.send_batch(&[held]).await.unwrap();

    let (_child, base) = spawn_console(console(&n, dir.path()));
    let http = reqwest::Client::new();
    let get = |route: &str| {
        let req = http.get(format!("{base}{route}"));
        async move { req.send().await.unwrap() }
    };
    let overview = get("/ui").await.text().await.unwrap();
    assert!(overview.contains("id=\"dlq-depth\">1<"), "{overview}");
    let page = get("/ui/dlq").await.text().await.unwrap();
    assert!(page.contains("console-aws-1"), "{page}");
    assert!(
        page.contains("docs bucket was unavailable &lt;b&gt;bold&lt;/b&gt;"),
        "{page}"
    );
    let shown = get("/ui/dlq/message/console-aws-1").await;
    assert_eq!(shown.status(), StatusCode::OK);
    assert!(
        shown
            .text()
            .await
            .unwrap()
            .contains("fix: replayed from the DLQ")
    );

    let csrf = csrf_of(&page);
    let confirm = http
        .post(format!("{base}/ui/dlq/purge"))
        .form(&[("csrf", csrf.as_str()), ("repo", "o/b")])
        .text_now()
        .await;
    assert!(confirm.contains("Delete 1 message(s)"), "{confirm}");
    assert_eq!(
        status(&n, dir.path())["dlq"]["depth"],
        1,
        "asking changes nothing"
    );
    let done = http
        .post(format!("{base}/ui/dlq/purge"))
        .form(&[("csrf", csrf.as_str()), ("repo", "o/b"), ("confirm", "1")])
        .text_now()
        .await;
    assert!(done.contains("Purged 1 message(s)"), "{done}");
    assert_eq!(status(&n, dir.path())["dlq"]["depth"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_does_not_answer_gives_a_banner_on_every_page() {
    let n = names();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = console(&n, dir.path());
    // Nothing listens on port 9 of loopback: every AWS call fails at once (queue URLs given,
    // so starting needs no call).
    let dead = "http://127.0.0.1:9";
    cmd.env("AWS_ENDPOINT_URL", dead)
        .env_remove("CODERIPPLE_QUEUE_NAME")
        .env_remove("CODERIPPLE_DLQ_NAME")
        .env(
            "CODERIPPLE_QUEUE_URL",
            format!("{dead}/000000000000/{}", n.queue),
        )
        .env(
            "CODERIPPLE_DLQ_URL",
            format!("{dead}/000000000000/{}", n.dlq),
        );
    let (_child, base) = spawn_console(cmd);
    let http = reqwest::Client::new();
    for route in [
        "/ui",
        "/ui/live",
        "/ui/deliveries",
        "/ui/dlq",
        "/ui/repos",
        "/ui/repos/o/r",
    ] {
        let resp = http.get(format!("{base}{route}")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE, "{route}");
        let html = resp.text().await.unwrap();
        assert!(
            html.contains("The backend did not answer"),
            "{route}: {html}"
        );
    }
}
