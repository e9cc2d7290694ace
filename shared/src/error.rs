//! The one error type of `coderipple-core`. Every variant says whether retrying can help.

/// Result with the core [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in terms a caller can act on.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The queue, the store or the blob storage could not be reached or did not commit.
    /// Retry later; nothing was acknowledged.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// A compare-and-set lost against a concurrent writer. Retry with fresh state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A receipt handle that does not (or no longer) name an in-flight message.
    #[error("receipt handle is not in flight: {0}")]
    InvalidReceipt(String),
    /// The request is malformed (HTTP 400). Retrying the same input fails the same way.
    #[error("{0}")]
    BadRequest(String),
    /// Missing or wrong signature (HTTP 401). Deliberately says nothing about the secrets.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The body is over the configured limit (HTTP 413).
    #[error("payload too large (limit {limit} bytes)")]
    PayloadTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The content type is not one GitHub sends (HTTP 415).
    #[error("unsupported content type: {0}")]
    UnsupportedMediaType(String),
    /// A stored record or message cannot be read: a permanent failure for that item.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// Invalid configuration; the message names the variable or flag.
    #[error("configuration: {0}")]
    Config(String),
}

impl Error {
    /// The HTTP status ingest answers this error with (`docs/http-contract.md`): the client's faults 400/401/413/415, a backend that may recover 503
    /// (retry later), anything else 500.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::BadRequest(_) => 400,
            Error::Unauthorized(_) => 401,
            Error::PayloadTooLarge { .. } => 413,
            Error::UnsupportedMediaType(_) => 415,
            Error::Unavailable(_) | Error::Conflict(_) => 503,
            Error::InvalidReceipt(_) | Error::Corrupt(_) | Error::Config(_) => 500,
        }
    }

    /// Whether the same operation may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable(_) | Error::Conflict(_))
    }
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        match err {
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::InvalidColumnType(..) => Error::Corrupt(err.to_string()),
            other => Error::Unavailable(format!("sqlite: {other}")),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Error::Corrupt(format!("json: {err}"))
    }
}
