//! Docs published through GitHub's API, against the stand-in behind Prism's validating proxy
//! (every request and answer checked against GitHub's OpenAPI description), as a GitHub App:
//! the standing pull request (opened once, rebuilt and updated, a person's commit never
//! force-pushed away, one others made unmergeable continued on a fresh branch, a new one after
//! a merge), direct commits, nothing written when nothing
//! changed (a replay, a redelivery, our own docs commit pushed back to us), a rate limit waited
//! out, nobody else's pull request taken for ours, a pull request a failed publish did not open
//! opened by the next, and refusals (not installed, no permission, a protected branch) leaving
//! the publish pending with its reason while the events stay applied.

use std::sync::Arc;
use std::time::Duration;

use coderipple_core::contract::fixtures;
use coderipple_core::envelope::Envelope;
use coderipple_core::store::{DeliveryStatus, PublishStatus};
use coderipple_testkit::{BOT_USER_ID, GitHubStandIn, LocalWorker, Prism, app_client, app_key};
use coderipple_worker::publish::{DocStrategy, PublishConfig, message_for};
use coderipple_worker::publish_repo;
use coderipple_worker::{WorkerContext, apply_change_set};

use crate::github::APP_ID;

pub(crate) const REPO: &str = "acme/gearbox";
pub(crate) const BRANCH: &str = "coderipple/docs";
const LEASE: Duration = Duration::from_secs(60);

pub(crate) struct Setup {
    pub(crate) standin: GitHubStandIn,
    pub(crate) prism: Prism,
    pub(crate) worker: LocalWorker,
    _keys: tempfile::TempDir,
}

impl Setup {
    pub(crate) fn ctx(&self) -> &WorkerContext {
        &self.worker.ctx
    }

    pub(crate) fn calls(&self, prefix: &str) -> usize {
        self.standin.state.count(prefix)
    }

    /// Writes to GitHub so far (trees, commits, refs, pulls).
    fn writes(&self) -> usize {
        self.standin
            .state
            .calls()
            .iter()
            .filter(|l| l.starts_with("POST /repos/") || l.starts_with("PATCH /repos/"))
            .count()
    }
}

/// A repository `acme/gearbox` with a README on `main`, the App installed on it, and a
/// worker publishing with `strategy`.
pub(crate) async fn setup(strategy: DocStrategy) -> Setup {
    let keys = tempfile::tempdir().unwrap();
    let (key_file, public) = app_key(keys.path());
    let standin = GitHubStandIn::start(APP_ID, &public).await;
    standin
        .state
        .seed_repo(REPO, "main", &[("README.md", "# Gearbox\n")]);
    standin.state.install(REPO, 90);
    let prism = Prism::start(&standin.url);
    let api = Arc::new(app_client(&prism.url, APP_ID, &key_file));
    let config = PublishConfig {
        strategy,
        retry_delay: Duration::from_millis(20),
        ..PublishConfig::default()
    };
    let worker = LocalWorker::new().publish_github(&config, api);
    Setup {
        standin,
        prism,
        worker,
        _keys: keys,
    }
}

pub(crate) fn push(delivery: &str, n: u64, message: &str) -> Envelope {
    Envelope {
        installation: Some(90),
        ..fixtures::push(REPO, delivery, vec![fixtures::commit(n, message)])
    }
}

pub(crate) async fn apply(
    s: &Setup,
    envelopes: &[Envelope],
) -> coderipple_core::store::PublishOutcome {
    let summary = apply_change_set(s.ctx(), REPO, envelopes, LEASE)
        .await
        .unwrap_or_else(|e| panic!("{e}\nprism: {}", s.prism.output()));
    summary.publish.expect("a publish outcome")
}

