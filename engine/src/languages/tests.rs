//! Languages as the bar counts them: linguist's data, the pack's exclusions and a
//! repository's `.gitattributes`.

use super::*;
use crate::pack::AgentPack;

#[test]
fn linguist_names_the_language_and_the_bar_counts_code_only() {
    let pack = AgentPack::builtin();
    let langs = RepoLanguages::new(&pack.rules.languages, &[]);
    assert_eq!(langs.counted("src/main.rs"), Some("Rust"));
    assert_eq!(
        langs.counted("web/App.tsx"),
        Some("TypeScript"),
        "TSX is grouped"
    );
    assert_eq!(langs.counted("lib/x.h"), Some("C"), "the pack's preference");
    assert_eq!(langs.counted("Makefile"), Some("Makefile"), "by file name");
    assert_eq!(langs.counted("scripts/run.sh"), Some("Shell"));
    // Data and prose are not on the bar.
    for path in ["Cargo.toml", "config.yml", "notes.txt", "data.json"] {
        assert_eq!(langs.counted(path), None, "{path}");
    }
}

#[test]
fn vendored_generated_documentation_and_fixtures_are_left_out() {
    let pack = AgentPack::builtin();
    let langs = RepoLanguages::new(&pack.rules.languages, &[]);
    for path in [
        ".github/fixtures/test-1/commit.sh",
        "node_modules/left-pad/index.js",
        "vendor/lib/x.c",
        "tests/fixtures/a.py",
        "docs/theme/main.js",
        "website/src/index.js",
        "examples/demo.rs",
        "dist/bundle.js",
        "web/app.min.js",
    ] {
        assert_eq!(langs.counted(path), None, "{path}");
    }
    assert_eq!(pack.rules.languages.language_of("docs/x.rs"), None);
    assert_eq!(pack.rules.languages.language_of("src/x.rs"), Some("Rust"));
}

#[test]
fn gitattributes_overrides_win_the_last_matching_line_deciding() {
    let text = "# comment\n\
                *.rs text eol=lf\n\
                .github/** -linguist-vendored\n\
                src/gen/** linguist-generated\n\
                *.inc linguist-language=c++\n\
                docs/** linguist-documentation=false\n\
                *.json linguist-detectable\n\
                third_party/** linguist-vendored\n\
                third_party/keep/** linguist-vendored=false\n\
                [attr]binary -diff -merge -text\n";
    let rules = parse_gitattributes(text);
    assert_eq!(rules.len(), 7, "{rules:?}");
    let pack = AgentPack::builtin();
    let langs = RepoLanguages::new(&pack.rules.languages, &rules);
    assert_eq!(langs.counted(".github/scripts/x.sh"), Some("Shell"));
    assert_eq!(langs.counted("src/gen/out.rs"), None);
    assert_eq!(langs.counted("src/a.inc"), Some("C++"));
    assert_eq!(langs.counted("docs/api/main.js"), Some("JavaScript"));
    assert_eq!(langs.counted("schema/a.json"), Some("JSON"));
    assert_eq!(langs.counted("third_party/x/a.c"), None);
    assert_eq!(langs.counted("third_party/keep/a.c"), Some("C"));
}

#[test]
fn hostile_gitattributes_are_bounded_and_unknown_languages_ignored() {
    let mut text = String::from("*.x linguist-language=NoSuchLanguage\n[ linguist-vendored\n");
    text.push_str(&format!("{} linguist-vendored\n", "a".repeat(10_000)));
    for i in 0..1_000 {
        text.push_str(&format!("p{i}/** linguist-vendored\n"));
    }
    let rules = parse_gitattributes(&text);
    assert_eq!(rules.len(), MAX_ATTRIBUTE_RULES);
    assert!(rules.iter().all(|r| r.pattern.len() <= MAX_ATTRIBUTE_CHARS));
    let pack = AgentPack::builtin();
    // A bad glob (`[`) is skipped; an unknown language falls back to detection.
    let langs = RepoLanguages::new(&pack.rules.languages, &rules);
    assert_eq!(langs.counted("src/a.rs"), Some("Rust"));
    let only = parse_gitattributes("*.rs linguist-language=NoSuchLanguage\n");
    let langs = RepoLanguages::new(&pack.rules.languages, &only);
    assert_eq!(langs.counted("src/a.rs"), Some("Rust"));
}

#[test]
fn linguists_vendored_patterns_all_compile_into_one_fast_set() {
    assert!(!VENDORED.1, "a pattern needs linguist's slower matcher");
    assert_eq!(VENDORED.0.len(), linguist::definitions::VENDOR.len());
}
