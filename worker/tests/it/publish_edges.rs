//! The `git` strategy against hostile branches and racing publishes, on the real git server:
//! a symlink committed at a doc's path or at the docs folder is replaced by the file in the
//! pushed branch and never followed on the worker's machine; an older publish never replaces
//! newer docs nor clears the pending record a newer, failed publish left (another process's
//! change set, fenced on the state version); one publish per repository at a time in a
//! process.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use coderipple_core::WorkerError;
use coderipple_core::contract::fixtures;
use coderipple_core::envelope::Envelope;
use coderipple_core::metrics::Metrics;
use coderipple_core::store::PublishStatus;
use coderipple_engine::{AgentSet, DocFile};
use coderipple_testkit::{GitServer, LocalWorker, files_under, git};
use coderipple_worker::publish::{
    DocStrategy, Identity, PublishConfig, Published, Publisher, Publishing, message_for,
};
use coderipple_worker::publish_repo;
use coderipple_worker::{WorkerContext, apply_change_set};

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
        git_timeout: Duration::from_secs(60),
        ..PublishConfig::default()
    }
}

fn push(delivery: &str, n: u64, message: &str) -> Envelope {
    fixtures::push(REPO, delivery, vec![fixtures::commit(n, message)])
}

/// A person's docs branch, from `main`, whose commit `plant` makes in the work tree.
fn branch_with(server: &GitServer, plant: impl FnOnce(&Path)) {
    let work = server.clone(REPO, "main");
    git(work.path(), &["checkout", "-q", "-b", BRANCH]);
    plant(work.path());
    git(work.path(), &["add", "-A"]);
    git(
        work.path(),
        &["commit", "-q", "-m", "docs: link the changelog"],
    );
    git(work.path(), &["push", "-q", "origin", BRANCH]);
}

/// `git ls-tree -r` of the docs folder on the pushed branch: path → mode.
fn modes_on_branch(server: &GitServer) -> BTreeMap<String, String> {
    let listing = git(
        &server.path(REPO),
        &["ls-tree", "-r", BRANCH, "--", "docs/coderipple"],
    );
    listing
        .lines()
        .filter_map(|l| {
            let (meta, path) = l.split_once('\t')?;
            Some((path.to_owned(), meta.split(' ').next()?.to_owned()))
        })
        .collect()
}

fn docs_on_branch(server: &GitServer) -> BTreeMap<String, String> {
    let clone = server.clone(REPO, BRANCH);
    files_under(&clone.path().join("docs/coderipple"))
}

#[tokio::test]
async fn a_symlinked_doc_on_the_branch_is_replaced_by_the_file_never_written_through() {
    let server = GitServer::start();
    server.create(REPO, false);
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, "precious\n").unwrap();
    branch_with(&server, |work| {
        let decisions = work.join("docs/coderipple/decisions");
        std::fs::create_dir_all(&decisions).unwrap();
        std::os::unix::fs::symlink(&secret, decisions.join("changelog.md")).unwrap();
    });
    let h = LocalWorker::new().publish(&config(server.url(REPO)));
    let outcome = apply_change_set(&h.ctx, REPO, &[push("d1", 1, "feat: first")], LEASE)
        .await
        .unwrap()
        .publish
        .unwrap();

    assert_eq!(outcome.status, PublishStatus::Published, "{outcome:?}");
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap(),
        "precious\n",
        "the file the link pointed at is untouched"
    );
    let modes = modes_on_branch(&server);
    assert_eq!(
        modes["docs/coderipple/decisions/changelog.md"], "100644",
        "{modes:?}"
    );
    assert!(modes.values().all(|m| m == "100644"), "{modes:?}");
    assert_eq!(docs_on_branch(&server), h.docs(REPO));
}

#[tokio::test]
async fn a_symlinked_docs_folder_on_the_branch_is_replaced_never_written_through() {
    let server = GitServer::start();
    server.create(REPO, false);
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("keep.txt"), "kept\n").unwrap();
    branch_with(&server, |work| {
        std::fs::create_dir_all(work.join("docs")).unwrap();
        std::os::unix::fs::symlink(outside.path(), work.join("docs/coderipple")).unwrap();
    });
    let h = LocalWorker::new().publish(&config(server.url(REPO)));
    let outcome = apply_change_set(&h.ctx, REPO, &[push("d1", 1, "feat: first")], LEASE)
        .await
        .unwrap()
        .publish
        .unwrap();

    assert_eq!(outcome.status, PublishStatus::Published, "{outcome:?}");
    assert_eq!(
        files_under(outside.path()),
        BTreeMap::from([("keep.txt".to_owned(), "kept\n".to_owned())]),
        "nothing was written into the folder the link pointed at"
    );
    let modes = modes_on_branch(&server);
    assert!(
        modes.contains_key("docs/coderipple/decisions/changelog.md"),
        "{modes:?}"
    );
    assert!(modes.values().all(|m| m == "100644"), "{modes:?}");
    assert_eq!(docs_on_branch(&server), h.docs(REPO));
}

fn hook(server: &GitServer, script: &str) {
    let hook = server.path(REPO).join("hooks/pre-receive");
    std::fs::write(&hook, script).unwrap();
    let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&hook, executable).unwrap();
}

