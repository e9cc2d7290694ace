//! The repository state's byte budget, held in one place: [`AgentSet::apply`] calls
//! [`enforce`] after the agents have run, so no history, however long, can outgrow one store
//! item (DynamoDB refuses items over 400 KB).
//!
//! Two mechanisms keep it:
//! - Text from payloads is clipped where it enters (the Orchestrator's classification), with
//!   [`crate::text::clip`] and the limits there, so no single entry is large.
//! - While the agents' parts are over [`AGENTS_BUDGET_BYTES`], the agent holding the largest
//!   part is asked to [`Agent::compact`] one step: move its oldest history into a write-once
//!   page (written before the state that forgets it, like any page) or forget the oldest half
//!   of a bounded list (remembered commit ids, recent changes, the named path inventory). An
//!   agent that has nothing left to give is skipped; if none has, the change set fails as
//!   `invalid` with the sizes, which the limits make unreachable in practice.
//!
//! Compaction is a pure function of the state, so replaying the same change sets gives the
//! same state and byte-identical docs; what it forgets is old (commits already long applied).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::text::json_len;

pub use coderipple_core::store::STATE_BUDGET_BYTES;

/// What the agents' parts may take together: the state's budget less what the doc hashes
/// may take beside them ([`crate::doc_hashes::HASHES_BUDGET_BYTES`]).
pub const AGENTS_BUDGET_BYTES: usize = STATE_BUDGET_BYTES - crate::doc_hashes::HASHES_BUDGET_BYTES;

use super::{Agent, AgentSet, AppliedPlan};
use crate::error::EngineError;

/// The serialized size of an object whose entries are `(key, serialized value size)`.
fn object_len<'a>(entries: impl ExactSizeIterator<Item = (&'a str, usize)>) -> usize {
    let n = entries.len();
    // `{` `}`, and per entry `"key":value` plus a comma between entries.
    2 + entries.map(|(k, v)| k.len() + 3 + v).sum::<usize>() + n.saturating_sub(1)
}

/// The serialized size of the whole state (an object of agent parts).
#[cfg(test)]
fn state_len(state: &Map<String, Value>) -> usize {
    object_len(state.iter().map(|(k, v)| (k.as_str(), json_len(v))))
}

/// Compacts `state` until it fits `budget`, recording write-once files and which agents
/// changed in `applied`. Each part is measured once, and again only after it compacted.
pub(super) fn enforce(
    agents: &AgentSet,
    state: &mut Map<String, Value>,
    budget: usize,
    applied: &mut AppliedPlan,
) -> Result<(), EngineError> {
    let mut measured: Vec<(String, usize)> = state
        .iter()
        .map(|(k, v)| (k.clone(), json_len(v)))
        .collect();
    let mut exhausted: BTreeSet<&'static str> = BTreeSet::new();
    loop {
        let total = object_len(measured.iter().map(|(k, n)| (k.as_str(), *n)));
        if total <= budget {
            return Ok(());
        }
        let largest = agents
            .agents
            .iter()
            .filter(|a| !exhausted.contains(a.name()))
            .filter_map(|a| {
                let i = measured.iter().position(|(k, _)| k == a.name())?;
                Some((a, i, measured[i].1))
            })
            .max_by_key(|(_, _, n)| *n);
        let Some((agent, at, _)) = largest else {
            return Err(EngineError::invalid(format!(
                "repository state is {total} bytes, over its budget of {budget}, \
                 and no agent can compact it further"
            )));
        };
        let agent: &dyn Agent = agent.as_ref();
        let slot = state.get_mut(agent.name()).expect("measured above");
        match agent.compact(slot)? {
            Some(files) => {
                measured[at].1 = json_len(slot);
                applied.write_once.extend(files);
                applied.compacted.insert(agent.name());
            }
            None => {
                exhausted.insert(agent.name());
            }
        }
    }
}

/// Drops the oldest half of `list` when it holds more than `floor` items; whether it did.
pub fn halve<T>(list: &mut Vec<T>, floor: usize) -> bool {
    if list.len() <= floor {
        return false;
    }
    let keep = list.len() / 2;
    super::journal::keep_last(list, keep);
    true
}

/// Drops the last half (in order) of `set` when it holds more than `floor` items.
pub fn halve_set<T: Ord>(set: &mut BTreeSet<T>, floor: usize) -> bool {
    if set.len() <= floor {
        return false;
    }
    let keep = set.len() / 2;
    let mut taken = std::mem::take(set);
    *set = std::iter::from_fn(|| taken.pop_first())
        .take(keep)
        .collect();
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_len_is_the_serialized_length() {
        let v = serde_json::json!({"a": [1, "two \"quoted\" ü", null], "b": {"c": true}});
        assert_eq!(json_len(&v), serde_json::to_vec(&v).unwrap().len());
        let mut m = Map::new();
        m.insert("x".into(), v.clone());
        m.insert("yy".into(), serde_json::json!([]));
        assert_eq!(
            state_len(&m),
            serde_json::to_vec(&Value::Object(m.clone())).unwrap().len()
        );
        assert_eq!(state_len(&Map::new()), 2);
    }

    #[test]
    fn halving_keeps_the_newest_and_respects_the_floor() {
        let mut v: Vec<u32> = (0..10).collect();
        assert!(halve(&mut v, 4));
        assert_eq!(v, vec![5, 6, 7, 8, 9]);
        assert!(!halve(&mut v, 5));
        let mut s: BTreeSet<u32> = (0..10).collect();
        assert!(halve_set(&mut s, 2));
        assert_eq!(s.into_iter().collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
    }
}
