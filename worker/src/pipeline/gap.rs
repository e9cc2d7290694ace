//! Ordering a change set by history (see [`coderipple_engine::chain`]) and closing gaps that waited long
//! enough. A [`Stuck`] gap is closed in this order:
//! 1. with a GitHub App, once per gap: recovery asks GitHub to redeliver the deliveries it
//!    failed (the missing push is likely among them) and the gap waits once more;
//! 2. with GitHub credentials: the missing commits are read from the compare API
//!    (`GET /repos/{o}/{r}/compare/{head}...{before}`, then each commit's files) and applied
//!    as a push of their own, marked as recovered in the processing summary;
//!    If GitHub says the gap's end is *behind* the head, the waiting push is old history (a
//!    replay): it is applied late, without moving the head;
//! 3. otherwise (no credentials, GitHub does not know the commits, no head yet): the waiting
//!    pushes are applied after a recorded gap, a "History Notes" line in the changelog.
//!
//! Filling is an improvement, never a precondition: a refusal (401/403, the App not
//! installed, a suspended installation) records the gap as in 3., with GitHub's reason in the
//! summary; GitHub unavailable or the invocation's deadline near ([`coderipple_github::deadline`]) lets
//! the gap wait for the next wake, [`coderipple_engine::chain::FILL_TRIES`] times, then records it. The
//! App-wide recovery scan of 1. runs at most once per [`GAP_SCAN_PERIOD`] (a store counter),
//! however many gaps and retries ask. Tags and releases that waited for a commit no push
//! brought are applied when the wait ends.

use std::collections::HashSet;
use std::time::Duration;

use coderipple_core::envelope::{
    Change, Commit, ENVELOPE_VERSION, Envelope, HistoryChange, HistoryNote, PushChange,
};
use serde_json::Value;

use coderipple_core::WorkerError;
use coderipple_engine::chain::{ChainState, Ordered, Stuck, history_envelope};
use coderipple_github::GitHubApi;

use crate::context::WorkerContext;

/// Gaps closed per change set at most (each may need GitHub requests).
const MAX_FILLS: usize = 4;
/// Commits read from one comparison at most (pages of 100).
const MAX_FILL_COMMITS: usize = 300;
/// Commits whose files are read (one request each) at most; later ones come without files.
const MAX_FILES_LOOKUPS: usize = 100;
/// A gap asks for an App-wide recovery scan at most once per this period (see
/// [`ask_redelivery`]); the recovery schedule's default period.
pub const GAP_SCAN_PERIOD: Duration = Duration::from_secs(600);
/// Time a recovery scan needs before the invocation's deadline to be started.
const SCAN_TIME: Duration = Duration::from_secs(10);

/// The order of one change set: what to apply now, and notes for the summary.
pub(crate) struct Resolved {
    pub ordered: Ordered,
    pub notes: Vec<String>,
}

