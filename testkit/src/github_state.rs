//! The GitHub stand-in's state, shared by its routes and the test that drives it: what it
//! knows (installations, files, tokens, repositories, hook deliveries), what it was asked
//! (the call log), the answers to inject, and the checks GitHub makes on every call (App
//! JWTs, installation tokens).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use sha2::Digest;

use crate::github_git::{GitModel, Hooks, Person};

/// The stand-in's state, shared with the test that drives it.
#[derive(Debug, Default)]
pub struct GitHubState {
    pub(super) app_id: u64,
    pub(super) public_key: Mutex<Option<String>>,
    pub(super) installations: Mutex<HashMap<String, u64>>,
    pub(super) files: Mutex<HashMap<(String, String, String), Vec<u8>>>,
    pub(super) tokens: Mutex<HashMap<String, (u64, DateTime<Utc>)>>,
    pub(super) token_ttl_secs: Mutex<i64>,
    pub(super) rate_limited: AtomicU32,
    pub(super) broken: AtomicBool,
    pub(super) log: Mutex<Vec<String>>,
    /// Repositories, branches, commits and pull requests (for publishing).
    pub(super) git: Mutex<GitModel>,
    /// Answers to give instead of the real one: (call prefix, status, `Retry-After`, times).
    pub(super) faults: Mutex<Vec<Fault>>,
    /// Calls whose answer is lost after they were carried out: (call prefix, times).
    pub(super) lost: Mutex<Vec<(String, u32)>>,
    /// Webhook deliveries GitHub made, and redeliveries asked for.
    pub(super) hooks: Mutex<Hooks>,
}

