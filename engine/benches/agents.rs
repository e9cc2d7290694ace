//! One agent run on a coalesced change set of 10 commits × 20 files, on a repository that
//! already has 150 commits of history (`cargo bench -p coderipple-engine --bench agents`).

use coderipple_core::contract::fixtures;
use coderipple_core::envelope::Commit;
use coderipple_engine::{AgentSet, ChangeSet, Plan};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

fn change_set(first: u32, commits: u32, files: u32) -> ChangeSet {
    let commits = (first..first + commits)
        .map(|n| Commit {
            id: format!("{n:040x}"),
            message: if n % 3 == 0 {
                format!("fix(core): handle case {n}")
            } else {
                format!("feat(api): add endpoint {n}\n\nSome body text.")
            },
            author: "Mona".into(),
            timestamp: "2026-03-01T09:00:00Z".into(),
            added: (0..files / 2)
                .map(|f| format!("crate{}/src/m{n}_{f}.rs", f % 4))
                .collect(),
            modified: (0..files / 2)
                .map(|f| format!("crate{}/src/lib{f}.rs", f % 4))
                .collect(),
            removed: vec![],
        })
        .collect();
    ChangeSet {
        repo: "o/r".into(),
        events: vec![fixtures::push("o/r", &format!("d{first}"), commits)],
    }
}

/// Applies the planned agents and renders their docs.
fn apply(set: &AgentSet, plan: &Plan, state: &mut Value) {
    let slots = state.as_object_mut().unwrap();
    let applied = set.apply(plan, slots).unwrap();
    std::hint::black_box(set.render("o/r", slots, |a| plan.runs_agent(a)).unwrap());
    std::hint::black_box(applied);
}

/// `plan` with only `agent` planned.
fn only(plan: &Plan, agent: &str) -> Plan {
    let mut plan = plan.clone();
    plan.runs.retain(|r| r.agent == agent);
    plan
}

fn bench(c: &mut Criterion) {
    let set = AgentSet::builtin();
    let mut history = json!({});
    for i in 0..15 {
        let plan = set.plan(&change_set(i * 10 + 1, 10, 20)).unwrap();
        apply(&set, &plan, &mut history);
    }
    let change = change_set(10_000, 10, 20);
    let plan = set.plan(&change).unwrap();
    c.bench_function("orchestrator plan, 10 commits x 20 files", |b| {
        b.iter(|| set.plan(&change).unwrap())
    });
    for agent in ["building_inspector", "tourist_guide", "historian"] {
        let one = only(&plan, agent);
        c.bench_function(
            &format!("{agent} apply+render, 10 commits x 20 files"),
            |b| {
                b.iter_batched(
                    || history.clone(),
                    |mut state| apply(&set, &one, &mut state),
                    BatchSize::SmallInput,
                )
            },
        );
    }
    c.bench_function("all agents apply+render, 10 commits x 20 files", |b| {
        b.iter_batched(
            || history.clone(),
            |mut state| apply(&set, &plan, &mut state),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
