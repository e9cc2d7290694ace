//! Short, bounded scenarios of each kind through the real local pipeline (`coderipple up`
//! and `coderipple worker`, started by the tester with `--spawn`): burst, redelivery storm
//! with poison and refused requests, crash-restart of the worker, SQLite outage, the queue
//! target, a real git history, thresholds. Each asserts the verification (nothing lost,
//! nothing applied twice, order kept, the DLQ exactly the poison), never a timing.
//!
//! The `coderipple` binary is taken from next to `coderipple-loadtest` (both are built by
//! `cargo nextest run --workspace` / `cargo build --workspace`).

use std::path::Path;
use std::process::Command;

use crate::common::{assert_sound, coderipple, count as v, loadtest, summary};
use serde_json::Value;

/// Runs `coderipple-loadtest run --spawn … --json` with `envs`; returns (exit code, report).
fn run(args: &[&str], envs: &[(&str, &str)]) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let html = dir.path().join("report.html");
    let mut cmd = Command::new(loadtest());
    cmd.args(["run", "--spawn", "--quiet", "--coderipple"])
        .arg(coderipple())
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--json")
        .arg(&json)
        .arg("--html")
        .arg(&html)
        .args(args)
        .env("RUST_LOG", "error")
        .env("CODERIPPLE_SQLITE_SYNC", "normal");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run coderipple-loadtest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let code = out.status.code().unwrap_or(-1);
    assert!(
        json.exists(),
        "no report (exit {code}):\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("<svg") && page.contains("CodeRipple load test"),
        "HTML report with plots"
    );
    assert!(
        stdout.contains("result"),
        "summary table printed:\n{stdout}"
    );
    (code, report)
}

#[test]
fn burst_over_many_repos_is_applied_once_each_in_order() {
    let (code, report) = run(&["--events", "300", "--repos", "12", "--commits", "2"], &[]);
    assert_eq!(code, 0, "{}", summary(&report));
    assert_sound(&report, 300);
    assert_eq!(report["passed"], true);
    assert_eq!(report["end_to_end"]["count"], 300);
}

#[test]
fn pushes_sent_out_of_order_are_applied_in_history_order() {
    let (code, report) = run(
        &[
            "--events",
            "120",
            "--repos",
            "4",
            "--out-of-order",
            "6",
            "--workers",
            "3",
        ],
        &[],
    );
    assert_eq!(code, 0, "{}", summary(&report));
    assert_sound(&report, 120);
    assert!(
        report["traffic"].to_string().contains("out of order"),
        "{}",
        report["traffic"]
    );
}

/// Deliveries GitHub failed and never re-sends: the tester records them in its GitHub
/// delivery log instead of sending them; the spawned `up`'s recovery reads the log, has them
/// redelivered, and every push still ends applied once, in history order (the pushes after a
/// dropped one wait for it).
#[test]
fn dropped_deliveries_are_brought_back_by_recovery() {
    let (code, report) = run(
        &[
            "--events",
            "60",
            "--repos",
            "3",
            "--drop",
            "4",
            "--out-of-order",
            "3",
        ],
        &[],
    );
    assert_eq!(code, 0, "{}", summary(&report));
    assert_sound(&report, 60);
    let events = report["events"].to_string();
    assert!(
        events.contains("4 deliveries dropped") && events.contains("recovery had all redelivered"),
        "{events}"
    );
}

#[test]
fn redelivery_storm_poison_and_refused_requests() {
    let (code, report) = run(
        &[
            "--events",
            "60",
            "--repos",
            "3",
            "--redeliver-every",
            "4",
            "--redeliveries",
            "3",
            "--poison",
            "3",
            "--oversize",
            "2",
            "--bad-signature",
            "2",
            "--body-limit",
            "65536",
        ],
        &[],
    );
    assert_eq!(code, 0, "{}", summary(&report));
    assert_sound(&report, 60);
    // 15 pushes × 3 copies (2 right away, 1 after the drain), all answered as duplicates.
    assert_eq!(v(&report, "redeliveries"), 45);
    assert_eq!(v(&report, "duplicates_answered"), 45);
    assert_eq!(v(&report, "poison_expected"), 3);
    assert_eq!(
        v(&report, "dlq_found"),
        3,
        "the DLQ holds exactly the poison"
    );
    assert_eq!(v(&report, "dlq_without_reason"), 0);
    assert_eq!(v(&report, "refused_as_expected"), 4);
}

#[test]
fn worker_killed_mid_run_and_restarted_loses_nothing() {
    // A short visibility timeout: what the killed worker held comes back soon.
    let (code, report) = run(
        &[
            "--events",
            "200",
            "--repos",
            "4",
            "--arrival",
            "rate:150",
            "--kill-worker-after-ms",
            "400",
            "--restart-after-ms",
            "300",
        ],
        &[("CODERIPPLE_VISIBILITY_TIMEOUT_SECS", "3")],
    );
    assert_eq!(code, 0, "{}", summary(&report));
    assert_sound(&report, 200);
    let events = report["events"].to_string();
    assert!(events.contains("killed with SIGKILL"), "{events}");
    assert!(report["worker_peak_rss_mib"].as_f64().unwrap() > 0.0);
}

