//! `coderipple send`: sign and post a webhook, as GitHub would.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use coderipple_core::signature::sign;

use crate::{samples, secret};

pub struct SendArgs {
    pub url: String,
    pub event: String,
    pub delivery: Option<String>,
    pub repo: String,
    pub form: bool,
    pub data_dir: PathBuf,
    pub file: Option<PathBuf>,
}

pub async fn run(args: SendArgs) -> anyhow::Result<ExitCode> {
    let payload = match &args.file {
        Some(path) => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        None => match samples::sample(&args.event, &args.repo) {
            Some(v) => serde_json::to_vec(&v)?,
            None => bail!(
                "no built-in sample for --event {}; pass a payload FILE (samples: push, pull_request, release, create, ping)",
                args.event
            ),
        },
    };
    let (body, content_type) = if args.form {
        let json = String::from_utf8(payload).context("payload is not UTF-8")?;
        let encoded = reqwest::Url::parse_with_params("x:", [("payload", json.as_str())])?
            .query()
            .unwrap_or_default()
            .to_owned();
        (encoded.into_bytes(), "application/x-www-form-urlencoded")
    } else {
        (payload, "application/json")
    };
    let secret = secret::for_client(&args.data_dir)?;
    let delivery = args
        .delivery
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let response = reqwest::Client::new()
        .post(&args.url)
        .header("content-type", content_type)
        .header("user-agent", "GitHub-Hookshot/coderipple-send")
        .header("x-github-event", &args.event)
        .header("x-github-delivery", &delivery)
        .header("x-hub-signature-256", sign(secret.as_bytes(), &body))
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot reach {} (--url / CODERIPPLE_URL)", args.url))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    println!("{} {} (delivery {delivery})", status.as_u16(), text.trim());
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
