//! CloudWatch metrics in Embedded Metric Format (EMF): one JSON line on stdout per record,
//! which Lambda's log pipeline turns into metrics, so the hot path makes no API call.
//!
//! Namespace `CodeRipple`; dimensions are low-cardinality only (`Function`, and `Agent` for
//! agent runs), never the repository. A record holds at most 100 metrics and each metric at
//! most 100 values (EMF's limits); larger sets are split into several records.
//!
//! `CODERIPPLE_METRICS` = `emf` (default inside Lambda) or `off` (default elsewhere).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// The CloudWatch namespace.
pub const NAMESPACE: &str = "CodeRipple";
/// EMF's limit of metric definitions per record.
pub const MAX_METRICS_PER_RECORD: usize = 100;
/// EMF's limit of values in one metric's array.
pub const MAX_VALUES_PER_METRIC: usize = 100;

/// A metric's unit, as CloudWatch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count.
    Count,
    /// Milliseconds.
    Milliseconds,
    /// Bytes.
    Bytes,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
        }
    }
}

/// Metrics sharing one set of dimensions; a metric added twice keeps both values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricSet {
    dimensions: BTreeMap<&'static str, String>,
    values: BTreeMap<String, (Unit, Vec<f64>)>,
}

impl MetricSet {
    /// An empty set with dimension `Function` = `function`.
    pub fn for_function(function: &str) -> Self {
        Self::default().with_dimension("Function", function)
    }

    /// Adds a dimension (keep these few and low-cardinality).
    pub fn with_dimension(mut self, name: &'static str, value: &str) -> Self {
        self.dimensions.insert(name, value.to_owned());
        self
    }

    /// Adds one value of metric `name`.
    pub fn add(&mut self, name: &str, unit: Unit, value: f64) {
        self.values
            .entry(name.to_owned())
            .or_insert_with(|| (unit, Vec::new()))
            .1
            .push(value);
    }

    /// Adds a count.
    pub fn count(&mut self, name: &str, n: u64) {
        self.add(name, Unit::Count, n as f64);
    }

    /// Adds a duration in milliseconds.
    pub fn millis(&mut self, name: &str, ms: f64) {
        self.add(name, Unit::Milliseconds, ms);
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The EMF records (JSON objects) for this set at `timestamp_ms`.
    pub fn to_records(&self, timestamp_ms: i64) -> Vec<Value> {
        // Flatten to (name, unit, chunk of ≤100 values), then pack ≤100 names per record;
        // a metric with more than 100 values continues in the next record.
        let mut pieces: Vec<Vec<(&str, Unit, &[f64])>> = Vec::new();
        for (name, (unit, values)) in &self.values {
            for (i, chunk) in values.chunks(MAX_VALUES_PER_METRIC).enumerate() {
                if pieces.len() <= i {
                    pieces.push(Vec::new());
                }
                pieces[i].push((name, *unit, chunk));
            }
        }
        let dims: Vec<&str> = self.dimensions.keys().copied().collect();
        pieces
            .iter()
            .flat_map(|round| round.chunks(MAX_METRICS_PER_RECORD))
            .map(|metrics| {
                let mut record = Map::new();
                for (k, v) in &self.dimensions {
                    record.insert((*k).to_owned(), Value::String(v.clone()));
                }
                let definitions: Vec<Value> = metrics
                    .iter()
                    .map(|(name, unit, _)| json!({"Name": name, "Unit": unit.as_str()}))
                    .collect();
                for (name, _, values) in metrics {
                    let value = match values {
                        [one] => json!(one),
                        many => json!(many),
                    };
                    record.insert((*name).to_owned(), value);
                }
                record.insert(
                    "_aws".into(),
                    json!({
                        "Timestamp": timestamp_ms,
                        "CloudWatchMetrics": [{
                            "Namespace": NAMESPACE,
                            "Dimensions": [dims],
                            "Metrics": definitions,
                        }],
                    }),
                );
                Value::Object(record)
            })
            .collect()
    }
}

type Sink = Arc<Mutex<Box<dyn Write + Send>>>;

/// Where metric records go: nowhere, stdout, or a writer (tests).
#[derive(Clone, Default)]
pub struct Metrics {
    sink: Option<Sink>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("enabled", &self.sink.is_some())
            .finish()
    }
}

impl Metrics {
    /// Drops every record.
    pub fn off() -> Self {
        Self { sink: None }
    }

