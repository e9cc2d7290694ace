//! Pending publishes: `REPO#<owner/repo>` / `PUBLISH`, beside the repository's state.

use super::DynamoStore;
use super::attrs::{Item, get_n, get_s, key, n, s};
use crate::Result;
use crate::aws::error::sdk_error;
use crate::store::PendingPublish;
use crate::time::now_ms;

const SK: &str = "PUBLISH";

fn pending_of(item: &Item) -> PendingPublish {
    PendingPublish {
        repo: get_s(item, "repo").unwrap_or_default().to_owned(),
        reason: get_s(item, "reason").unwrap_or_default().to_owned(),
        since_ms: get_n(item, "since").unwrap_or(0),
        attempts: u32::try_from(get_n(item, "attempts").unwrap_or(0)).unwrap_or(u32::MAX),
    }
}

impl DynamoStore {
    pub(super) async fn mark_pending(&self, repo: &str, reason: &str) -> Result<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("REPO#{repo}"), SK)))
            .update_expression(
                "SET repo = :repo, reason = :reason, since = if_not_exists(since, :now) ADD attempts :one",
            )
            .expression_attribute_values(":repo", s(repo))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":now", n(now_ms()))
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(|e| sdk_error("mark publish pending", e))?;
        Ok(())
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

    pub(super) async fn delete_pending(&self, repo: &str) -> Result<()> {
        self.delete_repo_item(repo, SK, "clear publish pending")
            .await
    }
}
