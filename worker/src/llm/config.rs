//! The writer's settings: `CODERIPPLE_WRITER` and its companions, checked at start.

use std::sync::Arc;
use std::time::Duration;

use super::{BedrockModel, LanguageModel, OpenAiModel, WriterLimits};
use crate::vars::{config, whole_number};
use coderipple_core::WorkerError;

/// The Bedrock model used when `CODERIPPLE_WRITER_MODEL` is not set: small and cheap.
pub const DEFAULT_BEDROCK_MODEL: &str = "amazon.nova-micro-v1:0";

/// Which model writes prose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriterKind {
    /// No writer: deterministic docs only (the default).
    #[default]
    None,
    /// Bedrock's Converse API.
    Bedrock,
    /// An OpenAI-compatible `/v1/chat/completions`.
    OpenAi,
}

/// The writer's settings.
#[derive(Clone, Default)]
pub struct WriterConfig {
    /// Which model, if any.
    pub kind: WriterKind,
    /// The model (`CODERIPPLE_WRITER_MODEL`).
    pub model: String,
    /// The OpenAI-compatible base URL, up to `/v1` (`CODERIPPLE_WRITER_URL`).
    pub url: Option<String>,
    /// The API key (`CODERIPPLE_WRITER_KEY`, or read from the parameter
    /// `CODERIPPLE_WRITER_KEY_PARAM` names).
    pub key: Option<String>,
    /// Timeout, budget and call cap.
    pub limits: WriterLimits,
}

impl std::fmt::Debug for WriterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterConfig")
            .field("kind", &self.kind)
            .field("model", &self.model)
            .field("url", &self.url)
            .field("key", &self.key.as_ref().map(|_| "(set)"))
            .field("limits", &self.limits)
            .finish()
    }
}

impl WriterConfig {
    /// From `CODERIPPLE_WRITER` (`none` | `bedrock` | `openai`), `CODERIPPLE_WRITER_MODEL`,
    /// `CODERIPPLE_WRITER_URL`, `CODERIPPLE_WRITER_KEY`, `CODERIPPLE_WRITER_TIMEOUT_SECS`,
    /// `CODERIPPLE_WRITER_DAILY_TOKENS`, `CODERIPPLE_WRITER_DAILY_TOKENS_TOTAL`,
    /// `CODERIPPLE_WRITER_MAX_CALLS`, `CODERIPPLE_WRITER_MAX_TOKENS` and
    /// `CODERIPPLE_WRITER_RETRY_AFTER_SECS`.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, WorkerError> {
        let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let kind = match set("CODERIPPLE_WRITER").as_deref().map(str::trim) {
            None | Some("none") => WriterKind::None,
            Some("bedrock") => WriterKind::Bedrock,
            Some("openai") => WriterKind::OpenAi,
            Some(other) => {
                return Err(config(format!(
                    "CODERIPPLE_WRITER must be none, bedrock or openai, got {other:?}"
                )));
            }
        };
        let number = |name: &str, default: u64| whole_number(set, name, default);
        let d = WriterLimits::default();
        let limits = WriterLimits {
            timeout: Duration::from_secs(
                number("CODERIPPLE_WRITER_TIMEOUT_SECS", d.timeout.as_secs())?.max(1),
            ),
            daily_tokens: number("CODERIPPLE_WRITER_DAILY_TOKENS", d.daily_tokens)?,
            daily_tokens_total: number(
                "CODERIPPLE_WRITER_DAILY_TOKENS_TOTAL",
                d.daily_tokens_total,
            )?,
            retry_after: Duration::from_secs(number(
                "CODERIPPLE_WRITER_RETRY_AFTER_SECS",
                d.retry_after.as_secs(),
            )?),
            max_calls: number("CODERIPPLE_WRITER_MAX_CALLS", d.max_calls as u64)? as usize,
            pause: d.pause,
            max_tokens: u32::try_from(
                number("CODERIPPLE_WRITER_MAX_TOKENS", u64::from(d.max_tokens))?.clamp(16, 4096),
            )
            .unwrap_or(d.max_tokens),
        };
        let model = set("CODERIPPLE_WRITER_MODEL").map(|m| m.trim().to_owned());
        let url = set("CODERIPPLE_WRITER_URL").map(|u| u.trim().to_owned());
        let (model, url) = match kind {
            WriterKind::None => (model.unwrap_or_default(), url),
            WriterKind::Bedrock => (model.unwrap_or_else(|| DEFAULT_BEDROCK_MODEL.into()), url),
            WriterKind::OpenAi => {
                let url = url.ok_or_else(|| {
                    config("CODERIPPLE_WRITER=openai needs CODERIPPLE_WRITER_URL (e.g. http://127.0.0.1:11434/v1)")
                })?;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(config(format!(
                        "CODERIPPLE_WRITER_URL must be an http(s) URL, got {url:?}"
                    )));
                }
                let model = model.ok_or_else(|| {
                    config("CODERIPPLE_WRITER=openai needs CODERIPPLE_WRITER_MODEL (the server's model name)")
                })?;
                (model, Some(url))
            }
        };
        Ok(Self {
            kind,
            model,
            url,
            key: set("CODERIPPLE_WRITER_KEY"),
            limits,
        })
    }

    /// Whether the model is Bedrock's (and so needs the AWS configuration).
    pub fn needs_aws(&self) -> bool {
        self.kind == WriterKind::Bedrock
    }

    /// The model these settings name (`None` when the writer is off); `bedrock` is the
    /// client configuration a Bedrock model is reached with ([`bedrock_config`]).
    pub fn model(
        &self,
        bedrock: Option<aws_sdk_bedrockruntime::Config>,
    ) -> Result<Option<Arc<dyn LanguageModel>>, WorkerError> {
        match self.kind {
            WriterKind::None => Ok(None),
            WriterKind::Bedrock => {
                let conf = bedrock.ok_or_else(|| {
                    config("CODERIPPLE_WRITER=bedrock needs the AWS configuration")
                })?;
                let client = aws_sdk_bedrockruntime::Client::from_conf(conf);
                Ok(Some(Arc::new(BedrockModel::new(
                    client,
                    &self.model,
                    self.limits.timeout,
                ))))
            }
            WriterKind::OpenAi => {
                let url = self.url.as_deref().unwrap_or_default();
                let model =
                    OpenAiModel::new(url, &self.model, self.key.clone(), self.limits.timeout)
                        .map_err(|e| config(format!("CODERIPPLE_WRITER_URL: {e}")))?;
                Ok(Some(Arc::new(model)))
            }
        }
    }
}

