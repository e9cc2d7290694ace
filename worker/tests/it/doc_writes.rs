//! What a change set writes: only the docs whose text changed (their hashes are kept in the
//! repository's state), and every doc again on a redelivery (the first try may have stored
//! the state and died before its docs) or when the change set that stored the hashes never
//! completed (dead-lettered or purged after its state write).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use coderipple_core::envelope::Envelope;
use coderipple_testkit::{LocalWorker, history};
use coderipple_worker::apply_change_set;

const REPO: &str = "acme/gearbox";
const LEASE: Duration = Duration::from_secs(60);
const CHANGELOG: &str = "decisions/changelog.md";

/// Each doc's inode: a doc replaced (temp file + rename) gets a new one.
fn inodes(worker: &LocalWorker) -> BTreeMap<String, u64> {
    worker
        .docs(REPO)
        .into_keys()
        .map(|rel| {
            let meta = std::fs::metadata(worker.docs_dir().join(REPO).join(&rel)).unwrap();
            (rel, meta.ino())
        })
        .collect()
}

async fn apply(worker: &LocalWorker, env: &Envelope) -> Vec<String> {
    apply_change_set(&worker.ctx, REPO, std::slice::from_ref(env), LEASE)
        .await
        .unwrap()
        .docs
}

#[tokio::test]
async fn only_changed_docs_are_written_and_a_redelivery_writes_them_all() {
    let worker = LocalWorker::new();
    let first = apply(&worker, &history::push(REPO, 1)).await;
    let all: Vec<String> = worker.docs(REPO).into_keys().collect();
    assert!(all.len() >= 4, "{all:?}");
    assert_eq!(
        first.len(),
        all.len(),
        "a repository's first change writes every doc"
    );

    let (docs_before, inodes_before) = (worker.docs(REPO), inodes(&worker));
    let written = apply(&worker, &history::push(REPO, 2)).await;
    let (docs_after, inodes_after) = (worker.docs(REPO), inodes(&worker));
    assert!(written.contains(&CHANGELOG.to_owned()), "{written:?}");
    assert!(
        written.len() < all.len(),
        "some docs did not change: {written:?}"
    );
    for rel in &all {
        let changed = docs_before.get(rel) != docs_after.get(rel);
        let replaced = inodes_before.get(rel) != inodes_after.get(rel);
        assert_eq!(
            written.contains(rel),
            changed,
            "{rel}: listed iff its text changed"
        );
        assert_eq!(
            replaced, changed,
            "{rel}: replaced on disk iff its text changed"
        );
    }

    // The state (and its hashes) is stored before the docs: lose a doc as a crash in between
    // would, then redeliver the same commits under a new delivery id.
    std::fs::remove_file(worker.docs_dir().join(REPO).join(CHANGELOG)).unwrap();
    let mut again = history::push(REPO, 2);
    again.delivery = "push-2-redelivered".into();
    let rewritten = apply(&worker, &again).await;
    assert_eq!(
        worker.docs(REPO),
        docs_after,
        "the redelivery restored every doc"
    );
    assert!(rewritten.contains(&CHANGELOG.to_owned()), "{rewritten:?}");
}

#[tokio::test]
async fn hashes_of_a_change_set_that_never_completed_are_not_trusted() {
    let reference = LocalWorker::new();
    for n in 1..=3 {
        apply(&reference, &history::push(REPO, n)).await;
    }
    let worker = LocalWorker::new();
    apply(&worker, &history::push(REPO, 1)).await;
    apply(&worker, &history::push(REPO, 2)).await;
    // As if push 2's change set stored its state and then died for good before its docs
    // (dead-lettered on its last receive, then purged): none of its docs exist, and its
    // delivery never completes. Here: the docs are removed and the hashes name a delivery
    // that has no record.
    let current = worker.ctx.store.repo_state(REPO).await.unwrap().unwrap();
    let mut state = current.state.clone();
    state["docs"]["by"] = "push-2-never-completed".into();
    worker
        .ctx
        .store
        .put_repo_state(REPO, Some(current.version), &state)
        .await
        .unwrap();
    std::fs::remove_dir_all(worker.docs_dir().join(REPO)).unwrap();
    apply(&worker, &history::push(REPO, 3)).await;
    assert_eq!(
        worker.docs(REPO),
        reference.docs(REPO),
        "every doc written again, byte for byte"
    );
}
