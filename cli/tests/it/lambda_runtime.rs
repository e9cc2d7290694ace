//! The real binary, run as `bootstrap`, under a minimal Lambda Runtime API on loopback
//! (the endpoints `lambda_runtime` uses: `invocation/next`, `…/response`, `…/error`,
//! `init/error`), against moto: one Function URL event and one SQS event from fixture
//! files, responses checked; the worker as a GitHub App (key from SSM) publishing a pull
//! request; the `recover` role on a scheduled event; an unknown `_HANDLER` fails the init with
//! a clear message.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use coderipple_core::config::Settings;
use coderipple_core::contract::aws::{AwsBackends, child_env, fresh_backends, unique};
use coderipple_core::queue::Queue;
use coderipple_core::store::{DeliveryStatus, Store};
use coderipple_loadtest::runtime_api::{Posted, RuntimeApi, lambda_env};
use coderipple_testkit::{GitHubStandIn, Prism, app_key};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/lambda");
/// The secret the Function URL fixtures are signed with.
const FIXTURE_SECRET: &str = "fixture-secret";

/// The binary copied to `<dir>/bootstrap`, the name Lambda runs.
fn bootstrap(dir: &Path) -> PathBuf {
    let path = dir.join("bootstrap");
    std::fs::copy(env!("CARGO_BIN_EXE_coderipple"), &path).unwrap();
    path
}

