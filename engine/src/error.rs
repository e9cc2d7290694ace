//! [`EngineError`]: what the engine refuses (a pack that does not load, a state that does not
//! parse, a rule broken). The engine does no I/O, so the same input fails the same way every
//! time: its errors are never worth a retry, and the worker dead-letters the event with the
//! class and reason given here.

use coderipple_core::WorkerError;

/// A failure of the engine: permanent, with the class stored as the DLQ `error_class`.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{class}: {reason}")]
pub struct EngineError {
    /// Short machine-readable class (`invalid`, `corrupt`, `config`).
    pub class: &'static str,
    /// What is wrong.
    pub reason: String,
}

impl EngineError {
    /// A failure of class `invalid`.
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self {
            class: "invalid",
            reason: reason.into(),
        }
    }

    /// Never: a pure computation fails the same way on every try.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

impl From<EngineError> for WorkerError {
    fn from(e: EngineError) -> Self {
        WorkerError::Permanent {
            class: e.class,
            reason: e.reason,
        }
    }
}
