//! GitHub App authentication: a JWT (RS256, `iss` = the App id, valid ten minutes) for the
//! App's own endpoints, exchanged for an installation token per installation, cached until
//! shortly before it expires. The installation of a repository comes from its webhooks
//! (`installation.id`), or is looked up once with the JWT.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;

use crate::config::Credentials;
use crate::refusal::{Refusal, refused};
use coderipple_core::WorkerError;

/// An installation token is renewed when it has less than this left.
const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);

/// What authentication needs from the client: one call with a bearer of its choosing (the
/// App's JWT, to look up an installation or mint its token). The client implements it, so
/// this module never names the client.
pub(crate) trait RawCall {
    /// `method` on `path` with `bearer`; a deliberate non-2xx answer is `Err(Refusal)`.
    fn raw_call(
        &self,
        method: Method,
        path: &str,
        bearer: &str,
    ) -> impl std::future::Future<Output = Result<Result<Value, Refusal>, WorkerError>> + Send;
}

pub(crate) enum Auth {
    App(AppAuth),
    Token(String),
}

pub(crate) struct AppAuth {
    app_id: u64,
    key: EncodingKey,
    tokens: Mutex<HashMap<u64, (String, DateTime<Utc>)>>,
    installations: Mutex<HashMap<String, u64>>,
    bot: Mutex<Option<(String, String)>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::App(a) => write!(f, "App {{ app_id: {} }}", a.app_id),
            Self::Token(_) => f.write_str("Token(***)"),
        }
    }
}

#[derive(Serialize)]
struct Claims {
    iat: i64,
    exp: i64,
    iss: String,
}

impl Auth {
    pub(crate) fn new(credentials: &Credentials) -> Result<Self, WorkerError> {
        Ok(match credentials {
            Credentials::Token(t) => Self::Token(t.clone()),
            Credentials::App { app_id, key_pem } => Self::App(AppAuth {
                app_id: *app_id,
                key: EncodingKey::from_rsa_pem(key_pem.as_bytes())
                    .map_err(|e| WorkerError::invalid(format!("GitHub App key: {e}")))?,
                tokens: Mutex::new(HashMap::new()),
                installations: Mutex::new(HashMap::new()),
                bot: Mutex::new(None),
            }),
        })
    }

    pub(crate) fn note_installation(&self, repo: &str, installation: u64) {
        if let Self::App(app) = self {
            lock(&app.installations).insert(repo.to_owned(), installation);
        }
    }

    pub(crate) fn forget_token(&self, repo: &str) {
        if let Self::App(app) = self
            && let Some(id) = lock(&app.installations).get(repo).copied()
        {
            lock(&app.tokens).remove(&id);
        }
    }

    /// The App's bot account as a commit identity (name, email), looked up once with the
    /// App's JWT (`GET /app`: its slug) and `repo`'s installation token (`GET /users/…`: the
    /// bot's user id, which GitHub's no-reply address carries); `None` for a token.
    pub(crate) async fn bot_identity(
        &self,
        api: &impl RawCall,
        repo: &str,
    ) -> Result<Option<(String, String)>, WorkerError> {
        let Self::App(app) = self else {
            return Ok(None);
        };
        if let Some(known) = lock(&app.bot).clone() {
            return Ok(Some(known));
        }
        let about = match api.raw_call(Method::GET, "/app", &app.jwt()?).await? {
            Ok(body) => body,
            Err(r) => return Err(refused(repo, &r)),
        };
        let slug = about["slug"]
            .as_str()
            .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            .ok_or_else(|| WorkerError::transient("GitHub /app: the answer has no usable slug"))?
            .to_owned();
        let login = format!("{slug}[bot]");
        let path = format!("/users/{slug}%5Bbot%5D");
        let bearer = self.bearer_for(api, repo).await?;
        let user = match api.raw_call(Method::GET, &path, &bearer).await? {
            Ok(body) => body,
            Err(r) => return Err(refused(repo, &r)),
        };
        let id = user["id"]
            .as_u64()
            .ok_or_else(|| WorkerError::transient(format!("GitHub {path}: no user id")))?;
        let identity = (
            login.clone(),
            format!("{id}+{login}@users.noreply.github.com"),
        );
        *lock(&app.bot) = Some(identity.clone());
        Ok(Some(identity))
    }

