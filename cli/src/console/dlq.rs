//! The DLQ: dead letters with their class and reason, one envelope (escaped: it is
//! attacker-supplied text), and replay or purge of the selection or of everything a filter
//! matches — a replay is previewed first (its dry run), a purge is confirmed first. Same
//! operations as `coderipple dlq` ([`crate::dlq_ops`]): group order kept, parks lifted once
//! the repository's whole history was sent back, applied deliveries skipped by the worker.
//! The confirmation carries the repositories whose park it lifts, not the peek's list of
//! their messages (on SQS a peek shows only a group's first batch).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use coderipple_core::queue::delivery_of;
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{field, fields, refusal};
use super::{Console, Shared, layout};
use crate::dlq_ops::{self, DlqRow, Selection};

#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    #[serde(default)]
    repo: String,
    #[serde(default)]
    delivery: String,
    /// What the last action did (the redirect after it): `replayed` or `purged`.
    #[serde(default)]
    done: String,
    #[serde(default)]
    moved: u64,
    #[serde(default)]
    left: u64,
    /// Parks the replay meant to lift and left.
    #[serde(default)]
    kept: u64,
}

fn selection_of(repo: &str, deliveries: Vec<String>) -> Selection {
    Selection {
        repo: (!repo.trim().is_empty()).then(|| repo.trim().to_owned()),
        deliveries: deliveries
            .into_iter()
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty())
            .collect(),
        whole_repos: Vec::new(),
    }
}

/// The hidden fields that carry a selection and the CSRF token into the next form.
fn carried(console: &Console, sel: &Selection) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(console.csrf);
        input type="hidden" name="repo" value=(sel.repo.as_deref().unwrap_or(""));
        @for d in &sel.deliveries { input type="hidden" name="delivery" value=(d); }
        @for r in &sel.whole_repos { input type="hidden" name="whole" value=(r); }
    }
}

fn describe(sel: &Selection) -> String {
    match (&sel.repo, sel.deliveries.len()) {
        (None, 0) => "every dead letter".to_owned(),
        (Some(r), 0) => format!("every dead letter of {r}"),
        (None, n) => format!("{n} selected delivery(ies)"),
        (Some(r), n) => format!("{n} selected delivery(ies) of {r}"),
    }
}

pub async fn list(State(console): State<Shared>, Query(f): Query<Filter>) -> Response {
    let sel = selection_of(&f.repo, vec![f.delivery.clone()]);
    let rows: Vec<DlqRow> = match dlq_ops::matching(console.backend.dlq.as_ref(), &sel).await {
        Ok(found) => found.iter().map(dlq_ops::row).collect(),
        Err(e) => return layout::backend_error("Dead-letter queue", "/ui/dlq", &e),
    };
    let actions = !console.config.readonly;
    let body = html! {
        h1 { "Dead-letter queue" }
        @match f.done.as_str() {
            "replayed" => p #done role="status" { "Replayed " (f.moved) " message(s) to the events queue." },
            "purged" => p #done role="status" { "Purged " (f.moved) " message(s)." },
            _ => {},
        }
        @if f.kept > 0 {
            p.banner role="alert" { (f.kept) " park(s) stayed: their history is not all back in the "
                "events queue yet, or the repository was parked again. See the overview, and run "
                "the replay again." }
        }
        @if !f.done.is_empty() && f.left > 0 {
            p.banner role="alert" { (f.left) " matching message(s) are still in the DLQ (behind other "
                "messages of their group, or in flight): run it again, or select the whole repository." }
        }
        form.filters method="get" action="/ui/dlq" {
            label { "Repository " input type="text" name="repo" value=(f.repo) placeholder="owner/name"; }
            label { "Delivery " input type="text" name="delivery" value=(f.delivery); }
            button type="submit" { "Filter" }
        }
        @if rows.is_empty() {
            p #dlq-empty { "Nothing here: the dead-letter queue is empty"
                @if !sel.is_everything() { " for this filter" } "." }
        } @else {
            form #dlq-form method="post" action="/ui/dlq/replay" {
                input type="hidden" name="csrf" value=(console.csrf);
                input type="hidden" name="repo" value=(f.repo);
                @if !f.delivery.trim().is_empty() { input type="hidden" name="delivery" value=(f.delivery); }
                table #dlq {
                    thead { tr {
                        @if actions { th scope="col" { span.visually-hidden { "Select" } } }
                        th scope="col" { "Delivery" } th scope="col" { "Repository" } th scope="col" { "Event" }
                        th scope="col" { "Class" } th scope="col" { "Attempts" } th scope="col" { "Reason" }
                    } }
                    tbody {
                        @for r in &rows {
                            tr {
                                @if actions {
                                    td { input type="checkbox" name="delivery" value=(r.delivery)
                                        aria-label={"Select delivery " (r.delivery)}; }
                                }
                                td { a href={"/ui/dlq/message/" (layout::enc(&r.message_id))} { (r.delivery) } }
                                td { (r.repo) }
                                td { (r.event) }
                                td { span.badge { (r.error_class) } }
                                td.num { (r.attempts) }
                                td.reason { (r.reason) }
                            }
                        }
                    }
                }
                @if actions {
                    p.actions {
                        "With the selection, or with everything this filter shows when nothing is selected: "
                        button type="submit" { "Preview replay" }
                        " "
                        button.danger type="submit" formaction="/ui/dlq/purge" { "Purge…" }
                    }
                }
            }
        }
    };
    layout::page("Dead-letter queue", "/ui/dlq", body).into_response()
}

