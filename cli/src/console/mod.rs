//! The operator console: HTML pages over the backend for the queue, the deliveries, the DLQ
//! and each repository's docs, served at `/ui` by `coderipple up` (on a listener of its own;
//! with a token also on the webhook's) and `coderipple console`.
//!
//! Safety, in one place: every page is built with `maud`, which escapes what it inserts
//! (payload text is attacker-supplied); docs are rendered from Markdown and then sanitized;
//! every response carries a strict Content-Security-Policy (scripts and styles from this
//! origin only); with a token (`CODERIPPLE_CONSOLE_TOKEN`) every request needs it, as a
//! bearer header or the session cookie that the login form sets (a session that expires and
//! that sign-out ends, both checked here, not by the browser); every state-changing
//! request is a POST carrying the console's CSRF token; read-only mode refuses them all.

mod assets;
mod auth;
mod deliveries;
mod dlq;
mod layout;
mod overview;
mod repos;
mod session;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use crate::backend::Backend;

/// The variable holding the console's access token.
pub const TOKEN_VAR: &str = "CODERIPPLE_CONSOLE_TOKEN";
/// The variable that makes the console read-only (`1`, `true`).
pub const READONLY_VAR: &str = "CODERIPPLE_CONSOLE_READONLY";

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// How the console is protected.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// Every request needs this token (a bearer header, or the login's session cookie).
    pub token: Option<String>,
    /// Hide and refuse every action.
    pub readonly: bool,
    /// How long a sign-in lasts (`CODERIPPLE_CONSOLE_SESSION_SECS`).
    pub session_lifetime: std::time::Duration,
}

impl ConsoleConfig {
    /// From `CODERIPPLE_CONSOLE_TOKEN` and `CODERIPPLE_CONSOLE_READONLY`.
    pub fn from_env() -> anyhow::Result<Self> {
        let token = std::env::var(TOKEN_VAR).ok().filter(|t| !t.is_empty());
        if token.as_ref().is_some_and(|t| t.len() < 16) {
            anyhow::bail!("{TOKEN_VAR} must be at least 16 characters");
        }
        let readonly = match std::env::var(READONLY_VAR).as_deref() {
            Err(_) | Ok("" | "0" | "false") => false,
            Ok("1" | "true") => true,
            Ok(other) => anyhow::bail!("{READONLY_VAR}={other:?}: use 1 or 0"),
        };
        Ok(Self {
            token,
            readonly,
            session_lifetime: session::lifetime_from_env()?,
        })
    }

    /// Whether the console may listen on `addr`: loopback always, anything else only with a
    /// token.
    pub fn may_listen_on(&self, addr: &std::net::SocketAddr) -> bool {
        addr.ip().is_loopback() || self.token.is_some()
    }
}

/// What every handler shares.
#[derive(Debug)]
pub struct Console {
    backend: Arc<Backend>,
    config: ConsoleConfig,
    /// Proves an action's form came from a page of this console (random per process; only
    /// admitted requests see it).
    csrf: String,
    /// The same for the sign-in form, which anyone who reaches the console sees.
    login_csrf: String,
    /// The overview's content and when it was gathered: tabs share it for a few seconds, so
    /// many open tabs do not multiply the backend's scans.
    overview: tokio::sync::Mutex<Option<(std::time::Instant, String)>>,
    /// The sign-ins' sessions (the cookie holds a session's id; the token is never stored).
    sessions: session::Sessions,
}

type Shared = Arc<Console>;

impl Console {
    /// A console over `backend`.
    pub fn new(backend: Arc<Backend>, config: ConsoleConfig) -> anyhow::Result<Self> {
        Ok(Self {
            backend,
            csrf: auth::random_hex()?,
            login_csrf: auth::random_hex()?,
            sessions: session::Sessions::new(config.session_lifetime),
            overview: tokio::sync::Mutex::new(None),
            config,
        })
    }
}

/// The console's routes, all under `/ui`.
pub fn router(console: Console) -> Router {
    let shared: Shared = Arc::new(console);
    let pages = Router::new()
        .route("/ui", get(overview::page))
        .route("/ui/", get(overview::page))
        .route("/ui/live", get(overview::live))
        .route("/ui/deliveries", get(deliveries::list))
        .route("/ui/deliveries/{id}", get(deliveries::detail))
        .route("/ui/dlq", get(dlq::list))
        .route("/ui/dlq/message/{id}", get(dlq::show))
        .route("/ui/dlq/replay", post(dlq::replay))
        .route("/ui/dlq/purge", post(dlq::purge))
        .route("/ui/repos", get(repos::list))
        .route("/ui/repos/{*repo}", get(repos::detail))
        .route("/ui/logout", post(session::sign_out))
        .route_layer(middleware::from_fn_with_state(shared.clone(), auth::guard));
    Router::new()
        .merge(pages)
        .route("/ui/login", get(auth::login_page).post(auth::login))
        .route("/ui/assets/app.css", get(assets::css))
        .route("/ui/assets/app.js", get(assets::js))
        .layer(middleware::from_fn(headers))
        .with_state(shared)
}

/// The headers every console response carries.
async fn headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // `same-origin`, not `no-referrer`: under `no-referrer` browsers send `Origin: null` with
    // a form, and the CSRF check needs the real one.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
