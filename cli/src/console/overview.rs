//! The overview: queue and DLQ depth, deliveries by status, parked repositories, history gaps
//! and pending publishes, the last hour's throughput and latency (server-drawn SVG), and the
//! recent failures. `/ui/live` serves the same content alone; the page's script swaps it in
//! every few seconds. The content is gathered at most every [`FRESH`] whatever the number of
//! open tabs, and never reads the DLQ's messages (on SQS a read holds them for a moment, which
//! a replay running at the same time would trip over): recent failures come from the store.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use coderipple_core::queue::QueueStats;
use coderipple_core::store::{
    DeliveryQuery, DeliveryRecord, DeliveryStatus, HistoryGap, MAX_PAGE, ParkedRepo, PendingPublish,
};
use maud::{Markup, PreEscaped, html};

use super::{Shared, layout};

const BUCKETS: usize = 12;
/// How long gathered content is served again.
const FRESH: std::time::Duration = std::time::Duration::from_secs(5);
const BUCKET_MS: i64 = 5 * 60 * 1000;

struct Overview {
    queue: QueueStats,
    dlq: QueueStats,
    counts: BTreeMap<String, u64>,
    parked: Vec<ParkedRepo>,
    gaps: Vec<HistoryGap>,
    pending: Vec<PendingPublish>,
    hour: Vec<DeliveryRecord>,
    failures: Vec<DeliveryRecord>,
}

async fn gather(console: &super::Console) -> anyhow::Result<Overview> {
    let b = &console.backend;
    let hour_ago = coderipple_core::time::now_ms() - BUCKETS as i64 * BUCKET_MS;
    let hour = DeliveryQuery {
        since_ms: Some(hour_ago),
        limit: MAX_PAGE,
        ..DeliveryQuery::default()
    };
    let failed = DeliveryQuery {
        status: Some(DeliveryStatus::Failed),
        limit: 10,
        ..DeliveryQuery::default()
    };
    let (queue, dlq, counts, parked, gaps, pending, hour, failures) = tokio::try_join!(
        b.queue.stats(),
        b.dlq.stats(),
        b.store.delivery_counts(),
        b.store.parked_repos(),
        b.store.history_gaps(),
        b.store.pending_publishes(),
        b.store.list_deliveries(&hour),
        b.store.list_deliveries(&failed),
    )?;
    Ok(Overview {
        queue,
        dlq,
        counts,
        parked,
        gaps,
        pending,
        hour,
        failures,
    })
}

/// The overview's content, gathered again when older than [`FRESH`].
async fn current(console: &super::Console) -> Result<String, anyhow::Error> {
    let mut cached = console.overview.lock().await;
    if let Some((at, html)) = cached.as_ref()
        && at.elapsed() < FRESH
    {
        return Ok(html.clone());
    }
    let html = content(&gather(console).await?).into_string();
    *cached = Some((std::time::Instant::now(), html.clone()));
    Ok(html)
}

pub async fn page(State(console): State<Shared>) -> Response {
    let (status, content) = match current(&console).await {
        Ok(html) => (StatusCode::OK, PreEscaped(html)),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, layout::banner(&e)),
    };
    let body = html! {
        h1 { "Overview" }
        div #live data-refresh="/ui/live" aria-live="polite" { (content) }
    };
    (status, layout::page("Overview", "/ui", body)).into_response()
}

/// The overview's content alone (what the page's script swaps in).
pub async fn live(State(console): State<Shared>) -> Response {
    match current(&console).await {
        Ok(html) => Html(html).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(layout::banner(&e).into_string()),
        )
            .into_response(),
    }
}

