//! Both intakes: a new delivery is claimed and queued; a repeat is not queued twice; a claim
//! whose message never reached the queue is sent on the repeat. The SQLite intake does it
//! in one transaction: a failure leaves neither claim nor message.

use std::sync::Arc;
use std::time::Duration;

use coderipple_core::contract::store::claim;
use coderipple_core::intake::{ClaimThenSend, Intake, SqliteIntake};
use coderipple_core::queue::sqlite::SqliteQueue;
use coderipple_core::queue::{OutgoingMessage, Queue, QueueSettings};
use coderipple_core::sqlite::{Durability, SqliteDb};
use coderipple_core::store::sqlite::SqliteStore;
use coderipple_core::store::{ClaimOutcome, DeliveryStatus, Store};

const TTL: Duration = Duration::from_secs(3600);

fn message(id: &str) -> OutgoingMessage {
    OutgoingMessage::new("o/r", id, format!("body-{id}"))
}

async fn intakes() -> (
    tempfile::TempDir,
    Vec<(Arc<dyn Intake>, SqliteQueue, SqliteStore)>,
) {
    let dir = tempfile::tempdir().unwrap();
    let mut out: Vec<(Arc<dyn Intake>, SqliteQueue, SqliteStore)> = Vec::new();
    for (i, atomic) in [true, false].into_iter().enumerate() {
        let db = SqliteDb::open(dir.path().join(format!("{i}.db")), Durability::Normal).unwrap();
        let queue = SqliteQueue::new(db.clone(), "events", Some("dlq"), QueueSettings::default());
        let store = SqliteStore::new(db);
        let intake: Arc<dyn Intake> = if atomic {
            Arc::new(SqliteIntake::new(queue.clone()))
        } else {
            Arc::new(ClaimThenSend {
                store: Arc::new(store.clone()),
                queue: Arc::new(queue.clone()),
            })
        };
        out.push((intake, queue, store));
    }
    (dir, out)
}

#[tokio::test]
async fn new_deliveries_are_queued_once_and_repeats_are_not() {
    let (_dir, all) = intakes().await;
    for (intake, queue, _) in all {
        let first = intake
            .claim_and_send(&claim("d1"), TTL, message("d1"))
            .await
            .unwrap();
        assert_eq!(first, ClaimOutcome::Claimed);
        let again = intake
            .claim_and_send(&claim("d1"), TTL, message("d1"))
            .await
            .unwrap();
        assert_eq!(again, ClaimOutcome::Existing(DeliveryStatus::Received));
        assert_eq!(queue.peek(10).await.unwrap().len(), 1, "{intake:?}");
    }
}

#[tokio::test]
async fn a_claim_without_its_message_is_sent_on_the_repeat() {
    let (_dir, all) = intakes().await;
    for (intake, queue, store) in all {
        // As if an earlier attempt claimed and then failed to send.
        store.claim_delivery(&claim("lost"), TTL).await.unwrap();
        assert!(queue.peek(10).await.unwrap().is_empty());
        let outcome = intake
            .claim_and_send(&claim("lost"), TTL, message("lost"))
            .await
            .unwrap();
        assert_eq!(outcome, ClaimOutcome::Existing(DeliveryStatus::Received));
        assert_eq!(queue.peek(10).await.unwrap().len(), 1, "{intake:?}");
        // Once a worker has it, a repeat sends nothing.
        store
            .begin_processing("lost", "o/r", "test", TTL, TTL)
            .await
            .unwrap();
        let received = queue.receive(10, TTL, Duration::ZERO).await.unwrap();
        queue
            .delete_batch(&[received[0].receipt.clone()])
            .await
            .unwrap();
        intake
            .claim_and_send(&claim("lost"), TTL, message("lost"))
            .await
            .unwrap();
        assert!(queue.peek(10).await.unwrap().is_empty(), "{intake:?}");
    }
}

#[tokio::test]
async fn the_sqlite_intake_is_all_or_nothing() {
    let (dir, all) = intakes().await;
    let (intake, queue, store) = &all[0];
    // Make every enqueue fail inside the transaction, after the claim was written.
    let conn = rusqlite::Connection::open(dir.path().join("0.db")).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON queue_messages
         BEGIN SELECT RAISE(ABORT, 'queue refuses'); END;",
    )
    .unwrap();
    let err = intake
        .claim_and_send(&claim("atomic"), TTL, message("atomic"))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(
        store.delivery("atomic").await.unwrap().is_none(),
        "no claim without its message"
    );
    conn.execute_batch("DROP TRIGGER refuse").unwrap();
    let outcome = intake
        .claim_and_send(&claim("atomic"), TTL, message("atomic"))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ClaimOutcome::Claimed,
        "the retry is a first delivery"
    );
    assert_eq!(queue.peek(10).await.unwrap().len(), 1);
}
