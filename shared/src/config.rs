//! Settings shared by ingest and worker, read from `CODERIPPLE_*` environment variables and
//! validated at start; every error names the variable.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::queue::QueueSettings;
use crate::signature::Secrets;
use crate::sqlite::Durability;

const DAY: u64 = 24 * 3600;

/// Tunables of the pipeline (every field has a documented default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `CODERIPPLE_MAX_BODY_BYTES`: largest webhook body accepted (default 25 MiB, GitHub's cap).
    pub max_body_bytes: usize,
    /// `CODERIPPLE_MAX_MESSAGE_BYTES`: envelopes larger than this are claim-checked
    /// (default 256 KiB; SQS allows up to 1 MiB).
    pub max_message_bytes: usize,
    /// `CODERIPPLE_DEDUP_TTL_SECS`: how long a delivery id is remembered (default 43 days:
    /// a message's life on the queue, then in the DLQ, then once more on the queue after a
    /// replay, and a day; at least queue + DLQ retention).
    pub dedup_ttl: Duration,
    /// `CODERIPPLE_QUEUE_RETENTION_SECS`: how long the events queue keeps a message (14 days).
    pub queue_retention: Duration,
    /// `CODERIPPLE_DLQ_RETENTION_SECS`: how long the DLQ keeps a message (14 days, SQS's most).
    pub dlq_retention: Duration,
    /// `CODERIPPLE_VISIBILITY_TIMEOUT_SECS`: how long a received message stays hidden (60).
    pub visibility_timeout: Duration,
    /// `CODERIPPLE_MAX_RECEIVES`: receives before the DLQ (5).
    pub max_receives: u32,
    /// `CODERIPPLE_QUEUE_DEDUP_WINDOW_SECS`: the queue's dedup window (300, as SQS).
    pub queue_dedup_window: Duration,
    /// `CODERIPPLE_RETRY_DELAY_SECS`: how long a transiently failed message waits before its
    /// next attempt (5).
    pub retry_delay: Duration,
    /// `CODERIPPLE_RETRY_HOLD_SECS`: how long a long-running worker keeps retrying a
    /// transiently failing repository in place, with backoff, before giving the message back
    /// to the queue (which spends one of its receives) (60; 0 turns holding off).
    pub retry_hold: Duration,
    /// How long a push whose `before` is not the branch's last applied head waits for the
    /// pushes between (`CODERIPPLE_GAP_WAIT_SECS`, 300) before the gap is filled or recorded.
    pub gap_wait: Duration,
    /// `CODERIPPLE_SQLITE_SYNC`: `full` (default: a commit survives power loss) or `normal`
    /// (survives a process crash, not power loss); the embedded backend only.
    pub sqlite_sync: Durability,
    /// Limits of the local HTTP server (`coderipple up`).
    pub server: ServerSettings,
}

