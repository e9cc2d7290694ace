//! What recovery remembers between runs: the redeliveries it asked GitHub for, so one GUID is
//! asked for once, and which statuses mean ingest refused a delivery on purpose.
//!
//! Records, all living [`ASK_TTL`] (GitHub lists a delivery for three days after its newest
//! attempt, and a redelivery is an attempt):
//! - the counter `recover-ask#<guid>#<n>`: the claim of the ask, taken atomically before
//!   GitHub is asked, so two runs at once (the schedule, a gap's recovery, `coderipple
//!   recover`) ask once between them; `n` is the number of asks GitHub refused before;
//! - the cache record `recover-asked#<guid>`: the ask GitHub accepted (read by a dry run,
//!   which writes nothing);
//! - the cache record `recover-refused#<guid>`: how many asks GitHub refused. A refused ask did
//!   not happen: the next run claims the next `n` and asks again.

use std::time::Duration;

use coderipple_core::store::Store;
use serde_json::json;

use coderipple_core::WorkerError;

/// How long an ask is remembered: GitHub's three days of deliveries, and a day's margin.
pub const ASK_TTL: Duration = Duration::from_secs(4 * 24 * 3600);

/// Whether an attempt's `status` is ingest refusing the delivery on purpose (any `4xx` but
/// `408`, a body that came too slowly, and `429`, too many requests): the same body would be
/// refused again. `5xx` and `0` (no answer in time) are failures worth another try.
pub fn refused(status: u64) -> Option<u16> {
    match status {
        408 | 429 => None,
        400..=499 => u16::try_from(status).ok(),
        _ => None,
    }
}

/// Whether GitHub accepted an ask for `guid` before.
pub async fn asked(store: &dyn Store, guid: &str) -> Result<bool, WorkerError> {
    Ok(store
        .cache_get(&format!("recover-asked#{guid}"))
        .await?
        .is_some())
}

/// A claim to ask for `guid`'s redelivery now: `None` when another run holds it (it asked, or
/// is asking). The claim is given back with [`refused_ask`].
pub async fn claim(store: &dyn Store, guid: &str) -> Result<Option<u64>, WorkerError> {
    let refusals = store
        .cache_get(&format!("recover-refused#{guid}"))
        .await?
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    let takers = store
        .counter_add(&format!("recover-ask#{guid}#{refusals}"), 1, ASK_TTL)
        .await?;
    Ok((takers == 1).then_some(refusals))
}

/// GitHub accepted the ask for `guid` (`attempt` redelivered).
pub async fn accepted(store: &dyn Store, guid: &str, attempt: u64) -> Result<(), WorkerError> {
    let record = json!({"attempt": attempt, "at_ms": coderipple_core::time::now_ms()});
    store
        .cache_put(&format!("recover-asked#{guid}"), &record, ASK_TTL)
        .await?;
    Ok(())
}

/// GitHub refused the ask made under `claim`: the next run may ask again.
pub async fn refused_ask(store: &dyn Store, guid: &str, claim: u64) -> Result<(), WorkerError> {
    store
        .cache_put(
            &format!("recover-refused#{guid}"),
            &json!(claim + 1),
            ASK_TTL,
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliberate_refusals_are_told_from_failures() {
        for status in [400, 401, 403, 404, 413, 415, 422] {
            assert_eq!(refused(status), Some(status as u16), "{status}");
        }
        for status in [0, 200, 202, 302, 408, 429, 500, 502, 503, 504] {
            assert_eq!(refused(status), None, "{status}");
        }
    }
}