pub(crate) fn changelog_on(s: &Setup, branch: &str) -> String {
    s.standin
        .state
        .files_on(REPO, branch)
        .get("docs/coderipple/decisions/changelog.md")
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_standing_pull_request_is_opened_once_then_rebuilt_and_updated() {
    let s = setup(DocStrategy::GitHubPr).await;
    let st = &s.standin.state;
    let first = apply(&s, &[push("d1", 1, "feat: first gears")]).await;
    assert_eq!(first.status, PublishStatus::Published, "{first:?}");

    // The branch: one commit by the App's bot on top of main, holding the docs and main's files.
    let main = st.head(REPO, "main").unwrap();
    let head = st.head(REPO, BRANCH).unwrap();
    assert_eq!(first.commit.as_deref(), Some(head.as_str()));
    let commit = st.commit(&head).unwrap();
    assert_eq!(commit.parents, vec![main.clone()]);
    assert_eq!(
        commit.committer,
        (
            "coderipple[bot]".to_owned(),
            format!("{BOT_USER_ID}+coderipple[bot]@users.noreply.github.com")
        )
    );
    assert!(
        commit
            .message
            .starts_with("docs(coderipple): update for push")
    );
    let files = st.files_on(REPO, BRANCH);
    assert_eq!(files["README.md"], "# Gearbox\n");
    assert!(changelog_on(&s, BRANCH).contains("first gears"));
    assert!(files.contains_key("docs/coderipple/system/architecture.md"));
    assert_eq!(
        files.get("docs/coderipple/decisions/changelog.md"),
        Some(&s.worker.doc(REPO, "decisions/changelog.md")),
        "the branch holds what the store holds"
    );
    let pulls = st.pulls(REPO);
    assert_eq!(pulls.len(), 1);
    assert_eq!(
        (pulls[0].head.as_str(), pulls[0].base.as_str()),
        (BRANCH, "main")
    );
    assert!(
        pulls[0].body.contains("- `update for push"),
        "{}",
        pulls[0].body
    );

    // A second change set: the branch is rebuilt (forced; only our commit is replaced) as one
    // commit on main, and the same pull request is updated.
    let second = apply(&s, &[push("d2", 2, "fix: second gears")]).await;
    assert_eq!(second.status, PublishStatus::Published);
    let head = st.head(REPO, BRANCH).unwrap();
    assert_eq!(st.commit(&head).unwrap().parents, vec![main]);
    assert!(changelog_on(&s, BRANCH).contains("second gears"));
    assert_eq!(
        s.calls("PATCH /repos/acme/gearbox/git/refs/heads%2Fcoderipple%2Fdocs (force) 200")
            + s.calls("PATCH /repos/acme/gearbox/git/refs/heads/coderipple/docs (force) 200"),
        1,
        "{:?}",
        st.calls()
    );
    assert_eq!(s.calls("POST /repos/acme/gearbox/pulls 201"), 1);
    let pulls = st.pulls(REPO);
    assert_eq!(pulls.len(), 1);
    let listed = pulls[0]
        .body
        .lines()
        .filter(|l| l.starts_with("- `update for push"))
        .count();
    assert_eq!(listed, 2, "{}", pulls[0].body);

    // The same events again under new delivery ids (a replay): the same docs, so nothing is
    // written to GitHub; a redelivery of a completed delivery publishes nothing at all.
    let writes = s.writes();
    let replay = apply(&s, &[push("d2-replay", 2, "fix: second gears")]).await;
    assert_eq!(replay.status, PublishStatus::Unchanged, "{replay:?}");
    let again = apply_change_set(s.ctx(), REPO, &[push("d2", 2, "fix: second gears")], LEASE)
        .await
        .unwrap();
    assert!(again.publish.is_none() && again.skipped_completed == ["d2"]);
    assert_eq!(s.writes(), writes, "{:?}", st.calls());
    assert_eq!(st.head(REPO, BRANCH).unwrap(), head);
}

#[tokio::test]
async fn a_persons_commit_on_the_branch_is_never_force_pushed_away() {
    let s = setup(DocStrategy::GitHubPr).await;
    let st = &s.standin.state;
    apply(&s, &[push("d1", 1, "feat: first gears")]).await;
    let theirs = st.push_as_person(
        REPO,
        BRANCH,
        &[("docs/coderipple/NOTES.md", "mine\n")],
        "notes",
    );

    let out = apply(&s, &[push("d2", 2, "fix: second gears")]).await;
    assert_eq!(out.status, PublishStatus::Published);
    let head = st.head(REPO, BRANCH).unwrap();
    assert_eq!(
        st.commit(&head).unwrap().parents,
        vec![theirs.clone()],
        "on top of theirs"
    );
    assert!(st.history(REPO, BRANCH).contains(&theirs));
    assert_eq!(
        st.files_on(REPO, BRANCH)["docs/coderipple/NOTES.md"],
        "mine\n"
    );
    assert!(changelog_on(&s, BRANCH).contains("second gears"));
    let forced = st.calls().iter().filter(|l| l.contains("(force)")).count();
    assert_eq!(
        forced,
        0,
        "the first publish created the branch; none forced it: {:?}",
        st.calls()
    );
    let pulls = st.pulls(REPO);
    assert_eq!(pulls.len(), 1);
    assert!(
        pulls[0].body.contains("Someone else has pushed"),
        "{}",
        pulls[0].body
    );

    // Still theirs under ours: the next change set adds on top again, never forcing.
    apply(&s, &[push("d3", 3, "fix: third gears")]).await;
    assert!(st.history(REPO, BRANCH).contains(&theirs));
    assert_eq!(
        st.calls().iter().filter(|l| l.contains("(force)")).count(),
        0
    );
}

#[tokio::test]
async fn a_pull_request_others_made_unmergeable_is_continued_on_a_fresh_branch() {
    let s = setup(DocStrategy::GitHubPr).await;
    let st = &s.standin.state;
    apply(&s, &[push("d1", 1, "feat: first gears")]).await;
    let theirs = st.push_as_person(
        REPO,
        BRANCH,
        &[("docs/coderipple/NOTES.md", "x\n")],
        "notes",
    );
    st.set_mergeable(REPO, 1, false);
    let main = st.head(REPO, "main").unwrap();

    let out = apply(&s, &[push("d2", 2, "fix: second gears")]).await;
    assert_eq!(out.status, PublishStatus::Published, "{out:?}");
    // Their branch is left as they left it.
    assert_eq!(st.head(REPO, BRANCH).unwrap(), theirs);
    let fresh = format!("{BRANCH}-{}", &main[..7]);
    let head = st.head(REPO, &fresh).expect("a fresh branch");
    assert_eq!(st.commit(&head).unwrap().parents, vec![main]);
    assert!(changelog_on(&s, &fresh).contains("second gears"));
    let pulls = st.pulls(REPO);
    assert_eq!(pulls.len(), 2, "{pulls:?}");
    assert_eq!(
        (pulls[0].state.as_str(), pulls[1].state.as_str()),
        ("open", "open")
    );
    assert_eq!(pulls[1].head, fresh);
    assert!(pulls[1].body.contains("continues #1"), "{}", pulls[1].body);
    assert_eq!(pulls[0].comments.len(), 1);
    assert!(
        pulls[0].comments[0].contains("continue in #2"),
        "{:?}",
        pulls[0].comments
    );

    // The next change goes to the new pull request (rebuilt: all its commits are ours).
    apply(&s, &[push("d3", 3, "fix: third gears")]).await;
    assert!(changelog_on(&s, &fresh).contains("third gears"));
    assert_eq!(st.head(REPO, BRANCH).unwrap(), theirs);
    let pulls = st.pulls(REPO);
    assert_eq!(pulls.len(), 2);
    assert_eq!(pulls[0].comments.len(), 1, "said once");
    let listed = pulls[1]
        .body
        .lines()
        .filter(|l| l.starts_with("- `update"))
        .count();
    assert_eq!(listed, 2, "{}", pulls[1].body);
}

#[tokio::test]
async fn after_the_pull_request_is_merged_the_next_change_opens_a_new_one() {
    let s = setup(DocStrategy::GitHubPr).await;
    let st = &s.standin.state;
    apply(&s, &[push("d1", 1, "feat: first gears")]).await;
    st.merge_pull(REPO, 1);
    let main = st.head(REPO, "main").unwrap();
    assert!(changelog_on(&s, "main").contains("first gears"));

    let out = apply(&s, &[push("d2", 2, "fix: second gears")]).await;
    assert_eq!(out.status, PublishStatus::Published);
    let pulls = st.pulls(REPO);
    assert_eq!(pulls.len(), 2, "{pulls:?}");
    assert!(pulls[0].merged && pulls[0].state == "closed");
    assert_eq!(pulls[1].state, "open");
    let listed = pulls[1]
        .body
        .lines()
        .filter(|l| l.starts_with("- `update"))
        .count();
    assert_eq!(listed, 1, "a fresh body: {}", pulls[1].body);
    let head = st.head(REPO, BRANCH).unwrap();
    assert_eq!(
        st.commit(&head).unwrap().parents,
        vec![main],
        "rebuilt on the merged main"
    );
}

#[tokio::test]
async fn direct_commits_land_on_the_default_branch_once_per_change() {
    let s = setup(DocStrategy::GitHubDirect).await;
    let st = &s.standin.state;
    let initial = st.head(REPO, "main").unwrap();
    let first = apply(&s, &[push("d1", 1, "feat: first gears")]).await;
    assert_eq!(first.status, PublishStatus::Published);
    let one = st.head(REPO, "main").unwrap();
    assert_eq!(st.commit(&one).unwrap().parents, vec![initial]);
    assert!(changelog_on(&s, "main").contains("first gears"));

    apply(&s, &[push("d2", 2, "fix: second gears")]).await;
    let two = st.head(REPO, "main").unwrap();
    let commit = st.commit(&two).unwrap();
    assert_eq!(commit.parents, vec![one], "a fast-forward, never forced");
    assert!(st.calls().iter().all(|l| !l.contains("(force)")));
    assert!(st.pulls(REPO).is_empty());

    let writes = s.writes();
    let replay = apply(&s, &[push("d2-replay", 2, "fix: second gears")]).await;
    assert_eq!(replay.status, PublishStatus::Unchanged);
    assert_eq!(s.writes(), writes);
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_and_the_publish_goes_through() {
    let s = setup(DocStrategy::GitHubDirect).await;
    let st = &s.standin.state;
    st.fail_next("POST /repos/acme/gearbox/git/trees", 429, Some(1), 1);
    let out = apply(&s, &[push("d1", 1, "feat: first gears")]).await;
    assert_eq!(out.status, PublishStatus::Published, "{out:?}");
    assert_eq!(s.calls("POST /repos/acme/gearbox/git/trees 429"), 1);
    assert_eq!(s.calls("POST /repos/acme/gearbox/git/trees 201"), 1);
    assert!(changelog_on(&s, "main").contains("first gears"));
}

#[tokio::test]
async fn refusals_leave_the_publish_pending_with_the_reason_and_the_events_applied() {
    // No permission to write (the App was installed without contents: write).
    let s = setup(DocStrategy::GitHubPr).await;
    let st = &s.standin.state;
    st.fail_next("POST /repos/acme/gearbox/git/trees", 403, None, 1);
    let out = apply(&s, &[push("d1", 1, "feat: first gears")]).await;
    assert_eq!(out.status, PublishStatus::Pending, "{out:?}");
    let reason = out.reason.unwrap();
    assert!(
        reason.contains("no permission") && reason.contains("403"),
        "{reason}"
    );
    assert_eq!(
        s.calls("POST /repos/acme/gearbox/git/trees 403"),
        1,
        "not retried"
    );
    let record = s.ctx().store.delivery("d1").await.unwrap().unwrap();
    assert_eq!(record.status, DeliveryStatus::Completed);
    let pending = s.ctx().store.publish_pending(REPO).await.unwrap().unwrap();
    assert!(pending.reason.contains("no permission"), "{pending:?}");
    assert!(st.head(REPO, BRANCH).is_none() && st.pulls(REPO).is_empty());

    // Fixed on GitHub's side: an operator's publish (or the next change set) catches up.
    let caught_up = publish_repo(s.ctx(), REPO, &message_for("catch up"))
        .await
        .unwrap();
    assert_eq!(caught_up.status, PublishStatus::Published, "{caught_up:?}");
    assert!(s.ctx().store.publish_pending(REPO).await.unwrap().is_none());
    assert!(changelog_on(&s, BRANCH).contains("first gears"));
    assert_eq!(st.pulls(REPO).len(), 1);
}

#[tokio::test]
async fn an_app_not_installed_on_the_repository_is_pending_not_a_failure() {
    let s = setup(DocStrategy::GitHubDirect).await;
    let other = "acme/elsewhere";
    s.standin
        .state
        .seed_repo(other, "main", &[("README.md", "x\n")]);
    let env = fixtures::push(other, "e1", vec![fixtures::commit(1, "feat: x")]);
    let summary = apply_change_set(s.ctx(), other, &[env], LEASE)
        .await
        .unwrap();
    let out = summary.publish.unwrap();
    assert_eq!(out.status, PublishStatus::Pending);
    assert!(out.reason.unwrap().contains("not installed"));
    let record = s.ctx().store.delivery("e1").await.unwrap().unwrap();
    assert_eq!(record.status, DeliveryStatus::Completed);
    assert!(s.standin.state.head(other, "main").is_some());
    assert_eq!(s.calls("POST /repos/acme/elsewhere/"), 0);
}

#[tokio::test]
async fn an_answer_that_is_not_githubs_is_caught_by_the_proxy() {
    let s = setup(DocStrategy::GitHubPr).await;
    // The repository answer loses a field GitHub's description requires (and we never read).
    s.standin.state.break_answers();
    let out = apply(&s, &[push("d1", 1, "feat: first gears")]).await;
    assert_eq!(out.status, PublishStatus::Pending, "{out:?}");
    let reason = out.reason.unwrap();
    assert!(reason.contains("prism/errors#VIOLATIONS"), "{reason}");
    assert!(s.calls("GET /repos/acme/gearbox 200") >= 1);
    assert_eq!(s.writes(), 0);
}

#[tokio::test]
async fn our_own_docs_commit_coming_back_as_a_push_changes_nothing() {
    let s = setup(DocStrategy::GitHubDirect).await;
    let st = &s.standin.state;
    apply(&s, &[push("d1", 1, "feat: first gears")]).await;
    let ours = st.head(REPO, "main").unwrap();
    let changelog = s.worker.doc(REPO, "decisions/changelog.md");
    // GitHub sends the push of our docs commit back to us.
    let message = st.commit(&ours).unwrap().message;
    let echo = Envelope {
        installation: Some(90),
        ..fixtures::push(
            REPO,
            "d-echo",
            vec![coderipple_core::envelope::Commit {
                id: ours.clone(),
                added: vec!["docs/coderipple/decisions/changelog.md".into()],
                ..fixtures::commit(9, &message)
            }],
        )
    };
    let summary = apply_change_set(s.ctx(), REPO, &[echo], LEASE)
        .await
        .unwrap();
    assert!(
        summary.notes.iter().any(|n| n.contains("own docs commit")),
        "{:?}",
        summary.notes
    );
    assert_eq!(s.worker.doc(REPO, "decisions/changelog.md"), changelog);
    assert_eq!(
        st.head(REPO, "main").unwrap(),
        ours,
        "no docs commit about the docs commit"
    );
}

#[tokio::test]
async fn nobody_elses_pull_request_is_taken_for_ours() {
    let s = setup(DocStrategy::GitHubPr).await;
    let st = &s.standin.state;
    let fork = st.open_pull_as_person(REPO, "mallory/gearbox", "coderipple/docs-abcdef1", "main");
    st.push_as_person(REPO, "coderipple/docs-typo", &[("x.md", "x\n")], "typo");
    let mine = st.open_pull_as_person(REPO, REPO, "coderipple/docs-typo", "main");
    apply(&s, &[push("d1", 1, "feat: first gears")]).await;
    let pulls = st.pulls(REPO);
    assert_eq!(pulls.len(), 3, "{pulls:?}");
    for n in [fork, mine] {
        let p = &pulls[n as usize - 1];
        assert_eq!(
            (p.title.as_str(), p.body.as_str()),
            ("Fix a typo", "Please merge.")
        );
    }
    assert_eq!(pulls[2].head, BRANCH);
    assert!(
        st.files_on(REPO, "coderipple/docs-typo")
            .contains_key("x.md")
    );
    assert!(!changelog_on(&s, "coderipple/docs-typo").contains("first gears"));
}

#[tokio::test]
async fn a_pull_request_a_failed_publish_did_not_open_is_opened_by_the_next() {
    let s = setup(DocStrategy::GitHubPr).await;
    let st = &s.standin.state;
    st.fail_next("POST /repos/acme/gearbox/pulls", 403, None, 1);
    let out = apply(&s, &[push("d1", 1, "feat: first gears")]).await;
    assert_eq!(out.status, PublishStatus::Pending, "{out:?}");
    assert!(
        changelog_on(&s, BRANCH).contains("first gears"),
        "the branch moved"
    );
    assert!(st.pulls(REPO).is_empty());
    let again = publish_repo(s.ctx(), REPO, &message_for("catch up"))
        .await
        .unwrap();
    assert_eq!(
        again.status,
        PublishStatus::Unchanged,
        "no new commit: {again:?}"
    );
    let pulls = st.pulls(REPO);
    assert_eq!(pulls.len(), 1, "but the pull request is opened");
    assert_eq!(pulls[0].head, BRANCH);
    assert!(s.ctx().store.publish_pending(REPO).await.unwrap().is_none());
}

#[tokio::test]
async fn a_protected_branch_is_pending_with_githubs_reason_not_retried_forever() {
    let s = setup(DocStrategy::GitHubDirect).await;
    let st = &s.standin.state;
    st.protect(REPO, "main");
    let out = apply(&s, &[push("d1", 1, "feat: first gears")]).await;
    assert_eq!(out.status, PublishStatus::Pending, "{out:?}");
    let reason = out.reason.unwrap();
    assert!(
        reason.contains("Protected branch update failed"),
        "{reason}"
    );
    assert_eq!(
        s.calls("POST /repos/acme/gearbox/git/commits 201"),
        1,
        "one round, no retries"
    );
}
