//! Tests of history order: pushes by their chain, marks by their commit, gaps, late and forced
//! pushes.

use std::time::Duration;

use coderipple_core::contract::fixtures;
use coderipple_core::envelope::{
    Change, Commit, Envelope, HistoryNote, PullRequestChange, ReleaseChange,
};

use super::*;

fn sha(n: u32) -> String {
    format!("{n:040x}")
}

fn commit(n: u32) -> Commit {
    Commit {
        id: sha(n),
        message: format!("feat: change {n}"),
        author: "Ada".into(),
        timestamp: "2026-03-01T10:00:00Z".into(),
        added: vec![format!("src/f{n}.rs")],
        modified: vec![],
        removed: vec![],
    }
}

/// Push `n` of a linear history: commit `n` on top of commit `n - 1` (push 1 creates main).
fn push(n: u32) -> Envelope {
    let mut env = fixtures::push("o/r", &format!("push-{n}"), vec![commit(n)]);
    if let Some(Change::Push(p)) = &mut env.change {
        p.before = if n == 1 { "0".repeat(40) } else { sha(n - 1) };
        p.created = n == 1;
    }
    env
}

fn release_at(tag: &str, target: Option<u32>) -> Envelope {
    let mut env = fixtures::release("o/r", &format!("rel-{tag}"), tag, tag);
    if let Some(Change::Release(ReleaseChange { target: t, .. })) = &mut env.change {
        *t = target.map(sha);
    }
    env
}

fn ids(envs: &[Envelope]) -> Vec<&str> {
    envs.iter().map(|e| e.delivery.as_str()).collect()
}

fn none(_: &str) -> bool {
    false
}

#[test]
fn reversed_arrival_is_applied_in_history_order_with_its_marks() {
    let mut chain = ChainState::default();
    let arrivals = vec![
        push(5),
        push(4),
        release_at("v2", Some(3)),
        push(3),
        release_at("v1", Some(2)),
        push(2),
    ];
    let mut waited = Vec::new();
    for env in arrivals {
        let o = chain.order(vec![env], &none, 1);
        assert!(o.apply.is_empty(), "nothing applies before push 1");
        waited.extend(o.waiting);
    }
    assert_eq!(waited.len(), 6);
    let o = chain.order(vec![push(1)], &none, 2);
    assert_eq!(
        ids(&o.apply),
        [
            "push-1", "push-2", "rel-v1", "push-3", "rel-v2", "push-4", "push-5"
        ]
    );
    assert_eq!(o.released.len(), 6, "every waiting event was released");
    assert!(chain.waiting.is_empty());
    assert_eq!(chain.heads["main"], sha(5));
}

#[test]
fn in_order_arrival_applies_at_once() {
    let mut chain = ChainState::default();
    let o = chain.order(
        vec![push(1), push(2), release_at("v1", Some(2)), push(3)],
        &none,
        1,
    );
    assert_eq!(ids(&o.apply), ["push-1", "push-2", "rel-v1", "push-3"]);
    assert!(o.waiting.is_empty() && o.released.is_empty());
}

#[test]
fn a_mark_without_a_commit_waits_until_no_push_waits() {
    let mut chain = ChainState::default();
    chain.order(vec![push(1)], &none, 1);
    let o = chain.order(vec![push(3), release_at("v1", None)], &none, 2);
    assert!(o.apply.is_empty());
    assert_eq!(o.waiting, ["push-3", "rel-v1"]);
    let o = chain.order(vec![push(2)], &none, 3);
    assert_eq!(ids(&o.apply), ["push-2", "push-3", "rel-v1"]);
}

#[test]
fn a_redelivered_old_push_is_applied_without_moving_the_head() {
    let mut chain = ChainState::default();
    chain.order(vec![push(1), push(2), push(3)], &none, 1);
    let applied = |s: &str| s == sha(2);
    let o = chain.order(vec![push(2)], &applied, 2);
    assert_eq!(ids(&o.apply), ["push-2"]);
    assert_eq!(chain.heads["main"], sha(3));
}

#[test]
fn a_force_push_restarts_the_chain_with_a_note() {
    let mut chain = ChainState::default();
    chain.order(vec![push(1), push(2)], &none, 1);
    let mut forced = push(9);
    if let Some(Change::Push(p)) = &mut forced.change {
        p.before = sha(2);
        p.forced = true;
    }
    let o = chain.order(vec![forced], &none, 2);
    assert_eq!(o.apply.len(), 2);
    let Some(Change::History(h)) = &o.apply[0].change else {
        panic!("a history mark first: {:?}", o.apply[0]);
    };
    assert_eq!(h.note, HistoryNote::ForcePush);
    assert_eq!(
        (h.from.as_str(), h.to.as_str()),
        (sha(2).as_str(), sha(9).as_str())
    );
    assert_eq!(chain.heads["main"], sha(9));
}

