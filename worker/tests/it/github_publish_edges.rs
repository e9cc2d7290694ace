//! Publishing through GitHub's API (the stand-in behind Prism) against hostile trees and busy
//! repositories: a symlink at a doc's path — even one whose blob is the doc's own bytes — is
//! rewritten as a regular file; a symlink (or file) where the docs folder or a folder inside
//! it goes is replaced by a folder of regular files, keeping a person's other files; and the
//! standing pull request is found however many newer pull requests are open, also when the
//! answer to opening it was lost.

use coderipple_core::store::PublishStatus;
use coderipple_worker::publish::{DocStrategy, message_for};
use coderipple_worker::publish_repo;

use crate::github_publish::{BRANCH, REPO, Setup, apply, push, setup};

/// Every stored doc is a regular file (`100644`) with the stored contents on `branch`.
fn assert_docs_are_files(s: &Setup, branch: &str) {
    let docs = s.worker.docs(REPO);
    assert!(!docs.is_empty());
    for (rel, contents) in docs {
        let path = format!("docs/coderipple/{rel}");
        assert_eq!(
            s.standin.state.entry_on(REPO, branch, &path),
            Some(("100644".to_owned(), contents)),
            "{path} on {branch}"
        );
    }
}

#[tokio::test]
async fn a_symlink_at_a_doc_is_rewritten_as_a_file_even_when_its_blob_is_the_docs() {
    let s = setup(DocStrategy::GitHubDirect).await;
    let st = &s.standin.state;
    let first = apply(&s, &[push("d1", 1, "feat: first gears")]).await;
    assert_eq!(first.status, PublishStatus::Published, "{first:?}");
    // A person makes the changelog a symlink whose target is the doc's text: the same blob.
    let path = "docs/coderipple/decisions/changelog.md";
    let doc = s.worker.doc(REPO, "decisions/changelog.md");
    st.push_symlink_as_person(REPO, "main", path, &doc, "docs: link the changelog");
    assert_eq!(st.entry_on(REPO, "main", path).unwrap().0, "120000");

    let again = publish_repo(s.ctx(), REPO, &message_for("publish again"))
        .await
        .unwrap();
    assert_eq!(again.status, PublishStatus::Published, "{again:?}");
    assert_docs_are_files(&s, "main");
}

#[tokio::test]
async fn a_symlinked_docs_folder_on_github_becomes_a_folder_of_regular_files() {
    let s = setup(DocStrategy::GitHubDirect).await;
    let st = &s.standin.state;
    st.push_symlink_as_person(REPO, "main", "docs/coderipple", "/etc", "docs: link");
    let out = apply(&s, &[push("d1", 1, "feat: first gears")]).await;
    assert_eq!(
        out.status,
        PublishStatus::Published,
        "{out:?}\nprism: {}",
        s.prism.output()
    );
    assert_docs_are_files(&s, "main");
    assert_eq!(st.files_on(REPO, "main")["README.md"], "# Gearbox\n");

    // A folder inside the docs folder made a symlink, beside a person's note: the folder is
    // rebuilt, the note kept.
    st.push_as_person(
        REPO,
        "main",
        &[("docs/coderipple/NOTES.md", "kept\n")],
        "docs: a note",
    );
    st.push_symlink_as_person(REPO, "main", "docs/coderipple/decisions", "../..", "link");
    let out = apply(&s, &[push("d2", 2, "fix: second gears")]).await;
    assert_eq!(out.status, PublishStatus::Published, "{out:?}");
    assert_docs_are_files(&s, "main");
    assert_eq!(
        st.entry_on(REPO, "main", "docs/coderipple/NOTES.md"),
        Some(("100644".to_owned(), "kept\n".to_owned()))
    );
    assert_eq!(st.entry_on(REPO, "main", "docs/coderipple/decisions"), None);
}

#[tokio::test]
async fn a_symlinked_parent_of_the_docs_folder_on_the_pull_requests_branch_is_replaced() {
    let s = setup(DocStrategy::GitHubPr).await;
    let st = &s.standin.state;
    apply(&s, &[push("d1", 1, "feat: first gears")]).await;
    // A person makes `docs` on the docs branch a symlink.
    st.push_symlink_as_person(REPO, BRANCH, "docs", "/", "docs: link");
    let out = apply(&s, &[push("d2", 2, "fix: second gears")]).await;
    assert_eq!(out.status, PublishStatus::Published, "{out:?}");
    assert_docs_are_files(&s, BRANCH);
    assert_eq!(st.pulls(REPO).len(), 1);
}

#[tokio::test]
async fn the_standing_pull_request_is_found_among_more_than_a_hundred_newer_ones() {
    let s = setup(DocStrategy::GitHubPr).await;
    let st = &s.standin.state;
    let first = apply(&s, &[push("d1", 1, "feat: first gears")]).await;
    assert_eq!(first.status, PublishStatus::Published);
    // A busy repository: 120 newer open pull requests into main (Dependabot, Renovate), and
    // a fork's from a branch of the same name.
    for i in 0..120 {
        st.open_pull_as_person(REPO, REPO, &format!("deps/bump-{i}"), "main");
    }
    let fork = st.open_pull_as_person(REPO, "mallory/gearbox", BRANCH, "main");

    let out = apply(&s, &[push("d2", 2, "fix: second gears")]).await;
    assert_eq!(out.status, PublishStatus::Published, "{out:?}");
    let pulls = st.pulls(REPO);
    assert_eq!(pulls.len(), 122, "no pull request opened");
    let listed = pulls[0]
        .body
        .lines()
        .filter(|l| l.starts_with("- `update"))
        .count();
    assert_eq!(listed, 2, "ours is updated: {}", pulls[0].body);
    assert_eq!(pulls[fork as usize - 1].body, "Please merge.");
    assert_eq!(s.calls("POST /repos/acme/gearbox/pulls 422"), 0);
    assert_eq!(s.calls("POST /repos/acme/gearbox/pulls 201"), 1);
    assert!(s.ctx().store.publish_pending(REPO).await.unwrap().is_none());
}

#[tokio::test]
async fn a_pull_request_whose_answer_was_lost_is_found_by_its_branch_not_opened_twice() {
    let s = setup(DocStrategy::GitHubPr).await;
    let st = &s.standin.state;
    for i in 0..120 {
        st.open_pull_as_person(REPO, REPO, &format!("deps/bump-{i}"), "main");
    }
    // Our pull request is opened, but the answer is lost: the retry hears "already exists".
    st.lose_answer_next("POST /repos/acme/gearbox/pulls", 1);
    let out = apply(&s, &[push("d1", 1, "feat: first gears")]).await;
    assert_eq!(out.status, PublishStatus::Published, "{out:?}");
    assert_eq!(s.calls("POST /repos/acme/gearbox/pulls 422"), 1);
    let ours: Vec<_> = st
        .pulls(REPO)
        .into_iter()
        .filter(|p| p.head == BRANCH)
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert!(s.ctx().store.publish_pending(REPO).await.unwrap().is_none());
}
