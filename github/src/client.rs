//! GitHub's REST API: authentication (a GitHub App's installation tokens, or a token), rate
//! limits honoured, errors classified, pages followed.
//!
//! Rate limits: a `429`, a `403` with `Retry-After` or an exhausted `X-RateLimit-Remaining`
//! (primary and secondary limits), and `5xx` are transient. The call waits for `Retry-After`
//! (or until `X-RateLimit-Reset`), at most [`GitHubConfig::max_wait`], and tries again, a few
//! times; a longer wait fails the call as transient, so the queue retries it later. `401`,
//! `403` and `404` are answers (not installed, no permission, gone), not retried. Inside an
//! invocation's deadline ([`crate::deadline`]) no call or wait is started that cannot end
//! before it: the call fails as transient and out of time ([`is_out_of_time`]).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

pub use reqwest::Method;

use coderipple_core::WorkerError;

use crate::auth::{Auth, RawCall};
use crate::config::GitHubConfig;
use crate::refusal::{Refusal, refused};

/// Tries per call (the first and its retries) on rate limits, `5xx` and network failures.
const ATTEMPTS: u32 = 4;
/// Per-request timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Least time left before an invocation's deadline for a call to be started.
const MIN_CALL_TIME: Duration = Duration::from_secs(2);

/// A GitHub REST client for one App or token.
#[derive(Debug)]
pub struct GitHubApi {
    base: String,
    http: reqwest::Client,
    auth: Auth,
    max_wait: Duration,
}

