//! Queue behaviours (see [`crate::queue`] for the semantics).

use std::future::Future;
use std::time::Duration;

use super::QueueFixture;
use crate::queue::{
    DeadLetterReason, MAX_GROUP_ID_LEN, OutgoingMessage, QueueSettings, ReceivedMessage,
    message_group_id,
};

const VIS: Duration = Duration::from_secs(30);
const SHORT_VIS: Duration = Duration::from_secs(1);
const NO_WAIT: Duration = Duration::ZERO;

fn msg(group: &str, id: &str) -> OutgoingMessage {
    OutgoingMessage::new(group, id, format!("body-{id}"))
}

fn ids(msgs: &[ReceivedMessage]) -> Vec<&str> {
    msgs.iter().map(|m| m.dedup_id.as_str()).collect()
}

async fn pause_past(d: Duration) {
    tokio::time::sleep(d + Duration::from_millis(300)).await;
}

/// Messages of one group come out in the order they were sent.
pub async fn fifo_within_a_group<F, Fut>(make: F)
where
    F: Fn(QueueSettings) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let f = make(QueueSettings::default()).await;
    for i in 0..5 {
        f.queue
            .send_batch(&[msg("o/a", &format!("a{i}"))])
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    for _ in 0..10 {
        let got = f.queue.receive(1, VIS, NO_WAIT).await.unwrap();
        if got.is_empty() {
            break;
        }
        seen.push(got[0].dedup_id.clone());
        f.queue
            .delete_batch(&[got[0].receipt.clone()])
            .await
            .unwrap();
    }
    assert_eq!(seen, vec!["a0", "a1", "a2", "a3", "a4"]);
}

/// While a group has a message in flight nothing more of it is delivered; other groups go on.
pub async fn in_flight_group_blocks_only_itself<F, Fut>(make: F)
where
    F: Fn(QueueSettings) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let f = make(QueueSettings::default()).await;
    f.queue
        .send_batch(&[msg("o/a", "a1"), msg("o/a", "a2"), msg("o/b", "b1")])
        .await
        .unwrap();
    let first = f.queue.receive(1, VIS, NO_WAIT).await.unwrap();
    assert_eq!(ids(&first), vec!["a1"]);
    let second = f.queue.receive(10, VIS, NO_WAIT).await.unwrap();
    assert_eq!(ids(&second), vec!["b1"], "a2 must wait behind in-flight a1");
    assert!(f.queue.receive(10, VIS, NO_WAIT).await.unwrap().is_empty());
    f.queue
        .delete_batch(&[first[0].receipt.clone()])
        .await
        .unwrap();
    let third = f.queue.receive(10, VIS, NO_WAIT).await.unwrap();
    assert_eq!(ids(&third), vec!["a2"]);
}

/// A message not deleted within its visibility timeout is delivered again, counted.
pub async fn visibility_timeout_redelivers_with_receive_count<F, Fut>(make: F)
where
    F: Fn(QueueSettings) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let f = make(QueueSettings::default()).await;
    f.queue.send_batch(&[msg("o/a", "a1")]).await.unwrap();
    let first = f.queue.receive(1, SHORT_VIS, NO_WAIT).await.unwrap();
    assert_eq!(first[0].receive_count, 1);
    assert!(
        f.queue
            .receive(1, SHORT_VIS, NO_WAIT)
            .await
            .unwrap()
            .is_empty()
    );
    pause_past(SHORT_VIS).await;
    let again = f.queue.receive(1, VIS, NO_WAIT).await.unwrap();
    assert_eq!(ids(&again), vec!["a1"]);
    assert_eq!(again[0].receive_count, 2);
    assert_ne!(
        again[0].receipt, first[0].receipt,
        "every receive gets a new receipt"
    );
}

