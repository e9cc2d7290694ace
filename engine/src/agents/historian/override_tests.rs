//! Maintainers' edits survive: a merged pull request's `BEGIN_COMMIT_OVERRIDE` block and the
//! repository's overrides file rewrite or hide entries, whatever the order of the events,
//! across redeliveries, and a bad file keeps the edits read before.

use serde_json::json;

use coderipple_core::envelope::{Change, Envelope};

use crate::agents::AgentSet;
use crate::agents::testkit::{
    apply_all, assert_inert, commit, plan, pull_request, push, render, sha,
};
use crate::facts::analyse;
use crate::overrides::OVERRIDES_FILE;
use crate::pack::AgentPack;

const LOG: &str = "decisions/changelog.md";

fn merged(number: u64, merge: u32, body: &str) -> Envelope {
    let mut env = pull_request(&format!("pr{number}"), number, &[], body);
    if let Some(Change::PullRequest(p)) = &mut env.change {
        p.merge_commit_sha = Some(sha(merge));
    }
    env
}

fn commits() -> Envelope {
    push(
        "p1",
        vec![
            commit(1, "feat: frist try", &["a.rs"], &[], &[]),
            commit(2, "feat: squashed work (#7)", &["b.rs"], &[], &[]),
            commit(3, "chore: noise", &["c.rs"], &[], &[]),
        ],
    )
}

#[test]
fn a_pull_requests_block_and_the_file_edit_entries_in_any_order() {
    let set = AgentSet::builtin();
    let body = "Work.\n\nBEGIN_COMMIT_OVERRIDE\nfeat(api): add the gear endpoint\n\
                fix!: <b>drop</b> the old route\nEND_COMMIT_OVERRIDE\n";
    let file = "[[entry]]\ncommit = \"0000000000000000000000000000000000000001\"\n\
                message = \"feat: first try\"\n\
                [[entry]]\ncommit = \"0000000000000000000000000000000000000003\"\nhide = true\n";
    let mut state = json!({});
    // The pull request first, then its push.
    apply_all(&set, &plan(&set, vec![merged(7, 2, body)]), &mut state);
    let mut p = plan(&set, vec![commits()]);
    p.contents.insert(
        OVERRIDES_FILE.into(),
        analyse(&AgentPack::builtin(), OVERRIDES_FILE, file).unwrap(),
    );
    apply_all(&set, &p, &mut state);
    let text = render(&set, &state, LOG);
    assert_inert(&text);
    assert!(text.contains("- **api:** add the gear endpoint"), "{text}");
    assert!(
        text.contains("- **BREAKING** \\<b\\>drop\\</b\\> the old route"),
        "{text}"
    );
    assert!(!text.contains("squashed work"), "{text}");
    assert!(
        text.contains("- first try") && !text.contains("frist"),
        "{text}"
    );
    assert!(!text.contains("noise") && !text.contains(&sha(3)), "{text}");
    assert!(
        text.contains("3 entries are shown as the maintainers edited them"),
        "{text}"
    );
    // Redelivered, nothing changes; the edits are kept apart from the entries.
    apply_all(
        &set,
        &plan(&set, vec![commits(), merged(7, 2, body)]),
        &mut state,
    );
    assert_eq!(render(&set, &state, LOG), text);
}

#[test]
fn a_bad_overrides_file_keeps_the_edits_read_before_and_says_why() {
    let set = AgentSet::builtin();
    let pack = AgentPack::builtin();
    let mut state = json!({});
    let good = "[[entry]]\ncommit = \"0000000000000000000000000000000000000003\"\nhide = true\n";
    let mut p = plan(&set, vec![commits()]);
    p.contents.insert(
        OVERRIDES_FILE.into(),
        analyse(&pack, OVERRIDES_FILE, good).unwrap(),
    );
    apply_all(&set, &p, &mut state);
    let mut bad = plan(
        &set,
        vec![push(
            "p2",
            vec![commit(4, "fix: more", &[], &[OVERRIDES_FILE], &[])],
        )],
    );
    bad.contents.insert(
        OVERRIDES_FILE.into(),
        analyse(
            &pack,
            OVERRIDES_FILE,
            "[[entry]]\ncommit = \"nothex\"\nhide = true\n",
        )
        .unwrap(),
    );
    apply_all(&set, &bad, &mut state);
    let text = render(&set, &state, LOG);
    assert!(!text.contains(&sha(3)), "still hidden: {text}");
    assert!(
        text.contains("Not followed: .coderipple/overrides.toml: entry 1: commit must be"),
        "{text}"
    );
}