    /// EMF lines on stdout.
    pub fn stdout() -> Self {
        Self::to_writer(std::io::stdout())
    }

    /// EMF lines to `w`.
    pub fn to_writer(w: impl Write + Send + 'static) -> Self {
        Self {
            sink: Some(Arc::new(Mutex::new(Box::new(w)))),
        }
    }

    /// From `CODERIPPLE_METRICS` (`emf` | `off`); unset: `emf` inside Lambda, else `off`.
    pub fn from_env() -> Result<Self> {
        let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
        match std::env::var("CODERIPPLE_METRICS").as_deref() {
            Ok("emf") => Ok(Self::stdout()),
            Ok("off") => Ok(Self::off()),
            Err(_) if in_lambda => Ok(Self::stdout()),
            Err(_) => Ok(Self::off()),
            Ok(other) => Err(Error::Config(format!(
                "CODERIPPLE_METRICS must be `emf` or `off`, got {other:?}"
            ))),
        }
    }

    /// Whether records go anywhere.
    pub fn enabled(&self) -> bool {
        self.sink.is_some()
    }

    /// Writes `set` as EMF lines (nothing when off or empty). Never fails the caller.
    pub fn emit(&self, set: &MetricSet) {
        let Some(sink) = &self.sink else { return };
        if set.is_empty() {
            return;
        }
        let mut text = String::new();
        for record in set.to_records(crate::time::now_ms()) {
            text.push_str(&record.to_string());
            text.push('\n');
        }
        let mut out = match sink.lock() {
            Ok(out) => out,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            tracing::debug!(error = %e, "metrics not written");
        }
    }
}

/// A writer that keeps everything written to it (to read emitted records back in tests).
#[derive(Debug, Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    /// The records written so far, one JSON value per line.
    pub fn records(&self) -> Vec<Value> {
        let bytes = match self.0.lock() {
            Ok(b) => b.clone(),
            Err(p) => p.into_inner().clone(),
        };
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut b) => b.extend_from_slice(buf),
            Err(p) => p.into_inner().extend_from_slice(buf),
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_names_namespace_dimensions_and_units() {
        let mut set = MetricSet::for_function("ingest");
        set.count("WebhooksReceived", 1);
        set.millis("EnqueueLatency", 2.5);
        set.millis("EnqueueLatency", 3.5);
        let records = set.to_records(1_700_000_000_000);
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(r["Function"], "ingest");
        assert_eq!(r["WebhooksReceived"], 1.0);
        assert_eq!(r["EnqueueLatency"], json!([2.5, 3.5]));
        let meta = &r["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(meta["Namespace"], NAMESPACE);
        assert_eq!(meta["Dimensions"], json!([["Function"]]));
        let units: Vec<_> = meta["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["Name"].as_str().unwrap(), m["Unit"].as_str().unwrap()))
            .collect();
        assert_eq!(
            units,
            vec![
                ("EnqueueLatency", "Milliseconds"),
                ("WebhooksReceived", "Count")
            ]
        );
    }

    #[test]
    fn large_sets_split_at_emf_limits_and_lose_nothing() {
        let mut set = MetricSet::for_function("worker");
        for i in 0..250 {
            set.count(&format!("M{i:03}"), i);
        }
        for v in 0..230 {
            set.millis("Latency", f64::from(v));
        }
        let records = set.to_records(0);
        let mut names = 0;
        let mut latencies = 0;
        for r in &records {
            let defs = r["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap();
            assert!(defs.len() <= MAX_METRICS_PER_RECORD);
            names += defs.len();
            if let Some(v) = r.get("Latency") {
                let n = v.as_array().map_or(1, Vec::len);
                assert!(n <= MAX_VALUES_PER_METRIC);
                latencies += n;
            }
        }
        assert_eq!(latencies, 230);
        assert_eq!(names, 251 + 2, "Latency appears in three records");
    }

    #[test]
    fn emit_writes_one_json_line_per_record_and_nothing_when_off() {
        let cap = Capture::default();
        let metrics = Metrics::to_writer(cap.clone());
        let mut set = MetricSet::for_function("ingest");
        set.count("WebhooksReceived", 1);
        metrics.emit(&set);
        metrics.emit(&MetricSet::for_function("ingest"));
        Metrics::off().emit(&set);
        let records = cap.records();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0]["WebhooksReceived"], 1.0);
    }
}
