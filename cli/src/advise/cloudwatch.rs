//! Observations from CloudWatch: `AWS/Lambda` metrics (`Duration`, `Invocations`, `Errors`,
//! `Throttles`, `ConcurrentExecutions`) in one `GetMetricData`, and each function's `REPORT`
//! log lines (`Memory Size`, `Max Memory Used`, `Init Duration`) from its log group.

use std::time::Duration;

use anyhow::Context;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use coderipple_core::aws::AwsClients;

use super::{Observation, role_of};

/// Log events read per function at most: `FilterLogEvents` answers oldest first, so a busier
/// function is judged on the start of the window.
const MAX_REPORT_LINES: usize = 10_000;

/// One `REPORT` line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportLine {
    pub duration_ms: f64,
    pub memory_mb: u32,
    pub max_memory_mb: f64,
    pub init_ms: Option<f64>,
}

/// Reads a Lambda `REPORT` line (tab-separated `Key: value unit` fields); `None` when it is
/// not one or a field is missing or malformed. Log text may be anything: nothing here
/// trusts it beyond parsing numbers.
pub fn parse_report(line: &str) -> Option<ReportLine> {
    let line = line.trim_end();
    if !line.starts_with("REPORT ") {
        return None;
    }
    let mut duration = None;
    let mut memory = None;
    let mut max_memory = None;
    let mut init = None;
    for field in line.split('\t').map(str::trim) {
        let number = |prefix: &str, unit: &str| -> Option<f64> {
            let v: f64 = field
                .strip_prefix(prefix)?
                .strip_suffix(unit)?
                .trim()
                .parse()
                .ok()?;
            (v.is_finite() && v >= 0.0).then_some(v)
        };
        if let Some(v) = number("Duration:", "ms") {
            duration = Some(v);
        } else if let Some(v) = number("Memory Size:", "MB") {
            memory = Some(v);
        } else if let Some(v) = number("Max Memory Used:", "MB") {
            max_memory = Some(v);
        } else if let Some(v) = number("Init Duration:", "ms") {
            init = Some(v);
        }
    }
    let memory = memory.filter(|m| *m <= 10_240.0)?;
    Some(ReportLine {
        duration_ms: duration?,
        memory_mb: memory as u32,
        max_memory_mb: max_memory?,
        init_ms: init,
    })
}

/// The functions' observations over the last `window`.
pub async fn observe(
    clients: &AwsClients,
    functions: &[String],
    window: Duration,
) -> anyhow::Result<Vec<Observation>> {
    let now = std::time::SystemTime::now();
    let start = now - window;
    // The end is exclusive and in whole seconds: a minute ahead, so that a datapoint of this
    // very second counts.
    let end = now + Duration::from_secs(60);
    // One period over the whole window: whole minutes, or whole hours from an hour up (which
    // CloudWatch accepts however old the data is).
    let step = if window.as_secs() >= 3600 { 3600 } else { 60 };
    let period = i32::try_from(window.as_secs().div_ceil(step).max(1) * step).unwrap_or(i32::MAX);
    let metrics = metrics(clients, functions, start, end, period).await?;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&clients.config);
    let mut out = Vec::new();
    for (i, function) in functions.iter().enumerate() {
        let get = |id: &str| metrics.get(&format!("{id}{i}")).copied();
        let mut o = Observation {
            function: function.clone(),
            role: role_of(function),
            source: format!("CloudWatch, last {:.1} h", window.as_secs_f64() / 3600.0),
            window_hours: window.as_secs_f64() / 3600.0,
            invocations: get("inv").unwrap_or(0.0),
            errors: get("err").unwrap_or(0.0),
            throttles: get("thr").unwrap_or(0.0),
            avg_duration_ms: get("avg"),
            max_duration_ms: get("max"),
            max_concurrency: get("conc"),
            ..Observation::default()
        };
        read_reports(&logs, function, start, &mut o).await?;
        out.push(o);
    }
    Ok(out)
}

