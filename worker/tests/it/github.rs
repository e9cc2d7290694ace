//! The GitHub API content source against a stand-in behind Prism's validating proxy (every
//! request and answer checked against GitHub's OpenAPI description): App JWT → installation
//! token (reused, renewed near expiry), the installation from the webhook or looked up,
//! contents at the commit analysed and cached by blob, a rate limit waited out, an App not
//! installed leaving the event applied without contents, and an answer that is not GitHub's
//! caught by the proxy.

use std::sync::Arc;
use std::time::Duration;

use coderipple_core::contract::fixtures;
use coderipple_core::envelope::{Commit, Envelope};
use coderipple_core::store::DeliveryStatus;
use coderipple_testkit::{GitHubStandIn, LocalWorker, Prism, app_client, app_key};
use coderipple_worker::GitHubContent;
use coderipple_worker::apply_change_set;

const REPO: &str = "acme/gearbox";
pub(crate) const APP_ID: u64 = 31_337;
const LEASE: Duration = Duration::from_secs(60);
const README: &str = "# Gearbox\n\nGears.\n\n## Install\n\n```sh\ncargo install gearbox\n```\n";
const LIB: &str = "pub fn gear() {}\n";
const MANIFEST: &str = "[package]\nname = \"gearbox\"\n\n[dependencies]\nserde = \"1\"\n";

struct Setup {
    standin: GitHubStandIn,
    _prism: Prism,
    worker: LocalWorker,
    _keys: tempfile::TempDir,
}

async fn setup() -> Setup {
    let keys = tempfile::tempdir().unwrap();
    let (key_file, public) = app_key(keys.path());
    let standin = GitHubStandIn::start(APP_ID, &public).await;
    let prism = Prism::start(&standin.url);
    let api = Arc::new(app_client(&prism.url, APP_ID, &key_file));
    let worker = LocalWorker::new().content(Arc::new(GitHubContent::new(api)));
    Setup {
        standin,
        _prism: prism,
        worker,
        _keys: keys,
    }
}

/// A push of commit `n` adding the README and the manifest, from installation `installation`.
fn push(delivery: &str, n: u64, installation: Option<u64>) -> Envelope {
    let commit = Commit {
        added: vec!["README.md".into(), "Cargo.toml".into(), "src/lib.rs".into()],
        ..fixtures::commit(n, "feat: the first gears")
    };
    Envelope {
        installation,
        ..fixtures::push(REPO, delivery, vec![commit])
    }
}

fn files_at(s: &Setup, n: u64) {
    s.standin
        .state
        .add_file(REPO, &fixtures::sha(n), "README.md", README);
    s.standin
        .state
        .add_file(REPO, &fixtures::sha(n), "Cargo.toml", MANIFEST);
    s.standin
        .state
        .add_file(REPO, &fixtures::sha(n), "src/lib.rs", LIB);
}

#[tokio::test]
async fn contents_come_through_the_api_as_the_installation_and_are_cached_by_blob() {
    let s = setup().await;
    s.standin.state.install(REPO, 77);
    files_at(&s, 1);
    files_at(&s, 2);
    let first = apply_change_set(&s.worker.ctx, REPO, &[push("d1", 1, Some(77))], LEASE)
        .await
        .unwrap();
    let stats = first.content.unwrap();
    assert_eq!((stats.analysed, stats.missing), (2, 0), "{stats:?}");
    let stack = s.worker.doc(REPO, "system/tech_stack.md");
    assert!(stack.contains("serde"), "{stack}");
    // The sizes came from the commit's tree: the languages are counted in bytes.
    assert!(
        stack.contains(&format!("| Rust | {} | 100.0% |", LIB.len())),
        "{stack}"
    );
    let started = s.worker.doc(REPO, "user/getting_started.md");
    assert!(started.contains("cargo install gearbox"), "{started}");
    // The installation came with the webhook: no lookup; one token; the contents answers
    // carried the bytes, so no blob calls.
    let st = &s.standin.state;
    assert_eq!(
        st.count("GET /repos/acme/gearbox/installation"),
        0,
        "{:?}",
        st.calls()
    );
    assert_eq!(st.count("POST /app/installations/77/access_tokens 201"), 1);
    assert_eq!(st.count("GET /repos/acme/gearbox/contents/"), 2);
    assert_eq!(st.count("GET /repos/acme/gearbox/git/blobs/"), 0);
    assert_eq!(st.count("GET /repos/acme/gearbox/git/trees/"), 1);

    // The same files at a later commit: same blobs, so the analyses come from the cache, and
    // the token is reused.
    let second = apply_change_set(&s.worker.ctx, REPO, &[push("d2", 2, Some(77))], LEASE)
        .await
        .unwrap();
    let stats = second.content.unwrap();
    assert_eq!((stats.analysed, stats.cached), (0, 2), "{stats:?}");
    assert_eq!(
        st.count("POST /app/installations/77/access_tokens"),
        1,
        "{:?}",
        st.calls()
    );
}

