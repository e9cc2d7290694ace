//! SQS-specific behaviour on the moto server, beyond the shared contract: batches split by
//! count and size, attributes of worker dead-letters, and redriven messages read with a reason.

use std::time::Duration;

use coderipple_core::config::Settings;
use coderipple_core::contract::aws::fresh_backends;
use coderipple_core::queue::{DeadLetterReason, OutgoingMessage, Queue};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_send_is_split_by_count_and_size_and_keeps_order() {
    let aws = fresh_backends(&Settings::default()).await;
    // 25 messages of 60 KB: more than 10 per call and more than 256 KiB per call.
    let messages: Vec<OutgoingMessage> = (0..25)
        .map(|i| {
            OutgoingMessage::new(
                "o/big",
                format!("m{i:02}"),
                format!("{i:02}{}", "x".repeat(60_000)),
            )
        })
        .collect();
    aws.queue.send_batch(&messages).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..30 {
        let got = aws
            .queue
            .receive(10, Duration::from_secs(30), Duration::ZERO)
            .await
            .unwrap();
        if got.is_empty() {
            break;
        }
        let receipts: Vec<String> = got.iter().map(|m| m.receipt.clone()).collect();
        seen.extend(got.into_iter().map(|m| m.dedup_id));
        aws.queue.delete_batch(&receipts).await.unwrap();
    }
    let expected: Vec<String> = (0..25).map(|i| format!("m{i:02}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_retried_after_a_lost_delete_leaves_one_copy() {
    let aws = fresh_backends(&Settings::default()).await;
    aws.queue
        .send_batch(&[OutgoingMessage::new("o/p", "poison", "{bad")])
        .await
        .unwrap();
    let got = aws
        .queue
        .receive(1, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    let why = DeadLetterReason {
        reason: "unreadable envelope".into(),
        error_class: "corrupt".into(),
    };
    aws.queue.dead_letter(&got[0], &why).await.unwrap();
    // The same dead-letter again (as after a crash between send and delete): one DLQ copy.
    aws.queue.dead_letter(&got[0], &why).await.unwrap();
    let dead = aws.dlq.peek(10).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].dedup_id, "poison", "the original dedup id is kept");
    assert_eq!(dead[0].attributes["error_class"], "corrupt");
    assert_eq!(dead[0].attributes["original_group"], "o/p");
    // Peeking released what it saw: it can be received (replayed) at once.
    let again = aws
        .dlq
        .receive(10, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_redriven_by_sqs_is_listed_with_a_max_receives_reason() {
    let settings = Settings {
        max_receives: 1,
        ..Settings::default()
    };
    let aws = fresh_backends(&settings).await;
    aws.queue
        .send_batch(&[OutgoingMessage::new("o/r", "tired", "body")])
        .await
        .unwrap();
    let short = Duration::from_secs(1);
    assert_eq!(
        aws.queue
            .receive(1, short, Duration::ZERO)
            .await
            .unwrap()
            .len(),
        1
    );
    tokio::time::sleep(Duration::from_millis(1300)).await;
    // The next receive moves it (moto redrives during a receive, as SQS does).
    assert!(
        aws.queue
            .receive(1, short, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    let dead = aws.dlq.peek(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attributes["error_class"], "max_receives");
    assert_eq!(dead[0].attributes["original_group"], "o/r");
    assert!(dead[0].attributes["reason"].contains("maxReceiveCount"));
}
