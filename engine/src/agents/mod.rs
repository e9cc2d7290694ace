//! The agent interface and the agents.
//!
//! An agent folds a planned change (already classified by the [`orchestrator`]) into its own
//! part of the repository state, then renders its docs from that state alone, through the
//! [`AgentPack`](crate::pack::AgentPack)'s templates. Applying an event twice changes
//! nothing (entries carry the commit id), and rendering is a pure function of state, so a
//! retry after any crash converges and the same events give byte-identical docs.
//!
//! Agents run in plan order: the [`inspector`] first (its [`Finding`]s — new or removed
//! components, manifests, renames — feed the others), then the [`tourist`] guide, then the
//! [`historian`].
//!
//! State stays bounded (it is one record: 400 KB on DynamoDB): an agent that keeps history
//! moves its oldest part out into *write-once* files that `apply` returns. Those are written
//! before the state that forgets them, so nothing is lost between the two writes.

pub(crate) mod budget;
pub(crate) mod historian;
pub(crate) mod inspector;
pub(crate) mod journal;
pub(crate) mod orchestrator;
#[cfg(test)]
pub(crate) mod testkit;
pub(crate) mod tourist;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::doc::DocFile;
use crate::error::EngineError;
use crate::pack::AgentPack;

pub use crate::plan::{ChangeSet, ClassifiedCommit, Plan, PlanItem, ReleaseMark};
pub use orchestrator::Orchestrator;

/// Something structural one agent noticed, for the agents after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The commit it came with.
    pub sha: String,
    /// What happened.
    pub what: FindingKind,
}

/// Kinds of [`Finding`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FindingKind {
    /// A top-level component appeared.
    ComponentAdded {
        /// Its name (top-level directory).
        name: String,
    },
    /// A top-level component's last file went.
    ComponentRemoved {
        /// Its name.
        name: String,
    },
    /// A manifest or tool file was added.
    ToolAdded {
        /// Tool name.
        tool: String,
        /// The file.
        path: String,
    },
    /// A manifest or tool file was removed.
    ToolRemoved {
        /// Tool name.
        tool: String,
        /// The file.
        path: String,
    },
    /// An infrastructure, CI or container file changed.
    InfraChanged {
        /// Tool name.
        tool: String,
        /// The file.
        path: String,
    },
    /// A file moved (same name removed and added in one commit).
    Renamed {
        /// Old path.
        from: String,
        /// New path.
        to: String,
    },
    /// A manifest gained a runtime dependency.
    DependencyAdded {
        /// The manifest.
        manifest: String,
        /// The dependency.
        name: String,
    },
    /// A manifest lost a runtime dependency.
    DependencyRemoved {
        /// The manifest.
        manifest: String,
        /// The dependency.
        name: String,
    },
    /// A dependency's requirement moved to a new major version.
    DependencyMajor {
        /// The manifest.
        manifest: String,
        /// The dependency.
        name: String,
        /// The requirement before.
        from: String,
        /// The requirement now.
        to: String,
    },
    /// A breaking change that touches library packages only (no executable of the repository
    /// changed): it affects the code that uses those libraries.
    LibraryBreak {
        /// The packages' names.
        packages: Vec<String>,
    },
    /// A toolchain requirement changed (`rust-version`, `edition`, `python`, `go`, `node`).
    ToolchainChanged {
        /// The manifest.
        manifest: String,
        /// Which requirement.
        what: String,
        /// Before (none: newly set).
        from: Option<String>,
        /// Now (none: dropped).
        to: Option<String>,
    },
}