    /// A JWT for the App's own endpoints; refused for a token.
    pub(crate) fn app_jwt(&self) -> Result<String, WorkerError> {
        match self {
            Self::App(app) => app.jwt(),
            Self::Token(_) => Err(WorkerError::Permanent {
                class: "config",
                reason: "the GitHub App's own endpoints need a GitHub App, not a token".into(),
            }),
        }
    }

    pub(crate) fn is_app(&self) -> bool {
        matches!(self, Self::App(_))
    }

    /// The bearer token for calls about `repo`.
    pub(crate) async fn bearer_for(
        &self,
        api: &impl RawCall,
        repo: &str,
    ) -> Result<String, WorkerError> {
        let app = match self {
            Self::Token(t) => return Ok(t.clone()),
            Self::App(app) => app,
        };
        let known = lock(&app.installations).get(repo).copied();
        let installation = match known {
            Some(id) => id,
            None => {
                let id = app.lookup_installation(api, repo).await?;
                lock(&app.installations).insert(repo.to_owned(), id);
                id
            }
        };
        let cached = lock(&app.tokens).get(&installation).cloned();
        if let Some((token, expires)) = cached
            && expires - Utc::now() > chrono::Duration::from_std(RENEW_BEFORE).unwrap_or_default()
        {
            return Ok(token);
        }
        let (token, expires) = app.installation_token(api, repo, installation).await?;
        lock(&app.tokens).insert(installation, (token.clone(), expires));
        Ok(token)
    }
}

impl AppAuth {
    fn jwt(&self) -> Result<String, WorkerError> {
        let now = Utc::now().timestamp();
        // Backdated a minute against clock drift, as GitHub recommends; ten minutes at most.
        let claims = Claims {
            iat: now - 60,
            exp: now + 9 * 60,
            iss: self.app_id.to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|e| WorkerError::invalid(format!("GitHub App JWT: {e}")))
    }

    /// The App's installation on `repo` (`owner/repo`), or on an organisation (its login).
    async fn lookup_installation(
        &self,
        api: &impl RawCall,
        repo: &str,
    ) -> Result<u64, WorkerError> {
        let path = if repo.contains('/') {
            format!("/repos/{repo}/installation")
        } else {
            format!("/orgs/{repo}/installation")
        };
        match api.raw_call(Method::GET, &path, &self.jwt()?).await? {
            Ok(body) => body["id"].as_u64().ok_or_else(|| {
                WorkerError::transient(format!("GitHub {path}: the answer has no installation id"))
            }),
            Err(r) if r.status == StatusCode::NOT_FOUND => Err(WorkerError::Permanent {
                class: "github",
                reason: format!("GitHub, {repo}: the GitHub App is not installed on it"),
            }),
            Err(r) => Err(refused(repo, &r)),
        }
    }

    async fn installation_token(
        &self,
        api: &impl RawCall,
        repo: &str,
        installation: u64,
    ) -> Result<(String, DateTime<Utc>), WorkerError> {
        let path = format!("/app/installations/{installation}/access_tokens");
        let body = match api.raw_call(Method::POST, &path, &self.jwt()?).await? {
            Ok(body) => body,
            Err(r) => return Err(refused(repo, &r)),
        };
        let token = body["token"].as_str().map(str::to_owned);
        let expires = body["expires_at"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        match (token, expires) {
            (Some(token), Some(expires)) => {
                tracing::debug!(installation, %expires, "installation token");
                Ok((token, expires))
            }
            _ => Err(WorkerError::transient(format!(
                "GitHub {path}: the answer has no token or expiry"
            ))),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
