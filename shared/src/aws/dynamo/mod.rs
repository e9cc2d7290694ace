//! [`DynamoStore`]: the [`Store`] trait on one DynamoDB table (`pk`, `sk`, TTL `expires_at`).
//!
//! | item | `pk` | `sk` | attributes |
//! |---|---|---|---|
//! | delivery | `DELIVERY#<id>` | `DELIVERY` | `status`, `repo`, `event`, `detail` (JSON), `lease_until` (ms), `updated_at` (ms) |
//! | repo state | `REPO#<owner/repo>` | `STATE` | `version`, `state` (JSON), `updated_at` |
//! | cache | `CACHE#<key>` | `CACHE` | `value` (JSON) |
//! | counter | `COUNT#<key>` | `COUNT` | `total` (added to atomically) |
//!
//! Expiring items carry `expires_at` (seconds, the table's TTL attribute) and `expires_ms`
//! (milliseconds). DynamoDB deletes expired items up to days late (moto never does), so every
//! read and every condition compares `expires_ms` with the clock itself. Claims and leases are
//! conditional writes that return the old item when they lose (`ReturnValuesOnConditionCheckFailure`),
//! so a duplicate costs one request, not two.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};

use super::error::{code, sdk_error};
use crate::error::{Error, Result};
use crate::store::{
    BeginOutcome, ClaimOutcome, DeliveryClaim, DeliveryQuery, DeliveryRecord, DeliveryStatus,
    HistoryGap, ParkedRepo, PendingPublish, RepoState, RepoSummary, Store, begin_each,
};
use crate::time::{ms, now_ms};

mod attrs;
mod counter;
mod gaps;
mod listing;
mod parked;
mod pending;
mod updates;

use attrs::{Item, delivery_pk, get_n, get_s, is_live, json_of, key, n, s, status_of};

/// Expiry given to a delivery record written by a worker when no claim made one.
const DEFAULT_RECORD_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Items in one `TransactWriteItems` call.
const MAX_TRANSACT: usize = 100;
const CONDITION_FAILED: &str = "ConditionalCheckFailedException";