impl FindingKind {
    /// One line for the docs, with paths as code spans their text cannot break out of
    /// ([`code_span`](crate::markdown::code_span)). Templates show it through `md_inline`,
    /// which keeps those spans and escapes the rest.
    pub fn describe(&self) -> String {
        use crate::markdown::code_span as code;
        match self {
            Self::ComponentAdded { name } => format!("new component {}", code(&format!("{name}/"))),
            Self::ComponentRemoved { name } => {
                format!("component {} removed", code(&format!("{name}/")))
            }
            Self::ToolAdded { tool, path } => format!("{tool} added ({})", code(path)),
            Self::ToolRemoved { tool, path } => format!("{tool} removed ({})", code(path)),
            Self::InfraChanged { tool, path } => format!("{tool} changed ({})", code(path)),
            Self::Renamed { from, to } => format!("{} moved to {}", code(from), code(to)),
            Self::DependencyAdded { manifest, name } => {
                format!("dependency {} added ({})", code(name), code(manifest))
            }
            Self::DependencyRemoved { manifest, name } => {
                format!("dependency {} removed ({})", code(name), code(manifest))
            }
            Self::DependencyMajor {
                manifest,
                name,
                from,
                to,
            } => format!(
                "dependency {} from {} to {} ({})",
                code(name),
                code(from),
                code(to),
                code(manifest)
            ),
            Self::LibraryBreak { packages } => format!(
                "a break in the library {} only",
                packages
                    .iter()
                    .map(|p| code(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::ToolchainChanged {
                manifest,
                what,
                from,
                to,
            } => match (from, to) {
                (Some(f), Some(t)) => {
                    format!(
                        "{what} from {} to {} ({})",
                        code(f),
                        code(t),
                        code(manifest)
                    )
                }
                (None, Some(t)) => format!("{what} set to {} ({})", code(t), code(manifest)),
                (Some(f), None) => format!("{what} {} dropped ({})", code(f), code(manifest)),
                (None, None) => format!("{what} changed ({})", code(manifest)),
            },
        }
    }
}

/// What an agent gets: the plan and the findings of the agents before it.
#[derive(Debug, Clone, Copy)]
pub struct AgentInput<'a> {
    /// The orchestrator's plan.
    pub plan: &'a Plan,
    /// Findings so far.
    pub findings: &'a [Finding],
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
    /// What this run noticed, for the agents after it.
    pub findings: Vec<Finding>,
}

/// A documentation agent.
pub trait Agent: Send + Sync + std::fmt::Debug {
    /// Stable name; also its key in the repository state.
    fn name(&self) -> &'static str;

    /// Whether this agent runs for `plan`, and why (the reason the processing summary shows);
    /// `None` when the change set gives it nothing to do. Asked by the Orchestrator.
    fn wants(&self, plan: &Plan) -> Option<String>;

    /// Folds the planned change into `state` (this agent's part, `null` at first).
    fn apply(&self, input: AgentInput<'_>, state: &mut Value) -> Result<AgentRun, EngineError>;

    /// Renders this agent's docs from its state.
    fn render(&self, repo: &str, state: &Value) -> Result<Vec<DocFile>, EngineError>;

    /// Makes this agent's part of the state smaller by one step, when the whole state is over
    /// its [budget](budget::STATE_BUDGET_BYTES): moves its oldest history into write-once
    /// files (returned) or forgets the oldest half of a bounded list. `None` when nothing
    /// more can go. Deterministic: the same state compacts the same way.
    fn compact(&self, state: &mut Value) -> Result<Option<Vec<DocFile>>, EngineError> {
        let _ = state;
        Ok(None)
    }
}

/// The orchestrator, the pack and the agents, built once per worker.
#[derive(Debug)]
pub struct AgentSet {
    /// Plans and classifies.
    pub orchestrator: Orchestrator,
    /// Rules and templates.
    pub pack: Arc<AgentPack>,
    /// The agents, in the order they run.
    pub agents: Vec<Box<dyn Agent>>,
}

impl AgentSet {
    /// The built-in agents with the built-in pack.
    pub fn builtin() -> Self {
        Self::with_pack(Arc::new(AgentPack::builtin()))
    }

    /// The plan for `change`: classified by the Orchestrator, each agent asked whether it runs.
    pub fn plan(&self, change: &ChangeSet) -> Result<Plan, EngineError> {
        self.orchestrator.plan(change, &self.pack, &self.agents)
    }

    /// The built-in agents with `pack`.
    pub fn with_pack(pack: Arc<AgentPack>) -> Self {
        Self {
            orchestrator: Orchestrator,
            agents: vec![
                Box::new(inspector::BuildingInspector::new(pack.clone())),
                Box::new(tourist::TouristGuide::new(pack.clone())),
                Box::new(historian::Historian::new(pack.clone())),
            ],
            pack,
        }
    }

    /// An agent by name.
    pub fn get(&self, name: &str) -> Option<&dyn Agent> {
        self.agents
            .iter()
            .find(|a| a.name() == name)
            .map(AsRef::as_ref)
    }

    /// Applies the planned agents, in plan order, to their parts of `state`; each gets the
    /// findings of those before it.
    pub fn apply(
        &self,
        plan: &Plan,
        state: &mut serde_json::Map<String, Value>,
    ) -> Result<AppliedPlan, EngineError> {
        let mut applied = AppliedPlan::default();
        for planned in &plan.runs {
            let agent = self.get(planned.agent).ok_or_else(|| {
                EngineError::invalid(format!("planned agent {} is not installed", planned.agent))
            })?;
            let slot = state.entry(agent.name()).or_insert(Value::Null);
            let run = agent.apply(
                AgentInput {
                    plan,
                    findings: &applied.findings,
                },
                slot,
            )?;
            applied.findings.extend(run.findings);
            applied.write_once.extend(run.write_once);
            applied.runs.push(RunCount {
                agent: agent.name(),
                applied: run.applied,
                already_applied: run.already_applied,
            });
        }
        budget::enforce(self, state, budget::AGENTS_BUDGET_BYTES, &mut applied)?;
        Ok(applied)
    }

    /// Renders the docs of the agents `wanted` selects by name, from `state`.
    pub fn render(
        &self,
        repo: &str,
        state: &serde_json::Map<String, Value>,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<Vec<DocFile>, EngineError> {
        let mut files = Vec::new();
        for agent in self.agents.iter().filter(|a| wanted(a.name())) {
            let slot = state.get(agent.name()).unwrap_or(&Value::Null);
            files.extend(agent.render(repo, slot)?);
        }
        Ok(files)
    }
}

/// What [`AgentSet::apply`] did.
#[derive(Debug, Default)]
pub struct AppliedPlan {
    /// Per agent run, in order.
    pub runs: Vec<RunCount>,
    /// Everything the agents noticed.
    pub findings: Vec<Finding>,
    /// Write-once files to store before the state.
    pub write_once: Vec<DocFile>,
    /// Agents whose state was compacted to keep the budget.
    pub compacted: std::collections::BTreeSet<&'static str>,
}

/// What one agent's run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunCount {
    /// The agent.
    pub agent: &'static str,
    /// Entries it applied.
    pub applied: usize,
    /// Entries it found already applied.
    pub already_applied: usize,
}

impl AppliedPlan {
    /// Whether `agent` changed its state (applied something, or was compacted).
    pub fn changed(&self, agent: &str) -> bool {
        self.compacted.contains(agent)
            || self.runs.iter().any(|r| r.agent == agent && r.applied > 0)
    }

    /// Whether some agent found entries already applied (a redelivery).
    pub fn redelivered(&self) -> bool {
        self.runs.iter().any(|r| r.already_applied > 0)
    }
}

/// A release or tag as the docs show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseInfo {
    /// The tag (identity).
    pub tag: String,
    /// Heading: the release name and tag, or the tag.
    pub title: String,
    /// Link.
    #[serde(default)]
    pub url: String,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub date: Option<String>,
    /// Release notes (first paragraph).
    #[serde(default)]
    pub notes: String,
    /// Pre-releases folded into this release (oldest first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_releases: Vec<String>,
    /// Left out of the changelog with its changes (the pack's `skip_tags`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
    /// Changelog pages holding changes of this release archived before it was cut (only
    /// when the state's budget forced it): its section links them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_pages: Vec<u32>,
    /// Authors of the release's commits (what's new lists them), in order of appearance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contributors: Vec<String>,
    /// Those of them whose first commit it holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first_contributors: Vec<String>,
    /// Contributors beyond those named.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub more_contributors: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Records `mark` in `releases` (oldest first, at most `keep`); returns whether the tag is
/// new (a cut). A release seen after its bare tag updates the title, link and notes.
pub fn record_release(releases: &mut Vec<ReleaseInfo>, mark: &ReleaseMark, keep: usize) -> bool {
    let title = if mark.name.is_empty() || mark.name == mark.tag {
        mark.tag.clone()
    } else {
        format!("{} ({})", mark.name, mark.tag)
    };
    let notes = mark
        .notes
        .split("\n\n")
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    if let Some(known) = releases.iter_mut().find(|r| r.tag == mark.tag) {
        if known.date.is_none() {
            known.date = mark.date.clone();
        }
        if mark.is_release {
            known.title = title;
            known.url = mark.url.clone();
            known.notes = notes;
            known.date = mark.date.clone().or(known.date.take());
        }
        return false;
    }
    releases.push(ReleaseInfo {
        tag: mark.tag.clone(),
        title,
        url: mark.url.clone(),
        date: mark.date.clone(),
        notes,
        pre_releases: Vec::new(),
        skipped: mark.role == crate::pack::TagRole::Skipped,
        earlier_pages: Vec::new(),
        contributors: Vec::new(),
        first_contributors: Vec::new(),
        more_contributors: 0,
    });
    journal::keep_last(releases, keep);
    true
}

/// Reads an agent's part of the state (`null` → default).
pub fn read_state<T: for<'de> Deserialize<'de> + Default>(
    agent: &str,
    state: &Value,
) -> Result<T, EngineError> {
    if state.is_null() {
        return Ok(T::default());
    }
    T::deserialize(state)
        .map_err(|e| EngineError::invalid(format!("{agent} state unreadable: {e}")))
}

/// Writes an agent's part of the state.
pub fn write_state<T: Serialize>(agent: &str, value: &T) -> Result<Value, EngineError> {
    serde_json::to_value(value).map_err(|e| EngineError::invalid(format!("{agent} state: {e}")))
}
