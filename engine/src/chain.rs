//! History order: a repository's events are applied in the order of its branch's history,
//! whatever order they arrive in.
//!
//! Every push names the commit it starts from (`before`) and the one it ends at (`after`).
//! The repository's state records, per branch, the last applied head ([`ChainState`], kept
//! beside the agents' parts under [`CHAIN_KEY`] and stored with them by one compare-and-set):
//! - `before` is the head: the push is applied and its `after` becomes the head;
//! - `created`, `forced` or a zero `before`: the branch's history starts again there (a
//!   force-push also leaves a note in the changelog);
//! - every commit already applied: applied (the agents find nothing new), head unchanged;
//! - anything else is a *gap*: the push waits, stored with the state (acknowledged, not
//!   applied, not blocking the queue), and is applied the moment the pushes between arrive.
//!
//! Releases and tags name a commit (a tag push its `after`, a release its target sha): while
//! pushes wait, one whose commit is not applied yet waits and is applied right after the push
//! that brings that commit; one that names no commit waits until no push waits. A gap still
//! open after `CODERIPPLE_GAP_WAIT_SECS` is [`Stuck`]: the caller fills it (see `gap`) and
//! the waiting events follow in history order.

use std::collections::{BTreeMap, HashSet};

use coderipple_core::envelope::{
    Change, ENVELOPE_VERSION, Envelope, HistoryChange, HistoryNote, PushChange,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::EngineError;

#[cfg(test)]
mod tests;

/// The key of the chain's part of a repository's state.
pub const CHAIN_KEY: &str = "chain";

/// Most bytes of waiting events kept with the state (the whole state must fit one store
/// item): past it, the oldest gap is treated as timed out at once.
pub const WAITING_BUDGET_BYTES: usize = 64 * 1024;

/// The history position of each branch, and the events waiting for theirs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChainState {
    /// Branch → last applied head.
    #[serde(default)]
    pub heads: BTreeMap<String, String>,
    /// Events waiting for their history, in arrival order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting: Vec<Waiting>,
    /// Gaps recorded without their commits, newest last (at most [`GAPS_KEPT`]): a push that
    /// arrives after its gap was closed is recognised and applied without moving the head.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<ClosedGap>,
    /// The open gap already asked GitHub to redeliver what it missed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recovery_asked: bool,
    /// Times GitHub could not be asked to fill the open gap (unavailable, out of time): after
    /// [`FILL_TRIES`] the gap is recorded instead of waiting once more.
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    pub fill_tries: u8,
}

/// Times an open gap waits once more because GitHub could not be asked to fill it.
pub const FILL_TRIES: u8 = 3;

fn is_zero_u8(n: &u8) -> bool {
    *n == 0
}

/// Gaps remembered after they were closed.
pub const GAPS_KEPT: usize = 16;

/// A gap closed without its commits: `from` (moved on as late pushes arrive) up to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedGap {
    /// The branch.
    pub branch: String,
    /// The last commit applied before the gap, or the last late one.
    pub from: String,
    /// The last commit of the gap.
    pub to: String,
}

/// An event waiting for the pushes before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waiting {
    /// When it started waiting (Unix ms).
    pub since_ms: i64,
    /// The event, its change resolved.
    pub envelope: Envelope,
}

/// A gap that waited long enough: the commits after `from` (the branch's head; `None`: none
/// applied yet) up to `to` (the `before` of the oldest waiting push) never arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stuck {
    /// The branch.
    pub branch: String,
    /// The last applied head, when there is one.
    pub from: Option<String>,
    /// The last missing commit.
    pub to: String,
    /// The repository's web URL.
    pub repo_url: String,
    /// The waiting events outgrew [`WAITING_BUDGET_BYTES`] (rather than waited too long).
    pub over_budget: bool,
}

/// What [`ChainState::order`] decided.
#[derive(Debug, Default)]
pub struct Ordered {
    /// Events to apply now, in history order.
    pub apply: Vec<Envelope>,
    /// Incoming deliveries that wait.
    pub waiting: Vec<String>,
    /// Deliveries that had waited and are applied now.
    pub released: Vec<String>,
}

impl Ordered {
    /// Appends `more` (a later round of ordering).
    pub fn extend(&mut self, more: Ordered) {
        self.apply.extend(more.apply);
        self.waiting.extend(more.waiting);
        self.released.extend(more.released);
    }
}

/// How an event takes part in the order.
enum Role<'a> {
    /// A push that moves a branch the docs follow.
    Link(&'a str, &'a PushChange),
    /// A release or tag, and the commit it names.
    Mark(Option<&'a str>),
    /// Anything else: applied where it arrives.
    Free,
}

