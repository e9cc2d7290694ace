//! Missed-delivery recovery. GitHub never redelivers a failed webhook delivery by itself
//! (only by hand, or through its REST API, for the last three days), so every `503`, timeout
//! or restart on our side would lose that event for good. Recovery asks GitHub which
//! deliveries it made — the GitHub App's webhook (`GET /app/hook/deliveries`, with the App's
//! JWT) and any configured repository hooks (`GET /repos/{o}/{r}/hooks/{id}/deliveries`) —
//! following the cursor pagination back to `since`, and for each delivery GUID that
//! - the store holds a claim for: already had (nothing to do) — unless the claim is still
//!   `received` after [`RECEIVED_GRACE`] and GitHub got no `2xx` (ingest stored the claim,
//!   its send to the queue failed, it answered `5xx`): **stuck**, redelivered like a missing
//!   one, and ingest, finding a claim not known to be queued, queues it;
//! - GitHub got a `2xx` for in some attempt: delivered (its claim may have expired);
//! - otherwise: **missing**, and asks GitHub to redeliver it (`POST …/deliveries/{id}/attempts`).
//!   The redelivery keeps the GUID, so dedup and idempotency hold; it arrives at ingest like
//!   any delivery.
//!
//! A missing or stuck GUID is not asked for when an attempt shows ingest refused it on
//! purpose (a `4xx` but `408` and `429`: a bad signature, a body over the limit — Lambda's
//! `413` over 6 MB — a content type): it is reported *not redeliverable* with that status, as
//! a redelivery would be refused again and, being a new attempt, keep it in the window forever.
//! And a GUID is asked for once, ever: the ask is recorded in the store (see `asks.rs`) and a
//! redelivery that fails again is reported *asked before*, not asked again on every run. An ask
//! GitHub itself refused did not happen, and is made again by the next run.
//!
//! A dry run lists what it would redeliver and changes nothing.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use coderipple_core::metrics::{MetricSet, Metrics};
use coderipple_core::store::{DeliveryStatus, Store};
use serde::Serialize;

use crate::client::GitHubApi;
use coderipple_core::WorkerError;

mod asks;
mod schedule;
mod source;

pub use asks::ASK_TTL;

pub use schedule::{FIRST_WINDOW, parse_duration, run_every, schedule_from_env};
pub use source::RepoHook;
use source::Source;

/// Pages read per source at most (100 deliveries each).
const MAX_PAGES: usize = 50;

/// What one recovery run found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecoveryReport {
    /// The hooks read (`app`, `owner/repo:ID`).
    pub sources: Vec<String>,
    /// Distinct delivery GUIDs listed within the window.
    pub found: usize,
    /// GUIDs the store holds a claim for.
    pub already_had: usize,
    /// GUIDs GitHub got a `2xx` for (no claim: it expired, or the event was not stored).
    pub delivered: usize,
    /// GUIDs neither stored nor answered `2xx`: the missed deliveries.
    pub missing: Vec<String>,
    /// GUIDs claimed but never queued (still `received` after the grace, no `2xx`); they are
    /// redelivered too.
    #[serde(default)]
    pub stuck: Vec<String>,
    /// Missing or stuck GUIDs whose redelivery GitHub accepted now.
    pub redelivered: Vec<String>,
    /// Missing or stuck GUIDs whose redelivery GitHub refused, with the reason (asked again
    /// by the next run).
    pub failed: Vec<(String, String)>,
    /// Missed GUIDs ingest refused on purpose (a `4xx` other than `408` and `429` in an
    /// attempt: a signature, a body over the size limit, a content type), with the newest such
    /// status: never redelivered, as a redelivery would be refused again.
    #[serde(default)]
    pub not_redeliverable: Vec<(String, u16)>,
    /// Missed GUIDs whose redelivery was asked for before (by an earlier run, or another run
    /// now): never asked for twice.
    #[serde(default)]
    pub asked_before: Vec<String>,
    /// Nothing was redelivered (`--dry-run`).
    pub dry_run: bool,
}

/// One GUID's attempts, as listed.
struct Attempts {
    /// The newest attempt's id (what a redelivery names).
    latest: u64,
    /// Whether any attempt got a `2xx`.
    answered_ok: bool,
    /// The newest status of an attempt ingest refused on purpose (see [`asks::refused`]).
    refused: Option<u16>,
}

/// How long a claim may stay `received` (ingest is between its claim and its send) before
/// recovery calls it stuck.
pub const RECEIVED_GRACE: Duration = Duration::from_secs(300);

/// Runs one recovery over the App's hook (when `api` is a GitHub App's) and `hooks`, back to
/// `since` ago. A source that cannot be read fails the run (after the others were tried).
pub async fn recover(
    api: &GitHubApi,
    store: &dyn Store,
    hooks: &[RepoHook],
    since: Duration,
    dry_run: bool,
    metrics: &Metrics,
) -> Result<RecoveryReport, WorkerError> {
    recover_with_grace(api, store, hooks, since, dry_run, metrics, RECEIVED_GRACE).await
}

