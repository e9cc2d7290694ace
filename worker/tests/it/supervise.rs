//! A poller that panics is logged at error level with its panic message and restarted: the
//! message that made it panic comes back after its visibility timeout and is applied by the
//! restarted poller.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use coderipple_consumer::supervise;
use coderipple_core::config::Settings;
use coderipple_core::contract::fixtures;
use coderipple_core::envelope::Envelope;
use coderipple_core::queue::OutgoingMessage;
use coderipple_core::store::DeliveryStatus;
use coderipple_engine::DocFile;
use coderipple_testkit::{self, LocalWorker};
use coderipple_worker::{DirSink, DocsSink};
use tokio_util::sync::CancellationToken;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata};

const PANIC: &str = "the docs sink exploded on purpose";

/// A directory sink whose first write panics (a bug in the batch path, say).
#[derive(Debug)]
struct PanicsOnce {
    inner: DirSink,
    panicked: AtomicBool,
}

#[async_trait]
impl DocsSink for PanicsOnce {
    async fn write(&self, repo: &str, files: &[DocFile]) -> coderipple_core::Result<()> {
        if !self.panicked.swap(true, Ordering::SeqCst) {
            panic!("{PANIC}");
        }
        self.inner.write(repo, files).await
    }

    async fn read_all(&self, repo: &str) -> coderipple_core::Result<Vec<DocFile>> {
        self.inner.read_all(repo).await
    }
}

/// Keeps every error-level event as `field=value …`.
#[derive(Debug, Clone, Default)]
struct ErrorLog(Arc<Mutex<Vec<String>>>);

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl tracing::Subscriber for ErrorLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() == Level::ERROR
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = Line(String::new());
        event.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn push(delivery: &str) -> Envelope {
    Envelope {
        received_at: Utc::now(),
        ..fixtures::push(
            "o/r",
            delivery,
            vec![fixtures::commit(1, "feat: survive a panic")],
        )
    }
}

// Current-thread runtime: every task runs on this thread, so the scoped subscriber sees the
// supervisor's log lines.
#[tokio::test]
async fn a_panicking_poller_is_logged_and_restarted_and_its_message_applied() {
    let log = ErrorLog::default();
    let _scope = tracing::subscriber::set_default(log.clone());
    // The panicked batch comes back after one second.
    let kit = LocalWorker::with_settings(Settings {
        visibility_timeout: Duration::from_secs(1),
        retry_delay: Duration::from_secs(1),
        ..coderipple_testkit::settings()
    })
    .sink(|docs| {
        Arc::new(PanicsOnce {
            inner: DirSink::new(docs),
            panicked: AtomicBool::new(false),
        })
    });
    let changelog = kit.docs_dir().join("o/r/decisions/changelog.md");
    let (queue, store) = (kit.ctx.queue.clone(), kit.ctx.store.clone());
    let LocalWorker { ctx, dir: _dir, .. } = kit;
    let ctx = Arc::new(ctx.consumer());
    queue
        .send_batch(&[OutgoingMessage::new("o/r", "p-1", push("p-1").to_json())])
        .await
        .unwrap();

    let cancel = CancellationToken::new();
    let poller = tokio::spawn(supervise::poller(ctx, cancel.clone(), 0));
    // Generous bound: proves the restart happens, not how fast.
    let mut status = None;
    for _ in 0..300 {
        status = store.delivery("p-1").await.unwrap().map(|r| r.status);
        if status == Some(DeliveryStatus::Completed) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status,
        Some(DeliveryStatus::Completed),
        "the restarted poller applied it"
    );
    assert!(
        std::fs::read_to_string(changelog)
            .unwrap()
            .contains("survive a panic")
    );
    let lines = log.0.lock().unwrap().clone();
    assert!(
        lines
            .iter()
            .any(|l| l.contains(PANIC) && l.contains("restarting")),
        "the panic is logged at error level with its message: {lines:?}"
    );
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(30), poller)
        .await
        .expect("the supervised poller stops when cancelled")
        .unwrap();
}

#[tokio::test]
async fn a_task_that_ends_is_not_restarted_and_one_that_panics_is() {
    let cancel = CancellationToken::new();
    let runs = Arc::new(Mutex::new(0));
    let counted = runs.clone();
    let restarts = supervise::supervise("twice", cancel, move || {
        let runs = counted.clone();
        async move {
            let n = {
                let mut n = runs.lock().unwrap();
                *n += 1;
                *n
            };
            assert!(n > 1, "first run panics");
        }
    })
    .await;
    assert_eq!(restarts, 1);
    assert_eq!(*runs.lock().unwrap(), 2);
}
