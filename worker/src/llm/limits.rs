//! How much the writer may take: time per change set, calls, tokens per day, and how long a
//! failed prompt waits before it is asked again.

use std::time::Duration;

/// How much the writer may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterLimits {
    /// The model time a change set may spend, all its calls together, so one call's longest
    /// wait too (`CODERIPPLE_WRITER_TIMEOUT_SECS`, default 20 s).
    pub timeout: Duration,
    /// Tokens (prompt and answer) per repository per UTC day
    /// (`CODERIPPLE_WRITER_DAILY_TOKENS`, default 200,000; 0 stops every call).
    pub daily_tokens: u64,
    /// Tokens per UTC day for all repositories together
    /// (`CODERIPPLE_WRITER_DAILY_TOKENS_TOTAL`, default 2,000,000; 0 stops every call).
    pub daily_tokens_total: u64,
    /// Model calls per change set (`CODERIPPLE_WRITER_MAX_CALLS`, default 8): the rest keep
    /// their deterministic text until a later change set renders them.
    pub max_calls: usize,
    /// How long the writer stops asking after the model looked unavailable.
    pub pause: Duration,
    /// The longest answer asked for, in tokens (`CODERIPPLE_WRITER_MAX_TOKENS`, default 200).
    pub max_tokens: u32,
    /// How long a prompt whose call failed is not asked again, by any worker
    /// (`CODERIPPLE_WRITER_RETRY_AFTER_SECS`, default an hour; 0: the next change set asks).
    pub retry_after: Duration,
}

impl Default for WriterLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(20),
            daily_tokens: 200_000,
            daily_tokens_total: 2_000_000,
            max_calls: 8,
            pause: Duration::from_secs(60),
            max_tokens: 200,
            retry_after: Duration::from_secs(3600),
        }
    }
}
