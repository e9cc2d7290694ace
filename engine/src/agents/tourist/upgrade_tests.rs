//! Upgrade notes say what the author wrote about a break, and a raised toolchain
//! requirement is one.

use serde_json::json;

use crate::agents::AgentSet;
use crate::agents::testkit::{apply_all, assert_inert, commit, plan, push, render};
use crate::facts::analyse;
use crate::pack::AgentPack;

const UPGRADING: &str = "user/upgrading.md";

#[test]
fn a_break_without_a_footer_is_explained_by_its_body() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    let message = "feat(cli)!: serve needs --port\n\nUsers of `serve` must now pass `--port`.\n\
                   Before: `tool serve`\nAfter: `tool serve --port 8080`\n\n\
                   Signed-off-by: Mona <mona@example.com>";
    let p = plan(
        &set,
        vec![push(
            "p1",
            vec![commit(1, message, &["src/cli.rs"], &[], &[])],
        )],
    );
    apply_all(&set, &p, &mut state);
    let text = render(&set, &state, UPGRADING);
    assert_inert(&text);
    assert!(text.contains("### serve needs --port"), "{text}");
    assert!(
        text.contains("Users of `serve` must now pass `--port`."),
        "{text}"
    );
    assert!(text.contains("After: `tool serve --port 8080`"), "{text}");
    assert!(!text.contains("Signed-off-by"), "{text}");
}

#[test]
fn a_raised_minimum_rust_version_is_an_upgrade_note() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    let pack = AgentPack::builtin();
    let manifest = |msrv: &str| {
        analyse(
            &pack,
            "Cargo.toml",
            &format!("[package]\nname = \"tool\"\nrust-version = \"{msrv}\"\nedition = \"2021\"\n"),
        )
        .unwrap()
    };
    let mut first = plan(
        &set,
        vec![push(
            "p1",
            vec![commit(
                1,
                "feat: start",
                &["Cargo.toml", "src/main.rs"],
                &[],
                &[],
            )],
        )],
    );
    first.contents.insert("Cargo.toml".into(), manifest("1.70"));
    apply_all(&set, &first, &mut state);
    let mut second = plan(
        &set,
        vec![push(
            "p2",
            vec![commit(2, "build: newer Rust", &[], &["Cargo.toml"], &[])],
        )],
    );
    second
        .contents
        .insert("Cargo.toml".into(), manifest("1.74"));
    apply_all(&set, &second, &mut state);
    let text = render(&set, &state, UPGRADING);
    assert_inert(&text);
    assert!(
        text.contains("### Rust-version from `1.70` to `1.74` (`Cargo.toml`)"),
        "{text}"
    );
    assert!(
        text.contains("Building the project needs the new requirement."),
        "{text}"
    );
    // Applied again, nothing doubles.
    apply_all(&set, &second, &mut state);
    assert_eq!(render(&set, &state, UPGRADING), text);
}

#[test]
fn a_break_in_a_library_only_says_whom_it_affects() {
    let set = AgentSet::builtin();
    let mut state = json!({});
    let pack = AgentPack::builtin();
    let mut first = plan(
        &set,
        vec![push(
            "p1",
            vec![commit(
                1,
                "feat: start",
                &[
                    "core/Cargo.toml",
                    "core/src/lib.rs",
                    "core/tests/it.rs",
                    "cli/Cargo.toml",
                    "cli/src/main.rs",
                ],
                &[],
                &[],
            )],
        )],
    );
    for (path, text) in [
        ("core/Cargo.toml", "[package]\nname = \"tool-core\"\n"),
        ("cli/Cargo.toml", "[package]\nname = \"tool\"\n"),
    ] {
        first
            .contents
            .insert(path.into(), analyse(&pack, path, text).unwrap());
    }
    apply_all(&set, &first, &mut state);
    let second = plan(
        &set,
        vec![push(
            "p2",
            vec![
                commit(
                    2,
                    "feat(core)!: rename Gear to Cog",
                    &[],
                    &["core/src/lib.rs", "core/tests/it.rs"],
                    &[],
                ),
                commit(3, "feat(cli)!: drop --fast", &[], &["cli/src/main.rs"], &[]),
            ],
        )],
    );
    apply_all(&set, &second, &mut state);
    let text = render(&set, &state, UPGRADING);
    assert_inert(&text);
    // The mark is in the library's note, and the command line's break has none.
    let core = text
        .split("### rename Gear to Cog")
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"));
    let core_note = core.split("\n### ").next().unwrap();
    assert!(
        core_note.contains("Affects code that uses the library `tool-core` only"),
        "{text}"
    );
    assert_eq!(
        text.matches("Affects code that uses the library").count(),
        1,
        "{text}"
    );
}
