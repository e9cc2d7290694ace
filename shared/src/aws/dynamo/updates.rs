//! The conditional updates that take leases and set final statuses (used alone or in
//! transactions).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{ReturnValuesOnConditionCheckFailure, Update};

use super::attrs::{delivery_pk, key, n, s};
use super::{DEFAULT_RECORD_TTL, DynamoStore};
use crate::store::DeliveryStatus;
use crate::time::{ms, now_ms};

impl DynamoStore {
    /// Sets a delivery's final status; with `owner`, only while `owner` holds its lease.
    pub(super) fn delivery_update(
        &self,
        id: &str,
        status: DeliveryStatus,
        detail: String,
        owner: Option<&str>,
    ) -> Update {
        let now = now_ms();
        let expires = now.saturating_add(ms(DEFAULT_RECORD_TTL));
        let mut values = HashMap::from([
            (":s".to_owned(), s(status.as_str())),
            (":d".to_owned(), s(&detail)),
            (":zero".to_owned(), n(0)),
            (":now".to_owned(), n(now)),
            (":exp".to_owned(), n(expires / 1000)),
            (":expms".to_owned(), n(expires)),
        ]);
        let expression = "SET #s = :s, lease_until = :zero, updated_at = :now, detail = :d, \
             expires_at = if_not_exists(expires_at, :exp), expires_ms = if_not_exists(expires_ms, :expms)";
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(delivery_pk(id), "DELIVERY")))
            .update_expression(expression)
            .expression_attribute_names("#s", "status");
        if let Some(owner) = owner {
            values.insert(":owner".to_owned(), s(owner));
            values.insert(":inp".to_owned(), s(DeliveryStatus::InProgress.as_str()));
            update = update
                .condition_expression("#o = :owner AND #s = :inp")
                .expression_attribute_names("#o", "owner");
        }
        update
            .set_expression_attribute_values(Some(values))
            .build()
            .expect("table, key and expression are set")
    }

    /// The conditional update that takes a delivery's processing lease.
    pub(super) fn begin_update(
        &self,
        id: &str,
        repo: &str,
        owner: &str,
        lease: Duration,
        ttl: Duration,
        now: i64,
    ) -> Update {
        let expires = now.saturating_add(ms(ttl));
        let values = HashMap::from([
            (":inp".to_owned(), s(DeliveryStatus::InProgress.as_str())),
            (":done".to_owned(), s(DeliveryStatus::Completed.as_str())),
            (":lease".to_owned(), n(now.saturating_add(ms(lease)))),
            (":now".to_owned(), n(now)),
            (":exp".to_owned(), n(expires / 1000 + 1)),
            (":expms".to_owned(), n(expires)),
            (":repo".to_owned(), s(repo)),
            (":owner".to_owned(), s(owner)),
            (":one".to_owned(), n(1)),
        ]);
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(delivery_pk(id), "DELIVERY")))
            .update_expression(
                "SET #s = :inp, lease_until = :lease, updated_at = :now, expires_at = :exp, \
                 expires_ms = :expms, repo = if_not_exists(repo, :repo), #o = :owner \
                 ADD attempts :one",
            )
            .condition_expression(
                "attribute_not_exists(pk) OR expires_ms <= :now \
                 OR (#s <> :done AND (#s <> :inp OR lease_until <= :now))",
            )
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#o", "owner")
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .expect("table, key and expression are set")
    }
}