/// [`recover`], calling a claim stuck once it stayed `received` for `grace`.
#[tracing::instrument(skip_all, fields(dry_run))]
pub async fn recover_with_grace(
    api: &GitHubApi,
    store: &dyn Store,
    hooks: &[RepoHook],
    since: Duration,
    dry_run: bool,
    metrics: &Metrics,
    grace: Duration,
) -> Result<RecoveryReport, WorkerError> {
    let cutoff = Utc::now() - chrono::Duration::from_std(since).unwrap_or_default();
    let mut sources: Vec<Source> = Vec::new();
    if api.is_app() {
        sources.push(Source::App);
    }
    sources.extend(hooks.iter().map(Source::Repo));
    let mut report = RecoveryReport {
        dry_run,
        ..RecoveryReport::default()
    };
    let mut first_error = None;
    for source in &sources {
        report.sources.push(source.name());
        let run = Run {
            cutoff,
            dry_run,
            grace,
        };
        if let Err(e) = recover_source(api, store, source, &run, &mut report).await {
            tracing::warn!(source = %source.name(), error = %e, "deliveries not recovered");
            first_error.get_or_insert(e);
        }
    }
    let mut m = MetricSet::for_function("recover");
    m.count(
        "DeliveriesMissing",
        (report.missing.len() + report.stuck.len()) as u64,
    );
    m.count("DeliveriesRecovered", report.redelivered.len() as u64);
    m.count(
        "DeliveriesNotRedeliverable",
        report.not_redeliverable.len() as u64,
    );
    metrics.emit(&m);
    tracing::info!(
        found = report.found,
        already_had = report.already_had,
        missing = report.missing.len(),
        stuck = report.stuck.len(),
        redelivered = report.redelivered.len(),
        not_redeliverable = report.not_redeliverable.len(),
        asked_before = report.asked_before.len(),
        failed = report.failed.len(),
        "recovery run"
    );
    match first_error {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// One run's limits.
struct Run {
    cutoff: DateTime<Utc>,
    dry_run: bool,
    grace: Duration,
}

async fn recover_source(
    api: &GitHubApi,
    store: &dyn Store,
    source: &Source<'_>,
    run: &Run,
    report: &mut RecoveryReport,
) -> Result<(), WorkerError> {
    let (cutoff, dry_run) = (run.cutoff, run.dry_run);
    // GUID → its attempts; `order` keeps the GUIDs oldest first, so redeliveries are asked
    // for in the order GitHub first sent them.
    let mut seen: HashMap<String, Attempts> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = source.page(api, cursor.as_deref()).await?;
        let items = page.items.as_array().cloned().unwrap_or_default();
        let mut past_window = false;
        for item in &items {
            let at = item["delivered_at"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            if at.is_some_and(|at| at < cutoff) {
                past_window = true;
                continue;
            }
            let (Some(guid), Some(id)) = (item["guid"].as_str(), item["id"].as_u64()) else {
                continue;
            };
            let status = item["status_code"].as_u64().unwrap_or(0);
            let ok = (200..300).contains(&status);
            // Newest first: the first refusal met is the newest.
            let refused = asks::refused(status);
            match seen.get_mut(guid) {
                Some(a) => {
                    a.answered_ok |= ok;
                    a.refused = a.refused.or(refused);
                }
                None => {
                    order.push(guid.to_owned());
                    seen.insert(
                        guid.to_owned(),
                        Attempts {
                            latest: id,
                            answered_ok: ok,
                            refused,
                        },
                    );
                }
            }
        }
        cursor = page.next_cursor;
        if past_window || cursor.is_none() || items.is_empty() {
            break;
        }
    }
    report.found += order.len();
    for guid in order.iter().rev() {
        let attempts = &seen[guid];
        let stuck_since = coderipple_core::time::now_ms() - run.grace.as_millis() as i64;
        match store.delivery(guid).await? {
            Some(record)
                if record.status == DeliveryStatus::Received
                    && record.updated_at_ms <= stuck_since
                    && !attempts.answered_ok =>
            {
                report.stuck.push(guid.clone());
            }
            Some(_) => {
                report.already_had += 1;
                continue;
            }
            None if attempts.answered_ok => {
                report.delivered += 1;
                continue;
            }
            None => report.missing.push(guid.clone()),
        }
        if let Some(status) = attempts.refused {
            tracing::info!(delivery = %guid, status, "not redeliverable: ingest refused it");
            report.not_redeliverable.push((guid.clone(), status));
            continue;
        }
        if asks::asked(store, guid).await? {
            report.asked_before.push(guid.clone());
            continue;
        }
        if dry_run {
            continue;
        }
        let Some(claim) = asks::claim(store, guid).await? else {
            // Another run asked (and has not recorded it yet), or is asking now.
            report.asked_before.push(guid.clone());
            continue;
        };
        match source.redeliver(api, attempts.latest).await {
            Ok(()) => {
                tracing::info!(delivery = %guid, "redelivery requested");
                report.redelivered.push(guid.clone());
                if let Err(e) = asks::accepted(store, guid, attempts.latest).await {
                    // The claim stays: no run asks again, a dry run just cannot tell.
                    tracing::warn!(delivery = %guid, error = %e, "redelivery ask not recorded");
                }
            }
            Err(e) => {
                tracing::warn!(delivery = %guid, error = %e, "redelivery refused");
                report.failed.push((guid.clone(), e.to_string()));
                asks::refused_ask(store, guid, claim).await?;
            }
        }
    }
    Ok(())
}