#[tokio::test]
async fn an_unknown_installation_is_looked_up_and_a_token_near_expiry_is_renewed() {
    let s = setup().await;
    s.standin.state.install(REPO, 78);
    // Tokens that expire in two minutes: inside the renewal margin, so each use renews.
    s.standin.state.token_ttl(120);
    files_at(&s, 1);
    files_at(&s, 2);
    for (d, n) in [("d1", 1), ("d2", 2)] {
        apply_change_set(&s.worker.ctx, REPO, &[push(d, n, None)], LEASE)
            .await
            .unwrap();
    }
    let st = &s.standin.state;
    assert_eq!(
        st.count("GET /repos/acme/gearbox/installation 200"),
        1,
        "{:?}",
        st.calls()
    );
    assert!(
        st.count("POST /app/installations/78/access_tokens 201") >= 2,
        "{:?}",
        st.calls()
    );
    assert_eq!(
        st.count("GET /repos/acme/gearbox/contents/README.md 401"),
        0,
        "no expired token used"
    );
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_and_the_call_retried() {
    let s = setup().await;
    s.standin.state.install(REPO, 79);
    files_at(&s, 1);
    s.standin.state.rate_limit_next(2);
    let summary = apply_change_set(&s.worker.ctx, REPO, &[push("d1", 1, Some(79))], LEASE)
        .await
        .unwrap();
    assert_eq!(summary.content.unwrap().analysed, 2);
    let st = &s.standin.state;
    let answered = |status: &str| {
        st.calls()
            .iter()
            .filter(|l| l.starts_with("GET /repos/acme/gearbox/contents/") && l.ends_with(status))
            .count()
    };
    assert_eq!(answered(" 429"), 2, "{:?}", st.calls());
    assert_eq!(answered(" 200"), 2, "each file once, after the waits");
}

#[tokio::test]
async fn an_app_not_installed_leaves_the_event_applied_without_contents() {
    let s = setup().await;
    files_at(&s, 1);
    let summary = apply_change_set(&s.worker.ctx, REPO, &[push("d1", 1, None)], LEASE)
        .await
        .unwrap();
    let stats = summary.content.unwrap();
    assert_eq!((stats.analysed, stats.missing), (0, 2), "{stats:?}");
    let record = s.worker.ctx.store.delivery("d1").await.unwrap().unwrap();
    assert_eq!(record.status, DeliveryStatus::Completed);
    assert!(
        s.worker
            .doc(REPO, "decisions/changelog.md")
            .contains("first gears")
    );
    assert_eq!(
        s.standin
            .state
            .count("GET /repos/acme/gearbox/installation 404"),
        3,
        "one lookup per call: the tree's sizes and each file"
    );
}

#[tokio::test]
async fn an_answer_that_is_not_githubs_is_caught_by_the_proxy() {
    let s = setup().await;
    s.standin.state.install(REPO, 80);
    files_at(&s, 1);
    s.standin.state.break_answers();
    let err = apply_change_set(&s.worker.ctx, REPO, &[push("d1", 1, Some(80))], LEASE)
        .await
        .expect_err("an invalid answer must not pass");
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("prism/errors#VIOLATIONS"), "{err}");
    assert!(
        s.standin
            .state
            .count("GET /repos/acme/gearbox/contents/Cargo.toml 200")
            >= 1
    );
    // Nothing was applied: the delivery is not completed and no docs were written.
    let record = s.worker.ctx.store.delivery("d1").await.unwrap();
    assert_ne!(record.map(|r| r.status), Some(DeliveryStatus::Completed));
    assert!(s.worker.docs(REPO).is_empty());
}
