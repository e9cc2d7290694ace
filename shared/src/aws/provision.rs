//! Creates the AWS resources CodeRipple needs, idempotently (`coderipple init --backend aws`,
//! and each test's own resources). Production stacks come from `infra/` instead; this is the
//! development path, with the same shapes: a FIFO DLQ, a FIFO events queue redriving to it
//! after `max_receives`, the table with TTL on `expires_at`, and the bucket with a lifecycle
//! rule that expires claim-checked bodies.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter,
};
use aws_sdk_sqs::types::QueueAttributeName;

use super::error::{code, sdk_error};
use super::s3::CLAIM_CHECK_PREFIX;
use super::sqs::SqsQueue;
use super::{AwsClients, QueueRef};
use crate::config::Settings;
use crate::error::{Error, Result};

/// Names of the resources to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceNames {
    /// Events queue (must end in `.fifo`).
    pub queue: String,
    /// Dead-letter queue (must end in `.fifo`).
    pub dlq: String,
    /// Table.
    pub table: String,
    /// Bucket.
    pub bucket: String,
}

/// What exists after [`provision`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    /// Events queue URL.
    pub queue_url: String,
    /// DLQ URL.
    pub dlq_url: String,
    /// Table name.
    pub table: String,
    /// Bucket name.
    pub bucket: String,
}

/// Days S3 keeps a claim-checked body: as long as the default delivery record (a message's
/// longest life on the queue, in the DLQ and on the queue again after a replay, and a day), so
/// a body outlives every message that refers to it.
pub const CLAIM_CHECK_DAYS: i32 = 43;

/// Creates (or finds) every resource; safe to run again.
pub async fn provision(
    clients: &AwsClients,
    names: &ResourceNames,
    settings: &Settings,
) -> Result<Provisioned> {
    let (queue_url, dlq_url) = ensure_queues(clients, &names.queue, &names.dlq, settings).await?;
    ensure_table(clients, &names.table).await?;
    ensure_bucket(clients, &names.bucket).await?;
    Ok(Provisioned {
        queue_url,
        dlq_url,
        table: names.table.clone(),
        bucket: names.bucket.clone(),
    })
}

/// Creates (or finds) the DLQ and the events queue redriving to it; returns their URLs.
pub async fn ensure_queues(
    clients: &AwsClients,
    queue: &str,
    dlq: &str,
    settings: &Settings,
) -> Result<(String, String)> {
    for q in [queue, dlq] {
        if !q.ends_with(".fifo") {
            return Err(Error::Config(format!("queue name {q} must end in .fifo")));
        }
    }
    let dlq_url = ensure_queue(
        clients,
        dlq,
        &[
            (QueueAttributeName::FifoQueue, "true".to_owned()),
            (
                QueueAttributeName::MessageRetentionPeriod,
                settings.dlq_retention.as_secs().to_string(),
            ),
        ],
    )
    .await?;
    let dlq_arn = queue_arn(clients, &dlq_url).await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": settings.max_receives,
    });
    let queue_url = ensure_queue(
        clients,
        queue,
        &[
            (QueueAttributeName::FifoQueue, "true".to_owned()),
            (
                QueueAttributeName::VisibilityTimeout,
                settings.visibility_timeout.as_secs().to_string(),
            ),
            (QueueAttributeName::RedrivePolicy, redrive.to_string()),
            (
                QueueAttributeName::MessageRetentionPeriod,
                settings.queue_retention.as_secs().to_string(),
            ),
            (
                QueueAttributeName::DeduplicationScope,
                "messageGroup".to_owned(),
            ),
            (
                QueueAttributeName::FifoThroughputLimit,
                "perMessageGroupId".to_owned(),
            ),
        ],
    )
    .await?;
    Ok((queue_url, dlq_url))
}