#[test]
fn a_gap_is_stuck_only_after_the_wait_and_names_its_ends() {
    let mut chain = ChainState::default();
    chain.order(vec![push(1), push(2)], &none, 0);
    chain.order(vec![push(5), push(6)], &none, 1_000);
    let wait = Duration::from_secs(300);
    assert_eq!(chain.stuck(1_000 + 299_999, wait), None);
    let stuck = chain.stuck(1_000 + 300_000, wait).expect("stuck");
    assert_eq!(stuck.from.as_deref(), Some(sha(2).as_str()));
    assert_eq!(stuck.to, sha(4), "push 5 starts the gap; push 6 follows it");
    chain.bridge(&stuck);
    let o = chain.order(vec![], &none, 400_000);
    assert_eq!(ids(&o.apply), ["push-5", "push-6"]);
    assert_eq!(o.released, ["push-5", "push-6"]);
}

#[test]
fn pushes_to_other_branches_and_pull_requests_are_not_held() {
    let mut chain = ChainState::default();
    let mut other = push(7);
    if let Some(Change::Push(p)) = &mut other.change {
        p.git_ref = "refs/heads/feature".into();
    }
    let pr = fixtures::envelope(
        "o/r",
        "pr-1",
        "pull_request",
        Change::PullRequest(PullRequestChange {
            number: 1,
            title: "feat: x".into(),
            body: String::new(),
            labels: vec![],
            base_ref: "main".into(),
            merge_commit_sha: None,
            url: String::new(),
            merged_at: None,
        }),
    );
    let o = chain.order(vec![push(3), other, pr], &none, 1);
    assert_eq!(ids(&o.apply), ["push-7", "pr-1"]);
    assert_eq!(o.waiting, ["push-3"]);
}

#[test]
fn the_chain_round_trips_through_the_state() {
    let mut chain = ChainState::default();
    chain.order(vec![push(1), push(3)], &none, 5);
    let mut slots = Map::new();
    chain.put(&mut slots).unwrap();
    assert!(slots.contains_key(CHAIN_KEY));
    assert_eq!(ChainState::take(&mut slots).unwrap(), chain);
    assert!(slots.is_empty());
    let mut empty = Map::new();
    ChainState::default().put(&mut empty).unwrap();
    assert!(empty.is_empty(), "an empty chain adds nothing to the state");
    let mut bad = Map::new();
    bad.insert(CHAIN_KEY.into(), Value::String("x".into()));
    assert!(ChainState::take(&mut bad).is_err());
}

#[test]
fn pushes_of_a_recorded_gap_that_arrive_late_are_applied_without_moving_the_head() {
    let mut chain = ChainState::default();
    chain.order(vec![push(1), push(2)], &none, 0);
    chain.order(vec![push(5)], &none, 0);
    let stuck = chain.stuck(1, Duration::ZERO).expect("stuck at once");
    chain.bridge(&stuck);
    let o = chain.order(vec![], &none, 1);
    assert_eq!(ids(&o.apply), ["push-5"]);
    assert_eq!(chain.heads["main"], sha(5));
    let o = chain.order(vec![push(3)], &none, 2);
    assert_eq!(ids(&o.apply), ["push-3"], "late, after its gap");
    assert_eq!(chain.heads["main"], sha(5), "the head stays");
    assert_eq!(chain.gaps.len(), 1, "push 4 is still missing");
    chain.order(vec![push(4)], &none, 3);
    assert!(chain.gaps.is_empty(), "the gap is whole now");
    assert_eq!(chain.heads["main"], sha(5));
}

#[test]
fn an_old_push_found_behind_the_head_is_applied_late_with_those_after_it() {
    let mut chain = ChainState::default();
    chain.order(vec![push(1), push(2), push(3), push(4), push(5)], &none, 0);
    // Pushes 2 and 3 come again under new delivery ids with commits never seen (a replay of a
    // history rewritten since, say): their `before` is behind the head.
    let renamed = |n: u32| {
        let mut env = push(n);
        env.delivery = format!("old-{n}");
        if let Some(Change::Push(p)) = &mut env.change {
            p.commits[0].id = sha(100 + n);
            p.after = sha(n);
        }
        env
    };
    let o = chain.order(vec![renamed(2), renamed(3)], &none, 1);
    assert!(
        o.apply.is_empty(),
        "both wait: push 2's before is not the head"
    );
    let stuck = chain.stuck(2, Duration::ZERO).expect("stuck");
    assert_eq!(stuck.to, sha(1));
    chain.accept_late(&stuck);
    let o = chain.order(vec![], &none, 2);
    assert_eq!(ids(&o.apply), ["old-2", "old-3"]);
    assert_eq!(chain.heads["main"], sha(5), "the head never moves back");
    assert!(chain.waiting.is_empty());
}

