//! The embedded [`Queue`]: rows in the shared SQLite database (see [`crate::sqlite`]).
//!
//! A message's `seq` gives the order; `visible_at` in the future means in flight; the
//! receipt is `<seq>:<token>` and a new token is drawn at every receive, so a stale receipt
//! never touches a message someone else has received since.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::Notify;

use super::{
    DeadLetterReason, MAX_BATCH, OutgoingMessage, PeekedMessage, Queue, QueueSettings, QueueStats,
    ReceivedMessage, message_group_id,
};
use crate::error::{Error, Result};
use crate::sqlite::SqliteDb;
use crate::time::{ms, now_ms};

mod receive;

use receive::receive_tx;

/// The most messages one receive hands out: whole runs of a group's backlog, so that a
/// worker can apply a repository's queued pushes as one change set.
pub const RECEIVE_LIMIT: usize = 100;

/// How often an idle long poll looks again for messages sent by another process.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A named queue (and optionally its DLQ) in a [`SqliteDb`].
#[derive(Clone)]
pub struct SqliteQueue {
    db: SqliteDb,
    name: Arc<str>,
    dlq: Option<Arc<str>>,
    settings: QueueSettings,
    arrivals: Arc<Notify>,
    sends: Arc<AtomicU64>,
}

impl std::fmt::Debug for SqliteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteQueue")
            .field("name", &self.name)
            .field("dlq", &self.dlq)
            .field("settings", &self.settings)
            .finish()
    }
}

impl SqliteQueue {
    /// The queue `name` in `db`, redriving to `dlq` after `settings.max_receives`.
    pub fn new(db: SqliteDb, name: &str, dlq: Option<&str>, settings: QueueSettings) -> Self {
        Self {
            db,
            name: name.into(),
            dlq: dlq.map(Into::into),
            settings,
            arrivals: Arc::new(Notify::new()),
            sends: Arc::new(AtomicU64::new(0)),
        }
    }

    /// This queue's dead-letter queue as a queue of its own (no redrive of its own).
    pub fn dead_letter_queue(&self) -> Option<SqliteQueue> {
        self.dlq.as_deref().map(|dlq| {
            SqliteQueue::new(
                self.db.clone(),
                dlq,
                None,
                QueueSettings {
                    max_receives: u32::MAX,
                    ..self.settings
                },
            )
        })
    }

    /// Sends inside the caller's transaction (shared with [`crate::intake`]); call
    /// [`SqliteQueue::announce`] after that transaction committed.
    pub(crate) fn send_tx(&self, conn: &Connection, m: &OutgoingMessage) -> Result<()> {
        send_one(
            conn,
            &self.name,
            m,
            now_ms(),
            ms(self.settings.dedup_window),
        )
    }

    /// Wakes long polls of this process after a send committed elsewhere.
    pub(crate) fn announce(&self) {
        self.arrivals.notify_waiters();
    }

    /// The database the queue lives in.
    pub(crate) fn db(&self) -> &SqliteDb {
        &self.db
    }

    async fn try_receive(&self, max: usize, visibility: Duration) -> Result<Vec<ReceivedMessage>> {
        let name = self.name.clone();
        let dlq = self.dlq.clone();
        let max_receives = self.settings.max_receives;
        let vis = ms(visibility);
        self.db
            .write(move |conn| receive_tx(conn, &name, dlq.as_deref(), max, vis, max_receives))
            .await
    }
}

#[async_trait]
impl Queue for SqliteQueue {
    fn name(&self) -> &str {
        &self.name
    }

    fn receive_limit(&self) -> usize {
        RECEIVE_LIMIT
    }

