//! GitHub credentials and API location, from `CODERIPPLE_GITHUB_*`.

use std::time::Duration;

use coderipple_core::WorkerError;

/// How the worker authenticates to GitHub's REST API.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A GitHub App: JWTs signed with its private key, exchanged for installation tokens.
    App {
        /// `CODERIPPLE_GITHUB_APP_ID`.
        app_id: u64,
        /// The private key (PEM), from `CODERIPPLE_GITHUB_APP_KEY_PARAM` or
        /// `CODERIPPLE_GITHUB_APP_KEY_FILE`.
        key_pem: String,
    },
    /// A token (`CODERIPPLE_GITHUB_TOKEN`) for a single repository or organisation.
    Token(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key or the token.
        match self {
            Self::App { app_id, .. } => write!(f, "App {{ app_id: {app_id} }}"),
            Self::Token(_) => f.write_str("Token(***)"),
        }
    }
}

/// Where GitHub is and who we are there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubConfig {
    /// `CODERIPPLE_GITHUB_API_URL` (default `https://api.github.com`; GitHub Enterprise
    /// Server: `https://HOST/api/v3`), without a trailing `/`.
    pub api_url: String,
    /// The credentials.
    pub credentials: Credentials,
    /// Longest `Retry-After` / rate-limit reset waited for in place
    /// (`CODERIPPLE_GITHUB_MAX_WAIT_SECS`); a longer one fails the call as transient.
    pub max_wait: Duration,
}

impl GitHubConfig {
    /// `None` when no GitHub credentials are configured.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, WorkerError> {
        let api_url = lookup("CODERIPPLE_GITHUB_API_URL")
            .unwrap_or_else(|| "https://api.github.com".into())
            .trim()
            .trim_end_matches('/')
            .to_owned();
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            return Err(config(format!(
                "CODERIPPLE_GITHUB_API_URL must be an http(s) URL, got {api_url:?}"
            )));
        }
        let max_wait = match lookup("CODERIPPLE_GITHUB_MAX_WAIT_SECS") {
            Some(raw) => Duration::from_secs(raw.trim().parse().map_err(|_| {
                config(format!(
                    "CODERIPPLE_GITHUB_MAX_WAIT_SECS must be a whole number, got {raw:?}"
                ))
            })?),
            None => Duration::from_secs(60),
        };
        let app_id = lookup("CODERIPPLE_GITHUB_APP_ID");
        // The key's text (as read from `CODERIPPLE_GITHUB_APP_KEY_PARAM` at start), or a file.
        let key = match (
            lookup("CODERIPPLE_GITHUB_APP_KEY"),
            lookup("CODERIPPLE_GITHUB_APP_KEY_FILE"),
        ) {
            (Some(pem), _) => Some(("CODERIPPLE_GITHUB_APP_KEY(_PARAM)".to_owned(), Ok(pem))),
            (None, Some(file)) => Some((
                format!("CODERIPPLE_GITHUB_APP_KEY_FILE {file}"),
                std::fs::read_to_string(&file),
            )),
            (None, None) => None,
        };
        let token = lookup("CODERIPPLE_GITHUB_TOKEN").filter(|t| !t.trim().is_empty());
        let credentials = match (app_id, key, token) {
            (Some(id), Some((source, key)), None) => {
                let app_id = id.trim().parse().map_err(|_| {
                    config(format!(
                        "CODERIPPLE_GITHUB_APP_ID must be a number, got {id:?}"
                    ))
                })?;
                let key_pem = key.map_err(|e| config(format!("{source}: {e}")))?;
                jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.as_bytes()).map_err(|e| {
                    config(format!("{source} is not an RSA private key (PEM): {e}"))
                })?;
                Credentials::App { app_id, key_pem }
            }
            (None, None, Some(token)) => Credentials::Token(token.trim().to_owned()),
            (None, None, None) => return Ok(None),
            (Some(_), None, _) | (None, Some(_), _) => {
                return Err(config(
                    "a GitHub App needs both CODERIPPLE_GITHUB_APP_ID and its key \
                     (CODERIPPLE_GITHUB_APP_KEY_PARAM or CODERIPPLE_GITHUB_APP_KEY_FILE)",
                ));
            }
            (Some(_), Some(_), Some(_)) => {
                return Err(config(
                    "set a GitHub App (CODERIPPLE_GITHUB_APP_ID + _KEY_FILE) or CODERIPPLE_GITHUB_TOKEN, not both",
                ));
            }
        };
        Ok(Some(Self {
            api_url,
            credentials,
            max_wait,
        }))
    }
}

fn config(reason: impl Into<String>) -> WorkerError {
    WorkerError::Permanent {
        class: "config",
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Option<GitHubConfig>, WorkerError> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        GitHubConfig::from_env(|k| vars.get(k).cloned())
    }

    #[test]
    fn nothing_configured_is_none_and_a_token_is_enough() {
        assert_eq!(from(&[]).unwrap(), None);
        let c = from(&[
            ("CODERIPPLE_GITHUB_TOKEN", "ghp_x"),
            ("CODERIPPLE_GITHUB_API_URL", "https://ghe.example/api/v3/"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.api_url, "https://ghe.example/api/v3");
        assert_eq!(c.credentials, Credentials::Token("ghp_x".into()));
        assert!(!format!("{c:?}").contains("ghp_x"), "never logged");
    }

    #[test]
    fn incomplete_or_bad_credentials_are_refused_with_the_variable_named() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_key = dir.path().join("key.pem");
        std::fs::write(&not_a_key, "hello").unwrap();
        let path = not_a_key.to_str().unwrap();
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("CODERIPPLE_GITHUB_APP_ID", "1")], "both"),
            (
                &[
                    ("CODERIPPLE_GITHUB_APP_ID", "x"),
                    ("CODERIPPLE_GITHUB_APP_KEY_FILE", path),
                ],
                "APP_ID",
            ),
            (
                &[
                    ("CODERIPPLE_GITHUB_APP_ID", "1"),
                    ("CODERIPPLE_GITHUB_APP_KEY_FILE", path),
                ],
                "not an RSA private key",
            ),
            (
                &[
                    ("CODERIPPLE_GITHUB_APP_ID", "1"),
                    ("CODERIPPLE_GITHUB_APP_KEY_FILE", "/no/such"),
                ],
                "/no/such",
            ),
            (
                &[
                    ("CODERIPPLE_GITHUB_APP_ID", "1"),
                    ("CODERIPPLE_GITHUB_APP_KEY", "-----BEGIN junk"),
                ],
                "CODERIPPLE_GITHUB_APP_KEY(_PARAM) is not an RSA private key",
            ),
            (
                &[
                    ("CODERIPPLE_GITHUB_TOKEN", "t"),
                    ("CODERIPPLE_GITHUB_API_URL", "ftp://x"),
                ],
                "CODERIPPLE_GITHUB_API_URL",
            ),
            (
                &[
                    ("CODERIPPLE_GITHUB_TOKEN", "t"),
                    ("CODERIPPLE_GITHUB_MAX_WAIT_SECS", "soon"),
                ],
                "MAX_WAIT",
            ),
        ];
        for (vars, needle) in cases {
            let err = from(vars).expect_err(needle).to_string();
            assert!(err.contains(needle), "{vars:?}: {err}");
        }
    }
}