type Fault = (String, u16, Option<u64>, u32);

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl GitHubState {
    /// The App is installed on `repo` as installation `id`.
    pub fn install(&self, repo: &str, id: u64) {
        lock(&self.installations).insert(repo.to_owned(), id);
    }

    /// `repo` has `contents` at `path` in commit `commit`.
    pub fn add_file(&self, repo: &str, commit: &str, path: &str, contents: &str) {
        lock(&self.files).insert(
            (repo.to_owned(), commit.to_owned(), path.to_owned()),
            contents.as_bytes().to_vec(),
        );
    }

    /// Installation tokens issued from now on expire after `secs`.
    pub fn token_ttl(&self, secs: i64) {
        *lock(&self.token_ttl_secs) = secs;
    }

    /// The next `n` contents calls answer `429` with `Retry-After: 1`.
    pub fn rate_limit_next(&self, n: u32) {
        self.rate_limited.store(n, Ordering::SeqCst);
    }

    /// Contents and repository answers leave out fields GitHub's description requires.
    pub fn break_answers(&self) {
        self.broken.store(true, Ordering::SeqCst);
    }

    /// Every call so far: `METHOD /path` (the answer's status after a space).
    pub fn calls(&self) -> Vec<String> {
        lock(&self.log).clone()
    }

    /// Calls whose line starts with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        lock(&self.log)
            .iter()
            .filter(|l| l.starts_with(prefix))
            .count()
    }

    /// The next `times` calls whose line starts with `prefix` (e.g.
    /// `POST /repos/o/r/git/trees`) answer `status` (with `Retry-After: secs` when given).
    pub fn fail_next(&self, prefix: &str, status: u16, retry_after: Option<u64>, times: u32) {
        lock(&self.faults).push((prefix.to_owned(), status, retry_after, times));
    }

    /// The next `times` calls starting with `prefix` are carried out, but answered `502`, as
    /// when an answer is lost on its way back.
    pub fn lose_answer_next(&self, prefix: &str, times: u32) {
        lock(&self.lost).push((prefix.to_owned(), times));
    }

    /// A `502` instead of the answer of `line`, carried out already, if one is due.
    pub(super) fn answer_lost(&self, line: &str) -> Option<Response> {
        let mut lost = lock(&self.lost);
        let l = lost
            .iter_mut()
            .find(|(prefix, times)| *times > 0 && line.starts_with(prefix.as_str()))?;
        l.1 -= 1;
        drop(lost);
        self.record(line.to_owned(), StatusCode::BAD_GATEWAY);
        Some(error(StatusCode::BAD_GATEWAY, "Server Error"))
    }

    /// The injected answer for `line`, if one is due.
    pub(super) fn fault(&self, line: &str) -> Option<Response> {
        let mut faults = lock(&self.faults);
        let f = faults
            .iter_mut()
            .find(|(prefix, _, _, times)| *times > 0 && line.starts_with(prefix.as_str()))?;
        f.3 -= 1;
        let status = StatusCode::from_u16(f.1).expect("a status");
        let retry_after = f.2;
        drop(faults);
        self.record(line.to_owned(), status);
        let message = match status.as_u16() {
            403 => "Resource not accessible by integration",
            429 => "You have exceeded a secondary rate limit",
            _ => "Server Error",
        };
        let mut r = error(status, message);
        if let Some(secs) = retry_after {
            r.headers_mut()
                .insert("retry-after", secs.to_string().parse().expect("a header"));
        }
        Some(r)
    }

    /// Whether answers are to leave out required fields ([`Self::break_answers`]).
    pub(super) fn is_broken(&self) -> bool {
        self.broken.load(Ordering::SeqCst)
    }

    /// The App's id.
    pub(super) fn app_id(&self) -> u64 {
        self.app_id
    }

    /// Whether the request carries any live installation token.
    pub(super) fn any_token_ok(&self, headers: &HeaderMap) -> bool {
        let Some(token) = bearer(headers) else {
            return false;
        };
        matches!(lock(&self.tokens).get(&token), Some((_, exp)) if *exp > Utc::now())
    }

    pub(super) fn record(&self, line: String, status: StatusCode) {
        lock(&self.log).push(format!("{line} {}", status.as_u16()));
    }

    pub(super) fn jwt_ok(&self, headers: &HeaderMap) -> bool {
        let Some(token) = bearer(headers) else {
            return false;
        };
        let Some(pem) = lock(&self.public_key).clone() else {
            return false;
        };
        let Ok(key) = DecodingKey::from_rsa_pem(pem.as_bytes()) else {
            return false;
        };
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_required_spec_claims(&["exp", "iat", "iss"]);
        validation.set_issuer(&[self.app_id.to_string()]);
        match jsonwebtoken::decode::<Value>(&token, &key, &validation) {
            Ok(data) => {
                let (iat, exp) = (data.claims["iat"].as_i64(), data.claims["exp"].as_i64());
                matches!((iat, exp), (Some(i), Some(e)) if e - i <= 600 && i <= Utc::now().timestamp())
            }
            Err(_) => false,
        }
    }

    /// Whether the request carries a live installation token for `repo`'s installation.
    pub(super) fn token_ok(&self, headers: &HeaderMap, repo: &str) -> bool {
        let Some(token) = bearer(headers) else {
            return false;
        };
        let installed = lock(&self.installations).get(repo).copied();
        let issued = lock(&self.tokens).get(&token).copied();
        matches!((installed, issued), (Some(i), Some((t, exp))) if i == t && exp > Utc::now())
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

/// A person's identity in the stand-in's history.
pub(super) fn person() -> Person {
    ("A Person".into(), "person@example.com".into())
}

pub(super) fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": status.as_u16().to_string()});
    (status, Json(body)).into_response()
}

pub(super) fn ok(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).expect("a status"), Json(body)).into_response()
}

/// Checks the installation token for `repo` and the injected faults; `Some` is the answer.
pub(super) fn guard(
    s: &GitHubState,
    headers: &HeaderMap,
    line: &str,
    repo: &str,
) -> Option<Response> {
    if !s.token_ok(headers, repo) {
        s.record(line.to_owned(), StatusCode::UNAUTHORIZED);
        return Some(error(StatusCode::UNAUTHORIZED, "Bad credentials"));
    }
    s.fault(line)
}

pub(super) fn api(repo: &str) -> String {
    format!("https://api.github.com/repos/{repo}")
}

/// A blob id of the contents: 40 hex digits like git's (derived with SHA-256 here; the
/// client only needs it stable and unique per contents).
pub(crate) fn git_blob_sha(bytes: &[u8]) -> String {
    let digest = sha2::Sha256::digest(bytes);
    hex::encode(digest)[..40].to_owned()
}
