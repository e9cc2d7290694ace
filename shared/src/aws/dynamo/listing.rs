//! The operators' listings on DynamoDB: scans of the table (paginated), filtered and sorted
//! here. Fine for a console on a table of deliveries kept for weeks; not for a hot path.

use super::DynamoStore;
use super::attrs::{Item, get_n, get_s, is_live, json_of, n, s, status_of};
use crate::aws::error::sdk_error;
use crate::error::Result;
use crate::store::{DeliveryQuery, DeliveryRecord, RepoSummary};
use crate::time::now_ms;

const DELIVERY_PREFIX: &str = "DELIVERY#";

/// The record of delivery `id` held in `item`.
pub(super) fn record_of(id: &str, item: &Item) -> Result<DeliveryRecord> {
    Ok(DeliveryRecord {
        id: id.to_owned(),
        repo: get_s(item, "repo").map(str::to_owned),
        event: get_s(item, "event").map(str::to_owned),
        status: status_of(item)?,
        detail: json_of(item, "detail")?,
        updated_at_ms: get_n(item, "updated_at").unwrap_or(0),
        attempts: get_n(item, "attempts")
            .and_then(|a| u32::try_from(a).ok())
            .unwrap_or(0),
    })
}

impl DynamoStore {
    pub(super) async fn scan_deliveries(
        &self,
        query: &DeliveryQuery,
    ) -> Result<Vec<DeliveryRecord>> {
        let now = now_ms();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .filter_expression("begins_with(pk, :p) AND expires_ms > :now")
            .expression_attribute_values(":p", s(DELIVERY_PREFIX))
            .expression_attribute_values(":now", n(now))
            .into_paginator()
            .send();
        let mut records = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("scan deliveries", e))?;
            for item in page.items.unwrap_or_default() {
                let Some(id) = get_s(&item, "pk").and_then(|pk| pk.strip_prefix(DELIVERY_PREFIX))
                else {
                    continue;
                };
                if !is_live(&item, now) {
                    continue;
                }
                let record = record_of(id, &item)?;
                if query.matches(&record) {
                    records.push(record);
                }
            }
        }
        Ok(query.page_of(records))
    }

    pub(super) async fn scan_repos(&self) -> Result<Vec<RepoSummary>> {
        let mut out: Vec<RepoSummary> = self
            .scan_repo_items("STATE", "scan repositories")
            .await?
            .iter()
            .filter_map(|item| {
                let repo = get_s(item, "pk")?.strip_prefix("REPO#")?.to_owned();
                Some(RepoSummary {
                    repo,
                    version: get_n(item, "version").and_then(|v| u64::try_from(v).ok())?,
                    updated_at_ms: get_n(item, "updated_at").unwrap_or(0),
                })
            })
            .collect();
        out.sort_by(|a, b| a.repo.cmp(&b.repo));
        Ok(out)
    }
}