/// Limits of the local HTTP server (`coderipple up`; not used by the Lambda Function URL,
/// which has its own). Every wait on a client is bounded, so slow or silent clients cannot
/// hold connections, memory or a shutdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// `CODERIPPLE_HEADER_TIMEOUT_SECS`: time to send a request's headers, counted from the
    /// connection's start or, on a kept-alive connection, from the previous answer (10).
    pub header_timeout: Duration,
    /// `CODERIPPLE_BODY_TIMEOUT_SECS`: time to send a whole body, counted from its headers (30).
    pub body_timeout: Duration,
    /// `CODERIPPLE_BODY_IDLE_TIMEOUT_SECS`: longest silence between two pieces of a body (10).
    pub body_idle_timeout: Duration,
    /// `CODERIPPLE_WRITE_TIMEOUT_SECS`: longest an answer may wait for the client to read it (10).
    pub write_timeout: Duration,
    /// `CODERIPPLE_MAX_CONNECTIONS`: connections served at once; more wait to be accepted
    /// (512; HTTP/1.1 runs one request per connection at a time, so this caps requests too).
    pub max_connections: usize,
    /// `CODERIPPLE_MAX_INFLIGHT_BODY_BYTES`: body bytes held by all requests together; a
    /// request that would go over gets 503 (default 128 MiB, at least `max_body_bytes`).
    pub max_inflight_body_bytes: u64,
    /// `CODERIPPLE_SHUTDOWN_GRACE_SECS`: after SIGINT/SIGTERM, how long in-flight requests
    /// (and workers) may take before the process exits anyway (10, GitHub's own timeout).
    pub shutdown_grace: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            body_idle_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_connections: 512,
            max_inflight_body_bytes: 128 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl ServerSettings {
    fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self> {
        let d = Self::default();
        Ok(Self {
            header_timeout: secs(lookup, "CODERIPPLE_HEADER_TIMEOUT_SECS", d.header_timeout)?,
            body_timeout: secs(lookup, "CODERIPPLE_BODY_TIMEOUT_SECS", d.body_timeout)?,
            body_idle_timeout: secs(
                lookup,
                "CODERIPPLE_BODY_IDLE_TIMEOUT_SECS",
                d.body_idle_timeout,
            )?,
            write_timeout: secs(lookup, "CODERIPPLE_WRITE_TIMEOUT_SECS", d.write_timeout)?,
            max_connections: number(lookup, "CODERIPPLE_MAX_CONNECTIONS", d.max_connections)?,
            max_inflight_body_bytes: number(
                lookup,
                "CODERIPPLE_MAX_INFLIGHT_BODY_BYTES",
                d.max_inflight_body_bytes,
            )?,
            shutdown_grace: secs(lookup, "CODERIPPLE_SHUTDOWN_GRACE_SECS", d.shutdown_grace)?,
        })
    }

    /// Checks ranges; `max_body_bytes` is the largest body a request may send.
    fn validate(&self, max_body_bytes: usize) -> Result<()> {
        const HOUR: Duration = Duration::from_secs(3600);
        let timeouts = [
            ("CODERIPPLE_HEADER_TIMEOUT_SECS", self.header_timeout),
            ("CODERIPPLE_BODY_TIMEOUT_SECS", self.body_timeout),
            ("CODERIPPLE_BODY_IDLE_TIMEOUT_SECS", self.body_idle_timeout),
            ("CODERIPPLE_WRITE_TIMEOUT_SECS", self.write_timeout),
        ];
        for (name, d) in timeouts {
            if d.is_zero() || d > HOUR {
                return Err(Error::Config(format!(
                    "{name} must be between 1 and 3600 seconds"
                )));
            }
        }
        if self.shutdown_grace > HOUR {
            return Err(Error::Config(
                "CODERIPPLE_SHUTDOWN_GRACE_SECS must be at most 3600 seconds".into(),
            ));
        }
        if self.body_idle_timeout > self.body_timeout {
            return Err(Error::Config(
                "CODERIPPLE_BODY_IDLE_TIMEOUT_SECS must be at most CODERIPPLE_BODY_TIMEOUT_SECS"
                    .into(),
            ));
        }
        if !(1..=100_000).contains(&self.max_connections) {
            return Err(Error::Config(
                "CODERIPPLE_MAX_CONNECTIONS must be between 1 and 100000".into(),
            ));
        }
        if self.max_inflight_body_bytes < max_body_bytes as u64 {
            return Err(Error::Config(
                "CODERIPPLE_MAX_INFLIGHT_BODY_BYTES must be at least CODERIPPLE_MAX_BODY_BYTES \
                 (or no body of the largest size could ever be accepted)"
                    .into(),
            ));
        }
        Ok(())
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_body_bytes: 25 * 1024 * 1024,
            max_message_bytes: 256 * 1024,
            dedup_ttl: Duration::from_secs(43 * DAY),
            queue_retention: Duration::from_secs(14 * DAY),
            dlq_retention: Duration::from_secs(14 * DAY),
            visibility_timeout: Duration::from_secs(60),
            max_receives: 5,
            queue_dedup_window: Duration::from_secs(300),
            retry_delay: Duration::from_secs(5),
            retry_hold: Duration::from_secs(60),
            gap_wait: Duration::from_secs(300),
            sqlite_sync: Durability::Full,
            server: ServerSettings::default(),
        }
    }
}