/// Orders `incoming` with the events waiting in `chain`, closing gaps that waited
/// `CODERIPPLE_GAP_WAIT_SECS`.
pub(crate) async fn resolve(
    ctx: &WorkerContext,
    repo: &str,
    chain: &mut ChainState,
    incoming: Vec<Envelope>,
    applied: &HashSet<String>,
) -> Result<Resolved, WorkerError> {
    let now = coderipple_core::time::now_ms();
    let is_applied = |s: &str| applied.contains(s);
    let mut ordered = chain.order(incoming, &is_applied, now);
    let mut notes = Vec::new();
    for _ in 0..MAX_FILLS {
        let Some(stuck) = chain.stuck(now, ctx.settings.gap_wait) else {
            break;
        };
        let api = ctx.github.as_deref();
        if let Some(api) = api
            && api.is_app()
            && !chain.recovery_asked
            && !stuck.over_budget
        {
            chain.recovery_asked = true;
            let (asked, note) = ask_redelivery(ctx, api, repo).await;
            notes.push(note);
            if asked > 0 {
                chain.postpone(now);
                break;
            }
        }
        let fill = match (api, &stuck.from) {
            (Some(api), Some(from)) => match compare_fill(api, repo, from, &stuck).await {
                Ok(fill) => fill,
                // Unavailable or out of time: the gap waits for the next wake, a few times.
                Err(e) if e.is_retryable() && !stuck.over_budget && chain.retry_fill_later(now) => {
                    notes.push(format!(
                        "gap in {repo} on {}: GitHub could not fill it now ({e}); it waits once more ({} of {})",
                        stuck.branch,
                        chain.fill_tries,
                        coderipple_engine::chain::FILL_TRIES
                    ));
                    break;
                }
                // A refusal (not installed, no permission, suspended) or retries spent:
                // filling is an improvement, never a precondition; the gap is recorded.
                Err(e) => {
                    notes.push(format!(
                        "gap in {repo} on {}: GitHub did not fill it ({e})",
                        stuck.branch
                    ));
                    Fill::Unknown
                }
            },
            _ => Fill::Unknown,
        };
        let more = match fill {
            Fill::Commits(push, note) => {
                notes.push(note);
                chain.order(vec![*push], &is_applied, now)
            }
            Fill::Behind => {
                notes.push(format!(
                    "a push after {} on {} is older than the head (GitHub's comparison): applied late, the head stays",
                    stuck.to.chars().take(12).collect::<String>(),
                    stuck.branch
                ));
                chain.accept_late(&stuck);
                chain.order(Vec::new(), &is_applied, now)
            }
            Fill::Unknown => {
                let short = |s: &str| s.chars().take(12).collect::<String>();
                notes.push(match &stuck.from {
                    Some(from) => format!(
                        "gap: commits after {} up to {} on {} were not received; recorded in the changelog",
                        short(from),
                        short(&stuck.to),
                        stuck.branch
                    ),
                    None => format!(
                        "history of {} before {} was not received; applying from there",
                        stuck.branch,
                        short(&stuck.to)
                    ),
                });
                if let Some(from) = &stuck.from {
                    ordered.apply.push(history_envelope(
                        repo,
                        chrono::Utc::now(),
                        HistoryChange {
                            note: HistoryNote::Gap,
                            branch: stuck.branch.clone(),
                            from: from.clone(),
                            to: stuck.to.clone(),
                            repo_url: stuck.repo_url.clone(),
                        },
                    ));
                }
                chain.bridge(&stuck);
                chain.order(Vec::new(), &is_applied, now)
            }
        };
        ordered.extend(more);
    }
    // Tags and releases whose commit no push brought within the wait follow now.
    let overdue = chain.release_overdue_marks(now, ctx.settings.gap_wait);
    if !overdue.apply.is_empty() {
        notes.push(format!(
            "{} tag(s) or release(s) waited {} s for their commit, which no push brought; applied where they are",
            overdue.apply.len(),
            ctx.settings.gap_wait.as_secs()
        ));
    }
    ordered.extend(overdue);
    Ok(Resolved { ordered, notes })
}

/// Runs recovery over the App's hook for the last gap wait and a margin: how many
/// deliveries GitHub agreed to redeliver, and what to note. One scan per
/// [`GAP_SCAN_PERIOD`] across every repository and worker (counted in the store): the scan
/// covers the whole App, so a second gap, or a retry of this change set, within the period
/// would only ask again for what the first asked.
async fn ask_redelivery(ctx: &WorkerContext, api: &GitHubApi, repo: &str) -> (usize, String) {
    if !coderipple_github::deadline::allows(SCAN_TIME) {
        return (
            0,
            format!("gap in {repo}: no recovery scan, the invocation's deadline is near"),
        );
    }
    let period = GAP_SCAN_PERIOD.as_millis() as i64;
    let key = format!(
        "gap-recovery-scan#{}",
        coderipple_core::time::now_ms() / period
    );
    match ctx.store.counter_add(&key, 1, GAP_SCAN_PERIOD * 2).await {
        Ok(1) => {}
        Ok(_) => {
            return (
                0,
                format!(
                    "gap in {repo}: a recovery scan already ran in the last {} min; not asked again",
                    GAP_SCAN_PERIOD.as_secs() / 60
                ),
            );
        }
        Err(e) => return (0, format!("gap in {repo}: recovery not asked ({e})")),
    }
    let since = ctx.settings.gap_wait * 3 + Duration::from_secs(600);
    match coderipple_github::recover::recover(api, &*ctx.store, &[], since, false, &ctx.metrics)
        .await
    {
        Ok(report) if !report.redelivered.is_empty() => (
            report.redelivered.len(),
            format!(
                "gap in {repo}: GitHub redelivers {} missed deliveries; the gap waits once more",
                report.redelivered.len()
            ),
        ),
        Ok(_) => (
            0,
            format!("gap in {repo}: GitHub had no missed delivery to redeliver"),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "recovery for a history gap failed");
            (0, format!("gap in {repo}: recovery failed ({e})"))
        }
    }
}