/// Every query's value, by id: sums added up, maxima and averages over the window's points.
async fn metrics(
    clients: &AwsClients,
    functions: &[String],
    start: std::time::SystemTime,
    end: std::time::SystemTime,
    period: i32,
) -> anyhow::Result<std::collections::BTreeMap<String, f64>> {
    const QUERIES: [(&str, &str, &str); 6] = [
        ("inv", "Invocations", "Sum"),
        ("err", "Errors", "Sum"),
        ("thr", "Throttles", "Sum"),
        ("avg", "Duration", "Average"),
        ("max", "Duration", "Maximum"),
        ("conc", "ConcurrentExecutions", "Maximum"),
    ];
    let mut queries = Vec::new();
    for (i, function) in functions.iter().enumerate() {
        for (id, name, stat) in QUERIES {
            let metric = Metric::builder()
                .namespace("AWS/Lambda")
                .metric_name(name)
                .dimensions(
                    Dimension::builder()
                        .name("FunctionName")
                        .value(function)
                        .build(),
                )
                .build();
            queries.push(
                MetricDataQuery::builder()
                    .id(format!("{id}{i}"))
                    .metric_stat(
                        MetricStat::builder()
                            .metric(metric)
                            .period(period)
                            .stat(stat)
                            .build(),
                    )
                    .return_data(true)
                    .build(),
            );
        }
    }
    let cw = aws_sdk_cloudwatch::Client::new(&clients.config);
    let mut points: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for chunk in queries.chunks(500) {
        let mut pages = cw
            .get_metric_data()
            .set_metric_data_queries(Some(chunk.to_vec()))
            .start_time(DateTime::from(start))
            .end_time(DateTime::from(end))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page
                .map_err(|e| {
                    anyhow::anyhow!(aws_sdk_cloudwatch::error::DisplayErrorContext(e).to_string())
                })
                .context("reading AWS/Lambda metrics")?;
            for r in page.metric_data_results() {
                if let Some(id) = r.id() {
                    points.entry(id.to_owned()).or_default().extend(r.values());
                }
            }
        }
    }
    Ok(points
        .into_iter()
        .filter(|(_, p)| !p.is_empty())
        .map(|(id, p)| {
            let v = match id.trim_end_matches(|c: char| c.is_ascii_digit()) {
                "inv" | "err" | "thr" => p.iter().sum(),
                "avg" => p.iter().sum::<f64>() / p.len() as f64,
                _ => p.iter().copied().fold(f64::MIN, f64::max),
            };
            (id, v)
        })
        .collect())
}

/// Reads the function's `REPORT` lines since `start` into `o` (memory, peak, cold starts).
/// A function that never logged has no log group: nothing is read, and that is not an error.
async fn read_reports(
    logs: &aws_sdk_cloudwatchlogs::Client,
    function: &str,
    start: std::time::SystemTime,
    o: &mut Observation,
) -> anyhow::Result<()> {
    let since = start
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let mut pages = logs
        .filter_log_events()
        .log_group_name(format!("/aws/lambda/{function}"))
        .start_time(since)
        .filter_pattern("REPORT")
        .into_paginator()
        .send();
    let mut seen = 0usize;
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(());
            }
            Err(e) => {
                return Err(anyhow::anyhow!(
                    aws_sdk_cloudwatchlogs::error::DisplayErrorContext(e).to_string()
                ))
                .with_context(|| format!("reading the REPORT lines of {function}"));
            }
        };
        for event in page.events() {
            let Some(message) = event.message() else {
                continue;
            };
            if !message.starts_with("REPORT ") {
                continue;
            }
            seen += 1;
            match parse_report(message) {
                Some(r) => {
                    o.reports += 1;
                    o.memory_mb = Some(r.memory_mb);
                    o.peak_memory_mb = Some(o.peak_memory_mb.unwrap_or(0.0).max(r.max_memory_mb));
                    if r.init_ms.is_some() {
                        *o.cold_starts.get_or_insert(0.0) += 1.0;
                    } else {
                        o.cold_starts.get_or_insert(0.0);
                    }
                }
                None => o.unreadable_reports += 1,
            }
        }
        if seen >= MAX_REPORT_LINES {
            break;
        }
    }
    Ok(())
}