/// The store on a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoStore {
    /// The store in `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("get item", e))?;
        Ok(out.item)
    }

    /// Every repository's item of kind `sk` (`REPO#<owner/repo>` / `sk`), by a consistent scan;
    /// `what` names the scan in errors.
    async fn scan_repo_items(&self, sk: &str, what: &str) -> Result<Vec<Item>> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .filter_expression("begins_with(pk, :p) AND sk = :sk")
            .expression_attribute_values(":p", s("REPO#"))
            .expression_attribute_values(":sk", s(sk))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error(what, e))?;
            out.extend(page.items.unwrap_or_default());
        }
        Ok(out)
    }

    /// Deletes `repo`'s item of kind `sk`; `what` names it in errors.
    async fn delete_repo_item(&self, repo: &str, sk: &str, what: &str) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("REPO#{repo}"), sk)))
            .send()
            .await
            .map_err(|e| sdk_error(what, e))?;
        Ok(())
    }

    /// The delivery record a failed condition found: as returned with the error, or read
    /// again where a service does not return it.
    async fn delivery_behind_condition(&self, id: &str, returned: Option<Item>) -> Result<Item> {
        match returned {
            Some(item) => Ok(item),
            None => self
                .get(delivery_pk(id), "DELIVERY")
                .await?
                .ok_or_else(|| Error::Conflict(format!("delivery {id} changed while it was read"))),
        }
    }

    async fn run_update(&self, update: Update, what: &str) -> Result<()> {
        self.client
            .update_item()
            .table_name(update.table_name)
            .set_key(Some(update.key))
            .update_expression(update.update_expression)
            .set_condition_expression(update.condition_expression)
            .set_expression_attribute_names(update.expression_attribute_names)
            .set_expression_attribute_values(update.expression_attribute_values)
            .send()
            .await
            .map_err(|e| match code(&e) {
                Some(CONDITION_FAILED) => Error::Conflict(format!("{what}: lease lost")),
                _ => sdk_error(what, e),
            })?;
        Ok(())
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn claim_delivery(&self, claim: &DeliveryClaim, ttl: Duration) -> Result<ClaimOutcome> {
        let now = now_ms();
        let expires = now.saturating_add(ms(ttl));
        let mut item = key(delivery_pk(&claim.id), "DELIVERY");
        item.insert("status".into(), s(claim.status.as_str()));
        item.insert("event".into(), s(&claim.event));
        if let Some(repo) = &claim.repo {
            item.insert("repo".into(), s(repo));
        }
        item.insert("lease_until".into(), n(0));
        item.insert("updated_at".into(), n(now));
        item.insert("expires_at".into(), n(expires / 1000 + 1));
        item.insert("expires_ms".into(), n(expires));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR expires_ms <= :now")
            .expression_attribute_values(":now", n(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(ClaimOutcome::Claimed),
            Err(e) if code(&e) == Some(CONDITION_FAILED) => {
                let returned = match e.into_service_error() {
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => c.item,
                    _ => None,
                };
                let old = self.delivery_behind_condition(&claim.id, returned).await?;
                Ok(ClaimOutcome::Existing(status_of(&old)?))
            }
            Err(e) => Err(sdk_error("claim delivery", e)),
        }
    }

    async fn begin_processing(
        &self,
        id: &str,
        repo: &str,
        owner: &str,
        lease: Duration,
        ttl: Duration,
    ) -> Result<BeginOutcome> {
        let now = now_ms();
        let update = self.begin_update(id, repo, owner, lease, ttl, now);
        let result = self
            .client
            .update_item()
            .table_name(update.table_name)
            .set_key(Some(update.key))
            .update_expression(update.update_expression)
            .set_condition_expression(update.condition_expression)
            .set_expression_attribute_names(update.expression_attribute_names)
            .set_expression_attribute_values(update.expression_attribute_values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(BeginOutcome::Started),
            Err(e) if code(&e) == Some(CONDITION_FAILED) => {
                let returned = match e.into_service_error() {
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => c.item,
                    _ => None,
                };
                let old = self.delivery_behind_condition(id, returned).await?;
                match status_of(&old)? {
                    DeliveryStatus::Completed => Ok(BeginOutcome::AlreadyCompleted),
                    _ => Ok(BeginOutcome::LeasedElsewhere {
                        until_ms: get_n(&old, "lease_until").unwrap_or(now),
                    }),
                }
            }
            Err(e) => Err(sdk_error("begin processing", e)),
        }
    }

    /// One `TransactWriteItems` for the whole change set. If any lease cannot be taken the
    /// transaction changes nothing, and each delivery is then begun on its own to learn why.
    async fn begin_processing_many(
        &self,
        ids: &[String],
        repo: &str,
        owner: &str,
        lease: Duration,
        ttl: Duration,
    ) -> Result<Vec<BeginOutcome>> {
        if ids.len() < 2 || ids.len() > MAX_TRANSACT {
            return begin_each(self, ids, repo, owner, lease, ttl).await;
        }
        let now = now_ms();
        let items: Vec<TransactWriteItem> = ids
            .iter()
            .map(|id| {
                TransactWriteItem::builder()
                    .update(self.begin_update(id, repo, owner, lease, ttl, now))
                    .build()
            })
            .collect();
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(vec![BeginOutcome::Started; ids.len()]),
            Err(e) if code(&e) == Some("TransactionCanceledException") => {
                begin_each(self, ids, repo, owner, lease, ttl).await
            }
            Err(e) => Err(sdk_error("begin processing (transaction)", e)),
        }
    }

    async fn renew_processing(&self, ids: &[String], owner: &str, lease: Duration) -> Result<()> {
        let until = now_ms().saturating_add(ms(lease));
        for id in ids {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(delivery_pk(id), "DELIVERY")))
                .update_expression("SET lease_until = :until")
                .condition_expression("#o = :owner AND #s = :inp")
                .expression_attribute_names("#s", "status")
                .expression_attribute_names("#o", "owner")
                .expression_attribute_values(":until", n(until))
                .expression_attribute_values(":owner", s(owner))
                .expression_attribute_values(":inp", s(DeliveryStatus::InProgress.as_str()))
                .send()
                .await;
            match result {
                Ok(_) => {}
                Err(e) if code(&e) == Some(CONDITION_FAILED) => {
                    return Err(Error::Conflict(format!("lease of {id} lost")));
                }
                Err(e) => return Err(sdk_error("renew lease", e)),
            }
        }
        Ok(())
    }

    async fn complete_processing(
        &self,
        ids: &[String],
        owner: &str,
        summary: &serde_json::Value,
    ) -> Result<()> {
        let summary = serde_json::to_string(summary)?;
        let mut unique: Vec<&String> = ids.iter().collect();
        unique.sort();
        unique.dedup();
        if let [only] = unique.as_slice() {
            let update =
                self.delivery_update(only, DeliveryStatus::Completed, summary, Some(owner));
            return self.run_update(update, "complete processing").await;
        }
        for chunk in unique.chunks(MAX_TRANSACT) {
            let items: Vec<TransactWriteItem> = chunk
                .iter()
                .map(|id| {
                    let update = self.delivery_update(
                        id,
                        DeliveryStatus::Completed,
                        summary.clone(),
                        Some(owner),
                    );
                    TransactWriteItem::builder().update(update).build()
                })
                .collect();
            self.client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
                .map_err(|e| match code(&e) {
                    Some("TransactionCanceledException") => {
                        Error::Conflict("a lease was lost before the change set completed".into())
                    }
                    _ => sdk_error("complete processing", e),
                })?;
        }
        Ok(())
    }

    async fn fail_processing(&self, id: &str, reason: &serde_json::Value) -> Result<()> {
        let update = self.delivery_update(
            id,
            DeliveryStatus::Failed,
            serde_json::to_string(reason)?,
            None,
        );
        self.run_update(update, "fail processing").await
    }

    async fn release_processing(&self, id: &str, owner: &str) -> Result<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(delivery_pk(id), "DELIVERY")))
            .update_expression("SET #s = :queued, lease_until = :zero, updated_at = :now")
            .condition_expression("#s = :inp AND #o = :owner")
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":queued", s(DeliveryStatus::Queued.as_str()))
            .expression_attribute_values(":inp", s(DeliveryStatus::InProgress.as_str()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(now_ms()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if code(&e) == Some(CONDITION_FAILED) => Ok(()),
            Err(e) => Err(sdk_error("release processing", e)),
        }
    }

    async fn delivery(&self, id: &str) -> Result<Option<DeliveryRecord>> {
        let Some(item) = self.get(delivery_pk(id), "DELIVERY").await? else {
            return Ok(None);
        };
        if !is_live(&item, now_ms()) {
            return Ok(None);
        }
        Ok(Some(listing::record_of(id, &item)?))
    }

    async fn list_deliveries(&self, query: &DeliveryQuery) -> Result<Vec<DeliveryRecord>> {
        self.scan_deliveries(query).await
    }

    async fn list_repos(&self) -> Result<Vec<RepoSummary>> {
        self.scan_repos().await
    }

    /// A scan of the table (paginated): fine for an operator's `status`, not for a hot path.
    async fn delivery_counts(&self) -> Result<BTreeMap<String, u64>> {
        let now = now_ms();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .filter_expression("begins_with(pk, :p) AND expires_ms > :now")
            .projection_expression("#s")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":p", s("DELIVERY#"))
            .expression_attribute_values(":now", n(now))
            .into_paginator()
            .send();
        let mut out = BTreeMap::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("scan deliveries", e))?;
            for item in page.items.unwrap_or_default() {
                let status = get_s(&item, "status").unwrap_or("unknown").to_owned();
                *out.entry(status).or_insert(0) += 1;
            }
        }
        Ok(out)
    }

    async fn repo_state(&self, repo: &str) -> Result<Option<RepoState>> {
        let Some(item) = self.get(format!("REPO#{repo}"), "STATE").await? else {
            return Ok(None);
        };
        let version = get_n(&item, "version")
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| Error::Corrupt(format!("state of {repo} has no valid version")))?;
        let state = json_of(&item, "state")?
            .ok_or_else(|| Error::Corrupt(format!("state of {repo} has no state")))?;
        Ok(Some(RepoState { version, state }))
    }

    async fn repo_version(&self, repo: &str) -> Result<Option<u64>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("REPO#{repo}"), "STATE")))
            .projection_expression("version")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("get state version", e))?;
        Ok(out
            .item
            .as_ref()
            .and_then(|item| get_n(item, "version"))
            .and_then(|v| u64::try_from(v).ok()))
    }

    async fn put_repo_state(
        &self,
        repo: &str,
        expected: Option<u64>,
        state: &serde_json::Value,
    ) -> Result<u64> {
        let next = expected.map_or(1, |v| v + 1);
        let mut item = key(format!("REPO#{repo}"), "STATE");
        item.insert("version".into(), n(i64::try_from(next).unwrap_or(i64::MAX)));
        item.insert("state".into(), s(&serde_json::to_string(state)?));
        item.insert("updated_at".into(), n(now_ms()));
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let request = match expected {
            None => request.condition_expression("attribute_not_exists(pk)"),
            Some(v) => request
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(i64::try_from(v).unwrap_or(i64::MAX))),
        };
        match request.send().await {
            Ok(_) => Ok(next),
            Err(e) if code(&e) == Some(CONDITION_FAILED) => Err(Error::Conflict(format!(
                "state of {repo} changed since version {expected:?}"
            ))),
            Err(e) => Err(sdk_error("put repo state", e)),
        }
    }

    async fn park_repo(&self, parked: &ParkedRepo) -> Result<()> {
        self.put_park(parked).await
    }

    async fn parked_repo(&self, repo: &str) -> Result<Option<ParkedRepo>> {
        self.get_park(repo).await
    }

    async fn parked_repos(&self) -> Result<Vec<ParkedRepo>> {
        self.scan_parks().await
    }

    async fn unpark_repo(&self, repo: &str) -> Result<()> {
        self.delete_park(repo).await
    }

    async fn mark_publish_pending(&self, repo: &str, reason: &str, version: u64) -> Result<()> {
        self.mark_pending(repo, reason, version).await
    }

    async fn publish_pending(&self, repo: &str) -> Result<Option<PendingPublish>> {
        self.get_pending(repo).await
    }

    async fn pending_publishes(&self) -> Result<Vec<PendingPublish>> {
        self.scan_pending().await
    }

    async fn clear_publish_pending(&self, repo: &str, version: u64) -> Result<bool> {
        self.delete_pending(repo, version).await
    }

    async fn mark_history_gap(&self, repo: &str, due_ms: i64) -> Result<()> {
        self.mark_gap(repo, due_ms).await
    }

    async fn history_gaps(&self) -> Result<Vec<HistoryGap>> {
        self.scan_gaps().await
    }

    async fn clear_history_gap(&self, repo: &str) -> Result<()> {
        self.delete_gap(repo).await
    }

    async fn cache_get(&self, key_: &str) -> Result<Option<serde_json::Value>> {
        let Some(item) = self.get(format!("CACHE#{key_}"), "CACHE").await? else {
            return Ok(None);
        };
        if !is_live(&item, now_ms()) {
            return Ok(None);
        }
        json_of(&item, "value")
    }

    async fn cache_put(&self, key_: &str, value: &serde_json::Value, ttl: Duration) -> Result<()> {
        let expires = now_ms().saturating_add(ms(ttl));
        let mut item = key(format!("CACHE#{key_}"), "CACHE");
        item.insert("value".into(), s(&serde_json::to_string(value)?));
        item.insert("expires_at".into(), n(expires / 1000 + 1));
        item.insert("expires_ms".into(), n(expires));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error("cache put", e))?;
        Ok(())
    }

    async fn counter_add(&self, key_: &str, delta: u64, ttl: Duration) -> Result<u64> {
        self.add_to_counter(key_, delta, ttl).await
    }

    async fn health(&self) -> Result<()> {
        self.get("HEALTH#probe".into(), "HEALTH").await.map(|_| ())
    }
}