    async fn send_batch(&self, messages: &[OutgoingMessage]) -> Result<()> {
        if messages.len() > MAX_BATCH {
            return Err(Error::BadRequest(format!(
                "at most {MAX_BATCH} messages per batch"
            )));
        }
        let name = self.name.clone();
        let window = ms(self.settings.dedup_window);
        let messages = messages.to_vec();
        let sweep = self
            .sends
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(256);
        self.db
            .write(move |conn| {
                let now = now_ms();
                if sweep {
                    conn.execute(
                        "DELETE FROM queue_dedup WHERE queue = ?1 AND expires_at <= ?2",
                        params![&*name, now],
                    )?;
                }
                for m in &messages {
                    send_one(conn, &name, m, now, window)?;
                }
                Ok(())
            })
            .await?;
        self.arrivals.notify_waiters();
        Ok(())
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>> {
        let max = max.clamp(1, RECEIVE_LIMIT);
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let arrived = self.arrivals.notified();
            let got = self.try_receive(max, visibility).await?;
            let now = tokio::time::Instant::now();
            if !got.is_empty() || now >= deadline {
                return Ok(got);
            }
            let pause = POLL_INTERVAL.min(deadline - now);
            tokio::select! {
                () = arrived => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    async fn delete_batch(&self, receipts: &[String]) -> Result<()> {
        let parsed = receipts
            .iter()
            .map(|r| parse_receipt(r).map(|seq| (seq, r.clone())))
            .collect::<Result<Vec<_>>>()?;
        self.db
            .write(move |conn| {
                let mut stmt = conn
                    .prepare_cached("DELETE FROM queue_messages WHERE seq = ?1 AND receipt = ?2")?;
                for (seq, receipt) in &parsed {
                    stmt.execute(params![seq, receipt])?;
                }
                Ok(())
            })
            .await
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<()> {
        let seq = parse_receipt(receipt)?;
        let receipt = receipt.to_owned();
        let timeout = ms(timeout);
        self.db
            .write(move |conn| {
                let n = conn.execute(
                    "UPDATE queue_messages SET visible_at = ?1 WHERE seq = ?2 AND receipt = ?3",
                    params![now_ms().saturating_add(timeout), seq, &receipt],
                )?;
                if n == 0 {
                    return Err(Error::InvalidReceipt(receipt));
                }
                Ok(())
            })
            .await?;
        if timeout == 0 {
            self.arrivals.notify_waiters();
        }
        Ok(())
    }

    async fn dead_letter(
        &self,
        message: &ReceivedMessage,
        reason: &DeadLetterReason,
    ) -> Result<()> {
        let dlq = self.dlq.clone().ok_or_else(|| {
            Error::Config(format!("queue {} has no dead-letter queue", self.name))
        })?;
        let seq = parse_receipt(&message.receipt)?;
        let receipt = message.receipt.clone();
        let attrs = serde_json::to_string(&reason.attributes(message))?;
        self.db
            .write(move |conn| {
                let n = conn.execute(
                    "UPDATE queue_messages SET queue = ?1, attributes = ?2, visible_at = ?3,
                        receive_count = 0, receipt = NULL
                     WHERE seq = ?4 AND receipt = ?5",
                    params![&*dlq, attrs, now_ms(), seq, &receipt],
                )?;
                if n == 0 {
                    return Err(Error::InvalidReceipt(receipt));
                }
                Ok(())
            })
            .await
    }

    async fn stats(&self) -> Result<QueueStats> {
        let name = self.name.clone();
        self.db
            .read(move |conn| {
                let now = now_ms();
                let (visible, in_flight): (Option<i64>, Option<i64>) = conn.query_row(
                    "SELECT SUM(visible_at <= ?2), SUM(visible_at > ?2)
                     FROM queue_messages WHERE queue = ?1",
                    params![&*name, now],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                Ok(QueueStats {
                    visible: u64::try_from(visible.unwrap_or(0)).unwrap_or(0),
                    in_flight: u64::try_from(in_flight.unwrap_or(0)).unwrap_or(0),
                })
            })
            .await
    }

    async fn peek(&self, limit: usize) -> Result<Vec<PeekedMessage>> {
        let name = self.name.clone();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .read(move |conn| {
                let now = now_ms();
                let mut stmt = conn.prepare_cached(
                    "SELECT seq, group_id, dedup_id, body, attributes, receive_count, sent_at, visible_at
                     FROM queue_messages WHERE queue = ?1 ORDER BY seq LIMIT ?2",
                )?;
                let rows = stmt.query_map(params![&*name, limit], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, u32>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, i64>(7)?,
                    ))
                })?;
                let mut out = Vec::new();
                for row in rows {
                    let (seq, group_id, dedup_id, body, attrs, receive_count, sent_at, visible_at) =
                        row?;
                    out.push(PeekedMessage {
                        message_id: seq.to_string(),
                        group_id,
                        dedup_id,
                        body,
                        attributes: parse_attrs(&attrs)?,
                        receive_count,
                        sent_at_ms: sent_at,
                        in_flight: visible_at > now,
                    });
                }
                Ok(out)
            })
            .await
    }

    async fn purge(&self) -> Result<u64> {
        let name = self.name.clone();
        self.db
            .write(move |conn| {
                let n = conn.execute("DELETE FROM queue_messages WHERE queue = ?1", [&*name])?;
                Ok(n as u64)
            })
            .await
    }

    async fn health(&self) -> Result<()> {
        self.db.write(|_| Ok(())).await
    }
}

fn send_one(
    conn: &Connection,
    queue: &str,
    m: &OutgoingMessage,
    now: i64,
    window: i64,
) -> Result<()> {
    let seen: Option<i64> = conn
        .prepare_cached("SELECT expires_at FROM queue_dedup WHERE queue = ?1 AND dedup_id = ?2")?
        .query_row(params![queue, &m.dedup_id], |r| r.get(0))
        .optional()?;
    if seen.is_some_and(|expires| expires > now) {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO queue_dedup (queue, dedup_id, expires_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (queue, dedup_id) DO UPDATE SET expires_at = excluded.expires_at",
    )?
    .execute(params![queue, &m.dedup_id, now.saturating_add(window)])?;
    conn.prepare_cached(
        "INSERT INTO queue_messages (queue, group_id, dedup_id, body, attributes, sent_at, visible_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![
        queue,
        message_group_id(&m.group_id),
        &m.dedup_id,
        &m.body,
        serde_json::to_string(&m.attributes)?,
        now
    ])?;
    Ok(())
}

fn parse_receipt(receipt: &str) -> Result<i64> {
    receipt
        .split_once(':')
        .and_then(|(seq, _)| seq.parse().ok())
        .ok_or_else(|| Error::InvalidReceipt(receipt.to_owned()))
}

fn parse_attrs(raw: &str) -> Result<BTreeMap<String, String>> {
    Ok(serde_json::from_str(raw)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::Durability;

    #[tokio::test]
    async fn a_redriven_message_says_why_in_its_attributes() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(dir.path().join("q.db"), Durability::Normal).unwrap();
        let settings = QueueSettings {
            max_receives: 1,
            ..QueueSettings::default()
        };
        let queue = SqliteQueue::new(db, "events", Some("dlq"), settings);
        queue
            .send_batch(&[OutgoingMessage::new("o/r", "m1", "body")])
            .await
            .unwrap();
        let vis = Duration::from_millis(200);
        assert_eq!(
            queue.receive(1, vis, Duration::ZERO).await.unwrap().len(),
            1
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(
            queue
                .receive(1, vis, Duration::ZERO)
                .await
                .unwrap()
                .is_empty()
        );
        let dead = queue.dead_letter_queue().unwrap().peek(10).await.unwrap();
        let attrs = &dead[0].attributes;
        assert_eq!(attrs["error_class"], "max_receives");
        assert_eq!(attrs["attempts"], "1");
        assert_eq!(attrs["original_group"], "o/r");
        assert!(attrs["reason"].contains("received 1 times"));
    }

    #[tokio::test]
    async fn a_receive_hands_out_whole_group_runs_oldest_group_first() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(dir.path().join("q.db"), Durability::Normal).unwrap();
        let queue = SqliteQueue::new(db, "events", Some("dlq"), QueueSettings::default());
        // Ten messages each for three groups, interleaved as a burst over repositories is.
        for i in 0..10 {
            let batch: Vec<OutgoingMessage> = ["o/a", "o/b", "o/c"]
                .iter()
                .map(|g| OutgoingMessage::new(*g, format!("{g}-{i}"), format!("{g} {i}")))
                .collect();
            queue.send_batch(&batch).await.unwrap();
        }
        let vis = Duration::from_secs(30);
        let first = queue.receive(25, vis, Duration::ZERO).await.unwrap();
        let bodies: Vec<&str> = first.iter().map(|m| m.body.as_str()).collect();
        let expected: Vec<String> = (0..10)
            .map(|i| format!("o/a {i}"))
            .chain((0..10).map(|i| format!("o/b {i}")))
            .chain((0..5).map(|i| format!("o/c {i}")))
            .collect();
        assert_eq!(bodies, expected);
        // Every group has messages in flight now: nothing more is handed out, not even the
        // rest of o/c.
        assert!(
            queue
                .receive(100, vis, Duration::ZERO)
                .await
                .unwrap()
                .is_empty()
        );
        let receipts: Vec<String> = first[20..].iter().map(|m| m.receipt.clone()).collect();
        queue.delete_batch(&receipts).await.unwrap();
        let rest = queue.receive(100, vis, Duration::ZERO).await.unwrap();
        let bodies: Vec<&str> = rest.iter().map(|m| m.body.as_str()).collect();
        assert_eq!(
            bodies,
            (5..10).map(|i| format!("o/c {i}")).collect::<Vec<_>>()
        );
        assert!(
            queue
                .receive(1000, vis, Duration::ZERO)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
