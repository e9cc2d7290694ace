//! Missed-delivery recovery against the GitHub stand-in behind Prism's validating proxy: the
//! App's hook deliveries listed across pages back to the window's start, only the GUIDs the
//! store never accepted and GitHub never got a `2xx` for redelivered — once, with their newest
//! attempt, and never again on a later run — a delivery ingest refused (`4xx`) reported with
//! its status and never redelivered, a dry run that changes nothing, and a repository hook
//! read with the installation's token.

use std::sync::Arc;
use std::time::Duration;

use coderipple_core::metrics::Metrics;
use coderipple_core::store::{DeliveryClaim, DeliveryStatus};
use coderipple_github::GitHubApi;
use coderipple_github::recover::{RepoHook, recover, recover_with_grace};
use coderipple_testkit::{GitHubStandIn, LocalWorker, Prism, app_client, app_key};

use crate::github::APP_ID;

const REPO: &str = "acme/gearbox";
const WINDOW: Duration = Duration::from_secs(72 * 3600);

struct Setup {
    standin: GitHubStandIn,
    prism: Prism,
    api: GitHubApi,
    worker: LocalWorker,
    _keys: tempfile::TempDir,
}

async fn setup() -> Setup {
    let keys = tempfile::tempdir().unwrap();
    let (key_file, public) = app_key(keys.path());
    let standin = GitHubStandIn::start(APP_ID, &public).await;
    standin.state.install(REPO, 91);
    let prism = Prism::start(&standin.url);
    let api = app_client(&prism.url, APP_ID, &key_file);
    Setup {
        standin,
        prism,
        api,
        worker: LocalWorker::new(),
        _keys: keys,
    }
}

async fn claim(s: &Setup, id: &str) {
    let c = DeliveryClaim {
        id: id.into(),
        repo: Some(REPO.into()),
        event: "push".into(),
        status: DeliveryStatus::Received,
    };
    s.worker
        .ctx
        .store
        .claim_delivery(&c, Duration::from_secs(3600))
        .await
        .unwrap();
}

#[tokio::test]
async fn only_deliveries_never_accepted_are_redelivered_once() {
    let s = setup().await;
    let st = &s.standin.state;
    // Oldest first: outside the window, stored, answered 2xx, failed twice, timed out.
    st.add_hook_delivery("app", "g-old", 503, 5 * 24 * 60);
    st.add_hook_delivery("app", "g-had", 503, 40);
    st.add_hook_delivery("app", "g-ok", 202, 30);
    st.add_hook_delivery("app", "g-lost-1", 503, 20);
    st.add_hook_delivery("app", "g-lost-1", 500, 10);
    st.add_hook_delivery("app", "g-lost-2", 0, 5);
    claim(&s, "g-had").await;
    let store = s.worker.ctx.store.clone();

    // A dry run: found and reported, nothing asked of GitHub.
    let dry = recover(&s.api, &*store, &[], WINDOW, true, &Metrics::off())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", s.prism.output()));
    assert_eq!(dry.sources, ["app"]);
    assert_eq!(
        (dry.found, dry.already_had, dry.delivered),
        (4, 1, 1),
        "{dry:?}"
    );
    assert_eq!(dry.missing, ["g-lost-1", "g-lost-2"]);
    assert!(dry.redelivered.is_empty() && dry.dry_run);
    assert!(st.redeliveries("app").is_empty());
    // Six attempts, two per page: the third page reaches past the window, and stops there.
    assert_eq!(
        st.count("GET /app/hook/deliveries 200"),
        3,
        "{:?}",
        st.calls()
    );

    let run = recover(&s.api, &*store, &[], WINDOW, false, &Metrics::off())
        .await
        .unwrap();
    assert_eq!(run.redelivered, ["g-lost-1", "g-lost-2"]);
    assert!(run.failed.is_empty(), "{run:?}");
    let asked: Vec<String> = st
        .redeliveries("app")
        .iter()
        .map(|id| st.guid_of("app", *id).unwrap())
        .collect();
    assert_eq!(asked, ["g-lost-1", "g-lost-2"], "once each");
    // g-lost-1 is redelivered by its newest attempt.
    let newest = st.redeliveries("app")[0];
    assert_eq!(newest, 1005, "the second attempt of g-lost-1");
}

