//! # coderipple-loadtest
//!
//! Pushes signed webhook traffic through the real pipeline and proves the outcome, not only
//! the HTTP status: every acknowledged delivery applied exactly once, each repository's
//! commits applied in history order (whatever order they were sent in), redeliveries
//! answered as duplicates, the DLQ holding exactly the poison events with their reasons.
//!
//! - [`traffic`]: what is sent (synthesized pushes over R repositories, a real repository's
//!   history with `--from-git`, the octokit webhook examples) and the faults mixed in.
//! - [`reorder`]: each repository's pushes linked into one history (`before` → `after`), and
//!   sent out of it on purpose (`--out-of-order`).
//! - [`schedule`]: open model (constant rate, bursts, ramps; latency from the intended send
//!   time) or closed model (N concurrent senders).
//! - [`target`] and [`runner`]: the ingest URL over HTTP, or the queue directly; one lane per
//!   repository keeps its order; a 503 or a refused connection is re-sent, as someone
//!   redelivering it by hand would (GitHub itself does not retry).
//! - [`github_log`]: GitHub's hook deliveries API on loopback, where `--drop` records the
//!   deliveries GitHub failed and the pipeline's recovery has them redelivered.
//! - [`pipeline`]: the local pipeline started by the tester (`--spawn`), its worker killed
//!   with SIGKILL and restarted on purpose, its peak RSS; [`outage`]: the SQLite file locked.
//! - [`verify`]: waits for the drain and checks the store's records, each repository's applied
//!   commits as `coderipple status --json --repo` publishes them ([`applied`]) and the DLQ.
//! - [`report`]: summary table, JSON, HTML with SVG plots, thresholds for CI.
//! - [`runtime_api`] and [`cost`]: the Lambda binary (`bootstrap`) under a loopback Lambda Runtime API
//!   (init, first and warm invocations, RSS) and the cost model built on those figures.

pub mod applied;
pub mod cost;
pub mod github_log;
pub mod outage;
pub mod pipeline;
pub mod reorder;
pub mod report;
pub mod runner;
pub mod runtime_api;
pub mod schedule;
pub mod target;
pub mod traffic;
pub mod verify;

pub use traffic::push_payload;
