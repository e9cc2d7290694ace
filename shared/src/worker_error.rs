//! [`WorkerError`]: whether a message that failed is retried or dead-lettered, and with
//! which class. It lives here, below every crate that handles a message, because the queue
//! consumer acts on the decision while the worker and the GitHub client make it.

use crate::error::Error;

/// A failure while processing messages.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum WorkerError {
    /// May succeed later (backend down, lost a compare-and-set, lease held elsewhere):
    /// the message and every later message of its group go back to the queue.
    #[error("transient: {0}")]
    Transient(String),
    /// Another worker holds the delivery's processing lease: retry once the lease ends.
    #[error("transient: delivery {delivery} is leased by another worker until {until_ms}")]
    Leased {
        /// The leased delivery.
        delivery: String,
        /// Lease end (Unix ms).
        until_ms: i64,
    },
    /// Will never succeed (unreadable envelope, invariant violated): dead-lettered.
    #[error("{class}: {reason}")]
    Permanent {
        /// Short machine-readable class, stored as the DLQ `error_class`.
        class: &'static str,
        /// What is wrong, stored as the DLQ `reason`.
        reason: String,
    },
}

impl WorkerError {
    /// A permanent failure of class `invalid`.
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self::Permanent {
            class: "invalid",
            reason: reason.into(),
        }
    }

    /// A failure that may pass on a retry.
    pub fn transient(reason: impl Into<String>) -> Self {
        Self::Transient(reason.into())
    }

    /// Whether retrying may help.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient(_) | Self::Leased { .. })
    }
}

impl From<Error> for WorkerError {
    fn from(e: Error) -> Self {
        if e.is_retryable() {
            return Self::Transient(e.to_string());
        }
        let class = match e {
            Error::Corrupt(_) => "corrupt",
            Error::Config(_) => "config",
            _ => "invalid",
        };
        Self::Permanent {
            class,
            reason: e.to_string(),
        }
    }
}
