//! The backend contract suite, unchanged, against SQS FIFO + DynamoDB on the moto server
//! (started by `scripts/test`; `CODERIPPLE_MOTO_ENDPOINT`). Every test gets its own queue,
//! DLQ and table, so tests run in parallel.

use std::sync::Arc;

use coderipple_core::aws::dynamo::DynamoStore;
use coderipple_core::aws::provision;
use coderipple_core::aws::sqs::SqsQueue;
use coderipple_core::config::Settings;
use coderipple_core::contract::aws::{clients, unique};
use coderipple_core::contract::{EmulatorGaps, QueueFixture, StoreFixture};
use coderipple_core::queue::QueueSettings;

async fn queue(settings: QueueSettings) -> QueueFixture {
    let clients = clients().await;
    let base = unique("q");
    let settings = Settings {
        max_receives: settings.max_receives,
        queue_dedup_window: settings.dedup_window,
        ..Settings::default()
    };
    let (url, dlq_url) = provision::ensure_queues(
        &clients,
        &format!("{base}.fifo"),
        &format!("{base}-dlq.fifo"),
        &settings,
    )
    .await
    .expect("queues on moto");
    let dlq = SqsQueue::new(clients.sqs.clone(), dlq_url, None);
    let queue = SqsQueue::new(clients.sqs.clone(), url, Some(dlq));
    QueueFixture {
        dlq: Arc::new(queue.dead_letter_queue().expect("dlq")),
        queue: Arc::new(queue),
        gaps: EmulatorGaps {
            dedup_forgets_deleted: true,
        },
        keep: Box::new(()),
    }
}

async fn store() -> StoreFixture {
    let clients = clients().await;
    let table = unique("t");
    provision::ensure_table(&clients, &table)
        .await
        .expect("table on moto");
    StoreFixture {
        store: Arc::new(DynamoStore::new(clients.dynamodb.clone(), table)),
        keep: Box::new(()),
    }
}

coderipple_core::queue_contract_tests!(queue);
coderipple_core::store_contract_tests!(store);
