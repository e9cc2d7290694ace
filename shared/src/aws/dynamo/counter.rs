//! Counters: `COUNT#<key>` / `COUNT`, a `total` that `ADD` raises atomically.
//!
//! DynamoDB deletes expired items late, so an add first asks for a live counter (or none);
//! an expired one is replaced by a fresh one, on the condition that it is still expired, so
//! two adds racing past the expiry cannot both start it again.

use std::time::Duration;

use aws_sdk_dynamodb::types::ReturnValue;

use super::attrs::{get_n, key, n};
use super::{CONDITION_FAILED, DynamoStore};
use crate::aws::error::{code, sdk_error};
use crate::error::{Error, Result};
use crate::time::{ms, now_ms};

const SK: &str = "COUNT";
/// Rounds of "add to the live counter, else replace the expired one" before giving up.
const ROUNDS: usize = 4;

impl DynamoStore {
    pub(super) async fn add_to_counter(
        &self,
        key_: &str,
        delta: u64,
        ttl: Duration,
    ) -> Result<u64> {
        let delta = i64::try_from(delta).unwrap_or(i64::MAX);
        let pk = format!("COUNT#{key_}");
        for _ in 0..ROUNDS {
            let now = now_ms();
            let expires = now.saturating_add(ms(ttl));
            let added = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(pk.clone(), SK)))
                .update_expression(
                    "ADD #total :delta \
                     SET expires_ms = if_not_exists(expires_ms, :expires), \
                         expires_at = if_not_exists(expires_at, :expires_s)",
                )
                .condition_expression("attribute_not_exists(pk) OR expires_ms > :now")
                .expression_attribute_names("#total", "total")
                .expression_attribute_values(":delta", n(delta))
                .expression_attribute_values(":expires", n(expires))
                .expression_attribute_values(":expires_s", n(expires / 1000 + 1))
                .expression_attribute_values(":now", n(now))
                // Not UPDATED_NEW: moto leaves out an attribute an add of 0 did not change.
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            match added {
                Ok(out) => {
                    let total = out
                        .attributes
                        .as_ref()
                        .and_then(|a| get_n(a, "total"))
                        .ok_or_else(|| Error::Corrupt(format!("counter {key_} has no total")))?;
                    return Ok(u64::try_from(total).unwrap_or(0));
                }
                Err(e) if code(&e) == Some(CONDITION_FAILED) => {}
                Err(e) => return Err(sdk_error("add to a counter", e)),
            }
            // Expired: start it again, unless another add did so first.
            let mut item = key(pk.clone(), SK);
            item.insert("total".into(), n(delta));
            item.insert("expires_ms".into(), n(expires));
            item.insert("expires_at".into(), n(expires / 1000 + 1));
            let restarted = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("expires_ms <= :now")
                .expression_attribute_values(":now", n(now))
                .send()
                .await;
            match restarted {
                Ok(_) => return Ok(u64::try_from(delta).unwrap_or(0)),
                Err(e) if code(&e) == Some(CONDITION_FAILED) => {}
                Err(e) => return Err(sdk_error("restart a counter", e)),
            }
        }
        Err(Error::Conflict(format!(
            "counter {key_}: {ROUNDS} rounds lost against concurrent adds"
        )))
    }
}
