//! Recent CloudWatch metrics for `coderipple status --backend aws`: last hour's sums of the
//! counters ingest and worker emit (EMF, namespace `CodeRipple`), in one `GetMetricData`.
//! Metrics are informative: if CloudWatch cannot be read, status says so and goes on.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use coderipple_core::aws::AwsClients;
use coderipple_core::metrics::NAMESPACE;
use serde_json::json;

/// The counters shown, by function.
const COUNTERS: [(&str, &str); 9] = [
    ("ingest", "WebhooksReceived"),
    ("ingest", "WebhooksQueued"),
    ("ingest", "WebhooksRejected"),
    ("ingest", "WebhooksUnavailable"),
    ("worker", "MessagesProcessed"),
    ("worker", "MessagesFailed"),
    ("worker", "MessagesDeadLettered"),
    ("worker", "WriterCacheHits"),
    ("worker", "WriterCalls"),
];

/// Last hour's sums, or why they could not be read.
#[derive(Debug, Default)]
pub struct Recent {
    pub sums: BTreeMap<String, f64>,
    pub error: Option<String>,
}

impl Recent {
    pub fn to_json(&self) -> serde_json::Value {
        match &self.error {
            Some(e) => json!({"error": e}),
            None => json!(self.sums),
        }
    }

    pub fn print(&self) {
        match &self.error {
            Some(e) => println!("metrics: not available ({e})"),
            None if self.sums.values().all(|v| *v == 0.0) => {
                println!("metrics (last hour): no datapoints");
            }
            None => {
                let parts: Vec<String> =
                    self.sums.iter().map(|(k, v)| format!("{k} {v}")).collect();
                println!("metrics (last hour): {}", parts.join(", "));
            }
        }
    }
}

pub async fn recent(clients: &AwsClients) -> Recent {
    match read(clients).await {
        Ok(sums) => Recent { sums, error: None },
        Err(e) => Recent {
            sums: BTreeMap::new(),
            error: Some(e),
        },
    }
}

async fn read(clients: &AwsClients) -> Result<BTreeMap<String, f64>, String> {
    let cw = aws_sdk_cloudwatch::Client::new(&clients.config);
    // One hour-long period ending a minute from now: the end is exclusive and whole seconds,
    // so a datapoint from this very second still counts.
    let end = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    let start = end - std::time::Duration::from_secs(3600);
    let mut request = cw
        .get_metric_data()
        .start_time(DateTime::from(start))
        .end_time(DateTime::from(end));
    for (i, (function, name)) in COUNTERS.iter().enumerate() {
        let metric = Metric::builder()
            .namespace(NAMESPACE)
            .metric_name(*name)
            .dimensions(
                Dimension::builder()
                    .name("Function")
                    .value(*function)
                    .build(),
            )
            .build();
        let stat = MetricStat::builder()
            .metric(metric)
            .period(3600)
            .stat("Sum")
            .build();
        request = request.metric_data_queries(
            MetricDataQuery::builder()
                .id(format!("m{i}"))
                .metric_stat(stat)
                .return_data(true)
                .build(),
        );
    }
    let out = request
        .send()
        .await
        .map_err(|e| aws_sdk_cloudwatch::error::DisplayErrorContext(e).to_string())?;
    let mut sums: BTreeMap<String, f64> = COUNTERS
        .iter()
        .map(|(_, name)| ((*name).to_owned(), 0.0))
        .collect();
    for result in out.metric_data_results.unwrap_or_default() {
        let index: Option<usize> = result
            .id
            .as_deref()
            .and_then(|id| id.strip_prefix('m'))
            .and_then(|i| i.parse().ok());
        if let Some((_, name)) = index.and_then(|i| COUNTERS.get(i)) {
            let total: f64 = result.values.unwrap_or_default().iter().sum();
            *sums.entry((*name).to_owned()).or_insert(0.0) += total;
        }
    }
    Ok(sums)
}