/// The push of tag `tag` at commit `n`: an annotated tag's `after` is the tag object, and
/// GitHub's head commit names the commit.
fn tag_push(tag: &str, n: u32) -> Envelope {
    let mut env = fixtures::push("o/r", &format!("tag-{tag}"), vec![]);
    if let Some(Change::Push(p)) = &mut env.change {
        p.git_ref = format!("refs/tags/{tag}");
        p.before = "0".repeat(40);
        p.after = format!("{:040x}", 0xdead_0000_u64 + u64::from(n));
        p.head_commit = Some(sha(n));
        p.created = true;
    }
    env
}

#[test]
fn a_release_that_arrives_before_the_push_bringing_its_commit_waits_for_it() {
    let mut chain = ChainState::default();
    chain.order(vec![push(1)], &none, 1);
    // `git push --follow-tags`: the release and the tag's push come before the branch push.
    let o = chain.order(vec![release_at("v1", Some(2)), tag_push("v1", 2)], &none, 2);
    assert!(
        o.apply.is_empty(),
        "cut before its commit: {:?}",
        ids(&o.apply)
    );
    assert_eq!(o.waiting, ["rel-v1", "tag-v1"]);
    let o = chain.order(vec![push(2)], &none, 3);
    assert_eq!(ids(&o.apply), ["push-2", "rel-v1", "tag-v1"]);
    assert!(chain.waiting.is_empty());
}

#[test]
fn a_mark_whose_commit_is_applied_already_follows_at_once() {
    let mut chain = ChainState::default();
    chain.order(vec![push(1), push(2)], &none, 1);
    let o = chain.order(vec![tag_push("v1", 1)], &|s: &str| s == sha(1), 2);
    assert_eq!(ids(&o.apply), ["tag-v1"]);
}

#[test]
fn a_mark_whose_commit_never_comes_follows_when_the_wait_ends() {
    let mut chain = ChainState::default();
    chain.order(vec![push(1)], &none, 0);
    let o = chain.order(vec![release_at("v9", Some(9))], &none, 1_000);
    assert_eq!(o.waiting, ["rel-v9"]);
    let wait = Duration::from_secs(300);
    assert_eq!(
        chain.due_ms(wait),
        Some(301_000),
        "its wait wakes the repository"
    );
    assert!(chain.release_overdue_marks(300_999, wait).apply.is_empty());
    let o = chain.release_overdue_marks(301_000, wait);
    assert_eq!(ids(&o.apply), ["rel-v9"]);
    assert_eq!(o.released, ["rel-v9"]);
    assert!(chain.waiting.is_empty());
    assert_eq!(chain.heads["main"], sha(1), "a mark never moves the head");
}

#[test]
fn a_late_created_push_of_a_history_started_without_it_does_not_rewind_the_head() {
    let mut chain = ChainState::default();
    // Push 2 arrives first; push 1 (the branch's creation) is late beyond the wait.
    let o = chain.order(vec![push(2)], &none, 0);
    assert_eq!(o.waiting, ["push-2"]);
    let stuck = chain.stuck(1, Duration::ZERO).expect("stuck");
    assert_eq!(
        (stuck.from.as_deref(), stuck.to.as_str()),
        (None, sha(1).as_str())
    );
    chain.bridge(&stuck);
    assert_eq!(ids(&chain.order(vec![], &none, 1).apply), ["push-2"]);
    let o = chain.order(vec![push(1)], &none, 2);
    assert_eq!(ids(&o.apply), ["push-1"], "late, not a restart");
    assert!(
        !o.apply
            .iter()
            .any(|e| matches!(e.change, Some(Change::History(_)))),
        "no history note"
    );
    assert_eq!(chain.heads["main"], sha(2), "the head stays");
    let o = chain.order(vec![push(3)], &none, 3);
    assert_eq!(
        ids(&o.apply),
        ["push-3"],
        "the next push follows: no false gap"
    );
    assert!(chain.waiting.is_empty());
}

#[test]
fn a_late_force_push_whose_end_is_applied_is_not_a_restart() {
    let mut chain = ChainState::default();
    chain.order(vec![push(1), push(2), push(3)], &none, 0);
    let mut forced = push(2);
    forced.delivery = "forced-late".into();
    if let Some(Change::Push(p)) = &mut forced.change {
        p.forced = true;
        p.before = sha(7);
        p.commits[0].id = sha(42);
    }
    let applied = |s: &str| s == sha(2) || s == sha(3);
    let o = chain.order(vec![forced], &applied, 1);
    assert_eq!(ids(&o.apply), ["forced-late"]);
    assert!(
        !o.apply
            .iter()
            .any(|e| matches!(e.change, Some(Change::History(_)))),
        "no force-push note for a late delivery"
    );
    assert_eq!(chain.heads["main"], sha(3), "the head does not move back");
    assert_eq!(ids(&chain.order(vec![push(4)], &none, 2).apply), ["push-4"]);
}
