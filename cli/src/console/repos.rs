//! Repositories: each with its state version, last applied head, park, history gap and
//! publish state; and one repository's docs, rendered from Markdown and then sanitized (the
//! docs carry commit messages and other payload text).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{PreEscaped, html};

use super::{Shared, layout};

pub async fn list(State(console): State<Shared>) -> Response {
    let b = &console.backend;
    let found = tokio::try_join!(
        b.store.list_repos(),
        b.store.parked_repos(),
        b.store.pending_publishes(),
        b.store.history_gaps(),
    );
    let (repos, parked, pending, gaps) = match found {
        Ok(found) => found,
        Err(e) => return layout::backend_error("Repositories", "/ui/repos", &e.into()),
    };
    let body = html! {
        h1 { "Repositories" }
        @if repos.is_empty() {
            p { "No repository has docs yet." }
        } @else {
            table #repos {
                thead { tr {
                    th scope="col" { "Repository" } th scope="col" { "Change sets" }
                    th scope="col" { "Last change (UTC)" } th scope="col" { "State" } th scope="col" { "GitHub" }
                } }
                tbody {
                    @for r in &repos {
                        tr {
                            td { a href={"/ui/repos/" (r.repo)} { (r.repo) } }
                            td.num { (r.version) }
                            td { (layout::time(r.updated_at_ms)) }
                            td {
                                @if parked.iter().any(|p| p.repo == r.repo) { span.badge.failed { "parked" } " " }
                                @if gaps.iter().any(|g| g.repo == r.repo) { span.badge { "history gap" } " " }
                                @if pending.iter().any(|p| p.repo == r.repo) { span.badge { "publish pending" } }
                            }
                            td { @if let Some(url) = layout::github_url(&r.repo) { a href=(url) rel="noreferrer" { "open" } } }
                        }
                    }
                }
            }
        }
    };
    layout::page("Repositories", "/ui/repos", body).into_response()
}

pub async fn detail(State(console): State<Shared>, Path(repo): Path<String>) -> Response {
    if coderipple_core::webhook::validate_repo(&repo).is_err() {
        let body = html! { h1 { "Repository" } p.banner role="alert" { "Not a repository name: " code { (repo) } } };
        return (
            StatusCode::BAD_REQUEST,
            layout::page("Repository", "/ui/repos", body),
        )
            .into_response();
    }
    let b = &console.backend;
    let found = tokio::try_join!(
        b.store.repo_state(&repo),
        b.store.parked_repo(&repo),
        b.store.publish_pending(&repo),
    );
    let (state, parked, pending) = match found {
        Ok(found) => found,
        Err(e) => return layout::backend_error("Repository", "/ui/repos", &e.into()),
    };
    let Some(state) = state else {
        let body =
            html! { h1 { (repo) } p { "No state: no event of this repository was applied." } };
        return (
            StatusCode::NOT_FOUND,
            layout::page("Repository", "/ui/repos", body),
        )
            .into_response();
    };
    let docs = match b.sink.read_all(&repo).await {
        Ok(docs) => docs,
        Err(e) => return layout::backend_error("Repository", "/ui/repos", &e.into()),
    };
    let head = coderipple_engine::applied_commits(&state.state)
        .ok()
        .and_then(|c| c.last().cloned());
    let body = html! {
        h1 { (repo) }
        dl.facts {
            dt { "Last applied head" } dd #head { @if let Some(h) = &head { code { (h) } } @else { "–" } }
            dt { "Change sets applied" } dd { (state.version) }
            dt { "Parked" } dd { @match &parked { Some(p) => { "behind " code { (p.head) } " — " (p.reason) }, None => "no" } }
            dt { "Publish" } dd { @match &pending { Some(p) => { "pending, " (p.attempts) " attempt(s): " (p.reason) }, None => "up to date (or not published)" } }
            dt { "GitHub" } dd { @if let Some(url) = layout::github_url(&repo) { a href=(url) rel="noreferrer" { (url) } } }
            dt { "Deliveries" } dd { a href={"/ui/deliveries?repo=" (layout::enc(&repo))} { "this repository's deliveries" } }
        }
        @if !docs.is_empty() {
            nav aria-label="Docs" {
                h2 { "Docs" }
                ul { @for (i, d) in docs.iter().enumerate() { li { a href={"#doc-" (i)} { code { (d.path) } } } } }
            }
            @for (i, d) in docs.iter().enumerate() {
                article.doc id={"doc-" (i)} {
                    h2.docpath { code { (d.path) } }
                    (PreEscaped(render_markdown(&d.contents)))
                }
            }
        }
    };
    layout::page(&repo, "/ui/repos", body).into_response()
}

/// Markdown to HTML, sanitized: raw HTML in the text is dropped or escaped, links keep only
/// safe schemes and get `rel="noopener noreferrer"`, nothing can run a script.
pub fn render_markdown(markdown: &str) -> String {
    use pulldown_cmark::{Options, Parser, html::push_html};
    let parser = Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    );
    let mut raw = String::with_capacity(markdown.len() * 2);
    push_html(&mut raw, parser);
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer"))
        .clean(&raw)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::render_markdown;

    #[test]
    fn markdown_renders_and_hostile_html_does_not_survive() {
        let html = render_markdown(
            "# Title\n\n- feat: add <script>alert(1)</script> and <img src=x onerror=alert(2)>\n\n\
             [bad](javascript:alert(3)) [ok](https://example.com)\n\n| a |\n|---|\n| b |\n",
        );
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<table>"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("href=\"https://example.com\""), "{html}");
    }
}
