//! The AWS backends: SQS FIFO ([`sqs::SqsQueue`]), DynamoDB ([`dynamo::DynamoStore`]) and S3
//! ([`s3::S3BlobStore`]), plus what builds them: [`AwsClients`] (SDK clients, built once per
//! process or Lambda container), [`AwsNames`] (which queue, table and bucket, from
//! `CODERIPPLE_*` variables), [`provision`] (idempotent creation for development and tests) and
//! [`secrets`] (webhook secrets from SSM Parameter Store or Secrets Manager).
//!
//! The SDK reads the standard variables (`AWS_REGION`, `AWS_ENDPOINT_URL`, the credentials
//! chain); nothing here hard-codes an endpoint.

pub mod counter;
pub mod dynamo;
pub mod error;
pub mod provision;
pub mod s3;
pub mod secrets;
pub mod sqs;

use crate::error::{Error, Result};

/// The SDK clients CodeRipple uses, built once from one loaded configuration.
#[derive(Debug, Clone)]
pub struct AwsClients {
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// S3 (path-style addressing when a custom endpoint is set, as emulators need).
    pub s3: aws_sdk_s3::Client,
    /// SSM Parameter Store.
    pub ssm: aws_sdk_ssm::Client,
    /// Secrets Manager.
    pub secrets: aws_sdk_secretsmanager::Client,
    /// The loaded configuration (region, endpoint, credentials), for further clients.
    pub config: aws_config::SdkConfig,
}

/// How the SDK should retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdkRetries {
    /// The SDK's standard retry mode (production).
    Standard,
    /// No retries: a failure surfaces at once (tests, so that gaps fail fast).
    Off,
}

impl AwsClients {
    /// Loads the configuration from the environment and builds every client.
    pub async fn from_env(retries: SdkRetries) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if retries == SdkRetries::Off {
            loader = loader.retry_config(aws_config::retry::RetryConfig::disabled());
        }
        Self::from_config(loader.load().await)
    }

    /// Builds every client from an already loaded configuration.
    pub fn from_config(config: aws_config::SdkConfig) -> Self {
        Self::build(config, None)
    }

    /// Like [`AwsClients::from_config`], with every request counted by `counter`.
    pub fn counted(config: aws_config::SdkConfig, counter: &counter::RequestCounter) -> Self {
        Self::build(config, Some(counter))
    }

    fn build(config: aws_config::SdkConfig, counter: Option<&counter::RequestCounter>) -> Self {
        macro_rules! client {
            ($sdk:ident $(, $extra:ident($arg:expr))*) => {{
                let mut builder = $sdk::config::Builder::from(&config)$(.$extra($arg))*;
                if let Some(c) = counter {
                    builder = builder.interceptor(c.clone());
                }
                $sdk::Client::from_conf(builder.build())
            }};
        }
        Self {
            sqs: client!(aws_sdk_sqs),
            dynamodb: client!(aws_sdk_dynamodb),
            s3: client!(
                aws_sdk_s3,
                force_path_style(config.endpoint_url().is_some())
            ),
            ssm: client!(aws_sdk_ssm),
            secrets: client!(aws_sdk_secretsmanager),
            config,
        }
    }
}

/// Which AWS resources CodeRipple uses, from `CODERIPPLE_*` variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsNames {
    /// `CODERIPPLE_QUEUE_URL` (or the URL of queue `CODERIPPLE_QUEUE_NAME`).
    pub queue: QueueRef,
    /// `CODERIPPLE_DLQ_URL` (or the URL of queue `CODERIPPLE_DLQ_NAME`).
    pub dlq: QueueRef,
    /// `CODERIPPLE_TABLE`.
    pub table: String,
    /// `CODERIPPLE_BUCKET`: claim-checked envelopes (`claim-check/`) and docs (`docs/`).
    pub bucket: String,
}

/// A queue named by URL, or by name to be looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueRef {
    /// A full queue URL.
    Url(String),
    /// A queue name (resolved with `GetQueueUrl`).
    Name(String),
}

/// Default event queue name (development).
pub const DEFAULT_QUEUE: &str = "coderipple-events.fifo";
/// Default DLQ name (development).
pub const DEFAULT_DLQ: &str = "coderipple-events-dlq.fifo";
/// Default table name (development).
pub const DEFAULT_TABLE: &str = "coderipple";
/// Default bucket name (development).
pub const DEFAULT_BUCKET: &str = "coderipple-dev";

impl AwsNames {
    /// Reads the names from the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the names through `lookup`; a URL wins over a name.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let queue_ref = |url_var: &str, name_var: &str, default: &str| -> Result<QueueRef> {
            if let Some(url) = lookup(url_var) {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(Error::Config(format!(
                        "{url_var} must be a queue URL (https://…), got {url:?}"
                    )));
                }
                return Ok(QueueRef::Url(url));
            }
            let name = lookup(name_var).unwrap_or_else(|| default.to_owned());
            if !name.ends_with(".fifo") {
                return Err(Error::Config(format!(
                    "{name_var} must name a FIFO queue (ending in .fifo), got {name:?}"
                )));
            }
            Ok(QueueRef::Name(name))
        };
        let nonempty = |var: &str, default: &str| -> Result<String> {
            let value = lookup(var).unwrap_or_else(|| default.to_owned());
            if value.trim().is_empty() {
                return Err(Error::Config(format!("{var} is empty")));
            }
            Ok(value)
        };
        Ok(Self {
            queue: queue_ref(
                "CODERIPPLE_QUEUE_URL",
                "CODERIPPLE_QUEUE_NAME",
                DEFAULT_QUEUE,
            )?,
            dlq: queue_ref("CODERIPPLE_DLQ_URL", "CODERIPPLE_DLQ_NAME", DEFAULT_DLQ)?,
            table: nonempty("CODERIPPLE_TABLE", DEFAULT_TABLE)?,
            bucket: nonempty("CODERIPPLE_BUCKET", DEFAULT_BUCKET)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(vars: &[(&str, &str)]) -> Result<AwsNames> {
        AwsNames::from_lookup(|k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn defaults_urls_and_bad_values() {
        let d = names(&[]).unwrap();
        assert_eq!(d.queue, QueueRef::Name(DEFAULT_QUEUE.into()));
        assert_eq!(d.table, DEFAULT_TABLE);
        let u = names(&[("CODERIPPLE_QUEUE_URL", "https://sqs/1/q.fifo")]).unwrap();
        assert_eq!(u.queue, QueueRef::Url("https://sqs/1/q.fifo".into()));
        let err = names(&[("CODERIPPLE_QUEUE_NAME", "plain")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("CODERIPPLE_QUEUE_NAME"), "{err}");
        let err = names(&[("CODERIPPLE_DLQ_URL", "q.fifo")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("CODERIPPLE_DLQ_URL"), "{err}");
        let err = names(&[("CODERIPPLE_TABLE", " ")]).unwrap_err().to_string();
        assert!(err.contains("CODERIPPLE_TABLE"), "{err}");
    }
}
