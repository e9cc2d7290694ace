//! Recovery on a schedule (`up`, `worker`): `CODERIPPLE_RECOVER_EVERY` and
//! `CODERIPPLE_RECOVER_HOOKS`, and the durations they are written in.

use std::sync::Arc;
use std::time::Duration;

use coderipple_core::metrics::Metrics;
use coderipple_core::store::Store;

use super::{RepoHook, recover};
use crate::client::GitHubApi;
use coderipple_core::WorkerError;

/// How far back the first scheduled run looks (GitHub keeps deliveries three days): it
/// catches up on whatever was missed while nothing was running.
pub const FIRST_WINDOW: Duration = Duration::from_secs(72 * 3600);

/// Recovery every `every` until `cancel` (run by `up` when GitHub credentials
/// are set; on AWS, the `recover` role on a schedule). The first run looks back
/// [`FIRST_WINDOW`], later ones an hour plus two periods. A failed run is logged and tried
/// again next time.
pub async fn run_every(
    api: Arc<GitHubApi>,
    store: Arc<dyn Store>,
    hooks: Vec<RepoHook>,
    every: Duration,
    metrics: Metrics,
    cancel: tokio_util::sync::CancellationToken,
) {
    if every.is_zero() {
        return;
    }
    let mut window = FIRST_WINDOW;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(e) = recover(&api, &*store, &hooks, window, false, &metrics).await {
            tracing::warn!(error = %e, "recovery run failed; trying again next time");
            continue;
        }
        window = Duration::from_secs(3600) + every * 2;
    }
}

/// `CODERIPPLE_RECOVER_EVERY` (default 10 minutes; `0` turns it off) and
/// `CODERIPPLE_RECOVER_HOOKS` (`owner/repo:ID,…`).
pub fn schedule_from_env(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(Duration, Vec<RepoHook>), WorkerError> {
    let every = match lookup("CODERIPPLE_RECOVER_EVERY") {
        Some(raw) => parse_duration(&raw).ok_or_else(|| WorkerError::Permanent {
            class: "config",
            reason: format!("CODERIPPLE_RECOVER_EVERY must be a duration (10m, 600), got {raw:?}"),
        })?,
        None => Duration::from_secs(600),
    };
    let hooks = lookup("CODERIPPLE_RECOVER_HOOKS")
        .unwrap_or_default()
        .split(',')
        .filter(|h| !h.trim().is_empty())
        .map(RepoHook::parse)
        .collect::<Result<_, _>>()?;
    Ok((every, hooks))
}

/// A duration as `90`, `90s`, `10m`, `72h` or `3d`.
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let (digits, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let n: u64 = digits.parse().ok()?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_duration("72h"), Some(Duration::from_secs(72 * 3600)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("600"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("3d"), Some(Duration::from_secs(3 * 86_400)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("5w"), None);
    }
}