/// What GitHub's comparison of the head with a gap's end says.
enum Fill {
    /// The missing commits, as a push, and a note.
    Commits(Box<Envelope>, String),
    /// The gap's end is older than the head: the waiting push is old history.
    Behind,
    /// GitHub cannot say (unknown commits, a history that diverged).
    Unknown,
}

/// The commits after `from` up to `stuck.to`, from GitHub's compare API, as a push.
async fn compare_fill(
    api: &GitHubApi,
    repo: &str,
    from: &str,
    stuck: &Stuck,
) -> Result<Fill, WorkerError> {
    let mut commits = Vec::new();
    let mut total = 0;
    for page in 1.. {
        let path = format!(
            "/repos/{repo}/compare/{from}...{}?per_page=100&page={page}",
            stuck.to
        );
        let Some(body) = api.get(repo, &path).await? else {
            return Ok(Fill::Unknown);
        };
        match body.get("status").and_then(Value::as_str).unwrap_or("") {
            "ahead" => {}
            "behind" | "identical" => return Ok(Fill::Behind),
            _ => return Ok(Fill::Unknown),
        }
        total = body
            .get("total_commits")
            .and_then(Value::as_u64)
            .unwrap_or(0) as usize;
        let listed = body
            .get("commits")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let n = listed.len();
        commits.extend(listed);
        if n < 100 || commits.len() >= total || commits.len() >= MAX_FILL_COMMITS {
            break;
        }
    }
    let mut filled = Vec::with_capacity(commits.len());
    for (i, c) in commits.iter().enumerate() {
        let Some(sha) = c.get("sha").and_then(Value::as_str) else {
            return Err(WorkerError::invalid(
                "GitHub's comparison lists a commit without a sha",
            ));
        };
        let files = if i < MAX_FILES_LOOKUPS {
            api.get(repo, &format!("/repos/{repo}/commits/{sha}"))
                .await?
        } else {
            None
        };
        filled.push(commit_of(sha, c, files.as_ref()));
    }
    let short = |s: &str| s.chars().take(12).collect::<String>();
    let mut note = format!(
        "recovered: {} commit(s) after {} up to {} on {} were read from GitHub's compare API (their push was never received)",
        filled.len(),
        short(from),
        short(&stuck.to),
        stuck.branch
    );
    if total > filled.len() {
        note.push_str(&format!("; only the first {} of {total}", filled.len()));
    }
    let push = PushChange {
        head_timestamp: None,
        head_commit: None,
        git_ref: format!("refs/heads/{}", stuck.branch),
        before: from.to_owned(),
        after: stuck.to.clone(),
        default_branch: Some(stuck.branch.clone()),
        repo_url: stuck.repo_url.clone(),
        created: false,
        deleted: false,
        forced: false,
        commits: filled,
    };
    let envelope = Envelope {
        v: ENVELOPE_VERSION,
        delivery: format!("coderipple-recovered-{}", short(&stuck.to)),
        event: "push".into(),
        repo: repo.to_owned(),
        received_at: chrono::Utc::now(),
        change: Some(Change::Push(push)),
        change_ref: None,
        installation: None,
    };
    Ok(Fill::Commits(Box::new(envelope), note))
}