/// Bedrock's client configuration from the loaded AWS configuration (`aws_config::SdkConfig`),
/// without the SDK's retries: a throttled or failed call leaves the deterministic text and is
/// asked again by a later change set, never retried in place.
pub fn bedrock_config<C>(sdk: &C) -> aws_sdk_bedrockruntime::Config
where
    for<'a> aws_sdk_bedrockruntime::Config: From<&'a C>,
{
    let conf: aws_sdk_bedrockruntime::Config = sdk.into();
    conf.to_builder()
        .retry_config(aws_sdk_bedrockruntime::config::retry::RetryConfig::disabled())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<WriterConfig, WorkerError> {
        let vars: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        WriterConfig::from_env(|k| vars.get(k).cloned())
    }

    #[test]
    fn off_by_default_and_bedrock_defaults_to_a_small_model() {
        assert_eq!(parse(&[]).unwrap().kind, WriterKind::None);
        let bedrock = parse(&[("CODERIPPLE_WRITER", "bedrock")]).unwrap();
        assert_eq!(bedrock.model, DEFAULT_BEDROCK_MODEL);
        assert_eq!(bedrock.limits.timeout, Duration::from_secs(20));
        assert_eq!(bedrock.limits.daily_tokens_total, 2_000_000);
        assert_eq!(bedrock.limits.retry_after, Duration::from_secs(3600));
        assert!(bedrock.needs_aws());
        let set = parse(&[
            ("CODERIPPLE_WRITER", "bedrock"),
            ("CODERIPPLE_WRITER_DAILY_TOKENS_TOTAL", "5000"),
            ("CODERIPPLE_WRITER_RETRY_AFTER_SECS", "0"),
        ])
        .unwrap();
        assert_eq!(set.limits.daily_tokens_total, 5000);
        assert!(set.limits.retry_after.is_zero());
    }

    #[test]
    fn bad_settings_name_their_variable() {
        let err = |vars: &[(&str, &str)]| parse(vars).unwrap_err().to_string();
        assert!(err(&[("CODERIPPLE_WRITER", "gpt")]).contains("CODERIPPLE_WRITER must be"));
        assert!(err(&[("CODERIPPLE_WRITER", "openai")]).contains("CODERIPPLE_WRITER_URL"));
        assert!(
            err(&[
                ("CODERIPPLE_WRITER", "openai"),
                ("CODERIPPLE_WRITER_URL", "ftp://x")
            ])
            .contains("http(s) URL")
        );
        assert!(
            err(&[
                ("CODERIPPLE_WRITER", "openai"),
                ("CODERIPPLE_WRITER_URL", "http://h/v1")
            ])
            .contains("CODERIPPLE_WRITER_MODEL")
        );
        assert!(
            err(&[
                ("CODERIPPLE_WRITER", "bedrock"),
                ("CODERIPPLE_WRITER_TIMEOUT_SECS", "soon")
            ])
            .contains("CODERIPPLE_WRITER_TIMEOUT_SECS")
        );
        assert!(
            err(&[
                ("CODERIPPLE_WRITER", "bedrock"),
                ("CODERIPPLE_WRITER_DAILY_TOKENS_TOTAL", "-1")
            ])
            .contains("CODERIPPLE_WRITER_DAILY_TOKENS_TOTAL")
        );
    }

    #[test]
    fn the_key_is_never_printed() {
        let c = parse(&[
            ("CODERIPPLE_WRITER", "openai"),
            ("CODERIPPLE_WRITER_URL", "http://127.0.0.1:1/v1"),
            ("CODERIPPLE_WRITER_MODEL", "m"),
            ("CODERIPPLE_WRITER_KEY", "sk-secret"),
        ])
        .unwrap();
        assert!(!format!("{c:?}").contains("sk-secret"));
        assert_eq!(c.model(None).unwrap().unwrap().name(), "openai:m");
    }
}
