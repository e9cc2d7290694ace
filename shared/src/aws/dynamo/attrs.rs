//! Attribute helpers for the table's items.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::{Error, Result};
use crate::store::{DeliveryStatus, ParkedRepo};

/// One item.
pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk)),
        ("sk".to_owned(), s(sk)),
    ])
}

pub(super) fn delivery_pk(id: &str) -> String {
    format!("DELIVERY#{id}")
}

pub(super) fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

pub(super) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub(super) fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

pub(super) fn is_live(item: &Item, now: i64) -> bool {
    get_n(item, "expires_ms").is_none_or(|e| e > now)
}

pub(super) fn status_of(item: &Item) -> Result<DeliveryStatus> {
    let raw = get_s(item, "status").unwrap_or("");
    DeliveryStatus::parse(raw).ok_or_else(|| Error::Corrupt(format!("unknown status {raw:?}")))
}

pub(super) fn json_of(item: &Item, name: &str) -> Result<Option<serde_json::Value>> {
    get_s(item, name)
        .map(serde_json::from_str)
        .transpose()
        .map_err(Error::from)
}

pub(super) fn parked_of(item: &Item) -> ParkedRepo {
    let text = |name| get_s(item, name).unwrap_or_default().to_owned();
    ParkedRepo {
        repo: text("repo"),
        head: text("head"),
        reason: text("reason"),
        since_ms: get_n(item, "since").unwrap_or(0),
    }
}