fn content(o: &Overview) -> Markup {
    let count = |s: DeliveryStatus| o.counts.get(s.as_str()).copied().unwrap_or(0);
    html! {
        section.cards aria-label="Counts" {
            div.card { span.n #queue-visible { (o.queue.visible) } span { "queued" } }
            div.card { span.n #queue-in-flight { (o.queue.in_flight) } span { "in flight" } }
            div.card { span.n #dlq-depth { (o.dlq.visible + o.dlq.in_flight) } a href="/ui/dlq" { "in the DLQ" } }
            div.card { span.n #completed { (count(DeliveryStatus::Completed)) } span { "completed" } }
            div.card { span.n #failed { (count(DeliveryStatus::Failed)) } span { "failed" } }
        }
        h2 { "Deliveries by status" }
        table {
            thead { tr { th scope="col" { "Status" } th scope="col" { "Deliveries" } } }
            tbody {
                @for (status, n) in &o.counts {
                    tr {
                        td { a href={"/ui/deliveries?status=" (layout::enc(status))} { (status) } }
                        td.num { (n) }
                    }
                }
            }
        }
        (chart(&o.hour))
        @if !o.parked.is_empty() {
            h2 { "Parked repositories" }
            ul {
                @for p in &o.parked {
                    li { a href={"/ui/repos/" (p.repo)} { (p.repo) } " behind " code { (p.head) } " — " (p.reason) }
                }
            }
        }
        @if !o.gaps.is_empty() {
            h2 { "Open history gaps" }
            ul {
                @for g in &o.gaps {
                    li { a href={"/ui/repos/" (g.repo)} { (g.repo) } " — wait ends " (layout::time(g.due_ms)) }
                }
            }
        }
        @if !o.pending.is_empty() {
            h2 { "Docs not yet published" }
            ul {
                @for p in &o.pending {
                    li { a href={"/ui/repos/" (p.repo)} { (p.repo) } " — " (p.attempts) " attempt(s): " (p.reason) }
                }
            }
        }
        h2 { "Recent failures" }
        @if o.failures.is_empty() {
            p { "None." }
        } @else {
            table {
                thead { tr { th scope="col" { "Delivery" } th scope="col" { "Repository" } th scope="col" { "Class" } th scope="col" { "Reason" } th scope="col" { "When (UTC)" } } }
                tbody {
                    @for f in &o.failures {
                        @let detail = f.detail.as_ref();
                        @let text = |k: &str| detail.and_then(|d| d[k].as_str()).unwrap_or("").to_owned();
                        tr {
                            td { a href={"/ui/deliveries/" (layout::enc(&f.id))} { (f.id) } }
                            td { (f.repo.as_deref().unwrap_or("")) }
                            td { span.badge { (text("error_class")) } }
                            td.reason { (text("reason")) }
                            td { (layout::time(f.updated_at_ms)) }
                        }
                    }
                }
            }
        }
    }
}

/// Completed deliveries per five minutes over the last hour, and their end-to-end latency.
fn chart(hour: &[DeliveryRecord]) -> Markup {
    let now = coderipple_core::time::now_ms();
    let start = now - BUCKETS as i64 * BUCKET_MS;
    let mut done = [0u64; BUCKETS];
    let mut latencies: Vec<i64> = Vec::new();
    for r in hour
        .iter()
        .filter(|r| r.status == DeliveryStatus::Completed)
    {
        let i = ((r.updated_at_ms - start) / BUCKET_MS).clamp(0, BUCKETS as i64 - 1) as usize;
        done[i] += 1;
        // Only the summary's `received_at` (see `ProcessingSummary`): no copy of the whole
        // summary per delivery.
        let received = r
            .detail
            .as_ref()
            .and_then(|d| d.get("received_at")?.as_str())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        if let Some(t) = received {
            latencies.push((r.updated_at_ms - t.timestamp_millis()).max(0));
        }
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .map_or("–".to_owned(), |ms| {
                format!("{:.2} s", *ms as f64 / 1000.0)
            })
    };
    let total: u64 = done.iter().sum();
    let max = done.iter().copied().max().unwrap_or(0).max(1);
    let (w, h, bar) = (360.0, 90.0, 360.0 / BUCKETS as f64);
    html! {
        h2 { "Last hour" }
        p #hour-summary {
            (total) " completed"
            @if hour.len() >= MAX_PAGE { " (at least; the newest " (MAX_PAGE) " changes counted)" }
            "; end-to-end latency p50 " (pct(0.5)) ", p95 " (pct(0.95)) "."
        }
        svg.chart viewBox={"0 0 " (w) " " (h + 14.0)} role="img" aria-labelledby="chart-title" {
            title #chart-title { "Completed deliveries per 5 minutes, last hour: " (total) " in all" }
            @for (i, n) in done.iter().enumerate() {
                @let bh = (*n as f64 / max as f64) * h;
                rect x=(i as f64 * bar + 2.0) y=(h - bh) width=(bar - 4.0) height=(bh) {
                    title { (n) " completed, " ((BUCKETS - i) * 5) "–" ((BUCKETS - i - 1) * 5) " min ago" }
                }
            }
            line x1="0" y1=(h) x2=(w) y2=(h) {}
            text x="0" y=(h + 12.0) { "−60 min" }
            text x=(w) y=(h + 12.0) text-anchor="end" { "now" }
        }
    }
}
