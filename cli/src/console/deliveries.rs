//! Deliveries: newest first, filtered by repository, status, event and time, paged by
//! cursor; and one delivery's processing summary.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use coderipple_core::store::{DeliveryQuery, DeliveryRecord, DeliveryStatus, ProcessingSummary};
use maud::{Markup, html};
use serde::Deserialize;

use super::{Shared, layout};

const PAGE: usize = 50;
const STATUSES: [DeliveryStatus; 6] = [
    DeliveryStatus::Received,
    DeliveryStatus::Queued,
    DeliveryStatus::InProgress,
    DeliveryStatus::Completed,
    DeliveryStatus::Failed,
    DeliveryStatus::Ignored,
];
const SINCE: [(&str, &str, i64); 4] = [
    ("", "any time", 0),
    ("1h", "last hour", 3_600_000),
    ("24h", "last day", 86_400_000),
    ("7d", "last week", 7 * 86_400_000),
];

#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    #[serde(default)]
    repo: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    event: String,
    #[serde(default)]
    since: String,
    /// `<updated_at_ms>:<id>` of the previous page's last row.
    #[serde(default)]
    before: String,
}

impl Filter {
    fn query(&self) -> Result<DeliveryQuery, String> {
        let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        let status = match some(&self.status) {
            None => None,
            Some(s) => Some(DeliveryStatus::parse(&s).ok_or(format!("unknown status {s:?}"))?),
        };
        let since_ms = match SINCE.iter().find(|(k, _, _)| *k == self.since) {
            Some((_, _, 0)) => None,
            Some((_, _, span)) => Some(coderipple_core::time::now_ms() - span),
            None => return Err(format!("unknown time span {:?}", self.since)),
        };
        let before = match some(&self.before) {
            None => None,
            Some(b) => {
                let (at, id) = b.split_once(':').ok_or("malformed page cursor")?;
                Some((
                    at.parse().map_err(|_| "malformed page cursor")?,
                    id.to_owned(),
                ))
            }
        };
        Ok(DeliveryQuery {
            repo: some(&self.repo),
            status,
            event: some(&self.event),
            since_ms,
            before,
            limit: PAGE,
        })
    }

    fn next_page(&self, last: &DeliveryRecord) -> String {
        let enc = layout::enc;
        format!(
            "/ui/deliveries?repo={}&status={}&event={}&since={}&before={}",
            enc(&self.repo),
            enc(&self.status),
            enc(&self.event),
            enc(&self.since),
            enc(&format!("{}:{}", last.updated_at_ms, last.id))
        )
    }
}

fn form(f: &Filter) -> Markup {
    html! {
        form.filters method="get" action="/ui/deliveries" {
            label { "Repository " input type="text" name="repo" value=(f.repo) placeholder="owner/name"; }
            label { "Status "
                select name="status" {
                    option value="" { "any" }
                    @for s in STATUSES {
                        option value=(s.as_str()) selected[f.status == s.as_str()] { (s.as_str()) }
                    }
                }
            }
            label { "Event " input type="text" name="event" value=(f.event) placeholder="push"; }
            label { "Changed "
                select name="since" {
                    @for (k, label, _) in SINCE {
                        option value=(k) selected[f.since == k] { (label) }
                    }
                }
            }
            button type="submit" { "Filter" }
        }
    }
}

pub async fn list(State(console): State<Shared>, Query(f): Query<Filter>) -> Response {
    let query = match f.query() {
        Ok(q) => q,
        Err(e) => {
            let body = html! { h1 { "Deliveries" } (form(&f)) p.banner role="alert" { (e) } };
            return (
                StatusCode::BAD_REQUEST,
                layout::page("Deliveries", "/ui/deliveries", body),
            )
                .into_response();
        }
    };
    let rows = match console.backend.store.list_deliveries(&query).await {
        Ok(rows) => rows,
        Err(e) => return layout::backend_error("Deliveries", "/ui/deliveries", &e.into()),
    };
    let body = html! {
        h1 { "Deliveries" }
        (form(&f))
        @if rows.is_empty() {
            p { "No delivery matches." }
        } @else {
            table #deliveries {
                thead { tr {
                    th scope="col" { "Delivery" } th scope="col" { "Repository" } th scope="col" { "Event" }
                    th scope="col" { "Status" } th scope="col" { "Attempts" } th scope="col" { "Changed (UTC)" }
                } }
                tbody {
                    @for r in &rows {
                        tr {
                            td { a href={"/ui/deliveries/" (layout::enc(&r.id))} { (r.id) } }
                            td { (r.repo.as_deref().unwrap_or("")) }
                            td { (r.event.as_deref().unwrap_or("")) }
                            td { span.badge.(r.status.as_str()) { (r.status.as_str()) } }
                            td.num { (r.attempts) }
                            td { (layout::time(r.updated_at_ms)) }
                        }
                    }
                }
            }
            @if rows.len() == PAGE {
                @if let Some(last) = rows.last() {
                    p { a rel="next" href=(f.next_page(last)) { "Older deliveries →" } }
                }
            }
        }
    };
    layout::page("Deliveries", "/ui/deliveries", body).into_response()
}

