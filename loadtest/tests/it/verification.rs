//! The verification is only worth something if it fails when the outcome is wrong: a real
//! SQLite store and DLQ holding a lost push, a push applied twice, a repository applied out
//! of order and a poison event missing from the DLQ must each be reported, and the same
//! checks must pass on the right outcome.

use std::time::Duration;

use coderipple_core::Backend;
use coderipple_core::config::Settings;
use coderipple_core::queue::{DeadLetterReason, OutgoingMessage};
use coderipple_core::sqlite::Durability;
use coderipple_loadtest::applied::AppliedReader;
use coderipple_loadtest::runner::{SendPhase, Sent};
use coderipple_loadtest::traffic::{self, Faults, Kind, Request, Synth};
use coderipple_loadtest::verify::{self, Backends, Verification};
use serde_json::{Value, json};

const TAG: u32 = 0xabc;

fn traffic() -> Vec<Request> {
    let shape = Synth {
        repos: 2,
        events: 6,
        commits: 1,
        files: 1,
    };
    let faults = Faults {
        poison: 1,
        ..Faults::default()
    };
    traffic::inject(traffic::synthesize(TAG, &shape), &faults, TAG)
}

fn acknowledged_phase(traffic: &[Request]) -> SendPhase {
    let sent = traffic
        .iter()
        .map(|r| Sent {
            index: r.index,
            delivery: r.delivery.clone(),
            repo: r.repo.clone(),
            kind: r.kind,
            intended_ms: Some(0.0),
            answered_at_ms: 0,
            answered_after_ms: 1.0,
            latency_us: 1000,
            status: 202,
            what: "queued".into(),
            attempts: 1,
            unavailable: 0,
            copies: Vec::new(),
            late: None,
        })
        .collect();
    SendPhase {
        sent,
        started_at_ms: 0,
        elapsed: Duration::from_millis(5),
    }
}

fn changelog(shas: &[&str]) -> Value {
    let entries: Vec<Value> = shas
        .iter()
        .map(|s| json!({"sha": s, "type": "feat", "summary": "s", "url": "u"}))
        .collect();
    json!({"historian": {"changelog": {"entries": entries}}})
}

/// Stores what the pipeline would have: records completed (poison failed), each repo's
/// applied commits as `applied(repo, its commits in send order)` says.
async fn outcome(
    parts: &Backend,
    traffic: &[Request],
    applied: impl Fn(&str, Vec<&str>) -> Vec<String>,
    poison_in_dlq: bool,
    tweak: impl Fn(&mut SendPhase),
) -> Verification {
    let store = &parts.store;
    let ttl = Duration::from_secs(3600);
    for r in traffic {
        store
            .begin_processing(&r.delivery, &r.repo, "test", ttl, ttl)
            .await
            .unwrap();
        if r.kind == Kind::Poison {
            store
                .fail_processing(&r.delivery, &json!({"reason": "bad"}))
                .await
                .unwrap();
            if poison_in_dlq {
                // Through the queue, as the worker does: receive, then dead-letter.
                let q = &parts.queue;
                q.send_batch(&[OutgoingMessage::new(
                    r.repo.clone(),
                    r.delivery.clone(),
                    "{}",
                )])
                .await
                .unwrap();
                let got = q.receive(1, ttl, Duration::ZERO).await.unwrap();
                let reason = DeadLetterReason {
                    reason: "not a hex sha".into(),
                    error_class: "invalid".into(),
                };
                q.dead_letter(&got[0], &reason).await.unwrap();
            }
        } else {
            store
                .complete_processing(std::slice::from_ref(&r.delivery), "test", &json!({}))
                .await
                .unwrap();
        }
    }
    let repos: std::collections::BTreeSet<&str> = traffic.iter().map(|r| r.repo.as_str()).collect();
    for repo in repos {
        let sent: Vec<&str> = traffic
            .iter()
            .filter(|r| r.repo == repo && r.kind == Kind::Normal)
            .flat_map(|r| r.commits.iter().map(String::as_str))
            .collect();
        let shas = applied(repo, sent);
        let shas: Vec<&str> = shas.iter().map(String::as_str).collect();
        let current = store.repo_state(repo).await.unwrap().map(|s| s.version);
        store
            .put_repo_state(repo, current, &changelog(&shas))
            .await
            .unwrap();
    }
    let dir = &parts.embedded.as_ref().unwrap().dir;
    let backends = Backends {
        store: parts.store.clone(),
        dlq: parts.dlq.clone(),
        // Read back the way the tester reads any pipeline: `coderipple status --json --repo`.
        applied: AppliedReader {
            bin: crate::common::coderipple(),
            args: vec![
                "--backend".into(),
                "sqlite".into(),
                "--data-dir".into(),
                dir.into(),
            ],
        },
    };
    let mut phase = acknowledged_phase(traffic);
    tweak(&mut phase);
    let (drained, _, records) = verify::drain(
        &backends,
        traffic,
        &phase,
        Duration::from_secs(5),
        |_, _| {},
    )
    .await;
    assert!(drained);
    let mut v = verify::verify(
        &backends,
        traffic,
        &phase,
        &records,
        &format!("lt-{TAG:08x}"),
    )
    .await
    .unwrap();
    v.drained = drained;
    v
}

