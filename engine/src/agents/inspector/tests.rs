//! Tests of the Building Inspector: architecture and tech stack rewritten to the current state.

use super::*;
use crate::agents::AgentSet;
use crate::agents::testkit::{apply_all, commit, plan, push, render};
use serde_json::json;

fn inventory(state: &Value) -> InspectorState {
    read_state(NAME, &state[NAME]).unwrap()
}

#[test]
fn the_inventory_follows_adds_removes_and_renames() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    let p = plan(
        &set,
        vec![push(
            "d1",
            vec![
                commit(
                    1,
                    "feat: start",
                    &["src/main.rs", "src/util.rs", "Cargo.toml"],
                    &[],
                    &[],
                ),
                commit(
                    2,
                    "refactor: move util",
                    &["core/util.rs"],
                    &["src/main.rs"],
                    &["src/util.rs"],
                ),
            ],
        )],
    );
    apply_all(&set, &p, &mut state);
    let inv = inventory(&state);
    assert_eq!(
        inv.paths.iter().map(String::as_str).collect::<Vec<_>>(),
        ["Cargo.toml", "core/util.rs", "src/main.rs"]
    );
    let recent: Vec<&str> = inv.recent.iter().map(|r| r.what.as_str()).collect();
    assert!(recent.contains(&"new component `src/`"), "{recent:?}");
    assert!(
        recent.contains(&"`src/util.rs` moved to `core/util.rs`"),
        "{recent:?}"
    );
    assert!(recent.contains(&"new component `core/`"), "{recent:?}");
    // Removing a component's last file removes the component.
    let p = plan(
        &set,
        vec![push(
            "d2",
            vec![commit(3, "chore: drop core", &[], &[], &["core/util.rs"])],
        )],
    );
    apply_all(&set, &p, &mut state);
    assert!(
        inventory(&state)
            .recent
            .iter()
            .any(|r| r.what == "component `core/` removed")
    );
    let arch = render(&set, &state, "system/architecture.md");
    assert!(
        arch.contains("| `src` | 1 |  | Rust | `src/main.rs` |"),
        "{arch}"
    );
    assert!(!arch.contains("| `core`"), "{arch}");
    assert!(arch.contains("2 file(s) in 2 component(s)"), "{arch}");
}

#[test]
fn tech_stack_shows_languages_tools_and_packages() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    let p = plan(
        &set,
        vec![push(
            "d",
            vec![commit(
                1,
                "feat: all",
                &[
                    "Cargo.toml",
                    "cli/Cargo.toml",
                    "cli/src/main.rs",
                    "web/package.json",
                    "web/src/app.ts",
                    "web/src/b.ts",
                    ".github/workflows/ci.yml",
                    "Dockerfile",
                    "infra/main.tf",
                ],
                &[],
                &[],
            )],
        )],
    );
    apply_all(&set, &p, &mut state);
    let stack = render(&set, &state, "system/tech_stack.md");
    // Linguist counts Dockerfile and HCL as code too; YAML and TOML are data.
    assert!(stack.contains("| TypeScript | 2 | 40.0% |"), "{stack}");
    assert!(stack.contains("| Rust | 1 | 20.0% |"), "{stack}");
    assert!(stack.contains("| Dockerfile | 1 | 20.0% |"), "{stack}");
    assert!(stack.contains("| HCL | 1 | 20.0% |"), "{stack}");
    assert!(
        stack.contains("| Cargo | manifest | `Cargo.toml`, `cli/Cargo.toml` |"),
        "{stack}"
    );
    assert!(
        stack.contains("| GitHub Actions | ci | `.github/workflows/ci.yml` |"),
        "{stack}"
    );
    assert!(stack.contains("| Terraform | iac |"), "{stack}");
    assert!(
        stack.contains("| Docker | container | `Dockerfile` |"),
        "{stack}"
    );
    let arch = render(&set, &state, "system/architecture.md");
    assert!(
        arch.contains("| `cli` | 2 |  | Rust | `cli/src/main.rs` |"),
        "{arch}"
    );
}