async fn wait_for(file: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !file.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_publish_never_replaces_newer_docs_nor_clears_their_pending_record() {
    let server = GitServer::start();
    server.create(REPO, false);
    let cfg = config(server.url(REPO));
    let h = Arc::new(LocalWorker::new().publish(&cfg));
    let store = h.ctx.store.clone();
    let first = apply_change_set(&h.ctx, REPO, &[push("d1", 1, "feat: first")], LEASE)
        .await
        .unwrap();
    assert_eq!(first.publish.unwrap().status, PublishStatus::Published);
    // The second change set's publish is refused: pending, at its state version.
    hook(&server, "#!/bin/sh\necho 'docs are frozen' >&2\nexit 1\n");
    let second = apply_change_set(&h.ctx, REPO, &[push("d2", 2, "fix: second")], LEASE)
        .await
        .unwrap();
    assert_eq!(second.publish.unwrap().status, PublishStatus::Pending);
    let v2 = store.repo_version(REPO).await.unwrap().unwrap();
    assert_eq!(
        store.publish_pending(REPO).await.unwrap().unwrap().version,
        v2
    );

    // From now on the first push waits until told to go on; every later one is refused.
    let ctl = tempfile::tempdir().unwrap();
    let c = ctl.path().display();
    hook(
        &server,
        &format!(
            "#!/bin/sh\nn=$(cat '{c}/count' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{c}/count'\n\
             if [ $n -eq 1 ]; then touch '{c}/entered'; while [ ! -e '{c}/go' ]; do sleep 0.05; done; exit 0; fi\n\
             echo 'docs are frozen' >&2; exit 1\n"
        ),
    );
    // The sweep publishes the pending docs (state v2) and stops in the middle of its push.
    let older = {
        let h = h.clone();
        tokio::spawn(async move { publish_repo(&h.ctx, REPO, &message_for("catch up")).await })
    };
    wait_for(&ctl.path().join("entered")).await;
    // Meanwhile another process (its own publisher, no lock shared) applies a third change
    // set, whose publish is refused: pending at v3.
    let mut other = WorkerContext::new(
        &h.backend,
        h.ctx.sink.clone(),
        AgentSet::builtin(),
        Metrics::off(),
    );
    other.publishing = cfg.publishing(None).unwrap();
    let third = apply_change_set(&other, REPO, &[push("d3", 3, "feat: third")], LEASE)
        .await
        .unwrap();
    assert_eq!(third.publish.unwrap().status, PublishStatus::Pending);
    let v3 = store.repo_version(REPO).await.unwrap().unwrap();
    assert!(v3 > v2);

    // The older push lands. Its docs are not the newest: the record stays, and the older
    // publish goes again with v3's docs (refused too, so it ends pending at v3).
    std::fs::write(ctl.path().join("go"), "").unwrap();
    let outcome = older.await.unwrap().unwrap();
    assert_eq!(outcome.status, PublishStatus::Pending, "{outcome:?}");
    let pending = store.publish_pending(REPO).await.unwrap();
    assert_eq!(
        pending.map(|p| p.version),
        Some(v3),
        "v3's record was cleared"
    );

    // Once the remote accepts, the newest docs land, and only that clears the record.
    std::fs::remove_file(server.path(REPO).join("hooks/pre-receive")).unwrap();
    let last = publish_repo(&h.ctx, REPO, &message_for("catch up"))
        .await
        .unwrap();
    assert_eq!(last.status, PublishStatus::Published, "{last:?}");
    assert_eq!(store.publish_pending(REPO).await.unwrap(), None);
    let on_branch = docs_on_branch(&server);
    assert_eq!(on_branch, h.docs(REPO));
    assert!(
        on_branch["decisions/changelog.md"].contains("third"),
        "{on_branch:?}"
    );
}

/// A publisher that records how many publishes of it run at once: each stays until a second
/// one joins it, or two seconds pass.
#[derive(Debug, Default)]
struct Overlap {
    running: AtomicUsize,
    most: AtomicUsize,
}

#[async_trait::async_trait]
impl Publisher for Overlap {
    fn strategy(&self) -> &'static str {
        "overlap"
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
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        let joined = async {
            while self.running.load(Ordering::SeqCst) < 2 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), joined).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        Ok(Published::Unchanged)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_publish_per_repository_at_a_time_in_a_process() {
    let overlap = Arc::new(Overlap::default());
    let mut h = LocalWorker::new();
    h.ctx_mut().publishing = Some(Publishing::new(
        overlap.clone(),
        Duration::from_millis(10),
        Duration::ZERO,
    ));
    let message = message_for("publish");
    let (a, b) = tokio::join!(
        publish_repo(&h.ctx, REPO, &message),
        publish_repo(&h.ctx, REPO, &message),
    );
    assert_eq!(a.unwrap().status, PublishStatus::Unchanged);
    assert_eq!(b.unwrap().status, PublishStatus::Unchanged);
    assert_eq!(
        overlap.most.load(Ordering::SeqCst),
        1,
        "two publishes of one repository ran at once"
    );
    // Other repositories are not held up by it.
    let (c, d) = tokio::join!(
        publish_repo(&h.ctx, "o/one", &message),
        publish_repo(&h.ctx, "o/two", &message),
    );
    assert!(c.is_some() && d.is_some());
    assert_eq!(overlap.most.load(Ordering::SeqCst), 2);
}
