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
//! - otherwise: **missing**, and asks GitHub to redeliver it (`POST …/deliveries/{id}/attempts`)
//!   once per run. The redelivery keeps the GUID, so dedup and idempotency hold; it arrives at
//!   ingest like any delivery.
//!
//! A dry run lists what it would redeliver and changes nothing.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use coderipple_core::metrics::{MetricSet, Metrics};
use coderipple_core::store::{DeliveryStatus, Store};
use serde::Serialize;

use crate::WorkerError;
use crate::github::{GitHubApi, Method, Page};

/// Pages read per source at most (100 deliveries each).
const MAX_PAGES: usize = 50;

/// A repository or organisation webhook whose deliveries are checked too
/// (`owner/repo:HOOK_ID` or `org:HOOK_ID`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoHook {
    /// `owner/repo`, or an organisation's login.
    pub repo: String,
    /// The hook's id.
    pub id: u64,
}

impl RepoHook {
    /// Parses `owner/repo:ID` or `org:ID`.
    pub fn parse(spec: &str) -> Result<Self, WorkerError> {
        let bad = || WorkerError::Permanent {
            class: "config",
            reason: format!("a webhook is `owner/repo:HOOK_ID` or `org:HOOK_ID`, got {spec:?}"),
        };
        let (owner, id) = spec.trim().rsplit_once(':').ok_or_else(bad)?;
        let valid = if owner.contains('/') {
            coderipple_core::webhook::validate_repo(owner).is_ok()
        } else {
            is_login(owner)
        };
        if !valid {
            return Err(bad());
        }
        Ok(Self {
            repo: owner.to_owned(),
            id: id.parse().map_err(|_| bad())?,
        })
    }

    /// Whether it is an organisation's hook.
    pub fn is_org(&self) -> bool {
        !self.repo.contains('/')
    }

    /// Where its deliveries are listed: `/repos/{o}/{r}/hooks/{id}` or `/orgs/{org}/hooks/{id}`.
    fn base(&self) -> String {
        if self.is_org() {
            format!("/orgs/{}/hooks/{}", self.repo, self.id)
        } else {
            format!("/repos/{}/hooks/{}", self.repo, self.id)
        }
    }
}

/// A GitHub login: letters, digits and single hyphens, at most 39, not starting or ending
/// with a hyphen.
fn is_login(name: &str) -> bool {
    (1..=39).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

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
    /// Missing GUIDs whose redelivery GitHub accepted.
    pub redelivered: Vec<String>,
    /// Missing GUIDs whose redelivery failed, with the reason.
    pub failed: Vec<(String, String)>,
    /// Nothing was redelivered (`--dry-run`).
    pub dry_run: bool,
}

/// Where deliveries are listed and redelivered.
enum Source<'a> {
    App,
    Repo(&'a RepoHook),
}

impl Source<'_> {
    fn name(&self) -> String {
        match self {
            Self::App => "app".into(),
            Self::Repo(h) => format!("{}:{}", h.repo, h.id),
        }
    }

    async fn page(&self, api: &GitHubApi, cursor: Option<&str>) -> Result<Page, WorkerError> {
        // (The serializer is not `Send`: it must be gone before the first await.)
        let query = {
            let mut q = form_urlencoded::Serializer::new(String::new());
            q.append_pair("per_page", "100");
            if let Some(c) = cursor {
                q.append_pair("cursor", c);
            }
            q.finish()
        };
        match self {
            Self::App => {
                api.app_get_page(&format!("/app/hook/deliveries?{query}"))
                    .await
            }
            Self::Repo(h) => {
                let path = format!("{}/deliveries?{query}", h.base());
                api.get_page(&h.repo, &path).await
            }
        }
    }

    async fn redeliver(&self, api: &GitHubApi, id: u64) -> Result<(), WorkerError> {
        match self {
            Self::App => {
                api.app_post(&format!("/app/hook/deliveries/{id}/attempts"), None)
                    .await?;
            }
            Self::Repo(h) => {
                let path = format!("{}/deliveries/{id}/attempts", h.base());
                api.send(&h.repo, Method::POST, &path, None)
                    .await?
                    .map_err(|r| r.into_error(&h.repo))?;
            }
        }
        Ok(())
    }
}

/// One GUID's attempts, as listed.
struct Attempts {
    /// The newest attempt's id (what a redelivery names).
    latest: u64,
    /// Whether any attempt got a `2xx`.
    answered_ok: bool,
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
    metrics.emit(&m);
    tracing::info!(
        found = report.found,
        already_had = report.already_had,
        missing = report.missing.len(),
        stuck = report.stuck.len(),
        redelivered = report.redelivered.len(),
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
            let ok = item["status_code"]
                .as_u64()
                .is_some_and(|c| (200..300).contains(&c));
            match seen.get_mut(guid) {
                Some(a) => a.answered_ok |= ok,
                None => {
                    order.push(guid.to_owned());
                    seen.insert(
                        guid.to_owned(),
                        Attempts {
                            latest: id,
                            answered_ok: ok,
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
        if dry_run {
            continue;
        }
        match source.redeliver(api, attempts.latest).await {
            Ok(()) => {
                tracing::info!(delivery = %guid, "redelivery requested");
                report.redelivered.push(guid.clone());
            }
            Err(e) => {
                tracing::warn!(delivery = %guid, error = %e, "redelivery refused");
                report.failed.push((guid.clone(), e.to_string()));
            }
        }
    }
    Ok(())
}

/// How far back the first scheduled run looks (GitHub keeps deliveries three days): it
/// catches up on whatever was missed while nothing was running.
pub const FIRST_WINDOW: Duration = Duration::from_secs(72 * 3600);

/// Recovery every `every` until `cancel` (run by `up` when GitHub credentials
/// are set; on AWS, the `recover` role on a schedule). The first run looks back
/// [`FIRST_WINDOW`], later ones an hour plus two periods. A failed run is logged and tried
/// again next time.
pub async fn run_every(
    api: std::sync::Arc<GitHubApi>,
    store: std::sync::Arc<dyn Store>,
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
    fn durations_and_hooks_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_duration("72h"), Some(Duration::from_secs(72 * 3600)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("600"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("3d"), Some(Duration::from_secs(3 * 86_400)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("5w"), None);
        assert_eq!(
            RepoHook::parse("o/r:42").unwrap(),
            RepoHook {
                repo: "o/r".into(),
                id: 42
            }
        );
        let org = RepoHook::parse("acme-corp:7").unwrap();
        assert!(org.is_org() && !RepoHook::parse("o/r:1").unwrap().is_org());
        assert_eq!(org.base(), "/orgs/acme-corp/hooks/7");
        for bad in [
            "o/r", "o/r:x", "../x:1", ":1", "-acme:1", "ac me:1", "a--b:1", "o/:1",
        ] {
            assert!(RepoHook::parse(bad).is_err(), "{bad}");
        }
    }
}