async fn ensure_queue(
    clients: &AwsClients,
    name: &str,
    attributes: &[(QueueAttributeName, String)],
) -> Result<String> {
    let mut create = clients.sqs.create_queue().queue_name(name);
    for (k, v) in attributes {
        create = create.attributes(k.clone(), v);
    }
    match create.send().await {
        Ok(out) => out
            .queue_url
            .ok_or_else(|| Error::Unavailable(format!("create queue {name}: no URL"))),
        // Exists with other attributes: bring them up to date.
        Err(e) if matches!(code(&e), Some("QueueAlreadyExists" | "QueueNameExists")) => {
            let url = SqsQueue::resolve(&clients.sqs, &QueueRef::Name(name.to_owned())).await?;
            let mut set = clients.sqs.set_queue_attributes().queue_url(&url);
            for (k, v) in attributes {
                if *k != QueueAttributeName::FifoQueue {
                    set = set.attributes(k.clone(), v);
                }
            }
            set.send()
                .await
                .map_err(|e| sdk_error(&format!("update queue {name}"), e))?;
            Ok(url)
        }
        Err(e) => Err(sdk_error(&format!("create queue {name}"), e)),
    }
}

async fn queue_arn(clients: &AwsClients, url: &str) -> Result<String> {
    clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| sdk_error("queue arn", e))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| Error::Unavailable(format!("queue {url}: no ARN")))
}

/// Creates (or finds) the table, waits until it is active, and turns TTL on.
pub async fn ensure_table(clients: &AwsClients, table: &str) -> Result<()> {
    let ddb = &clients.dynamodb;
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("name and type are set")
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("name and type are set")
    };
    let created = ddb
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) if code(&e) == Some("ResourceInUseException") => {}
        Err(e) => return Err(sdk_error(&format!("create table {table}"), e)),
    }
    for _ in 0..120 {
        let status = ddb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("describe table {table}"), e))?
            .table
            .and_then(|t| t.table_status);
        if status == Some(TableStatus::Active) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ttl = ddb
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("describe TTL of {table}"), e))?;
    let enabled = ttl
        .time_to_live_description
        .and_then(|d| d.time_to_live_status)
        .is_some_and(|s| matches!(s, TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling));
    if !enabled {
        ddb.update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name("expires_at")
                    .build()
                    .expect("enabled and name are set"),
            )
            .send()
            .await
            .map_err(|e| sdk_error(&format!("enable TTL on {table}"), e))?;
    }
    Ok(())
}

/// Creates (or finds) the bucket and sets the claim-check lifecycle rule.
pub async fn ensure_bucket(clients: &AwsClients, bucket: &str) -> Result<()> {
    let mut create = clients.s3.create_bucket().bucket(bucket);
    let region = clients
        .config
        .region()
        .map(|r| r.as_ref().to_owned())
        .unwrap_or_default();
    if !region.is_empty() && region != "us-east-1" {
        create = create.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(region.as_str().into())
                .build(),
        );
    }
    match create.send().await {
        Ok(_) => {}
        Err(e) if matches!(code(&e), Some("BucketAlreadyOwnedByYou")) => {}
        Err(e) => return Err(sdk_error(&format!("create bucket {bucket}"), e)),
    }
    let rule = LifecycleRule::builder()
        .id("expire-claim-checks")
        .status(ExpirationStatus::Enabled)
        .filter(
            LifecycleRuleFilter::builder()
                .prefix(CLAIM_CHECK_PREFIX)
                .build(),
        )
        .expiration(
            LifecycleExpiration::builder()
                .days(CLAIM_CHECK_DAYS)
                .build(),
        )
        .build()
        .map_err(|e| Error::Config(format!("lifecycle rule: {e}")))?;
    clients
        .s3
        .put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(rule)
                .build()
                .map_err(|e| Error::Config(format!("lifecycle: {e}")))?,
        )
        .send()
        .await
        .map_err(|e| sdk_error(&format!("lifecycle of {bucket}"), e))?;
    Ok(())
}
