//! The operator console in headless Chromium (Debian's `chromium`, driven over WebDriver by
//! its `chromedriver`; `scripts/test` installs both): sign in with the token from the
//! keyboard, see the counts, find the failed delivery in the DLQ with its reason, preview and
//! replay it after the fix, see it completed; a payload's `<script>` stays text; the page
//! fits a phone's width; a read-only console offers no action. Screenshots at 1280 and 390 px
//! go to `target/console-screenshots/` (ignored by git).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::common::*;
use crate::console::{TOKEN, block, start, wait_dlq};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `chromedriver` and `chromium`, or `None` (skipped) when they are not installed and
/// `CODERIPPLE_REQUIRE_FIXTURES` is not set.
fn browser_paths() -> Option<(PathBuf, PathBuf)> {
    let var = |k: &str, d: &str| PathBuf::from(std::env::var(k).unwrap_or_else(|_| d.into()));
    let driver = var("CODERIPPLE_CHROMEDRIVER", "/usr/bin/chromedriver");
    let chromium = var("CODERIPPLE_CHROMIUM", "/usr/bin/chromium");
    if driver.exists() && chromium.exists() {
        return Some((driver, chromium));
    }
    assert!(
        std::env::var_os("CODERIPPLE_REQUIRE_FIXTURES").is_none(),
        "{} or {} is missing; scripts/test installs Debian's chromium and chromium-driver",
        driver.display(),
        chromium.display()
    );
    eprintln!("SKIPPED: chromium / chromedriver not installed; run scripts/test to install them");
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn browser(driver: &Path, chromium: &Path, profile: &Path) -> (Killed, Client) {
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let guard = Killed(child);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            // Without the background-networking flags Chromium keeps dialling out, and this
            // machine's closed network refuses it.
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     format!("--user-data-dir={}", profile.display()),
                     "--window-size=1280,900"],
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    let client = loop {
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => break c,
            Err(e) => {
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "chromedriver: {e}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    (guard, client)
}

fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The text of the element `css` once it is there; on a timeout, the page is in the panic.
async fn text(c: &Client, css: &str) -> String {
    match c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
    {
        Ok(e) => e.text().await.unwrap(),
        Err(e) => {
            let url = c
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let page = c.source().await.unwrap_or_default();
            panic!("{css}: {e} on {url}:\n{page}")
        }
    }
}

async fn js(c: &Client, script: &str) -> serde_json::Value {
    c.execute(script, vec![]).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_replays_a_failure_from_chromium_and_reads_the_docs() {
    let Some((driver, chromium)) = browser_paths() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let profile = tempfile::tempdir().unwrap();
    let (server, base) = start(dir.path(), &[("CODERIPPLE_CONSOLE_TOKEN", TOKEN)]);
    let http = reqwest::Client::new();
    let blocker = block(dir.path(), "acme/blocked");
    let pushes = [
        (
            "acme/api",
            "api-1",
            sha(90, 0),
            "feat: add the orders endpoint",
        ),
        (
            "acme/api",
            "api-2",
            sha(90, 1),
            "fix: keep the order of replays",
        ),
        (
            "acme/hostile",
            "hostile-1",
            sha(91, 0),
            "feat: <script>alert('owned')</script>",
        ),
        (
            "acme/blocked",
            "blocked-1",
            sha(92, 0),
            "feat: blocked until the fix",
        ),
    ];
    for (repo, delivery, commit, message) in &pushes {
        let body = push_body(repo, commit, message);
        let (code, _) = post(&http, &server.url, "push", delivery, &body)
            .await
            .unwrap();
        assert_eq!(code, 202);
    }
    wait_dlq(dir.path(), 1);
    wait_drained(dir.path(), 3, Duration::from_secs(30));

    let (_driver, c) = browser(&driver, &chromium, profile.path()).await;
    // The token, typed and submitted from the keyboard.
    c.goto(&format!("{base}/ui")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/ui/login"));
    let token = c.find(Locator::Css("#token")).await.unwrap();
    token
        .send_keys(&format!("{TOKEN}{}", char::from(Key::Enter)))
        .await
        .unwrap();
    assert_eq!(text(&c, "#dlq-depth").await, "1");
    assert_eq!(text(&c, "#completed").await, "3");
    let shots = screenshot_dir();
    std::fs::write(
        shots.join("overview-1280.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();

    // The DLQ lists the failure with its reason; select it and preview, from the keyboard.
    c.goto(&format!("{base}/ui/dlq")).await.unwrap();
    let row = text(&c, "#dlq tbody tr").await;
    assert!(
        row.contains("blocked-1") && row.contains("Not a directory"),
        "{row}"
    );
    std::fs::write(shots.join("dlq-1280.png"), c.screenshot().await.unwrap()).unwrap();
    let pick = c
        .find(Locator::Css("#dlq input[type=checkbox]"))
        .await
        .unwrap();
    pick.send_keys(" ").await.unwrap();
    let preview = c
        .find(Locator::XPath(
            "//button[normalize-space()='Preview replay']",
        ))
        .await
        .unwrap();
    preview
        .send_keys(&char::from(Key::Enter).to_string())
        .await
        .unwrap();
    let summary = text(&c, "#preview-summary").await;
    assert!(
        summary.contains("1 message(s) would be replayed"),
        "{summary}"
    );

    // The fix, then the replay: the delivery completes.
    std::fs::remove_file(&blocker).unwrap();
    let confirm = c.find(Locator::Css("#confirm-replay")).await.unwrap();
    confirm
        .send_keys(&char::from(Key::Enter).to_string())
        .await
        .unwrap();
    assert!(text(&c, "#done").await.contains("Replayed 1 message(s)"));
    wait_drained(dir.path(), 4, Duration::from_secs(30));
    c.goto(&format!("{base}/ui/deliveries/blocked-1"))
        .await
        .unwrap();
    assert_eq!(text(&c, "#status").await, "completed");

    // A commit message with a script in it is text, and nothing ran.
    c.goto(&format!("{base}/ui/repos/acme/hostile"))
        .await
        .unwrap();
    let shown = js(&c, "return document.body.innerText").await;
    assert!(
        shown
            .as_str()
            .unwrap()
            .contains("<script>alert('owned')</script>"),
        "{shown}"
    );
    let scripts = js(&c, "return Array.from(document.scripts).map(s => s.src)").await;
    assert_eq!(scripts, json!([format!("{base}/ui/assets/app.js")]));

    // A phone's width: nothing wider than the screen.
    c.set_window_size(390, 844).await.unwrap();
    // The overview is gathered at most every 5 s: the DLQ's new depth shows within that.
    let start = Instant::now();
    loop {
        c.goto(&format!("{base}/ui")).await.unwrap();
        if text(&c, "#dlq-depth").await == "0" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the overview kept a DLQ of 1"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let fits = js(
        &c,
        "return document.documentElement.scrollWidth <= window.innerWidth",
    )
    .await;
    assert_eq!(fits, json!(true), "the overview scrolls sideways at 390 px");
    std::fs::write(
        shots.join("overview-390.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();

    // A read-only console over the same data offers no action.
    let mut readonly = Command::new(bin());
    readonly
        .args(["console", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("CODERIPPLE_CONSOLE_READONLY", "1")
        .stdout(Stdio::piped());
    let mut child = readonly.spawn().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let line = lines.next().unwrap().unwrap();
    let ro = line
        .trim_start_matches("console on ")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let _ro = Killed(child);
    block(dir.path(), "acme/again");
    let body = push_body("acme/again", &sha(93, 0), "feat: blocked again");
    post(&http, &server.url, "push", "again-1", &body)
        .await
        .unwrap();
    wait_dlq(dir.path(), 1);
    c.goto(&format!("{ro}/dlq")).await.unwrap();
    assert!(text(&c, "#dlq tbody tr").await.contains("again-1"));
    let buttons = c.find_all(Locator::Css("main button")).await.unwrap();
    assert_eq!(
        buttons.len(),
        1,
        "only the filter button; no replay or purge"
    );
    c.close().await.unwrap();
    drop(server);
}
