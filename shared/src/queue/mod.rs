//! The [`Queue`] trait: an SQS-FIFO-shaped queue, and its backends.
//!
//! Semantics every backend honours (SQS FIFO's; `docs/operations.md` says the same):
//! - FIFO within a message group; groups are independent.
//! - While any message of a group is in flight, no other message of that group is delivered.
//! - A received message is invisible for the visibility timeout, then delivered again.
//! - Each receive counts; a message received `max_receives` times without being deleted moves
//!   to the dead-letter queue (keeping its group id) at the next receive.
//! - A message whose deduplication id was sent within the dedup window is accepted and dropped.

pub mod sqlite;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Result;

/// Largest batch one call may send, receive or delete (SQS's limit).
pub const MAX_BATCH: usize = 10;

/// Longest FIFO group id SQS accepts (`MessageGroupId`).
pub const MAX_GROUP_ID_LEN: usize = 128;
/// Hex digits of the SHA-256 of the full name in a derived group id (128 bits).
const GROUP_HASH_HEX: usize = 32;

/// The dedup id of a replayed copy of a message whose dedup id is `dedup_id`: the original
/// (cut to fit SQS's 128 characters) with `.replay-<tag>`, new each time, so the copy is not
/// dropped by the queue's dedup window.
pub fn replay_dedup_id(dedup_id: &str) -> String {
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let base: String = dedup_id.chars().take(110).collect();
    format!("{base}{REPLAY_MARK}{tag}")
}

const REPLAY_MARK: &str = ".replay-";

/// The delivery id a queued message carries: its envelope's, or (a body that is not an
/// envelope) its dedup id without a replay's suffix ([`replay_dedup_id`]).
pub fn delivery_of(body: &str, dedup_id: &str) -> String {
    crate::envelope::Envelope::from_json(body).map_or_else(
        |_| {
            dedup_id
                .split_once(REPLAY_MARK)
                .map_or(dedup_id, |(d, _)| d)
                .to_owned()
        },
        |e| e.delivery,
    )
}

/// The FIFO group id a backend stores for `group` (a repository's `owner/name`): `group`
/// itself when SQS accepts it as a `MessageGroupId` (1–128 ASCII letters, digits and
/// punctuation), else a stable id that it does accept: up to 95 characters of `group` (others
/// replaced by `_`), `~`, and the first 32 hex digits of the SHA-256 of all of `group`.
///
/// Repository names pass validation at up to 201 characters, so the longest ones need this.
/// Every backend's send path applies it, so a group is the same on each and a received
/// message's `group_id` is this value; `~` never occurs in a repository name, so a derived id
/// never equals a real one. Applying it twice changes nothing.
pub fn message_group_id(group: &str) -> Cow<'_, str> {
    let accepted = |b: u8| b.is_ascii_graphic();
    if !group.is_empty() && group.len() <= MAX_GROUP_ID_LEN && group.bytes().all(accepted) {
        return Cow::Borrowed(group);
    }
    let hash = hex::encode(Sha256::digest(group.as_bytes()));
    let prefix: String = group
        .chars()
        .map(|c| {
            if c.is_ascii() && accepted(c as u8) {
                c
            } else {
                '_'
            }
        })
        .take(MAX_GROUP_ID_LEN - 1 - GROUP_HASH_HEX)
        .collect();
    Cow::Owned(format!("{prefix}~{}", &hash[..GROUP_HASH_HEX]))
}

/// Queue settings that a backend's redrive policy and dedup window follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSettings {
    /// Receives before a message moves to the DLQ.
    pub max_receives: u32,
    /// How long a deduplication id suppresses resends.
    pub dedup_window: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            max_receives: 5,
            dedup_window: Duration::from_secs(300),
        }
    }
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// FIFO group (the repository); backends store [`message_group_id`] of it.
    pub group_id: String,
    /// Deduplication id (the delivery id).
    pub dedup_id: String,
    /// The body (an envelope).
    pub body: String,
    /// String attributes (dead-letter reason and the like).
    pub attributes: BTreeMap<String, String>,
}

impl OutgoingMessage {
    /// A message without attributes.
    pub fn new(
        group_id: impl Into<String>,
        dedup_id: impl Into<String>,
        body: impl Into<String>,
    ) -> Self {
        Self {
            group_id: group_id.into(),
            dedup_id: dedup_id.into(),
            body: body.into(),
            attributes: BTreeMap::new(),
        }
    }
}

/// A message handed out by [`Queue::receive`]; valid until its visibility timeout ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedMessage {
    /// Backend message id.
    pub message_id: String,
    /// Handle for delete / change-visibility / dead-letter.
    pub receipt: String,
    /// FIFO group.
    pub group_id: String,
    /// Deduplication id.
    pub dedup_id: String,
    /// Body.
    pub body: String,
    /// Attributes.
    pub attributes: BTreeMap<String, String>,
    /// How many times it has been received, this time included.
    pub receive_count: u32,
    /// When it was sent (Unix ms).
    pub sent_at_ms: i64,
}