fn role(env: &Envelope) -> Role<'_> {
    match &env.change {
        Some(Change::Push(p)) if !p.deleted => {
            if p.tag().is_some() {
                return Role::Mark((!is_zero(p.head())).then_some(p.head()));
            }
            match p.branch() {
                Some(b) if p.default_branch.as_deref().is_none_or(|d| d == b) => Role::Link(b, p),
                _ => Role::Free,
            }
        }
        Some(Change::Release(r)) => Role::Mark(r.target.as_deref()),
        Some(Change::Tag(_)) => Role::Mark(None),
        _ => Role::Free,
    }
}

/// An all-zero or empty commit id: no commit (a branch's creation).
pub fn is_zero(sha: &str) -> bool {
    sha.bytes().all(|b| b == b'0')
}

enum Fit {
    /// Its history starts anew here; `true` for a force-push.
    Restart(bool),
    /// It follows the head.
    Next,
    /// Everything in it is applied already.
    Applied,
    /// It belongs to a gap closed without it: applied late, the head stays.
    Late(usize),
    /// Its `before` is not known: a gap.
    Unknown,
}

impl ChainState {
    /// Takes the chain's part out of a repository's state.
    pub fn take(slots: &mut Map<String, Value>) -> Result<Self, EngineError> {
        match slots.remove(CHAIN_KEY) {
            None | Some(Value::Null) => Ok(Self::default()),
            Some(v) => serde_json::from_value(v)
                .map_err(|e| EngineError::invalid(format!("history chain in state: {e}"))),
        }
    }

    /// Puts it back (nothing when it holds nothing).
    pub fn put(&self, slots: &mut Map<String, Value>) -> Result<(), EngineError> {
        if *self != Self::default() {
            let v = serde_json::to_value(self)
                .map_err(|e| EngineError::invalid(format!("history chain: {e}")))?;
            slots.insert(CHAIN_KEY.to_owned(), v);
        }
        Ok(())
    }

    /// Orders `incoming` (arrival order) together with the events waiting already: what can
    /// be applied now, in history order; the rest waits. `applied` says whether a commit is
    /// applied already (the Historian's memory of commit ids).
    pub fn order(
        &mut self,
        incoming: Vec<Envelope>,
        applied: &dyn Fn(&str) -> bool,
        now_ms: i64,
    ) -> Ordered {
        let mut run = Run {
            pool: std::mem::take(&mut self.waiting),
            placed: HashSet::new(),
            out: Vec::new(),
            released: Vec::new(),
        };
        let earlier: HashSet<String> = run
            .pool
            .iter()
            .map(|w| w.envelope.delivery.clone())
            .collect();
        run.drain(self, applied);
        for env in incoming {
            match role(&env) {
                Role::Free => run.out.push(env),
                Role::Mark(target) => {
                    // A mark that names a commit waits for it (a tag pushed with its commits
                    // may arrive first); one that names none waits only behind pushes.
                    let ready = match target {
                        Some(t) => run.known(self, applied, t),
                        None => !run.links_waiting(),
                    };
                    if ready {
                        run.out.push(env);
                    } else {
                        run.pool.push(Waiting {
                            since_ms: now_ms,
                            envelope: env,
                        });
                    }
                }
                Role::Link(..) => {
                    run.pool.push(Waiting {
                        since_ms: now_ms,
                        envelope: env,
                    });
                    run.drain(self, applied);
                }
            }
        }
        let waiting = run
            .pool
            .iter()
            .map(|w| w.envelope.delivery.clone())
            .filter(|d| !earlier.contains(d))
            .collect();
        let released = run
            .released
            .into_iter()
            .filter(|d| earlier.contains(d))
            .collect();
        self.waiting = run.pool;
        if self.waiting.is_empty() {
            self.recovery_asked = false;
            self.fill_tries = 0;
        }
        Ordered {
            apply: run.out,
            waiting,
            released,
        }
    }

    /// The gap to fill now, if one waited `wait` by `now_ms` (or the waiting events
    /// outgrew [`WAITING_BUDGET_BYTES`]).
    pub fn stuck(&self, now_ms: i64, wait: std::time::Duration) -> Option<Stuck> {
        let links: Vec<(&Waiting, &str, &PushChange)> = self
            .waiting
            .iter()
            .filter_map(|w| match role(&w.envelope) {
                Role::Link(b, p) => Some((w, b, p)),
                _ => None,
            })
            .collect();
        let oldest = links.iter().map(|(w, ..)| w.since_ms).min()?;
        let over_budget = crate::text::json_len(&self.waiting) > WAITING_BUDGET_BYTES;
        if !over_budget && now_ms < oldest.saturating_add(wait.as_millis() as i64) {
            return None;
        }
        // The oldest-arrived push that no other waiting push leads to starts the gap.
        let (_, branch, root) = links
            .iter()
            .filter(|(_, b, p)| {
                !links
                    .iter()
                    .any(|(_, b2, q)| b2 == b && q.after == p.before)
            })
            .min_by_key(|(w, ..)| w.since_ms)?;
        Some(Stuck {
            branch: (*branch).to_owned(),
            from: self.heads.get(*branch).cloned(),
            to: root.before.clone(),
            repo_url: root.repo_url.clone(),
            over_budget,
        })
    }

