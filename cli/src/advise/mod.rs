//! `coderipple advise`: per Lambda function, the memory, timeout, queue visibility and
//! concurrency that fit what was measured, and the monthly cost before and after.
//!
//! What it reads ([`Observation`]) comes from CloudWatch and the functions' `REPORT` log
//! lines ([`cloudwatch`]) or from a load-tester JSON report ([`report`]); the rules here are
//! pure, so they are tested without AWS. The rules, the original design's as a baseline:
//! - **memory**: −25 % when the peak used is under half of it, +50 % when over 90 % of it;
//!   never below 1.5 × the measured peak nor 128 MB; rounded up to 64 MB.
//! - **timeout**: the longest duration × 1.5 (3 – 900 s), in whole seconds; for the
//!   worker, the queue's visibility timeout follows: at least 6 × the timeout, as the SQS
//!   event source mapping asks.
//! - **reserved concurrency**: 1.5 × the highest concurrency seen, plus one; throttles are
//!   called out.
//! - **provisioned concurrency**: only when more than 1 % of invocations are cold starts
//!   *and* keeping the average concurrency warm costs at most 10 % more than on demand.
//! - **monthly cost**: the observed invocation rate over 730 hours, at Lambda's dated prices
//!   ([`coderipple_core::pricing`]); below one vCPU durations stretch with the CPU share.

pub mod cloudwatch;
pub mod report;

use coderipple_core::pricing::{
    LAMBDA_PER_GB_S, LAMBDA_PER_REQUEST, LAMBDA_PROVISIONED_DURATION_PER_GB_S,
    LAMBDA_PROVISIONED_PER_GB_S, PRICES_AS_OF, scaled_ms,
};
use serde::Serialize;

/// Hours in the month the cost is projected over.
const MONTH_HOURS: f64 = 730.0;
/// The smallest and largest memory Lambda allows (MB).
const MIN_MB: u32 = 128;
const MAX_MB: u32 = 10_240;
/// Lambda's longest timeout (s).
const MAX_TIMEOUT_S: u32 = 900;

/// What was measured of one function over a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Observation {
    /// The function's name.
    pub function: String,
    /// Which CodeRipple role it runs (`ingest`, `worker`, `recover`), from its name.
    pub role: String,
    /// Where the figures come from.
    pub source: String,
    /// How long the window was (hours).
    pub window_hours: f64,
    /// Invocations in the window.
    pub invocations: f64,
    /// Errors and throttles in the window.
    pub errors: f64,
    pub throttles: f64,
    /// Mean and longest duration (ms).
    pub avg_duration_ms: Option<f64>,
    pub max_duration_ms: Option<f64>,
    /// Highest concurrency seen.
    pub max_concurrency: Option<f64>,
    /// Configured memory (MB) and the most used (MB).
    pub memory_mb: Option<u32>,
    pub peak_memory_mb: Option<f64>,
    /// Invocations that were cold starts (from `Init Duration` in `REPORT` lines).
    pub cold_starts: Option<f64>,
    /// `REPORT` lines read, and lines that looked like one but could not be read.
    pub reports: usize,
    pub unreadable_reports: usize,
}

/// The advice for one function.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advice {
    pub function: String,
    pub role: String,
    pub memory_mb: Option<u32>,
    pub recommended_memory_mb: Option<u32>,
    pub memory_reason: String,
    pub timeout_s: Option<u32>,
    /// For the worker: the queue visibility timeout that follows from the timeout.
    pub queue_visibility_s: Option<u32>,
    pub reserved_concurrency: Option<u32>,
    pub provisioned_concurrency: u32,
    pub provisioned_reason: String,
    pub cold_start_share: Option<f64>,
    pub monthly_invocations: f64,
    pub monthly_usd_before: Option<f64>,
    pub monthly_usd_after: Option<f64>,
    pub notes: Vec<String>,
}

/// Everything `advise` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub prices_as_of: &'static str,
    pub observations: Vec<Observation>,
    pub advice: Vec<Advice>,
}

/// The role a function runs, from the stack's naming (`<stack>-ingest`, …).
pub fn role_of(function: &str) -> String {
    ["ingest", "worker", "recover"]
        .into_iter()
        .find(|r| function.ends_with(r))
        .unwrap_or("unknown")
        .to_owned()
}

/// Rounds up to a multiple of 64 MB within Lambda's limits.
fn round_mb(mb: f64) -> u32 {
    let steps = (mb / 64.0).ceil().max(0.0);
    ((steps as u32) * 64).clamp(MIN_MB, MAX_MB)
}

