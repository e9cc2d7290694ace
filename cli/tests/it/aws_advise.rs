//! `coderipple advise` against moto's CloudWatch and CloudWatch Logs: seeded `AWS/Lambda`
//! datapoints and `REPORT` lines (one malformed, one hostile) for two functions, the binary's
//! JSON and text answers; and the same binary on a load-tester report.

use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use coderipple_core::contract::aws::{child_env, clients, unique};
use serde_json::Value;

use crate::common::bin;

fn advise(args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(bin());
    cmd.arg("advise").args(args).stdin(Stdio::null());
    for (k, v) in child_env() {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run coderipple advise");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn seed_metric(cw: &aws_sdk_cloudwatch::Client, function: &str, name: &str, values: &[f64]) {
    let unit = if name == "Duration" {
        StandardUnit::Milliseconds
    } else {
        StandardUnit::Count
    };
    let data: Vec<MetricDatum> = values
        .iter()
        .map(|v| {
            MetricDatum::builder()
                .metric_name(name)
                .dimensions(
                    Dimension::builder()
                        .name("FunctionName")
                        .value(function)
                        .build(),
                )
                .unit(unit.clone())
                .value(*v)
                .build()
        })
        .collect();
    cw.put_metric_data()
        .namespace("AWS/Lambda")
        .set_metric_data(Some(data))
        .send()
        .await
        .unwrap();
}

async fn seed_reports(logs: &aws_sdk_cloudwatchlogs::Client, function: &str, lines: &[String]) {
    let group = format!("/aws/lambda/{function}");
    logs.create_log_group()
        .log_group_name(&group)
        .send()
        .await
        .unwrap();
    logs.create_log_stream()
        .log_group_name(&group)
        .log_stream_name("2026/12/03/[$LATEST]abc")
        .send()
        .await
        .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let events: Vec<InputLogEvent> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            InputLogEvent::builder()
                .timestamp(now - 60_000 + i as i64)
                .message(l)
                .build()
                .unwrap()
        })
        .collect();
    logs.put_log_events()
        .log_group_name(&group)
        .log_stream_name("2026/12/03/[$LATEST]abc")
        .set_log_events(Some(events))
        .send()
        .await
        .unwrap();
}

fn report_line(ms: f64, used: u32, init: Option<f64>) -> String {
    let mut line = format!(
        "REPORT RequestId: {}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\tMemory Size: 256 MB\tMax Memory Used: {used} MB\t",
        uuid::Uuid::new_v4(),
        ms.ceil()
    );
    if let Some(init) = init {
        line.push_str(&format!("Init Duration: {init:.2} ms\t"));
    }
    line
}

#[tokio::test]
async fn advice_from_cloudwatch_metrics_and_report_lines() {
    let base = unique("adv");
    let (worker, ingest) = (format!("{base}-worker"), format!("{base}-ingest"));
    let c = clients().await;
    let cw = aws_sdk_cloudwatch::Client::new(&c.config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&c.config);
    seed_metric(&cw, &worker, "Invocations", &[100.0, 200.0]).await;
    seed_metric(&cw, &worker, "Duration", &[150.0, 900.0]).await;
    seed_metric(&cw, &worker, "ConcurrentExecutions", &[1.0, 3.0]).await;
    seed_metric(&cw, &worker, "Errors", &[2.0]).await;
    seed_metric(&cw, &ingest, "Invocations", &[1000.0]).await;
    seed_metric(&cw, &ingest, "Duration", &[8.0, 12.0]).await;
    seed_metric(&cw, &ingest, "Throttles", &[4.0]).await;
    let mut lines: Vec<String> = (0..9)
        .map(|i| report_line(150.0 + f64::from(i), 30 + i, None))
        .collect();
    lines.push(report_line(900.0, 41, Some(19.5)));
    lines.push("START RequestId: 1 Version: $LATEST".into());
    lines.push("REPORT <script>alert(1)</script>\tMax Memory Used: 9999 MB".into());
    seed_reports(&logs, &worker, &lines).await;

    let (ok, out, err) = advise(&[
        "--function",
        &worker,
        "--function",
        &ingest,
        "--since",
        "1h",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let w = &v["advice"][0];
    assert_eq!(w["function"], worker.as_str());
    assert_eq!(w["role"], "worker");
    assert_eq!(w["memory_mb"], 256);
    assert_eq!(
        w["recommended_memory_mb"], 192,
        "41 of 256 MB used: −25 %; {w}"
    );
    assert_eq!(w["timeout_s"], 3, "900 ms × 1.5, at least 3 s; {v}");
    assert_eq!(w["queue_visibility_s"], 18);
    assert_eq!(w["reserved_concurrency"], 6, "3 × 1.5 + 1");
    assert!(
        (w["cold_start_share"].as_f64().unwrap() - 0.1).abs() < 1e-9,
        "{w}"
    );
    assert_eq!(w["provisioned_concurrency"], 0);
    let o = &v["observations"][0];
    assert_eq!(o["invocations"], 300.0);
    assert_eq!(o["reports"], 10);
    assert_eq!(
        o["unreadable_reports"], 1,
        "the hostile line is left out, not trusted"
    );
    assert_eq!(o["peak_memory_mb"], 41.0);
    let notes = w["notes"].to_string();
    assert!(
        notes.contains("2 errors") && notes.contains("could not be read"),
        "{notes}"
    );
    assert!(w["monthly_usd_before"].as_f64().unwrap() > 0.0);
    let i = &v["advice"][1];
    assert_eq!(i["role"], "ingest");
    assert_eq!(
        i["recommended_memory_mb"],
        Value::Null,
        "no log group: no memory figure"
    );
    assert!(
        i["memory_reason"]
            .as_str()
            .unwrap()
            .contains("no memory measurement")
    );
    assert!(i["notes"].to_string().contains("4 throttles"));
    assert_eq!(i["queue_visibility_s"], Value::Null);

    let (ok, text, err) = advise(&["--function", &worker, "--since", "1h"]);
    assert!(ok, "{err}");
    assert!(
        text.contains(&worker) && text.contains("256 MB → 192 MB"),
        "{text}"
    );
    assert!(text.contains("queue visibility ≥ 18 s"), "{text}");
}

#[tokio::test]
async fn advice_from_a_load_tester_report_and_a_clear_error_for_anything_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lambda.json");
    std::fs::write(
        &path,
        r#"{"functions": [
          {"role": "worker", "cold_starts": 5, "init_median_ms": 18.7, "init_max_ms": 20.4,
           "first_median_ms": 512, "warm": {"count": 45, "p50_ms": 706, "p90_ms": 1200,
           "p99_ms": 1595, "max_ms": 1600, "mean_ms": 750}, "peak_rss_mib": 28.7,
           "failed_invocations": 0, "failures": []}],
          "cost": {"inputs": {"measured_memory_mb": 512, "batch": 10}}}"#,
    )
    .unwrap();
    let (ok, out, err) = advise(&["--report", path.to_str().unwrap(), "--json"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["advice"][0]["recommended_memory_mb"], 384, "{v}");
    assert_eq!(v["advice"][0]["timeout_s"], 3);
    assert!((v["advice"][0]["monthly_invocations"].as_f64().unwrap() - 1e5).abs() < 1e-6);

    std::fs::write(&path, "{\"hello\": 1}").unwrap();
    let (ok, _, err) = advise(&["--report", path.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("not a load-tester report"), "{err}");
}
