//! Pushes that form a history, and sending them out of it.
//!
//! [`chain`] links each repository's pushes as GitHub does: a push's `before` is the previous
//! push's `after` (the first creates the branch), so the pipeline can tell history order from
//! arrival order. [`out_of_order`] then shuffles each repository's requests within windows of
//! `window` of its own (deterministically, from a seed), the arrival order GitHub's concurrent
//! deliveries, late redeliveries and replays produce. Verification checks each repository's
//! commits against the history order ([`crate::traffic::Request::history`]), not the send
//! order.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::traffic::{Kind, Request};

const NO_COMMIT: &str = "0000000000000000000000000000000000000000";

/// Links each repository's `Normal` pushes into one branch history, in traffic order, and
/// numbers them by it.
pub fn chain(traffic: &mut [Request]) {
    let mut heads: BTreeMap<String, (String, usize)> = BTreeMap::new();
    for r in traffic.iter_mut().filter(|r| r.kind == Kind::Normal) {
        let Ok(mut payload) = serde_json::from_slice::<Value>(&r.body) else {
            continue;
        };
        let after = payload["after"].as_str().unwrap_or(NO_COMMIT).to_owned();
        let (before, n) = heads
            .get(&r.repo)
            .cloned()
            .unwrap_or_else(|| (NO_COMMIT.to_owned(), 0));
        payload["created"] = Value::Bool(before == NO_COMMIT);
        payload["before"] = Value::String(before);
        r.body = Arc::from(serde_json::to_vec(&payload).expect("a JSON value serializes"));
        r.history = n;
        heads.insert(r.repo.clone(), (after, n + 1));
    }
}

/// Shuffles each repository's requests within consecutive windows of `window` of them
/// (`seed` picks the permutations), keeping every request in its repository's lane and the
/// lanes' slots in the traffic; renumbers the result in send order.
pub fn out_of_order(traffic: Vec<Request>, window: usize, seed: u64) -> Vec<Request> {
    if window < 2 {
        return traffic;
    }
    let mut lanes: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, r) in traffic.iter().enumerate() {
        lanes.entry(r.repo.clone()).or_default().push(i);
    }
    let mut rng = seed | 1;
    let mut next = move || {
        // xorshift64*: enough to pick permutations reproducibly.
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut slots: Vec<Option<Request>> = traffic.into_iter().map(Some).collect();
    for positions in lanes.values() {
        for chunk in positions.chunks(window) {
            let mut order: Vec<usize> = chunk.to_vec();
            for i in (1..order.len()).rev() {
                let j = (next() % (i as u64 + 1)) as usize;
                order.swap(i, j);
            }
            let moved: Vec<Request> = order
                .iter()
                .map(|&p| slots[p].take().expect("each slot taken once"))
                .collect();
            for (&p, r) in chunk.iter().zip(moved) {
                slots[p] = Some(r);
            }
        }
    }
    let mut out: Vec<Request> = slots.into_iter().map(|r| r.expect("refilled")).collect();
    for (n, r) in out.iter_mut().enumerate() {
        r.index = n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::{Synth, synthesize};

    fn before_after(r: &Request) -> (String, String) {
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        (
            v["before"].as_str().unwrap().to_owned(),
            v["after"].as_str().unwrap().to_owned(),
        )
    }

    fn traffic() -> Vec<Request> {
        let shape = Synth {
            repos: 3,
            events: 30,
            commits: 2,
            files: 1,
        };
        let mut t = synthesize(7, &shape);
        chain(&mut t);
        t
    }

    #[test]
    fn each_repository_s_pushes_form_one_history() {
        let t = traffic();
        for repo in ["load-00000007/repo-000", "load-00000007/repo-002"] {
            let lane: Vec<&Request> = t.iter().filter(|r| r.repo == repo).collect();
            assert_eq!(lane.len(), 10);
            let (first_before, mut head) = before_after(lane[0]);
            assert_eq!(first_before, NO_COMMIT, "the first push creates the branch");
            for (n, r) in lane.iter().enumerate().skip(1) {
                let (before, after) = before_after(r);
                assert_eq!(before, head, "push {n} follows push {}", n - 1);
                assert_eq!(r.history, n);
                head = after;
            }
        }
    }

    #[test]
    fn out_of_order_keeps_lanes_and_requests_and_moves_some() {
        let t = traffic();
        let shuffled = out_of_order(t.clone(), 5, 42);
        assert_eq!(shuffled.len(), t.len());
        for (n, r) in shuffled.iter().enumerate() {
            assert_eq!(r.index, n);
            assert_eq!(r.repo, t[n].repo, "every slot stays in its lane");
        }
        let mut before: Vec<&str> = t.iter().map(|r| r.delivery.as_str()).collect();
        let mut after: Vec<&str> = shuffled.iter().map(|r| r.delivery.as_str()).collect();
        assert_ne!(before, after, "something moved");
        before.sort_unstable();
        after.sort_unstable();
        assert_eq!(before, after, "nothing lost or doubled");
        // Within a window, never across: a lane's n-th request is from its window.
        let lane = |v: &[Request]| -> Vec<usize> {
            v.iter()
                .filter(|r| r.repo == "load-00000007/repo-001")
                .map(|r| r.history)
                .collect()
        };
        for (pos, h) in lane(&shuffled).into_iter().enumerate() {
            assert_eq!(pos / 5, h / 5, "position {pos} holds history {h}");
        }
        assert_eq!(
            out_of_order(t.clone(), 5, 42)
                .iter()
                .map(|r| r.delivery.clone())
                .collect::<Vec<_>>(),
            shuffled
                .iter()
                .map(|r| r.delivery.clone())
                .collect::<Vec<_>>(),
            "reproducible from its seed"
        );
        assert_eq!(
            out_of_order(t.clone(), 1, 42)
                .iter()
                .map(|r| r.delivery.clone())
                .collect::<Vec<_>>(),
            t.iter().map(|r| r.delivery.clone()).collect::<Vec<_>>(),
            "a window of one changes nothing"
        );
    }
}
