//! Access: the token (bearer header or session cookie), the login form, and the CSRF check
//! of every POST.

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use sha2::{Digest, Sha256};

use super::Shared;
use super::layout;

const COOKIE: &str = "coderipple_console";

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

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
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
        || cookie(headers, COOKIE).is_some_and(|c| same(c, &console.session))
}

/// Lets a request through when it is admitted; a page is sent to the login form, anything
/// else gets 401.
pub async fn guard(State(console): State<Shared>, req: Request, next: Next) -> Response {
    if admitted(&console, req.headers()) {
        return next.run(req).await;
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

/// The refusal of a POST without this console's CSRF token, or of any action in read-only
/// mode; `None` lets it through.
pub fn refusal(console: &super::Console, fields: &[(String, String)]) -> Option<Response> {
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
                input type="hidden" name="csrf" value=(console.csrf);
                label for="token" { "Console token (" code { "CODERIPPLE_CONSOLE_TOKEN" } ")" }
                input #token type="password" name="token" autocomplete="current-password" required autofocus;
                button type="submit" { "Sign in" }
            }
        }
    };
    (status, layout::page_without_nav("Sign in", body)).into_response()
}

pub async fn login(State(console): State<Shared>, body: Bytes) -> Response {
    let fields = fields(&body);
    let Some(token) = &console.config.token else {
        return Redirect::to("/ui").into_response();
    };
    if !field(&fields, "csrf").is_some_and(|t| same(t, &console.csrf)) {
        return login_form(
            &console,
            Some("The form expired: try again."),
            StatusCode::FORBIDDEN,
        );
    }
    if !field(&fields, "token").is_some_and(|t| same(t, token)) {
        return login_form(&console, Some("Wrong token."), StatusCode::UNAUTHORIZED);
    }
    let cookie = format!(
        "{COOKIE}={}; Path=/ui; HttpOnly; SameSite=Strict",
        console.session
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/ui")).into_response()
}
