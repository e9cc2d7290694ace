//! The agents through the real processing path (SQLite store, directory sink): determinism,
//! idempotency, coalesced = one by one, and a golden test on a real git history.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use coderipple_core::blob::DirBlobStore;
use coderipple_core::cache::Cache;
use coderipple_core::config::Settings;
use coderipple_core::envelope::{
    Change, Commit, Envelope, PullRequestChange, PushChange, ReleaseChange,
};
use coderipple_core::queue::sqlite::SqliteQueue;
use coderipple_core::queue::{OutgoingMessage, QueueSettings};
use coderipple_core::sqlite::{Durability, SqliteDb};
use coderipple_core::store::sqlite::SqliteStore;
use coderipple_worker::agents::AgentSet;
use coderipple_worker::content::git::GitCheckouts;
use coderipple_worker::process::process_change_set;
use coderipple_worker::sink::DirSink;
use coderipple_worker::{ContentAccess, Outcome, WorkerContext, bootstrap, handle_batch};
use tokio_util::sync::CancellationToken;

const LEASE: Duration = Duration::from_secs(60);

struct Harness {
    ctx: WorkerContext,
    dir: tempfile::TempDir,
}

fn harness(checkout: Option<(&str, &Path)>) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(dir.path().join("db.sqlite"), Durability::Normal).unwrap();
    let store = Arc::new(SqliteStore::new(db.clone()));
    let content = checkout.map(|(repo, path)| ContentAccess {
        source: Arc::new(GitCheckouts::parse(&[format!("{repo}={}", path.display())]).unwrap()),
        cache: Arc::new(Cache::new(
            store.clone(),
            NonZeroUsize::new(64).unwrap(),
            Duration::from_secs(3600),
        )),
    });
    let ctx = WorkerContext {
        queue: Arc::new(SqliteQueue::new(
            db,
            "events",
            Some("events-dlq"),
            QueueSettings::default(),
        )),
        store,
        blobs: Arc::new(DirBlobStore::new(dir.path().join("payloads"))),
        sink: Arc::new(DirSink::new(dir.path().join("docs"))),
        agents: AgentSet::builtin(),
        settings: Settings::default(),
        metrics: coderipple_core::metrics::Metrics::off(),
        content,
    };
    Harness { ctx, dir }
}

/// Every file under `root`, relative path → contents.
fn tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path
                    .strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    if root.exists() {
        walk(root, root, &mut out);
    }
    out
}

fn sha(n: u32) -> String {
    format!("{n:040x}")
}

fn commit(n: u32, message: &str, added: &[&str], modified: &[&str], removed: &[&str]) -> Commit {
    let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    Commit {
        id: sha(n),
        message: message.into(),
        author: "Mona".into(),
        timestamp: format!("2026-03-{:02}T09:00:00Z", n % 28 + 1),
        added: own(added),
        modified: own(modified),
        removed: own(removed),
    }
}

fn envelope(delivery: &str, change: Change) -> Envelope {
    Envelope {
        v: 1,
        delivery: delivery.into(),
        event: "push".into(),
        repo: "o/r".into(),
        received_at: Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
        change: Some(change),
        change_ref: None,
    }
}

fn push(delivery: &str, commits: Vec<Commit>) -> Envelope {
    envelope(
        delivery,
        Change::Push(PushChange {
            git_ref: "refs/heads/main".into(),
            before: String::new(),
            after: commits.last().map(|c| c.id.clone()).unwrap_or_default(),
            default_branch: Some("main".into()),
            repo_url: "https://github.com/o/r".into(),
            created: false,
            deleted: false,
            forced: false,
            commits,
        }),
    )
}

/// A small history touching every agent: features, fixes, a breaking change, a move, a
/// removed component, manifests and infra, a merged PR and a release.
fn history() -> Vec<Envelope> {
    vec![
        push(
            "e1",
            vec![
                commit(
                    1,
                    "feat: first cut\n\nWe decided to keep state in SQLite.",
                    &[
                        "README.md",
                        "Cargo.toml",
                        "src/main.rs",
                        "src/lib.rs",
                        "old/legacy.rs",
                    ],
                    &[],
                    &[],
                ),
                commit(
                    2,
                    "Add a CLI flag",
                    &["cli/src/main.rs", "cli/Cargo.toml"],
                    &[],
                    &[],
                ),
            ],
        ),
        push(
            "e2",
            vec![commit(
                3,
                "fix(cli): exit codes",
                &[],
                &["cli/src/main.rs"],
                &[],
            )],
        ),
        envelope(
            "e3",
            Change::PullRequest(PullRequestChange {
                number: 4,
                title: "Move to tokio".into(),
                body: "We chose tokio over threads.".into(),
                labels: vec![],
                base_ref: "main".into(),
                merge_commit_sha: None,
                url: "https://github.com/o/r/pull/4".into(),
                merged_at: Some("2026-03-05T00:00:00Z".into()),
            }),
        ),
        envelope(
            "e4",
            Change::Release(ReleaseChange {
                tag: "v0.1.0".into(),
                name: "First".into(),
                body: "The first release.".into(),
                url: "https://github.com/o/r/releases/tag/v0.1.0".into(),
                prerelease: false,
                published_at: Some("2026-03-06T00:00:00Z".into()),
            }),
        ),
        push(
            "e5",
            vec![
                commit(
                    5,
                    "refactor: move lib",
                    &["core/lib.rs"],
                    &[],
                    &["src/lib.rs"],
                ),
                commit(
                    6,
                    "feat!: new config\n\nBREAKING CHANGE: config.toml replaces config.ini",
                    &["config.toml", "Dockerfile"],
                    &[],
                    &["old/legacy.rs"],
                ),
            ],
        ),
        push(
            "e6",
            vec![commit(
                7,
                "ci: add workflow",
                &[".github/workflows/ci.yml"],
                &[],
                &[],
            )],
        ),
    ]
}

