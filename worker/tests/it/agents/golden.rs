//! The golden test: a real git history through the pipeline, every doc compared with
//! `worker/tests/golden/gearbox/`.

use super::*;

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

fn head_of(dir: &Path) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
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
        "[package]\nname = \"gearbox-core\"\ndescription = \"The gears: pure rules, no I/O\"\n\n[dependencies]\nserde = \"1\"\n",
    );
    write(dir, "core/src/lib.rs", "pub fn gear() {}\n");
    // The project's own changelog rules (git-cliff's): CI commits are left out, features
    // go under its own heading.
    write(
        dir,
        "cliff.toml",
        "[git]\nconventional_commits = true\ncommit_parsers = [\n  { message = \"^ci\", skip = true },\n  { message = \"^feat\", group = \"<!-- 0 -->🚀 New features\" },\n]\n",
    );
    commit_all(
        dir,
        "feat: gears\n\nWe decided to keep the core free of I/O.",
    );
    write(
        dir,
        "cli/Cargo.toml",
        "[package]\nname = \"gearbox\"\n\n[dependencies]\nclap = \"4\"\ngearbox-core = { path = \"../core\" }\n",
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
    let fix = head_of(dir);
    std::fs::create_dir_all(dir.join("core/src/gears")).unwrap();
    std::fs::rename(
        dir.join("core/src/lib.rs"),
        dir.join("core/src/gears/lib.rs"),
    )
    .unwrap();
    write(dir, "core/src/mod.rs", "mod gears;\n");
    commit_all(dir, "refactor(core): move gears into a module");
    // A release candidate: it folds into v0.2.0 (the pack's default `ignore_tags`).
    git(dir, &["tag", "v0.2.0-rc.1"]);
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
    // A maintainer's edit of an earlier entry, kept in the repository.
    write(
        dir,
        ".coderipple/overrides.toml",
        &format!(
            "[[entry]]\ncommit = \"{}\"\nmessage = \"fix(cli): say what it serves on start\"\n",
            &fix[..7]
        ),
    );
    commit_all(
        dir,
        "feat(cli)!: serve needs --port\n\nBREAKING CHANGE: `gearbox serve` now requires `--port`.",
    );
    git(dir, &["tag", "-a", "v0.2.0", "-m", "v0.2.0"]);
}

fn golden_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/gearbox")
}

#[tokio::test]
async fn a_real_git_history_through_the_pipeline_matches_the_golden_docs() {
    let repo = tempfile::tempdir().unwrap();
    build_repository(repo.path());
    let h = harness(Some(("acme/gearbox", repo.path())));
    // The history as the push events GitHub would have sent, through the queue and the
    // batch handler (FIFO group acme/gearbox), with the checkout as content source.
    let events = history_import::history(
        repo.path(),
        "acme/gearbox",
        "https://github.com/acme/gearbox",
    )
    .await
    .unwrap();
    assert!(events.len() >= 4, "{} events", events.len());
    h.send(&events).await;
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
        let report = handle_batch(&h.consumer(), batch, &CancellationToken::new()).await;
        assert!(
            report.outcomes.iter().all(|(_, o)| *o == Outcome::Done),
            "{:?}",
            report.outcomes
        );
    }
    let docs = h.docs("acme/gearbox");
    let golden = golden_dir();
    if std::env::var_os("CODERIPPLE_UPDATE_GOLDEN").is_some() {
        let _ = std::fs::remove_dir_all(&golden);
        for (rel, text) in &docs {
            write(&golden, rel, text);
        }
        eprintln!("golden files rewritten in {}", golden.display());
    }
    let expected = files_under(&golden);
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
    // Every diagram parses with Mermaid's own parser (the architecture draws the packages).
    let diagrams: Vec<&str> = docs
        .values()
        .flat_map(|text| text.split("```mermaid\n").skip(1))
        .filter_map(|rest| rest.split("```").next())
        .collect();
    assert_eq!(diagrams.len(), 1, "the architecture's package graph");
    if coderipple_testkit::mermaid::available() {
        for (d, parsed) in diagrams
            .iter()
            .zip(coderipple_testkit::mermaid::parse_all(&diagrams))
        {
            assert_eq!(parsed.as_deref(), Ok("flowchart-v2"), "{d}");
        }
    }
    // The same history through bootstrap (it ends with a snapshot of the tree) changes
    // nothing: every delivery is already completed.
    history_import::run(
        &h.ctx,
        repo.path(),
        "acme/gearbox",
        "https://github.com/acme/gearbox",
        |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(h.docs("acme/gearbox"), docs);
}
