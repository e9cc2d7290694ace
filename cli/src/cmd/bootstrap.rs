//! `coderipple bootstrap owner/repo --repo-root PATH`: complete initial docs from a
//! checkout's history and current tree, through the normal processing path.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use coderipple_core::metrics::Metrics;
use coderipple_worker::history_import;

use crate::args::BackendKind;
use crate::backend::Backend;

pub async fn run(
    kind: BackendKind,
    data_dir: &Path,
    repo: &str,
    root: &Path,
    repo_url: Option<&str>,
    docs_remotes: &[String],
) -> anyhow::Result<ExitCode> {
    coderipple_core::webhook::validate_repo(repo).context("the repository (owner/name)")?;
    let spec = format!("{repo}={}", root.display());
    let settings = crate::backend::WorkerSettings::load(&[spec], docs_remotes, None).await?;
    let backend = Backend::open(kind, data_dir, true).await?;
    let ctx = backend.worker_context(Metrics::off(), &settings)?;
    let url = repo_url.map_or_else(|| format!("https://github.com/{repo}"), str::to_owned);
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} change sets")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(format!("bootstrap {repo}"));
    let report = history_import::run(&ctx, root, repo, &url, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .await
    .with_context(|| format!("bootstrap of {repo} from {}", root.display()))?;
    bar.finish_and_clear();
    println!(
        "bootstrapped {repo}: {} commit(s), {} tag(s), {} path(s) in the tree, {} change set(s); docs in {}/{repo}",
        report.commits, report.tags, report.paths, report.events, backend.docs_location
    );
    Ok(match &report.publish {
        Some(outcome) => super::publish::print_outcome(repo, outcome),
        None => ExitCode::SUCCESS,
    })
}