/// Why a message is being dead-lettered; stored as message attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterReason {
    /// Human-readable reason.
    pub reason: String,
    /// A short machine-readable class (`corrupt`, `invalid`, `max_receives`, …).
    pub error_class: String,
}

impl DeadLetterReason {
    /// The attributes a dead-lettered message carries.
    pub fn attributes(&self, message: &ReceivedMessage) -> BTreeMap<String, String> {
        self.attributes_over(
            message.attributes.clone(),
            message.receive_count,
            &message.group_id,
        )
    }

    /// `attrs` plus the dead-letter attributes, for a message of `group` received `attempts`
    /// times (also used where a backend redrives a message itself).
    pub fn attributes_over(
        &self,
        mut attrs: BTreeMap<String, String>,
        attempts: u32,
        group: &str,
    ) -> BTreeMap<String, String> {
        attrs.insert("reason".into(), self.reason.clone());
        attrs.insert("error_class".into(), self.error_class.clone());
        attrs.insert("attempts".into(), attempts.to_string());
        attrs.insert("original_group".into(), group.to_owned());
        attrs.insert(
            "dead_lettered_at".into(),
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        );
        attrs
    }
}

/// A message seen without receiving it (for listing a DLQ).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeekedMessage {
    /// Backend message id.
    pub message_id: String,
    /// FIFO group.
    pub group_id: String,
    /// Deduplication id.
    pub dedup_id: String,
    /// Body.
    pub body: String,
    /// Attributes.
    pub attributes: BTreeMap<String, String>,
    /// Receives so far.
    pub receive_count: u32,
    /// When it was sent (Unix ms).
    pub sent_at_ms: i64,
    /// Whether it is currently in flight.
    pub in_flight: bool,
}

/// Depth of a queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStats {
    /// Messages ready to be received (including those held back behind an in-flight group).
    pub visible: u64,
    /// Messages received and not yet deleted or timed out.
    pub in_flight: u64,
}

/// An SQS-FIFO-shaped queue.
#[async_trait]
pub trait Queue: Send + Sync + std::fmt::Debug {
    /// The queue's name.
    fn name(&self) -> &str;

    /// Sends up to [`MAX_BATCH`] messages, in order; all are stored or the call fails.
    async fn send_batch(&self, messages: &[OutgoingMessage]) -> Result<()>;

    /// The most messages one [`Queue::receive`] hands out: [`MAX_BATCH`] for SQS; more for
    /// a queue that can hand a group's whole queued run at once.
    fn receive_limit(&self) -> usize {
        MAX_BATCH
    }

    /// Receives up to `max` messages (≤ [`Queue::receive_limit`]), waiting up to `wait` for
    /// the first.
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>>;

    /// Deletes received messages. Receipts no longer in flight are skipped.
    async fn delete_batch(&self, receipts: &[String]) -> Result<()>;

    /// Changes how long a received message stays invisible (zero: release it now).
    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<()>;

    /// Moves a received message to this queue's dead-letter queue with a reason.
    async fn dead_letter(&self, message: &ReceivedMessage, reason: &DeadLetterReason)
    -> Result<()>;

    /// Visible and in-flight counts.
    async fn stats(&self) -> Result<QueueStats>;

    /// Up to `limit` messages in queue order, without receiving them.
    async fn peek(&self, limit: usize) -> Result<Vec<PeekedMessage>>;

    /// Deletes every message; returns how many.
    async fn purge(&self) -> Result<u64>;

    /// Whether the queue can take a send right now (for `/health`).
    async fn health(&self) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_ids_that_sqs_accepts_are_kept_and_longer_ones_derived_stably() {
        assert_eq!(message_group_id("octo/hello"), "octo/hello");
        let longest = format!("{}/{}", "o".repeat(100), "r".repeat(100));
        let derived = message_group_id(&longest);
        assert!(derived.len() <= MAX_GROUP_ID_LEN, "{derived}");
        assert!(derived.bytes().all(|b| b.is_ascii_graphic()), "{derived}");
        assert!(
            derived.starts_with("ooo") && derived.contains('~'),
            "{derived}"
        );
        assert_eq!(message_group_id(&longest), derived, "stable");
        assert_eq!(
            message_group_id(&derived),
            derived,
            "applying it twice changes nothing"
        );
        // Names that share the kept prefix still get different groups.
        let sibling = format!("{}/{}s", "o".repeat(100), "r".repeat(99));
        assert_ne!(message_group_id(&sibling), derived);
        let exactly = "x".repeat(MAX_GROUP_ID_LEN);
        assert_eq!(message_group_id(&exactly), exactly);
        for odd in ["", "with space", "naïve/repo"] {
            let id = message_group_id(odd);
            assert!(
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic()),
                "{id}"
            );
        }
    }
}
