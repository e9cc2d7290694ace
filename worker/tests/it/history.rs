//! History order: pushes applied by their `before`/`after` chain whatever the arrival order
//! (5-4-3-2-1 with a tag and a release in between gives the in-order docs, byte for byte), a
//! missing push that waits and is then filled from GitHub's compare API (the stand-in behind
//! Prism), recorded as a gap without credentials, a late push of a recorded gap, and the wake
//! that closes a gap of a repository that gets no more traffic.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use coderipple_consumer::handle_batch;
use coderipple_core::contract::fixtures;
use coderipple_core::envelope::Envelope;
use coderipple_core::store::DeliveryStatus;
use coderipple_testkit::{
    GitHubStandIn, LocalWorker, Prism, app_client, app_key, history, history::MESSAGES,
};
use coderipple_worker::{apply_change_set, wake_due, wake_envelope};
use tokio_util::sync::CancellationToken;

use crate::github::APP_ID;

const REPO: &str = "acme/gearbox";
const LEASE: Duration = Duration::from_secs(60);
const CHANGELOG: &str = "decisions/changelog.md";

fn sha(n: u64) -> String {
    fixtures::sha(n)
}

fn push(n: u64) -> Envelope {
    history::push(REPO, n)
}

fn in_order() -> Vec<Envelope> {
    history::in_order(REPO)
}

async fn each_alone(worker: &LocalWorker, envelopes: &[Envelope]) {
    for env in envelopes {
        apply_change_set(&worker.ctx, REPO, std::slice::from_ref(env), LEASE)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", env.delivery));
    }
}

fn docs(worker: &LocalWorker) -> BTreeMap<String, String> {
    worker.docs(REPO)
}

