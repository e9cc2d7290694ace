//! Access: the token (bearer header or session cookie, see [`super::session`]), the login
//! form, and the CSRF check of every POST.

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use sha2::{Digest, Sha256};

use super::Shared;
use super::layout;

/// The session cookie's name.
pub const COOKIE: &str = "coderipple_console";

/// 32 random bytes as hex.
pub fn random_hex() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(hex::encode(bytes))
}

/// Equal without telling how much of it matched (digests are compared, not the secrets).
pub fn same(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

/// The value of cookie `name`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether the request carries the token (bearer) or the login's session cookie.
fn admitted(console: &super::Console, headers: &HeaderMap) -> bool {
    let Some(token) = &console.config.token else {
        return true;
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    bearer.is_some_and(|b| same(b, token))
        || cookie(headers, COOKIE).is_some_and(|c| console.sessions.valid(c))
}

/// Whether a request reached the console directly on loopback: its `Host` names loopback and
/// no proxy forwarded it. Without a token that is the only way in, which also stops a
/// proxy on the same host, and DNS rebinding, from opening the console to others.
fn direct_on_loopback(headers: &HeaderMap) -> bool {
    let forwarded = ["forwarded", "x-forwarded-for", "x-forwarded-host"]
        .iter()
        .any(|h| headers.contains_key(*h));
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    !forwarded && matches!(name, "127.0.0.1" | "localhost" | "::1")
}

/// Lets a request through when it is admitted; a page is sent to the login form, anything
/// else gets 401. Without a token, only direct loopback requests are admitted.
pub async fn guard(State(console): State<Shared>, req: Request, next: Next) -> Response {
    if console.config.token.is_none() && !direct_on_loopback(req.headers()) {
        return (
            StatusCode::FORBIDDEN,
            "without CODERIPPLE_CONSOLE_TOKEN the console answers only direct requests to \
             127.0.0.1, ::1 or localhost (not through a proxy)\n",
        )
            .into_response();
    }
    if admitted(&console, req.headers()) {
        if console.config.token.is_none() {
            return next.run(req).await;
        }
        // Signed in: the pages' header offers the sign-out form.
        return layout::SIGN_OUT
            .scope(console.csrf.clone(), next.run(req))
            .await;
    }
    if req.method() == Method::GET {
        return Redirect::to("/ui/login").into_response();
    }
    (StatusCode::UNAUTHORIZED, "the console token is required\n").into_response()
}

/// The fields of a posted form (repeated names kept, in order).
pub fn fields(body: &Bytes) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The first value of `name` in `fields`.
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Whether a POST came from a page of this origin, as far as the browser says: a
/// `Sec-Fetch-Site` other than `same-origin` (or `none`, typed by the user), or an `Origin`
/// whose host is not the request's, is another site's form.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let site_ok = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| matches!(v, "same-origin" | "none"));
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_ok = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|o| {
            let origin_host = o.split_once("://").map_or(o, |(_, h)| h);
            Some(origin_host) == host
        });
    site_ok && origin_ok
}

/// The refusal of a POST without this console's CSRF token or from another site, or of any
/// action in read-only mode; `None` lets it through.
pub fn refusal(
    console: &super::Console,
    headers: &HeaderMap,
    fields: &[(String, String)],
) -> Option<Response> {
    if !same_origin(headers) {
        return Some(
            (
                StatusCode::FORBIDDEN,
                "refused: the form came from another site\n",
            )
                .into_response(),
        );
    }
    if console.config.readonly {
        return Some(
            (
                StatusCode::FORBIDDEN,
                "the console is read-only (CODERIPPLE_CONSOLE_READONLY)\n",
            )
                .into_response(),
        );
    }
    if !field(fields, "csrf").is_some_and(|t| same(t, &console.csrf)) {
        return Some(
            (
                StatusCode::FORBIDDEN,
                "missing or wrong CSRF token: reload the page and try again\n",
            )
                .into_response(),
        );
    }
    None
}

pub async fn login_page(State(console): State<Shared>) -> Response {
    login_form(&console, None, StatusCode::OK)
}

fn login_form(console: &super::Console, error: Option<&str>, status: StatusCode) -> Response {
    let body = html! {
        h1 { "Sign in" }
        @if console.config.token.is_none() {
            p { "This console needs no token. " a href="/ui" { "Open it" } "." }
        } @else {
            @if let Some(e) = error { p.banner role="alert" { (e) } }
            form method="post" action="/ui/login" {
                input type="hidden" name="csrf" value=(console.login_csrf);
                label for="token" { "Console token (" code { "CODERIPPLE_CONSOLE_TOKEN" } ")" }
                input #token type="password" name="token" autocomplete="current-password" required autofocus;
                button type="submit" { "Sign in" }
            }
        }
    };
    (status, layout::page_without_nav("Sign in", body)).into_response()
}

pub async fn login(State(console): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let fields = fields(&body);
    let Some(token) = &console.config.token else {
        return Redirect::to("/ui").into_response();
    };
    if !same_origin(&headers) {
        return login_form(
            &console,
            Some("The form came from another site."),
            StatusCode::FORBIDDEN,
        );
    }
    if !field(&fields, "csrf").is_some_and(|t| same(t, &console.login_csrf)) {
        return login_form(
            &console,
            Some("The form expired: try again."),
            StatusCode::FORBIDDEN,
        );
    }
    if !field(&fields, "token").is_some_and(|t| same(t, token)) {
        return login_form(&console, Some("Wrong token."), StatusCode::UNAUTHORIZED);
    }
    let session = match console.sessions.issue() {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(error = %e, "no session for a sign-in");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "no session could be made\n",
            )
                .into_response();
        }
    };
    let cookie = format!(
        "{COOKIE}={session}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}",
        console.sessions.lifetime().as_secs()
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/ui")).into_response()
}
