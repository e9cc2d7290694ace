//! The repository state keeps its byte budget for any history: a synthetic history that fills
//! every cap (10,000 commits with long messages, 400 tags and releases, 10,000 paths, merged
//! pull requests, manifests, breaking changes, refactorings, decisions) goes through the real
//! processing path on SQLite; the stored state never exceeds the budget, redeliveries still
//! change nothing, and the final state is stored on DynamoDB (moto, which enforces the 400 KB
//! item limit) and read back unchanged.

use std::time::Duration;

use coderipple_core::aws::dynamo::DynamoStore;
use coderipple_core::aws::provision;
use coderipple_core::contract::aws::{clients, unique};
use coderipple_core::contract::fixtures;
use coderipple_core::envelope::{
    Change, Commit, Envelope, PullRequestChange, PushChange, ReleaseChange, TagChange,
};
use coderipple_core::store::{STATE_BUDGET_BYTES, Store};
use coderipple_engine::{AgentSet, ChangeSet};
use coderipple_testkit::LocalWorker;
use coderipple_worker::apply_change_set;

const REPO: &str = "budget-org/a-repository-with-a-long-history";
const COMMITS: u32 = 10_000;
const PER_PUSH: u32 = 50;
const LEASE: Duration = Duration::from_secs(60);

fn sha(n: u32) -> String {
    format!("{:040x}", u64::from(n) * 0x9e37_79b9 + 1)
}

fn path(n: u32) -> String {
    format!(
        "component-{:02}-with-a-rather-long-directory-name/src/module_{n}/file_with_a_long_name_{n}.rs",
        n % 80
    )
}

/// Commit `n`: long subject and body, a long author, one new path, two modified, a removal
/// every 50th, a manifest every 100th; kinds and signals rotate so every agent keeps history.
fn commit(n: u32) -> Commit {
    let subject = match n % 13 {
        0 => format!("fix(api)!: drop the old endpoint number {n}"),
        1 | 5 => format!("refactor(core): move module {n} into its component"),
        2 => format!("Decided to switch to a new storage layout in change {n}"),
        3 => format!("docs: explain module {n} in the README"),
        _ => format!("feat(component-{:02}): add capability {n}", n % 80),
    };
    let subject = format!("{subject} {}", "with a very long subject line ".repeat(12));
    let body = format!(
        "{}\n\nBREAKING CHANGE: callers of endpoint {n} must migrate; we decided this because {}",
        "This paragraph explains the change at length. ".repeat(60),
        "the old way could not scale. ".repeat(40)
    );
    let mut added = vec![path(n)];
    if n.is_multiple_of(100) {
        added.push(format!(
            "component-{:02}-with-a-rather-long-directory-name/Cargo.toml",
            n % 80
        ));
    }
    if n.is_multiple_of(333) {
        added.push(format!("{}/deep.rs", "very-long-segment".repeat(40)));
    }
    Commit {
        id: sha(n),
        message: format!("{subject}\n\n{body}"),
        author: format!("An Author With A Long Name Number {n} {}", "Ω".repeat(120)),
        timestamp: format!("2026-{:02}-{:02}T09:00:00Z", n / 1000 % 12 + 1, n % 28 + 1),
        added,
        modified: (1..=2).filter(|k| n >= *k).map(|k| path(n - k)).collect(),
        removed: if n % 50 == 49 {
            vec![path(n - 40)]
        } else {
            vec![]
        },
    }
}

fn envelope(delivery: String, event: &str, change: Change) -> Envelope {
    fixtures::envelope(REPO, &delivery, event, change)
}