/// Setting the visibility to zero makes the message (and its group) available at once.
pub async fn change_visibility_zero_releases_now<F, Fut>(make: F)
where
    F: Fn(QueueSettings) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let f = make(QueueSettings::default()).await;
    f.queue
        .send_batch(&[msg("o/a", "a1"), msg("o/a", "a2")])
        .await
        .unwrap();
    let got = f.queue.receive(1, VIS, NO_WAIT).await.unwrap();
    f.queue
        .change_visibility(&got[0].receipt, Duration::ZERO)
        .await
        .unwrap();
    let again = f.queue.receive(1, VIS, NO_WAIT).await.unwrap();
    assert_eq!(ids(&again), vec!["a1"], "released head comes back first");
}

/// After `max_receives` receives the message moves to the DLQ, with its group id.
pub async fn max_receives_moves_to_dlq_keeping_group<F, Fut>(make: F)
where
    F: Fn(QueueSettings) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let f = make(QueueSettings {
        max_receives: 2,
        ..QueueSettings::default()
    })
    .await;
    f.queue
        .send_batch(&[msg("o/a", "a1"), msg("o/a", "a2")])
        .await
        .unwrap();
    for attempt in 1..=2 {
        let got = f.queue.receive(1, SHORT_VIS, NO_WAIT).await.unwrap();
        assert_eq!(ids(&got), vec!["a1"], "attempt {attempt}");
        pause_past(SHORT_VIS).await;
    }
    let next = f.queue.receive(1, VIS, NO_WAIT).await.unwrap();
    assert_eq!(ids(&next), vec!["a2"], "a1 went to the DLQ, a2 is next");
    let dead = f.dlq.peek(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].dedup_id, "a1");
    assert_eq!(dead[0].group_id, "o/a");
    assert_eq!(dead[0].body, "body-a1");
}

/// A second send with the same dedup id inside the window is accepted and dropped.
pub async fn dedup_id_within_window_is_dropped<F, Fut>(make: F)
where
    F: Fn(QueueSettings) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let f = make(QueueSettings::default()).await;
    f.queue.send_batch(&[msg("o/a", "d1")]).await.unwrap();
    f.queue.send_batch(&[msg("o/a", "d1")]).await.unwrap();
    let got = f.queue.receive(10, VIS, NO_WAIT).await.unwrap();
    assert_eq!(ids(&got), vec!["d1"]);
    f.queue
        .delete_batch(&[got[0].receipt.clone()])
        .await
        .unwrap();
    f.queue.send_batch(&[msg("o/a", "d1")]).await.unwrap();
    if f.gaps.dedup_forgets_deleted {
        eprintln!("emulator gap: dedup ids of deleted messages are forgotten; not checked here");
        return;
    }
    assert!(
        f.queue.receive(10, VIS, NO_WAIT).await.unwrap().is_empty(),
        "still inside the window after delete"
    );
}

/// A dead-lettered message carries its reason, and its group is free at once.
pub async fn dead_letter_keeps_reason_and_unblocks_group<F, Fut>(make: F)
where
    F: Fn(QueueSettings) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let f = make(QueueSettings::default()).await;
    f.queue
        .send_batch(&[msg("o/a", "poison"), msg("o/a", "fine")])
        .await
        .unwrap();
    let got = f.queue.receive(1, VIS, NO_WAIT).await.unwrap();
    let reason = DeadLetterReason {
        reason: "unreadable envelope".into(),
        error_class: "corrupt".into(),
    };
    f.queue.dead_letter(&got[0], &reason).await.unwrap();
    let next = f.queue.receive(1, VIS, NO_WAIT).await.unwrap();
    assert_eq!(ids(&next), vec!["fine"]);
    let dead = f.dlq.peek(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    let attrs = &dead[0].attributes;
    assert_eq!(
        attrs.get("reason").map(String::as_str),
        Some("unreadable envelope")
    );
    assert_eq!(
        attrs.get("error_class").map(String::as_str),
        Some("corrupt")
    );
    assert_eq!(attrs.get("original_group").map(String::as_str), Some("o/a"));
    assert_eq!(attrs.get("attempts").map(String::as_str), Some("1"));
}

