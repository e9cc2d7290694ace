//! The run's report: latency statistics from HdrHistograms, counts, the verification, the
//! thresholds (like k6's) that decide the exit code; printed as a table, written as JSON,
//! and as HTML with SVG plots ([`html`]).

pub mod html;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::runner::SendPhase;
use crate::traffic::{Kind, Request};
use crate::verify::Verification;

/// Percentiles of one latency distribution, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Maximum.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

/// An HdrHistogram of microseconds (1 µs to 1 h, 3 significant digits).
pub fn histogram(samples_us: impl IntoIterator<Item = u64>) -> Histogram<u64> {
    let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds");
    for us in samples_us {
        h.saturating_record(us.max(1));
    }
    h
}

impl Latency {
    /// The statistics of `h` (µs).
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
        }
    }
}

/// A threshold and whether the run met it.
#[derive(Debug, Clone, Serialize)]
pub struct Threshold {
    /// As given: `max-p99-ms <= 1000`.
    pub name: String,
    /// The measured value.
    pub actual: f64,
    /// Met.
    pub passed: bool,
}

/// The limits the run is held to.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// End-to-end p99 (ms).
    pub max_p99_ms: Option<f64>,
    /// Ingest p99 (ms).
    pub max_ingest_p99_ms: Option<f64>,
    /// Success rate (0..=1).
    pub min_success: Option<f64>,
    /// Lost deliveries tolerated.
    pub max_lost: usize,
}

/// Everything about a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// CodeRipple version.
    pub version: &'static str,
    /// When (RFC 3339).
    pub started_at: String,
    /// What was targeted.
    pub target: String,
    /// The arrival model.
    pub model: String,
    /// Where the traffic came from.
    pub traffic: String,
    /// Requests sent (first copies).
    pub requests: usize,
    /// Repositories.
    pub repos: usize,
    /// Send phase duration (s).
    pub send_seconds: f64,
    /// Acknowledged requests per second during the send phase.
    pub throughput_rps: f64,
    /// Requests answered as expected (by kind) / requests.
    pub success_rate: f64,
    /// Re-sends after 503 or no answer.
    pub resent: u64,
    /// Answers that asked for a re-send (503 or no answer).
    pub unavailable_answers: u64,
    /// Intended send time (or first send) → final answer.
    pub ingest: Latency,
    /// Acknowledged → applied.
    pub end_to_end: Latency,
    /// The outcome checks (none with `--no-verify`).
    pub verification: Option<Verification>,
    /// Faults injected by process control and outages.
    pub events: Vec<String>,
    /// What went wrong after the run was set up (a fault that could not be injected, a
    /// verification that could not read the backend): each fails the run.
    pub errors: Vec<String>,
    /// Worker peak RSS (MiB), when the tester started the worker.
    pub worker_peak_rss_mib: Option<f64>,
    /// Thresholds.
    pub thresholds: Vec<Threshold>,
    /// Verification passed and every threshold met.
    pub passed: bool,
    /// Latency over time: (answered after ms, ingest µs), at most 5,000 points.
    pub ingest_timeline: Vec<(f64, u64)>,
    /// (answered after ms, end-to-end µs), at most 5,000 points.
    pub e2e_timeline: Vec<(f64, u64)>,
}

/// Whether a request's final answer is the one its kind calls for.
fn answered_as_expected(kind: Kind, status: u16, acknowledged: bool) -> bool {
    match kind {
        Kind::Normal | Kind::Poison => acknowledged,
        Kind::Sample => (200..300).contains(&status),
        Kind::Oversize => status == 413 || status == 0,
        Kind::BadSignature => status == 401,
    }
}

/// Context the report cannot compute itself.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// Target description.
    pub target: String,
    /// Model description.
    pub model: String,
    /// Traffic description.
    pub traffic: String,
    /// Fault and process events.
    pub events: Vec<String>,
    /// Errors after setup.
    pub errors: Vec<String>,
    /// Worker peak RSS.
    pub worker_peak_rss_mib: Option<f64>,
}