/// One change set per push of 50 commits, each with a release, a tag and a merged PR after it.
fn history() -> Vec<Vec<Envelope>> {
    let url = format!("https://github.com/{REPO}");
    (0..COMMITS / PER_PUSH)
        .map(|p| {
            let first = p * PER_PUSH;
            let commits: Vec<Commit> = (first..first + PER_PUSH).map(commit).collect();
            let mut set = vec![envelope(
                format!("push-{p}"),
                "push",
                Change::Push(PushChange {
                    head_timestamp: None,
                    head_commit: None,
                    git_ref: "refs/heads/main".into(),
                    before: if first == 0 {
                        String::new()
                    } else {
                        sha(first - 1)
                    },
                    after: sha(first + PER_PUSH - 1),
                    default_branch: Some("main".into()),
                    repo_url: url.clone(),
                    created: false,
                    deleted: false,
                    forced: false,
                    commits,
                }),
            )];
            let tag = |kind: &str| format!("v{}.{}.0-{kind}-{}", p / 100, p % 100, "x".repeat(40));
            set.push(envelope(
                format!("release-{p}"),
                "release",
                Change::Release(ReleaseChange {
                    tag: tag("release"),
                    name: format!(
                        "Release {} {}",
                        tag("release"),
                        "named at length ".repeat(30)
                    ),
                    body: "Release notes that go on and on. ".repeat(300),
                    url: format!("{url}/releases/tag/{}", tag("release")),
                    prerelease: false,
                    promoted: false,
                    published_at: Some("2026-03-01T00:00:00Z".into()),
                    target: None,
                }),
            ));
            set.push(envelope(
                format!("tag-{p}"),
                "create",
                Change::Tag(TagChange {
                    tag: tag("tag"),
                    repo_url: url.clone(),
                    date: None,
                }),
            ));
            let extra = envelope(
                format!("pr-{p}"),
                "pull_request",
                Change::PullRequest(PullRequestChange {
                    number: u64::from(p) + 1,
                    title: format!("Breaking: switch to plan {p} {}", "title ".repeat(80)),
                    body: format!(
                        "We decided to replace the old plan. {}",
                        "Reasons follow. ".repeat(500)
                    ),
                    labels: vec!["breaking".into()],
                    base_ref: "main".into(),
                    merge_commit_sha: None,
                    url: format!("{url}/pull/{}", p + 1),
                    merged_at: Some("2026-03-01T00:00:00Z".into()),
                }),
            );
            set.push(extra);
            set
        })
        .collect()
}

/// Applies one change set the way the worker does (plan, agents, budget); returns the
/// serialized size of the new state.
fn apply(
    agents: &AgentSet,
    state: &mut serde_json::Map<String, serde_json::Value>,
    set: &[Envelope],
) -> usize {
    let change = ChangeSet {
        repo: REPO.into(),
        events: set.to_vec(),
    };
    let plan = agents.plan(&change).unwrap();
    agents
        .apply(&plan, state)
        .unwrap_or_else(|e| panic!("{}: {e}", set[0].delivery));
    serde_json::to_vec(state).unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_history_stays_within_the_budget_on_sqlite_and_dynamodb() {
    let agents = AgentSet::builtin();
    let sets = history();
    let mut state = serde_json::Map::new();
    let mut largest = 0;
    for set in &sets {
        let size = apply(&agents, &mut state, set);
        assert!(
            size <= STATE_BUDGET_BYTES,
            "after {} the state is {size} bytes, over the budget of {STATE_BUDGET_BYTES}",
            set[0].delivery
        );
        largest = largest.max(size);
    }
    // The budget was actually under pressure (the caps alone would not have held it).
    assert!(
        largest > STATE_BUDGET_BYTES * 3 / 4,
        "largest state {largest} bytes: the history did not fill the state"
    );
    eprintln!("state after {COMMITS} commits: {largest} bytes at most");

    // A redelivery of a recent change set changes nothing: idempotency survived compaction.
    let before = state.clone();
    apply(&agents, &mut state, sets.last().unwrap());
    assert!(state == before, "a redelivery changed the state");
    let state = serde_json::Value::Object(state);

    // The state is stored and read back unchanged by both backends (moto enforces
    // DynamoDB's 400 KB item limit).
    let local = LocalWorker::new();
    let sqlite = local.ctx.store.clone();
    let aws = clients().await;
    let table = unique("budget");
    provision::ensure_table(&aws, &table).await.unwrap();
    let dynamo = DynamoStore::new(aws.dynamodb.clone(), table);
    for store in [sqlite.as_ref(), &dynamo as &dyn Store] {
        let v = store.put_repo_state(REPO, None, &state).await.unwrap();
        let back = store.repo_state(REPO).await.unwrap().unwrap();
        assert_eq!(back.version, v);
        assert!(back.state == state, "the state changed through {store:?}");
    }
}

/// The whole path (store, docs sink, write-once pages) on a shorter history: pages moved out
/// early are written before the state that forgets them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_writes_its_pages_through_the_processing_path() {
    let h = LocalWorker::new();
    let ctx = &h.ctx;
    for set in history().iter().take(40) {
        apply_change_set(ctx, REPO, set, LEASE).await.unwrap();
        let state = ctx.store.repo_state(REPO).await.unwrap().unwrap().state;
        assert!(serde_json::to_vec(&state).unwrap().len() <= STATE_BUDGET_BYTES);
    }
    let docs = h.docs_dir().join(REPO).join("decisions");
    let pages = std::fs::read_dir(docs.join("changelog")).unwrap().count();
    assert!(pages >= 2, "only {pages} changelog pages");
}
