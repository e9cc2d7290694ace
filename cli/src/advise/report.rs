//! Observations from a load-tester JSON report.
//!
//! - `coderipple-loadtest lambda --json` (the functions under the loopback Runtime API):
//!   per function its warm durations, first invocations, cold starts and peak RSS, measured
//!   at the memory the report's cost model names. This gives every figure.
//! - `coderipple-loadtest run --json` (a burst through the pipeline): the worker's peak RSS
//!   only, so only the worker's memory is advised.
//!
//! A report measures a run, not a month: invocations are projected from
//! `monthly_webhooks` (ingest: one per webhook; worker: one per batch). Lambda's "MB" are
//! MiB, as the tester's figures are: no conversion.

use anyhow::{Context, bail};
use serde::Deserialize;

use super::Observation;

#[derive(Debug, Deserialize)]
struct LambdaReport {
    functions: Vec<FunctionFigures>,
    cost: Option<Cost>,
}

#[derive(Debug, Deserialize)]
struct FunctionFigures {
    role: String,
    cold_starts: f64,
    first_median_ms: f64,
    warm: Warm,
    peak_rss_mib: f64,
}

#[derive(Debug, Deserialize)]
struct Warm {
    count: f64,
    max_ms: f64,
    mean_ms: f64,
}

#[derive(Debug, Deserialize)]
struct Cost {
    inputs: CostInputs,
}

#[derive(Debug, Deserialize)]
struct CostInputs {
    measured_memory_mb: u32,
    batch: f64,
}

#[derive(Debug, Deserialize)]
struct RunReport {
    worker_peak_rss_mib: Option<f64>,
    target: String,
}

/// Reads a tester report (either kind) as observations.
pub fn observations(text: &str, monthly_webhooks: f64) -> anyhow::Result<Vec<Observation>> {
    let value: serde_json::Value = serde_json::from_str(text).context("the report is not JSON")?;
    if value.get("functions").is_some() {
        let r: LambdaReport = serde_json::from_value(value)
            .context("not a `coderipple-loadtest lambda --json` report")?;
        return Ok(from_lambda(r, monthly_webhooks));
    }
    if value.get("worker_peak_rss_mib").is_some() {
        let r: RunReport = serde_json::from_value(value)
            .context("not a `coderipple-loadtest run --json` report")?;
        let Some(peak) = r.worker_peak_rss_mib else {
            bail!("the run report has no worker peak RSS (was the worker spawned by the tester?)");
        };
        return Ok(vec![Observation {
            function: "worker".into(),
            role: "worker".into(),
            source: format!("load-tester run report ({})", r.target),
            peak_memory_mb: Some(peak),
            ..Observation::default()
        }]);
    }
    bail!("not a load-tester report: expected `functions` (lambda) or `worker_peak_rss_mib` (run)")
}

fn from_lambda(r: LambdaReport, monthly_webhooks: f64) -> Vec<Observation> {
    let (memory, batch) = r.cost.map_or((None, 10.0), |c| {
        (Some(c.inputs.measured_memory_mb), c.inputs.batch.max(1.0))
    });
    r.functions
        .into_iter()
        .map(|f| {
            let runs = f.cold_starts + f.warm.count;
            let per_webhook = if f.role == "worker" { 1.0 / batch } else { 1.0 };
            let avg = if runs > 0.0 {
                (f.warm.mean_ms * f.warm.count + f.first_median_ms * f.cold_starts) / runs
            } else {
                0.0
            };
            Observation {
                function: f.role.clone(),
                role: f.role,
                source: "load-tester lambda report".into(),
                window_hours: 730.0,
                invocations: monthly_webhooks * per_webhook,
                avg_duration_ms: Some(avg),
                max_duration_ms: Some(f.warm.max_ms.max(f.first_median_ms)),
                memory_mb: memory,
                peak_memory_mb: Some(f.peak_rss_mib),
                cold_starts: Some(f.cold_starts),
                reports: runs as usize,
                ..Observation::default()
            }
        })
        .collect()
}