#[tokio::test]
async fn pushes_delivered_five_to_one_give_the_in_order_docs_byte_for_byte() {
    let reference = LocalWorker::new();
    each_alone(&reference, &in_order()).await;
    let expected = docs(&reference);
    let changelog = &expected[CHANGELOG];
    let (v1, v2) = (
        changelog
            .find("v0.1.0")
            .expect("the tag cuts the changelog"),
        changelog.find("v0.2.0").expect("the release cuts it"),
    );
    let at = |text: &str| {
        changelog
            .find(text)
            .unwrap_or_else(|| panic!("{text} in\n{changelog}"))
    };
    assert!(v2 < at("rename the crank") && at("rename the crank") < v1);
    assert!(v1 < at("mesh the second gear"));

    let reversed: Vec<Envelope> = in_order().into_iter().rev().collect();
    // One delivery per change set: each waits until push 1 closes the chain.
    let one_by_one = LocalWorker::new();
    each_alone(&one_by_one, &reversed).await;
    assert_eq!(docs(&one_by_one), expected);
    let record = one_by_one
        .ctx
        .store
        .delivery("push-5")
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(
        record.status,
        DeliveryStatus::Completed,
        "acknowledged while it waited"
    );
    assert_eq!(
        record.detail.unwrap()["waiting"],
        serde_json::json!(["push-5"])
    );
    let last = one_by_one
        .ctx
        .store
        .delivery("push-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        last.detail.unwrap()["released"],
        serde_json::json!([
            "push-2",
            "tag-v0.1.0",
            "push-3",
            "release-v0.2.0",
            "push-4",
            "push-5"
        ])
    );

    // The same, received as one batch by the worker's queue path.
    let batched = LocalWorker::new();
    batched.send(&reversed).await;
    let messages = batched
        .ctx
        .queue
        .receive(10, LEASE, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(messages.len(), reversed.len());
    handle_batch(&batched.consumer(), messages, &CancellationToken::new()).await;
    assert_eq!(docs(&batched), expected);
}

#[tokio::test]
async fn without_credentials_a_gap_is_recorded_after_the_wait_and_a_late_push_still_applies() {
    let mut worker = LocalWorker::new();
    worker.ctx_mut().settings.gap_wait = Duration::from_secs(3600);
    each_alone(&worker, &[push(1), push(2), push(4), push(5)]).await;
    let changelog = worker.doc(REPO, CHANGELOG);
    assert!(changelog.contains("mesh the second gear"));
    assert!(
        !changelog.contains("fewer teeth"),
        "push 4 waits for push 3:\n{changelog}"
    );
    let gaps = worker.ctx.store.history_gaps().await.unwrap();
    assert_eq!(gaps.len(), 1, "the gap is marked for the wake");
    assert!(
        wake_due(
            &*worker.ctx.store,
            &*worker.ctx.queue,
            coderipple_core::time::now_ms()
        )
        .await
        .unwrap()
        .is_empty(),
        "not due yet"
    );

    // The wait ends; the gap sweep wakes the repository, which gets no other event.
    worker.ctx_mut().settings.gap_wait = Duration::ZERO;
    let woken = wake_due(&*worker.ctx.store, &*worker.ctx.queue, gaps[0].due_ms).await;
    assert_eq!(woken.unwrap(), [REPO]);
    let messages = worker
        .ctx
        .queue
        .receive(10, LEASE, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(messages.len(), 1);
    handle_batch(&worker.consumer(), messages, &CancellationToken::new()).await;
    let changelog = worker.doc(REPO, CHANGELOG);
    assert!(changelog.contains("fewer teeth") && changelog.contains("explain the gearbox"));
    assert!(
        changelog.contains("History Notes") && changelog.contains("were not received"),
        "the gap is in the changelog:\n{changelog}"
    );
    assert!(changelog.contains(&format!("compare/{}...{}", sha(2), sha(3))));
    assert!(worker.ctx.store.history_gaps().await.unwrap().is_empty());

    // Push 3 arrives after all (a DLQ replay, a redelivery): applied, nothing lost.
    each_alone(&worker, &[push(3)]).await;
    let changelog = worker.doc(REPO, CHANGELOG);
    assert!(changelog.contains("rename the crank"), "{changelog}");
    assert_eq!(changelog.matches("fewer teeth").count(), 1);
}

#[tokio::test]
async fn a_wake_with_nothing_waiting_changes_nothing_and_clears_a_stale_marker() {
    let worker = LocalWorker::new();
    each_alone(&worker, &[push(1), push(2)]).await;
    let before = docs(&worker);
    let version = worker.ctx.store.repo_version(REPO).await.unwrap();
    // A marker whose change set lost its state write: nothing waits behind it.
    worker.ctx.store.mark_history_gap(REPO, 1).await.unwrap();
    each_alone(&worker, &[wake_envelope(REPO, 1)]).await;
    assert_eq!(docs(&worker), before);
    assert_eq!(worker.ctx.store.repo_version(REPO).await.unwrap(), version);
    assert!(
        worker.ctx.store.history_gaps().await.unwrap().is_empty(),
        "woken once, not for ever"
    );
}

#[tokio::test]
async fn a_missing_push_is_filled_from_the_compare_api_after_the_wait() {
    let keys = tempfile::tempdir().unwrap();
    let (key_file, public) = app_key(keys.path());
    let standin = GitHubStandIn::start(APP_ID, &public).await;
    let st = &standin.state;
    st.seed_repo(REPO, "main", &[("README.md", "# Gearbox\n")]);
    st.install(REPO, 92);
    let root = st.head(REPO, "main").unwrap();
    let mut heads = vec![root.clone()];
    for (i, message) in MESSAGES.iter().enumerate() {
        let path = format!("src/gear{i}.rs");
        heads.push(st.push_as_person(REPO, "main", &[(path.as_str(), "fn gear() {}\n")], message));
    }
    let event =
        |i: usize| st.push_event(REPO, "main", &heads[i - 1], &heads[i], &format!("push-{i}"));
    let created = st.push_event(REPO, "main", "", &root, "push-0");
    let all: Vec<Envelope> = std::iter::once(created.clone())
        .chain((1..=5).map(event))
        .collect();

    let reference = LocalWorker::new();
    each_alone(&reference, &all).await;

    let prism = Prism::start(&standin.url);
    let api = Arc::new(app_client(&prism.url, APP_ID, &key_file));
    let mut worker = LocalWorker::new().github(api);
    worker.ctx_mut().settings.gap_wait = Duration::from_secs(3600);
    // Push 3 never arrives.
    let delivered: Vec<Envelope> = all
        .iter()
        .filter(|e| e.delivery != "push-3")
        .cloned()
        .collect();
    each_alone(&worker, &delivered).await;
    assert!(
        !worker.doc(REPO, CHANGELOG).contains("fewer teeth"),
        "pushes 4 and 5 wait"
    );
    assert_eq!(
        st.count("GET /repos/acme/gearbox/compare"),
        0,
        "not before the wait"
    );

    worker.ctx_mut().settings.gap_wait = Duration::ZERO;
    let summary = apply_change_set(&worker.ctx, REPO, &[wake_envelope(REPO, 7)], LEASE)
        .await
        .unwrap_or_else(|e| panic!("{e}\nprism: {}", prism.output()));
    assert_eq!(summary.released, ["push-4", "push-5"]);
    assert!(
        summary
            .notes
            .iter()
            .any(|n| n.starts_with("recovered: 1 commit(s)")),
        "{:?}",
        summary.notes
    );
    assert_eq!(st.count("GET /repos/acme/gearbox/compare"), 1);
    assert_eq!(
        st.count(&format!("GET /repos/acme/gearbox/commits/{}", heads[3])),
        1
    );
    assert_eq!(
        docs(&worker),
        docs(&reference),
        "the filled commit reads as if its push had arrived"
    );
}

#[tokio::test]
async fn an_old_push_behind_the_head_is_applied_late_and_the_head_stays() {
    let keys = tempfile::tempdir().unwrap();
    let (key_file, public) = app_key(keys.path());
    let standin = GitHubStandIn::start(APP_ID, &public).await;
    let st = &standin.state;
    st.seed_repo(REPO, "main", &[("README.md", "# Gearbox\n")]);
    st.install(REPO, 94);
    let root = st.head(REPO, "main").unwrap();
    let first = st.push_as_person(REPO, "main", &[("src/a.rs", "a\n")], MESSAGES[0]);
    let second = st.push_as_person(REPO, "main", &[("src/b.rs", "b\n")], MESSAGES[1]);
    // A commit of a line of history main no longer has, pushed once on top of `first`.
    let lost = st.push_as_person(REPO, "old-line", &[("src/x.rs", "x\n")], MESSAGES[2]);
    let prism = Prism::start(&standin.url);
    let api = Arc::new(app_client(&prism.url, APP_ID, &key_file));
    let mut worker = LocalWorker::new().github(api);
    each_alone(
        &worker,
        &[
            st.push_event(REPO, "main", "", &root, "push-0"),
            st.push_event(REPO, "main", &root, &first, "push-1"),
            st.push_event(REPO, "main", &first, &second, "push-2"),
        ],
    )
    .await;
    // Its push arrives now (a DLQ replay, a late redelivery): `before` is behind the head.
    let mut old = st.push_event(REPO, "old-line", "", &lost, "push-old");
    if let Some(coderipple_core::envelope::Change::Push(p)) = &mut old.change {
        p.git_ref = "refs/heads/main".into();
        p.default_branch = Some("main".into());
        p.before = first.clone();
        p.created = false;
    }
    worker.ctx_mut().settings.gap_wait = Duration::ZERO;
    let summary = apply_change_set(&worker.ctx, REPO, &[old], LEASE)
        .await
        .unwrap_or_else(|e| panic!("{e}\nprism: {}", prism.output()));
    assert!(
        summary
            .notes
            .iter()
            .any(|n| n.contains("older than the head")),
        "{:?}",
        summary.notes
    );
    let changelog = worker.doc(REPO, CHANGELOG);
    assert!(
        changelog.contains("rename the crank"),
        "applied: {changelog}"
    );
    assert!(
        !changelog.contains("were not received"),
        "no gap recorded: {changelog}"
    );
    // The head did not move back: the next push on main follows `second` at once.
    let third = st.push_as_person(REPO, "main", &[("src/c.rs", "c\n")], MESSAGES[3]);
    let next = st.push_event(REPO, "main", &second, &third, "push-3");
    let summary = apply_change_set(&worker.ctx, REPO, &[next], LEASE)
        .await
        .unwrap();
    assert!(summary.waiting.is_empty(), "{summary:?}");
    assert!(worker.doc(REPO, CHANGELOG).contains("fewer teeth"));
}