async fn apply_each(h: &Harness, events: &[Envelope]) {
    for env in events {
        process_change_set(&h.ctx, "o/r", std::slice::from_ref(env), LEASE)
            .await
            .unwrap();
    }
}

fn renamed(events: &[Envelope], suffix: &str) -> Vec<Envelope> {
    events
        .iter()
        .map(|e| Envelope {
            delivery: format!("{}{suffix}", e.delivery),
            ..e.clone()
        })
        .collect()
}

#[tokio::test]
async fn one_by_one_coalesced_and_replayed_give_byte_identical_docs() {
    let events = history();
    let each = harness(None);
    apply_each(&each, &events).await;
    let docs = tree(&each.dir.path().join("docs/o/r"));
    assert_eq!(
        docs.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "decisions/architecture_decisions.md",
            "decisions/changelog.md",
            "decisions/refactoring_history.md",
            "system/architecture.md",
            "system/tech_stack.md",
            "user/getting_started.md",
            "user/upgrading.md",
            "user/whats_new.md",
        ]
    );
    // All at once: one change set.
    let coalesced = harness(None);
    process_change_set(&coalesced.ctx, "o/r", &events, LEASE)
        .await
        .unwrap();
    assert_eq!(tree(&coalesced.dir.path().join("docs/o/r")), docs);
    // The same events again, under new delivery ids (a replay that idempotency records
    // cannot catch): the agents recognise every entry and nothing changes.
    apply_each(&each, &renamed(&events, "-again")).await;
    assert_eq!(tree(&each.dir.path().join("docs/o/r")), docs);
    let state = each.ctx.store.repo_state("o/r").await.unwrap().unwrap();
    apply_each(&each, &renamed(&events, "-third")).await;
    let after = each.ctx.store.repo_state("o/r").await.unwrap().unwrap();
    assert_eq!(after.state, state.state, "state unchanged by a replay");
    // And the docs hold what happened.
    let adrs = &docs["decisions/architecture_decisions.md"];
    assert!(
        adrs.contains("ADR-0001: First cut") && adrs.contains("Move to tokio"),
        "{adrs}"
    );
    assert!(docs["user/upgrading.md"].contains("config.toml replaces config.ini"));
    assert!(
        docs["decisions/refactoring_history.md"].contains("`src/lib.rs` moved to `core/lib.rs`")
    );
    assert!(docs["system/architecture.md"].contains("| `core` | 1 | Rust |"));
}

#[tokio::test]
async fn a_crash_after_the_state_write_is_repaired_by_the_redelivery() {
    let events = history();
    let h = harness(None);
    apply_each(&h, &events[..2]).await;
    // Lose the docs (as if the process died after storing state, before writing docs).
    std::fs::remove_dir_all(h.dir.path().join("docs/o/r/user")).unwrap();
    // The redelivery of e2 (a new attempt: its record was never completed).
    process_change_set(&h.ctx, "o/r", &renamed(&events[1..2], "-retry"), LEASE)
        .await
        .unwrap();
    assert!(h.dir.path().join("docs/o/r/user/whats_new.md").exists());
}

// ---- golden test on a real git history ----

fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Mona Lisa")
        .env("GIT_AUTHOR_EMAIL", "mona@example.com")
        .env("GIT_COMMITTER_NAME", "Mona Lisa")
        .env("GIT_COMMITTER_EMAIL", "mona@example.com")
        .env("GIT_AUTHOR_DATE", "2026-04-01T12:00:00+00:00")
        .env("GIT_COMMITTER_DATE", "2026-04-01T12:00:00+00:00")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

fn write(dir: &Path, path: &str, text: &str) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn commit_all(dir: &Path, message: &str) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
}

