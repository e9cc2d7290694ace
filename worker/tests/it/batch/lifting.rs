//! A replay lifting a park: its copies carry the park's token and go through it, while
//! anything else of the repository (a new event, a copy with another park's token) is
//! dead-lettered behind it; a copy that runs out of receives parks the repository again
//! under a new park, and the copies behind it wait.

use super::*;

use coderipple_consumer::{EXHAUSTED_CLASS, PARKED_CLASS};
use coderipple_core::queue::delivery_of;
use coderipple_core::store::{LIFTS_PARK_ATTR, ParkedRepo};

fn park(repo: &str, head: &str, since_ms: i64) -> ParkedRepo {
    ParkedRepo {
        repo: repo.into(),
        head: head.into(),
        reason: "still failing after 5 receives".into(),
        since_ms,
    }
}

/// Sends `envs` as a replay's copies: with `token` as their `lifts_park`, or plain.
async fn send_copies(h: &Harness, envs: &[(Envelope, Option<String>)]) {
    let out: Vec<OutgoingMessage> = envs
        .iter()
        .map(|(e, token)| {
            let mut m = OutgoingMessage::new(&e.repo, &e.delivery, e.to_json());
            if let Some(t) = token {
                m.attributes.insert(LIFTS_PARK_ATTR.into(), t.clone());
            }
            m
        })
        .collect();
    h.ctx.queue.send_batch(&out).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_with_the_parks_token_go_through_it_and_the_rest_waits_behind() {
    let h = harness();
    let parked = park("o/lift", "l1", 1_000);
    h.ctx.store.park_repo(&parked).await.unwrap();
    let token = Some(parked.lift_token());
    let stale = Some(park("o/lift", "l1", 999).lift_token());
    send_copies(
        &h,
        &[
            (
                push("o/lift", "l1", &[(sha(11), "feat: first")]),
                token.clone(),
            ),
            (
                push("o/lift", "n1", &[(sha(12), "feat: new meanwhile")]),
                None,
            ),
            (push("o/lift", "l2", &[(sha(13), "feat: second")]), token),
            (
                push("o/lift", "old", &[(sha(14), "feat: other park")]),
                stale,
            ),
        ],
    )
    .await;
    let report = handle_batch(
        &h.consumer(),
        receive_all(&h).await,
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(outcome_of(&report, "l1"), &Outcome::Done);
    assert_eq!(outcome_of(&report, "l2"), &Outcome::Done);
    for behind in ["n1", "old"] {
        assert!(
            matches!(outcome_of(&report, behind), Outcome::DeadLettered(r) if r.contains("l1")),
            "{behind}: {report:?}"
        );
    }
    let log = changelog(&h, "o/lift");
    assert!(log.contains("first") && log.contains("second"), "{log}");
    assert!(!log.contains("new meanwhile"), "{log}");
    // The park stands until the replay lifts it.
    assert_eq!(
        h.ctx.store.parked_repo("o/lift").await.unwrap(),
        Some(parked)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_out_of_receives_parks_the_repository_again_and_the_copies_behind_it_wait() {
    let mut h = harness();
    h.ctx_mut().settings.max_receives = 1;
    let blocker = h.dir.path().join("docs").join("o/again");
    std::fs::create_dir_all(blocker.parent().unwrap()).unwrap();
    std::fs::write(&blocker, "not a directory").unwrap();
    let parked = park("o/again", "a1", 1_000);
    h.ctx.store.park_repo(&parked).await.unwrap();
    let token = Some(parked.lift_token());
    send_copies(
        &h,
        &[
            (
                push("o/again", "a1", &[(sha(21), "feat: first")]),
                token.clone(),
            ),
            (
                push("o/again", "a2", &[(sha(22), "feat: second")]),
                token.clone(),
            ),
        ],
    )
    .await;
    let report = handle_batch(
        &h.consumer(),
        receive_all(&h).await,
        &CancellationToken::new(),
    )
    .await;
    assert!(matches!(
        outcome_of(&report, "a1"),
        Outcome::DeadLettered(_)
    ));
    assert!(matches!(
        outcome_of(&report, "a2"),
        Outcome::DeadLettered(_)
    ));
    let again = h.ctx.store.parked_repo("o/again").await.unwrap().unwrap();
    assert_eq!(again.head, "a1");
    assert_ne!(again.lift_token(), parked.lift_token(), "a new park");
    // A copy of the first replay still in the queue no longer goes through.
    std::fs::remove_file(&blocker).unwrap();
    send_copies(
        &h,
        &[(push("o/again", "a3", &[(sha(23), "feat: third")]), token)],
    )
    .await;
    let report = handle_batch(
        &h.consumer(),
        receive_all(&h).await,
        &CancellationToken::new(),
    )
    .await;
    assert!(matches!(outcome_of(&report, "a3"), Outcome::DeadLettered(r) if r.contains("a1")));
    let dead: Vec<(String, String)> = h
        .dlq
        .peek(10)
        .await
        .unwrap()
        .iter()
        .map(|m| {
            let class = m.attributes.get("error_class").cloned().unwrap_or_default();
            (delivery_of(&m.body, &m.dedup_id), class)
        })
        .collect();
    let expected = [
        ("a1", EXHAUSTED_CLASS),
        ("a2", PARKED_CLASS),
        ("a3", PARKED_CLASS),
    ];
    assert_eq!(
        dead,
        expected.map(|(d, c)| (d.to_owned(), c.to_owned())),
        "in order, behind the new park"
    );
}