impl Settings {
    /// Reads settings from the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let d = Self::default();
        let s = Self {
            max_body_bytes: number(&lookup, "CODERIPPLE_MAX_BODY_BYTES", d.max_body_bytes)?,
            max_message_bytes: number(
                &lookup,
                "CODERIPPLE_MAX_MESSAGE_BYTES",
                d.max_message_bytes,
            )?,
            dedup_ttl: secs(&lookup, "CODERIPPLE_DEDUP_TTL_SECS", d.dedup_ttl)?,
            queue_retention: secs(
                &lookup,
                "CODERIPPLE_QUEUE_RETENTION_SECS",
                d.queue_retention,
            )?,
            dlq_retention: secs(&lookup, "CODERIPPLE_DLQ_RETENTION_SECS", d.dlq_retention)?,
            visibility_timeout: secs(
                &lookup,
                "CODERIPPLE_VISIBILITY_TIMEOUT_SECS",
                d.visibility_timeout,
            )?,
            max_receives: number(&lookup, "CODERIPPLE_MAX_RECEIVES", d.max_receives)?,
            queue_dedup_window: secs(
                &lookup,
                "CODERIPPLE_QUEUE_DEDUP_WINDOW_SECS",
                d.queue_dedup_window,
            )?,
            retry_delay: secs(&lookup, "CODERIPPLE_RETRY_DELAY_SECS", d.retry_delay)?,
            retry_hold: secs(&lookup, "CODERIPPLE_RETRY_HOLD_SECS", d.retry_hold)?,
            gap_wait: secs(&lookup, "CODERIPPLE_GAP_WAIT_SECS", d.gap_wait)?,
            sqlite_sync: match lookup("CODERIPPLE_SQLITE_SYNC").as_deref() {
                None | Some("full") => Durability::Full,
                Some("normal") => Durability::Normal,
                Some(other) => {
                    return Err(Error::Config(format!(
                        "CODERIPPLE_SQLITE_SYNC must be `full` or `normal`, got {other:?}"
                    )));
                }
            },
            server: ServerSettings::from_lookup(&lookup)?,
        };
        s.validate()?;
        Ok(s)
    }

    fn validate(&self) -> Result<()> {
        const YEAR: Duration = Duration::from_secs(366 * 24 * 3600);
        let too_long = [
            ("CODERIPPLE_DEDUP_TTL_SECS", self.dedup_ttl),
            (
                "CODERIPPLE_VISIBILITY_TIMEOUT_SECS",
                self.visibility_timeout,
            ),
            (
                "CODERIPPLE_QUEUE_DEDUP_WINDOW_SECS",
                self.queue_dedup_window,
            ),
            ("CODERIPPLE_RETRY_DELAY_SECS", self.retry_delay),
            ("CODERIPPLE_RETRY_HOLD_SECS", self.retry_hold),
            ("CODERIPPLE_GAP_WAIT_SECS", self.gap_wait),
        ];
        for (name, d) in too_long {
            if d > YEAR {
                return Err(Error::Config(format!("{name} must be at most a year")));
            }
        }
        let positive = [
            ("CODERIPPLE_MAX_BODY_BYTES", self.max_body_bytes == 0),
            (
                "CODERIPPLE_MAX_MESSAGE_BYTES",
                self.max_message_bytes < 1024,
            ),
            ("CODERIPPLE_DEDUP_TTL_SECS", self.dedup_ttl.is_zero()),
            (
                "CODERIPPLE_VISIBILITY_TIMEOUT_SECS",
                self.visibility_timeout.is_zero(),
            ),
            ("CODERIPPLE_MAX_RECEIVES", self.max_receives == 0),
        ];
        for (name, bad) in positive {
            if bad {
                return Err(Error::Config(format!("{name} is out of range")));
            }
        }
        // SQS retention: 60 s to 14 days.
        for (name, d) in [
            ("CODERIPPLE_QUEUE_RETENTION_SECS", self.queue_retention),
            ("CODERIPPLE_DLQ_RETENTION_SECS", self.dlq_retention),
        ] {
            if d < Duration::from_secs(60) || d > Duration::from_secs(14 * DAY) {
                return Err(Error::Config(format!(
                    "{name} must be between 60 s and 14 days (SQS's range)"
                )));
            }
        }
        if self.dedup_ttl < self.message_lifetime() {
            return Err(Error::Config(format!(
                "CODERIPPLE_DEDUP_TTL_SECS ({} s) must be at least the queue's plus the DLQ's \
                 retention ({} s): a delivery record must outlive every message that can \
                 still be processed or replayed",
                self.dedup_ttl.as_secs(),
                self.message_lifetime().as_secs()
            )));
        }
        self.server.validate(self.max_body_bytes)
    }

    /// The longest a message can live on the queue and then in the DLQ (FIFO queues restart a
    /// message's retention when it moves to the DLQ). Claim-check bodies and delivery records
    /// are kept at least this long.
    pub fn message_lifetime(&self) -> Duration {
        self.queue_retention + self.dlq_retention
    }

    /// The queue settings these imply.
    pub fn queue(&self) -> QueueSettings {
        QueueSettings {
            max_receives: self.max_receives,
            dedup_window: self.queue_dedup_window,
        }
    }
}