    /// When the oldest waiting event's wait ends (`None`: nothing waits).
    pub fn due_ms(&self, wait: std::time::Duration) -> Option<i64> {
        self.waiting
            .iter()
            .map(|w| w.since_ms)
            .min()
            .map(|since| since.saturating_add(wait.as_millis() as i64))
    }

    /// Gives the open gap another full wait, after asking GitHub to redeliver what it missed.
    pub fn postpone(&mut self, now_ms: i64) {
        self.wait_again(now_ms);
        self.recovery_asked = true;
    }

    /// Gives the open gap another full wait because GitHub could not be asked to fill it;
    /// `false` (nothing changed) once it has had [`FILL_TRIES`] such waits.
    pub fn retry_fill_later(&mut self, now_ms: i64) -> bool {
        if self.fill_tries >= FILL_TRIES {
            return false;
        }
        self.fill_tries += 1;
        self.wait_again(now_ms);
        true
    }

    fn wait_again(&mut self, now_ms: i64) {
        for w in &mut self.waiting {
            w.since_ms = now_ms;
        }
    }

    /// The gap's waiting push is older than the head (GitHub's compare says its `before` is
    /// behind it: a replay of history applied since): it and the pushes after it, up to the
    /// head, are applied late, without moving the head.
    pub fn accept_late(&mut self, stuck: &Stuck) {
        if let Some(head) = &stuck.from {
            self.gaps.push(ClosedGap {
                branch: stuck.branch.clone(),
                from: stuck.to.clone(),
                to: head.clone(),
            });
            if self.gaps.len() > GAPS_KEPT {
                self.gaps.remove(0);
            }
        }
    }

    /// Declares the history of `stuck.branch` known up to `stuck.to` (the gap was filled or
    /// recorded), so the pushes waiting on it can follow.
    pub fn bridge(&mut self, stuck: &Stuck) {
        // A history never received from its start is remembered too (from nothing), so a
        // late push that starts it is recognised as late, not as a restart.
        self.gaps.push(ClosedGap {
            branch: stuck.branch.clone(),
            from: stuck.from.clone().unwrap_or_default(),
            to: stuck.to.clone(),
        });
        if self.gaps.len() > GAPS_KEPT {
            self.gaps.remove(0);
        }
        self.heads.insert(stuck.branch.clone(), stuck.to.clone());
    }

    /// Releases the marks (tags, releases) that waited `wait` by `now_ms` for a commit no
    /// push brought, in arrival order: placed where they are, as without the wait.
    pub fn release_overdue_marks(&mut self, now_ms: i64, wait: std::time::Duration) -> Ordered {
        let over_budget = crate::text::json_len(&self.waiting) > WAITING_BUDGET_BYTES;
        let due = |w: &Waiting| {
            over_budget || now_ms >= w.since_ms.saturating_add(wait.as_millis() as i64)
        };
        let mut released = Ordered::default();
        let mut keep = Vec::with_capacity(self.waiting.len());
        for w in std::mem::take(&mut self.waiting) {
            if matches!(role(&w.envelope), Role::Mark(Some(_))) && due(&w) {
                released.released.push(w.envelope.delivery.clone());
                released.apply.push(w.envelope);
            } else {
                keep.push(w);
            }
        }
        self.waiting = keep;
        if self.waiting.is_empty() {
            self.recovery_asked = false;
            self.fill_tries = 0;
        }
        released
    }
}

/// One ordering pass.
struct Run {
    pool: Vec<Waiting>,
    /// Commits placed in this pass.
    placed: HashSet<String>,
    out: Vec<Envelope>,
    released: Vec<String>,
}

impl Run {
    fn links_waiting(&self) -> bool {
        self.pool
            .iter()
            .any(|w| matches!(role(&w.envelope), Role::Link(..)))
    }

    fn known(&self, chain: &ChainState, applied: &dyn Fn(&str) -> bool, sha: &str) -> bool {
        self.placed.contains(sha) || applied(sha) || chain.heads.values().any(|h| h == sha)
    }

