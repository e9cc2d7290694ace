//! The embedded [`Store`]: typed tables in the shared SQLite database.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::{
    BeginOutcome, ClaimOutcome, DeliveryClaim, DeliveryQuery, DeliveryRecord, DeliveryStatus,
    HistoryGap, ParkedRepo, PendingPublish, RepoState, RepoSummary, Store,
};
use crate::error::{Error, Result};
use crate::sqlite::SqliteDb;
use crate::time::{ms, now_ms};

#[path = "sqlite_listing.rs"]
mod listing;

/// [`Store`] over a [`SqliteDb`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    db: SqliteDb,
}

impl SqliteStore {
    /// A store in `db`.
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }
}

/// Claims a delivery inside the caller's transaction (shared with [`crate::intake`]).
pub(crate) fn claim_tx(
    conn: &Connection,
    claim: &DeliveryClaim,
    ttl_ms: i64,
) -> Result<ClaimOutcome> {
    let now = now_ms();
    let existing: Option<(String, i64)> = conn
        .prepare_cached("SELECT status, expires_at FROM deliveries WHERE id = ?1")?
        .query_row([&claim.id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((status, expires)) = existing
        && expires > now
    {
        return Ok(ClaimOutcome::Existing(status_of(&status)?));
    }
    conn.prepare_cached(
        "INSERT OR REPLACE INTO deliveries (id, repo, event, status, lease_until, detail, updated_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, 0, NULL, ?5, ?6)",
    )?
    .execute(params![
        &claim.id,
        &claim.repo,
        &claim.event,
        claim.status.as_str(),
        now,
        now.saturating_add(ttl_ms)
    ])?;
    Ok(ClaimOutcome::Claimed)
}

fn parked_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ParkedRepo> {
    Ok(ParkedRepo {
        repo: r.get(0)?,
        head: r.get(1)?,
        reason: r.get(2)?,
        since_ms: r.get(3)?,
    })
}

fn pending_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PendingPublish> {
    Ok(PendingPublish {
        repo: r.get(0)?,
        reason: r.get(1)?,
        since_ms: r.get(2)?,
        attempts: r.get(3)?,
        version: r.get(4)?,
    })
}

fn status_of(raw: &str) -> Result<DeliveryStatus> {
    DeliveryStatus::parse(raw).ok_or_else(|| Error::Corrupt(format!("unknown status {raw}")))
}

#[async_trait]
impl Store for SqliteStore {
    async fn claim_delivery(&self, claim: &DeliveryClaim, ttl: Duration) -> Result<ClaimOutcome> {
        let claim = claim.clone();
        let ttl = ms(ttl);
        self.db.write(move |conn| claim_tx(conn, &claim, ttl)).await
    }

    async fn begin_processing(
        &self,
        id: &str,
        repo: &str,
        owner: &str,
        lease: Duration,
        ttl: Duration,
    ) -> Result<BeginOutcome> {
        let (id, repo, owner) = (id.to_owned(), repo.to_owned(), owner.to_owned());
        let (lease, ttl) = (ms(lease), ms(ttl));
        self.db
            .write(move |conn| {
                let now = now_ms();
                let existing: Option<(String, i64, i64)> = conn
                    .prepare_cached(
                        "SELECT status, lease_until, expires_at FROM deliveries WHERE id = ?1",
                    )?
                    .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?;
                if let Some((status, lease_until, expires)) = existing
                    && expires > now
                {
                    match status_of(&status)? {
                        DeliveryStatus::Completed => return Ok(BeginOutcome::AlreadyCompleted),
                        DeliveryStatus::InProgress if lease_until > now => {
                            return Ok(BeginOutcome::LeasedElsewhere {
                                until_ms: lease_until,
                            });
                        }
                        _ => {}
                    }
                }
                conn.prepare_cached(
                    "INSERT INTO deliveries (id, repo, status, lease_until, updated_at, expires_at,
                        owner, attempts)
                     VALUES (?1, ?2, 'in_progress', ?3, ?4, ?5, ?6, 1)
                     ON CONFLICT (id) DO UPDATE SET status = 'in_progress',
                        lease_until = excluded.lease_until, updated_at = excluded.updated_at,
                        expires_at = MAX(expires_at, excluded.expires_at),
                        repo = COALESCE(repo, excluded.repo), owner = excluded.owner,
                        attempts = attempts + 1",
                )?
                .execute(params![
                    &id,
                    &repo,
                    now.saturating_add(lease),
                    now,
                    now.saturating_add(ttl),
                    &owner
                ])?;
                Ok(BeginOutcome::Started)
            })
            .await
    }

    async fn renew_processing(&self, ids: &[String], owner: &str, lease: Duration) -> Result<()> {
        let (ids, owner, lease) = (ids.to_vec(), owner.to_owned(), ms(lease));
        self.db
            .write(move |conn| {
                let now = now_ms();
                let mut stmt = conn.prepare_cached(
                    "UPDATE deliveries SET lease_until = ?3
                     WHERE id = ?1 AND owner = ?2 AND status = 'in_progress'",
                )?;
                for id in &ids {
                    if stmt.execute(params![id, &owner, now.saturating_add(lease)])? == 0 {
                        return Err(Error::Conflict(format!("lease of {id} lost")));
                    }
                }
                Ok(())
            })
            .await
    }

    async fn complete_processing(
        &self,
        ids: &[String],
        owner: &str,
        summary: &serde_json::Value,
    ) -> Result<()> {
        let (ids, owner) = (ids.to_vec(), owner.to_owned());
        let summary = serde_json::to_string(summary)?;
        self.db
            .write(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "UPDATE deliveries SET status = 'completed', lease_until = 0, detail = ?3,
                        updated_at = ?4 WHERE id = ?1 AND owner = ?2 AND status = 'in_progress'",
                )?;
                let now = now_ms();
                let mut unique: Vec<&String> = ids.iter().collect();
                unique.sort();
                unique.dedup();
                for id in unique {
                    if stmt.execute(params![id, &owner, &summary, now])? == 0 {
                        // A failed write rolls back its own changes: none is marked.
                        return Err(Error::Conflict(format!(
                            "lease of {id} lost before it completed"
                        )));
                    }
                }
                Ok(())
            })
            .await
    }

    async fn fail_processing(&self, id: &str, reason: &serde_json::Value) -> Result<()> {
        self.set_final(id, "failed", Some(serde_json::to_string(reason)?))
            .await
    }

    async fn release_processing(&self, id: &str, owner: &str) -> Result<()> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        self.db
            .write(move |conn| {
                conn.execute(
                    "UPDATE deliveries SET status = 'queued', lease_until = 0, updated_at = ?2
                     WHERE id = ?1 AND owner = ?3 AND status = 'in_progress'",
                    params![&id, now_ms(), &owner],
                )?;
                Ok(())
            })
            .await
    }

    async fn delivery(&self, id: &str) -> Result<Option<DeliveryRecord>> {
        let id = id.to_owned();
        self.db
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {} FROM deliveries WHERE id = ?1 AND expires_at > ?2",
                    listing::RECORD_COLUMNS
                ))?
                .query_row(params![&id, now_ms()], listing::record_row)
                .optional()?
                .map(listing::record_of)
                .transpose()
            })
            .await
    }

    async fn delivery_counts(&self) -> Result<BTreeMap<String, u64>> {
        self.db
            .read(|conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT status, COUNT(*) FROM deliveries WHERE expires_at > ?1 GROUP BY status",
                )?;
                let rows = stmt.query_map([now_ms()], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })?;
                let mut out = BTreeMap::new();
                for row in rows {
                    let (status, n) = row?;
                    out.insert(status, u64::try_from(n).unwrap_or(0));
                }
                Ok(out)
            })
            .await
    }

    async fn repo_state(&self, repo: &str) -> Result<Option<RepoState>> {
        let repo = repo.to_owned();
        self.db
            .read(move |conn| {
                let row: Option<(i64, String)> = conn
                    .prepare_cached("SELECT version, state FROM repo_state WHERE repo = ?1")?
                    .query_row([&repo], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                row.map(|(version, state)| {
                    Ok(RepoState {
                        version: u64::try_from(version)
                            .map_err(|_| Error::Corrupt("negative version".into()))?,
                        state: serde_json::from_str(&state)?,
                    })
                })
                .transpose()
            })
            .await
    }

    async fn repo_version(&self, repo: &str) -> Result<Option<u64>> {
        let repo = repo.to_owned();
        self.db
            .read(move |conn| {
                let version: Option<i64> = conn
                    .prepare_cached("SELECT version FROM repo_state WHERE repo = ?1")?
                    .query_row([&repo], |r| r.get(0))
                    .optional()?;
                Ok(version.map(|v| u64::try_from(v).unwrap_or(0)))
            })
            .await
    }

    async fn put_repo_state(
        &self,
        repo: &str,
        expected: Option<u64>,
        state: &serde_json::Value,
    ) -> Result<u64> {
        let repo = repo.to_owned();
        let state = serde_json::to_string(state)?;
        self.db
            .write(move |conn| {
                let now = now_ms();
                let changed = match expected {
                    None => conn.execute(
                        "INSERT INTO repo_state (repo, version, state, updated_at) VALUES (?1, 1, ?2, ?3)
                         ON CONFLICT (repo) DO NOTHING",
                        params![&repo, &state, now],
                    )?,
                    Some(v) => conn.execute(
                        "UPDATE repo_state SET version = version + 1, state = ?2, updated_at = ?3
                         WHERE repo = ?1 AND version = ?4",
                        params![&repo, &state, now, i64::try_from(v).unwrap_or(i64::MAX)],
                    )?,
                };
                if changed == 0 {
                    return Err(Error::Conflict(format!(
                        "state of {repo} changed since version {expected:?}"
                    )));
                }
                Ok(expected.map_or(1, |v| v + 1))
            })
            .await
    }

    async fn park_repo(&self, parked: &ParkedRepo) -> Result<()> {
        let p = parked.clone();
        self.db
            .write(move |conn| {
                conn.execute(
                    "INSERT INTO parked_repos (repo, head, reason, since) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (repo) DO NOTHING",
                    params![&p.repo, &p.head, &p.reason, p.since_ms],
                )?;
                Ok(())
            })
            .await
    }

    async fn parked_repo(&self, repo: &str) -> Result<Option<ParkedRepo>> {
        let repo = repo.to_owned();
        self.db
            .read(move |conn| {
                Ok(conn
                    .prepare_cached(
                        "SELECT repo, head, reason, since FROM parked_repos WHERE repo = ?1",
                    )?
                    .query_row([&repo], parked_row)
                    .optional()?)
            })
            .await
    }

    async fn list_deliveries(&self, query: &DeliveryQuery) -> Result<Vec<DeliveryRecord>> {
        self.select_deliveries(query).await
    }

    async fn list_repos(&self) -> Result<Vec<RepoSummary>> {
        self.select_repos().await
    }

    async fn parked_repos(&self) -> Result<Vec<ParkedRepo>> {
        self.db
            .read(|conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT repo, head, reason, since FROM parked_repos ORDER BY repo",
                )?;
                let rows = stmt.query_map([], parked_row)?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    async fn unpark_repo(&self, repo: &str) -> Result<()> {
        let repo = repo.to_owned();
        self.db
            .write(move |conn| {
                conn.execute("DELETE FROM parked_repos WHERE repo = ?1", [&repo])?;
                Ok(())
            })
            .await
    }

    async fn mark_publish_pending(&self, repo: &str, reason: &str, version: u64) -> Result<()> {
        let (repo, reason) = (repo.to_owned(), reason.to_owned());
        let version = i64::try_from(version).unwrap_or(i64::MAX);
        self.db
            .write(move |conn| {
                conn.execute(
                    "INSERT INTO publish_pending (repo, reason, since, attempts, version)
                     VALUES (?1, ?2, ?3, 1, ?4)
                     ON CONFLICT (repo) DO UPDATE SET reason = excluded.reason,
                         attempts = attempts + 1, version = max(version, excluded.version)",
                    params![&repo, &reason, now_ms(), version],
                )?;
                Ok(())
            })
            .await
    }

    async fn publish_pending(&self, repo: &str) -> Result<Option<PendingPublish>> {
        let repo = repo.to_owned();
        self.db
            .read(move |conn| {
                Ok(conn
                    .prepare_cached(
                        "SELECT repo, reason, since, attempts, version FROM publish_pending WHERE repo = ?1",
                    )?
                    .query_row([&repo], pending_row)
                    .optional()?)
            })
            .await
    }

    async fn pending_publishes(&self) -> Result<Vec<PendingPublish>> {
        self.db
            .read(|conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT repo, reason, since, attempts, version FROM publish_pending ORDER BY repo",
                )?;
                let rows = stmt.query_map([], pending_row)?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    async fn clear_publish_pending(&self, repo: &str, version: u64) -> Result<bool> {
        let repo = repo.to_owned();
        let version = i64::try_from(version).unwrap_or(i64::MAX);
        self.db
            .write(move |conn| {
                conn.execute(
                    "DELETE FROM publish_pending WHERE repo = ?1 AND version <= ?2",
                    params![&repo, version],
                )?;
                let left: Option<i64> = conn
                    .query_row(
                        "SELECT version FROM publish_pending WHERE repo = ?1",
                        [&repo],
                        |r| r.get(0),
                    )
                    .optional()?;
                Ok(left.is_none())
            })
            .await
    }

    async fn mark_history_gap(&self, repo: &str, due_ms: i64) -> Result<()> {
        let repo = repo.to_owned();
        self.db
            .write(move |conn| {
                conn.execute(
                    "INSERT INTO history_gaps (repo, due) VALUES (?1, ?2)
                     ON CONFLICT (repo) DO UPDATE SET due = excluded.due",
                    params![&repo, due_ms],
                )?;
                Ok(())
            })
            .await
    }

    async fn history_gaps(&self) -> Result<Vec<HistoryGap>> {
        self.db
            .read(|conn| {
                let mut stmt =
                    conn.prepare_cached("SELECT repo, due FROM history_gaps ORDER BY repo")?;
                let rows = stmt.query_map([], |r| {
                    Ok(HistoryGap {
                        repo: r.get(0)?,
                        due_ms: r.get(1)?,
                    })
                })?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    async fn clear_history_gap(&self, repo: &str) -> Result<()> {
        let repo = repo.to_owned();
        self.db
            .write(move |conn| {
                conn.execute("DELETE FROM history_gaps WHERE repo = ?1", [&repo])?;
                Ok(())
            })
            .await
    }

    async fn cache_get(&self, key: &str) -> Result<Option<serde_json::Value>> {
        let key = key.to_owned();
        self.db
            .read(move |conn| {
                let raw: Option<String> = conn
                    .prepare_cached("SELECT value FROM cache WHERE key = ?1 AND expires_at > ?2")?
                    .query_row(params![&key, now_ms()], |r| r.get(0))
                    .optional()?;
                Ok(raw.map(|r| serde_json::from_str(&r)).transpose()?)
            })
            .await
    }

    async fn cache_put(&self, key: &str, value: &serde_json::Value, ttl: Duration) -> Result<()> {
        let key = key.to_owned();
        let value = serde_json::to_string(value)?;
        let ttl = ms(ttl);
        self.db
            .write(move |conn| {
                conn.execute(
                    "INSERT OR REPLACE INTO cache (key, value, expires_at) VALUES (?1, ?2, ?3)",
                    params![&key, &value, now_ms().saturating_add(ttl)],
                )?;
                Ok(())
            })
            .await
    }

    async fn counter_add(&self, key: &str, delta: u64, ttl: Duration) -> Result<u64> {
        // In the cache table under its own prefix; one statement, so adds never interleave.
        let key = format!("COUNT#{key}");
        let delta = i64::try_from(delta).unwrap_or(i64::MAX);
        let ttl = ms(ttl);
        self.db
            .write(move |conn| {
                let now = now_ms();
                let total: i64 = conn
                    .prepare_cached(
                        "INSERT INTO cache (key, value, expires_at) VALUES (?1, ?2, ?3)
                         ON CONFLICT (key) DO UPDATE SET
                           value = CASE WHEN expires_at > ?4
                                        THEN CAST(value AS INTEGER) + ?2 ELSE ?2 END,
                           expires_at = CASE WHEN expires_at > ?4 THEN expires_at ELSE ?3 END
                         RETURNING CAST(value AS INTEGER)",
                    )?
                    .query_row(params![&key, delta, now.saturating_add(ttl), now], |r| {
                        r.get(0)
                    })?;
                Ok(u64::try_from(total).unwrap_or(0))
            })
            .await
    }

    async fn health(&self) -> Result<()> {
        self.db.write(|_| Ok(())).await
    }
}

impl SqliteStore {
    async fn set_final(
        &self,
        id: &str,
        status: &'static str,
        detail: Option<String>,
    ) -> Result<()> {
        let id = id.to_owned();
        self.db
            .write(move |conn| {
                conn.execute(
                    "UPDATE deliveries SET status = ?2, lease_until = 0, detail = ?3, updated_at = ?4
                     WHERE id = ?1",
                    params![&id, status, &detail, now_ms()],
                )?;
                Ok(())
            })
            .await
    }
}
