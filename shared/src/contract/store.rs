//! Store behaviours (see [`crate::store`] for the semantics).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::StoreFixture;
pub use super::listing::deliveries_and_repos_are_listed_for_operators;
use crate::error::Error;
use crate::store::{BeginOutcome, ClaimOutcome, DeliveryClaim, DeliveryStatus};

const TTL: Duration = Duration::from_secs(3600);
const LEASE: Duration = Duration::from_secs(60);

/// A `Received` claim of delivery `id` for repo `o/r` (shared by the intake tests).
pub fn claim(id: &str) -> DeliveryClaim {
    DeliveryClaim {
        id: id.into(),
        repo: Some("o/r".into()),
        event: "push".into(),
        status: DeliveryStatus::Received,
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Of many concurrent claims of one id, exactly one wins.
pub async fn claim_is_exclusive_under_concurrency<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = StoreFixture>,
{
    let f = make().await;
    let id = unique("d");
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = f.store.clone();
            let c = claim(&id);
            tokio::spawn(async move { store.claim_delivery(&c, TTL).await })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap().unwrap() == ClaimOutcome::Claimed {
            won += 1;
        }
    }
    assert_eq!(won, 1);
}

/// A claim reports the status of the earlier delivery as it moves on.
pub async fn claim_status_follows_the_delivery<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = StoreFixture>,
{
    let f = make().await;
    let id = unique("d");
    let c = claim(&id);
    let again = || f.store.claim_delivery(&c, TTL);
    assert_eq!(again().await.unwrap(), ClaimOutcome::Claimed);
    assert_eq!(
        again().await.unwrap(),
        ClaimOutcome::Existing(DeliveryStatus::Received)
    );
    f.store
        .begin_processing(&id, "o/r", "w1", LEASE, TTL)
        .await
        .unwrap();
    assert_eq!(
        again().await.unwrap(),
        ClaimOutcome::Existing(DeliveryStatus::InProgress)
    );
    f.store
        .complete_processing(std::slice::from_ref(&id), "w1", &json!({}))
        .await
        .unwrap();
    assert_eq!(
        again().await.unwrap(),
        ClaimOutcome::Existing(DeliveryStatus::Completed)
    );
    let record = f.store.delivery(&id).await.unwrap().unwrap();
    assert_eq!(record.status, DeliveryStatus::Completed);
    assert_eq!(record.repo.as_deref(), Some("o/r"));
    assert!(f.store.delivery(&unique("none")).await.unwrap().is_none());
}

/// Once its TTL is over, a claim is gone for reads and can be made again.
pub async fn expired_claims_can_be_claimed_again<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = StoreFixture>,
{
    let f = make().await;
    let id = unique("d");
    let short = Duration::from_secs(1);
    f.store.claim_delivery(&claim(&id), short).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(f.store.delivery(&id).await.unwrap().is_none());
    assert_eq!(
        f.store.claim_delivery(&claim(&id), TTL).await.unwrap(),
        ClaimOutcome::Claimed
    );
}

/// in_progress with a lease → completed (final); failed or released may start again.
pub async fn processing_lease_lifecycle<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = StoreFixture>,
{
    let f = make().await;
    let id = unique("d");
    let s = &f.store;
    assert_eq!(
        s.begin_processing(&id, "o/r", "w1", LEASE, TTL)
            .await
            .unwrap(),
        BeginOutcome::Started
    );
    assert!(matches!(
        s.begin_processing(&id, "o/r", "w1", LEASE, TTL)
            .await
            .unwrap(),
        BeginOutcome::LeasedElsewhere { .. }
    ));
    s.release_processing(&id, "w1").await.unwrap();
    assert_eq!(
        s.begin_processing(&id, "o/r", "w1", Duration::from_secs(1), TTL)
            .await
            .unwrap(),
        BeginOutcome::Started
    );
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(
        s.begin_processing(&id, "o/r", "w2", LEASE, TTL)
            .await
            .unwrap(),
        BeginOutcome::Started,
        "an expired lease can be taken over"
    );
    s.complete_processing(
        std::slice::from_ref(&id),
        "w2",
        &json!({"agents": ["historian"]}),
    )
    .await
    .unwrap();
    assert_eq!(
        s.begin_processing(&id, "o/r", "w1", LEASE, TTL)
            .await
            .unwrap(),
        BeginOutcome::AlreadyCompleted
    );
    let record = s.delivery(&id).await.unwrap().unwrap();
    assert_eq!(record.status, DeliveryStatus::Completed);
    assert_eq!(record.detail, Some(json!({"agents": ["historian"]})));
    assert_eq!(record.attempts, 3, "three leases were taken");

    let poison = unique("p");
    s.begin_processing(&poison, "o/r", "w1", LEASE, TTL)
        .await
        .unwrap();
    s.fail_processing(&poison, &json!({"reason": "bad"}))
        .await
        .unwrap();
    assert_eq!(
        s.delivery(&poison).await.unwrap().unwrap().status,
        DeliveryStatus::Failed
    );
    assert_eq!(
        s.begin_processing(&poison, "o/r", "w1", LEASE, TTL)
            .await
            .unwrap(),
        BeginOutcome::Started,
        "a replayed failure runs again"
    );
    let counts = s.delivery_counts().await.unwrap();
    assert!(counts.get("completed").copied().unwrap_or(0) >= 1);
}

/// Repo state is written only over the version it was read at.
pub async fn repo_state_compare_and_set<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = StoreFixture>,
{
    let f = make().await;
    let repo = unique("o/r");
    let s = &f.store;
    assert!(s.repo_state(&repo).await.unwrap().is_none());
    assert_eq!(
        s.put_repo_state(&repo, None, &json!({"n": 1}))
            .await
            .unwrap(),
        1
    );
    assert!(matches!(
        s.put_repo_state(&repo, None, &json!({"n": 9})).await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(
        s.put_repo_state(&repo, Some(1), &json!({"n": 2}))
            .await
            .unwrap(),
        2
    );
    let stale = s.put_repo_state(&repo, Some(1), &json!({"n": 9})).await;
    assert!(matches!(&stale, Err(e) if e.is_retryable()));
    let now = s.repo_state(&repo).await.unwrap().unwrap();
    assert_eq!((now.version, now.state), (2, json!({"n": 2})));
}

/// A state just under [`STATE_BUDGET_BYTES`](crate::store::STATE_BUDGET_BYTES) — many keys,
/// long strings, escapes and non-ASCII text — is stored and read back unchanged.
pub async fn state_near_the_budget_round_trips<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = StoreFixture>,
{
    let budget = crate::store::STATE_BUDGET_BYTES;
    let f = make().await;
    let repo = unique("o/r");
    let mut entries = Vec::new();
    let mut state = json!({"entries": []});
    let line = "fix(\"quoted\"): ünïcode — tab\t, newline\n and <html> ";
    for i in 0.. {
        entries.push(json!({"sha": format!("{i:040x}"), "summary": line.repeat(4)}));
        state = json!({"entries": entries});
        if serde_json::to_vec(&state).unwrap().len() > budget - 1024 {
            break;
        }
    }
    let size = serde_json::to_vec(&state).unwrap().len();
    assert!(size <= budget && size > budget - 2048, "built {size} bytes");
    let v = f.store.put_repo_state(&repo, None, &state).await.unwrap();
    let back = f.store.repo_state(&repo).await.unwrap().unwrap();
    assert_eq!(back.version, v);
    assert!(
        back.state == state,
        "state changed on the way through the store"
    );
}

/// Two writers that read the same version: exactly one write lands.
pub async fn concurrent_repo_writers_one_wins<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = StoreFixture>,
{
    let f = make().await;
    let repo = Arc::new(unique("o/r"));
    f.store
        .put_repo_state(&repo, None, &json!(0))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, repo) = (f.store.clone(), repo.clone());
            tokio::spawn(async move { store.put_repo_state(&repo, Some(1), &json!(i)).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(v) => {
                assert_eq!(v, 2);
                ok += 1;
            }
            Err(e) => assert!(matches!(e, Error::Conflict(_)), "{e}"),
        }
    }
    assert_eq!(ok, 1);
}

/// Cache entries are returned until their TTL ends.
pub async fn cache_entries_expire<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = StoreFixture>,
{
    let f = make().await;
    let key = unique("k");
    f.store
        .cache_put(&key, &json!({"sha": "abc"}), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(
        f.store.cache_get(&key).await.unwrap(),
        Some(json!({"sha": "abc"}))
    );
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(f.store.cache_get(&key).await.unwrap(), None);
}

/// Counters: concurrent adds are all counted, 0 reads, and an expired counter starts again.
pub async fn counters_add_atomically_and_restart_after_expiry<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = StoreFixture>,
{
    let f = make().await;
    let key = Arc::new(unique("tokens"));
    let day = Duration::from_secs(24 * 3600);
    assert_eq!(f.store.counter_add(&key, 0, day).await.unwrap(), 0);
    let tasks: Vec<_> = (1..=12u64)
        .map(|delta| {
            let (store, key) = (f.store.clone(), key.clone());
            tokio::spawn(async move { store.counter_add(&key, delta, day).await })
        })
        .collect();
    let mut totals = Vec::new();
    for t in tasks {
        totals.push(t.await.unwrap().unwrap());
    }
    totals.sort_unstable();
    totals.dedup();
    assert_eq!(totals.len(), 12, "each add saw its own total: {totals:?}");
    assert_eq!(f.store.counter_add(&key, 0, day).await.unwrap(), 78);
    assert_eq!(
        f.store.cache_get(&key).await.unwrap(),
        None,
        "a counter is not a cache entry"
    );

    let short = unique("tokens");
    let ttl = Duration::from_secs(1);
    assert_eq!(f.store.counter_add(&short, 5, ttl).await.unwrap(), 5);
    assert_eq!(f.store.counter_add(&short, 2, ttl).await.unwrap(), 7);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(f.store.counter_add(&short, 3, ttl).await.unwrap(), 3);
    assert_eq!(f.store.counter_add(&short, 0, ttl).await.unwrap(), 3);
}

/// A pending publish is recorded once per repository, counts attempts, keeps when it began
/// and the newest state version it failed with, is listed until cleared, is cleared only by a
/// publish of that version or a newer one, and clearing one repository leaves the others.
pub async fn pending_publishes_count_and_clear<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = StoreFixture>,
{
    let f = make().await;
    let (a, b) = (unique("o/a"), unique("o/b"));
    assert_eq!(f.store.publish_pending(&a).await.unwrap(), None);
    f.store
        .mark_publish_pending(&a, "remote unreachable", 3)
        .await
        .unwrap();
    let first = f
        .store
        .publish_pending(&a)
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(
        (first.attempts, first.reason.as_str(), first.version),
        (1, "remote unreachable", 3)
    );
    assert!(first.since_ms > 0);
    tokio::time::sleep(Duration::from_millis(20)).await;
    // An older publish failing later keeps the newer version.
    f.store
        .mark_publish_pending(&a, "push refused", 2)
        .await
        .unwrap();
    f.store
        .mark_publish_pending(&b, "not installed", 1)
        .await
        .unwrap();
    let again = f
        .store
        .publish_pending(&a)
        .await
        .unwrap()
        .expect("still recorded");
    assert_eq!(
        (again.attempts, again.reason.as_str(), again.version),
        (2, "push refused", 3)
    );
    assert_eq!(
        again.since_ms, first.since_ms,
        "the first failure's time is kept"
    );
    let listed: Vec<String> = f
        .store
        .pending_publishes()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.repo)
        .filter(|r| *r == a || *r == b)
        .collect();
    assert_eq!(listed, [a.clone(), b.clone()], "listed in repository order");
    // A publish of older docs does not clear it; one of its version (or newer) does.
    assert!(!f.store.clear_publish_pending(&a, 2).await.unwrap());
    assert_eq!(
        f.store.publish_pending(&a).await.unwrap().unwrap().version,
        3
    );
    f.store
        .mark_publish_pending(&a, "refused again", 5)
        .await
        .unwrap();
    assert_eq!(
        f.store.publish_pending(&a).await.unwrap().unwrap().version,
        5
    );
    assert!(!f.store.clear_publish_pending(&a, 4).await.unwrap());
    assert!(f.store.clear_publish_pending(&a, 5).await.unwrap());
    assert_eq!(f.store.publish_pending(&a).await.unwrap(), None);
    assert!(f.store.publish_pending(&b).await.unwrap().is_some());
    // Clearing what is not pending is not an error.
    assert!(f.store.clear_publish_pending(&a, 0).await.unwrap());
}

/// A lease is fenced by its owner token: once another worker has taken an expired lease over,
/// the first can neither renew, release nor complete it, and its failed completion leaves
/// nothing half-marked.
pub async fn leases_are_fenced_by_owner<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = StoreFixture>,
{
    let f = make().await;
    let s = &f.store;
    let (id, other) = (unique("fenced"), unique("fenced-other"));
    let short = Duration::from_secs(1);
    let both = vec![other.clone(), id.clone()];
    assert_eq!(
        s.begin_processing_many(&both, "o/r", "slow", short, TTL)
            .await
            .unwrap(),
        vec![BeginOutcome::Started; 2]
    );
    s.renew_processing(&both, "slow", short).await.unwrap();
    assert!(matches!(
        s.renew_processing(&both, "intruder", LEASE).await,
        Err(Error::Conflict(_))
    ));
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(
        s.begin_processing(&id, "o/r", "fast", LEASE, TTL)
            .await
            .unwrap(),
        BeginOutcome::Started,
        "the expired lease is taken over"
    );
    assert!(matches!(
        s.renew_processing(&both, "slow", LEASE).await,
        Err(Error::Conflict(_))
    ));
    let late = s
        .complete_processing(&both, "slow", &json!({"by": "slow"}))
        .await;
    assert!(matches!(&late, Err(e) if matches!(e, Error::Conflict(_)) && e.is_retryable()));
    for d in [&id, &other] {
        let record = s.delivery(d).await.unwrap().unwrap();
        assert_eq!(
            record.status,
            DeliveryStatus::InProgress,
            "{d} half-completed"
        );
    }
    s.release_processing(&id, "slow").await.unwrap();
    assert!(
        matches!(
            s.begin_processing(&id, "o/r", "third", LEASE, TTL)
                .await
                .unwrap(),
            BeginOutcome::LeasedElsewhere { .. }
        ),
        "a stale release must not free the new owner's lease"
    );
    s.complete_processing(std::slice::from_ref(&id), "fast", &json!({"by": "fast"}))
        .await
        .unwrap();
    let record = s.delivery(&id).await.unwrap().unwrap();
    assert_eq!(record.status, DeliveryStatus::Completed);
    assert_eq!(record.detail, Some(json!({"by": "fast"})));
}

/// Beginning several deliveries at once gives each its own outcome; a failed batch keeps
/// no lease, a successful one holds every lease.
pub async fn batch_begin_reports_each_delivery<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = StoreFixture>,
{
    let f = make().await;
    let s = &f.store;
    let (done, held, fresh) = (unique("done"), unique("held"), unique("fresh"));
    s.begin_processing(&done, "o/r", "w1", LEASE, TTL)
        .await
        .unwrap();
    s.complete_processing(std::slice::from_ref(&done), "w1", &json!({}))
        .await
        .unwrap();
    s.begin_processing(&held, "o/r", "w1", LEASE, TTL)
        .await
        .unwrap();
    let ids = vec![done.clone(), held.clone(), fresh.clone()];
    let outcomes = s
        .begin_processing_many(&ids, "o/r", "w1", LEASE, TTL)
        .await
        .unwrap();
    assert_eq!(outcomes[0], BeginOutcome::AlreadyCompleted);
    assert!(matches!(outcomes[1], BeginOutcome::LeasedElsewhere { .. }));
    assert_eq!(outcomes[2], BeginOutcome::Started);

    let all_new = vec![unique("a"), unique("b"), unique("c")];
    let outcomes = s
        .begin_processing_many(&all_new, "o/r", "w1", LEASE, TTL)
        .await
        .unwrap();
    assert_eq!(outcomes, vec![BeginOutcome::Started; 3]);
    for id in &all_new {
        assert!(
            matches!(
                s.begin_processing(id, "o/r", "w1", LEASE, TTL)
                    .await
                    .unwrap(),
                BeginOutcome::LeasedElsewhere { .. }
            ),
            "{id} is leased by the batch"
        );
        let record = s.delivery(id).await.unwrap().unwrap();
        assert_eq!(record.status, DeliveryStatus::InProgress);
        assert_eq!(record.repo.as_deref(), Some("o/r"));
    }
}

/// A history gap is recorded once per repository (a later mark moves its due time), listed
/// with the others, and clearing one repository leaves the others.
pub async fn history_gaps_are_listed_until_cleared<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = StoreFixture>,
{
    let f = make().await;
    let (a, b) = (unique("o/a"), unique("o/b"));
    let mine = |gaps: Vec<crate::store::HistoryGap>| {
        gaps.into_iter()
            .filter(|g| g.repo == a || g.repo == b)
            .map(|g| (g.repo, g.due_ms))
            .collect::<Vec<_>>()
    };
    assert_eq!(mine(f.store.history_gaps().await.unwrap()), vec![]);
    f.store.mark_history_gap(&a, 1_000).await.unwrap();
    f.store.mark_history_gap(&b, 2_000).await.unwrap();
    f.store.mark_history_gap(&a, 3_000).await.unwrap();
    let mut expected = vec![(a.clone(), 3_000), (b.clone(), 2_000)];
    expected.sort();
    assert_eq!(mine(f.store.history_gaps().await.unwrap()), expected);
    f.store.clear_history_gap(&a).await.unwrap();
    assert_eq!(
        mine(f.store.history_gaps().await.unwrap()),
        vec![(b.clone(), 2_000)]
    );
    f.store.clear_history_gap(&a).await.unwrap();
    f.store.clear_history_gap(&b).await.unwrap();
    assert_eq!(mine(f.store.history_gaps().await.unwrap()), vec![]);
}
