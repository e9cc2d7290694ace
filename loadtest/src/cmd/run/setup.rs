//! The run's setup: its traffic, its faults, the backend it verifies against, the binaries and
//! the temporary data dir.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use coderipple_core::aws::{AwsClients, SdkRetries};
use coderipple_core::config::Settings;
use coderipple_core::{Backend, BackendKind};
use coderipple_loadtest::outage;
use coderipple_loadtest::pipeline::Pipeline;
use coderipple_loadtest::traffic::{self, Faults, Synth};

use super::RunArgs;

pub(super) async fn build_traffic(
    args: &RunArgs,
    tag: u32,
) -> anyhow::Result<(Vec<traffic::Request>, String)> {
    let (mut requests, mut description) = match &args.from_git {
        Some(root) => {
            let dir_name = root
                .canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "repo".into());
            let repo = args
                .repo_name
                .clone()
                .unwrap_or_else(|| format!("git-{tag:08x}/{dir_name}"));
            let requests = traffic::from_git(root, &repo, args.commits, tag).await?;
            let d = format!(
                "history of {} as {repo} ({} pushes)",
                root.display(),
                requests.len()
            );
            (requests, d)
        }
        None => {
            anyhow::ensure!(args.repos > 0, "--repos must be at least 1");
            let shape = Synth {
                repos: args.repos,
                events: args.events,
                commits: args.commits,
                files: args.files,
            };
            let d = format!(
                "synthesized: {} pushes × {} commit(s) × {} file(s) over {} repos",
                args.events, args.commits, args.files, args.repos
            );
            (traffic::synthesize(tag, &shape), d)
        }
    };
    if let Some(index) = &args.octokit {
        let samples = traffic::octokit_examples(index, tag, requests.len())?;
        description.push_str(&format!(" + {} octokit examples", samples.len()));
        requests.extend(samples);
    }
    if args.queue && (args.oversize > 0 || args.bad_signature > 0) {
        bail!("--oversize and --bad-signature test the HTTP front door; the queue target has none");
    }
    let faults = Faults {
        poison: args.poison,
        oversize: args.oversize,
        body_limit: args.body_limit,
        bad_signature: args.bad_signature,
        redeliver_every: args.redeliver_every,
        redeliveries: args.redeliveries,
        drop: args.drop,
    };
    coderipple_loadtest::reorder::chain(&mut requests);
    let mut requests = traffic::inject(requests, &faults, tag);
    if args.out_of_order > 1 {
        requests =
            coderipple_loadtest::reorder::out_of_order(requests, args.out_of_order, u64::from(tag));
        description.push_str(&format!(
            ", sent out of order (shuffled within windows of {} per repository)",
            args.out_of_order
        ));
    }
    anyhow::ensure!(!requests.is_empty(), "no traffic to send");
    Ok((requests, description))
}

/// Starts the kill/restart and outage tasks; each returns a line for the report.
pub(super) fn spawn_faults(
    args: &RunArgs,
    pipeline: Option<Arc<Mutex<Pipeline>>>,
    data_dir: Option<&Path>,
    proxy: Option<Arc<outage::TcpProxy>>,
    aws: bool,
) -> Vec<tokio::task::JoinHandle<anyhow::Result<String>>> {
    let mut tasks = Vec::new();
    let start = Instant::now();
    if let (Some(after), Some(p)) = (args.kill_worker_after_ms, pipeline) {
        let restart = args.restart_after_ms;
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(after)).await;
            let p2 = p.clone();
            tokio::task::spawn_blocking(move || p2.lock().expect("pipeline lock").kill_worker())
                .await?;
            let killed = start.elapsed();
            tokio::time::sleep(Duration::from_millis(restart)).await;
            let p2 = p.clone();
            tokio::task::spawn_blocking(move || p2.lock().expect("pipeline lock").restart_worker())
                .await??;
            Ok(format!(
                "worker killed with SIGKILL at {} ms, restarted at {} ms",
                killed.as_millis(),
                start.elapsed().as_millis()
            ))
        }));
    }
    if let (Some(after), Some(proxy)) = (args.outage_after_ms, proxy) {
        let cut = proxy.outage(
            Duration::from_millis(after),
            Duration::from_millis(args.outage_ms),
        );
        tasks.push(tokio::spawn(async move {
            let r = cut.await??;
            Ok(format!(
                "ingest and worker cut off from the AWS endpoint at {:.0} ms for {:.0} ms",
                r.began_after_ms, r.held_ms
            ))
        }));
    } else if let (false, Some(after), Some(dir)) = (aws, args.outage_after_ms, data_dir) {
        let lock = outage::lock_sqlite(
            &coderipple_core::data_dir::db_path(dir),
            Duration::from_millis(after),
            Duration::from_millis(args.outage_ms),
        );
        tasks.push(tokio::spawn(async move {
            let r = lock.await??;
            Ok(format!(
                "SQLite file locked at {:.0} ms for {:.0} ms",
                r.began_after_ms, r.held_ms
            ))
        }));
    }
    tasks
}

