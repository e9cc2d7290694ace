//! Pending publishes: `REPO#<owner/repo>` / `PUBLISH`, beside the repository's state. The
//! record's `version` only grows, and a clear is conditional on it (see
//! [`crate::store::Store::clear_publish_pending`]).

use super::attrs::{Item, get_n, get_s, key, n, s};
use super::{CONDITION_FAILED, DynamoStore};
use crate::aws::error::{code, sdk_error};
use crate::error::Result;
use crate::store::PendingPublish;
use crate::time::now_ms;

const SK: &str = "PUBLISH";

fn pending_of(item: &Item) -> PendingPublish {
    PendingPublish {
        repo: get_s(item, "repo").unwrap_or_default().to_owned(),
        reason: get_s(item, "reason").unwrap_or_default().to_owned(),
        since_ms: get_n(item, "since").unwrap_or(0),
        attempts: u32::try_from(get_n(item, "attempts").unwrap_or(0)).unwrap_or(u32::MAX),
        version: u64::try_from(get_n(item, "version").unwrap_or(0)).unwrap_or(0),
    }
}

/// Whether a stored record of at most `version` (or of none) is the condition.
const AT_MOST: &str = "attribute_not_exists(version) OR version <= :v";

impl DynamoStore {
    pub(super) async fn mark_pending(&self, repo: &str, reason: &str, version: u64) -> Result<()> {
        let v = n(i64::try_from(version).unwrap_or(i64::MAX));
        let update = |raise: bool| {
            let request = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(format!("REPO#{repo}"), SK)))
                .expression_attribute_values(":repo", s(repo))
                .expression_attribute_values(":reason", s(reason))
                .expression_attribute_values(":now", n(now_ms()))
                .expression_attribute_values(":one", n(1));
            let set = "SET repo = :repo, reason = :reason, since = if_not_exists(since, :now)";
            if raise {
                request
                    .update_expression(format!("{set}, version = :v ADD attempts :one"))
                    .condition_expression(AT_MOST)
                    .expression_attribute_values(":v", v.clone())
            } else {
                request.update_expression(format!("{set} ADD attempts :one"))
            }
        };
        match update(true).send().await {
            Ok(_) => Ok(()),
            // A newer version is recorded already: one more attempt, that version kept.
            Err(e) if code(&e) == Some(CONDITION_FAILED) => {
                update(false)
                    .send()
                    .await
                    .map_err(|e| sdk_error("mark publish pending", e))?;
                Ok(())
            }
            Err(e) => Err(sdk_error("mark publish pending", e)),
        }
    }

    pub(super) async fn get_pending(&self, repo: &str) -> Result<Option<PendingPublish>> {
        Ok(self
            .get(format!("REPO#{repo}"), SK)
            .await?
            .map(|item| pending_of(&item)))
    }

    pub(super) async fn scan_pending(&self) -> Result<Vec<PendingPublish>> {
        let mut out: Vec<_> = self
            .scan_repo_items(SK, "scan pending publishes")
            .await?
            .iter()
            .map(pending_of)
            .collect();
        out.sort_by(|a, b| a.repo.cmp(&b.repo));
        Ok(out)
    }

    pub(super) async fn delete_pending(&self, repo: &str, version: u64) -> Result<bool> {
        let answer = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("REPO#{repo}"), SK)))
            .condition_expression(AT_MOST)
            .expression_attribute_values(":v", n(i64::try_from(version).unwrap_or(i64::MAX)))
            .send()
            .await;
        match answer {
            Ok(_) => Ok(true),
            Err(e) if code(&e) == Some(CONDITION_FAILED) => Ok(false),
            Err(e) => Err(sdk_error("clear publish pending", e)),
        }
    }
}
