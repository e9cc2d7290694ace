//! Replaying a parked repository on SQS (moto): a FIFO peek shows only the first batch of a
//! group, yet a replay from the console that names the head sends all of the history back,
//! with the park's token, and lifts the park only then; a replay cut short (the events
//! queue refuses a message) leaves the park, a worker applies the copies sent so far through
//! it, and the next replay finishes the history and lifts it, everything applied in order.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use coderipple_core::aws::dynamo::DynamoStore;
use coderipple_core::contract::aws::clients;
use coderipple_core::envelope::{Change, Commit, Envelope};
use coderipple_core::queue::{DeadLetterReason, OutgoingMessage, Queue, delivery_of};
use coderipple_core::store::{LIFTS_PARK_ATTR, ParkedRepo, Store};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::Value;

use crate::aws_cli::{Names, command, envelope, names, queue_urls, run, status};
use crate::common::sha;
use crate::console::{TextNow, csrf_of};
use crate::console_aws::{ChildGuard, console, spawn_console};

/// Puts `count` dead letters of `repo` (`{prefix}-00`…, a chain of commits from `seed`) into
/// the DLQ behind a park of its first; the one at `big` has a body of about 8 KiB. Returns
/// the park and the commits in order.
async fn park_history(
    n: &Names,
    repo: &str,
    prefix: &str,
    seed: u64,
    count: u64,
    big: Option<u64>,
) -> (ParkedRepo, Vec<String>) {
    let c = clients().await;
    let (_, dlq) = queue_urls(&c, n).await;
    let commits: Vec<String> = (0..count).map(|i| sha(seed, i)).collect();
    let mut out = Vec::new();
    for (i, commit) in commits.iter().enumerate() {
        let delivery = format!("{prefix}-{i:02}");
        let mut env: Envelope = envelope(repo, &delivery, commit);
        if let Some(Change::Push(p)) = &mut env.change {
            p.before = if i == 0 {
                String::new()
            } else {
                commits[i - 1].clone()
            };
            if big == Some(i as u64) {
                p.commits = vec![Commit {
                    message: format!("feat: a long message {}", "x".repeat(8_000)),
                    ..p.commits[0].clone()
                }];
            }
        }
        let (class, reason) = if i == 0 {
            ("transient", "still failing after 5 receives".to_owned())
        } else {
            (
                "parked",
                format!("parked behind dead-lettered delivery {prefix}-00"),
            )
        };
        let mut m = OutgoingMessage::new(repo, delivery, env.to_json());
        m.attributes = DeadLetterReason {
            reason,
            error_class: class.into(),
        }
        .attributes_over(BTreeMap::new(), 5, repo);
        out.push(m);
    }
    dlq.send_batch(&out).await.unwrap();
    let park = ParkedRepo {
        repo: repo.into(),
        head: format!("{prefix}-00"),
        reason: "still failing after 5 receives".into(),
        since_ms: coderipple_core::time::now_ms(),
    };
    DynamoStore::new(c.dynamodb.clone(), &n.table)
        .park_repo(&park)
        .await
        .unwrap();
    (park, commits)
}

fn parked(s: &Value) -> Vec<String> {
    s["parked"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| p["repo"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The hidden fields of the page's forms, as a browser would post them.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|rest| {
            let (name, rest) = rest.split_once('"').unwrap();
            let value = rest
                .split_once("value=\"")
                .and_then(|(_, v)| v.split_once('"'))
                .map_or("", |(v, _)| v);
            (name.to_owned(), value.replace("&amp;", "&"))
        })
        .collect()
}

