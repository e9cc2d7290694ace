//! # coderipple-consumer
//!
//! Takes envelopes off any [`Queue`](coderipple_core::queue::Queue) and hands each repository's events, in order, to the
//! one thing it calls: an [`ApplyChangeSet`] (the worker implements it). Everything about the
//! queue lives here and nothing about docs or GitHub does: FIFO groups, coalescing
//! consecutive pushes into one change set, holding and retrying transient failures, the
//! dead-letter queue with a reason, parking a repository behind a dead-lettered head, the
//! long-running poller and its supervision, and the Lambda SQS handler.
//!
//! The public surface: [`Consumer`] (what a consumer needs, built once), the port
//! [`ApplyChangeSet`], the batch handler ([`handle_batch`] and its report), the modules
//! [`poller`], [`supervise`], [`sqs_lambda`] and [`event_source`] (a local stand-in for
//! Lambda's event source mapping). `outcome` and `parking` are internal.

mod batch;
mod context;
pub mod event_source;
mod outcome;
mod parking;
pub mod poller;
mod port;
pub mod sqs_lambda;
pub mod supervise;

pub use batch::{BatchOptions, BatchReport, Outcome, Retry, handle_batch, handle_batch_with};
pub use context::Consumer;
pub use parking::{EXHAUSTED_CLASS, PARKED_CLASS};
pub use port::ApplyChangeSet;
pub use sqs_lambda::{DEADLINE_MARGIN, handle_sqs_event};