#[test]
fn findings_name_new_tools_and_infra_changes_and_reapplying_changes_nothing() {
    let set = AgentSet::builtin();
    let inspector = set.get(NAME).unwrap();
    let mut state = Value::Null;
    let p = plan(
        &set,
        vec![push(
            "d",
            vec![
                commit(
                    1,
                    "build: add docker",
                    &["Dockerfile", "app/x.py"],
                    &[],
                    &[],
                ),
                commit(2, "ci: tune", &[], &["Dockerfile"], &[]),
            ],
        )],
    );
    let input = AgentInput {
        plan: &p,
        findings: &[],
    };
    let run = inspector.apply(input, &mut state).unwrap();
    let found: Vec<String> = run.findings.iter().map(|f| f.what.describe()).collect();
    assert_eq!(
        found,
        [
            "Docker added (`Dockerfile`)",
            "new component `app/`",
            "Docker changed (`Dockerfile`)"
        ]
    );
    let docs = inspector.render("o/r", &state).unwrap();
    let again = inspector.apply(input, &mut state).unwrap();
    assert_eq!(
        (again.applied, again.already_applied, again.findings.len()),
        (0, 2, 0)
    );
    assert_eq!(inspector.render("o/r", &state).unwrap(), docs);
}

#[test]
fn a_snapshot_resets_the_inventory_and_large_trees_stay_bounded() {
    let set = AgentSet::builtin();
    let inspector = set.get(NAME).unwrap();
    let mut state = Value::Null;
    let mut snap_env = push("s", vec![]);
    snap_env.change = Some(coderipple_core::envelope::Change::Snapshot(
        coderipple_core::envelope::SnapshotChange {
            commit: crate::agents::testkit::sha(9),
            repo_url: String::new(),
            paths: (0..MAX_PATHS + 10)
                .map(|i| format!("big/f{i}.rs"))
                .chain(["README.md".into()])
                .collect(),
        },
    ));
    let p = plan(&set, vec![snap_env]);
    assert!(p.runs_agent(NAME));
    inspector
        .apply(
            AgentInput {
                plan: &p,
                findings: &[],
            },
            &mut state,
        )
        .unwrap();
    let inv: InspectorState = read_state(NAME, &state).unwrap();
    assert_eq!(inv.paths.len(), MAX_PATHS);
    assert_eq!(inv.untracked.values().sum::<u64>(), 11);
    let arch = &inspector.render("o/r", &state).unwrap()[0].contents;
    assert!(
        arch.contains(&format!("{} file(s)", MAX_PATHS + 11)),
        "{arch}"
    );
    assert!(serde_json::to_string(&state).unwrap().len() < 200_000);
}

#[test]
fn paths_and_manifest_facts_cannot_break_out_of_code_or_tables() {
    use crate::agents::testkit::assert_inert;
    use crate::facts::{FileFacts, ManifestFacts};
    let set = AgentSet::builtin();
    let mut state = json!({});
    let mut p = plan(
        &set,
        vec![push(
            "d1",
            vec![commit(
                1,
                "feat: odd names",
                &[
                    "we`ird|dir\n## PWNED/Cargo.toml",
                    "we`ird|dir\n## PWNED/src/main.rs",
                    "tick`/Cargo.toml",
                    "src/<b>\0.rs",
                ],
                &[],
                &[],
            )],
        )],
    );
    p.contents.insert(
        "tick`/Cargo.toml".into(),
        FileFacts::Manifest(ManifestFacts {
            tool: "Cargo".into(),
            name: Some("<b>pkg</b> [x](https://evil.example)".into()),
            members: vec![],
            dependencies: vec!["dep`|x".into(), "serde".into()],
            description: Some("<script>alert(1)</script> | *pwn* ```\n# heading".into()),
            binaries: vec!["bin`|<b>".into()],
            ..ManifestFacts::default()
        }),
    );
    apply_all(&set, &p, &mut state);
    let arch = render(&set, &state, "system/architecture.md");
    let stack = render(&set, &state, "system/tech_stack.md");
    for doc in [&arch, &stack] {
        assert_inert(doc);
    }
    assert!(
        arch.contains(
            "| `` tick` `` | 1 | \\<script\\>alert(1)\\</script\\> \\| \\*pwn\\* \\`\\`\\` \\# heading |  |  |\n"
        ),
        "{arch}"
    );
    assert!(
        arch.contains("- new component we\\`ird\\|dir \\#\\# PWNED/ (["),
        "{arch}"
    );
    assert!(
        arch.contains("- Cargo added (``tick`/Cargo.toml``) (["),
        "{arch}"
    );
    assert!(arch.contains("- new component `src/` (["), "{arch}");
    assert!(
        stack.contains(
            "- ``tick`/Cargo.toml`` — \\<b\\>pkg\\</b\\> \\[x\\](https\\://evil.example): \
             dep\\`\\|x, `serde`\n"
        ),
        "{stack}"
    );
}

mod explains;
