//! Tests of `coderipple advise`: report lines read; sizes, timeouts and costs advised.

use super::cloudwatch::parse_report;
use super::*;

fn worker() -> Observation {
    Observation {
        function: "coderipple-worker".into(),
        role: "worker".into(),
        source: "test".into(),
        window_hours: 3.0,
        invocations: 3000.0,
        avg_duration_ms: Some(200.0),
        max_duration_ms: Some(2000.0),
        max_concurrency: Some(4.0),
        memory_mb: Some(256),
        peak_memory_mb: Some(40.0),
        cold_starts: Some(3.0),
        reports: 3000,
        ..Observation::default()
    }
}

#[test]
fn under_used_memory_shrinks_by_a_quarter_but_not_below_the_peak() {
    let a = advise(&Observation {
        memory_mb: Some(1024),
        peak_memory_mb: Some(100.0),
        ..worker()
    });
    assert_eq!(a.recommended_memory_mb, Some(768), "{a:?}");
    assert!(a.memory_reason.contains("−25 %"));
    // 256 MB with 40 used: a quarter off is 192, above 1.5 × 40 = 60.
    let a = advise(&worker());
    assert_eq!(a.recommended_memory_mb, Some(192));
    // 128 MB with 60 used (47 %): a quarter off would be 96, under 1.5 × 60 = 90 → 128.
    let a = advise(&Observation {
        memory_mb: Some(128),
        peak_memory_mb: Some(60.0),
        ..worker()
    });
    assert_eq!(a.recommended_memory_mb, Some(128));
}

#[test]
fn over_used_memory_grows_by_half_and_a_fitting_one_stays() {
    let a = advise(&Observation {
        memory_mb: Some(128),
        peak_memory_mb: Some(120.0),
        ..worker()
    });
    assert_eq!(a.recommended_memory_mb, Some(192));
    assert!(a.memory_reason.contains("+50 %"), "{}", a.memory_reason);
    let a = advise(&Observation {
        memory_mb: Some(256),
        peak_memory_mb: Some(180.0),
        ..worker()
    });
    assert_eq!(
        a.recommended_memory_mb,
        Some(320),
        "1.5 × 180 = 270 → 320 (64 MB steps)"
    );
    let a = advise(&Observation {
        memory_mb: Some(512),
        peak_memory_mb: Some(300.0),
        ..worker()
    });
    assert_eq!(a.recommended_memory_mb, Some(512));
    assert!(a.memory_reason.contains("fits"));
}

#[test]
fn timeout_visibility_and_concurrency_follow_the_measurements() {
    let a = advise(&worker());
    assert_eq!(a.timeout_s, Some(3), "2 s × 1.5 = 3 s");
    assert_eq!(a.queue_visibility_s, Some(18));
    assert_eq!(a.reserved_concurrency, Some(7), "4 × 1.5 + 1");
    let a = advise(&Observation {
        max_duration_ms: Some(40_100.0),
        ..worker()
    });
    assert_eq!(a.timeout_s, Some(61));
    assert_eq!(a.queue_visibility_s, Some(366));
    let a = advise(&Observation {
        max_duration_ms: Some(800_000.0),
        ..worker()
    });
    assert_eq!(a.timeout_s, Some(900), "Lambda's limit");
    assert!(a.notes.iter().any(|n| n.contains("900 s limit")));
    let ingest = advise(&Observation {
        role: "ingest".into(),
        throttles: 5.0,
        ..worker()
    });
    assert_eq!(
        ingest.queue_visibility_s, None,
        "only the worker reads the queue"
    );
    assert!(ingest.notes.iter().any(|n| n.contains("5 throttles")));
}

#[test]
fn nothing_measured_gives_no_numbers_and_says_so() {
    let a = advise(&Observation {
        function: "coderipple-recover".into(),
        role: "recover".into(),
        ..Observation::default()
    });
    assert_eq!(a.recommended_memory_mb, None);
    assert_eq!(a.timeout_s, None);
    assert_eq!(a.monthly_usd_before, None);
    assert_eq!(a.provisioned_concurrency, 0);
    assert!(a.memory_reason.contains("no memory measurement"));
}

#[test]
fn monthly_cost_is_computed_from_the_rate_and_prices() {
    // 3,000 invocations in 3 h = 730,000 a month; 200 ms at 256 MB.
    let a = advise(&worker());
    assert!((a.monthly_invocations - 730_000.0).abs() < 1e-6);
    let gb_s = 730_000.0 * 0.2 * 0.25;
    let expected = 730_000.0 * LAMBDA_PER_REQUEST + gb_s * LAMBDA_PER_GB_S;
    assert!(
        (a.monthly_usd_before.unwrap() - expected).abs() < 1e-9,
        "{a:?}"
    );
    // At 192 MB (less CPU) the duration stretches by 256/192; the GB-s stay the same but
    // for whole-millisecond rounding.
    let after = a.monthly_usd_after.unwrap();
    assert!(
        (after - expected).abs() / expected < 0.01,
        "{after} vs {expected}"
    );
}