impl Report {
    /// Builds the report and evaluates `limits`.
    pub fn build(
        info: RunInfo,
        traffic: &[Request],
        phase: &SendPhase,
        verification: Option<Verification>,
        limits: &Limits,
    ) -> Self {
        let ingest_h = histogram(phase.sent.iter().map(|s| s.latency_us));
        let e2e_samples: Vec<(f64, u64)> = verification
            .as_ref()
            .map(|v| v.e2e.clone())
            .unwrap_or_default();
        let e2e_h = histogram(e2e_samples.iter().map(|(_, us)| *us));
        let acknowledged = phase.sent.iter().filter(|s| s.acknowledged()).count();
        let as_expected = phase
            .sent
            .iter()
            .filter(|s| answered_as_expected(traffic[s.index].kind, s.status, s.acknowledged()))
            .count();
        let n = phase.sent.len().max(1);
        let repos = traffic
            .iter()
            .map(|r| r.repo.as_str())
            .collect::<std::collections::HashSet<_>>()
            .len();
        let secs = phase.elapsed.as_secs_f64().max(1e-9);
        let mut report = Self {
            version: env!("CARGO_PKG_VERSION"),
            started_at: chrono::DateTime::from_timestamp_millis(phase.started_at_ms)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            target: info.target,
            model: info.model,
            traffic: info.traffic,
            requests: phase.sent.len(),
            repos,
            send_seconds: secs,
            throughput_rps: acknowledged as f64 / secs,
            success_rate: as_expected as f64 / n as f64,
            resent: phase
                .sent
                .iter()
                .map(|s| u64::from(s.attempts.saturating_sub(1)))
                .sum(),
            unavailable_answers: phase.sent.iter().map(|s| u64::from(s.unavailable)).sum(),
            ingest: Latency::of(&ingest_h),
            end_to_end: Latency::of(&e2e_h),
            events: info.events,
            errors: info.errors,
            worker_peak_rss_mib: info.worker_peak_rss_mib,
            thresholds: Vec::new(),
            passed: false,
            ingest_timeline: thin(
                phase
                    .sent
                    .iter()
                    .map(|s| (s.answered_after_ms, s.latency_us))
                    .collect(),
            ),
            e2e_timeline: thin(e2e_samples),
            verification,
        };
        report.evaluate(limits);
        report
    }

    fn evaluate(&mut self, limits: &Limits) {
        let mut t = Vec::new();
        if let Some(max) = limits.max_p99_ms {
            let actual = self.end_to_end.p99_ms;
            let measured = self.verification.is_some() && self.end_to_end.count > 0;
            t.push(Threshold {
                name: format!("end-to-end p99 ≤ {max} ms"),
                actual,
                passed: measured && actual <= max,
            });
        }
        if let Some(max) = limits.max_ingest_p99_ms {
            let actual = self.ingest.p99_ms;
            t.push(Threshold {
                name: format!("ingest p99 ≤ {max} ms"),
                actual,
                passed: actual <= max,
            });
        }
        if let Some(min) = limits.min_success {
            let actual = self.success_rate;
            t.push(Threshold {
                name: format!("success rate ≥ {min}"),
                actual,
                passed: actual >= min,
            });
        }
        if let Some(v) = &self.verification {
            let actual = v.lost.count as f64;
            t.push(Threshold {
                name: format!("lost ≤ {}", limits.max_lost),
                actual,
                passed: v.lost.count <= limits.max_lost,
            });
        }
        let verified = self
            .verification
            .as_ref()
            .is_none_or(|v| v.passed(limits.max_lost));
        self.passed = verified && self.errors.is_empty() && t.iter().all(|t| t.passed);
        self.thresholds = t;
    }