impl GitHubApi {
    /// A client for `config`.
    pub fn new(config: &GitHubConfig) -> Result<Self, WorkerError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("coderipple/", env!("CARGO_PKG_VERSION")))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| WorkerError::invalid(format!("HTTP client: {e}")))?;
        Ok(Self {
            base: config.api_url.clone(),
            http,
            auth: Auth::new(&config.credentials)?,
            max_wait: config.max_wait,
        })
    }

    /// The API's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Remembers which App installation `repo` belongs to (from its webhooks).
    pub fn note_installation(&self, repo: &str, installation: u64) {
        self.auth.note_installation(repo, installation);
    }

    /// `GET path` (relative to the API URL) as `repo`'s installation; `Ok(None)` on 404.
    pub async fn get(&self, repo: &str, path: &str) -> Result<Option<Value>, WorkerError> {
        match self.send(repo, Method::GET, path, None).await? {
            Ok(body) => Ok(Some(body)),
            Err(r) if r.status == StatusCode::NOT_FOUND => Ok(None),
            Err(r) => Err(refused(repo, &r)),
        }
    }

    /// `method path` with `body` as `repo`'s installation, retried on rate limits, `5xx` and
    /// network failures; a deliberate non-2xx answer comes back as `Ok(Err(Refusal))` for
    /// the caller to judge (see [`Refusal::into_error`]).
    pub async fn send(
        &self,
        repo: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Result<Value, Refusal>, WorkerError> {
        let bearer = self.auth.bearer_for(self, repo).await?;
        let answer = self.call(method.clone(), path, &bearer, body).await?;
        if let Err(r) = &answer
            && r.status == StatusCode::UNAUTHORIZED
            && self.auth.is_app()
        {
            // A revoked or expired installation token: forget it and try once with a new one.
            self.auth.forget_token(repo);
            let bearer = self.auth.bearer_for(self, repo).await?;
            return self.call(method, path, &bearer, body).await;
        }
        Ok(answer)
    }

    /// Who commits for us when no author is configured: the App's bot account
    /// (`<slug>[bot]`, with the no-reply address GitHub links to it), looked up once; `None`
    /// with a token, whose user we do not impersonate.
    pub async fn bot_identity(&self, repo: &str) -> Result<Option<(String, String)>, WorkerError> {
        self.auth.bot_identity(self, repo).await
    }

    /// One call with `bearer`, retried on rate limits, `5xx` and network failures; a
    /// deliberate non-2xx answer comes back as `Err(Refusal)`.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: &str,
        body: Option<&Value>,
    ) -> Result<Result<Value, Refusal>, WorkerError> {
        Ok(self
            .call_paged(method, path, bearer, body)
            .await?
            .map(|page| page.items))
    }

    /// `GET path` of one of the App's own endpoints (e.g. `/app/hook/deliveries`), with the
    /// App's JWT: one page and the next page's cursor. Refused for a token.
    pub async fn app_get_page(&self, path: &str) -> Result<Page, WorkerError> {
        let jwt = self.auth.app_jwt()?;
        self.call_paged(Method::GET, path, &jwt, None)
            .await?
            .map_err(|r| refused("the GitHub App", &r))
    }

    /// `POST path` of one of the App's own endpoints, with the App's JWT.
    pub async fn app_post(&self, path: &str, body: Option<&Value>) -> Result<Value, WorkerError> {
        let jwt = self.auth.app_jwt()?;
        self.call(Method::POST, path, &jwt, body)
            .await?
            .map_err(|r| refused("the GitHub App", &r))
    }

    /// `GET path` as `repo`'s installation: one page and the next page's cursor.
    pub async fn get_page(&self, repo: &str, path: &str) -> Result<Page, WorkerError> {
        let bearer = self.auth.bearer_for(self, repo).await?;
        self.call_paged(Method::GET, path, &bearer, None)
            .await?
            .map_err(|r| refused(repo, &r))
    }

    /// Whether the credentials are a GitHub App's (which has endpoints of its own).
    pub fn is_app(&self) -> bool {
        self.auth.is_app()
    }

    async fn call_paged(
        &self,
        method: Method,
        path: &str,
        bearer: &str,
        body: Option<&Value>,
    ) -> Result<Result<Page, Refusal>, WorkerError> {
        let url = format!("{}{path}", self.base);
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            // Inside an invocation's deadline: a call that cannot finish is not started.
            let timeout = match crate::deadline::left() {
                Some(left) if left < MIN_CALL_TIME => {
                    return Err(out_of_time(&method, path, &last));
                }
                Some(left) => REQUEST_TIMEOUT.min(left),
                None => REQUEST_TIMEOUT,
            };
            let mut request = self
                .http
                .request(method.clone(), &url)
                .timeout(timeout)
                .bearer_auth(bearer)
                .header("accept", "application/vnd.github+json")
                .header("x-github-api-version", "2022-11-28");
            if let Some(body) = body {
                request = request.json(body);
            }
            let backoff = Duration::from_millis(500 * 2u64.pow(attempt - 1));
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    last = format!("GitHub {method} {path}: {e}");
                    if attempt < ATTEMPTS {
                        if !crate::deadline::allows(backoff + MIN_CALL_TIME) {
                            return Err(out_of_time(&method, path, &last));
                        }
                        tokio::time::sleep(backoff).await;
                    }
                    continue;
                }
            };
            let status = response.status();
            let wait = rate_limit_wait(status, response.headers());
            let retryable = wait.is_some() || status.is_server_error();
            let next_cursor = next_cursor(response.headers());
            let text = response.text().await.unwrap_or_default();
            if status.is_success() {
                let value = if text.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(&text).map_err(|e| {
                        WorkerError::transient(format!(
                            "GitHub {method} {path}: unreadable answer: {e}"
                        ))
                    })?
                };
                return Ok(Ok(Page {
                    items: value,
                    next_cursor,
                }));
            }
            let message = message_of(&text);
            if !retryable {
                return Ok(Err(Refusal { status, message }));
            }
            let wait = wait.unwrap_or(backoff);
            last = format!("GitHub {method} {path}: {status} {message}");
            if wait > self.max_wait {
                return Err(WorkerError::transient(format!(
                    "{last} (rate limited for {} s, longer than the {} s waited in place)",
                    wait.as_secs(),
                    self.max_wait.as_secs()
                )));
            }
            if attempt < ATTEMPTS {
                if !crate::deadline::allows(wait + MIN_CALL_TIME) {
                    return Err(out_of_time(&method, path, &last));
                }
                tracing::info!(%status, wait_ms = wait.as_millis() as u64, path, "GitHub asked to wait; retrying");
                tokio::time::sleep(wait).await;
            }
        }
        Err(WorkerError::transient(format!(
            "{last} ({ATTEMPTS} attempts)"
        )))
    }
}