#[test]
fn provisioned_concurrency_only_when_cold_starts_are_common_and_it_pays() {
    // 0.1 % cold starts: not worth it.
    let a = advise(&worker());
    assert_eq!(a.provisioned_concurrency, 0);
    assert!(
        a.provisioned_reason.contains("not worth"),
        "{}",
        a.provisioned_reason
    );
    // Busy all the time (1 s per invocation, 3 per second): one warm instance is cheaper.
    let busy = Observation {
        invocations: 3.0 * 3600.0 * 3.0,
        avg_duration_ms: Some(300.0),
        cold_starts: Some(600.0),
        reports: 30_000,
        ..worker()
    };
    let a = advise(&busy);
    assert!(a.provisioned_concurrency >= 1, "{a:?}");
    // Rarely busy, many cold starts: warm instances idle, so on demand stays.
    let idle = Observation {
        invocations: 30.0,
        cold_starts: Some(20.0),
        reports: 30,
        ..worker()
    };
    let a = advise(&idle);
    assert_eq!(a.provisioned_concurrency, 0);
    assert!(
        a.provisioned_reason.contains("would cost"),
        "{}",
        a.provisioned_reason
    );
}

#[test]
fn report_lines_are_read_and_anything_else_is_refused() {
    let cold = "REPORT RequestId: 3f1c\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 28 MB\tInit Duration: 15.61 ms\t";
    assert_eq!(
        parse_report(cold),
        Some(cloudwatch::ReportLine {
            duration_ms: 12.34,
            memory_mb: 128,
            max_memory_mb: 28.0,
            init_ms: Some(15.61),
        })
    );
    let warm = "REPORT RequestId: 9\tDuration: 1.5 ms\tBilled Duration: 2 ms\tMemory Size: 256 MB\tMax Memory Used: 31 MB";
    assert_eq!(parse_report(warm).unwrap().init_ms, None);
    for bad in [
        "START RequestId: 1 Version: $LATEST",
        "REPORT RequestId: 1\tDuration: NaN ms\tMemory Size: 128 MB\tMax Memory Used: 1 MB",
        "REPORT RequestId: 1\tDuration: -4 ms\tMemory Size: 128 MB\tMax Memory Used: 1 MB",
        "REPORT RequestId: 1\tDuration: 4 ms\tMemory Size: 99999999 MB\tMax Memory Used: 1 MB",
        "REPORT <script>alert(1)</script>\tMemory Size: 128 MB",
        "REPORT RequestId: 1 Duration: 4 ms Memory Size: 128 MB Max Memory Used: 1 MB",
    ] {
        assert_eq!(parse_report(bad), None, "{bad}");
    }
}

#[test]
fn tester_reports_become_observations() {
    let lambda = r#"{"functions": [
        {"role": "ingest", "cold_starts": 5, "init_median_ms": 15.6, "init_max_ms": 21.0,
         "first_median_ms": 10.4, "warm": {"count": 45, "p50_ms": 10.7, "p90_ms": 12, "p99_ms": 13.9,
         "max_ms": 14.2, "mean_ms": 10.9}, "peak_rss_mib": 24.4, "failed_invocations": 0, "failures": []},
        {"role": "worker", "cold_starts": 5, "init_median_ms": 18.7, "init_max_ms": 20.4,
         "first_median_ms": 512, "warm": {"count": 45, "p50_ms": 706, "p90_ms": 1200, "p99_ms": 1595,
         "max_ms": 1600, "mean_ms": 750}, "peak_rss_mib": 28.7, "failed_invocations": 0, "failures": []}],
      "cost": {"inputs": {"measured_memory_mb": 1769, "batch": 10}}}"#;
    let obs = report::observations(lambda, 1e6).unwrap();
    assert_eq!(obs.len(), 2);
    assert_eq!(obs[1].role, "worker");
    assert!(
        (obs[1].invocations - 1e5).abs() < 1e-6,
        "one invocation per batch of 10"
    );
    assert_eq!(obs[1].max_duration_ms, Some(1600.0));
    assert_eq!(obs[0].memory_mb, Some(1769));
    let a = advise(&obs[1]);
    assert_eq!(a.timeout_s, Some(3));
    assert_eq!(
        a.recommended_memory_mb,
        Some(1344),
        "1769 MB, 2 % used: −25 %"
    );
    let run = r#"{"worker_peak_rss_mib": 73.6, "target": "http://127.0.0.1:1/webhook (spawned)"}"#;
    let obs = report::observations(run, 1e6).unwrap();
    assert!((obs[0].peak_memory_mb.unwrap() - 73.6).abs() < 1e-9);
    assert_eq!(advise(&obs[0]).recommended_memory_mb, Some(128));
    for bad in [
        "not json",
        "{}",
        r#"{"functions": 3}"#,
        r#"{"worker_peak_rss_mib": null, "target": "x"}"#,
    ] {
        assert!(report::observations(bad, 1e6).is_err(), "{bad}");
    }
}
