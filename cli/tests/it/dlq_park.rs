//! A parked repository's replay on the embedded backend, through the real binary: more than
//! one batch of dead letters behind the head, a replay that names only the head, and the
//! park lifted only once every one of them was sent back, in order (the SQS side, with a
//! peek that shows one batch per group and a replay cut short: `aws_replay.rs`).

use std::time::Duration;

use crate::common::*;
use crate::console::{block, start, wait_dlq};

/// The repositories parked right now (`status --json`).
pub fn parked(dir: &std::path::Path) -> Vec<String> {
    status(dir)["parked"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| p["repo"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_a_parked_head_sends_its_whole_history_then_lifts_the_park() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = start(dir.path(), &[]);
    let http = reqwest::Client::new();
    let blocker = block(dir.path(), "acme/parked");
    let commits: Vec<String> = (0..14).map(|i| sha(82, i)).collect();
    for (i, commit) in commits.iter().enumerate() {
        let body = push_body("acme/parked", commit, &format!("feat: change {i}"));
        let delivery = format!("parked-{i:02}");
        let (code, _) = post(&http, &server.url, "push", &delivery, &body)
            .await
            .unwrap();
        assert_eq!(code, 202);
    }
    // The head runs out of receives and parks the repository; the 13 behind it follow it
    // into the DLQ as `parked`.
    wait_dlq(dir.path(), 14);
    assert_eq!(parked(dir.path()), ["acme/parked"]);
    // No worker while the replay runs: what it sent is what the queue holds.
    drop(server);

    let (ok, out, err) = cli(dir.path(), &["dlq", "replay", "--delivery", "parked-00"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("replayed 14 message(s)"), "{out}");
    assert!(out.contains("lifted the park of acme/parked"), "{out}");
    let s = status(dir.path());
    assert_eq!(s["dlq"]["depth"], 0, "the whole history was sent back: {s}");
    assert_eq!(s["queue"]["visible"], 14, "{s}");
    assert!(parked(dir.path()).is_empty());

    // After the fix, everything is applied in the order it was pushed.
    std::fs::remove_file(&blocker).unwrap();
    let again = Server::start(dir.path(), &[]);
    wait_drained(dir.path(), 14, Duration::from_secs(60));
    let applied = applied_shas(dir.path(), "acme/parked").await;
    assert_eq!(applied, commits);
    drop(again);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_only_a_later_message_leaves_the_park() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = start(dir.path(), &[]);
    let http = reqwest::Client::new();
    block(dir.path(), "acme/stays");
    for i in 0..3 {
        let body = push_body("acme/stays", &sha(83, i), &format!("feat: change {i}"));
        let (code, _) = post(&http, &server.url, "push", &format!("stays-{i}"), &body)
            .await
            .unwrap();
        assert_eq!(code, 202);
    }
    wait_dlq(dir.path(), 3);
    drop(server);
    let (ok, out, err) = cli(dir.path(), &["dlq", "replay", "--delivery", "stays-2"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("replayed 1 message(s)"), "{out}");
    assert!(!out.contains("lifted"), "{out}");
    assert_eq!(parked(dir.path()), ["acme/stays"]);
    assert_eq!(status(dir.path())["dlq"]["depth"], 2);
}