#[tokio::test]
async fn a_claim_stuck_in_received_is_redelivered_after_the_grace() {
    let s = setup().await;
    let st = &s.standin.state;
    st.add_hook_delivery("app", "g-stuck", 503, 20);
    st.add_hook_delivery("app", "g-queued", 503, 15);
    st.add_hook_delivery("app", "g-answered", 202, 10);
    claim(&s, "g-stuck").await;
    claim(&s, "g-answered").await;
    let queued = DeliveryClaim {
        id: "g-queued".into(),
        repo: Some(REPO.into()),
        event: "push".into(),
        status: DeliveryStatus::Queued,
    };
    let store = s.worker.ctx.store.clone();
    store
        .claim_delivery(&queued, Duration::from_secs(3600))
        .await
        .unwrap();
    let off = Metrics::off();
    // Within the grace, ingest may still be between claim and send: left alone.
    let early = recover(&s.api, &*store, &[], WINDOW, false, &off)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", s.prism.output()));
    assert!(
        early.stuck.is_empty() && early.redelivered.is_empty(),
        "{early:?}"
    );
    assert_eq!(early.already_had, 3);
    let late = recover_with_grace(&s.api, &*store, &[], WINDOW, false, &off, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(late.stuck, ["g-stuck"], "{late:?}");
    assert_eq!(late.redelivered, ["g-stuck"]);
    assert_eq!(
        late.already_had, 2,
        "a queued claim, and one GitHub got a 2xx for"
    );
    assert_eq!(st.redeliveries("app").len(), 1);
}

#[tokio::test]
async fn a_repository_hook_is_read_and_redelivered_as_the_installation() {
    let s = setup().await;
    let st = &s.standin.state;
    st.add_hook_delivery("acme/gearbox:7", "r-lost", 502, 3);
    st.add_hook_delivery("acme/gearbox:7", "r-fine", 200, 2);
    let hook = RepoHook::parse("acme/gearbox:7").unwrap();
    let store = s.worker.ctx.store.clone();
    let run = recover(&s.api, &*store, &[hook], WINDOW, false, &Metrics::off())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", s.prism.output()));
    assert_eq!(run.sources, ["app", "acme/gearbox:7"]);
    assert_eq!(run.redelivered, ["r-lost"]);
    assert_eq!(
        st.count("POST /repos/acme/gearbox/hooks/7/deliveries/"),
        1,
        "{:?}",
        st.calls()
    );
    assert_eq!(st.count("POST /app/installations/91/access_tokens 201"), 1);
}

#[tokio::test]
async fn an_organisation_hook_is_read_and_redelivered_as_the_org_installation() {
    let s = setup().await;
    let st = &s.standin.state;
    st.install("acme", 93);
    st.add_hook_delivery("acme:5", "o-lost", 504, 4);
    st.add_hook_delivery("acme:5", "o-fine", 202, 3);
    let hook = RepoHook::parse("acme:5").unwrap();
    let store = s.worker.ctx.store.clone();
    let run = recover(&s.api, &*store, &[hook], WINDOW, false, &Metrics::off())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", s.prism.output()));
    assert_eq!(run.sources, ["app", "acme:5"]);
    assert_eq!(run.redelivered, ["o-lost"]);
    assert_eq!(st.count("GET /orgs/acme/installation 200"), 1);
    assert_eq!(st.count("POST /orgs/acme/hooks/5/deliveries/"), 1);
    assert_eq!(st.count("POST /app/installations/93/access_tokens 201"), 1);
}

#[tokio::test]
async fn a_hook_github_refuses_to_list_fails_the_run_with_the_reason() {
    let s = setup().await;
    s.standin
        .state
        .fail_next("GET /app/hook/deliveries", 403, None, 1);
    let store = s.worker.ctx.store.clone();
    let err = recover(&s.api, &*store, &[], WINDOW, false, &Metrics::off())
        .await
        .expect_err("a refused listing is an error");
    let text = err.to_string();
    assert!(
        text.contains("403") && text.contains("GitHub App"),
        "{text}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn the_schedule_recovers_without_being_asked_and_stops_when_cancelled() {
    let s = setup().await;
    s.standin.state.add_hook_delivery("app", "s-lost", 503, 1);
    let cancel = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(coderipple_github::recover::run_every(
        Arc::new(s.api),
        s.worker.ctx.store.clone(),
        Vec::new(),
        Duration::from_millis(200),
        Metrics::off(),
        cancel.clone(),
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while s.standin.state.redeliveries("app").is_empty() {
        assert!(std::time::Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops when cancelled")
        .unwrap();
    // However many runs there were, the GUID was asked for once (the ask is in the store).
    let runs = s.standin.state.count("GET /app/hook/deliveries 200");
    assert_eq!(
        s.standin.state.redeliveries("app").len(),
        1,
        "one ask in {runs} runs"
    );
}

#[tokio::test]
async fn a_delivery_ingest_refused_is_reported_with_its_status_and_never_redelivered() {
    let s = setup().await;
    let st = &s.standin.state;
    // Oldest first: a body over Lambda's 6 MB (413), one that failed, then was refused for
    // its content type on a redelivery by hand (415), one whose body came too slowly (408:
    // a network matter, worth another try), and a plain 503.
    st.add_hook_delivery("app", "g-huge", 413, 50);
    st.add_hook_delivery("app", "g-typed", 503, 40);
    st.add_hook_delivery("app", "g-typed", 415, 35);
    st.add_hook_delivery("app", "g-slow", 408, 30);
    st.add_hook_delivery("app", "g-lost", 503, 20);
    let store = s.worker.ctx.store.clone();
    let off = Metrics::off();
    let dry = recover(&s.api, &*store, &[], WINDOW, true, &off)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", s.prism.output()));
    let refused = [("g-huge".to_owned(), 413), ("g-typed".to_owned(), 415)];
    assert_eq!(dry.not_redeliverable, refused, "{dry:?}");
    assert_eq!(dry.missing, ["g-huge", "g-typed", "g-slow", "g-lost"]);

    for _ in 0..2 {
        let run = recover(&s.api, &*store, &[], WINDOW, false, &off)
            .await
            .unwrap();
        assert_eq!(run.not_redeliverable, refused, "{run:?}");
        assert!(run.failed.is_empty(), "{run:?}");
    }
    let asked: Vec<String> = st
        .redeliveries("app")
        .iter()
        .map(|id| st.guid_of("app", *id).unwrap())
        .collect();
    assert_eq!(asked, ["g-slow", "g-lost"], "never a refused one");
}

#[tokio::test]
async fn a_delivery_that_keeps_failing_is_asked_for_once() {
    let s = setup().await;
    let st = &s.standin.state;
    st.add_hook_delivery("app", "g-flaky", 503, 30);
    st.add_hook_delivery("app", "g-refused-ask", 502, 20);
    // GitHub refuses the first ask for g-refused-ask: that ask did not happen.
    st.fail_next("POST /app/hook/deliveries/1002/attempts", 422, None, 1);
    let store = s.worker.ctx.store.clone();
    let off = Metrics::off();
    let first = recover(&s.api, &*store, &[], WINDOW, false, &off)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", s.prism.output()));
    assert_eq!(first.redelivered, ["g-flaky"], "{first:?}");
    assert_eq!(first.failed.len(), 1, "{first:?}");
    assert!(first.asked_before.is_empty());
    // The redelivery failed again: a new attempt, newer than the window's start.
    st.add_hook_delivery("app", "g-flaky", 503, 0);

    let dry = recover(&s.api, &*store, &[], WINDOW, true, &off)
        .await
        .unwrap();
    assert_eq!(dry.asked_before, ["g-flaky"], "{dry:?}");
    let second = recover(&s.api, &*store, &[], WINDOW, false, &off)
        .await
        .unwrap();
    assert_eq!(second.asked_before, ["g-flaky"], "{second:?}");
    assert_eq!(
        second.redelivered,
        ["g-refused-ask"],
        "asked again: {second:?}"
    );
    let third = recover(&s.api, &*store, &[], WINDOW, false, &off)
        .await
        .unwrap();
    assert!(third.redelivered.is_empty(), "{third:?}");
    // Oldest newest attempt first.
    assert_eq!(third.asked_before, ["g-refused-ask", "g-flaky"]);
    let asked: Vec<String> = st
        .redeliveries("app")
        .iter()
        .map(|id| st.guid_of("app", *id).unwrap())
        .collect();
    assert_eq!(asked, ["g-flaky", "g-refused-ask"], "one ask each");
}