/// The memory the rules give, and why.
fn memory(o: &Observation) -> (Option<u32>, String) {
    let Some(peak) = o.peak_memory_mb else {
        return (
            o.memory_mb,
            "no memory measurement: keep the current size".into(),
        );
    };
    let floor = peak * 1.5;
    let Some(current) = o.memory_mb else {
        return (
            Some(round_mb(floor)),
            format!("peak {peak:.0} MB; current size unknown: 1.5 × peak"),
        );
    };
    let used = peak / f64::from(current);
    let (wanted, why) = if used < 0.5 {
        (
            f64::from(current) * 0.75,
            format!(
                "peak {peak:.0} of {current} MB ({:.0} %): −25 %",
                used * 100.0
            ),
        )
    } else if used > 0.9 {
        (
            f64::from(current) * 1.5,
            format!(
                "peak {peak:.0} of {current} MB ({:.0} %): +50 %",
                used * 100.0
            ),
        )
    } else {
        (
            f64::from(current),
            format!(
                "peak {peak:.0} of {current} MB ({:.0} %): fits",
                used * 100.0
            ),
        )
    };
    if wanted < floor {
        let mb = round_mb(floor);
        return (Some(mb), format!("{why}, held at 1.5 × peak"));
    }
    (Some(round_mb(wanted)), why)
}

/// Monthly Lambda cost on demand at `mb`, durations measured at `measured_mb`.
fn monthly_on_demand(invocations: f64, avg_ms: f64, measured_mb: u32, mb: u32) -> f64 {
    let ms = scaled_ms(avg_ms, measured_mb, mb).ceil();
    let gb_s = invocations * ms / 1000.0 * f64::from(mb) / 1024.0;
    invocations * LAMBDA_PER_REQUEST + gb_s * LAMBDA_PER_GB_S
}

/// Monthly cost with `units` of provisioned concurrency kept at `mb`, everything run on it.
fn monthly_provisioned(invocations: f64, avg_ms: f64, mb: u32, units: u32) -> f64 {
    let gb = f64::from(mb) / 1024.0;
    let kept = f64::from(units) * gb * MONTH_HOURS * 3600.0 * LAMBDA_PROVISIONED_PER_GB_S;
    let run = invocations * avg_ms.ceil() / 1000.0 * gb * LAMBDA_PROVISIONED_DURATION_PER_GB_S;
    kept + run + invocations * LAMBDA_PER_REQUEST
}

/// Applies the rules to one observation.
pub fn advise(o: &Observation) -> Advice {
    let mut notes = Vec::new();
    let (recommended, memory_reason) = memory(o);
    let timeout_s = o
        .max_duration_ms
        .map(|ms| ((ms * 1.5 / 1000.0).ceil() as u32).clamp(3, MAX_TIMEOUT_S));
    if o.max_duration_ms
        .is_some_and(|ms| ms * 1.5 > f64::from(MAX_TIMEOUT_S) * 1000.0)
    {
        notes.push(format!(
            "the longest run × 1.5 is over Lambda's {MAX_TIMEOUT_S} s limit: held at the limit"
        ));
    }
    let queue_visibility_s = timeout_s.filter(|_| o.role == "worker").map(|t| t * 6);
    let reserved_concurrency = o.max_concurrency.map(|c| (c * 1.5).ceil() as u32 + 1);
    if o.throttles > 0.0 {
        notes.push(format!(
            "{} throttles: raise reserved concurrency (or the account limit) above the current setting",
            o.throttles
        ));
    }
    if o.errors > 0.0 {
        notes.push(format!(
            "{} errors in the window: see the function's logs",
            o.errors
        ));
    }
    if o.unreadable_reports > 0 {
        notes.push(format!(
            "{} REPORT lines could not be read and were left out",
            o.unreadable_reports
        ));
    }
    let per_month = if o.window_hours > 0.0 {
        o.invocations / o.window_hours * MONTH_HOURS
    } else {
        0.0
    };
    let cold_start_share = o
        .cold_starts
        .filter(|_| o.reports > 0)
        .map(|c| c / o.reports as f64);
    let measured = o.memory_mb.or(recommended);
    let before = match (o.avg_duration_ms, o.memory_mb) {
        (Some(ms), Some(mb)) => Some(monthly_on_demand(per_month, ms, mb, mb)),
        _ => None,
    };
    let after = match (o.avg_duration_ms, measured, recommended) {
        (Some(ms), Some(at), Some(mb)) => Some(monthly_on_demand(per_month, ms, at, mb)),
        _ => None,
    };
    let (provisioned_concurrency, provisioned_reason) =
        provisioned(o, per_month, cold_start_share, measured, recommended, after);
    Advice {
        function: o.function.clone(),
        role: o.role.clone(),
        memory_mb: o.memory_mb,
        recommended_memory_mb: recommended,
        memory_reason,
        timeout_s,
        queue_visibility_s,
        reserved_concurrency,
        provisioned_concurrency,
        provisioned_reason,
        cold_start_share,
        monthly_invocations: per_month,
        monthly_usd_before: before,
        monthly_usd_after: after,
        notes,
    }
}

