//! Sign-in sessions: each sign-in gets a random id, kept in this process's memory with its
//! expiry and checked on every request; sign-out (a POST with the CSRF token) forgets it at
//! once. The cookie holds only the id; a restart signs everyone out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};

use super::Shared;
use super::auth::{COOKIE, cookie, field, fields, random_hex, same, same_origin};

/// The variable that sets how long a sign-in lasts, in seconds.
pub const SESSION_SECS_VAR: &str = "CODERIPPLE_CONSOLE_SESSION_SECS";
/// How long a sign-in lasts unless [`SESSION_SECS_VAR`] says otherwise.
const DEFAULT_SESSION: Duration = Duration::from_secs(12 * 3600);
/// The longest sign-in [`SESSION_SECS_VAR`] may ask for (a week).
const MAX_SESSION_SECS: u64 = 7 * 24 * 3600;
/// Live sessions kept at most (only token holders create them); past it the one closest to
/// its end is dropped.
const MAX_SESSIONS: usize = 1024;

/// The session lifetime from [`SESSION_SECS_VAR`].
pub fn lifetime_from_env() -> anyhow::Result<Duration> {
    match std::env::var(SESSION_SECS_VAR) {
        Err(_) => Ok(DEFAULT_SESSION),
        Ok(raw) => match raw.parse::<u64>() {
            Ok(secs @ 1..=MAX_SESSION_SECS) => Ok(Duration::from_secs(secs)),
            _ => anyhow::bail!(
                "{SESSION_SECS_VAR}={raw:?}: seconds from 1 to {MAX_SESSION_SECS} (a week)"
            ),
        },
    }
}

/// The live sessions, by the digest of their id (the id itself is not kept).
#[derive(Debug)]
pub struct Sessions {
    lifetime: Duration,
    live: Mutex<HashMap<[u8; 32], Instant>>,
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    /// No session yet; each one lasts `lifetime`.
    pub fn new(lifetime: Duration) -> Self {
        Self {
            lifetime,
            live: Mutex::new(HashMap::new()),
        }
    }

    /// How long a session lasts.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A new session's id.
    pub fn issue(&self) -> anyhow::Result<String> {
        let id = random_hex()?;
        let now = Instant::now();
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|_, until| *until > now);
        if live.len() >= MAX_SESSIONS
            && let Some(oldest) = live
                .iter()
                .min_by_key(|(_, until)| **until)
                .map(|(k, _)| *k)
        {
            live.remove(&oldest);
        }
        live.insert(key(&id), now + self.lifetime);
        Ok(id)
    }

    /// Whether `id` is a session that has not expired nor been signed out.
    pub fn valid(&self, id: &str) -> bool {
        let k = key(id);
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        match live.get(&k) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                live.remove(&k);
                false
            }
            None => false,
        }
    }

    /// Forgets `id`.
    pub fn end(&self, id: &str) {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.remove(&key(id));
    }
}

/// `POST /ui/logout`: ends the request's session (CSRF token and same origin required, as
/// for any action, read-only mode included) and clears the cookie.
pub async fn sign_out(State(console): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let fields = fields(&body);
    if !same_origin(&headers) || !field(&fields, "csrf").is_some_and(|t| same(t, &console.csrf)) {
        return (
            StatusCode::FORBIDDEN,
            "missing or wrong CSRF token, or another site's form: nothing was signed out\n",
        )
            .into_response();
    }
    if let Some(id) = cookie(&headers, COOKIE) {
        console.sessions.end(id);
    }
    let clear = format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, clear)], Redirect::to("/ui/login")).into_response()
}
