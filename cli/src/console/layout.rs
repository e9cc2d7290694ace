//! The page shell (navigation, banner) and small formatting helpers.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

tokio::task_local! {
    /// Set while a signed-in request (a console with a token) is answered: the CSRF token the
    /// header's sign-out form carries.
    pub static SIGN_OUT: String;
}

const NAV: [(&str, &str); 4] = [
    ("/ui", "Overview"),
    ("/ui/deliveries", "Deliveries"),
    ("/ui/dlq", "DLQ"),
    ("/ui/repos", "Repositories"),
];

fn shell(title: &str, active: Option<&str>, body: Markup) -> Html<String> {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · CodeRipple console" }
                link rel="stylesheet" href="/ui/assets/app.css";
                script src="/ui/assets/app.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    span.brand { "CodeRipple" }
                    @if let Some(active) = active {
                        nav aria-label="Console" {
                            ul {
                                @for (href, label) in NAV {
                                    li {
                                        @if href == active {
                                            a href=(href) aria-current="page" { (label) }
                                        } @else {
                                            a href=(href) { (label) }
                                        }
                                    }
                                }
                            }
                        }
                        @if let Ok(csrf) = SIGN_OUT.try_with(Clone::clone) {
                            form.signout method="post" action="/ui/logout" {
                                input type="hidden" name="csrf" value=(csrf);
                                button #sign-out type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main #main { (body) }
            }
        }
    };
    Html(page.into_string())
}

/// A page with the navigation, `active` marking where it is.
pub fn page(title: &str, active: &str, body: Markup) -> Html<String> {
    shell(title, Some(active), body)
}

/// A page without navigation (the login form).
pub fn page_without_nav(title: &str, body: Markup) -> Html<String> {
    shell(title, None, body)
}

/// The page a failing backend gives: what failed and that nothing was changed, with the
/// navigation still there (503: try again).
pub fn backend_error(title: &str, active: &str, err: &anyhow::Error) -> Response {
    let body = html! {
        h1 { (title) }
        (banner(err))
    };
    (StatusCode::SERVICE_UNAVAILABLE, page(title, active, body)).into_response()
}

/// The banner of a backend error.
pub fn banner(err: &anyhow::Error) -> Markup {
    html! {
        div.banner role="alert" {
            strong { "The backend did not answer. " }
            "Nothing was changed. The page reloads by itself; the error was: "
            code { (format!("{err:#}")) }
        }
    }
}

/// Unix ms as `YYYY-MM-DD HH:MM:SS` UTC (empty for 0).
pub fn time(ms: i64) -> String {
    if ms <= 0 {
        return String::new();
    }
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// A link to GitHub for `repo`, when it is a plain `owner/name`.
pub fn github_url(repo: &str) -> Option<String> {
    coderipple_core::webhook::validate_repo(repo)
        .ok()
        .map(|()| format!("https://github.com/{repo}"))
}

/// A path segment, percent-encoded.
pub fn enc(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}
