//! History order on SQS FIFO and DynamoDB (moto): one repository's history (five pushes, a
//! tag and a release) sent newest first, received by three pollers at once — moto may hand a
//! group's next message to a second poller while the first is in flight — gives the docs that
//! in-order delivery gives on the embedded backend, byte for byte.

use std::sync::Arc;
use std::time::{Duration, Instant};

use coderipple_consumer::poller;
use coderipple_core::config::Settings;
use coderipple_core::contract::aws::{fresh_backends, unique};
use coderipple_core::metrics::Metrics;
use coderipple_core::queue::{OutgoingMessage, Queue};
use coderipple_core::store::{DeliveryStatus, Store};
use coderipple_testkit::{LocalWorker, history};
use coderipple_worker::apply_change_set;
use tokio_util::sync::CancellationToken;

use crate::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reversed_history_through_three_pollers_gives_the_in_order_docs() {
    let repo = unique("acme/gearbox");
    let reference = LocalWorker::new();
    for env in history::in_order(&repo) {
        apply_change_set(&reference.ctx, &repo, &[env], Duration::from_secs(60))
            .await
            .unwrap();
    }
    let expected = reference.ctx.sink.read_all(&repo).await.unwrap();
    assert!(expected.iter().any(|f| f.contents.contains("v0.2.0")));

    let settings = Settings {
        visibility_timeout: Duration::from_secs(5),
        retry_delay: Duration::from_millis(200),
        retry_hold: Duration::from_secs(5),
        ..Settings::default()
    };
    let aws = fresh_backends(&settings).await;
    let worker = Arc::new(common::aws::worker_context(&aws, &settings, Metrics::off()));
    let ctx = Arc::new(worker.consumer());
    let reversed: Vec<_> = history::in_order(&repo).into_iter().rev().collect();
    for env in &reversed {
        aws.queue
            .send_batch(&[OutgoingMessage::new(&repo, &env.delivery, env.to_json())])
            .await
            .unwrap();
    }
    let cancel = CancellationToken::new();
    let pollers: Vec<_> = (0..3)
        .map(|i| tokio::spawn(poller::run(ctx.clone(), cancel.clone(), i)))
        .collect();
    let started = Instant::now();
    loop {
        let mut done = 0;
        let mut unread = None;
        for env in &reversed {
            // moto applies an update attribute by attribute, so a read racing a poller's
            // update can see an item that has no status yet: counted as not completed (the
            // docs compared below are the verdict).
            match aws.store.delivery(&env.delivery).await {
                Ok(record) => {
                    done +=
                        usize::from(record.is_some_and(|r| r.status == DeliveryStatus::Completed));
                }
                Err(e) => unread = Some(e),
            }
        }
        let stats = aws.queue.stats().await.unwrap();
        if done == reversed.len() && stats.visible + stats.in_flight == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{done} of {} completed; queue {stats:?}; last read error {unread:?}",
            reversed.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cancel.cancel();
    for p in pollers {
        p.await.unwrap();
    }
    let docs = worker.sink.read_all(&repo).await.unwrap();
    assert_eq!(docs, expected);
}
