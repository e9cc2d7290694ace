//! Filling a history gap is an improvement, never a precondition: GitHub refusing (403, the
//! App not installed), GitHub unavailable, or the invocation's deadline near never fails a
//! change set or wedges the repository. A refusal records the gap; unavailability lets it
//! wait for the next wake a few times, then records it; the App-wide recovery scan runs once
//! per period however many gaps ask.

use std::sync::Arc;
use std::time::{Duration, Instant};

use coderipple_core::envelope::Envelope;
use coderipple_core::store::ProcessingSummary;
use coderipple_github::deadline;
use coderipple_testkit::{
    GitHubStandIn, LocalWorker, Prism, app_client, app_key, history::MESSAGES,
};
use coderipple_worker::{apply_change_set, wake_envelope};

use crate::github::APP_ID;

const REPO: &str = "acme/gearbox";
const LEASE: Duration = Duration::from_secs(60);
const CHANGELOG: &str = "decisions/changelog.md";

/// A repository on the stand-in with pushes 0 (creation) to 5, and their events.
struct Scene {
    standin: GitHubStandIn,
    events: Vec<Envelope>,
    _keys: tempfile::TempDir,
    key_file: std::path::PathBuf,
}

async fn scene(repo: &str, installed: bool) -> Scene {
    let keys = tempfile::tempdir().unwrap();
    let (key_file, public) = app_key(keys.path());
    let standin = GitHubStandIn::start(APP_ID, &public).await;
    let st = &standin.state;
    st.seed_repo(repo, "main", &[("README.md", "# Gearbox\n")]);
    if installed {
        st.install(repo, 95);
    }
    let root = st.head(repo, "main").unwrap();
    let mut heads = vec![root.clone()];
    for (i, message) in MESSAGES.iter().enumerate() {
        let path = format!("src/gear{i}.rs");
        heads.push(st.push_as_person(repo, "main", &[(path.as_str(), "fn gear() {}\n")], message));
    }
    let mut events = vec![st.push_event(repo, "main", "", &root, "push-0")];
    for i in 1..heads.len() {
        events.push(st.push_event(repo, "main", &heads[i - 1], &heads[i], &format!("push-{i}")));
    }
    Scene {
        standin,
        events,
        _keys: keys,
        key_file,
    }
}

/// Applies every event but push 3, one change set each; pushes 4 and 5 then wait.
async fn deliver_all_but_push_3(worker: &LocalWorker, repo: &str, events: &[Envelope]) {
    for env in events.iter().filter(|e| e.delivery != "push-3") {
        apply_change_set(&worker.ctx, repo, std::slice::from_ref(env), LEASE)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", env.delivery));
    }
    assert!(!worker.doc(repo, CHANGELOG).contains("fewer teeth"));
}

/// A worker whose GitHub is the stand-in behind Prism, after every push but push 3: pushes 4
/// and 5 wait for a gap that is not due yet.
async fn behind_prism(s: &Scene) -> (Prism, LocalWorker) {
    let prism = Prism::start(&s.standin.url);
    let api = Arc::new(app_client(&prism.url, APP_ID, &s.key_file));
    let mut worker = LocalWorker::new().github(api);
    worker.ctx_mut().settings.gap_wait = Duration::from_secs(3600);
    deliver_all_but_push_3(&worker, REPO, &s.events).await;
    (prism, worker)
}

async fn wake(worker: &LocalWorker, repo: &str, n: i64) -> ProcessingSummary {
    apply_change_set(&worker.ctx, repo, &[wake_envelope(repo, n)], LEASE)
        .await
        .unwrap_or_else(|e| panic!("a refusal must not fail the change set: {e}"))
}

fn noted(summary: &ProcessingSummary, part: &str) -> bool {
    summary.notes.iter().any(|n| n.contains(part))
}

/// After a recorded gap: pushes 4 and 5 applied, the gap in the changelog, and the next push
/// applies at once (nothing waits, nothing is wedged).
async fn assert_recorded_and_going_on(worker: &LocalWorker, repo: &str, events: &[Envelope]) {
    let log = worker.doc(repo, CHANGELOG);
    assert!(log.contains("fewer teeth"), "push 4 applied:\n{log}");
    assert!(
        log.contains("were not received"),
        "the gap is recorded:\n{log}"
    );
    assert!(worker.ctx.store.history_gaps().await.unwrap().is_empty());
    // Push 3 arrives after all: applied late, like any push of a recorded gap.
    let late = events.iter().find(|e| e.delivery == "push-3").unwrap();
    let summary = apply_change_set(&worker.ctx, repo, std::slice::from_ref(late), LEASE)
        .await
        .expect("a later change set of the repository is applied");
    assert!(summary.waiting.is_empty(), "{summary:?}");
    assert!(worker.doc(repo, CHANGELOG).contains("rename the crank"));
}