pub async fn show(State(console): State<Shared>, Path(id): Path<String>) -> Response {
    let all = match dlq_ops::matching(console.backend.dlq.as_ref(), &Selection::default()).await {
        Ok(all) => all,
        Err(e) => return layout::backend_error("Dead letter", "/ui/dlq", &e),
    };
    let Some(m) = all
        .into_iter()
        .find(|m| m.message_id == id || delivery_of(&m.body, &m.dedup_id) == id)
    else {
        let body = html! { h1 { "Dead letter" } p { "No dead letter " code { (id) } " (replayed or purged?)." } };
        return (
            StatusCode::NOT_FOUND,
            layout::page("Dead letter", "/ui/dlq", body),
        )
            .into_response();
    };
    let row = dlq_ops::row(&m);
    let body_text = serde_json::from_str::<serde_json::Value>(&m.body)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| m.body.clone());
    let body = html! {
        h1 { "Dead letter " code { (row.delivery) } }
        dl.facts {
            dt { "Repository" } dd { (row.repo) }
            dt { "Event" } dd { (row.event) }
            dt { "Class" } dd { span.badge { (row.error_class) } }
            dt { "Reason" } dd #reason { (row.reason) }
            dt { "Attempts" } dd { (row.attempts) }
            dt { "Dead-lettered" } dd { (row.dead_lettered_at) }
            dt { "Delivery record" } dd { a href={"/ui/deliveries/" (layout::enc(&row.delivery))} { "status and summary" } }
        }
        h2 { "Envelope" }
        pre #envelope { (body_text) }
        @if !console.config.readonly {
            form method="post" action="/ui/dlq/replay" {
                (carried(&console, &selection_of("", vec![row.delivery.clone()])))
                button type="submit" { "Preview replay" }
            }
        }
    };
    layout::page("Dead letter", "/ui/dlq", body).into_response()
}

fn selection_from(fields: &[(String, String)]) -> Selection {
    let all = |name: &str| -> Vec<String> {
        fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    };
    let mut sel = selection_of(field(fields, "repo").unwrap_or(""), all("delivery"));
    sel.whole_repos = all("whole");
    sel
}