/// Webhook secrets from `CODERIPPLE_WEBHOOK_SECRET` (+ `_PREVIOUS`), if set.
pub fn secrets_from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Secrets>> {
    match lookup("CODERIPPLE_WEBHOOK_SECRET") {
        None => {
            if lookup("CODERIPPLE_WEBHOOK_SECRET_PREVIOUS").is_some() {
                return Err(Error::Config(
                    "CODERIPPLE_WEBHOOK_SECRET_PREVIOUS is set without CODERIPPLE_WEBHOOK_SECRET"
                        .into(),
                ));
            }
            Ok(None)
        }
        Some(current) => {
            let previous = lookup("CODERIPPLE_WEBHOOK_SECRET_PREVIOUS");
            Secrets::new(&current, previous.as_deref()).map(Some)
        }
    }
}

fn number<T: std::str::FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
) -> Result<T> {
    match lookup(name) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|_| {
            Error::Config(format!(
                "{name} must be a non-negative whole number, got {raw:?}"
            ))
        }),
    }
}

fn secs(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: Duration,
) -> Result<Duration> {
    number(lookup, name, default.as_secs()).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Settings> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(from(&[]).unwrap(), Settings::default());
        let s = from(&[("CODERIPPLE_MAX_RECEIVES", "3")]).unwrap();
        assert_eq!(s.max_receives, 3);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = from(&[("CODERIPPLE_MAX_RECEIVES", "many")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("CODERIPPLE_MAX_RECEIVES"), "{err}");
        let err = from(&[("CODERIPPLE_DEDUP_TTL_SECS", "99999999999")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("CODERIPPLE_DEDUP_TTL_SECS"), "{err}");
        let err = from(&[("CODERIPPLE_VISIBILITY_TIMEOUT_SECS", "0")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("CODERIPPLE_VISIBILITY_TIMEOUT_SECS"), "{err}");
        let err = secrets_from_env(|k| {
            (k == "CODERIPPLE_WEBHOOK_SECRET_PREVIOUS").then(|| "x".to_string())
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("CODERIPPLE_WEBHOOK_SECRET"), "{err}");
    }

    #[test]
    fn server_limits_are_read_and_checked() {
        let s = from(&[
            ("CODERIPPLE_HEADER_TIMEOUT_SECS", "3"),
            ("CODERIPPLE_MAX_CONNECTIONS", "8"),
            ("CODERIPPLE_SHUTDOWN_GRACE_SECS", "0"),
        ])
        .unwrap();
        assert_eq!(s.server.header_timeout, Duration::from_secs(3));
        assert_eq!(s.server.max_connections, 8);
        assert!(s.server.shutdown_grace.is_zero());
        for (name, value) in [
            ("CODERIPPLE_HEADER_TIMEOUT_SECS", "0"),
            ("CODERIPPLE_BODY_TIMEOUT_SECS", "3601"),
            ("CODERIPPLE_WRITE_TIMEOUT_SECS", "0"),
            ("CODERIPPLE_BODY_IDLE_TIMEOUT_SECS", "31"),
            ("CODERIPPLE_MAX_CONNECTIONS", "0"),
            ("CODERIPPLE_MAX_INFLIGHT_BODY_BYTES", "1024"),
            ("CODERIPPLE_SHUTDOWN_GRACE_SECS", "-1"),
        ] {
            let err = from(&[(name, value)]).unwrap_err().to_string();
            assert!(err.contains(name), "{name}={value}: {err}");
        }
        // The budget must hold one body of the largest size.
        let err = from(&[
            ("CODERIPPLE_MAX_BODY_BYTES", "2000"),
            ("CODERIPPLE_MAX_INFLIGHT_BODY_BYTES", "1999"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("CODERIPPLE_MAX_INFLIGHT_BODY_BYTES"), "{err}");
        assert!(
            from(&[
                ("CODERIPPLE_MAX_BODY_BYTES", "2000"),
                ("CODERIPPLE_MAX_INFLIGHT_BODY_BYTES", "2000"),
            ])
            .is_ok()
        );
    }
}
