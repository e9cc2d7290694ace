//! The `git` strategy against a real git server on loopback (`git daemon`): the docs branch
//! starts at the default branch's head, one commit per change set that changed a doc and
//! none otherwise, a human's commit on the branch is built on and never lost, a refused or
//! unreachable remote leaves the events applied and the publish pending with its reason, and
//! `publish_repo` catches up once the remote is back; a slow publish keeps the delivery's lease.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use coderipple_core::WorkerError;
use coderipple_core::contract::fixtures;
use coderipple_core::envelope::Envelope;
use coderipple_core::store::{BeginOutcome, DeliveryStatus, PublishStatus};
use coderipple_engine::DocFile;
use coderipple_testkit::{GitServer, LocalWorker, files_under, free_port, git};
use coderipple_worker::apply_change_set;
use coderipple_worker::publish::{
    DocStrategy, Identity, PublishConfig, Published, Publisher, Publishing, message_for,
};
use coderipple_worker::publish_repo;

const REPO: &str = "o/r";
const BRANCH: &str = "coderipple/docs";
const LEASE: Duration = Duration::from_secs(60);

fn config(url: String) -> PublishConfig {
    PublishConfig {
        strategy: DocStrategy::Git,
        remotes: BTreeMap::from([(REPO.to_owned(), url)]),
        author: Some(Identity {
            name: "Docs Bot".into(),
            email: "docs-bot@example.com".into(),
        }),
        retry_delay: Duration::from_millis(20),
        git_timeout: Duration::from_secs(30),
        ..PublishConfig::default()
    }
}

fn push(delivery: &str, n: u64, message: &str) -> Envelope {
    fixtures::push(REPO, delivery, vec![fixtures::commit(n, message)])
}

/// Commits on `branch` of the clone in `dir`, newest first.
fn log(dir: &std::path::Path) -> Vec<String> {
    git(dir, &["log", "--format=%H %an <%ae> %s"])
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_docs_branch_gets_one_commit_per_change_and_keeps_human_commits() {
    let server = GitServer::start();
    let main_head = server.create(REPO, false);
    let h = LocalWorker::new().publish(&config(server.url(REPO)));

    let summary = apply_change_set(&h.ctx, REPO, &[push("d1", 1, "feat: first")], LEASE)
        .await
        .unwrap();
    let outcome = summary.publish.expect("published");
    assert_eq!(outcome.status, PublishStatus::Published, "{outcome:?}");
    let first = outcome.commit.clone().unwrap();

    // The branch starts at main's head and holds exactly the store's docs, under the path.
    let clone = server.clone(REPO, BRANCH);
    assert_eq!(git(clone.path(), &["rev-parse", "HEAD"]).trim(), first);
    assert_eq!(git(clone.path(), &["rev-parse", "HEAD^"]).trim(), main_head);
    assert_eq!(
        files_under(&clone.path().join("docs/coderipple")),
        h.docs(REPO)
    );
    assert!(
        clone.path().join("README.md").exists(),
        "main's files are kept"
    );
    let newest = &log(clone.path())[0];
    assert!(
        newest.contains("Docs Bot <docs-bot@example.com> docs(coderipple): update for push"),
        "{newest}"
    );

    // The same events under new delivery ids change no doc: no commit.
    let again = apply_change_set(&h.ctx, REPO, &[push("d1-again", 1, "feat: first")], LEASE)
        .await
        .unwrap();
    assert_eq!(again.publish.unwrap().status, PublishStatus::Unchanged);
    // A redelivery of a completed delivery does not publish at all.
    let redelivered = apply_change_set(&h.ctx, REPO, &[push("d1", 1, "feat: first")], LEASE)
        .await
        .unwrap();
    assert_eq!(redelivered.publish, None);

    // A human commits to the docs branch; the next change set builds on it, without force.
    std::fs::write(
        clone.path().join("docs/coderipple/NOTES.md"),
        "kept by a human\n",
    )
    .unwrap();
    git(clone.path(), &["add", "-A"]);
    git(clone.path(), &["commit", "-q", "-m", "docs: a human note"]);
    git(clone.path(), &["push", "-q", "origin", BRANCH]);
    let human = git(clone.path(), &["rev-parse", "HEAD"]).trim().to_owned();
    let next = apply_change_set(&h.ctx, REPO, &[push("d2", 2, "fix: second")], LEASE)
        .await
        .unwrap()
        .publish
        .unwrap();
    assert_eq!(next.status, PublishStatus::Published);
    let fresh = server.clone(REPO, BRANCH);
    assert_eq!(git(fresh.path(), &["rev-parse", "HEAD^"]).trim(), human);
    assert_eq!(
        std::fs::read_to_string(fresh.path().join("docs/coderipple/NOTES.md")).unwrap(),
        "kept by a human\n"
    );
    let changelog =
        std::fs::read_to_string(fresh.path().join("docs/coderipple/decisions/changelog.md"))
            .unwrap();
    assert!(
        changelog.contains("second") && changelog.contains("first"),
        "{changelog}"
    );
    // main, our first commit, the human's, our second: nothing else.
    assert_eq!(log(fresh.path()).len(), 4, "{:?}", log(fresh.path()));
    // The commit holds only the files that changed.
    let changed = git(fresh.path(), &["show", "--name-only", "--format=", "HEAD"]);
    assert!(!changed.contains("NOTES.md"), "{changed}");
    assert!(
        changed.contains("docs/coderipple/decisions/changelog.md"),
        "{changed}"
    );
}

#[tokio::test]
async fn an_empty_remote_gets_the_branch_from_nothing() {
    let server = GitServer::start();
    server.create(REPO, true);
    let h = LocalWorker::new().publish(&config(server.url(REPO)));
    let outcome = apply_change_set(&h.ctx, REPO, &[push("d1", 1, "feat: first")], LEASE)
        .await
        .unwrap()
        .publish
        .unwrap();
    assert_eq!(outcome.status, PublishStatus::Published, "{outcome:?}");
    let clone = server.clone(REPO, BRANCH);
    assert_eq!(log(clone.path()).len(), 1);
    assert_eq!(
        files_under(&clone.path().join("docs/coderipple")),
        h.docs(REPO)
    );
}

#[tokio::test]
async fn a_missing_or_refusing_remote_leaves_the_events_applied_and_the_publish_pending() {
    let server = GitServer::start();
    // Not created yet: the daemon refuses it (permanent, not retried).
    let h = LocalWorker::new().publish(&config(server.url(REPO)));
    let summary = apply_change_set(&h.ctx, REPO, &[push("d1", 1, "feat: first")], LEASE)
        .await
        .unwrap();
    let outcome = summary.publish.unwrap();
    assert_eq!(outcome.status, PublishStatus::Pending);
    assert!(
        outcome.reason.as_deref().unwrap().contains("git ls-remote"),
        "{outcome:?}"
    );
    let record = h.ctx.store.delivery("d1").await.unwrap().unwrap();
    assert_eq!(
        record.status,
        DeliveryStatus::Completed,
        "the event counts as applied"
    );
    assert!(h.doc(REPO, "decisions/changelog.md").contains("first"));
    let pending = h.ctx.store.publish_pending(REPO).await.unwrap().unwrap();
    assert_eq!(pending.attempts, 1);

    // A hook refuses every push: pending, with the server's words.
    server.create(REPO, false);
    let hook = server.path(REPO).join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'docs are frozen this week' >&2\nexit 1\n",
    )
    .unwrap();
    let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&hook, executable).unwrap();
    let refused = apply_change_set(&h.ctx, REPO, &[push("d2", 2, "fix: second")], LEASE)
        .await
        .unwrap()
        .publish
        .unwrap();
    assert_eq!(refused.status, PublishStatus::Pending);
    assert!(
        refused
            .reason
            .as_deref()
            .unwrap()
            .contains("docs are frozen this week"),
        "{refused:?}"
    );
    let pending = h.ctx.store.publish_pending(REPO).await.unwrap().unwrap();
    assert_eq!(pending.attempts, 2);
    assert!(pending.reason.contains("docs are frozen"));

    // The remote accepts again: one publish catches up on both change sets, and clears it.
    std::fs::remove_file(&hook).unwrap();
    let caught_up = publish_repo(&h.ctx, REPO, &message_for("catch up"))
        .await
        .unwrap();
    assert_eq!(caught_up.status, PublishStatus::Published, "{caught_up:?}");
    assert_eq!(h.ctx.store.publish_pending(REPO).await.unwrap(), None);
    let clone = server.clone(REPO, BRANCH);
    let changelog =
        std::fs::read_to_string(clone.path().join("docs/coderipple/decisions/changelog.md"))
            .unwrap();
    assert!(
        changelog.contains("first") && changelog.contains("second"),
        "{changelog}"
    );
}