pub async fn replay(State(console): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let fields = fields(&body);
    if let Some(refused) = refusal(&console, &headers, &fields) {
        return refused;
    }
    let sel = selection_from(&fields);
    let b = &console.backend;
    let plan = match dlq_ops::plan_replay(b, &sel).await {
        Ok(plan) => plan,
        Err(e) => return layout::backend_error("Replay", "/ui/dlq", &e),
    };
    let force = field(&fields, "force") == Some("1");
    let blocked = !plan.stale.is_empty() && !force;
    if field(&fields, "confirm") != Some("1") || blocked {
        let body = html! {
            h1 { "Replay: preview" }
            p #preview-summary { (plan.matching.len()) " message(s) would be replayed to "
                code { (b.queue.name()) } " (" (describe(&sel)) "), each repository's in order. "
                "Deliveries already applied are skipped by the worker." }
            ul {
                @for p in &plan.heads { li { "would lift the park of " (p.repo) " (head "
                    code { (p.head) } ") after replaying every dead letter of it, those "
                    "dead-lettered after this preview included" } }
                @for m in &plan.matching {
                    li { "would replay " code { (delivery_of(&m.body, &m.dedup_id)) } " (" (m.group_id) ")" }
                }
            }
            @if !plan.stale.is_empty() {
                div.banner role="alert" {
                    (plan.stale.len()) " message(s) were received so long ago that their delivery record may "
                    "expire before the replay is processed, and could then be applied twice. Tick "
                    "“replay them anyway” to go on."
                }
            }
            @if !plan.matching.is_empty() {
                form method="post" action="/ui/dlq/replay" {
                    (carried(&console, &previewed(&plan.selection, &plan.matching)))
                    input type="hidden" name="confirm" value="1";
                    @if !plan.stale.is_empty() {
                        label { input type="checkbox" name="force" value="1"; " replay them anyway" }
                    }
                    button #confirm-replay type="submit" { "Replay " (plan.matching.len()) " message(s)" }
                    " " a href="/ui/dlq" { "Cancel" }
                }
            }
        };
        return layout::page("Replay", "/ui/dlq", body).into_response();
    }
    match dlq_ops::replay(b, &plan, &|_| {}).await {
        Ok(done) => after("replayed", &done),
        Err(e) => layout::backend_error("Replay", "/ui/dlq", &e),
    }
}

pub async fn purge(State(console): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let fields = fields(&body);
    if let Some(refused) = refusal(&console, &headers, &fields) {
        return refused;
    }
    let sel = selection_from(&fields);
    let b = &console.backend;
    if field(&fields, "confirm") != Some("1") {
        let matched = match dlq_ops::matching(b.dlq.as_ref(), &sel).await {
            Ok(m) => m,
            Err(e) => return layout::backend_error("Purge", "/ui/dlq", &e),
        };
        let total = matched.len();
        let body = html! {
            h1 { "Purge" }
            p { "Delete " strong { (total) " message(s)" } " (" (describe(&sel)) ") from the dead-letter "
                "queue? This cannot be undone: their events will never be applied." }
            @if total > 0 { form method="post" action="/ui/dlq/purge" {
                (carried(&console, &previewed(&sel, &matched)))
                input type="hidden" name="confirm" value="1";
                button.danger #confirm-purge type="submit" { "Delete " (total) " message(s)" }
                " " a href="/ui/dlq" { "Cancel" }
            } }
        };
        return layout::page("Purge", "/ui/dlq", body).into_response();
    }
    match dlq_ops::purge(b, &sel, &|_| {}).await {
        Ok(done) => after("purged", &done),
        Err(e) => layout::backend_error("Purge", "/ui/dlq", &e),
    }
}

/// After an action: back to the DLQ page, which says what was done (a reload of it repeats
/// nothing).
fn after(what: &str, done: &dlq_ops::Done) -> Response {
    Redirect::to(&format!(
        "/ui/dlq?done={what}&moved={}&left={}&kept={}",
        done.moved,
        done.left,
        done.kept.len()
    ))
    .into_response()
}

/// The selection a confirmation acts on: exactly the deliveries it showed (messages that
/// arrived since are not touched), within the same repository filter, and every dead letter
/// of the repositories whose park it lifts.
fn previewed(sel: &Selection, shown: &[coderipple_core::queue::PeekedMessage]) -> Selection {
    let mut deliveries: Vec<String> = shown
        .iter()
        .map(|m| delivery_of(&m.body, &m.dedup_id))
        .collect();
    deliveries.dedup();
    Selection {
        repo: sel.repo.clone(),
        deliveries,
        whole_repos: sel.whole_repos.clone(),
    }
}
