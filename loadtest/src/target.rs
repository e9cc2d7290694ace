//! Where requests go: the ingest URL over HTTP (the whole front door: signature, limits,
//! the durable intake), or the queue directly through the intake step ingest runs
//! ([`coderipple_core::intake::accept`]; no HTTP, no signature), so ingest and workers can be
//! measured apart.

use std::sync::Arc;
use std::time::Duration;

use coderipple_core::Backend;
use coderipple_core::intake::{self, Accepted};
use coderipple_core::signature::{SIGNATURE_HEADER, sign};
use coderipple_core::webhook::{Parsed, parse};

use crate::traffic::{Kind, Request};

/// What the target answered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Answer {
    /// HTTP status (0: no answer: the connection failed).
    pub status: u16,
    /// `queued`, `duplicate`, `ignored`, `pong`, or the error text.
    pub what: String,
}

impl Answer {
    /// Whether a redelivery could succeed: 5xx, or no answer at all (GitHub itself never
    /// redelivers; the tester re-sends these as a redelivery by hand would).
    pub fn wants_resend(&self) -> bool {
        self.status == 0 || self.status >= 500
    }
}

/// A target.
#[derive(Debug, Clone)]
pub enum Target {
    /// `POST` to the ingest URL, signed with `secret`.
    Http {
        /// The client (keep-alive pool).
        client: reqwest::Client,
        /// The webhook URL.
        url: String,
        /// The webhook secret.
        secret: Arc<[u8]>,
    },
    /// The intake step, in process, over the backend's queue and store.
    Queue(Arc<Backend>),
}

impl Target {
    /// An HTTP target.
    pub fn http(url: &str, secret: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(512)
            .build()?;
        Ok(Self::Http {
            client,
            url: url.to_owned(),
            secret: Arc::from(secret.as_bytes()),
        })
    }

    /// The target's name in reports.
    pub fn describe(&self) -> String {
        match self {
            Self::Http { url, .. } => format!("http {url}"),
            Self::Queue(backend) => format!("queue ({} intake, no HTTP)", backend.kind),
        }
    }

    /// Sends one copy of `request`.
    pub async fn send(&self, request: &Request) -> Answer {
        match self {
            Self::Http {
                client,
                url,
                secret,
            } => {
                let signature = if request.kind == Kind::BadSignature {
                    sign(b"not-the-webhook-secret", &request.body)
                } else {
                    sign(secret, &request.body)
                };
                let sent = client
                    .post(url)
                    .header("content-type", "application/json")
                    .header("x-github-event", &request.event)
                    .header("x-github-delivery", &request.delivery)
                    .header(SIGNATURE_HEADER, signature)
                    .body(request.body.to_vec())
                    .send()
                    .await;
                match sent {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let text = response.text().await.unwrap_or_default();
                        let what = serde_json::from_str::<serde_json::Value>(&text)
                            .ok()
                            .and_then(|v| {
                                v["status"]
                                    .as_str()
                                    .or(v["error"].as_str())
                                    .map(str::to_owned)
                            })
                            .unwrap_or(text);
                        Answer { status, what }
                    }
                    Err(e) => Answer {
                        status: 0,
                        what: format!("no answer: {e}"),
                    },
                }
            }
            Self::Queue(backend) => {
                let parsed = parse(
                    &request.event,
                    &request.delivery,
                    &request.body,
                    chrono::Utc::now(),
                );
                let accepted = match parsed {
                    Ok(Parsed::Event(envelope)) => {
                        intake::accept(
                            &*backend.intake,
                            &*backend.blobs,
                            &backend.settings,
                            *envelope,
                        )
                        .await
                    }
                    Ok(Parsed::Ping) => return answer(200, "pong"),
                    Ok(Parsed::Ignored { .. }) => return answer(202, "ignored"),
                    Err(e) => Err(e),
                };
                // The statuses of the HTTP contract (`docs/http-contract.md`).
                match accepted {
                    Ok(Accepted::Queued) => answer(202, "queued"),
                    Ok(Accepted::Duplicate) => answer(200, "duplicate"),
                    Err(e) => answer(e.http_status(), &e.to_string()),
                }
            }
        }
    }
}

fn answer(status: u16, what: &str) -> Answer {
    Answer {
        status,
        what: what.to_owned(),
    }
}
