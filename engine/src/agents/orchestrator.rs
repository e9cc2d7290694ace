//! The Orchestrator: turns a change set into an ordered [`Plan`] (classified by
//! [`crate::classify`]), then asks each agent whether it runs and why
//! ([`super::Agent::wants`]); it names no agent.

use super::Agent;
use crate::error::EngineError;
use crate::pack::AgentPack;
use crate::plan::{ChangeSet, Plan, PlannedRun};

#[cfg(test)]
use crate::plan::ClassifiedCommit;

/// Classifies and plans. Stateless.
#[derive(Debug, Clone, Copy, Default)]
pub struct Orchestrator;

impl Orchestrator {
    /// Plans `agents` for a change set; a commit that violates an invariant (no valid sha)
    /// makes the whole set permanently invalid.
    pub fn plan(
        &self,
        change: &ChangeSet,
        pack: &AgentPack,
        agents: &[Box<dyn Agent>],
    ) -> Result<Plan, EngineError> {
        let mut plan = crate::classify::classify_change_set(change, pack)?;
        plan.runs = agents
            .iter()
            .filter_map(|a| {
                a.wants(&plan).map(|reason| PlannedRun {
                    agent: a.name(),
                    reason,
                })
            })
            .collect();
        let recorded: Vec<u64> = plan
            .pull_requests()
            .filter(|pr| !pr.breaking && !pr.decision)
            .map(|pr| pr.number)
            .collect();
        for number in recorded {
            plan.notes.push(format!(
                "merged pull request #{number} recorded (its commits arrive with the push)"
            ));
        }
        Ok(plan)
    }
}

/// `a, b, c`.
pub(crate) fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests;
