//! The operators' listings (see [`crate::store::DeliveryQuery`]).

use std::future::Future;
use std::time::Duration;

use serde_json::json;

use super::StoreFixture;
use crate::store::{DeliveryClaim, DeliveryQuery, DeliveryStatus};

const TTL: Duration = Duration::from_secs(3600);

/// Deliveries are listed newest first, filtered by repository, status and event, paged by
/// cursor without loss or repeat; repositories with state are listed with their version.
pub async fn deliveries_and_repos_are_listed_for_operators<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = StoreFixture>,
{
    let f = make().await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (repo, other) = (format!("o/list-{tag}"), format!("o/other-{tag}"));
    let mut ids = Vec::new();
    for (i, (r, event)) in [
        (&repo, "push"),
        (&repo, "release"),
        (&repo, "push"),
        (&other, "push"),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("{tag}-{i}");
        let claim = DeliveryClaim {
            id: id.clone(),
            repo: Some(r.clone()),
            event: event.into(),
            status: DeliveryStatus::Received,
        };
        f.store.claim_delivery(&claim, TTL).await.unwrap();
        ids.push(id);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    f.store
        .fail_processing(&ids[1], &json!({"reason": "poison"}))
        .await
        .unwrap();

    let mine = DeliveryQuery {
        repo: Some(repo.clone()),
        ..DeliveryQuery::default()
    };
    let all: Vec<String> = f
        .store
        .list_deliveries(&mine)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    // ids[1] changed last (failed), then the claims newest first.
    assert_eq!(all, [ids[1].clone(), ids[2].clone(), ids[0].clone()]);

    let failed = DeliveryQuery {
        status: Some(DeliveryStatus::Failed),
        ..mine.clone()
    };
    let failed = f.store.list_deliveries(&failed).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].detail, Some(json!({"reason": "poison"})));
    let pushes = DeliveryQuery {
        event: Some("push".into()),
        ..mine.clone()
    };
    assert_eq!(f.store.list_deliveries(&pushes).await.unwrap().len(), 2);

    let mut paged = Vec::new();
    let mut query = DeliveryQuery {
        limit: 2,
        ..mine.clone()
    };
    loop {
        let page = f.store.list_deliveries(&query).await.unwrap();
        let Some(last) = page.last() else { break };
        query.before = Some((last.updated_at_ms, last.id.clone()));
        paged.extend(page.into_iter().map(|r| r.id));
    }
    assert_eq!(paged, all, "pages cover the listing once, in order");

    assert!(
        !f.store
            .list_repos()
            .await
            .unwrap()
            .iter()
            .any(|r| r.repo == repo)
    );
    f.store
        .put_repo_state(&repo, None, &json!({"agents": {}}))
        .await
        .unwrap();
    let listed = f.store.list_repos().await.unwrap();
    let entry = listed.iter().find(|r| r.repo == repo).expect("listed");
    assert_eq!(entry.version, 1);
    assert!(entry.updated_at_ms > 0);
}