/// A push payload's commit from a comparison's entry and, when read, the commit's files.
fn commit_of(sha: &str, listed: &Value, detail: Option<&Value>) -> Commit {
    let text = |v: &Value, path: &[&str]| {
        path.iter()
            .try_fold(v, |v, k| v.get(*k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let mut commit = Commit {
        id: sha.to_owned(),
        message: text(listed, &["commit", "message"]),
        author: text(listed, &["commit", "author", "name"]),
        timestamp: text(listed, &["commit", "author", "date"]),
        added: Vec::new(),
        modified: Vec::new(),
        removed: Vec::new(),
    };
    let files = detail
        .and_then(|d| d.get("files"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for f in files {
        let name = text(f, &["filename"]);
        if name.is_empty() {
            continue;
        }
        match text(f, &["status"]).as_str() {
            "added" | "copied" => commit.added.push(name),
            "removed" => commit.removed.push(name),
            "renamed" => {
                let old = text(f, &["previous_filename"]);
                if !old.is_empty() {
                    commit.removed.push(old);
                }
                commit.added.push(name);
            }
            _ => commit.modified.push(name),
        }
    }
    commit
}

/// Queues a wake for every repository whose waiting events' wait ended by `now_ms`, so its
/// gap is closed even when no other event of it comes. Returns the repositories woken.
pub async fn wake_due(
    store: &dyn coderipple_core::store::Store,
    queue: &dyn coderipple_core::queue::Queue,
    now_ms: i64,
) -> Result<Vec<String>, WorkerError> {
    let due: Vec<String> = store
        .history_gaps()
        .await?
        .into_iter()
        .filter(|g| g.due_ms <= now_ms)
        .map(|g| g.repo)
        .collect();
    let mut woken = Vec::with_capacity(due.len());
    let mut failed = None;
    for chunk in due.chunks(10) {
        let messages: Vec<_> = chunk
            .iter()
            .map(|repo| {
                let env = wake_envelope(repo, now_ms);
                coderipple_core::queue::OutgoingMessage::new(repo, &env.delivery, env.to_json())
            })
            .collect();
        // One chunk refused does not keep the others asleep; its repositories are tried
        // again next round (their marks stay).
        match queue.send_batch(&messages).await {
            Ok(()) => woken.extend_from_slice(chunk),
            Err(e) => {
                tracing::warn!(error = %e, repos = chunk.len(), "history gaps not woken; trying again next round");
                failed = Some(e);
            }
        }
    }
    if !woken.is_empty() {
        tracing::info!(
            repos = woken.len(),
            "woke repositories whose history gap is due"
        );
    }
    match failed {
        Some(e) if woken.is_empty() => Err(e.into()),
        _ => Ok(woken),
    }
}

/// The envelope that wakes `repo` (a delivery id of its own per wake). The id is bounded
/// whatever the repository's name (SQS takes dedup ids of at most 128 characters): a hash of
/// the name, not the name.
pub fn wake_envelope(repo: &str, now_ms: i64) -> Envelope {
    use sha2::Digest;
    let name = hex::encode(sha2::Sha256::digest(repo.as_bytes()));
    Envelope {
        v: ENVELOPE_VERSION,
        delivery: format!("coderipple-wake-{}-{now_ms}", &name[..32]),
        event: "coderipple_wake".into(),
        repo: repo.to_owned(),
        received_at: chrono::Utc::now(),
        change: Some(Change::Wake),
        change_ref: None,
        installation: None,
    }
}

/// How often `up` and `worker` look for due gaps: half the gap wait, within 5 s … 60 s.
pub fn wake_interval(gap_wait: Duration) -> Duration {
    (gap_wait / 2).clamp(Duration::from_secs(5), Duration::from_secs(60))
}

/// Runs [`wake_due`] every `every` until `cancel` fires (`up` and `worker`).
pub async fn wake_every(
    store: std::sync::Arc<dyn coderipple_core::store::Store>,
    queue: std::sync::Arc<dyn coderipple_core::queue::Queue>,
    every: Duration,
    cancel: tokio_util::sync::CancellationToken,
) {
    if every.is_zero() {
        return;
    }
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let now = coderipple_core::time::now_ms();
        if let Err(e) = wake_due(&*store, &*queue, now).await {
            tracing::warn!(error = %e, "history gaps not woken; trying again next round");
        }
    }
}