#[tokio::test]
async fn a_403_from_the_compare_api_records_the_gap_and_history_goes_on() {
    let s = scene(REPO, true).await;
    // Straight to the stand-in: GitHub answers 403 here, which its description does not list.
    let api = Arc::new(app_client(&s.standin.url, APP_ID, &s.key_file));
    let mut worker = LocalWorker::new().github(api);
    worker.ctx_mut().settings.gap_wait = Duration::from_secs(3600);
    deliver_all_but_push_3(&worker, REPO, &s.events).await;
    s.standin
        .state
        .fail_next("GET /repos/acme/gearbox/compare", 403, None, 100);
    worker.ctx_mut().settings.gap_wait = Duration::ZERO;
    let summary = wake(&worker, REPO, 1).await;
    assert!(
        noted(&summary, "GitHub did not fill it"),
        "{:?}",
        summary.notes
    );
    assert!(
        noted(&summary, "403"),
        "the reason is kept: {:?}",
        summary.notes
    );
    assert_eq!(summary.released, ["push-4", "push-5"]);
    assert_recorded_and_going_on(&worker, REPO, &s.events).await;
}

#[tokio::test]
async fn an_app_not_installed_on_the_repository_records_the_gap() {
    let s = scene(REPO, false).await;
    let (_prism, mut worker) = behind_prism(&s).await;
    worker.ctx_mut().settings.gap_wait = Duration::ZERO;
    let summary = wake(&worker, REPO, 1).await;
    assert!(
        noted(&summary, "GitHub did not fill it"),
        "{:?}",
        summary.notes
    );
    assert_eq!(summary.released, ["push-4", "push-5"]);
    assert_recorded_and_going_on(&worker, REPO, &s.events).await;
}

#[tokio::test]
async fn github_unavailable_lets_the_gap_wait_a_few_wakes_then_records_it() {
    let s = scene(REPO, true).await;
    let (_prism, mut worker) = behind_prism(&s).await;
    // Every compare answers 503 (four attempts a call).
    s.standin
        .state
        .fail_next("GET /repos/acme/gearbox/compare", 503, None, 1000);
    worker.ctx_mut().settings.gap_wait = Duration::ZERO;
    for round in 1..=3 {
        let summary = wake(&worker, REPO, round).await;
        assert!(
            noted(&summary, &format!("it waits once more ({round} of 3)")),
            "{:?}",
            summary.notes
        );
        assert!(summary.released.is_empty(), "pushes 4 and 5 still wait");
        assert_eq!(
            worker.ctx.store.history_gaps().await.unwrap().len(),
            1,
            "the wake is marked again"
        );
    }
    let summary = wake(&worker, REPO, 4).await;
    assert!(
        noted(&summary, "GitHub did not fill it"),
        "{:?}",
        summary.notes
    );
    assert_eq!(summary.released, ["push-4", "push-5"]);
    assert_recorded_and_going_on(&worker, REPO, &s.events).await;
}

#[tokio::test]
async fn near_the_invocations_deadline_no_github_call_is_started_and_the_gap_waits() {
    let s = scene(REPO, true).await;
    let (_prism, mut worker) = behind_prism(&s).await;
    worker.ctx_mut().settings.gap_wait = Duration::ZERO;
    let before = s.standin.state.calls().len();
    let until = Instant::now() + Duration::from_millis(500);
    let summary = deadline::within(until, wake(&worker, REPO, 1)).await;
    assert_eq!(
        s.standin.state.calls().len(),
        before,
        "no call started: {:?}",
        &s.standin.state.calls()[before..]
    );
    assert!(noted(&summary, "deadline"), "{:?}", summary.notes);
    assert!(summary.released.is_empty());
    // The next wake, with time, fills the gap from the compare API.
    let summary = wake(&worker, REPO, 2).await;
    assert_eq!(summary.released, ["push-4", "push-5"]);
    assert!(
        noted(&summary, "recovered: 1 commit(s)"),
        "{:?}",
        summary.notes
    );
}

#[tokio::test]
async fn one_app_wide_recovery_scan_per_period_however_many_gaps_ask() {
    let s = scene(REPO, true).await;
    let other = "acme/clutch";
    s.standin
        .state
        .seed_repo(other, "main", &[("README.md", "# Clutch\n")]);
    s.standin.state.install(other, 95);
    let (_prism, mut worker) = behind_prism(&s).await;
    worker.ctx_mut().settings.gap_wait = Duration::ZERO;
    let scans = |st: &coderipple_testkit::GitHubState| st.count("GET /app/hook/deliveries");
    let summary = wake(&worker, REPO, 1).await;
    let first = scans(&s.standin.state);
    assert!(first >= 1, "the first gap asks: {:?}", summary.notes);

    // A second repository's gap in the same period does not scan again.
    let root = s.standin.state.head(other, "main").unwrap();
    let a = s
        .standin
        .state
        .push_as_person(other, "main", &[("src/a.rs", "a\n")], MESSAGES[0]);
    let b = s
        .standin
        .state
        .push_as_person(other, "main", &[("src/b.rs", "b\n")], MESSAGES[1]);
    let created = s.standin.state.push_event(other, "main", "", &root, "o-0");
    let skipped = s.standin.state.push_event(other, "main", &a, &b, "o-2");
    worker.ctx_mut().settings.gap_wait = Duration::from_secs(3600);
    for env in [created, skipped] {
        apply_change_set(&worker.ctx, other, &[env], LEASE)
            .await
            .unwrap();
    }
    worker.ctx_mut().settings.gap_wait = Duration::ZERO;
    let summary = wake(&worker, other, 2).await;
    assert_eq!(scans(&s.standin.state), first, "{:?}", summary.notes);
    assert!(
        noted(&summary, "a recovery scan already ran"),
        "{:?}",
        summary.notes
    );
}