/// A small repository with a real history, the same bytes (and shas) on every run.
fn build_repository(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    write(
        dir,
        "README.md",
        "# Gearbox\n\nGearbox turns webhooks into gears.\n\n## Install\n\n```sh\ncargo install gearbox\n```\n\n## Usage\n\nRun `gearbox serve`.\n",
    );
    write(
        dir,
        "Cargo.toml",
        "[workspace]\nmembers = [\"core\", \"cli\"]\n\n[workspace.dependencies]\nserde = \"1\"\n",
    );
    write(
        dir,
        "core/Cargo.toml",
        "[package]\nname = \"gearbox-core\"\n\n[dependencies]\nserde = \"1\"\n",
    );
    write(dir, "core/src/lib.rs", "pub fn gear() {}\n");
    commit_all(
        dir,
        "feat: gears\n\nWe decided to keep the core free of I/O.",
    );
    write(
        dir,
        "cli/Cargo.toml",
        "[package]\nname = \"gearbox\"\n\n[dependencies]\nclap = \"4\"\n",
    );
    write(dir, "cli/src/main.rs", "fn main() {}\n");
    commit_all(dir, "Add the command line");
    git(dir, &["tag", "v0.1.0"]);
    write(
        dir,
        "cli/src/main.rs",
        "fn main() { println!(\"serve\"); }\n",
    );
    commit_all(dir, "fix(cli): print what it serves");
    std::fs::create_dir_all(dir.join("core/src/gears")).unwrap();
    std::fs::rename(
        dir.join("core/src/lib.rs"),
        dir.join("core/src/gears/lib.rs"),
    )
    .unwrap();
    write(dir, "core/src/mod.rs", "mod gears;\n");
    commit_all(dir, "refactor(core): move gears into a module");
    write(dir, "Dockerfile", "FROM scratch\n");
    write(dir, ".github/workflows/ci.yml", "on: push\n");
    commit_all(dir, "ci: container and workflow");
    write(
        dir,
        "README.md",
        "# Gearbox\n\nGearbox turns webhooks into gears.\n\n## Install\n\n```sh\ncargo install gearbox --locked\n```\n\n## Usage\n\nRun `gearbox serve --port 8080`.\n",
    );
    write(
        dir,
        "cli/src/main.rs",
        "fn main() { println!(\"serve on a port\"); }\n",
    );
    commit_all(
        dir,
        "feat(cli)!: serve needs --port\n\nBREAKING CHANGE: `gearbox serve` now requires `--port`.",
    );
    git(dir, &["tag", "-a", "v0.2.0", "-m", "v0.2.0"]);
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/gearbox")
}

