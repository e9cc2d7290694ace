//! The operators' listings on SQLite: one query each, a scan of the table (deliveries have no
//! index on `updated_at`: it would cost an index write on every claim and status change).

use rusqlite::types::Value;

use super::{SqliteStore, status_of};
use crate::error::Result;
use crate::store::{DeliveryQuery, DeliveryRecord, RepoSummary};
use crate::time::now_ms;

/// The columns [`record_row`] reads, in its order.
pub(super) const RECORD_COLUMNS: &str = "id, repo, event, status, detail, updated_at, attempts";

/// One row of [`RECORD_COLUMNS`], as read.
pub(super) type RecordRow = (
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    i64,
    u32,
);

pub(super) fn record_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RecordRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

/// The record a row holds (its status and detail checked).
pub(super) fn record_of(row: RecordRow) -> Result<DeliveryRecord> {
    let (id, repo, event, status, detail, updated_at_ms, attempts) = row;
    Ok(DeliveryRecord {
        id,
        repo,
        event,
        status: status_of(&status)?,
        detail: detail.map(|d| serde_json::from_str(&d)).transpose()?,
        updated_at_ms,
        attempts,
    })
}

impl SqliteStore {
    pub(super) async fn select_deliveries(
        &self,
        query: &DeliveryQuery,
    ) -> Result<Vec<DeliveryRecord>> {
        let mut sql = format!("SELECT {RECORD_COLUMNS} FROM deliveries WHERE expires_at > ?");
        let mut args: Vec<Value> = vec![Value::Integer(now_ms())];
        if let Some(repo) = &query.repo {
            sql.push_str(" AND repo = ?");
            args.push(Value::Text(repo.clone()));
        }
        if let Some(status) = query.status {
            sql.push_str(" AND status = ?");
            args.push(Value::Text(status.as_str().to_owned()));
        }
        if let Some(event) = &query.event {
            sql.push_str(" AND event = ?");
            args.push(Value::Text(event.clone()));
        }
        if let Some(since) = query.since_ms {
            sql.push_str(" AND updated_at >= ?");
            args.push(Value::Integer(since));
        }
        if let Some((at, id)) = &query.before {
            sql.push_str(" AND (updated_at < ? OR (updated_at = ? AND id < ?))");
            args.extend([
                Value::Integer(*at),
                Value::Integer(*at),
                Value::Text(id.clone()),
            ]);
        }
        sql.push_str(" ORDER BY updated_at DESC, id DESC LIMIT ?");
        args.push(Value::Integer(query.page_size() as i64));
        self.db
            .read(move |conn| {
                let mut stmt = conn.prepare(&sql)?;
                let rows = stmt.query_map(rusqlite::params_from_iter(args), record_row)?;
                let mut out = Vec::new();
                for row in rows {
                    out.push(record_of(row?)?);
                }
                Ok(out)
            })
            .await
    }

    pub(super) async fn select_repos(&self) -> Result<Vec<RepoSummary>> {
        self.db
            .read(|conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT repo, version, updated_at FROM repo_state ORDER BY repo",
                )?;
                let rows = stmt.query_map([], |r| {
                    Ok(RepoSummary {
                        repo: r.get(0)?,
                        version: r.get::<_, i64>(1)?.max(0) as u64,
                        updated_at_ms: r.get(2)?,
                    })
                })?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }
}
