//! Repositories whose `owner/name` is longer than SQS's 128-character group id (GitHub allows
//! 39 + 1 + 100): their messages carry a derived group id, and everything else is keyed by
//! the repository itself.

use super::*;

/// The longest name GitHub allows: a 39-character owner and a 100-character name.
fn longest_repo() -> String {
    format!("{}/{}", "o".repeat(39), "r".repeat(100))
}

#[tokio::test]
async fn a_repository_name_longer_than_a_group_id_is_applied_not_dead_lettered() {
    let h = harness();
    let repo = longest_repo();
    assert!(repo.len() > coderipple_core::queue::MAX_GROUP_ID_LEN);
    send(&h, &[push(&repo, "long-1", &[(sha(1), "feat: the first")])]).await;
    send(&h, &[push(&repo, "long-2", &[(sha(2), "fix: the second")])]).await;
    let batch = receive_all(&h).await;
    assert_eq!(batch.len(), 2);
    assert_ne!(
        batch[0].group_id, repo,
        "the queue derived a group id of its own"
    );
    let report = handle_batch(&h.consumer(), batch, &CancellationToken::new()).await;
    for delivery in ["long-1", "long-2"] {
        assert!(
            matches!(outcome_of(&report, delivery), Outcome::Done),
            "{delivery}: {:?}",
            outcome_of(&report, delivery)
        );
        let record = h.ctx.store.delivery(delivery).await.unwrap().unwrap();
        assert_eq!(record.status, DeliveryStatus::Completed);
    }
    // State and docs under the repository's own name, not the group id.
    assert!(h.ctx.store.repo_state(&repo).await.unwrap().is_some());
    assert!(
        h.ctx
            .store
            .repo_state(&batch_group(&repo))
            .await
            .unwrap()
            .is_none()
    );
    let log = changelog(&h, &repo);
    assert!(
        log.contains("the first") && log.contains("the second"),
        "{log}"
    );
}

#[tokio::test]
async fn an_envelope_whose_repository_does_not_match_its_long_group_is_dead_lettered() {
    let h = harness();
    let repo = longest_repo();
    // Same derived group id as `repo` cannot be forged by another name, but a message put in
    // the group by hand with another repository's envelope is refused as invalid.
    let stranger = push("o/other", "stranger", &[(sha(3), "feat: elsewhere")]);
    let forged = OutgoingMessage::new(&repo, "stranger", stranger.to_json());
    h.ctx.queue.send_batch(&[forged]).await.unwrap();
    let report = handle_batch(
        &h.consumer(),
        receive_all(&h).await,
        &CancellationToken::new(),
    )
    .await;
    assert!(
        matches!(outcome_of(&report, "stranger"), Outcome::DeadLettered(_)),
        "{:?}",
        outcome_of(&report, "stranger")
    );
    assert!(h.ctx.store.repo_state("o/other").await.unwrap().is_none());
}

fn batch_group(repo: &str) -> String {
    coderipple_core::queue::message_group_id(repo).into_owned()
}
