//! [`ProcessingSummary`]: what a worker records in a completed delivery's record (and
//! `coderipple status --delivery` shows): the change set, the Orchestrator's decisions, what
//! each agent applied, the docs written. Serialized once, by these types.

use serde::{Deserialize, Serialize};

/// One change set's outcome, stored with every delivery it applied.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessingSummary {
    /// `owner/repo`.
    pub repo: String,
    /// Deliveries applied together in this change set.
    pub coalesced: usize,
    /// Commits in the change set.
    pub commits: usize,
    /// How each commit was classified.
    #[serde(default)]
    pub classification: Vec<CommitClass>,
    /// The Orchestrator's decisions: which agents ran, why, and what they applied.
    #[serde(default)]
    pub agents: Vec<AgentDecision>,
    /// What the agents noticed (the first 20).
    #[serde(default)]
    pub findings: Vec<String>,
    /// Agents whose state was compacted to keep the byte budget.
    #[serde(default)]
    pub compacted: Vec<String>,
    /// Notes of the plan (pushes to other branches, deletions…).
    #[serde(default)]
    pub notes: Vec<String>,
    /// File contents read for the agents, when a content source is configured.
    #[serde(default)]
    pub content: Option<ContentStats>,
    /// The agent pack's version.
    #[serde(default)]
    pub pack: String,
    /// Docs files written.
    #[serde(default)]
    pub docs: Vec<String>,
    /// When it was applied (RFC 3339, ms).
    #[serde(default)]
    pub applied_at: String,
    /// When ingest received the change set's earliest event (RFC 3339, ms): with
    /// `applied_at`, its end-to-end latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<String>,
    /// Deliveries of the unit that an earlier attempt had already completed.
    #[serde(default)]
    pub skipped_completed: Vec<String>,
    /// What publishing the docs into the repository did (none with the `store` strategy).
    #[serde(default)]
    pub publish: Option<PublishOutcome>,
    /// Deliveries of this change set that wait for their branch's history to close (their
    /// `before` is not the last applied head): stored with the repository, applied later.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting: Vec<String>,
    /// Deliveries that had waited and were applied in this change set, in history order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub released: Vec<String>,
    /// What the optional LLM writer did for this change set's docs (none when it is off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<WriterStats>,
}

/// What the LLM writer did for one change set's docs: the marked prose sections it filled,
/// from where, and what the model calls cost. A section it could not fill keeps the
/// deterministic text, and a note says why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WriterStats {
    /// The model (`openai:<name>` or `bedrock:<model id>`).
    pub model: String,
    /// Marked sections in the docs rendered.
    pub sections: usize,
    /// Sections filled from the cache (no model call).
    pub cached: usize,
    /// Sections filled by a model call now.
    pub written: usize,
    /// Sections left with their deterministic text.
    pub deterministic: usize,
    /// Model calls made (failed ones included).
    pub calls: usize,
    /// Prompt tokens the model reported.
    pub input_tokens: u64,
    /// Answer tokens the model reported.
    pub output_tokens: u64,
    /// Time spent waiting for the model (ms).
    #[serde(default)]
    pub model_ms: u64,
    /// What the calls cost in US dollars, when the model's price is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_cost_usd: Option<f64>,
    /// Why sections kept their deterministic text (timeouts, refusals, the budget, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl WriterStats {
    /// Sections served from the cache among those that needed the model (cache or call);
    /// `None` before any.
    pub fn hit_rate(&self) -> Option<f64> {
        let asked = self.cached + self.calls;
        (asked > 0).then(|| self.cached as f64 / asked as f64)
    }

    /// Adds `other` (another change set's figures) to these.
    pub fn absorb(&mut self, other: &WriterStats) {
        if self.model.is_empty() {
            self.model.clone_from(&other.model);
        }
        self.sections += other.sections;
        self.cached += other.cached;
        self.written += other.written;
        self.deterministic += other.deterministic;
        self.calls += other.calls;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.model_ms += other.model_ms;
        self.estimated_cost_usd = match (self.estimated_cost_usd, other.estimated_cost_usd) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
        };
        for note in &other.notes {
            if self.notes.len() < 20 && !self.notes.contains(note) {
                self.notes.push(note.clone());
            }
        }
    }
}

/// What one publish of a repository's docs did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishOutcome {
    /// The strategy (`git`).
    pub strategy: String,
    /// Where the docs went (remote and branch; never credentials).
    pub target: String,
    /// `published` (a new commit), `unchanged` (nothing to commit) or `pending`.
    pub status: PublishStatus,
    /// The new commit, when one was made.
    #[serde(default)]
    pub commit: Option<String>,
    /// Why it is pending.
    #[serde(default)]
    pub reason: Option<String>,
}

/// [`PublishOutcome::status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublishStatus {
    /// A commit with the changed docs was pushed.
    Published,
    /// The repository already held these docs: no commit.
    Unchanged,
    /// The publish failed; it is retried later (see [`super::PendingPublish`]).
    Pending,
}

/// One commit's classification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitClass {
    /// Short sha.
    pub commit: String,
    /// Conventional type (`feat`, `fix`, …), a heuristic one, `merge`, or `other`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A breaking change.
    pub breaking: bool,
    /// The message follows Conventional Commits.
    pub conventional: bool,
    /// The message states a decision.
    pub decision: bool,
    /// Path categories touched.
    pub categories: Vec<String>,
}

/// One agent's run in a change set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentDecision {
    /// The agent.
    pub agent: String,
    /// Why the Orchestrator ran it.
    pub reason: String,
    /// Entries it applied.
    pub applied: usize,
    /// Entries it found already applied (a redelivery).
    pub already_applied: usize,
}

/// File contents read for a change set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentStats {
    /// Files analysed now.
    pub analysed: usize,
    /// Analyses found in the cache.
    pub cached: usize,
    /// Files the source did not have.
    pub missing: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DeliveryStatus;

    #[test]
    fn a_summary_round_trips_and_old_records_still_read() {
        let summary = ProcessingSummary {
            repo: "o/r".into(),
            coalesced: 2,
            commits: 3,
            agents: vec![AgentDecision {
                agent: "historian".into(),
                reason: "3 commits".into(),
                applied: 3,
                already_applied: 0,
            }],
            content: Some(ContentStats {
                analysed: 1,
                cached: 2,
                missing: 0,
            }),
            ..ProcessingSummary::default()
        };
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["agents"][0]["agent"], "historian");
        assert_eq!(
            serde_json::from_value::<ProcessingSummary>(json).unwrap(),
            summary
        );
        // A record written before a field existed still reads.
        let old: ProcessingSummary = serde_json::from_value(
            serde_json::json!({"repo": "o/r", "coalesced": 1, "commits": 0}),
        )
        .unwrap();
        assert!(old.agents.is_empty() && old.content.is_none());
    }

    #[test]
    fn delivery_status_names_are_one_list_for_serde_and_storage() {
        for status in DeliveryStatus::ALL {
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json, status.as_str());
            assert_eq!(
                serde_json::from_value::<DeliveryStatus>(json).unwrap(),
                status
            );
            assert_eq!(DeliveryStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(DeliveryStatus::InProgress.as_str(), "in_progress");
        assert!(serde_json::from_value::<DeliveryStatus>("done".into()).is_err());
        assert_eq!(DeliveryStatus::parse("done"), None);
    }
}
