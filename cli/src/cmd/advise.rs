//! `coderipple advise`: reads the measurements, applies the rules, prints the advice.

use std::process::ExitCode;

use anyhow::Context;
use coderipple_core::aws::{AwsClients, SdkRetries};

use crate::advise;
use crate::args::AdviseArgs;

pub async fn run(args: AdviseArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.monthly_webhooks.is_finite() && args.monthly_webhooks >= 0.0,
        "--monthly-webhooks must be a number of webhooks"
    );
    let observations = match &args.report {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            advise::report::observations(&text, args.monthly_webhooks)
                .with_context(|| format!("{}", path.display()))?
        }
        None => {
            let functions = if args.functions.is_empty() {
                ["ingest", "worker", "recover"]
                    .iter()
                    .map(|r| format!("{}-{r}", args.stack))
                    .collect()
            } else {
                args.functions.clone()
            };
            let clients = AwsClients::from_env(SdkRetries::Standard).await;
            advise::cloudwatch::observe(&clients, &functions, args.since).await?
        }
    };
    let report = advise::build(observations);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.text());
    }
    Ok(ExitCode::SUCCESS)
}