/// The failure of a call that the invocation's deadline leaves no time for (transient: the
/// caller records what it could not do, see [`crate::deadline`]).
fn out_of_time(method: &Method, path: &str, last: &str) -> WorkerError {
    let before = if last.is_empty() {
        String::new()
    } else {
        format!(" (after {last})")
    };
    WorkerError::transient(format!("GitHub {method} {path}: {OUT_OF_TIME}{before}"))
}

/// How an out-of-time failure says so (see [`is_out_of_time`]).
const OUT_OF_TIME: &str = "not started: the invocation's deadline is near";

/// Whether `e` is a call the deadline did not leave time for.
pub fn is_out_of_time(e: &WorkerError) -> bool {
    matches!(e, WorkerError::Transient(reason) if reason.contains(OUT_OF_TIME))
}

/// One answer of a paginated list.
#[derive(Debug)]
pub struct Page {
    /// The answer's body (for a list endpoint, an array).
    pub items: Value,
    /// The `cursor` of the next page, from `Link: <…?cursor=X…>; rel="next"`.
    pub next_cursor: Option<String>,
}

/// The `cursor` parameter of the `rel="next"` link, if there is a next page.
fn next_cursor(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, rel) = part.split_once(';')?;
        if !rel.contains("rel=\"next\"") {
            return None;
        }
        let url = url.trim().trim_start_matches('<').trim_end_matches('>');
        let query = url.split_once('?')?.1;
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "cursor")
            .map(|(_, v)| v.into_owned())
    })
}

/// How long GitHub asks us to wait, when this answer is a rate limit.
fn rate_limit_wait(status: StatusCode, headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let retry_after = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok());
    let exhausted = header("x-ratelimit-remaining") == Some("0");
    let limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN && (retry_after.is_some() || exhausted));
    if !limited {
        return None;
    }
    if let Some(secs) = retry_after {
        return Some(Duration::from_secs(secs));
    }
    let reset = header("x-ratelimit-reset").and_then(|v| v.trim().parse::<i64>().ok());
    Some(match reset {
        Some(at) => Duration::from_secs((at - chrono::Utc::now().timestamp()).max(1) as u64),
        // A secondary limit without a hint: GitHub asks for at least a minute.
        None => Duration::from_secs(60),
    })
}

/// GitHub's `message` field, or the start of the body.
fn message_of(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| text.chars().take(200).collect())
}

impl RawCall for GitHubApi {
    async fn raw_call(
        &self,
        method: Method,
        path: &str,
        bearer: &str,
    ) -> Result<Result<Value, Refusal>, WorkerError> {
        self.call(method, path, bearer, None).await
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_next_pages_cursor_comes_from_the_link_header() {
        let h = headers(&[(
            "link",
            "<https://api.github.com/app/hook/deliveries?per_page=2&cursor=v1_9%3D>; rel=\"next\", \
             <https://api.github.com/app/hook/deliveries?per_page=2>; rel=\"first\"",
        )]);
        assert_eq!(next_cursor(&h).as_deref(), Some("v1_9="));
        let last = headers(&[("link", "<https://x/y?per_page=2>; rel=\"first\"")]);
        assert_eq!(next_cursor(&last), None);
        assert_eq!(next_cursor(&headers(&[])), None);
    }

    #[test]
    fn rate_limits_are_recognised_with_their_wait() {
        let none = headers(&[]);
        assert_eq!(
            rate_limit_wait(
                StatusCode::TOO_MANY_REQUESTS,
                &headers(&[("retry-after", "3")])
            ),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &headers(&[("retry-after", "7")])),
            Some(Duration::from_secs(7))
        );
        let reset = (chrono::Utc::now().timestamp() + 30).to_string();
        let primary = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset),
        ]);
        let wait = rate_limit_wait(StatusCode::FORBIDDEN, &primary).unwrap();
        assert!((28..=31).contains(&wait.as_secs()), "{wait:?}");
        // A plain 403 is an answer, not a limit.
        assert_eq!(rate_limit_wait(StatusCode::FORBIDDEN, &none), None);
        assert_eq!(rate_limit_wait(StatusCode::NOT_FOUND, &none), None);
        assert_eq!(
            rate_limit_wait(StatusCode::TOO_MANY_REQUESTS, &none),
            Some(Duration::from_secs(60))
        );
    }
}