struct Function(Child);

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(
    bootstrap: &Path,
    api: &str,
    handler: &str,
    aws: &AwsBackends,
    extra: &[(&str, String)],
) -> Function {
    let mut cmd = Command::new(bootstrap);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(lambda_env(handler, 128, api))
        .env("CODERIPPLE_QUEUE_URL", &aws.resources.queue_url)
        .env("CODERIPPLE_DLQ_URL", &aws.resources.dlq_url)
        .env("CODERIPPLE_TABLE", &aws.resources.table)
        .env("CODERIPPLE_BUCKET", &aws.resources.bucket)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in child_env() {
        cmd.env(k, v);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    Function(cmd.spawn().expect("bootstrap starts"))
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

async fn invoke(api: &mut RuntimeApi, id: &str, event: Value) -> Value {
    match api
        .invoke(id, event, Duration::from_secs(60))
        .await
        .unwrap()
    {
        (Posted::Response(got, value), _) => {
            assert_eq!(got, id);
            value
        }
        (Posted::Error(got, value), _) => panic!("invocation {got} failed: {value}"),
        other => panic!("expected a response to {id}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_ingest_answers_function_url_events_with_the_secret_from_ssm() {
    let aws = fresh_backends(&Settings::default()).await;
    let param = format!("/coderipple/test/{}", unique("secret"));
    aws.clients
        .ssm
        .put_parameter()
        .name(&param)
        .value(FIXTURE_SECRET)
        .r#type(aws_sdk_ssm_type())
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut api = RuntimeApi::serve().await.unwrap();
    let _function = start(
        &bootstrap(dir.path()),
        api.addr(),
        "ingest",
        &aws,
        &[("CODERIPPLE_WEBHOOK_SECRET_PARAM", param)],
    );
    let pong = invoke(&mut api, "req-ping", fixture("function-url-ping.json")).await;
    assert_eq!(pong["statusCode"], 200, "{pong}");
    assert!(pong["body"].as_str().unwrap().contains("pong"), "{pong}");
    let queued = invoke(&mut api, "req-push", fixture("function-url-push.json")).await;
    assert_eq!(queued["statusCode"], 202, "{queued}");
    let record = aws.store.delivery("fixture-push-1").await.unwrap().unwrap();
    assert_eq!(record.status, DeliveryStatus::Received);
    use coderipple_core::queue::Queue;
    let stats = aws.queue.stats().await.unwrap();
    assert_eq!(stats.visible, 1, "the push is on the queue");
    // A tampered body is refused: the secret came from SSM and is enforced.
    let mut tampered = fixture("function-url-push.json");
    tampered["body"] = Value::String(
        tampered["body"]
            .as_str()
            .unwrap()
            .replace("fixture push", "evil push"),
    );
    let refused = invoke(&mut api, "req-bad", tampered).await;
    assert_eq!(refused["statusCode"], 401, "{refused}");
}

/// A fresh GitHub App key in an SSM `SecureString` parameter: its name, and the public key.
async fn app_key_in_ssm(aws: &AwsBackends) -> (String, String) {
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = app_key(keys.path());
    let param = format!("/coderipple/test/{}", unique("app-key"));
    aws.clients
        .ssm
        .put_parameter()
        .name(&param)
        .value(std::fs::read_to_string(key).unwrap())
        .r#type(aws_sdk_ssm_type())
        .send()
        .await
        .unwrap();
    (param, public)
}

fn aws_sdk_ssm_type() -> aws_sdk_ssm::types::ParameterType {
    aws_sdk_ssm::types::ParameterType::SecureString
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_worker_applies_an_sqs_event_and_reports_no_failures() {
    let aws = fresh_backends(&Settings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut api = RuntimeApi::serve().await.unwrap();
    let _function = start(&bootstrap(dir.path()), api.addr(), "worker", &aws, &[]);
    let response = invoke(&mut api, "req-sqs", fixture("sqs-event.json")).await;
    assert_eq!(
        response["batchItemFailures"],
        serde_json::json!([]),
        "{response}"
    );
    let record = aws.store.delivery("fixture-sqs-1").await.unwrap().unwrap();
    assert_eq!(record.status, DeliveryStatus::Completed);
    let doc = aws
        .clients
        .s3
        .get_object()
        .bucket(&aws.resources.bucket)
        .key("docs/fixture/worker/decisions/changelog.md")
        .send()
        .await
        .expect("changelog written to S3");
    let text = doc.body.collect().await.unwrap().into_bytes();
    assert!(String::from_utf8_lossy(&text).contains(&"e2".repeat(20)[..7]));
}

/// The Lambda worker as a GitHub App with `github_pr`: the App's key is read once at init
/// from an SSM `SecureString` (`CODERIPPLE_GITHUB_APP_KEY_PARAM`), and the SQS event's docs
/// land in a standing pull request (GitHub a stand-in behind Prism's validating proxy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_worker_publishes_a_pull_request_with_the_app_key_from_ssm() {
    let aws = fresh_backends(&Settings::default()).await;
    let (param, public) = app_key_in_ssm(&aws).await;
    let repo = "fixture/worker";
    let standin = GitHubStandIn::start(6060, &public).await;
    standin
        .state
        .seed_repo(repo, "main", &[("README.md", "# Worker\n")]);
    standin.state.install(repo, 606);
    let prism = Prism::start(&standin.url);
    let dir = tempfile::tempdir().unwrap();
    let mut api = RuntimeApi::serve().await.unwrap();
    let _function = start(
        &bootstrap(dir.path()),
        api.addr(),
        "worker",
        &aws,
        &[
            ("CODERIPPLE_DOC_STRATEGY", "github_pr".into()),
            ("CODERIPPLE_GITHUB_APP_ID", "6060".into()),
            ("CODERIPPLE_GITHUB_APP_KEY_PARAM", param),
            ("CODERIPPLE_GITHUB_API_URL", prism.url.clone()),
            ("CODERIPPLE_DOCS_RETRY_MS", "20".into()),
        ],
    );
    let response = invoke(&mut api, "req-sqs-pr", fixture("sqs-event.json")).await;
    assert_eq!(
        response["batchItemFailures"],
        serde_json::json!([]),
        "{response}"
    );
    let record = aws.store.delivery("fixture-sqs-1").await.unwrap().unwrap();
    let summary = record.detail.expect("a summary");
    assert_eq!(summary["publish"]["status"], "published", "{summary}");
    let pulls = standin.state.pulls(repo);
    assert_eq!(pulls.len(), 1, "{:?}", standin.state.calls());
    let changelog =
        &standin.state.files_on(repo, "coderipple/docs")["docs/coderipple/decisions/changelog.md"];
    assert!(changelog.contains(&"e2".repeat(20)[..7]), "{changelog}");
}

/// The `recover` role on its schedule: an EventBridge event in, one run's report out; the
/// missed delivery is redelivered and the stored one is not, and a repository whose history
/// gap is due gets a wake on the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_recover_has_github_redeliver_what_was_never_stored() {
    let aws = fresh_backends(&Settings::default()).await;
    let (param, public) = app_key_in_ssm(&aws).await;
    let standin = GitHubStandIn::start(6161, &public).await;
    let prism = Prism::start(&standin.url);
    let stored = unique("stored");
    let lost = unique("lost");
    aws.store
        .claim_delivery(
            &coderipple_core::store::DeliveryClaim {
                id: stored.clone(),
                repo: Some("o/r".into()),
                event: "push".into(),
                status: DeliveryStatus::Received,
            },
            Duration::from_secs(600),
        )
        .await
        .unwrap();
    standin.state.add_hook_delivery("app", &stored, 503, 30);
    standin.state.add_hook_delivery("app", &lost, 503, 20);
    let (due, later) = (unique("o/due"), unique("o/later"));
    aws.store.mark_history_gap(&due, 1_000).await.unwrap();
    aws.store.mark_history_gap(&later, i64::MAX).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut api = RuntimeApi::serve().await.unwrap();
    let _function = start(
        &bootstrap(dir.path()),
        api.addr(),
        "recover",
        &aws,
        &[
            ("CODERIPPLE_GITHUB_APP_ID", "6161".into()),
            ("CODERIPPLE_GITHUB_APP_KEY_PARAM", param),
            ("CODERIPPLE_GITHUB_API_URL", prism.url.clone()),
        ],
    );
    let scheduled = serde_json::json!({
        "version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-12-03T10:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/recover"], "detail": {}
    });
    let report = invoke(&mut api, "req-recover", scheduled).await;
    assert_eq!(
        report["recovery"]["redelivered"],
        serde_json::json!([lost]),
        "{report}"
    );
    assert_eq!(report["recovery"]["already_had"], 1, "{report}");
    assert_eq!(report["woken"], serde_json::json!([due]), "{report}");
    let woken = aws
        .queue
        .receive(10, Duration::from_secs(30), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(woken.len(), 1);
    assert_eq!(woken[0].group_id, due);
    assert!(
        woken[0].body.contains(r#""kind":"wake""#),
        "{}",
        woken[0].body
    );
    let asked = standin.state.redeliveries("app");
    assert_eq!(asked.len(), 1);
    assert_eq!(
        standin.state.guid_of("app", asked[0]).as_deref(),
        Some(lost.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_handler_fails_the_init_with_a_clear_message() {
    let aws = fresh_backends(&Settings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut api = RuntimeApi::serve().await.unwrap();
    let mut function = start(&bootstrap(dir.path()), api.addr(), "ingset", &aws, &[]);
    let got = api
        .next_posted(Duration::from_secs(30))
        .await
        .map(|(p, _)| p);
    let Ok(Posted::InitError(body)) = got else {
        panic!("expected an init error, got {got:?}");
    };
    let message = body["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("unknown _HANDLER \"ingset\""), "{message}");
    assert!(
        message.contains("`ingest`, `worker` or `recover`"),
        "{message}"
    );
    let status = function.0.wait().unwrap();
    assert!(!status.success());
}
