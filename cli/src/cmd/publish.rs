//! `coderipple publish owner/repo…` / `--pending`: publish stored docs to the repositories
//! now (one commit each when anything changed), clearing or recording pending publishes.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use coderipple_core::metrics::Metrics;
use coderipple_core::store::{PublishOutcome, PublishStatus};
use coderipple_worker::publish::message_for;
use coderipple_worker::publish_repo;

use crate::args::BackendKind;
use crate::backend::Backend;

pub async fn run(
    kind: BackendKind,
    data_dir: &Path,
    docs_remotes: &[String],
    pending: bool,
    repos: &[String],
) -> anyhow::Result<ExitCode> {
    for repo in repos {
        coderipple_core::webhook::validate_repo(repo).context("the repository (owner/name)")?;
    }
    let settings = crate::backend::WorkerSettings::load(&[], docs_remotes, None).await?;
    let backend = Backend::open(kind, data_dir, false).await?;
    let ctx = backend.worker_context(Metrics::off(), &settings)?;
    if ctx.publishing.is_none() {
        bail!(
            "the doc strategy is `store`: set CODERIPPLE_DOC_STRATEGY=git and the remotes \
             (CODERIPPLE_DOCS_REMOTES or --docs-remote owner/repo=URL)"
        );
    }
    let repos: Vec<String> = if pending {
        ctx.store
            .pending_publishes()
            .await?
            .into_iter()
            .map(|p| p.repo)
            .collect()
    } else {
        repos.to_vec()
    };
    if repos.is_empty() {
        println!("no pending publishes");
    }
    let mut code = ExitCode::SUCCESS;
    for repo in &repos {
        let message = message_for("publish the stored docs (coderipple publish)");
        let outcome = publish_repo(&ctx, repo, &message)
            .await
            .context("publishing is configured")?;
        if print_outcome(repo, &outcome) != ExitCode::SUCCESS {
            code = ExitCode::FAILURE;
        }
    }
    Ok(code)
}

/// One line per outcome; failure when the publish is pending.
pub fn print_outcome(repo: &str, outcome: &PublishOutcome) -> ExitCode {
    match outcome.status {
        PublishStatus::Published => {
            println!(
                "{repo}: published {} to {}",
                outcome.commit.as_deref().unwrap_or("?"),
                outcome.target
            );
            ExitCode::SUCCESS
        }
        PublishStatus::Unchanged => {
            println!("{repo}: {} already holds these docs", outcome.target);
            ExitCode::SUCCESS
        }
        PublishStatus::Pending => {
            eprintln!(
                "{repo}: not published, pending: {}",
                outcome.reason.as_deref().unwrap_or("unknown")
            );
            ExitCode::FAILURE
        }
    }
}
