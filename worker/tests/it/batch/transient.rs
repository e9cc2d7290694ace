//! Transient trouble: held and retried in place without spending receives; on the last
//! receive the head is dead-lettered and its repository parked, the rest waits behind it.

use super::*;

use coderipple_consumer::{EXHAUSTED_CLASS, PARKED_CLASS};

/// A file where `repo`'s docs directory should be makes every docs write of it fail
/// transiently; removing it ends the trouble.
fn break_docs(h: &Harness, repo: &str) -> std::path::PathBuf {
    let blocker = h.dir.path().join("docs").join(repo);
    std::fs::create_dir_all(blocker.parent().unwrap()).unwrap();
    std::fs::write(&blocker, "not a directory").unwrap();
    blocker
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_is_retried_in_place_without_spending_receives() {
    let mut h = harness();
    h.ctx_mut().settings.retry_hold = Duration::from_secs(20);
    let blocker = break_docs(&h, "o/flaky");
    send(&h, &[push("o/flaky", "f1", &[(sha(1), "feat: one")])]).await;
    let batch = receive_all(&h).await;
    assert_eq!(batch[0].receive_count, 1);
    let fix = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(600)).await;
        std::fs::remove_file(blocker).unwrap();
    });
    let report = handle_batch(&h.consumer(), batch, &CancellationToken::new()).await;
    fix.await.unwrap();
    assert_eq!(
        outcome_of(&report, "f1"),
        &Outcome::Done,
        "held until it worked"
    );
    let record = h.ctx.store.delivery("f1").await.unwrap().unwrap();
    assert_eq!(record.status, DeliveryStatus::Completed);
    assert!(
        record.attempts >= 2,
        "attempts counted: {}",
        record.attempts
    );
    assert!(changelog(&h, "o/flaky").contains("one"));
    assert!(h.dlq.peek(10).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_failing_on_its_last_receive_parks_its_repository_until_replayed() {
    let mut h = harness();
    h.ctx_mut().settings.max_receives = 1;
    let blocker = break_docs(&h, "o/stuck");
    send(
        &h,
        &[
            push("o/stuck", "s1", &[(sha(1), "feat: first")]),
            push("o/stuck", "s2", &[(sha(2), "feat: second")]),
            push("o/other", "x1", &[(sha(3), "fix: unrelated")]),
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
        outcome_of(&report, "s1"),
        Outcome::DeadLettered(_)
    ));
    assert!(matches!(
        outcome_of(&report, "s2"),
        Outcome::DeadLettered(_)
    ));
    assert_eq!(
        outcome_of(&report, "x1"),
        &Outcome::Done,
        "other repositories go on"
    );
    let parked = h.ctx.store.parked_repo("o/stuck").await.unwrap().unwrap();
    assert_eq!(parked.head, "s1");
    assert!(parked.reason.contains("1 receives"), "{}", parked.reason);

    // A later event of the parked repository waits behind its head, even once the trouble
    // is over, and nothing of it is applied.
    // (The first attempt stored the state and then failed writing docs: the state is there.)
    std::fs::remove_file(&blocker).unwrap();
    let before = h.ctx.store.repo_version("o/stuck").await.unwrap();
    send(&h, &[push("o/stuck", "s3", &[(sha(4), "feat: third")])]).await;
    let report = handle_batch(
        &h.consumer(),
        receive_all(&h).await,
        &CancellationToken::new(),
    )
    .await;
    assert!(matches!(outcome_of(&report, "s3"), Outcome::DeadLettered(r) if r.contains("s1")));
    assert_eq!(h.ctx.store.repo_version("o/stuck").await.unwrap(), before);
    let dead = h.dlq.peek(10).await.unwrap();
    let order: Vec<(&str, &str)> = dead
        .iter()
        .map(|m| {
            (
                m.dedup_id.as_str(),
                m.attributes.get("error_class").map_or("", String::as_str),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            ("s1", EXHAUSTED_CLASS),
            ("s2", PARKED_CLASS),
            ("s3", PARKED_CLASS)
        ]
    );

    // Lifting the park and replaying in group order applies the history in order.
    h.ctx.store.unpark_repo("o/stuck").await.unwrap();
    let back = h
        .dlq
        .receive(10, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    for m in &back {
        h.ctx
            .queue
            .send_batch(&[OutgoingMessage::new(
                &m.group_id,
                format!("{}.replay-1", m.dedup_id),
                m.body.clone(),
            )])
            .await
            .unwrap();
        h.dlq
            .delete_batch(std::slice::from_ref(&m.receipt))
            .await
            .unwrap();
    }
    let report = handle_batch(
        &h.consumer(),
        receive_all(&h).await,
        &CancellationToken::new(),
    )
    .await;
    assert!(
        report.outcomes.iter().all(|(_, o)| *o == Outcome::Done),
        "{report:?}"
    );
    let log = changelog(&h, "o/stuck");
    let (first, second, third) = (
        log.find("- first").unwrap(),
        log.find("- second").unwrap(),
        log.find("- third").unwrap(),
    );
    // Newest first in the changelog.
    assert!(third < second && second < first, "{log}");
}
