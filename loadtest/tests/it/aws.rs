//! The load tester against the AWS backend on moto (`CODERIPPLE_MOTO_ENDPOINT`, started by
//! `scripts/test`): `coderipple up --backend aws` and `coderipple worker --backend aws`
//! spawned by the tester over fresh SQS queues, a DynamoDB table and an S3 bucket; verified
//! in DynamoDB and the SQS DLQ. The outage cuts ingest and the worker off from the endpoint
//! through the tester's loopback proxy: ingest must answer 503, the worker must retry, and
//! nothing may be lost or reordered (this scenario found the poller's retry path letting moto
//! reorder a group; see the emulator table in `docs/testing.md`).

use std::process::Command;

use crate::common::{assert_sound, coderipple, count, loadtest, on_moto, summary};
use coderipple_core::config::Settings;
use coderipple_core::contract::aws::fresh_backends;
use serde_json::Value;

/// One worker task: moto's long-polling `ReceiveMessage` checks a FIFO group's lock against a
/// snapshot taken when the call started, so a second consumer already waiting is handed the
/// next message of a group another consumer holds (two pushes of a repository applied at
/// once; real SQS never does this; see docs/testing.md's emulator table). The history order
/// absorbs it (the out-of-order scenario below runs three pollers); the other scenarios keep
/// one worker so that they test what they name.
async fn run_on_moto(args: &[&str]) -> (i32, Value) {
    run_on_moto_with(1, args).await
}

/// [`run_on_moto`] with `workers` pollers.
async fn run_on_moto_with(workers: u16, args: &[&str]) -> (i32, Value) {
    let aws = fresh_backends(&Settings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    coderipple();
    let mut cmd = Command::new(loadtest());
    cmd.args([
        "run",
        "--spawn",
        "--backend",
        "aws",
        "--quiet",
        "--workers",
        &workers.to_string(),
        "--drain-timeout-s",
        "120",
        "--json",
    ])
    .arg(&json)
    .args(args);
    on_moto(&mut cmd, &aws);
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
    assert_eq!(code, 0, "{}", summary(&report));
    assert_sound(&report, 24);
    assert_eq!(
        count(&report, "dlq_found"),
        1,
        "the SQS DLQ holds exactly the poison"
    );
    assert_eq!(count(&report, "duplicates_answered"), 12);
}

/// Pushes sent shuffled within windows of five per repository, received by three pollers at
/// once (where moto's FIFO queue hands out a group's next message while one is in flight):
/// every repository's commits still end in history order, each exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_out_of_order_through_three_pollers_keep_history_order() {
    let (code, report) = run_on_moto_with(
        3,
        &["--events", "40", "--repos", "2", "--out-of-order", "5"],
    )
    .await;
    assert_eq!(code, 0, "{}", summary(&report));
    assert_sound(&report, 40);
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
    assert_eq!(code, 0, "{}", summary(&report));
    assert_sound(&report, 40);
    assert!(
        report["unavailable_answers"].as_u64().unwrap() > 0,
        "{}",
        summary(&report)
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
    assert_eq!(code, 0, "{}", summary(&report));
    assert_sound(&report, 30);
    assert!(report["target"].as_str().unwrap().contains("aws"));
}