    /// The summary table, for people.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let line = |out: &mut String, k: &str, v: String| {
            let _ = writeln!(out, "  {k:<28} {v}");
        };
        let _ = writeln!(out, "CodeRipple load test — {}", self.started_at);
        line(&mut out, "target", self.target.clone());
        line(&mut out, "model", self.model.clone());
        line(
            &mut out,
            "traffic",
            format!(
                "{} ({} requests, {} repos)",
                self.traffic, self.requests, self.repos
            ),
        );
        line(
            &mut out,
            "send phase",
            format!(
                "{:.2} s, {:.0} acknowledged/s",
                self.send_seconds, self.throughput_rps
            ),
        );
        line(
            &mut out,
            "success rate",
            format!("{:.2} %", self.success_rate * 100.0),
        );
        line(
            &mut out,
            "re-sent (503 / no answer)",
            format!(
                "{} ({} unavailable answers)",
                self.resent, self.unavailable_answers
            ),
        );
        let _ = writeln!(
            out,
            "  {:<28} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "latency (ms)", "p50", "p90", "p99", "max", "count"
        );
        for (name, l) in [
            ("ingest (intended → answer)", &self.ingest),
            ("end-to-end (ack → applied)", &self.end_to_end),
        ] {
            let _ = writeln!(
                out,
                "  {name:<28} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9}",
                l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.count
            );
        }
        if let Some(v) = &self.verification {
            line(
                &mut out,
                "drained",
                format!("{} ({:.0} ms after the last answer)", v.drained, v.drain_ms),
            );
            line(&mut out, "acknowledged", v.acknowledged.to_string());
            line(
                &mut out,
                "verified (once, in order)",
                v.verified.to_string(),
            );
            let f = |f: &crate::verify::Finding| {
                if f.count == 0 {
                    "0".to_owned()
                } else {
                    format!("{}  e.g. {}", f.count, f.examples.join(", "))
                }
            };
            line(&mut out, "lost", f(&v.lost));
            line(&mut out, "applied twice", f(&v.applied_twice));
            line(&mut out, "order violations (repos)", f(&v.order_violations));
            line(&mut out, "not completed", f(&v.not_completed));
            line(&mut out, "never acknowledged", f(&v.never_acknowledged));
            line(
                &mut out,
                "redeliveries → duplicate",
                format!("{}/{}", v.duplicates_answered, v.redeliveries),
            );
            line(
                &mut out,
                "poison → DLQ with reason",
                format!(
                    "{}/{} (missing {}, unexpected {}, no reason {})",
                    v.dlq_found - v.dlq_unexpected.count,
                    v.poison_expected,
                    v.dlq_missing.count,
                    v.dlq_unexpected.count,
                    v.dlq_without_reason.count
                ),
            );
            line(
                &mut out,
                "refused as expected",
                format!(
                    "{} (wrongly: {})",
                    v.refused_as_expected,
                    f(&v.refused_wrongly)
                ),
            );
            if v.samples_completed > 0 {
                line(
                    &mut out,
                    "octokit samples completed",
                    v.samples_completed.to_string(),
                );
            }
        }
        if let Some(rss) = self.worker_peak_rss_mib {
            line(&mut out, "worker peak RSS", format!("{rss:.1} MiB"));
        }
        for e in &self.events {
            line(&mut out, "event", e.clone());
        }
        for e in &self.errors {
            line(&mut out, "ERROR", e.clone());
        }
        for t in &self.thresholds {
            line(
                &mut out,
                "threshold",
                format!(
                    "{} — {} (actual {:.3})",
                    t.name,
                    if t.passed { "pass" } else { "FAIL" },
                    t.actual
                ),
            );
        }
        let _ = writeln!(
            out,
            "  {:<28} {}",
            "result",
            if self.passed { "PASS" } else { "FAIL" }
        );
        out
    }
}

/// At most 5,000 points, evenly picked, for the plots.
fn thin(mut points: Vec<(f64, u64)>) -> Vec<(f64, u64)> {
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let step = points.len().div_ceil(5_000).max(1);
    points.into_iter().step_by(step).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram() {
        let h = histogram((1..=1000).map(|ms| ms * 1000));
        let l = Latency::of(&h);
        assert_eq!(l.count, 1000);
        assert!((l.p50_ms - 500.0).abs() < 1.0, "{l:?}");
        assert!((l.p99_ms - 990.0).abs() < 1.0, "{l:?}");
        assert!((l.max_ms - 1000.0).abs() < 1.0, "{l:?}");
        assert_eq!(Latency::of(&histogram([])).count, 0);
    }

    #[test]
    fn thinning_keeps_order_and_bounds() {
        let pts: Vec<(f64, u64)> = (0..12_000).rev().map(|i| (i as f64, i)).collect();
        let t = thin(pts);
        assert!(t.len() <= 5_000 && t.len() > 3_000);
        assert!(t.windows(2).all(|w| w[0].0 <= w[1].0));
    }
}