#[tokio::test]
async fn an_unreachable_remote_is_retried_then_left_pending() {
    let url = format!("git://127.0.0.1:{}/o/r.git", free_port());
    let h = LocalWorker::new().publish(&config(url));
    let outcome = apply_change_set(&h.ctx, REPO, &[push("d1", 1, "feat: first")], LEASE)
        .await
        .unwrap()
        .publish
        .unwrap();
    assert_eq!(outcome.status, PublishStatus::Pending);
    let reason = outcome.reason.unwrap();
    assert!(
        reason.starts_with("transient:"),
        "a network failure is transient: {reason}"
    );
    assert_eq!(
        h.ctx
            .store
            .publish_pending(REPO)
            .await
            .unwrap()
            .unwrap()
            .attempts,
        1
    );
}

/// A publisher that takes longer than the processing lease.
#[derive(Debug)]
struct Slow;

#[async_trait::async_trait]
impl Publisher for Slow {
    fn strategy(&self) -> &'static str {
        "slow"
    }
    fn target(&self, _repo: &str) -> Option<String> {
        Some("nowhere".into())
    }
    async fn publish(
        &self,
        _repo: &str,
        _files: &[DocFile],
        _message: &str,
        _prose: Option<&str>,
    ) -> Result<Published, WorkerError> {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        Ok(Published::Unchanged)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_publish_keeps_the_deliverys_lease() {
    let mut h = LocalWorker::new();
    h.ctx_mut().publishing = Some(Publishing::new(
        Arc::new(Slow),
        Duration::from_millis(10),
        Duration::ZERO,
    ));
    let ctx = Arc::new(h.ctx);
    let lease = Duration::from_millis(400);
    let worker = {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            apply_change_set(&ctx, REPO, &[push("slow-1", 1, "feat: slow")], lease).await
        })
    };
    // Well past the lease, while the publish still runs: another worker may not take over.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let ids = ["slow-1".to_owned()];
    let other = ctx
        .store
        .begin_processing_many(
            &ids,
            REPO,
            "another-worker",
            lease,
            Duration::from_secs(600),
        )
        .await
        .unwrap();
    assert!(
        matches!(other[0], BeginOutcome::LeasedElsewhere { .. }),
        "the lease lapsed during the publish: {other:?}"
    );
    let summary = worker.await.unwrap().unwrap();
    assert_eq!(summary.publish.unwrap().status, PublishStatus::Unchanged);
    let record = ctx.store.delivery("slow-1").await.unwrap().unwrap();
    assert_eq!(record.status, DeliveryStatus::Completed);
}
