//! The pipeline: the steps that apply one change set, each over the [`WorkerContext`](crate::context::WorkerContext)
//! and the engine, in the order they run: `apply` (idempotency, state, history order, the
//! agents, the docs write; and the consumer's port), `gap` (a history gap filled from GitHub
//! or recorded; wakes), `publish_step` with its `fence`, and `history_import` (initial docs
//! from a checkout's history, published once at the end).

pub(crate) mod apply;
mod fence;
pub(crate) mod gap;
pub mod history_import;
pub(crate) mod publish_step;