fn provisioned(
    o: &Observation,
    per_month: f64,
    cold_share: Option<f64>,
    measured: Option<u32>,
    recommended: Option<u32>,
    on_demand: Option<f64>,
) -> (u32, String) {
    let Some(share) = cold_share else {
        return (0, "no cold-start measurement".into());
    };
    if share <= 0.01 {
        return (
            0,
            format!("{:.1} % cold starts: not worth keeping warm", share * 100.0),
        );
    }
    let (Some(avg), Some(at), Some(mb), Some(on_demand)) =
        (o.avg_duration_ms, measured, recommended, on_demand)
    else {
        return (0, "no duration measurement".into());
    };
    let ms = scaled_ms(avg, at, mb);
    let busy = per_month * ms / 1000.0 / (MONTH_HOURS * 3600.0);
    let units = busy.ceil().max(1.0) as u32;
    let kept = monthly_provisioned(per_month, ms, mb, units);
    if kept <= on_demand * 1.1 {
        (
            units,
            format!(
                "{:.1} % cold starts; {units} warm costs ${kept:.2}/month against ${on_demand:.2} on demand",
                share * 100.0
            ),
        )
    } else {
        (
            0,
            format!(
                "{:.1} % cold starts, but {units} warm would cost ${kept:.2}/month against ${on_demand:.2} on demand",
                share * 100.0
            ),
        )
    }
}

/// Advice for every observation.
pub fn build(observations: Vec<Observation>) -> Report {
    let advice = observations.iter().map(advise).collect();
    Report {
        prices_as_of: PRICES_AS_OF,
        observations,
        advice,
    }
}

impl Report {
    /// The report for people.
    pub fn text(&self) -> String {
        use std::fmt::Write;
        let mut out = format!(
            "Lambda advice (prices of {}, us-east-1 on demand)\n",
            self.prices_as_of
        );
        let opt = |v: Option<u32>, unit: &str| v.map_or("—".to_owned(), |v| format!("{v}{unit}"));
        let usd = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("${v:.2}"));
        for (a, o) in self.advice.iter().zip(&self.observations) {
            let _ = writeln!(
                out,
                "\n{} ({}, {}; {:.0} invocations in {:.1} h)",
                a.function, a.role, o.source, o.invocations, o.window_hours
            );
            let _ = writeln!(
                out,
                "  memory       {} → {}  ({})",
                opt(a.memory_mb, " MB"),
                opt(a.recommended_memory_mb, " MB"),
                a.memory_reason
            );
            let _ = writeln!(
                out,
                "  timeout      {}  (longest {} × 1.5)",
                opt(a.timeout_s, " s"),
                o.max_duration_ms
                    .map_or("—".to_owned(), |ms| format!("{ms:.0} ms"))
            );
            if let Some(v) = a.queue_visibility_s {
                let _ = writeln!(out, "  queue visibility ≥ {v} s  (6 × timeout)");
            }
            let _ = writeln!(
                out,
                "  reserved concurrency {}  (highest seen {})",
                opt(a.reserved_concurrency, ""),
                o.max_concurrency
                    .map_or("—".to_owned(), |c| format!("{c:.0}"))
            );
            let _ = writeln!(
                out,
                "  provisioned concurrency {}  ({})",
                a.provisioned_concurrency, a.provisioned_reason
            );
            let _ = writeln!(
                out,
                "  monthly      {} → {}  ({:.0} invocations/month)",
                usd(a.monthly_usd_before),
                usd(a.monthly_usd_after),
                a.monthly_invocations
            );
            for n in &a.notes {
                let _ = writeln!(out, "  note: {n}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
