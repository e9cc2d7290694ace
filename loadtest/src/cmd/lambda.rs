//! `coderipple-loadtest lambda`: cold starts and warm invocations of the `bootstrap` binary
//! under a loopback Runtime API, peak RSS, and the cost model on those figures.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use coderipple_loadtest::cost::{self, Inputs};
use coderipple_loadtest::report::{Latency, histogram};
use coderipple_loadtest::runtime_api::{self, ColdStart, FunctionSpec};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Role {
    Ingest,
    Worker,
    Both,
}

#[derive(Debug, Args)]
pub struct LambdaArgs {
    /// The Lambda binary (`target/release/coderipple`, or a built `bootstrap`).
    #[arg(long)]
    bootstrap: PathBuf,
    /// Which function(s) to measure.
    #[arg(long, value_enum, default_value_t = Role::Both)]
    role: Role,
    /// Cold starts per function (a fresh process each).
    #[arg(long, default_value_t = 5)]
    cold_starts: usize,
    /// Invocations per cold start (the first is the cold one).
    #[arg(long, default_value_t = 20)]
    invocations: usize,
    /// Messages per worker invocation (the event source mapping's batch size).
    #[arg(long, default_value_t = 10)]
    batch: usize,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` given to the function.
    #[arg(long, default_value_t = 128)]
    memory_mb: u32,
    /// The ingest function's webhook secret (unless CODERIPPLE_WEBHOOK_SECRET_PARAM is set).
    #[arg(
        long,
        env = "CODERIPPLE_WEBHOOK_SECRET",
        hide_env_values = true,
        default_value = "loadtest-secret"
    )]
    secret: String,
    /// Cost model: share of invocations that are cold starts.
    #[arg(long, default_value_t = 0.01)]
    cold_share: f64,
    /// Cost model: repo state size (KB).
    #[arg(long, default_value_t = 8.0)]
    state_kb: f64,
    /// Cost model: docs written per change set (3: what a push to a repository that has docs
    /// writes, only the changed ones; counted by scripts/bench-aws-requests).
    #[arg(long, default_value_t = 3.0)]
    docs_per_change: f64,
    /// Cost model: the slowest acceptable warm ingest answer (ms) for the recommendation.
    #[arg(long, default_value_t = 50.0)]
    max_ingest_ms: f64,
    /// Write the figures as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The figures of one function over its cold starts.
#[derive(Debug, serde::Serialize)]
struct Summary {
    role: &'static str,
    cold_starts: usize,
    init_median_ms: f64,
    init_max_ms: f64,
    first_median_ms: f64,
    warm: Latency,
    peak_rss_mib: f64,
    failed_invocations: usize,
    failures: Vec<String>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn summarize(role: &'static str, runs: &[ColdStart]) -> Summary {
    let warm = histogram(
        runs.iter()
            .flat_map(|r| r.warm_ms.iter().map(|ms| (ms * 1000.0) as u64)),
    );
    Summary {
        role,
        cold_starts: runs.len(),
        init_median_ms: median(runs.iter().map(|r| r.init_ms).collect()),
        init_max_ms: runs.iter().map(|r| r.init_ms).fold(0.0, f64::max),
        first_median_ms: median(runs.iter().map(|r| r.first_ms).collect()),
        warm: Latency::of(&warm),
        peak_rss_mib: runs.iter().map(|r| r.peak_rss_mib).fold(0.0, f64::max),
        failed_invocations: runs.iter().map(|r| r.failed.len()).sum(),
        failures: runs
            .iter()
            .flat_map(|r| r.failed.iter().take(5).cloned())
            .take(10)
            .collect(),
    }
}

pub async fn run(args: LambdaArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.cold_starts > 0 && args.invocations > 0 && args.batch > 0,
        "--cold-starts, --invocations and --batch must be at least 1"
    );
    let roles: &[&'static str] = match args.role {
        Role::Ingest => &["ingest"],
        Role::Worker => &["worker"],
        Role::Both => &["ingest", "worker"],
    };
    let mut summaries = Vec::new();
    for role in roles {
        let mut env = Vec::new();
        if *role == "ingest" && std::env::var_os("CODERIPPLE_WEBHOOK_SECRET_PARAM").is_none() {
            env.push(("CODERIPPLE_WEBHOOK_SECRET".to_owned(), args.secret.clone()));
        }
        let spec = FunctionSpec {
            bootstrap: args.bootstrap.clone(),
            role: (*role).to_owned(),
            memory_mb: args.memory_mb,
            env,
        };
        let mut runs = Vec::new();
        for _ in 0..args.cold_starts {
            let tag = u32::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..4].try_into()?);
            let events = match *role {
                "ingest" => runtime_api::ingest_events(&args.secret, args.invocations, tag),
                _ => runtime_api::worker_events(args.invocations, args.batch, tag),
            };
            runs.push(runtime_api::cold_start(&spec, events).await?);
        }
        summaries.push(summarize(role, &runs));
    }
    println!(
        "{:<8} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7}",
        "function",
        "starts",
        "init p50",
        "init max",
        "first",
        "warm p50",
        "warm p99",
        "peak RSS",
        "failed"
    );
    for s in &summaries {
        println!(
            "{:<8} {:>6} {:>8.2}ms {:>8.2}ms {:>8.2}ms {:>8.2}ms {:>8.2}ms {:>7.1}MiB {:>7}",
            s.role,
            s.cold_starts,
            s.init_median_ms,
            s.init_max_ms,
            s.first_median_ms,
            s.warm.p50_ms,
            s.warm.p99_ms,
            s.peak_rss_mib,
            s.failed_invocations
        );
        for failure in &s.failures {
            println!("  {failure}");
        }
    }
    let find = |role: &str| summaries.iter().find(|s| s.role == role);
    let model = match (find("ingest"), find("worker")) {
        (Some(i), Some(w)) => {
            let cost = cost::model(Inputs {
                ingest_ms: i.warm.p50_ms,
                worker_batch_ms: w.warm.p50_ms,
                batch: args.batch,
                init_ms: i.init_median_ms.max(w.init_median_ms),
                cold_share: args.cold_share,
                peak_rss_mib: i.peak_rss_mib.max(w.peak_rss_mib),
                measured_memory_mb: 1769,
                state_kb: args.state_kb,
                docs_per_change: args.docs_per_change,
                max_ingest_ms: args.max_ingest_ms,
            });
            print!("\n{}", cost.table());
            Some(cost)
        }
        _ => None,
    };
    if let Some(path) = &args.json {
        std::fs::write(
            path,
            serde_json::to_vec_pretty(&json!({"functions": summaries, "cost": model}))?,
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
