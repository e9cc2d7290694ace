//! `coderipple-loadtest lambda`: the real binary as `bootstrap` under the tester's loopback
//! Runtime API. Against moto (`CODERIPPLE_MOTO_ENDPOINT`, started by `scripts/test`): both
//! functions start, answer every invocation successfully (ingest 202, worker without failed
//! items) and the figures and the cost model come out. Without configuration: the init error
//! the function reports is shown, exit code 2.

use std::process::Command;

use crate::common::{coderipple, loadtest, on_moto};
use coderipple_core::config::Settings;
use coderipple_core::contract::aws::fresh_backends;
use serde_json::Value;

#[test]
fn an_init_error_is_reported_with_its_reason() {
    let out = Command::new(loadtest())
        .args([
            "lambda",
            "--role",
            "worker",
            "--cold-starts",
            "1",
            "--invocations",
            "1",
            "--bootstrap",
        ])
        .arg(coderipple())
        .env_remove("CODERIPPLE_QUEUE_URL")
        .env_remove("CODERIPPLE_QUEUE_NAME")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("init failed") && err.contains("CODERIPPLE_QUEUE"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_functions_are_measured_against_moto_and_priced() {
    let aws = fresh_backends(&Settings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("lambda.json");
    let mut cmd = Command::new(loadtest());
    cmd.args([
        "lambda",
        "--cold-starts",
        "2",
        "--invocations",
        "3",
        "--batch",
        "4",
        // A debug build on a loaded machine: no latency bar on the recommendation here.
        "--max-ingest-ms",
        "100000",
        "--json",
    ])
    .arg(&json)
    .arg("--bootstrap")
    .arg(coderipple());
    on_moto(&mut cmd, &aws);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("recommended memory"), "{stdout}");
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let functions = report["functions"].as_array().unwrap();
    assert_eq!(functions.len(), 2);
    for f in functions {
        assert_eq!(f["cold_starts"], 2, "{f}");
        assert_eq!(
            f["warm"]["count"], 4,
            "2 cold starts × 2 warm invocations: {f}"
        );
        assert!(f["init_median_ms"].as_f64().unwrap() > 0.0);
        assert!(f["peak_rss_mib"].as_f64().unwrap() > 0.0);
        assert_eq!(
            f["failed_invocations"], 0,
            "ingest 202s, worker without failed items: {f}"
        );
    }
    let recommended = report["cost"]["recommended_mb"].as_u64().unwrap();
    assert!([128, 256, 512, 1024, 1769, 3008].contains(&recommended));
    assert_eq!(report["cost"]["estimates"].as_array().unwrap().len(), 6);
}
