//! The embedded backend's periodic sweep, run by `up` and `worker`: expired delivery records,
//! cache entries and queue dedup ids, and claim-check files no message refers to
//! ([`coderipple_core::sqlite::sweep`]). Every `CODERIPPLE_SWEEP_EVERY_SECS` (600; 0: never).

use std::time::Duration;

use coderipple_core::sqlite::sweep::sweep;
use tokio_util::sync::CancellationToken;

use coderipple_core::backend::Embedded;

/// Rows deleted per write: small enough that ingest never waits long for the writer.
const CHUNK: usize = 500;
const DEFAULT_EVERY: Duration = Duration::from_secs(600);

/// How often to sweep, from `CODERIPPLE_SWEEP_EVERY_SECS`.
pub fn every_from_env() -> anyhow::Result<Duration> {
    match std::env::var("CODERIPPLE_SWEEP_EVERY_SECS") {
        Err(_) => Ok(DEFAULT_EVERY),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| {
                anyhow::anyhow!(
                    "CODERIPPLE_SWEEP_EVERY_SECS must be a whole number of seconds, got {v:?}"
                )
            }),
    }
}

/// Sweeps every `every` until `cancel` fires (the first sweep after a few seconds).
pub async fn run(parts: Embedded, every: Duration, cancel: CancellationToken) {
    if every.is_zero() {
        return;
    }
    let mut wait = every.min(Duration::from_secs(5));
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        wait = every;
        match sweep(&parts.db, &parts.payloads_dir(), CHUNK).await {
            Ok(swept) => tracing::info!(
                deliveries = swept.deliveries,
                cache = swept.cache,
                dedup = swept.dedup,
                blobs = swept.blobs,
                "swept expired data"
            ),
            Err(e) => tracing::warn!(error = %e, "sweep failed; trying again next time"),
        }
    }
}