    fn fit(
        &self,
        chain: &ChainState,
        applied: &dyn Fn(&str) -> bool,
        b: &str,
        p: &PushChange,
    ) -> Fit {
        let head = chain.heads.get(b).map(String::as_str);
        let all_applied =
            !p.commits.is_empty() && p.commits.iter().all(|c| self.known(chain, applied, &c.id));
        if head == Some(p.after.as_str()) || all_applied {
            Fit::Applied
        } else if p.forced || p.created || is_zero(&p.before) {
            // A restart whose end is known already (applied, or a gap's end) is a late
            // delivery of history applied since, not a restart: the head stays.
            if self.known(chain, applied, &p.after) {
                Fit::Applied
            } else if let Some(i) = chain
                .gaps
                .iter()
                .rposition(|g| g.branch == b && g.to == p.after)
            {
                Fit::Late(i)
            } else {
                Fit::Restart(p.forced)
            }
        } else if head == Some(p.before.as_str()) {
            Fit::Next
        } else if let Some(i) = chain
            .gaps
            .iter()
            .rposition(|g| g.branch == b && (g.from == p.before || g.to == p.after))
        {
            Fit::Late(i)
        } else {
            Fit::Unknown
        }
    }

    /// Applies every waiting push that fits, and the marks that named its commits, until
    /// none fits; with no push left waiting, the remaining marks follow in arrival order.
    fn drain(&mut self, chain: &mut ChainState, applied: &dyn Fn(&str) -> bool) {
        loop {
            let found = self
                .pool
                .iter()
                .enumerate()
                .find_map(|(i, w)| match role(&w.envelope) {
                    Role::Link(b, p) => match self.fit(chain, applied, b, p) {
                        Fit::Unknown => None,
                        fit => Some((i, fit)),
                    },
                    _ => None,
                });
            let Some((i, fit)) = found else { break };
            let w = self.pool.remove(i);
            let Role::Link(branch, push) = role(&w.envelope) else {
                unreachable!("found as a link")
            };
            let branch = branch.to_owned();
            if let Fit::Restart(true) = fit {
                self.out
                    .push(history(&w.envelope, HistoryNote::ForcePush, &branch, push));
            }
            match fit {
                Fit::Applied => {}
                Fit::Late(i) => {
                    if chain.gaps[i].to == push.after {
                        chain.gaps.remove(i);
                    } else {
                        chain.gaps[i].from = push.after.clone();
                    }
                }
                _ => {
                    chain.heads.insert(branch, push.after.clone());
                }
            }
            self.placed.insert(push.after.clone());
            self.placed
                .extend(push.commits.iter().map(|c| c.id.clone()));
            self.released.push(w.envelope.delivery.clone());
            self.out.push(w.envelope);
            self.release_marks(|run, target| target.is_some_and(|t| run.placed.contains(t)));
        }
        // A mark naming a commit follows once that commit is known (placed here, applied
        // before, a head); one naming none once no push waits.
        let links = self.links_waiting();
        self.release_marks(|run, target| match target {
            Some(t) => run.known(chain, applied, t),
            None => !links,
        });
    }

    fn release_marks(&mut self, due: impl Fn(&Run, Option<&str>) -> bool) {
        let mut keep = Vec::with_capacity(self.pool.len());
        for w in std::mem::take(&mut self.pool) {
            let ready = match role(&w.envelope) {
                Role::Mark(target) => due(self, target),
                _ => false,
            };
            if ready {
                self.released.push(w.envelope.delivery.clone());
                self.out.push(w.envelope);
            } else {
                keep.push(w);
            }
        }
        self.pool = keep;
    }
}

/// A history mark of `branch` for the push `push` came with.
fn history(env: &Envelope, note: HistoryNote, branch: &str, push: &PushChange) -> Envelope {
    history_envelope(
        &env.repo,
        env.received_at,
        HistoryChange {
            note,
            branch: branch.to_owned(),
            from: push.before.clone(),
            to: push.after.clone(),
            repo_url: push.repo_url.clone(),
        },
    )
}

/// An envelope carrying a history mark (never queued: made while ordering).
pub fn history_envelope(
    repo: &str,
    at: chrono::DateTime<chrono::Utc>,
    change: HistoryChange,
) -> Envelope {
    let short: String = change.to.chars().take(12).collect();
    let kind = match change.note {
        HistoryNote::Gap => "gap",
        HistoryNote::ForcePush => "force-push",
    };
    Envelope {
        v: ENVELOPE_VERSION,
        delivery: format!("coderipple-{kind}-{short}"),
        event: "coderipple_history".into(),
        repo: repo.to_owned(),
        received_at: at,
        change: Some(Change::History(change)),
        change_ref: None,
        installation: None,
    }
}