async fn set_max_size(c: &coderipple_core::aws::AwsClients, url: &str, bytes: u32) {
    c.sqs
        .set_queue_attributes()
        .queue_url(url)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::MaximumMessageSize,
            bytes.to_string(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_replay_of_a_parked_head_on_sqs_sends_every_batch_then_lifts_the_park() {
    let n = names();
    let dir = tempfile::tempdir().unwrap();
    assert!(run(&n, dir.path(), &["init", "--backend", "aws"]).0);
    let (park, _) = park_history(&n, "o/parked", "sqs-park", 86, 13, None).await;
    assert_eq!(parked(&status(&n, dir.path())), ["o/parked"]);

    let (_child, base) = spawn_console(console(&n, dir.path()));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http.get(format!("{base}/ui/dlq")).text_now().await;
    let csrf = csrf_of(&page);
    // The operator ticks the head only; the preview shows what a peek sees.
    let preview = http
        .post(format!("{base}/ui/dlq/replay"))
        .form(&[("csrf", csrf.as_str()), ("delivery", "sqs-park-00")])
        .text_now()
        .await;
    assert!(
        preview.contains("would lift the park of o/parked"),
        "{preview}"
    );
    let mut form = hidden_fields(&preview);
    form.push(("confirm".into(), "1".into()));
    let done = http
        .post(format!("{base}/ui/dlq/replay"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let next = done.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(next.contains("moved=13"), "{next}");
    assert!(
        form.contains(&("whole".into(), "o/parked".into())),
        "the confirmation carries the repository: {form:?}"
    );

    let s = status(&n, dir.path());
    assert_eq!(s["dlq"]["depth"], 0, "{s}");
    assert!(parked(&s).is_empty(), "{s}");
    // The events queue holds the whole history in order, each copy with the park's token.
    let c = clients().await;
    let (queue, _) = queue_urls(&c, &n).await;
    let mut seen = Vec::new();
    while seen.len() < 13 {
        let batch = queue
            .receive(10, Duration::from_secs(60), Duration::from_secs(1))
            .await
            .unwrap();
        assert!(!batch.is_empty(), "only {seen:?} in the queue");
        for m in &batch {
            assert_eq!(
                m.attributes.get(LIFTS_PARK_ATTR),
                Some(&park.lift_token()),
                "{m:?}"
            );
            seen.push(delivery_of(&m.body, &m.dedup_id));
        }
        let receipts: Vec<String> = batch.iter().map(|m| m.receipt.clone()).collect();
        queue.delete_batch(&receipts).await.unwrap();
    }
    let expected: Vec<String> = (0..13).map(|i| format!("sqs-park-{i:02}")).collect();
    assert_eq!(seen, expected);
}

fn wait_queue_empty(n: &Names, dir: &std::path::Path, completed: u64) -> Value {
    let start = Instant::now();
    loop {
        let s = status(n, dir);
        let empty = s["queue"]["visible"] == 0 && s["queue"]["in_flight"] == 0;
        if empty && s["deliveries"]["completed"].as_u64().unwrap_or(0) >= completed {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "not drained: {s}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn applied(n: &Names, dir: &std::path::Path, repo: &str) -> Vec<String> {
    let (ok, out, err) = run(
        n,
        dir,
        &["status", "--backend", "aws", "--json", "--repo", repo],
    );
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    v["repos"][repo]["applied_commits"]
        .as_array()
        .map(|a| a.iter().map(|c| c.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_cut_short_keeps_the_park_and_the_next_one_lifts_it() {
    let n = names();
    let dir = tempfile::tempdir().unwrap();
    assert!(run(&n, dir.path(), &["init", "--backend", "aws"]).0);
    // The 12th message is too big for the events queue while it is limited to 4 KiB: the
    // second batch of the replay is refused.
    let (_, commits) = park_history(&n, "o/cut", "cut", 87, 12, Some(11)).await;
    let c = clients().await;
    let (queue, _) = queue_urls(&c, &n).await;
    set_max_size(&c, queue.url(), 4096).await;

    let (ok, out, err) = run(
        &n,
        dir.path(),
        &["dlq", "replay", "--backend", "aws", "--repo", "o/cut"],
    );
    assert!(!ok, "the replay was cut short: {out}{err}");
    assert!(!out.contains("lifted"), "{out}");
    let s = status(&n, dir.path());
    assert_eq!(parked(&s), ["o/cut"], "the park stays: {s}");
    assert_eq!(s["dlq"]["depth"], 2, "{s}");
    assert_eq!(s["queue"]["visible"], 10, "{s}");

    // A worker applies the copies sent so far through the park, which stays.
    set_max_size(&c, queue.url(), 262_144).await;
    let mut worker = command(
        &n,
        dir.path(),
        &["worker", "--backend", "aws", "--workers", "1"],
    );
    worker.stdout(std::process::Stdio::null());
    let _worker = ChildGuard(worker.spawn().unwrap());
    wait_queue_empty(&n, dir.path(), 10);
    assert_eq!(applied(&n, dir.path(), "o/cut"), &commits[..10]);
    let s = status(&n, dir.path());
    assert_eq!(parked(&s), ["o/cut"], "{s}");
    assert_eq!(s["dlq"]["depth"], 2, "nothing more was dead-lettered: {s}");

    // The next replay sends the rest and lifts the park.
    let (ok, out, err) = run(
        &n,
        dir.path(),
        &["dlq", "replay", "--backend", "aws", "--repo", "o/cut"],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("lifted the park of o/cut"), "{out}");
    wait_queue_empty(&n, dir.path(), 12);
    assert_eq!(applied(&n, dir.path(), "o/cut"), commits);
    assert!(parked(&status(&n, dir.path())).is_empty());
}
