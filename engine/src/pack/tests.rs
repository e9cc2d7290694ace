//! Tests of the agent pack: built-in and directory packs, rules and templates.

use super::*;

#[test]
fn builtin_rules_categorize_paths_and_recognize_tools() {
    let pack = AgentPack::builtin();
    let r = &pack.rules;
    let cats = |p: &str| r.categories_of(p).map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(cats("README.md"), ["docs", "user_facing"]);
    assert_eq!(cats("src/lib.rs"), ["core"]);
    assert_eq!(cats("worker/tests/batch.rs"), ["tests"]);
    assert!(cats("Cargo.toml").iter().any(|c| c == "config_infra"));
    assert!(
        cats(".github/workflows/ci.yml")
            .iter()
            .any(|c| c == "config_infra")
    );
    assert_eq!(r.tool_of("cli/Cargo.toml").unwrap().name, "Cargo");
    assert_eq!(r.tool_of(".github/workflows/ci.yml").unwrap().kind, "ci");
    assert_eq!(r.tool_of("infra/main.tf").unwrap().name, "Terraform");
    assert!(r.tool_of("src/main.rs").is_none());
    assert_eq!(r.languages.language_of("a/b.RS"), Some("Rust"));
    assert_eq!(r.languages.language_of(".gitignore"), None);
    assert!(r.is_entry_point("cli/src/main.rs") && !r.is_entry_point("cli/src/lib.rs"));
    assert_eq!(r.heuristic_kind("Fixes"), Some("fix"));
    assert!(pack.version().starts_with("coderipple-builtin-1+"));
}

#[test]
fn a_directory_overrides_file_by_file_and_changes_the_version() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("templates")).unwrap();
    std::fs::write(
        dir.path().join("templates/whats_new.md.j2"),
        "custom {{ repo }}\n",
    )
    .unwrap();
    let pack = load_dir(dir.path()).unwrap();
    assert_ne!(pack.version(), AgentPack::builtin().version());
    assert_eq!(
        pack.render("whats_new.md", minijinja::context! { repo => "o/r" })
            .unwrap(),
        "custom o/r\n"
    );
    // The other files are the built-in ones.
    assert!(pack.rules.tool_of("Cargo.toml").is_some());
}

#[test]
fn custom_templates_have_the_escaping_filters() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("templates")).unwrap();
    std::fs::write(
        dir.path().join("templates/whats_new.md.j2"),
        "# {{ title|md_inline }}\n\n{{ notes|md_block }}\n\n\
         - {{ path|md_code }}, {{ short|md_code|md_link(url) }}, {{ title|md_link(evil) }}, \
         {{ title|md_inline(5) }}, {{ title|md_inline|md_inline }}, [{{ none|md_inline }}]\n",
    )
    .unwrap();
    let pack = load_dir(dir.path()).unwrap();
    let out = pack
        .render(
            "whats_new.md",
            minijinja::context! {
                repo => "o/r",
                title => "<!-- [x](https://e.x)",
                notes => "## PWNED\n\n```\n<b>\n",
                path => "a`b",
                short => "abc1234",
                url => "https://github.com/o/r/commit/abc1234",
                evil => "https://github.com/other/r/commit/abc1234",
                none => (),
            },
        )
        .unwrap();
    assert_eq!(
        out,
        "# \\<!-- \\[x\\](https\\://e.x)\n\n\\#\\# PWNED\n\n```\n<b>\n```\n\n\
         - ``a`b``, [`abc1234`](https://github.com/o/r/commit/abc1234), \
         \\<!-- \\[x\\](https\\://e.x), \\<!--…, \\<!-- \\[x\\](https\\://e.x), []\n"
    );
}

#[test]
fn a_broken_pack_is_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.toml"), "categories = 3\n").unwrap();
    let err = load_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("rules.toml"), "{err}");
    std::fs::remove_file(dir.path().join("rules.toml")).unwrap();
    std::fs::create_dir(dir.path().join("templates")).unwrap();
    std::fs::write(dir.path().join("templates/changelog.md.j2"), "{% for %}").unwrap();
    let err = load_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("changelog.md.j2"), "{err}");
}

/// The pack in `dir` (as the worker reads one): each file there replaces the built-in one.
pub(crate) fn load_dir(dir: &std::path::Path) -> Result<AgentPack, EngineError> {
    AgentPack::with_files(
        &dir.display().to_string(),
        |rel| match std::fs::read_to_string(dir.join(rel)) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(EngineError::invalid(format!("{rel}: {e}"))),
        },
    )
}

#[test]
fn the_attribution_can_be_turned_off() {
    use crate::agents::AgentSet;
    use crate::agents::testkit::{commit, push, run};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pack.toml"),
        "name = \"quiet\"\nversion = \"1\"\nattribution = false\n",
    )
    .unwrap();
    let quiet = AgentSet::with_pack(std::sync::Arc::new(load_dir(dir.path()).unwrap()));
    let events = || vec![push("p1", vec![commit(1, "feat: x", &["a.rs"], &[], &[])])];
    let text = run(
        &quiet,
        &mut serde_json::json!({}),
        events(),
        "decisions/changelog.md",
    );
    assert!(!text.contains("CodeRipple"), "{text}");
    assert!(
        text.contains("Kept from the repository's history: one line per commit"),
        "{text}"
    );
    let loud = run(
        &AgentSet::builtin(),
        &mut serde_json::json!({}),
        events(),
        "decisions/changelog.md",
    );
    assert!(
        loud.contains("Kept by CodeRipple's Historian: one line per commit"),
        "{loud}"
    );
}