#[test]
fn sqlite_outage_is_answered_503_and_the_resends_lose_nothing() {
    // Locked longer than ingest's 5 s busy timeout: some requests must be answered 503.
    let (code, report) = run(
        &[
            "--events",
            "120",
            "--repos",
            "4",
            "--arrival",
            "rate:40",
            "--outage-after-ms",
            "500",
            "--outage-ms",
            "7000",
        ],
        &[],
    );
    assert_eq!(code, 0, "{}", summary(&report));
    assert_sound(&report, 120);
    assert!(
        report["unavailable_answers"].as_u64().unwrap() > 0,
        "{}",
        summary(&report)
    );
    assert!(report["events"].to_string().contains("SQLite file locked"));
}

#[test]
fn queue_target_closed_model_bypasses_http() {
    let (code, report) = run(
        &[
            "--queue",
            "--events",
            "80",
            "--repos",
            "5",
            "--concurrency",
            "4",
        ],
        &[],
    );
    assert_eq!(code, 0, "{}", summary(&report));
    assert_sound(&report, 80);
    assert!(report["target"].as_str().unwrap().starts_with("queue"));
    assert!(report["model"].as_str().unwrap().starts_with("closed"));
}

#[test]
fn a_git_history_is_replayed_as_its_pushes_in_order() {
    let repo = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args(args)
            .current_dir(repo.path())
            .env("GIT_AUTHOR_NAME", "T")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "T")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    for i in 0..7 {
        std::fs::write(repo.path().join(format!("f{i}.rs")), format!("// {i}\n")).unwrap();
        git(&["add", "."]);
        git(&["commit", "-q", "-m", &format!("feat: step {i}")]);
    }
    // A merged branch: its merge commit is on the first-parent line, and the Historian does
    // not list merges, so it must not be expected in the changelog.
    git(&["checkout", "-q", "-b", "topic"]);
    std::fs::write(repo.path().join("topic.rs"), "// topic\n").unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "feat: topic work"]);
    git(&["checkout", "-q", "main"]);
    git(&[
        "merge",
        "-q",
        "--no-ff",
        "topic",
        "-m",
        "Merge branch 'topic'",
    ]);
    let path = repo.path().to_str().unwrap();
    let (code, report) = run(
        &[
            "--from-git",
            path,
            "--commits",
            "2",
            "--repo-name",
            "acme/replayed",
        ],
        &[],
    );
    assert_eq!(code, 0, "{}", summary(&report));
    assert_sound(&report, 4); // 7 commits and the merge on the first-parent line, 2 per push

    // Replaying it into a backend that already has that repository is refused: its commits
    // would count as applied by the earlier run.
    let data = tempfile::tempdir().unwrap();
    let replay = || {
        Command::new(loadtest())
            .args([
                "run",
                "--spawn",
                "--quiet",
                "--from-git",
                path,
                "--repo-name",
                "acme/replayed",
            ])
            .arg("--coderipple")
            .arg(coderipple())
            .arg("--data-dir")
            .arg(data.path())
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    };
    assert_eq!(replay().status.code(), Some(0));
    let again = replay();
    assert_eq!(again.status.code(), Some(2));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("acme/replayed already has state"), "{err}");
}

#[test]
fn octokit_examples_are_accepted_and_their_pushes_completed() {
    let index = Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../.test-fixtures/node_modules/@octokit/webhooks-examples/api.github.com/index.json",
    );
    if !index.exists() {
        assert!(
            std::env::var_os("CODERIPPLE_REQUIRE_FIXTURES").is_none(),
            "{} missing",
            index.display()
        );
        eprintln!("SKIPPED: octokit examples not installed; scripts/test installs them");
        return;
    }
    let (code, report) = run(
        &[
            "--events",
            "10",
            "--repos",
            "2",
            "--octokit",
            index.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{}", summary(&report));
    assert_sound(&report, 10);
    assert!(
        v(&report, "samples_completed") > 0,
        "{}",
        report["verification"]
    );
    assert_eq!(report["success_rate"], 1.0);
}

#[test]
fn a_missed_threshold_fails_the_run_with_exit_code_1() {
    let (code, report) = run(
        &["--events", "20", "--repos", "2", "--max-p99-ms", "0.000001"],
        &[],
    );
    assert_eq!(code, 1, "{}", summary(&report));
    assert_sound(&report, 20);
    assert_eq!(report["passed"], false);
    let failed: Vec<&Value> = report["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["passed"] == false)
        .collect();
    assert_eq!(failed.len(), 1, "{}", report["thresholds"]);
    assert!(
        failed[0]["name"]
            .as_str()
            .unwrap()
            .contains("end-to-end p99")
    );
}

#[test]
fn bad_input_is_refused_with_a_clear_error_and_exit_code_2() {
    let out = Command::new(loadtest())
        .args([
            "run",
            "--spawn",
            "--quiet",
            "--from-git",
            "/nonexistent/checkout",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--from-git /nonexistent/checkout"), "{err}");
    let out = Command::new(loadtest())
        .args(["run", "--url", "http://127.0.0.1:9/webhook", "--queue"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "conflicting targets are a usage error"
    );
}

#[test]
fn an_unreachable_ingest_counts_against_the_success_rate() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let out = Command::new(loadtest())
        .args([
            "run",
            "--quiet",
            "--no-verify",
            "--url",
            "http://127.0.0.1:9/webhook",
            "--secret",
            "s",
        ])
        .args([
            "--events",
            "3",
            "--max-attempts",
            "2",
            "--min-success",
            "0.95",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["success_rate"], 0.0);
    assert_eq!(report["resent"], 3, "each request was sent twice");
}
