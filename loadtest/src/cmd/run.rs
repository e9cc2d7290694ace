//! `coderipple-loadtest run`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use coderipple_core::BackendKind;
use coderipple_loadtest::applied::AppliedReader;
use coderipple_loadtest::outage;
use coderipple_loadtest::pipeline::{Pipeline, PipelineConfig};
use coderipple_loadtest::report::{Limits, Report, RunInfo, html};
use coderipple_loadtest::runner::{self, RunOptions};
use coderipple_loadtest::schedule::{Model, parse_shape};
use coderipple_loadtest::target::Target;
use coderipple_loadtest::verify::{self, Backends};
use indicatif::ProgressBar;

mod setup;

use setup::{
    await_recovery, aws_endpoint, backend_args, build_traffic, coderipple_bin, open_backend,
    recovery_env, refuse_known_repos, spawn_faults, tempdir_if,
};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Start the local pipeline (`coderipple up --workers 0` + `coderipple worker`) in
    /// --data-dir (a temporary dir when not given), and stop it at the end.
    #[arg(long)]
    spawn: bool,
    /// The `coderipple` binary for --spawn (default: next to this binary, else on PATH).
    #[arg(long)]
    coderipple: Option<PathBuf>,
    /// The ingest URL (HTTP target) of a pipeline you started yourself.
    #[arg(long, conflicts_with = "queue")]
    url: Option<String>,
    /// Send straight to the queue through ingest's intake step (no HTTP, no signature).
    #[arg(long)]
    queue: bool,
    /// The backend to verify against (and to spawn, and to send to with --queue): the
    /// embedded one in --data-dir, or AWS as the environment names it (`AWS_*`,
    /// `CODERIPPLE_QUEUE_*`, `CODERIPPLE_DLQ_*`, `CODERIPPLE_TABLE`, `CODERIPPLE_BUCKET`).
    #[arg(long, env = "CODERIPPLE_BACKEND", value_enum, default_value_t = BackendKind::Sqlite)]
    backend: BackendKind,
    /// The embedded backend's data dir: read for verification, written by --queue (never
    /// taken from CODERIPPLE_DATA_DIR, so that --spawn cannot write into a real one by chance).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The webhook secret (with --spawn, given to ingest).
    #[arg(long, env = "CODERIPPLE_WEBHOOK_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// Worker tasks of the spawned worker process.
    #[arg(long, default_value_t = 2)]
    workers: u16,

    /// Repositories the synthesized pushes are spread over.
    #[arg(long, default_value_t = 10)]
    repos: usize,
    /// Synthesized push events.
    #[arg(long, default_value_t = 100)]
    events: usize,
    /// Commits per push (also per push with --from-git).
    #[arg(long, default_value_t = 1)]
    commits: usize,
    /// Files per synthesized commit.
    #[arg(long, default_value_t = 4)]
    files: usize,
    /// Replay this repository's first-parent history as its push events, in order,
    /// instead of synthesized pushes.
    #[arg(long)]
    from_git: Option<PathBuf>,
    /// The repository name for --from-git (default: `git-<run>/<dir name>`).
    #[arg(long)]
    repo_name: Option<String>,
    /// Also send every example of @octokit/webhooks-examples (its `api.github.com/index.json`).
    #[arg(long)]
    octokit: Option<PathBuf>,

    /// Open model: `burst`, `rate:R` (per second), `ramp:FROM:TO`, `bursts:N:MSms`.
    #[arg(long, default_value = "burst", value_parser = parse_shape)]
    arrival: coderipple_loadtest::schedule::Shape,
    /// Closed model instead: N concurrent senders.
    #[arg(long)]
    concurrency: Option<usize>,
    /// Attempts per request on 503 / no answer before it counts as never acknowledged.
    #[arg(long, default_value_t = 30)]
    max_attempts: usize,

    /// Redeliver every N-th push (0: none).
    #[arg(long, default_value_t = 0)]
    redeliver_every: usize,
    /// Extra copies per redelivered push: all but one right away, the last after the drain.
    #[arg(long, default_value_t = 3)]
    redeliveries: u32,
    /// Send each repository's requests shuffled within windows of N of its own (0: in
    /// history order); the docs must still follow each repository's history.
    #[arg(long, default_value_t = 0)]
    out_of_order: usize,
    /// Pushes never sent, recorded as deliveries GitHub failed (with --spawn): the spawned
    /// `up`'s recovery must find them in the tester's delivery log and have them redelivered.
    #[arg(
        long,
        default_value_t = 0,
        requires = "spawn",
        conflicts_with = "queue"
    )]
    drop: usize,
    /// Poison events (accepted by ingest, refused by the worker).
    #[arg(long, default_value_t = 0)]
    poison: usize,
    /// Requests over ingest's body limit.
    #[arg(long, default_value_t = 0)]
    oversize: usize,
    /// Ingest's body limit, to exceed with --oversize.
    #[arg(long, env = "CODERIPPLE_MAX_BODY_BYTES", default_value_t = 25 * 1024 * 1024)]
    body_limit: usize,
    /// Badly signed requests.
    #[arg(long, default_value_t = 0)]
    bad_signature: usize,
    /// Kill the spawned worker with SIGKILL this many ms into the run...
    #[arg(long, requires = "spawn")]
    kill_worker_after_ms: Option<u64>,
    /// ...and start a new one this many ms later.
    #[arg(long, default_value_t = 500)]
    restart_after_ms: u64,
    /// Backend outage this many ms into the run: the SQLite file locked, or (AWS, with
    /// --spawn) the connections of ingest and the worker to the AWS endpoint cut by a proxy...
    #[arg(long)]
    outage_after_ms: Option<u64>,
    /// ...for this long (SQLite: ingest's busy timeout is 5 s; longer makes it answer 503).
    #[arg(long, default_value_t = 6_500)]
    outage_ms: u64,

    /// Skip the drain and the outcome checks (ingest alone).
    #[arg(long)]
    no_verify: bool,
    /// How long to wait for the drain.
    #[arg(long, default_value_t = 300)]
    drain_timeout_s: u64,
    /// Write the JSON report here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the HTML report here.
    #[arg(long)]
    html: Option<PathBuf>,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
    /// Threshold: end-to-end p99 (ms).
    #[arg(long)]
    max_p99_ms: Option<f64>,
    /// Threshold: ingest p99 (ms).
    #[arg(long)]
    max_ingest_p99_ms: Option<f64>,
    /// Threshold: share of requests answered as expected (0..1).
    #[arg(long)]
    min_success: Option<f64>,
    /// Threshold: lost deliveries tolerated.
    #[arg(long, default_value_t = 0)]
    max_lost: usize,
}

pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let tag = u32::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..4].try_into()?);
    let run_prefix = format!("lt-{tag:08x}");
    if let Some(min) = args.min_success
        && !(0.0..=1.0).contains(&min)
    {
        bail!("--min-success is a share between 0 and 1, got {min}");
    }
    let (traffic, description) = build_traffic(&args, tag).await?;
    let aws = args.backend == BackendKind::Aws;
    let temp = tempdir_if(args.spawn && (aws || args.data_dir.is_none()))?;
    let data_dir: Option<PathBuf> = match (&args.data_dir, &temp) {
        (_, Some(t)) if aws => Some(t.path().to_path_buf()),
        (Some(d), _) => Some(d.clone()),
        (None, t) => t.as_ref().map(|t| t.path().to_path_buf()),
    };
    let secret = match (&args.secret, args.spawn) {
        (Some(s), _) => s.clone(),
        (None, true) => format!("loadtest-{tag:08x}"),
        (None, false) if args.queue => String::new(),
        (None, false) => bail!("--secret / CODERIPPLE_WEBHOOK_SECRET is needed to sign requests"),
    };
    if !aws && !args.no_verify && data_dir.is_none() {
        bail!(
            "verification reads the embedded backend: give --data-dir (or --spawn), or --no-verify"
        );
    }
    if args.outage_after_ms.is_some() && (if aws { !args.spawn } else { data_dir.is_none() }) {
        bail!(
            "--outage-after-ms locks the SQLite file of --data-dir (or --spawn), or (AWS) needs --spawn for its proxy"
        );
    }
    if aws && args.queue && args.outage_after_ms.is_some() {
        bail!(
            "an AWS outage cuts ingest off through a proxy; the queue target has no ingest to cut off"
        );
    }
    let proxy = match (aws, args.outage_after_ms, args.spawn) {
        (true, Some(_), true) => Some(Arc::new(outage::TcpProxy::start(aws_endpoint()?).await?)),
        _ => None,
    };

    let delivery_log = if args.drop > 0 {
        Some(Arc::new(
            coderipple_loadtest::github_log::DeliveryLog::start().await?,
        ))
    } else {
        None
    };
    let pipeline = if args.spawn {
        let dir = data_dir.clone().context("a data dir")?;
        let backend_env = match &proxy {
            Some(p) => vec![("AWS_ENDPOINT_URL".to_owned(), format!("http://{}", p.addr))],
            None => Vec::new(),
        };
        let pipeline = Pipeline::start(PipelineConfig {
            bin: coderipple_bin(args.coderipple.as_deref())?,
            data_dir: dir,
            secret: secret.clone(),
            workers: args.workers,
            ingest: !args.queue,
            backend: if aws { "aws" } else { "sqlite" }.into(),
            env: vec![(
                "CODERIPPLE_MAX_BODY_BYTES".into(),
                args.body_limit.to_string(),
            )],
            backend_env,
            ingest_env: recovery_env(delivery_log.as_deref(), &traffic),
        })?;
        Some(Arc::new(Mutex::new(pipeline)))
    } else {
        None
    };
    let opened = open_backend(args.backend, data_dir.as_deref()).await?;
    if let (Some(opened), false) = (&opened, args.no_verify) {
        refuse_known_repos(opened, &traffic).await?;
    }
    let target = if args.queue {
        let opened = opened
            .as_ref()
            .context("--queue needs --data-dir (or --spawn)")?;
        Target::Queue(Arc::new(opened.clone()))
    } else {
        let url = match (&args.url, &pipeline) {
            (Some(u), _) => u.clone(),
            (None, Some(p)) => p
                .lock()
                .expect("pipeline lock")
                .url
                .clone()
                .context("ingest URL")?,
            (None, None) => bail!("give --url, --queue or --spawn"),
        };
        Target::http(&url, &secret)?
    };

    let model = match args.concurrency {
        Some(n) => Model::Closed { concurrency: n },
        None => Model::Open(args.arrival),
    };
    let mut events = Vec::new();
    let mut errors = Vec::new();
    let faults = spawn_faults(
        &args,
        pipeline.clone(),
        data_dir.as_deref(),
        proxy.clone(),
        aws,
    );
    if let Some(log) = &delivery_log {
        log.deliver_to(target.clone());
    }
    let options = RunOptions {
        model,
        max_attempts: args.max_attempts,
        progress: !args.quiet,
        log: delivery_log.clone(),
    };
    let mut phase = runner::run(&target, &traffic, &options).await;
    if let Some(log) = &delivery_log {
        match await_recovery(log, &mut phase, Duration::from_secs(args.drain_timeout_s)).await {
            Ok(event) => events.push(event),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    // From here on, what goes wrong fails the run (exit 1) with a report, not a setup error.
    for fault in faults {
        match fault.await.map_err(anyhow::Error::from).and_then(|r| r) {
            Ok(event) => events.push(event),
            Err(e) => errors.push(format!("fault not injected: {e:#}")),
        }
    }

    let verification = match (&opened, args.no_verify) {
        (Some(opened), false) => {
            let backends = Backends {
                store: opened.store.clone(),
                dlq: opened.dlq.clone(),
                applied: AppliedReader {
                    bin: coderipple_bin(args.coderipple.as_deref())?,
                    args: backend_args(args.backend, data_dir.as_deref()),
                },
            };
            let bar = if args.quiet {
                ProgressBar::hidden()
            } else {
                ProgressBar::new(0)
            };
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} draining {pos}/{len} applied or dead-lettered",
                )
                .expect("template"),
            );
            let (drained, took, records) = verify::drain(
                &backends,
                &traffic,
                &phase,
                Duration::from_secs(args.drain_timeout_s),
                |done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                },
            )
            .await;
            bar.finish_and_clear();
            runner::send_late(&target, &traffic, &mut phase, args.max_attempts).await;
            match verify::verify(&backends, &traffic, &phase, &records, &run_prefix).await {
                Ok(mut v) => {
                    v.drained = drained;
                    v.drain_ms = took.as_secs_f64() * 1000.0;
                    Some(v)
                }
                Err(e) => {
                    errors.push(format!("verification could not read the backend: {e:#}"));
                    None
                }
            }
        }
        _ => None,
    };
    let peak = pipeline
        .as_ref()
        .and_then(|p| p.lock().expect("pipeline lock").worker_peak_rss_mib());
    if let Some(p) = &pipeline {
        p.lock().expect("pipeline lock").stop();
    }
    let info = RunInfo {
        target: target.describe(),
        model: model.describe(),
        traffic: description,
        events,
        errors,
        worker_peak_rss_mib: peak,
    };
    let limits = Limits {
        max_p99_ms: args.max_p99_ms,
        max_ingest_p99_ms: args.max_ingest_p99_ms,
        min_success: args.min_success,
        max_lost: args.max_lost,
    };
    let report = Report::build(info, &traffic, &phase, verification, &limits);
    print!("{}", report.table());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.html {
        std::fs::write(path, html::render(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(embedded) = opened.and_then(|b| b.embedded) {
        embedded.db.close();
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
