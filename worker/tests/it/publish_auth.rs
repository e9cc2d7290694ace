//! The `git` strategy against a password-protected HTTP remote (git's own `http-backend`
//! behind Basic authentication, on loopback): a URL's user and password, with `/`, `@` and `:`
//! percent-encoded in it, reach the server — through the credential helper, not git's argv —
//! and the docs are pushed; a wrong password leaves the publish pending with a reason that
//! holds no part of it; the target shown to operators holds no credentials.

use std::collections::BTreeMap;
use std::time::Duration;

use coderipple_core::contract::fixtures;
use coderipple_core::store::PublishStatus;
use coderipple_testkit::{GitHttpServer, LocalWorker, git};
use coderipple_worker::apply_change_set;
use coderipple_worker::publish::{DocStrategy, PublishConfig};

const REPO: &str = "o/r";
const BRANCH: &str = "coderipple/docs";
const LEASE: Duration = Duration::from_secs(60);

fn config(url: String) -> PublishConfig {
    PublishConfig {
        strategy: DocStrategy::Git,
        remotes: BTreeMap::from([(REPO.to_owned(), url)]),
        retry_delay: Duration::from_millis(20),
        git_timeout: Duration::from_secs(60),
        ..PublishConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_protected_remote_gets_the_docs_and_the_password_is_never_shown() {
    let server = GitHttpServer::start("docs-bot", "p@ss/w:rd").await;
    server.create(REPO, false);
    let port = server.port;
    let url = format!("http://docs-bot:p%40ss%2Fw%3Ard@127.0.0.1:{port}/{REPO}.git");
    let h = LocalWorker::new().publish(&config(url));
    let push = fixtures::push(REPO, "d1", vec![fixtures::commit(1, "feat: first")]);
    let outcome = apply_change_set(&h.ctx, REPO, &[push], LEASE)
        .await
        .unwrap()
        .publish
        .unwrap();
    assert_eq!(outcome.status, PublishStatus::Published, "{outcome:?}");
    assert_eq!(
        outcome.target,
        format!("http://127.0.0.1:{port}/{REPO}.git ({BRANCH})")
    );
    let pushed = git(
        &server.path(REPO),
        &[
            "show",
            &format!("{BRANCH}:docs/coderipple/decisions/changelog.md"),
        ],
    );
    assert_eq!(pushed, h.doc(REPO, "decisions/changelog.md"));

    // A wrong password: refused, pending, and no part of it in the reason.
    let wrong = format!("http://docs-bot:n0t%2Fthe%40one@127.0.0.1:{port}/{REPO}.git");
    let h = LocalWorker::new().publish(&config(wrong));
    let push = fixtures::push(REPO, "d2", vec![fixtures::commit(2, "fix: second")]);
    let refused = apply_change_set(&h.ctx, REPO, &[push], LEASE)
        .await
        .unwrap()
        .publish
        .unwrap();
    assert_eq!(refused.status, PublishStatus::Pending, "{refused:?}");
    let reason = refused.reason.unwrap();
    for secret in ["n0t", "the@one", "the%40one", "%2F", "docs-bot"] {
        assert!(!reason.contains(secret), "{secret:?} in {reason}");
    }
    let stored = h.ctx.store.publish_pending(REPO).await.unwrap().unwrap();
    assert_eq!(stored.reason, reason);
}