/// Batches of ten go in and out; stats count visible and in-flight messages.
pub async fn batch_send_receive_delete_and_stats<F, Fut>(make: F)
where
    F: Fn(QueueSettings) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let f = make(QueueSettings::default()).await;
    let batch: Vec<_> = (0..10)
        .map(|i| msg(&format!("o/g{}", i % 3), &format!("m{i}")))
        .collect();
    f.queue.send_batch(&batch).await.unwrap();
    let stats = f.queue.stats().await.unwrap();
    assert_eq!((stats.visible, stats.in_flight), (10, 0));
    let mut received = Vec::new();
    for _ in 0..20 {
        let got = f.queue.receive(10, VIS, NO_WAIT).await.unwrap();
        if got.is_empty() {
            break;
        }
        let stats = f.queue.stats().await.unwrap();
        assert_eq!(stats.in_flight as usize, got.len());
        let receipts: Vec<_> = got.iter().map(|m| m.receipt.clone()).collect();
        received.extend(got.into_iter().map(|m| m.dedup_id));
        f.queue.delete_batch(&receipts).await.unwrap();
    }
    received.sort();
    let mut expected: Vec<_> = (0..10).map(|i| format!("m{i}")).collect();
    expected.sort();
    assert_eq!(received, expected);
    let stats = f.queue.stats().await.unwrap();
    assert_eq!((stats.visible, stats.in_flight), (0, 0));
}

/// Purge removes everything and says how much.
pub async fn purge_empties_the_queue<F, Fut>(make: F)
where
    F: Fn(QueueSettings) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let f = make(QueueSettings::default()).await;
    f.queue
        .send_batch(&[msg("o/a", "p1"), msg("o/b", "p2")])
        .await
        .unwrap();
    assert_eq!(f.queue.purge().await.unwrap(), 2);
    assert!(f.queue.receive(10, VIS, NO_WAIT).await.unwrap().is_empty());
}

/// The longest repository names (201 characters, over SQS's 128 for a group id) are sent and
/// received under their [`message_group_id`], distinct per name, FIFO within each, and keep
/// it into the DLQ.
pub async fn longest_repository_names_round_trip<F, Fut>(make: F)
where
    F: Fn(QueueSettings) -> Fut,
    Fut: Future<Output = QueueFixture>,
{
    let f = make(QueueSettings::default()).await;
    let long = format!("{}/{}", "o".repeat(100), "r".repeat(100));
    let sibling = format!("{}/{}s", "o".repeat(100), "r".repeat(99));
    f.queue
        .send_batch(&[msg(&long, "l1"), msg(&long, "l2"), msg(&sibling, "s1")])
        .await
        .unwrap();
    let first = f.queue.receive(1, VIS, NO_WAIT).await.unwrap();
    assert_eq!(ids(&first), vec!["l1"]);
    let second = f.queue.receive(10, VIS, NO_WAIT).await.unwrap();
    assert_eq!(
        ids(&second),
        vec!["s1"],
        "l2 waits behind in-flight l1; the sibling is a group of its own"
    );
    let (l1, s1) = (&first[0], &second[0]);
    assert_eq!(l1.group_id, message_group_id(&long));
    assert_eq!(s1.group_id, message_group_id(&sibling));
    assert_ne!(l1.group_id, s1.group_id);
    assert!(l1.group_id.len() <= MAX_GROUP_ID_LEN);
    assert_eq!(l1.body, "body-l1");
    f.queue
        .delete_batch(std::slice::from_ref(&l1.receipt))
        .await
        .unwrap();
    let next = f.queue.receive(10, VIS, NO_WAIT).await.unwrap();
    assert_eq!(ids(&next), vec!["l2"]);
    let reason = DeadLetterReason {
        reason: "poison".into(),
        error_class: "invalid".into(),
    };
    f.queue.dead_letter(&next[0], &reason).await.unwrap();
    let dead = f.dlq.peek(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].group_id, message_group_id(&long));
    assert_eq!(dead[0].body, "body-l2");
}
