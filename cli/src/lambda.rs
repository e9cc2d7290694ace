//! The Lambda entry point: `coderipple lambda`, or the binary run as `bootstrap` (the
//! runtime layer's `/opt/bootstrap`). `_HANDLER` picks the role:
//!
//! - `ingest`: the ingest router behind `lambda_http` (Function URL / API Gateway v2 events).
//! - `worker`: `SqsEvent` → `SqsBatchResponse` with FIFO-aware `batchItemFailures`.
//! - `recover`: a scheduled event → one missed-delivery recovery run (its report).
//!
//! Everything is built once per container, before the first event: configuration, SDK
//! clients, queue URLs, the webhook secret (`CODERIPPLE_WEBHOOK_SECRET_PARAM`, read once).
//! A bad `_HANDLER` or configuration fails the init with a clear message, reported to the
//! Runtime API's init-error endpoint as well as on stderr.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;
use aws_lambda_events::sqs::SqsEvent;
use coderipple_consumer::handle_sqs_event;
use coderipple_core::aws::{AwsClients, SdkRetries};
use coderipple_core::metrics::Metrics;
use coderipple_core::signature::Secrets;
use lambda_runtime::{LambdaEvent, service_fn};

use crate::backend::Backend;
use crate::secret::PARAM_VAR;

/// The roles `_HANDLER` may name.
const ROLES: &str = "`ingest`, `worker` or `recover`";

/// Runs the role `_HANDLER` names until the runtime stops the process.
pub async fn run() -> anyhow::Result<ExitCode> {
    let role = std::env::var("_HANDLER").unwrap_or_default();
    let started = match role.as_str() {
        "ingest" => ingest().await,
        "worker" => worker().await,
        "recover" => recover().await,
        other => Err(anyhow::anyhow!(
            "unknown _HANDLER {other:?}: set the function's handler to {ROLES}"
        )),
    };
    match started {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            report_init_error(&e).await;
            Err(e)
        }
    }
}

async fn ingest() -> anyhow::Result<()> {
    let clients = AwsClients::from_env(SdkRetries::Standard).await;
    let secrets = secrets(&clients).await?;
    let backend = Backend::aws(clients).await?;
    let state = Arc::new(backend.ingest_state(secrets, Metrics::from_env()?));
    tracing::info!(queue = backend.queue.name(), "ingest ready");
    lambda_http::run(coderipple_ingest::router(state))
        .await
        .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
}

async fn worker() -> anyhow::Result<()> {
    let clients = AwsClients::from_env(SdkRetries::Standard).await;
    let settings = crate::backend::WorkerSettings::load(&[], &[], Some(&clients)).await?;
    let backend = Backend::aws(clients).await?;
    let ctx = Arc::new(backend.worker_context(Metrics::from_env()?, &settings)?);
    let consumer = Arc::new(ctx.consumer());
    tracing::info!(queue = backend.queue.name(), "worker ready");
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let ctx = consumer.clone();
        async move {
            let deadline = event.context.deadline();
            Ok::<_, std::convert::Infallible>(
                handle_sqs_event(&ctx, event.payload, Some(deadline)).await,
            )
        }
    }))
    .await
    .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
}

/// The `recover` role, on a schedule (EventBridge): each invocation, whatever its event,
/// wakes the repositories whose history gap is due (their waiting pushes are then filled or
/// recorded by a worker) and, with GitHub App credentials, asks GitHub for the deliveries of
/// the last hour and a half (the schedule runs every ten minutes; see `infra/template.yaml`)
/// and has it redeliver those never stored. A run that cannot read a hook fails the
/// invocation (the function's `Errors`, and its alarm).
async fn recover() -> anyhow::Result<()> {
    let clients = AwsClients::from_env(SdkRetries::Standard).await;
    let settings = crate::backend::WorkerSettings::load(&[], &[], Some(&clients)).await?;
    let api = settings.github_api;
    if api.is_none() {
        tracing::info!("no GitHub credentials: this role only wakes history gaps");
    }
    let (_, hooks) = coderipple_github::recover::schedule_from_env(|k| std::env::var(k).ok())?;
    let since = match std::env::var("CODERIPPLE_RECOVER_SINCE") {
        Ok(raw) => coderipple_github::recover::parse_duration(&raw)
            .ok_or_else(|| anyhow::anyhow!("CODERIPPLE_RECOVER_SINCE: not a duration: {raw:?}"))?,
        Err(_) => std::time::Duration::from_secs(90 * 60),
    };
    let backend = Backend::aws(clients).await?;
    let (store, queue) = (backend.store.clone(), backend.queue.clone());
    let metrics = Metrics::from_env()?;
    tracing::info!("recover ready");
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        // GitHub calls stop before the invocation's deadline: a run cut short fails with
        // what it could not finish, and the next scheduled run goes on (asks are recorded).
        let left = event
            .context
            .deadline()
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        let until = std::time::Instant::now()
            + left.saturating_sub(coderipple_consumer::DEADLINE_MARGIN * 2);
        let (api, store, queue, hooks, metrics) = (
            api.clone(),
            store.clone(),
            queue.clone(),
            hooks.clone(),
            metrics.clone(),
        );
        async move {
            let now = coderipple_core::time::now_ms();
            // A wake that fails never stops recovery (for every repository); its marks stay
            // and the next run wakes them.
            let woken = match coderipple_worker::wake_due(&*store, &*queue, now).await {
                Ok(woken) => serde_json::json!(woken),
                Err(e) => {
                    tracing::warn!(error = %e, "history gaps not woken; recovery goes on");
                    serde_json::json!({ "error": e.to_string() })
                }
            };
            let recovery = match &api {
                Some(api) => Some(
                    coderipple_github::deadline::within(
                        until,
                        coderipple_github::recover::recover(
                            api, &*store, &hooks, since, false, &metrics,
                        ),
                    )
                    .await
                    .map_err(|e| e.to_string())?,
                ),
                None => None,
            };
            Ok::<_, String>(serde_json::json!({"woken": woken, "recovery": recovery}))
        }
    }))
    .await
    .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
}

/// The secret from the parameter store (production) or the environment (development).
async fn secrets(clients: &AwsClients) -> anyhow::Result<Secrets> {
    match crate::secret::configured(Some(clients)).await? {
        Some((secrets, _)) => Ok(secrets),
        None => bail!(
            "no webhook secret: set {PARAM_VAR} (an SSM SecureString name or a Secrets Manager ARN), or CODERIPPLE_WEBHOOK_SECRET for development"
        ),
    }
}

/// Tells the Runtime API why init failed (best effort: stderr has it too).
async fn report_init_error(err: &anyhow::Error) {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return;
    };
    let body = serde_json::json!({
        "errorMessage": format!("{err:#}"),
        "errorType": "Runtime.InitError",
    });
    let url = format!("http://{api}/2018-06-01/runtime/init/error");
    let sent = reqwest::Client::new()
        .post(url)
        .header("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")
        .json(&body)
        .send()
        .await;
    if let Err(e) = sent {
        tracing::debug!(error = %e, "init error not reported to the runtime API");
    }
}