fn open(dir: &std::path::Path) -> Backend {
    let settings = Settings {
        sqlite_sync: Durability::Normal,
        ..Settings::default()
    };
    Backend::open_local(dir, &settings, true).unwrap()
}

#[tokio::test]
async fn the_right_outcome_passes_except_for_the_poison_missing_from_the_dlq() {
    let dir = tempfile::tempdir().unwrap();
    let parts = open(dir.path());
    let traffic = traffic();
    let v = outcome(
        &parts,
        &traffic,
        |_, sent| sent.into_iter().map(str::to_owned).collect(),
        false,
        |_| {},
    )
    .await;
    assert_eq!(
        (
            v.verified,
            v.lost.count,
            v.applied_twice.count,
            v.order_violations.count
        ),
        (6, 0, 0, 0)
    );
    // Nothing put the poison event in the DLQ here: that alone fails the run.
    assert_eq!(v.poison_expected, 1);
    assert_eq!(v.dlq_missing.count, 1, "{v:?}");
    assert!(!v.passed(0));
}

#[tokio::test]
async fn lost_twice_and_out_of_order_are_each_reported() {
    let dir = tempfile::tempdir().unwrap();
    let parts = open(dir.path());
    let traffic = traffic();
    let mut repos: Vec<String> = traffic.iter().map(|r| r.repo.clone()).collect();
    repos.sort();
    repos.dedup();
    let (first, second) = (repos[0].clone(), repos[1].clone());
    let applied = move |repo: &str, sent: Vec<&str>| {
        let mut out: Vec<String> = sent.iter().map(|s| (*s).to_owned()).collect();
        if repo == first {
            out.remove(1); // lost
            out.push(out[0].clone()); // applied twice
        } else if repo == second {
            out.swap(0, 1); // out of order
        }
        out
    };
    let v = outcome(&parts, &traffic, applied, true, |_| {}).await;
    assert_eq!(v.lost.count, 1, "{v:?}");
    assert_eq!(v.applied_twice.count, 1, "{v:?}");
    assert_eq!(v.order_violations.count, 1, "{v:?}");
    assert_eq!(v.order_violations.examples, [repos[1].clone()]);
    assert_eq!(v.verified, 4);
    assert!(
        !v.passed(1),
        "a lost push within --max-lost still fails on the rest"
    );
}

#[tokio::test]
async fn everything_right_passes_and_one_unacknowledged_request_fails() {
    let dir = tempfile::tempdir().unwrap();
    let parts = open(dir.path());
    let traffic = traffic();
    let all = |_: &str, sent: Vec<&str>| sent.into_iter().map(str::to_owned).collect();
    let v = outcome(&parts, &traffic, all, true, |_| {}).await;
    assert_eq!(
        (v.verified, v.poison_expected, v.dlq_found),
        (6, 1, 1),
        "{v:?}"
    );
    assert!(v.passed(0), "{v:?}");

    // The same, but ingest never acknowledged one push (503 to the last attempt).
    let dir = tempfile::tempdir().unwrap();
    let parts = open(dir.path());
    let v = outcome(&parts, &traffic, all, true, |phase| {
        phase.sent[0].status = 503;
        phase.sent[0].what = "temporarily unavailable".into();
    })
    .await;
    assert_eq!(v.never_acknowledged.count, 1, "{v:?}");
    assert!(!v.passed(0), "an unacknowledged request fails the run");
}
