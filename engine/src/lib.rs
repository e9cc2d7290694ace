//! # coderipple-engine
//!
//! The documentation engine, pure: a change set and a repository's state in; the plan, the
//! new state and the rendered docs out. It does no I/O at all (no async runtime, no network,
//! no disk, no clock but the timestamps it is given), so the same events give byte-identical
//! docs and every rule here is tested without a runtime. The worker does the I/O around it,
//! the way a protocol's frame parser sits under its connection.
//!
//! The public modules, from the bottom up:
//! - [`text`]: clipping payload text and measuring serialized size (every budget uses it).
//! - [`markdown`]: escaping payload text for the docs (the templates' `md_*` filters).
//! - [`pack`]: the agent pack (TOML rules, minijinja templates), built in, or with files the
//!   worker read from a directory ([`AgentPack::with_files`]).
//! - [`DocFile`]: a rendered file, with the check that its path stays under the docs root.
//! - [`chain`]: history order: pushes applied by their `before`/`after` chain whatever their
//!   arrival order, gaps and tags that wait.
//! - [`plan`]: a change set's plan (plain data); `classify`: changes become plan items
//!   (Conventional Commits, the pack's heuristics, path categories, clipping).
//! - [`facts`]: what is kept of a file's contents (README, manifests).
//! - [`languages`]: languages as GitHub's bar counts them (linguist's data, `.gitattributes`).
//! - [`agents`]: the agent interface, the Orchestrator, the Building Inspector, the Tourist
//!   Guide and the Historian; [`AgentSet::apply`] runs them and keeps the state's budget.
//! - [`doc_hashes`]: which docs changed, remembered in the state.
//! - [`overrides`]: maintainers' edits of changelog entries (a pull request's override block,
//!   `.coderipple/overrides.toml`), applied at render.
//! - [`project_rules`]: a repository's own changelog rules (git-cliff, release-please, GitHub).
//! - [`prose`]: the sections an LLM may write, and the cleaning of its answers.
//! - [`grounding`]: what the repository has, which an LLM's answer may name and nothing else.
//!
//! [`EngineError`] is the one error type: always permanent (the same input fails the same
//! way), mapped by the worker to a dead-letter with its class.

pub mod agents;
pub mod chain;
mod classify;
mod doc;
pub mod doc_hashes;
mod error;
pub mod facts;
pub mod grounding;
pub mod languages;
pub mod markdown;
pub mod overrides;
pub mod pack;
pub mod plan;
pub mod project_rules;
pub mod prose;
pub mod text;

pub use agents::historian::{applied_commits, applied_in};
pub use agents::{AgentSet, ChangeSet, Plan};
pub use doc::DocFile;
pub use error::EngineError;
pub use pack::AgentPack;
