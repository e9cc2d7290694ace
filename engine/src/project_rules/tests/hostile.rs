//! Tests of a project's own changelog rules on hostile files: huge, deeply nested, with
//! regexes that blow up, aliases that multiply, lists without end. Refused, never a panic.

use super::*;

#[test]
fn hostile_files_are_bounded_and_never_panic() {
    // A 10 MB pattern: the file is too large to read.
    let huge = format!("[git]\nskip_tags = '{}'", "a".repeat(10 << 20));
    assert!(parse("cliff.toml", &huge).unwrap_err().contains("not read"));
    // A pattern past the length bound, one past the compiled size, one nested too deep.
    let long = format!("[git]\nskip_tags = '{}'", "(a*)*".repeat(1000));
    assert!(parse("cliff.toml", &long).unwrap_err().contains("at most"));
    let big = "[git]\nskip_tags = '((a{100}){100}){100}'";
    assert!(parse("cliff.toml", big).unwrap_err().contains("skip_tags"));
    let deep = format!(
        "[git]\nskip_tags = '{}a{}'",
        "(".repeat(200),
        ")".repeat(200)
    );
    assert!(
        parse("cliff.toml", &deep)
            .unwrap_err()
            .contains("skip_tags")
    );
    // Catastrophic for a backtracking engine, linear here.
    let nested = format!(
        "[git]\ncommit_parsers = [{{ message = '^{}$', skip = true }}]",
        "(a*)*".repeat(50)
    );
    let r = compiled("cliff.toml", &nested);
    // (Kept under the 4 KiB of a message that is matched, so the `!` is seen.)
    let attack = format!("{}!", "a".repeat(1_500));
    assert_eq!(kept(r.commit(&commit(&attack, &attack))), None);
    // Ten thousand parsers.
    let many = format!(
        "[git]\ncommit_parsers = [{}]",
        vec!["{message='x'}"; 10_000].join(",")
    );
    let err = parse("cliff.toml", &many).unwrap_err();
    assert!(err.contains("at most 100"), "{err}");
    // Long names, long lists, templates that would expand without end.
    let name = format!(
        "[git]\ncommit_parsers = [{{ message = 'x', group = '{}' }}]",
        "g".repeat(300)
    );
    assert!(parse("cliff.toml", &name).unwrap_err().contains("group"));
    let many_labels = format!(
        "changelog:\n  exclude:\n    labels: [{}]",
        vec!["x"; 300].join(",")
    );
    assert!(
        parse(".github/release.yml", &many_labels)
            .unwrap_err()
            .contains("at most")
    );
    let refs = format!(
        "[git]\ncommit_parsers = [{{ message = '(.*)', group = '{}' }}]",
        "$1".repeat(100)
    );
    let r = compiled("cliff.toml", &refs);
    let title = kept(r.commit(&commit(&"z".repeat(60_000), ""))).unwrap();
    assert!(title.chars().count() <= MAX_NAME_CHARS, "{}", title.len());
}

#[test]
fn hostile_nesting_and_aliases_are_refused() {
    let toml_deep = format!("a = {}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(parse("cliff.toml", &toml_deep).is_err());
    let json_deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(parse("release-please-config.json", &json_deep).is_err());
    let yaml_deep = format!("changelog: {}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(
        parse(".github/release.yml", &yaml_deep)
            .unwrap_err()
            .contains("nested")
    );
    // A billion laughs, under keys that are not read (still walked).
    let mut bomb = format!("a: &a [{}]\n", ["\"lol\""; 9].join(","));
    for (prev, name) in "abcdefgh".chars().zip("bcdefghi".chars()) {
        let refs = vec![format!("*{prev}"); 9].join(",");
        bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    let err = parse(".github/release.yml", &bomb).unwrap_err();
    assert!(err.contains("aliases"), "{err}");
    // Not anchors: `R&D`, a quoted `*`, a `*` in a comment; brackets inside a login.
    let fine = "changelog: # *all* of it
  categories:
    - title: R&D
      labels: [\"*\", '&x']
  exclude:
    authors:
      - dependabot[bot]
";
    let r = parse(".github/release.yml", fine)
        .unwrap()
        .unwrap()
        .github
        .unwrap();
    assert_eq!(r.categories[0].labels, ["*", "&x"]);
    assert_eq!(r.exclude_authors, ["dependabot[bot]"]);
    // Rules that would not fit the state.
    let parsers: Vec<String> = (0..100)
        .map(|i| {
            format!(
                "{{ message = '^{}{i}', group = '{}' }}",
                "m".repeat(100),
                "g".repeat(200)
            )
        })
        .collect();
    let fat = format!("[git]\ncommit_parsers = [{}]", parsers.join(","));
    assert!(
        parse("cliff.toml", &fat)
            .unwrap_err()
            .contains("KiB are kept")
    );
}
