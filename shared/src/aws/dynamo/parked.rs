//! Parked repositories: `REPO#<owner/repo>` / `PARKED`, beside the repository's state.

use super::attrs::{key, n, parked_of, s};
use super::{CONDITION_FAILED, DynamoStore};
use crate::aws::error::{code, sdk_error};
use crate::error::Result;
use crate::store::ParkedRepo;

impl DynamoStore {
    pub(super) async fn put_park(&self, parked: &ParkedRepo) -> Result<()> {
        let mut item = key(format!("REPO#{}", parked.repo), "PARKED");
        item.insert("repo".into(), s(&parked.repo));
        item.insert("head".into(), s(&parked.head));
        item.insert("reason".into(), s(&parked.reason));
        item.insert("since".into(), n(parked.since_ms));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if code(&e) == Some(CONDITION_FAILED) => Ok(()),
            Err(e) => Err(sdk_error("park repository", e)),
        }
    }

    pub(super) async fn get_park(&self, repo: &str) -> Result<Option<ParkedRepo>> {
        Ok(self
            .get(format!("REPO#{repo}"), "PARKED")
            .await?
            .map(|item| parked_of(&item)))
    }

    pub(super) async fn scan_parks(&self) -> Result<Vec<ParkedRepo>> {
        let mut out: Vec<_> = self
            .scan_repo_items("PARKED", "scan parked repositories")
            .await?
            .iter()
            .map(parked_of)
            .collect();
        out.sort_by(|a, b| a.repo.cmp(&b.repo));
        Ok(out)
    }

    pub(super) async fn delete_park(&self, repo: &str) -> Result<()> {
        self.delete_repo_item(repo, "PARKED", "unpark repository")
            .await
    }
}
