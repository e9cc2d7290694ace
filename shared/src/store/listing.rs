//! Operators' listings: deliveries newest first, filtered and paged, and the repositories
//! that have state. Both are scans on DynamoDB (fine for a console, not for a hot path).

use serde::{Deserialize, Serialize};

use super::{DeliveryRecord, DeliveryStatus};

/// The most records one listing returns.
pub const MAX_PAGE: usize = 500;

/// Which deliveries to list: every filter that is set must match. Newest first (by
/// `updated_at_ms`, then id), starting after `before` when it is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryQuery {
    /// Only this repository's.
    pub repo: Option<String>,
    /// Only deliveries in this status.
    pub status: Option<DeliveryStatus>,
    /// Only this GitHub event.
    pub event: Option<String>,
    /// Only deliveries changed at or after this time (Unix ms).
    pub since_ms: Option<i64>,
    /// The page's cursor: records strictly older than this `(updated_at_ms, id)`.
    pub before: Option<(i64, String)>,
    /// At most this many (capped at [`MAX_PAGE`]; 0 means 50).
    pub limit: usize,
}

impl DeliveryQuery {
    /// The page size this query asks for.
    pub fn page_size(&self) -> usize {
        match self.limit {
            0 => 50,
            n => n.min(MAX_PAGE),
        }
    }

    /// Whether `record` passes every filter and the cursor.
    pub fn matches(&self, record: &DeliveryRecord) -> bool {
        self.repo
            .as_deref()
            .is_none_or(|r| record.repo.as_deref() == Some(r))
            && self.status.is_none_or(|s| record.status == s)
            && self
                .event
                .as_deref()
                .is_none_or(|e| record.event.as_deref() == Some(e))
            && self.since_ms.is_none_or(|t| record.updated_at_ms >= t)
            && self.before.as_ref().is_none_or(|(at, id)| {
                (record.updated_at_ms, record.id.as_str()) < (*at, id.as_str())
            })
    }

    /// The page of `records` (any order) this query returns: filtered, newest first, cut.
    pub fn page_of(
        &self,
        records: impl IntoIterator<Item = DeliveryRecord>,
    ) -> Vec<DeliveryRecord> {
        let mut out: Vec<DeliveryRecord> =
            records.into_iter().filter(|r| self.matches(r)).collect();
        out.sort_by(|a, b| (b.updated_at_ms, b.id.as_str()).cmp(&(a.updated_at_ms, a.id.as_str())));
        out.truncate(self.page_size());
        out
    }
}

/// A repository that has state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoSummary {
    /// `owner/repo`.
    pub repo: String,
    /// Its state's version (one per change set applied).
    pub version: u64,
    /// When its state last changed (Unix ms).
    pub updated_at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, at: i64, status: DeliveryStatus) -> DeliveryRecord {
        DeliveryRecord {
            id: id.into(),
            repo: Some("o/r".into()),
            event: Some("push".into()),
            status,
            detail: None,
            updated_at_ms: at,
            attempts: 0,
        }
    }

    #[test]
    fn a_page_is_newest_first_and_the_cursor_continues_it() {
        let all = vec![
            record("a", 1, DeliveryStatus::Completed),
            record("b", 3, DeliveryStatus::Failed),
            record("c", 3, DeliveryStatus::Completed),
            record("d", 2, DeliveryStatus::Completed),
        ];
        let mut q = DeliveryQuery {
            limit: 2,
            ..DeliveryQuery::default()
        };
        let first: Vec<String> = q.page_of(all.clone()).into_iter().map(|r| r.id).collect();
        assert_eq!(first, ["c", "b"]);
        q.before = Some((3, "b".into()));
        let second: Vec<String> = q.page_of(all.clone()).into_iter().map(|r| r.id).collect();
        assert_eq!(second, ["d", "a"]);
        q.status = Some(DeliveryStatus::Failed);
        q.before = None;
        assert_eq!(q.page_of(all).len(), 1);
    }
}
