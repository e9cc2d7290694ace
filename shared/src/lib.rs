//! # coderipple-core
//!
//! The contracts every other CodeRipple crate builds on (each module states its own; the
//! pages `docs/http-contract.md` and `docs/deploying.md` describe them for users):
//!
//! - [`signature`]: HMAC-SHA256 verification of `X-Hub-Signature-256` over the raw body,
//!   constant-time, against the current and previous secret (rotation).
//! - [`webhook`]: body decoding (JSON or `payload=` form) and parsing of GitHub events into
//!   the normalized, versioned [`envelope::Envelope`] (or "ping" / "ignored").
//! - [`queue`]: the [`queue::Queue`] trait (FIFO groups, visibility, receive counts, DLQ,
//!   dedup window) and its backends; [`store`]: the [`store::Store`] trait (delivery dedup,
//!   idempotency, repo state with compare-and-set, cache) and its backends.
//! - [`aws`]: the AWS backends (SQS FIFO, DynamoDB, S3), provisioning and secrets.
//! - [`metrics`]: CloudWatch Embedded Metric Format records on stdout.
//! - [`sqlite`]: the embedded backend shared by queue and store: one WAL database, one writer
//!   thread that commits concurrent writes together (group commit).
//! - [`backend`]: [`Backend`], every part of one deployment opened in one place
//!   ([`Backend::open_local`] on a data dir, [`Backend::open_aws`] on AWS).
//! - [`git_history`]: a checkout's first-parent history as envelope commits.
//! - [`intake`]: ingest's durable step (claim + send), atomic on SQLite.
//! - [`blob`]: claim-check storage for envelopes too large for a queue message.
//! - [`config`]: settings shared by ingest and worker, validated with errors naming the variable.
//! - [`WorkerError`]: why handling a message failed, whether to retry, and the DLQ class;
//!   shared by the consumer, the worker and the GitHub client.
//! - [`contract`] (feature `contract`): the backend contract suite, written once, run against
//!   every backend.

pub mod aws;
pub mod backend;
pub mod blob;
pub mod cache;
pub mod config;
pub mod data_dir;
pub mod envelope;
pub mod error;
pub mod git_history;
pub mod intake;
pub mod metrics;
pub mod pricing;
pub mod queue;
pub mod signature;
pub mod sqlite;
pub mod store;
pub mod time;
pub mod webhook;
mod worker_error;

#[cfg(feature = "contract")]
pub mod contract;

pub use backend::{Backend, BackendKind};
pub use error::{Error, Result};
pub use worker_error::WorkerError;
