//! The agents through the real processing path (SQLite store, directory sink): determinism,
//! idempotency, coalesced = one by one, and a golden test on a real git history.

use std::path::Path;
use std::time::Duration;

use coderipple_consumer::{Outcome, handle_batch};
use coderipple_core::contract::fixtures;
use coderipple_core::envelope::{Change, Commit, Envelope, PullRequestChange, ReleaseChange};
use coderipple_testkit::{LocalWorker, files_under};
use coderipple_worker::apply_change_set;
use coderipple_worker::history_import;
use tokio_util::sync::CancellationToken;

const LEASE: Duration = Duration::from_secs(60);

type Harness = LocalWorker;

fn harness(checkout: Option<(&str, &Path)>) -> Harness {
    match checkout {
        Some((repo, root)) => LocalWorker::new().checkout(repo, root),
        None => LocalWorker::new(),
    }
}

fn commit(n: u32, message: &str, added: &[&str], modified: &[&str], removed: &[&str]) -> Commit {
    let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    Commit {
        timestamp: format!("2026-03-{:02}T09:00:00Z", n % 28 + 1),
        added: own(added),
        modified: own(modified),
        removed: own(removed),
        ..fixtures::commit(n.into(), message)
    }
}

fn envelope(delivery: &str, change: Change) -> Envelope {
    fixtures::envelope("o/r", delivery, "push", change)
}

fn push(delivery: &str, commits: Vec<Commit>) -> Envelope {
    fixtures::push("o/r", delivery, commits)
}

/// A small history touching every agent: features, fixes, a breaking change, a move, a
/// removed component, manifests and infra, a merged PR and a release.
fn history() -> Vec<Envelope> {
    vec![
        push(
            "e1",
            vec![
                commit(
                    1,
                    "feat: first cut\n\nWe decided to keep state in SQLite.",
                    &[
                        "README.md",
                        "Cargo.toml",
                        "src/main.rs",
                        "src/lib.rs",
                        "old/legacy.rs",
                    ],
                    &[],
                    &[],
                ),
                commit(
                    2,
                    "Add a CLI flag",
                    &["cli/src/main.rs", "cli/Cargo.toml"],
                    &[],
                    &[],
                ),
            ],
        ),
        push(
            "e2",
            vec![commit(
                3,
                "fix(cli): exit codes",
                &[],
                &["cli/src/main.rs"],
                &[],
            )],
        ),
        envelope(
            "e3",
            Change::PullRequest(PullRequestChange {
                number: 4,
                title: "Move to tokio".into(),
                body: "We chose tokio over threads.".into(),
                labels: vec![],
                base_ref: "main".into(),
                merge_commit_sha: None,
                url: "https://github.com/o/r/pull/4".into(),
                merged_at: Some("2026-03-05T00:00:00Z".into()),
            }),
        ),
        envelope(
            "e4",
            Change::Release(ReleaseChange {
                tag: "v0.1.0".into(),
                name: "First".into(),
                body: "The first release.".into(),
                url: "https://github.com/o/r/releases/tag/v0.1.0".into(),
                prerelease: false,
                promoted: false,
                published_at: Some("2026-03-06T00:00:00Z".into()),
                target: None,
            }),
        ),
        push(
            "e5",
            vec![
                commit(
                    5,
                    "refactor: move lib",
                    &["core/lib.rs"],
                    &[],
                    &["src/lib.rs"],
                ),
                commit(
                    6,
                    "feat!: new config\n\nBREAKING CHANGE: config.toml replaces config.ini",
                    &["config.toml", "Dockerfile"],
                    &[],
                    &["old/legacy.rs"],
                ),
            ],
        ),
        push(
            "e6",
            vec![commit(
                7,
                "ci: add workflow",
                &[".github/workflows/ci.yml"],
                &[],
                &[],
            )],
        ),
    ]
}

async fn apply_each(h: &Harness, events: &[Envelope]) {
    for env in events {
        apply_change_set(&h.ctx, "o/r", std::slice::from_ref(env), LEASE)
            .await
            .unwrap();
    }
}

fn renamed(events: &[Envelope], suffix: &str) -> Vec<Envelope> {
    events
        .iter()
        .map(|e| Envelope {
            delivery: format!("{}{suffix}", e.delivery),
            ..e.clone()
        })
        .collect()
}

#[tokio::test]
async fn one_by_one_coalesced_and_replayed_give_byte_identical_docs() {
    let events = history();
    let each = harness(None);
    apply_each(&each, &events).await;
    let docs = each.docs("o/r");
    assert_eq!(
        docs.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "decisions/architecture_decisions.md",
            "decisions/changelog.md",
            "decisions/refactoring_history.md",
            "system/architecture.md",
            "system/tech_stack.md",
            "user/getting_started.md",
            "user/upgrading.md",
            "user/whats_new.md",
        ]
    );
    // All at once: one change set.
    let coalesced = harness(None);
    apply_change_set(&coalesced.ctx, "o/r", &events, LEASE)
        .await
        .unwrap();
    assert_eq!(coalesced.docs("o/r"), docs);
    // The same events again, under new delivery ids (a replay that idempotency records
    // cannot catch): the agents recognise every entry and nothing changes.
    apply_each(&each, &renamed(&events, "-again")).await;
    assert_eq!(each.docs("o/r"), docs);
    let state = each.ctx.store.repo_state("o/r").await.unwrap().unwrap();
    apply_each(&each, &renamed(&events, "-third")).await;
    let after = each.ctx.store.repo_state("o/r").await.unwrap().unwrap();
    assert_eq!(after.state, state.state, "state unchanged by a replay");
    // And the docs hold what happened.
    let adrs = &docs["decisions/architecture_decisions.md"];
    assert!(
        adrs.contains("ADR-0001: First cut") && adrs.contains("Move to tokio"),
        "{adrs}"
    );
    assert!(docs["user/upgrading.md"].contains("config.toml replaces config.ini"));
    assert!(
        docs["decisions/refactoring_history.md"].contains("`src/lib.rs` moved to `core/lib.rs`")
    );
    assert!(docs["system/architecture.md"].contains("| `core` | 1 |  | Rust |"));
}

#[tokio::test]
async fn a_crash_after_the_state_write_is_repaired_by_the_redelivery() {
    let events = history();
    let h = harness(None);
    apply_each(&h, &events[..2]).await;
    // Lose the docs (as if the process died after storing state, before writing docs).
    std::fs::remove_dir_all(h.dir.path().join("docs/o/r/user")).unwrap();
    // The redelivery of e2 (a new attempt: its record was never completed).
    apply_change_set(&h.ctx, "o/r", &renamed(&events[1..2], "-retry"), LEASE)
        .await
        .unwrap();
    assert!(h.dir.path().join("docs/o/r/user/whats_new.md").exists());
}

mod golden;
mod hostile;
