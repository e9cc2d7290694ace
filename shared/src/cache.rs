//! A read-through cache: an in-process LRU in front of the [`Store`]'s `CACHE#` records.
//!
//! Keys are built from immutable ids (commit sha, blob sha, rules version), so an entry never
//! needs invalidating; the TTL only bounds how long the store keeps it.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lru::LruCache;

use crate::error::Result;
use crate::store::Store;
use crate::time::{ms, now_ms};

/// The cache; cheap to share behind an `Arc`.
pub struct Cache {
    store: Arc<dyn Store>,
    local: Mutex<LruCache<String, (serde_json::Value, i64)>>,
    ttl: Duration,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").field("ttl", &self.ttl).finish()
    }
}

/// Where a cached value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    /// The in-process LRU.
    Local,
    /// The store.
    Store,
}

impl Cache {
    /// A cache of `capacity` entries in process, `ttl` in the store.
    pub fn new(store: Arc<dyn Store>, capacity: NonZeroUsize, ttl: Duration) -> Self {
        Self {
            store,
            local: Mutex::new(LruCache::new(capacity)),
            ttl,
        }
    }

    /// The value for `key`, and where it was found.
    pub async fn get(&self, key: &str) -> Result<Option<(serde_json::Value, Hit)>> {
        if let Some(v) = self.local_get(key) {
            return Ok(Some((v, Hit::Local)));
        }
        let Some(v) = self.store.cache_get(key).await? else {
            return Ok(None);
        };
        self.local_put(key, v.clone());
        Ok(Some((v, Hit::Store)))
    }

    /// Stores `value` under `key`, in process and in the store.
    pub async fn put(&self, key: &str, value: serde_json::Value) -> Result<()> {
        self.store.cache_put(key, &value, self.ttl).await?;
        self.local_put(key, value);
        Ok(())
    }

    fn local_get(&self, key: &str) -> Option<serde_json::Value> {
        let mut local = self.local.lock().ok()?;
        match local.get(key) {
            Some((v, expires)) if *expires > now_ms() => Some(v.clone()),
            Some(_) => {
                local.pop(key);
                None
            }
            None => None,
        }
    }

    fn local_put(&self, key: &str, value: serde_json::Value) {
        if let Ok(mut local) = self.local.lock() {
            local.put(
                key.to_owned(),
                (value, now_ms().saturating_add(ms(self.ttl))),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::{Durability, SqliteDb};
    use crate::store::sqlite::SqliteStore;
    use serde_json::json;

    #[tokio::test]
    async fn values_come_from_the_lru_then_the_store_until_they_expire() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(dir.path().join("c.db"), Durability::Normal).unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::new(db));
        let ttl = Duration::from_secs(1);
        let writer = Cache::new(store.clone(), NonZeroUsize::new(8).unwrap(), ttl);
        writer.put("blob:abc", json!({"lines": 3})).await.unwrap();
        assert_eq!(
            writer.get("blob:abc").await.unwrap(),
            Some((json!({"lines": 3}), Hit::Local))
        );
        // Another process (a fresh cache) finds it in the store, then in its own LRU.
        let reader = Cache::new(store, NonZeroUsize::new(8).unwrap(), ttl);
        assert_eq!(reader.get("blob:abc").await.unwrap().unwrap().1, Hit::Store);
        assert_eq!(reader.get("blob:abc").await.unwrap().unwrap().1, Hit::Local);
        assert!(reader.get("blob:other").await.unwrap().is_none());
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert!(
            reader.get("blob:abc").await.unwrap().is_none(),
            "expired everywhere"
        );
    }
}
