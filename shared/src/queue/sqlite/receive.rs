//! Receiving from the embedded queue: whole runs of a group's messages, oldest group first.
//!
//! A receive looks at groups, not at the backlog: it walks the queue's distinct groups
//! (one index seek each), keeps those with nothing in flight, orders them by their oldest
//! message and hands out each one's run in `seq` order until `max` messages are taken. Its
//! cost grows with the number of groups waiting, not with the number of messages, so a
//! backlog of 100,000 events drains as fast as one of 10,000. Handing a group's whole run
//! at once is what lets the worker coalesce a repository's backlog into one change set.

use std::collections::BTreeMap;

use rusqlite::{Connection, params};

use super::parse_attrs;
use crate::error::Result;
use crate::queue::{DeadLetterReason, ReceivedMessage};
use crate::time::now_ms;

struct Candidate {
    seq: i64,
    group_id: String,
    dedup_id: String,
    body: String,
    attributes: String,
    receive_count: u32,
    sent_at: i64,
}

/// Hands out up to `max` messages: runs of unblocked groups, oldest group first. A message
/// received `max_receives` times already goes to `dlq` instead, with its reason.
pub(super) fn receive_tx(
    conn: &Connection,
    queue: &str,
    dlq: Option<&str>,
    max: usize,
    visibility_ms: i64,
    max_receives: u32,
) -> Result<Vec<ReceivedMessage>> {
    let now = now_ms();
    let mut out: Vec<ReceivedMessage> = Vec::new();
    // A pass that moved messages to the DLQ may have emptied groups it had picked, so look
    // again (bounded).
    for _ in 0..4 {
        let groups = unblocked_groups(conn, queue, now, max - out.len())?;
        if groups.is_empty() {
            break;
        }
        let mut moved = false;
        for group in groups {
            let want = max - out.len();
            if want == 0 {
                break;
            }
            for c in group_run(conn, queue, &group, want)? {
                if let Some(dlq) = dlq.filter(|_| c.receive_count >= max_receives) {
                    redrive(conn, dlq, &c, now)?;
                    moved = true;
                    continue;
                }
                out.push(hand_out(conn, c, now.saturating_add(visibility_ms))?);
            }
        }
        if !moved || out.len() >= max {
            break;
        }
    }
    Ok(out)
}

/// Up to `limit` groups of `queue` with nothing in flight, oldest first message first.
fn unblocked_groups(conn: &Connection, queue: &str, now: i64, limit: usize) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "WITH RECURSIVE g(id) AS (
             SELECT (SELECT group_id FROM queue_messages INDEXED BY queue_messages_group_seq
                     WHERE queue = ?1 ORDER BY group_id LIMIT 1)
             UNION ALL
             SELECT (SELECT group_id FROM queue_messages INDEXED BY queue_messages_group_seq
                     WHERE queue = ?1 AND group_id > g.id ORDER BY group_id LIMIT 1)
             FROM g WHERE g.id IS NOT NULL
         )
         SELECT g.id,
                (SELECT MIN(seq) FROM queue_messages INDEXED BY queue_messages_group_seq
                 WHERE queue = ?1 AND group_id = g.id) AS head
         FROM g
         WHERE g.id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM queue_messages INDEXED BY queue_messages_group
                           WHERE queue = ?1 AND group_id = g.id AND visible_at > ?2)
         ORDER BY head LIMIT ?3",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![queue, now, limit], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
}

/// The first `limit` messages of `group`, in order.
fn group_run(conn: &Connection, queue: &str, group: &str, limit: usize) -> Result<Vec<Candidate>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, group_id, dedup_id, body, attributes, receive_count, sent_at
         FROM queue_messages INDEXED BY queue_messages_group_seq
         WHERE queue = ?1 AND group_id = ?2 ORDER BY seq LIMIT ?3",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![queue, group, limit], |r| {
        Ok(Candidate {
            seq: r.get(0)?,
            group_id: r.get(1)?,
            dedup_id: r.get(2)?,
            body: r.get(3)?,
            attributes: r.get(4)?,
            receive_count: r.get(5)?,
            sent_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Marks `c` received until `visible_at` under a fresh receipt.
fn hand_out(conn: &Connection, c: Candidate, visible_at: i64) -> Result<ReceivedMessage> {
    let receipt = format!("{}:{}", c.seq, uuid::Uuid::new_v4().simple());
    conn.prepare_cached(
        "UPDATE queue_messages SET visible_at = ?1, receive_count = receive_count + 1,
            receipt = ?2 WHERE seq = ?3",
    )?
    .execute(params![visible_at, &receipt, c.seq])?;
    let attributes: BTreeMap<String, String> = parse_attrs(&c.attributes)?;
    Ok(ReceivedMessage {
        message_id: c.seq.to_string(),
        receipt,
        group_id: c.group_id,
        dedup_id: c.dedup_id,
        body: c.body,
        attributes,
        receive_count: c.receive_count + 1,
        sent_at_ms: c.sent_at,
    })
}

fn redrive(conn: &Connection, dlq: &str, c: &Candidate, now: i64) -> Result<()> {
    let reason = DeadLetterReason {
        reason: format!("received {} times without success", c.receive_count),
        error_class: "max_receives".into(),
    };
    let attrs = reason.attributes_over(parse_attrs(&c.attributes)?, c.receive_count, &c.group_id);
    conn.execute(
        "UPDATE queue_messages SET queue = ?1, attributes = ?2, visible_at = ?3,
            receive_count = 0, receipt = NULL WHERE seq = ?4",
        params![dlq, serde_json::to_string(&attrs)?, now, c.seq],
    )?;
    tracing::warn!(group = %c.group_id, dedup_id = %c.dedup_id, attempts = c.receive_count,
        "message moved to the dead-letter queue after max receives");
    Ok(())
}
