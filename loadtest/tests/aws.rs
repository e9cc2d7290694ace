//! The load tester against the AWS backend on moto (`CODERIPPLE_MOTO_ENDPOINT`, started by
//! `scripts/test`): `coderipple up --backend aws` and `coderipple worker --backend aws`
//! spawned by the tester over fresh SQS queues, a DynamoDB table and an S3 bucket; verified
//! in DynamoDB and the SQS DLQ. The outage cuts ingest off from the endpoint through the
//! tester's loopback proxy: ingest must answer 503, and the re-sends must lose nothing.
//! (Workers talk to moto directly: moto reorders a group's messages that time out together,
//! a gap real SQS does not have; see the README's emulator table.)

use std::path::Path;
use std::process::Command;

use coderipple_core::config::Settings;
use coderipple_core::contract::aws::{child_env, fresh_backends};
use serde_json::Value;

fn loadtest() -> &'static str {
    env!("CARGO_BIN_EXE_coderipple-loadtest")
}

async fn run_on_moto(args: &[&str]) -> (i32, Value) {
    let aws = fresh_backends(&Settings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let coderipple = Path::new(loadtest()).with_file_name("coderipple");
    assert!(coderipple.exists(), "build the workspace first");
    let mut cmd = Command::new(loadtest());
    cmd.args([
        "run",
        "--spawn",
        "--backend",
        "aws",
        "--quiet",
        "--drain-timeout-s",
        "120",
        "--json",
    ])
    .arg(&json)
    .args(args)
    .env("CODERIPPLE_QUEUE_URL", &aws.resources.queue_url)
    .env("CODERIPPLE_DLQ_URL", &aws.resources.dlq_url)
    .env("CODERIPPLE_TABLE", &aws.resources.table)
    .env("CODERIPPLE_BUCKET", &aws.resources.bucket)
    .env("RUST_LOG", "error");
    for (k, v) in child_env() {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        json.exists(),
        "no report:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    (out.status.code().unwrap_or(-1), report)
}

fn count(report: &Value, key: &str) -> u64 {
    let x = &report["verification"][key];
    x["count"]
        .as_u64()
        .or(x.as_u64())
        .unwrap_or_else(|| panic!("{key}: {report}"))
}

fn assert_sound(report: &Value, pushes: u64) {
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_with_poison_and_redeliveries_through_sqs_and_dynamodb() {
    let (code, report) = run_on_moto(&[
        "--events",
        "24",
        "--repos",
        "4",
        "--poison",
        "1",
        "--redeliver-every",
        "4",
        "--redeliveries",
        "2",
    ])
    .await;
    assert_eq!(code, 0, "{report}");
    assert_sound(&report, 24);
    assert_eq!(
        count(&report, "dlq_found"),
        1,
        "the SQS DLQ holds exactly the poison"
    );
    assert_eq!(count(&report, "duplicates_answered"), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_cut_off_from_aws_answers_503_and_loses_nothing() {
    let (code, report) = run_on_moto(&[
        "--events",
        "40",
        "--repos",
        "4",
        "--arrival",
        "rate:20",
        "--outage-after-ms",
        "300",
        "--outage-ms",
        "2500",
    ])
    .await;
    assert_eq!(code, 0, "{report}");
    assert_sound(&report, 40);
    assert!(
        report["unavailable_answers"].as_u64().unwrap() > 0,
        "{report}"
    );
    assert!(
        report["events"]
            .to_string()
            .contains("cut off from the AWS endpoint")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_target_on_sqs() {
    let (code, report) = run_on_moto(&["--queue", "--events", "30", "--repos", "3"]).await;
    assert_eq!(code, 0, "{report}");
    assert_sound(&report, 30);
    assert!(report["target"].as_str().unwrap().contains("aws"));
}
