//! The agent interface and the agents.
//!
//! An agent folds a [`ChangeSet`] (already planned and classified by the
//! [`orchestrator`]) into its own part of the repository state, then renders its docs from
//! that state alone. Applying an event twice changes nothing (entries carry the commit id),
//! and rendering is a pure function of state, so a retry after any crash converges.
//!
//! State stays bounded (it is one record: 400 KB on DynamoDB): an agent that keeps history
//! moves its oldest part out into *write-once* files that `apply` returns. Those are written
//! before the state that forgets them, so nothing is lost between the two writes.

pub mod historian;
pub mod orchestrator;

use coderipple_core::envelope::Envelope;
use serde_json::Value;

use crate::WorkerError;
use crate::sink::DocFile;

pub use orchestrator::{ClassifiedCommit, Orchestrator, Plan};

/// The events of one repository handled together, oldest first (changes resolved).
#[derive(Debug, Clone)]
pub struct ChangeSet {
    /// `owner/name`.
    pub repo: String,
    /// The envelopes, in queue order.
    pub events: Vec<Envelope>,
}

/// What one agent run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentRun {
    /// Entries newly applied.
    pub applied: usize,
    /// Entries found already applied (a redelivery).
    pub already_applied: usize,
    /// Files moved out of state by this run, never to change again; written before the
    /// new state is stored.
    pub write_once: Vec<DocFile>,
}

/// A documentation agent.
pub trait Agent: Send + Sync + std::fmt::Debug {
    /// Stable name; also its key in the repository state.
    fn name(&self) -> &'static str;

    /// Folds the planned change into `state` (this agent's part, `null` at first).
    fn apply(&self, plan: &Plan, state: &mut Value) -> Result<AgentRun, WorkerError>;

    /// Renders this agent's docs from its state.
    fn render(&self, repo: &str, state: &Value) -> Result<Vec<DocFile>, WorkerError>;
}

/// The orchestrator and the agents it may call, built once per worker.
#[derive(Debug)]
pub struct AgentSet {
    /// Plans and classifies.
    pub orchestrator: Orchestrator,
    /// The agents, in the order they run.
    pub agents: Vec<Box<dyn Agent>>,
}

impl AgentSet {
    /// The built-in agents.
    pub fn builtin() -> Self {
        Self {
            orchestrator: Orchestrator,
            agents: vec![Box::new(historian::Historian::new())],
        }
    }

    /// An agent by name.
    pub fn get(&self, name: &str) -> Option<&dyn Agent> {
        self.agents
            .iter()
            .find(|a| a.name() == name)
            .map(AsRef::as_ref)
    }
}
