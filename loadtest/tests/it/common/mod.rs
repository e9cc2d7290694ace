//! What the load tester's integration tests share: the binaries, the moto environment, and
//! the reading of a JSON report's verification.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use coderipple_core::contract::aws::{AwsBackends, child_env};
use serde_json::Value;

/// The tester.
pub fn loadtest() -> &'static str {
    env!("CARGO_BIN_EXE_coderipple-loadtest")
}

/// `coderipple`, built next to the tester by a workspace build.
pub fn coderipple() -> PathBuf {
    let bin = Path::new(loadtest()).with_file_name("coderipple");
    assert!(
        bin.exists(),
        "{} is missing: build the workspace (cargo build --workspace) before these tests",
        bin.display()
    );
    bin
}

/// Points `cmd` at `aws`'s queue, DLQ, table and bucket on moto.
pub fn on_moto(cmd: &mut Command, aws: &AwsBackends) {
    cmd.env("CODERIPPLE_QUEUE_URL", &aws.resources.queue_url)
        .env("CODERIPPLE_DLQ_URL", &aws.resources.dlq_url)
        .env("CODERIPPLE_TABLE", &aws.resources.table)
        .env("CODERIPPLE_BUCKET", &aws.resources.bucket)
        .env("RUST_LOG", "error");
    for (k, v) in child_env() {
        cmd.env(k, v);
    }
}

/// A count of the report's verification (a plain number or a finding's `count`).
pub fn count(report: &Value, key: &str) -> u64 {
    let x = &report["verification"][key];
    x["count"]
        .as_u64()
        .or(x.as_u64())
        .unwrap_or_else(|| panic!("{key} in {report}"))
}

/// Nothing lost, nothing twice, order kept, every acknowledged delivery ended as it must,
/// `pushes` verified.
pub fn assert_sound(report: &Value, pushes: u64) {
    for key in [
        "lost",
        "applied_twice",
        "order_violations",
        "not_completed",
        "never_acknowledged",
    ] {
        assert_eq!(count(report, key), 0, "{key}: {}", report["verification"]);
    }
    assert_eq!(
        count(report, "verified"),
        pushes,
        "{}",
        report["verification"]
    );
    assert_eq!(report["verification"]["drained"], true);
}

/// The parts of a report that explain a failure (without the timelines).
pub fn summary(report: &Value) -> String {
    let keep = [
        "target",
        "model",
        "traffic",
        "success_rate",
        "resent",
        "unavailable_answers",
        "verification",
        "events",
        "errors",
        "thresholds",
        "passed",
    ];
    let picked: serde_json::Map<String, Value> = keep
        .iter()
        .map(|k| ((*k).to_owned(), report[*k].clone()))
        .collect();
    serde_json::to_string_pretty(&picked).unwrap_or_default()
}
