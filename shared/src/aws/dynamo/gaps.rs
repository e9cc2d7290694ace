//! Repositories whose events wait for their history: `REPO#<owner/repo>` / `GAP`, beside the
//! repository's state.

use super::DynamoStore;
use super::attrs::{Item, get_n, get_s, key, n, s};
use crate::aws::error::sdk_error;
use crate::error::Result;
use crate::store::HistoryGap;

const SK: &str = "GAP";

fn gap_of(item: &Item) -> HistoryGap {
    HistoryGap {
        repo: get_s(item, "repo").unwrap_or_default().to_owned(),
        due_ms: get_n(item, "due").unwrap_or(0),
    }
}

impl DynamoStore {
    pub(super) async fn mark_gap(&self, repo: &str, due_ms: i64) -> Result<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("REPO#{repo}"), SK)))
            .update_expression("SET repo = :repo, due = :due")
            .expression_attribute_values(":repo", s(repo))
            .expression_attribute_values(":due", n(due_ms))
            .send()
            .await
            .map_err(|e| sdk_error("mark history gap", e))?;
        Ok(())
    }

    pub(super) async fn scan_gaps(&self) -> Result<Vec<HistoryGap>> {
        let mut out: Vec<_> = self
            .scan_repo_items(SK, "scan history gaps")
            .await?
            .iter()
            .map(gap_of)
            .collect();
        out.sort_by(|a, b| a.repo.cmp(&b.repo));
        Ok(out)
    }

    pub(super) async fn delete_gap(&self, repo: &str) -> Result<()> {
        self.delete_repo_item(repo, SK, "clear history gap").await
    }
}