/// The backend the run verifies against (and sends to with --queue), opened the way every
/// process opens it ([`Backend::open_local`], [`Backend::open_aws_from_env`]).
pub(super) async fn open_backend(
    kind: BackendKind,
    data_dir: Option<&Path>,
) -> anyhow::Result<Option<Backend>> {
    let settings = Settings::from_env()?;
    match (kind, data_dir) {
        (BackendKind::Aws, _) => {
            let clients = AwsClients::from_env(SdkRetries::Standard).await;
            Ok(Some(Backend::open_aws_from_env(&clients, &settings).await?))
        }
        (BackendKind::Sqlite, Some(dir)) => Ok(Some(
            Backend::open_local(dir, &settings, false)
                .map_err(|e| anyhow::anyhow!("{e} (or use --spawn)"))?,
        )),
        (BackendKind::Sqlite, None) => Ok(None),
    }
}

/// The `coderipple` flags that select the same backend (AWS names come from the environment
/// the tester passes on).
pub(super) fn backend_args(kind: BackendKind, data_dir: Option<&Path>) -> Vec<std::ffi::OsString> {
    let mut args = vec!["--backend".into(), kind.name().into()];
    if let (BackendKind::Sqlite, Some(dir)) = (kind, data_dir) {
        args.push("--data-dir".into());
        args.push(dir.into());
    }
    args
}

/// The check "applied once, in order" reads each repository's applied commits: a repository
/// that already has state (a `--from-git` history replayed under the same `--repo-name` into
/// the same backend) would pass on the earlier run's work, so it is refused up front.
pub(super) async fn refuse_known_repos(
    opened: &Backend,
    traffic: &[traffic::Request],
) -> anyhow::Result<()> {
    let repos: std::collections::BTreeSet<&str> = traffic
        .iter()
        .filter(|r| r.kind == traffic::Kind::Normal)
        .map(|r| r.repo.as_str())
        .collect();
    for repo in repos {
        if opened.store.repo_state(repo).await?.is_some() {
            bail!(
                "{repo} already has state in this backend, so its commits would count as applied by an earlier run: use a fresh data dir or another --repo-name"
            );
        }
    }
    Ok(())
}

/// `host:port` of `AWS_ENDPOINT_URL` (the endpoint the outage proxy stands in front of).
pub(super) fn aws_endpoint() -> anyhow::Result<String> {
    let url = std::env::var("AWS_ENDPOINT_URL")
        .context("an AWS outage needs AWS_ENDPOINT_URL (a loopback endpoint such as moto) to put the proxy in front of")?;
    let rest = url
        .strip_prefix("http://")
        .context("AWS_ENDPOINT_URL must be http://host:port for the outage proxy")?;
    Ok(rest.trim_end_matches('/').to_owned())
}

pub(super) fn coderipple_bin(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let sibling = std::env::current_exe()?.with_file_name("coderipple");
    if sibling.exists() {
        return Ok(sibling);
    }
    Ok(PathBuf::from("coderipple"))
}

/// A temporary data dir for --spawn without --data-dir (removed when dropped).
pub(super) fn tempdir_if(wanted: bool) -> anyhow::Result<Option<tempfile::TempDir>> {
    if !wanted {
        return Ok(None);
    }
    let dir = tempfile::Builder::new()
        .prefix("coderipple-loadtest-")
        .tempdir()
        .context("cannot create a temporary data dir")?;
    Ok(Some(dir))
}

/// The spawned `up`'s GitHub settings for `--drop`: a token, the tester's delivery log as
/// GitHub's API, one hook per repository, recovery every two seconds.
pub(super) fn recovery_env(
    log: Option<&coderipple_loadtest::github_log::DeliveryLog>,
    traffic: &[traffic::Request],
) -> Vec<(String, String)> {
    let Some(log) = log else {
        return Vec::new();
    };
    let repos: std::collections::BTreeSet<&str> = traffic.iter().map(|r| r.repo.as_str()).collect();
    let hooks: Vec<String> = repos
        .into_iter()
        .map(|r| format!("{r}:{}", coderipple_loadtest::github_log::HOOK_ID))
        .collect();
    vec![
        ("CODERIPPLE_GITHUB_TOKEN".into(), "loadtest-token".into()),
        ("CODERIPPLE_GITHUB_API_URL".into(), log.url.clone()),
        ("CODERIPPLE_RECOVER_HOOKS".into(), hooks.join(",")),
        ("CODERIPPLE_RECOVER_EVERY".into(), "2".into()),
    ]
}

/// Waits (up to `limit`) until recovery had every dropped request redelivered, and takes
/// ingest's answers into the send phase; a line for the report.
pub(super) async fn await_recovery(
    log: &coderipple_loadtest::github_log::DeliveryLog,
    phase: &mut coderipple_loadtest::runner::SendPhase,
    limit: Duration,
) -> anyhow::Result<String> {
    use coderipple_loadtest::runner::DROPPED;
    let started = Instant::now();
    let dropped = phase.sent.iter().filter(|s| s.what == DROPPED).count();
    loop {
        for s in phase.sent.iter_mut().filter(|s| s.what == DROPPED) {
            if let Some(answer) = log.redelivered(&s.delivery) {
                s.redelivered(answer);
            }
        }
        let left = phase.sent.iter().filter(|s| s.what == DROPPED).count();
        if left == 0 {
            return Ok(format!(
                "{dropped} deliveries dropped (GitHub answered 503, never re-sent); recovery had all redelivered within {:.1} s",
                started.elapsed().as_secs_f64()
            ));
        }
        if started.elapsed() > limit {
            bail!("{left} of {dropped} dropped deliveries were not redelivered by recovery");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
