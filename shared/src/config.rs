//! Settings shared by ingest and worker, read from `CODERIPPLE_*` environment variables and
//! validated at start; every error names the variable.

use std::time::Duration;

use crate::queue::QueueSettings;
use crate::signature::Secrets;
use crate::{Error, Result};

/// Tunables of the pipeline (every field has a documented default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `CODERIPPLE_MAX_BODY_BYTES`: largest webhook body accepted (default 25 MiB, GitHub's cap).
    pub max_body_bytes: usize,
    /// `CODERIPPLE_MAX_MESSAGE_BYTES`: envelopes larger than this are claim-checked
    /// (default 256 KiB; SQS allows up to 1 MiB).
    pub max_message_bytes: usize,
    /// `CODERIPPLE_DEDUP_TTL_SECS`: how long a delivery id is remembered (default 7 days).
    pub dedup_ttl: Duration,
    /// `CODERIPPLE_VISIBILITY_TIMEOUT_SECS`: how long a received message stays hidden (60).
    pub visibility_timeout: Duration,
    /// `CODERIPPLE_MAX_RECEIVES`: receives before the DLQ (5).
    pub max_receives: u32,
    /// `CODERIPPLE_QUEUE_DEDUP_WINDOW_SECS`: the queue's dedup window (300, as SQS).
    pub queue_dedup_window: Duration,
    /// `CODERIPPLE_RETRY_DELAY_SECS`: how long a transiently failed message waits before its
    /// next attempt (5).
    pub retry_delay: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_body_bytes: 25 * 1024 * 1024,
            max_message_bytes: 256 * 1024,
            dedup_ttl: Duration::from_secs(7 * 24 * 3600),
            visibility_timeout: Duration::from_secs(60),
            max_receives: 5,
            queue_dedup_window: Duration::from_secs(300),
            retry_delay: Duration::from_secs(5),
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
        Ok(())
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
}