#[tokio::test]
async fn a_real_git_history_through_the_pipeline_matches_the_golden_docs() {
    let repo = tempfile::tempdir().unwrap();
    build_repository(repo.path());
    let h = harness(Some(("acme/gearbox", repo.path())));
    // The history as the push events GitHub would have sent, through the queue and the
    // batch handler (FIFO group acme/gearbox), with the checkout as content source.
    let events = bootstrap::history(
        repo.path(),
        "acme/gearbox",
        "https://github.com/acme/gearbox",
    )
    .await
    .unwrap();
    assert!(events.len() >= 4, "{} events", events.len());
    for env in &events {
        h.ctx
            .queue
            .send_batch(&[OutgoingMessage::new(
                &env.repo,
                &env.delivery,
                env.to_json(),
            )])
            .await
            .unwrap();
    }
    loop {
        let batch = h
            .ctx
            .queue
            .receive(10, Duration::from_secs(30), Duration::ZERO)
            .await
            .unwrap();
        if batch.is_empty() {
            break;
        }
        let report = handle_batch(&h.ctx, batch, &CancellationToken::new()).await;
        assert!(
            report.outcomes.iter().all(|(_, o)| *o == Outcome::Done),
            "{:?}",
            report.outcomes
        );
    }
    let docs = tree(&h.dir.path().join("docs/acme/gearbox"));
    let golden = golden_dir();
    if std::env::var_os("CODERIPPLE_UPDATE_GOLDEN").is_some() {
        let _ = std::fs::remove_dir_all(&golden);
        for (rel, text) in &docs {
            write(&golden, rel, text);
        }
        eprintln!("golden files rewritten in {}", golden.display());
    }
    let expected = tree(&golden);
    assert!(
        !expected.is_empty(),
        "no golden files; run with CODERIPPLE_UPDATE_GOLDEN=1"
    );
    assert_eq!(
        docs.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (rel, text) in &docs {
        assert_eq!(
            text, &expected[rel],
            "{rel} differs from tests/golden (CODERIPPLE_UPDATE_GOLDEN=1 rewrites)"
        );
    }
    // The same history through bootstrap (it ends with a snapshot of the tree) changes
    // nothing: every delivery is already completed.
    bootstrap::run(
        &h.ctx,
        repo.path(),
        "acme/gearbox",
        "https://github.com/acme/gearbox",
        |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(tree(&h.dir.path().join("docs/acme/gearbox")), docs);
}

// ---- hostile payload text ----

/// Whether `pattern` occurs in `doc` other than right after a backslash.
fn unescaped(doc: &str, pattern: &str) -> bool {
    doc.match_indices(pattern)
        .any(|(i, _)| i == 0 || &doc[i - 1..i] != "\\")
}

/// Every text field hostile: HTML and comments, links and images, headings and tables, bare
/// URLs, control characters, a very long line, backticks and newlines in paths.
fn hostile_history() -> Vec<Envelope> {
    let long = "y".repeat(5_000);
    let mut first = commit(
        1,
        &format!(
            "feat: <!-- [advisory](https://evil.example) ![i](https://evil.example/i.png)\n\n\
             We decided to <script>alert(1)</script>\n## PWNED {long}"
        ),
        &["README.md", "Cargo.toml", "we`ird\n## PWNED/lib.rs"],
        &[],
        &[],
    );
    first.author = "[Mona](https://evil.example) <b>\0\u{7}".into();
    let second = commit(
        2,
        "feat!: | a | b |\n\nBREAKING CHANGE: <div>\n## PWNED\n|---|---|",
        &["cli/src/main.rs"],
        &[],
        &["we`ird\n## PWNED/lib.rs"],
    );
    vec![
        push("h1", vec![first, second]),
        envelope(
            "h2",
            Change::PullRequest(PullRequestChange {
                number: 3,
                title: "<b>Switch</b> to [x](https://evil.example)".into(),
                body: "We chose <!-- this\n## PWNED".into(),
                labels: vec!["breaking".into()],
                base_ref: "main".into(),
                merge_commit_sha: None,
                url: "https://github.com/o/r/pull/3".into(),
                merged_at: Some("2026-03-05T00:00:00Z".into()),
            }),
        ),
        envelope(
            "h3",
            Change::Release(ReleaseChange {
                tag: "v1".into(),
                name: "<!-- One".into(),
                body: "Notes <script>\n## PWNED\n[ref]: https://evil.example".into(),
                url: "https://evil.example/o/r/releases/tag/v1".into(),
                prerelease: false,
                published_at: Some("2026-03-06T00:00:00Z".into()),
            }),
        ),
    ]
}

#[tokio::test]
async fn hostile_payload_text_renders_inert_in_every_doc() {
    let h = harness(None);
    apply_each(&h, &hostile_history()).await;
    let docs = tree(&h.dir.path().join("docs/o/r"));
    assert_eq!(docs.len(), 8, "{:?}", docs.keys());
    for (path, doc) in &docs {
        assert!(
            !doc.chars().any(|c| c.is_control() && c != '\n'),
            "{path}: a control character\n{doc}"
        );
        for raw in [
            "<!--",
            "<script",
            "<div",
            "<b>",
            "](https://evil",
            "![i]",
            "[ref]",
        ] {
            assert!(!unescaped(doc, raw), "{path}: {raw:?} unescaped\n{doc}");
        }
        assert!(!unescaped(doc, "://evil"), "{path}: a bare URL\n{doc}");
        for line in doc.lines() {
            assert!(
                !(line.starts_with('#') && line.trim_start_matches('#').trim() == "PWNED"),
                "{path}: a heading from payload text\n{doc}"
            );
            assert!(
                line.chars().count() < 1_200,
                "{path}: a {}-character line",
                line.len()
            );
        }
    }
    // Still readable.
    let log = &docs["decisions/changelog.md"];
    assert!(
        log.contains("\\<!-- \\[advisory\\](https\\://evil.example) \\!\\[i\\]"),
        "{log}"
    );
    assert!(
        log.contains("— \\[Mona\\](https\\://evil.example) \\<b\\>\n"),
        "{log}"
    );
    // The release's link is not to the repository: its title is plain text.
    assert!(log.contains("\n## \\<!-- One (v1) — 2026-03-06\n"), "{log}");
    let upgrading = &docs["user/upgrading.md"];
    assert!(
        upgrading.contains("\\<div\\>\n\\#\\# PWNED\n\\|---\\|---\\|\n"),
        "{upgrading}"
    );
    let adrs = &docs["decisions/architecture_decisions.md"];
    assert!(
        adrs.contains("## ADR-0003: \\<b\\>Switch\\</b\\> to \\[x\\](https\\://evil.example)\n"),
        "{adrs}"
    );
    let arch = &docs["system/architecture.md"];
    assert!(arch.contains("``we`ird ## PWNED/``"), "{arch}");
}