pub async fn detail(State(console): State<Shared>, Path(id): Path<String>) -> Response {
    let record = match console.backend.store.delivery(&id).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            let body = html! { h1 { "Delivery" } p { "No record of delivery " code { (id) } "." } };
            return (
                StatusCode::NOT_FOUND,
                layout::page("Delivery", "/ui/deliveries", body),
            )
                .into_response();
        }
        Err(e) => return layout::backend_error("Delivery", "/ui/deliveries", &e.into()),
    };
    let summary = record
        .detail
        .as_ref()
        .filter(|_| record.status == DeliveryStatus::Completed)
        .and_then(|d| serde_json::from_value::<ProcessingSummary>(d.clone()).ok());
    let body = html! {
        h1 { "Delivery " code { (record.id) } }
        dl.facts {
            dt { "Status" } dd #status { span.badge.(record.status.as_str()) { (record.status.as_str()) } }
            dt { "Repository" } dd {
                @if let Some(repo) = &record.repo { a href={"/ui/repos/" (repo)} { (repo) } }
            }
            dt { "Event" } dd { (record.event.as_deref().unwrap_or("")) }
            dt { "Attempts" } dd { (record.attempts) }
            dt { "Changed (UTC)" } dd { (layout::time(record.updated_at_ms)) }
        }
        @if let Some(s) = &summary {
            (summary_view(s))
        } @else if let Some(detail) = &record.detail {
            h2 { "Detail" }
            pre { (serde_json::to_string_pretty(detail).unwrap_or_default()) }
        }
    };
    layout::page("Delivery", "/ui/deliveries", body).into_response()
}

fn summary_view(s: &ProcessingSummary) -> Markup {
    html! {
        h2 { "Processing summary" }
        dl.facts {
            dt { "Received" } dd { (s.received_at.as_deref().unwrap_or("–")) }
            dt { "Applied" } dd { (s.applied_at) }
            dt { "Change set" } dd { (s.coalesced) " delivery(ies), " (s.commits) " commit(s)" }
            dt { "Agent pack" } dd { (s.pack) }
            dt { "Published" } dd {
                @match &s.publish {
                    Some(p) => {
                        (p.strategy) " to " (p.target) ": " (format!("{:?}", p.status).to_lowercase())
                        @if let Some(c) = &p.commit { " (commit " code { (c) } ")" }
                        @if let Some(r) = &p.reason { " — " (r) }
                    },
                    None => "not published to the repository (store strategy)",
                }
            }
        }
        @if !s.classification.is_empty() {
            h3 { "Commits" }
            table {
                thead { tr { th scope="col" { "Commit" } th scope="col" { "Classification" } } }
                tbody {
                    @for c in &s.classification {
                        tr {
                            td { code { (c.commit) } }
                            td { (c.kind) @if c.breaking { " (breaking)" } @if c.decision { " (decision)" } }
                        }
                    }
                }
            }
        }
        h3 { "Agents" }
        table {
            thead { tr { th scope="col" { "Agent" } th scope="col" { "Why" } th scope="col" { "Applied" } } }
            tbody {
                @for a in &s.agents {
                    tr { td { (a.agent) } td { (a.reason) } td.num { (a.applied) } }
                }
            }
        }
        @if !s.docs.is_empty() {
            h3 { "Docs written" }
            ul { @for d in &s.docs { li { code { (d) } } } }
        }
        @if !s.notes.is_empty() {
            h3 { "Notes" }
            ul { @for n in &s.notes { li { (n) } } }
        }
    }
}
