//! # coderipple-worker
//!
//! Applies one repository's change set, with the I/O around the pure engine
//! (`coderipple-engine`): it reads and writes the repository's state in the store
//! (compare-and-set), records each delivery's idempotency, fills history gaps through
//! GitHub, reads file contents, writes the rendered docs to a sink, asks the LLM writer for
//! prose, and publishes the docs into the repository. The queue is not its business: the
//! consumer (`coderipple-consumer`) calls it through the
//! [`ApplyChangeSet`](coderipple_consumer::ApplyChangeSet) port, which
//! [`WorkerContext`] implements.
//!
//! The public surface: [`WorkerContext`] (built once per process) and
//! [`apply_change_set`]; the publish step ([`publish_repo`], [`after_change_set`],
//! [`republish_pending`]); the agent pack ([`agents_from_env`]); the content sources ([`ContentSource`], [`GitCheckouts`],
//! [`GitHubContent`]); the sinks ([`DocsSink`], [`DirSink`], [`S3Sink`]); the gap wakes
//! ([`wake_due`] and friends); and the modules [`history_import`] (initial docs from a
//! checkout's history), [`publish`] and [`llm`].
//!
//! - `context`: [`WorkerContext`], what the steps share, built once.
//! - `pipeline`: the steps of one change set: `apply` (idempotency records, the state with
//!   compare-and-set, history order through the engine's chain, the agents, the docs write,
//!   the summary; the consumer's port), `gap` (a history gap waits, then is filled from
//!   GitHub or recorded; wakes), the publish step and its fence on the state version, and
//!   [`history_import`].
//! - `content`: optional file contents (a local git checkout, or GitHub's contents API),
//!   analysed by the engine and cached.
//! - `sink`: where docs are written (a directory locally, S3 on AWS).
//! - [`publish`]: the publishers (git push, GitHub's contents or Git Data API, a standing
//!   pull request) and their settings (`CODERIPPLE_DOC_STRATEGY`).
//! - [`llm`]: the optional LLM writer: prose in the docs' marked sections (Bedrock or an
//!   OpenAI-compatible server), cached, budgeted, never in the way.
//! - `agent_pack`: the agent pack a deployment runs with (`CODERIPPLE_AGENT_PACK`), read from
//!   disk here and handed to the engine.
//! - `vars`: reading `CODERIPPLE_*` settings with errors that name the variable.

mod agent_pack;
mod content;
mod context;
pub mod llm;
mod pipeline;
pub mod publish;
mod sink;
mod vars;

pub use agent_pack::{PACK_VAR, agents_from_env, load_pack_dir};
pub use content::ContentSource;
pub use content::git::GitCheckouts;
pub use content::github::GitHubContent;
pub use context::{ContentAccess, WorkerContext};
pub use pipeline::apply::apply_change_set;
pub use pipeline::gap::{wake_due, wake_envelope, wake_every, wake_interval};
pub use pipeline::history_import;
pub use pipeline::publish_step::{after_change_set, publish_repo, republish_pending};
pub use sink::{DirSink, DocsSink, S3Sink};
