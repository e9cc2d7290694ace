//! Settings read from `CODERIPPLE_*` variables: a value that cannot work is a `config` error
//! that names its variable, found at start, never retried.

use coderipple_core::WorkerError;

/// A `config` error: a setting that cannot work (permanent).
pub(crate) fn config(reason: impl Into<String>) -> WorkerError {
    WorkerError::Permanent {
        class: "config",
        reason: reason.into(),
    }
}

/// Variable `name` read through `lookup` as a whole number; `default` when unset.
pub(crate) fn whole_number(
    lookup: impl Fn(&str) -> Option<String>,
    name: &str,
    default: u64,
) -> Result<u64, WorkerError> {
    match lookup(name) {
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|_| config(format!("{name} must be a whole number, got {raw:?}"))),
        None => Ok(default),
    }
}
